//! What Discord sends to the interactions endpoint (and over the gateway), in Discord's
//! documented shapes, read into firewatch's own types; and the command line each
//! `/incident <subcommand>` stands for.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why an interaction could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The body is not an interaction.
    #[error("not an interaction: {0}")]
    Shape(String),
}

/// An interaction firewatch acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Discord checking the endpoint.
    Ping,
    /// `/incident …` or a press of one of firewatch's buttons.
    Call(Call),
    /// Something firewatch does not handle (autocomplete, other apps' components).
    Other,
}

/// What a command or button asks for, with what is needed to answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The interaction id: the dedupe key.
    pub id: String,
    /// The interaction token (15 minutes of follow-ups and edits).
    pub token: String,
    /// Where it was used.
    pub channel_id: String,
    /// The server it was used in; `None` in a direct message.
    #[serde(default)]
    pub guild_id: Option<String>,
    /// Who used it.
    pub user_id: String,
    /// Their name.
    pub user_name: String,
    /// The command line it stands for: `/incident-assess "API down" --sev P1`.
    pub line: String,
    /// A button press (answered by updating the message) rather than a command.
    pub button: bool,
    /// The member's role ids (approval policies match `discord_roles` with them).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Prefix of the `custom_id` of every firewatch button; the command follows it.
pub const BUTTON_PREFIX: &str = "firewatch:";

#[derive(Deserialize)]
struct Raw {
    id: String,
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    token: String,
    channel_id: Option<String>,
    guild_id: Option<String>,
    member: Option<Member>,
    user: Option<User>,
    data: Option<Value>,
}

#[derive(Deserialize)]
struct Member {
    user: User,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: Option<String>,
    global_name: Option<String>,
}

/// Reads an interaction body.
///
/// # Errors
/// [`Error::Shape`] when it is not JSON of an interaction.
pub fn read(body: &[u8]) -> Result<Interaction, Error> {
    let raw: Raw = serde_json::from_slice(body).map_err(|e| Error::Shape(e.to_string()))?;
    let (line, button) = match raw.kind {
        1 => return Ok(Interaction::Ping),
        2 => match raw.data.as_ref().and_then(command_line) {
            Some(line) => (line, false),
            None => return Ok(Interaction::Other),
        },
        3 => match raw
            .data
            .as_ref()
            .and_then(|d| d["custom_id"].as_str())
            .and_then(|id| id.strip_prefix(BUTTON_PREFIX))
        {
            Some(command) => (command.to_owned(), true),
            None => return Ok(Interaction::Other),
        },
        _ => return Ok(Interaction::Other),
    };
    let roles = raw
        .member
        .as_ref()
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    let user = raw
        .member
        .map(|m| m.user)
        .or(raw.user)
        .ok_or_else(|| Error::Shape("no member or user".into()))?;
    let channel_id = raw
        .channel_id
        .ok_or_else(|| Error::Shape("no channel_id".into()))?;
    if raw.token.is_empty() {
        return Err(Error::Shape("no token".into()));
    }
    Ok(Interaction::Call(Call {
        id: raw.id,
        token: raw.token,
        channel_id,
        guild_id: raw.guild_id,
        user_name: user
            .global_name
            .or(user.username)
            .unwrap_or_else(|| user.id.clone()),
        user_id: user.id,
        line,
        button,
        roles,
    }))
}

