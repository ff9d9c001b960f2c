//! What Slack sends: slash commands (form fields) and block actions (`payload=<json>`), in
//! Slack's documented shapes, read into firewatch's own types.

use serde::{Deserialize, Serialize};

/// Why a signed request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The form fields are not a slash command: a required field is missing or one is given
    /// twice.
    #[error("not a slash command: {0}")]
    Command(String),
    /// The interaction has no `payload` field, or it is not JSON of a known shape.
    #[error("not an interaction payload: {0}")]
    Interaction(String),
}

/// A slash command, as Slack posts it to the request URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashCommand {
    /// The workspace.
    pub team_id: String,
    /// Where it was typed.
    pub channel_id: String,
    /// Who typed it.
    pub user_id: String,
    /// Their handle (Slack still sends it; absent in Socket Mode).
    #[serde(default)]
    pub user_name: Option<String>,
    /// `/incident-assess`.
    pub command: String,
    /// Everything after the command.
    #[serde(default)]
    pub text: String,
    /// Where replies to this command can go for 30 minutes.
    pub response_url: String,
    /// Unique per invocation: the dedupe key.
    pub trigger_id: String,
}

impl SlashCommand {
    /// Reads the form-encoded body of a slash-command request.
    ///
    /// # Errors
    /// [`Error::Command`] naming the missing or repeated field.
    pub fn from_form(body: &[u8]) -> Result<Self, Error> {
        serde_urlencoded::from_bytes(body).map_err(|e| Error::Command(e.to_string()))
    }

    /// The command line the engine reads: `/incident-assess API down`. Slack sends `&`, `<` and
    /// `>` in the text as `&amp;`, `&lt;` and `&gt;` (its escaping of all text, which keeps its
    /// own `<@U…>` mentions apart from typed ones); they are read back as typed.
    pub fn line(&self) -> String {
        format!("{} {}", self.command.trim(), unescape(self.text.trim()))
    }
}

/// Text as typed, from Slack's escaped text: `&lt;` `<`, `&gt;` `>`, `&amp;` `&` (last, so a typed
/// `&lt;`, sent as `&amp;lt;`, stays `&lt;`).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// What Slack posts to the slash-command URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandRequest {
    /// `ssl_check=1`: Slack checking the certificate of a new request URL (answered 200, run
    /// nothing).
    CertificateCheck,
    /// A command someone typed.
    Command(SlashCommand),
}

/// The field that marks a certificate check.
#[derive(Deserialize)]
struct CertificateCheck {
    ssl_check: Option<String>,
}

/// Reads the form-encoded body of a request to the slash-command URL
/// (`application/x-www-form-urlencoded`: unknown fields are ignored, a repeated one refused).
///
/// # Errors
/// [`Error::Command`] naming the missing or repeated field.
pub fn command_request(body: &[u8]) -> Result<CommandRequest, Error> {
    let check: Result<CertificateCheck, _> = serde_urlencoded::from_bytes(body);
    if check.is_ok_and(|c| c.ssl_check.as_deref() == Some("1")) {
        return Ok(CommandRequest::CertificateCheck);
    }
    SlashCommand::from_form(body).map(CommandRequest::Command)
}

/// A button press on one of firewatch's messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonPress {
    /// Who pressed it.
    pub user_id: String,
    /// Their handle.
    pub user_name: Option<String>,
    /// The channel of the message.
    pub channel_id: String,
    /// The command the button runs (its `value`).
    pub command: String,
    /// Where replies can go.
    pub response_url: Option<String>,
    /// Unique per delivery: the dedupe key.
    pub trigger_id: String,
    /// The workspace it happened in (`team.id`).
    #[serde(default)]
    pub team_id: Option<String>,
    /// The presser's own workspace (`user.team_id`): another one for a guest from another
    /// workspace in a shared channel.
    #[serde(default)]
    pub user_team_id: Option<String>,
}

impl ButtonPress {
    /// The workspaces it comes from: where it happened and the presser's own.
    pub fn teams(&self) -> impl Iterator<Item = &str> {
        self.team_id
            .iter()
            .chain(&self.user_team_id)
            .map(String::as_str)
    }
}

#[derive(Deserialize)]
struct Form {
    payload: String,
}

