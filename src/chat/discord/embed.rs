//! Discord rendering of a neutral [`Message`]: an embed coloured by severity (title = the emoji
//! headline, fields, description, footer with the incident id), buttons as components, and the
//! paged roles as mentions in the content — the only place mentions notify. `allowed_mentions`
//! names exactly those ids, so text typed by a user (`@everyone`) never pings anyone.

use serde_json::{Value, json};

use super::interaction::BUTTON_PREFIX;
use crate::approval::Roles;
use crate::message::{Block, ButtonStyle, Message, shorten};

const TITLE: usize = 256;
const DESCRIPTION: usize = 4_096;
const FIELD_NAME: usize = 256;
const FIELD_VALUE: usize = 1_024;
const FIELDS: usize = 25;
const CUSTOM_ID: usize = 100;

/// The message as a Discord message body (`content`, `embeds`, `components`,
/// `allowed_mentions`).
pub fn render(message: &Message, roles: &Roles) -> Value {
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
    let (mut users, mut role_ids) = (Vec::new(), Vec::new());
    let mut paged = Vec::new();
    for role in &message.paged_roles {
        let members = roles.get(role).cloned().unwrap_or_default();
        let (u, r) = (members.discord_users, members.discord_roles);
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
        role_ids.extend(r);
    }
    let mut body = json!({
        "embeds": [embed],
        "allowed_mentions": {"parse": [], "users": users, "roles": role_ids},
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
    use crate::approval::Members;
    use crate::incident::IncidentId;

    #[test]
    fn an_alert_is_an_embed_coloured_by_severity_with_mentions_only_for_paged_roles() {
        let members = Members {
            discord_users: vec!["998877665544332211".into()],
            discord_roles: vec!["112233445566778899".into()],
            ..Members::default()
        };
        let roles = Roles::from([("devops-troubleshooter".to_owned(), members)]);
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
        let body = render(&message, &roles);
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
