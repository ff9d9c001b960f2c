//! The `/incident` application command with one subcommand per firewatch command and typed
//! options, as `firewatch discord-register` overwrites them.

use serde_json::{Value, json};

use crate::command::CommandName;

const SUB_COMMAND: u8 = 1;
const STRING: u8 = 3;
const INTEGER: u8 = 4;
const BOOLEAN: u8 = 5;
const USER: u8 = 6;

fn string(name: &str, description: &str, required: bool) -> Value {
    json!({"type": STRING, "name": name, "description": description, "required": required})
}

fn choices(name: &str, description: &str, required: bool, values: &[&str]) -> Value {
    let mut option = string(name, description, required);
    option["choices"] = values
        .iter()
        .map(|v| json!({"name": v, "value": v}))
        .collect();
    option
}

fn integer(name: &str, description: &str, required: bool, min: i64, max: Option<i64>) -> Value {
    let mut option = json!({"type": INTEGER, "name": name, "description": description,
                            "required": required, "min_value": min});
    if let Some(max) = max {
        option["max_value"] = json!(max);
    }
    option
}

fn incident() -> Value {
    integer(
        "incident",
        "the incident number (default: this channel's)",
        false,
        1,
        None,
    )
}

/// The options of one subcommand, required ones first (Discord's rule).
fn options(name: CommandName, max_replicas: u32) -> Vec<Value> {
    let severities = ["P0", "P1", "P2", "P3"];
    let mut options = match name {
        CommandName::Assess => vec![
            string("description", "what is wrong, as users see it", true),
            choices(
                "severity",
                "skip classification and set the severity",
                false,
                &severities,
            ),
            string(
                "service",
                "the affected service (default: the catalog's default)",
                false,
            ),
        ],
        CommandName::Update => vec![
            string("progress", "what is being done", true),
            choices(
                "status",
                "move the incident",
                false,
                &["investigating", "mitigating", "monitoring"],
            ),
            string("eta", "expected time to resolution", false),
            string(
                "users",
                "users affected: a count (1200), a share (~40%) or all",
                false,
            ),
            string("impact", "the business impact", false),
            string("public", "text for the public status page", false),
        ],
        CommandName::Severity => vec![
            choices("level", "the new severity", true, &severities),
            string("reason", "why", false),
        ],
        CommandName::Note => vec![string("text", "the note", true)],
        CommandName::Role => vec![
            choices("role", "the role", true, &["commander", "comms", "scribe"]),
            json!({"type": USER, "name": "person", "description": "who takes it (default: you)", "required": false}),
        ],
        CommandName::Page => vec![
            string("who", "a role, or @person", true),
            string("message", "what they are told", false),
        ],
        CommandName::Resolve => vec![
            string("root_cause", "what caused it", true),
            string("resolution", "what fixed it", true),
            string(
                "public",
                "the resolution as the public status page tells it",
                false,
            ),
        ],
        CommandName::Rollback => vec![integer(
            "revision",
            "the Helm revision (default: the previous one)",
            false,
            1,
            None,
        )],
        CommandName::Scale => vec![
            integer(
                "replicas",
                "the new replica count",
                true,
                0,
                Some(i64::from(max_replicas)),
            ),
            string(
                "deployment",
                "the Deployment (default: the service's)",
                false,
            ),
        ],
        CommandName::Action => vec![string("name", "the runbook action from the config", true)],
        CommandName::Approve => vec![string(
            "request",
            "the request id (R12); default: the only pending one",
            false,
        )],
        CommandName::Deny => vec![
            string(
                "request",
                "the request id (R12); default: the only pending one",
                false,
            ),
            string("reason", "why", false),
        ],
        CommandName::Diagnose => vec![choices(
            "area",
            "what to look at",
            true,
            &["app", "perf", "security", "infra"],
        )],
        CommandName::Verify => vec![
            json!({"type": BOOLEAN, "name": "smoke_only", "description": "only run the smoke-test jobs", "required": false}),
        ],
        CommandName::PerformanceTest => vec![
            json!({"type": BOOLEAN, "name": "baseline", "description": "store the figures as the service's baseline instead of comparing", "required": false}),
        ],
        CommandName::Followup => vec![
            string("text", "a new action item", false),
            integer("done", "tick off action item N", false, 1, None),
        ],
        CommandName::Help => vec![string("command", "explain one command", false)],
        CommandName::Ack | CommandName::Status | CommandName::Report => vec![],
    };
    if name.takes_incident() {
        options.push(incident());
    }
    options
}

/// The command list to register: `/incident` with every subcommand; `replicas` of `scale` is
/// bounded by `scale.max_replicas`.
pub fn definitions(max_replicas: u32) -> Value {
    let subcommands: Vec<Value> = CommandName::ALL
        .into_iter()
        .map(|name| {
            json!({
                "type": SUB_COMMAND,
                "name": name.word(),
                "description": name.summary().chars().take(100).collect::<String>(),
                "options": options(name, max_replicas),
            })
        })
        .collect();
    json!([{
        "name": "incident",
        "type": 1,
        "description": "Incident response: assess, update, mitigate, resolve",
        "options": subcommands,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_a_subcommand_with_valid_option_order_and_limits() {
        let defs = definitions(50);
        let subs = defs[0]["options"].as_array().unwrap();
        assert_eq!(subs.len(), CommandName::ALL.len());
        for sub in subs {
            let name = sub["name"].as_str().unwrap();
            assert!(name.len() <= 32 && sub["description"].as_str().unwrap().len() <= 100);
            let options = sub["options"].as_array().unwrap();
            let first_optional = options.iter().position(|o| o["required"] == false);
            if let Some(i) = first_optional {
                assert!(
                    options[i..].iter().all(|o| o["required"] == false),
                    "{name}"
                );
            }
        }
        let scale = subs.iter().find(|s| s["name"] == "scale").unwrap();
        assert_eq!(scale["options"][0]["max_value"], 50);
    }
}