/// `/incident SUB …` → the command line; `None` for another command.
fn command_line(data: &Value) -> Option<String> {
    if data["name"] != "incident" {
        return None;
    }
    let sub = data["options"].as_array()?.first()?;
    let name = sub["name"].as_str()?;
    let options: Vec<(&str, &Value)> = sub["options"]
        .as_array()
        .map(|o| {
            o.iter()
                .filter_map(|o| Some((o["name"].as_str()?, &o["value"])))
                .collect()
        })
        .unwrap_or_default();
    let get = |key: &str| options.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let text = |key: &str| get(key).and_then(value_text);
    let mut line = format!("/incident-{name}");
    if let Some(id) = get("incident").and_then(Value::as_i64) {
        line.push_str(&format!(" #{id}"));
    }
    let mut flag = |flag: &str, key: &str| {
        if let Some(v) = text(key) {
            line.push_str(&format!(" --{flag} {}", quote(&v)));
        }
    };
    flag("sev", "severity");
    flag("service", "service");
    flag("status", "status");
    flag("eta", "eta");
    flag("users", "users");
    flag("impact", "impact");
    flag("public", "public");
    if get("smoke_only").and_then(Value::as_bool) == Some(true) {
        line.push_str(" --smoke-only");
    }
    if name == "performance-test" && get("baseline").and_then(Value::as_bool) == Some(true) {
        line.push_str(" baseline");
    }
    let mut words: Vec<String> = Vec::new();
    match name {
        "resolve" => {
            words.push(quote(&text("root_cause").unwrap_or_default()));
            words.push("|".into());
            words.push(quote(&text("resolution").unwrap_or_default()));
        }
        "followup" => match (get("done").and_then(Value::as_i64), text("text")) {
            (Some(n), _) => words.push(format!("done {n}")),
            (None, Some(t)) => words.push(quote(&t)),
            (None, None) => {}
        },
        _ => {
            for key in [
                "role",
                "person",
                "level",
                "replicas",
                "revision",
                "deployment",
                "area",
                "name",
                "request",
                "command",
                "description",
                "progress",
                "text",
                "reason",
            ] {
                if let Some(v) = text(key) {
                    let plain = matches!(
                        key,
                        "role" | "level" | "replicas" | "revision" | "area" | "request"
                    );
                    words.push(match key {
                        "person" => format!("<@{v}>"),
                        _ if plain => v,
                        _ => quote(&v),
                    });
                }
            }
        }
    }
    for word in words {
        line.push(' ');
        line.push_str(&word);
    }
    Some(line)
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One quoted word: `"…"` with quotes and backslashes escaped, so a value is always text
/// (never an option or a `#ID`) whatever it contains.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if matches!(c, '"' | '“' | '”' | '„' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::command::{self, Command};

    fn command(sub: &str, options: Value) -> Vec<u8> {
        json!({
            "id": "1190000000000000001", "application_id": "1180000000000000000", "type": 2,
            "token": "aW50ZXJhY3Rpb24", "version": 1, "guild_id": "1170000000000000000",
            "channel_id": "1160000000000000000",
            "member": {"user": {"id": "1150000000000000000", "username": "alice", "global_name": "Alice"},
                       "roles": [], "permissions": "0"},
            "data": {"id": "1140000000000000000", "name": "incident", "type": 1,
                     "options": [{"name": sub, "type": 1, "options": options}]}
        })
        .to_string()
        .into_bytes()
    }

    fn line(sub: &str, options: Value) -> String {
        match read(&command(sub, options)).unwrap() {
            Interaction::Call(call) => {
                assert_eq!(call.guild_id.as_deref(), Some("1170000000000000000"));
                call.line
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_approve_button_carries_the_members_roles_for_the_approval_policy() {
        let body = json!({
            "id": "1190000000000000002", "type": 3, "token": "dG9rZW4", "channel_id": "1160000000000000000",
            "member": {"user": {"id": "1150000000000000000", "username": "carol"},
                       "roles": ["1130000000000000000"], "permissions": "0"},
            "data": {"custom_id": "firewatch:/incident-approve R3", "component_type": 2}
        });
        match read(body.to_string().as_bytes()).unwrap() {
            Interaction::Call(call) => {
                assert_eq!(call.line, "/incident-approve R3");
                assert!(call.button);
                assert_eq!(call.guild_id, None, "a direct message names no server");
                assert_eq!(call.roles, ["1130000000000000000"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subcommands_become_the_command_lines_the_parser_reads() {
        let assess = line(
            "assess",
            json!([{"name": "description", "type": 3, "value": "API \"down\" --sev P3 #7"},
                   {"name": "severity", "type": 3, "value": "P1"}]),
        );
        let parsed = command::parse(&assess).unwrap();
        match parsed.command {
            Command::Assess {
                description,
                severity,
                ..
            } => {
                assert_eq!(description, "API \"down\" --sev P3 #7");
                assert_eq!(severity.map(|s| s.to_string()), Some("P1".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            line(
                "resolve",
                json!([{"name": "root_cause", "type": 3, "value": "bad | flag"},
                                   {"name": "resolution", "type": 3, "value": "rolled back"},
                                   {"name": "incident", "type": 4, "value": 3}])
            ),
            "/incident-resolve #3 \"bad | flag\" | \"rolled back\""
        );
        assert_eq!(line("ack", json!([])), "/incident-ack");
        assert_eq!(
            line(
                "role",
                json!([{"name": "role", "type": 3, "value": "comms"},
                       {"name": "person", "type": 6, "value": "1150000000000000003"}])
            ),
            "/incident-role comms <@1150000000000000003>"
        );
        assert_eq!(
            line(
                "performance-test",
                json!([{"name": "baseline", "type": 5, "value": true}])
            ),
            "/incident-performance-test baseline"
        );
        assert_eq!(
            line("performance-test", json!([])),
            "/incident-performance-test"
        );
        assert_eq!(
            line(
                "scale",
                json!([{"name": "replicas", "type": 4, "value": 6}])
            ),
            "/incident-scale 6"
        );
        assert_eq!(
            line("followup", json!([{"name": "done", "type": 4, "value": 2}])),
            "/incident-followup done 2"
        );
        assert!(
            command::parse(&line(
                "update",
                json!([
            {"name": "progress", "type": 3, "value": "rolling back"},
            {"name": "status", "type": 3, "value": "mitigating"},
            {"name": "eta", "type": 3, "value": "20 min"}])
            ))
            .is_ok()
        );
        assert_eq!(
            line(
                "update",
                json!([
            {"name": "progress", "type": 3, "value": "scaled up"},
            {"name": "users", "type": 3, "value": "~40%"},
            {"name": "impact", "type": 3, "value": "EU checkout down"}])
            ),
            "/incident-update --users \"~40%\" --impact \"EU checkout down\" \"scaled up\""
        );
    }

    #[test]
    fn pings_buttons_and_strangers_are_told_apart() {
        assert_eq!(
            read(br#"{"id":"1","type":1,"token":"t"}"#).unwrap(),
            Interaction::Ping
        );
        let button = json!({
            "id": "2", "type": 3, "token": "t", "channel_id": "9",
            "user": {"id": "5", "username": "bob"},
            "data": {"custom_id": "firewatch:/incident-ack #1", "component_type": 2}
        });
        match read(button.to_string().as_bytes()).unwrap() {
            Interaction::Call(call) => {
                assert!(call.button);
                assert_eq!(
                    (call.line.as_str(), call.user_name.as_str()),
                    ("/incident-ack #1", "bob")
                );
            }
            other => panic!("{other:?}"),
        }
        let other = button.to_string().replace("firewatch:", "other:");
        assert_eq!(read(other.as_bytes()).unwrap(), Interaction::Other);
        assert!(read(b"{}").is_err());
        assert!(read(b"not json").is_err());
    }
}
