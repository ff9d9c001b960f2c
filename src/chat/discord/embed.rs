//! Discord rendering of a neutral [`Message`]: an embed coloured by severity (title = the emoji
//! headline, fields, description, footer with the incident id), buttons as components, and the
//! paged roles as mentions in the content — the only place mentions notify. `allowed_mentions`
//! names exactly those ids, so text typed by a user (`@everyone`) never pings anyone.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::interaction::BUTTON_PREFIX;
use crate::config::RoleSettings;
use crate::message::{Block, ButtonStyle, Message, shorten};

const TITLE: usize = 256;
const DESCRIPTION: usize = 4_096;
const FIELD_NAME: usize = 256;
const FIELD_VALUE: usize = 1_024;
const FIELDS: usize = 25;
const CUSTOM_ID: usize = 100;

/// Who each role is on Discord.
#[derive(Debug, Clone, Default)]
pub struct Mentions {
    by_role: BTreeMap<String, (Vec<String>, Vec<String>)>,
}

impl Mentions {
    /// The Discord user and role ids of every configured role.
    pub fn new(roles: &BTreeMap<String, RoleSettings>) -> Self {
        Self {
            by_role: roles
                .iter()
                .map(|(name, r)| {
                    (
                        name.clone(),
                        (r.discord_users.clone(), r.discord_roles.clone()),
                    )
                })
                .collect(),
        }
    }
}

/// The message as a Discord message body (`content`, `embeds`, `components`,
/// `allowed_mentions`).
pub fn render(message: &Message, mentions: &Mentions) -> Value {
    let mut fields = Vec::new();
    let mut description = String::new();
    for block in &message.blocks {
        match block {
            Block::Field { label, value } if fields.len() < FIELDS => fields.push(json!({
                "name": shorten(label, FIELD_NAME),
                "value": shorten(value, FIELD_VALUE),
                "inline": true,
            })),
            Block::Field { label, value } => {
                push_line(&mut description, &format!("{label}: {value}"))
            }
            Block::Text(text) => push_line(&mut description, text),
        }
    }
    let mut embed = json!({
        "title": shorten(&message.headline, TITLE),
        "fields": fields,
    });
    let description = description.trim_matches('\n');
    if !description.is_empty() {
        embed["description"] = json!(shorten(description, DESCRIPTION));
    }
    if let Some(colour) = message
        .colour
        .as_deref()
        .and_then(|c| c.strip_prefix('#'))
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
    {
        embed["color"] = json!(colour);
    }
    if let Some(id) = message.incident {
        embed["footer"] = json!({"text": format!("Incident {id} · firewatch")});
    }
    let (mut users, mut roles) = (Vec::new(), Vec::new());
    let mut paged = Vec::new();
    for role in &message.paged_roles {
        let (u, r) = mentions.by_role.get(role).cloned().unwrap_or_default();
        let ids: Vec<String> = u
            .iter()
            .map(|id| format!("<@{id}>"))
            .chain(r.iter().map(|id| format!("<@&{id}>")))
            .collect();
        paged.push(if ids.is_empty() {
            role.clone()
        } else {
            format!("{role} ({})", ids.join(" "))
        });
        users.extend(u);
        roles.extend(r);
    }
    let mut body = json!({
        "embeds": [embed],
        "allowed_mentions": {"parse": [], "users": users, "roles": roles},
    });
    if !paged.is_empty() {
        body["content"] = json!(format!("Paged: {}", paged.join(", ")));
    }
    let buttons: Vec<Value> = message
        .buttons
        .iter()
        .filter(|b| BUTTON_PREFIX.len() + b.command.len() <= CUSTOM_ID)
        .take(5)
        .map(|b| {
            json!({
                "type": 2,
                "style": match b.style { ButtonStyle::Primary => 1, ButtonStyle::Default => 2, ButtonStyle::Danger => 4 },
                "label": shorten(&b.label, 80),
                "custom_id": format!("{BUTTON_PREFIX}{}", b.command),
            })
        })
        .collect();
    if !buttons.is_empty() {
        body["components"] = json!([{"type": 1, "components": buttons}]);
    }
    body
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::IncidentId;

    #[test]
    fn an_alert_is_an_embed_coloured_by_severity_with_mentions_only_for_paged_roles() {
        let mut roles = BTreeMap::new();
        roles.insert(
            "devops-troubleshooter".to_owned(),
            RoleSettings {
                discord_users: vec!["998877665544332211".into()],
                discord_roles: vec!["112233445566778899".into()],
                ..RoleSettings::default()
            },
        );
        let mut message = Message::from_rendered(
            "🚨 INCIDENT DETECTED - P0\nService: freightliner\n\n@everyone look",
        )
        .with_colour("#D92D20")
        .with_button(
            "Acknowledge",
            "/incident-ack #4".into(),
            ButtonStyle::Primary,
        );
        message.incident = IncidentId::new(4);
        message.paged_roles = vec!["devops-troubleshooter".into()];
        let body = render(&message, &Mentions::new(&roles));
        let embed = &body["embeds"][0];
        assert_eq!(embed["title"], "🚨 INCIDENT DETECTED - P0");
        assert_eq!(embed["color"], 0xD92D20);
        assert_eq!(embed["fields"][0]["name"], "Service");
        assert_eq!(embed["description"], "@everyone look");
        assert_eq!(embed["footer"]["text"], "Incident #4 · firewatch");
        assert_eq!(
            body["content"],
            "Paged: devops-troubleshooter (<@998877665544332211> <@&112233445566778899>)"
        );
        assert_eq!(body["allowed_mentions"]["parse"], json!([]));
        assert_eq!(
            body["allowed_mentions"]["users"],
            json!(["998877665544332211"])
        );
        assert_eq!(
            body["components"][0]["components"][0]["custom_id"],
            "firewatch:/incident-ack #4"
        );
    }
}