#[derive(Deserialize)]
struct Interaction {
    #[serde(rename = "type")]
    kind: String,
    user: User,
    team: Option<Team>,
    channel: Option<Channel>,
    trigger_id: Option<String>,
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: Option<String>,
    name: Option<String>,
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct Team {
    id: String,
}

#[derive(Deserialize)]
struct Channel {
    id: String,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    value: Option<String>,
    action_ts: Option<String>,
}

/// Prefix of the `action_id` of every firewatch button.
pub const ACTION_PREFIX: &str = "firewatch:";

/// Reads an interaction request body: `Ok(None)` for interactions firewatch does not handle
/// (other apps' buttons, modals), which are acknowledged and ignored.
///
/// # Errors
/// [`Error::Interaction`] when the body is not an interaction payload at all.
pub fn button_press(body: &[u8]) -> Result<Option<ButtonPress>, Error> {
    let form: Form = serde_urlencoded::from_bytes(body)
        .map_err(|e| Error::Interaction(format!("no payload field ({e})")))?;
    let interaction: Interaction =
        serde_json::from_str(&form.payload).map_err(|e| Error::Interaction(e.to_string()))?;
    if interaction.kind != "block_actions" {
        return Ok(None);
    }
    let Some(action) = interaction
        .actions
        .into_iter()
        .find(|a| a.action_id.starts_with(ACTION_PREFIX))
    else {
        return Ok(None);
    };
    let (Some(command), Some(channel)) = (action.value, interaction.channel) else {
        return Ok(None);
    };
    // Slack gives block actions a trigger id; the action timestamp is the fallback key.
    let Some(trigger_id) = interaction.trigger_id.or(action.action_ts) else {
        return Err(Error::Interaction("no trigger_id or action_ts".into()));
    };
    Ok(Some(ButtonPress {
        user_id: interaction.user.id,
        user_name: interaction.user.username.or(interaction.user.name),
        channel_id: channel.id,
        command,
        response_url: interaction.response_url,
        trigger_id,
        team_id: interaction.team.map(|t| t.id),
        user_team_id: interaction.user.team_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documented_slash_command_body_is_read() {
        // The example from Slack's slash-command documentation, with our command.
        let body = "token=gIkuvaNzQIHg97ATvDxqgjtO&team_id=T0001&team_domain=example\
            &enterprise_id=E0001&enterprise_name=Globular%20Construct%20Inc&channel_id=C2147483705\
            &channel_name=test&user_id=U2147483697&user_name=Steve&command=%2Fincident-assess\
            &text=API+returning+500s&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2F1234%2F5678\
            &trigger_id=13345224609.738474920.8088930838d88f008e0&api_app_id=A123456";
        let command = SlashCommand::from_form(body.as_bytes()).unwrap();
        assert_eq!(command.line(), "/incident-assess API returning 500s");
        assert_eq!(command.user_name.as_deref(), Some("Steve"));
        assert_eq!(
            command.trigger_id,
            "13345224609.738474920.8088930838d88f008e0"
        );
        let missing = SlashCommand::from_form(b"team_id=T1&channel_id=C1").unwrap_err();
        assert!(missing.to_string().contains("missing field"), "{missing}");
    }

    #[test]
    fn slacks_escapes_in_the_text_are_read_as_typed() {
        let body = "team_id=T1&channel_id=C1&user_id=U1&command=%2Fincident-assess\
            &text=latency+%26gt%3B+2s+%26amp%3B+5xx+%26lt%3B%40U0BOB%7Cbob%26gt%3B+%26amp%3Blt%3B\
            &response_url=u&trigger_id=t.1";
        let command = SlashCommand::from_form(body.as_bytes()).unwrap();
        assert_eq!(
            command.line(),
            "/incident-assess latency > 2s & 5xx <@U0BOB|bob> &lt;"
        );
    }

    #[test]
    fn form_escapes_are_decoded_as_browsers_encode_them_and_broken_ones_kept() {
        let body = b"team_id=T1&channel_id=C1&user_id=U1&command=%2Fincident-update\
            &text=a+b%2Bc+%zz+%4+%e2%9c%85+100%25&response_url=u&trigger%5Fid=t.1&&junk";
        let command = SlashCommand::from_form(body).unwrap();
        assert_eq!(command.command, "/incident-update");
        assert_eq!(command.text, "a b+c %zz %4 ✅ 100%");
        assert_eq!(command.trigger_id, "t.1");
        assert_eq!(command.user_name, None);
        let lossy = SlashCommand::from_form(
            b"team_id=T&channel_id=C&user_id=U&command=c&response_url=u&trigger_id=t&text=%ff",
        )
        .unwrap();
        assert_eq!(lossy.text, "\u{fffd}");
        let twice = SlashCommand::from_form(
            b"team_id=T&channel_id=C&user_id=U&command=c&response_url=u&trigger_id=t&text=a&text=b",
        )
        .unwrap_err();
        assert!(
            twice.to_string().contains("duplicate field `text`"),
            "{twice}"
        );
    }

    #[test]
    fn a_block_action_on_a_firewatch_button_is_read_and_others_are_ignored() {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": {"id": "U2", "username": "bob", "name": "bob", "team_id": "T1"},
            "api_app_id": "A1",
            "token": "x",
            "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1"},
            "trigger_id": "123.456.abc",
            "team": {"id": "T1", "domain": "example"},
            "channel": {"id": "C1", "name": "incidents"},
            "response_url": "https://hooks.slack.com/actions/T1/1/abc",
            "actions": [{
                "action_id": "firewatch:0",
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "value": "/incident-ack #1",
                "type": "button",
                "action_ts": "1.3"
            }]
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let press = button_press(body.as_bytes()).unwrap().unwrap();
        assert_eq!(press.command, "/incident-ack #1");
        assert_eq!(press.user_name.as_deref(), Some("bob"));
        assert_eq!(press.trigger_id, "123.456.abc");
        assert_eq!(press.teams().collect::<Vec<_>>(), ["T1", "T1"]);

        let other = payload.to_string().replace("firewatch:0", "someone-else");
        let body = serde_urlencoded::to_string([("payload", other)]).unwrap();
        assert_eq!(button_press(body.as_bytes()).unwrap(), None);
        assert!(button_press(b"payload=not-json").is_err());
        assert!(button_press(b"nothing=here").is_err());
    }
}
