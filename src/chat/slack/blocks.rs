//! Block Kit rendering of a neutral [`Message`]: a header with the emoji line, fields in
//! sections, text, the paged roles as mentions, a context line with the incident id, and
//! buttons that run their command when pressed.
//!
//! Everything from the message is escaped (`&`, `<`, `>`), so text typed by a user can never
//! become a mention or a link; only [`Mentions`] adds those.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use slack_morphism::prelude::SlackMessageContent;

use super::payload::ACTION_PREFIX;
use crate::config::RoleSettings;
use crate::message::{Block, ButtonStyle, Message};

/// Longest message body posted as is (Slack caps a section's text near 3 000 characters);
/// longer bodies are cut with a note.
pub const LONGEST_BODY: usize = 2_900;
/// Slack's limit for a header block.
const LONGEST_HEADER: usize = 150;
/// Slack's limit of fields per section.
const FIELDS_PER_SECTION: usize = 10;

/// Who each role is on Slack.
#[derive(Debug, Clone, Default)]
pub struct Mentions {
    by_role: BTreeMap<String, Vec<String>>,
}

impl Mentions {
    /// The Slack ids of every configured role.
    pub fn new(roles: &BTreeMap<String, RoleSettings>) -> Self {
        Self {
            by_role: roles
                .iter()
                .map(|(name, role)| (name.clone(), role.slack.clone()))
                .collect(),
        }
    }

    /// The Slack user ids (not groups) of `roles`, for inviting into a channel.
    pub fn users(&self, roles: &[String]) -> Vec<String> {
        let mut users: Vec<String> = roles
            .iter()
            .filter_map(|r| self.by_role.get(r))
            .flatten()
            .filter(|id| id.starts_with('U') || id.starts_with('W'))
            .cloned()
            .collect();
        users.sort();
        users.dedup();
        users
    }

    /// `role (<@U1> <!subteam^S1>)` for each role; a role without Slack ids by its name.
    fn line(&self, roles: &[String]) -> String {
        roles
            .iter()
            .map(|role| {
                let ids: Vec<String> = self
                    .by_role
                    .get(role)
                    .into_iter()
                    .flatten()
                    .map(|id| mention(id))
                    .collect();
                if ids.is_empty() {
                    escape(role)
                } else {
                    format!("{} ({})", escape(role), ids.join(" "))
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn mention(id: &str) -> String {
    if id.starts_with('S') {
        format!("<!subteam^{id}>")
    } else {
        format!("<@{id}>")
    }
}

/// Escapes the three characters Slack's mrkdwn gives meaning to.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message as Block Kit, with a plain-text fallback for notifications.
pub fn render(message: &Message, mentions: &Mentions) -> SlackMessageContent {
    let value = to_json(message, mentions);
    serde_json::from_value(value).expect("the blocks built here are Block Kit the model reads")
}

/// The message as the JSON Slack receives (`text` and `blocks`).
pub fn to_json(message: &Message, mentions: &Mentions) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": cut(&message.headline, LONGEST_HEADER), "emoji": true}
    })];
    let (body, cut_chars) = body_within(&message.blocks, LONGEST_BODY);
    for part in body {
        blocks.push(match part {
            Part::Fields(fields) => json!({
                "type": "section",
                "fields": fields.iter().map(|(label, value)| json!({
                    "type": "mrkdwn",
                    "text": format!("*{}*\n{}", escape(label), escape(value)),
                })).collect::<Vec<_>>()
            }),
            Part::Text(text) => json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": escape(&text)}
            }),
        });
    }
    if cut_chars > 0 {
        blocks.push(context(&format!(
            "✂️ {cut_chars} more characters are not shown here (Slack's message limit)."
        )));
    }
    let paged = mentions.line(&message.paged_roles);
    if !paged.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("*Paged:* {paged}")}
        }));
    }
    if !message.buttons.is_empty() {
        let elements: Vec<Value> = message
            .buttons
            .iter()
            .enumerate()
            .map(|(i, button)| {
                let mut element = json!({
                    "type": "button",
                    "action_id": format!("{ACTION_PREFIX}{i}"),
                    "text": {"type": "plain_text", "text": cut(&button.label, 75), "emoji": true},
                    "value": button.command,
                });
                match button.style {
                    ButtonStyle::Primary => element["style"] = json!("primary"),
                    ButtonStyle::Danger => element["style"] = json!("danger"),
                    ButtonStyle::Default => {}
                }
                element
            })
            .collect();
        blocks.push(json!({"type": "actions", "elements": elements}));
    }
    if let Some(id) = message.incident {
        blocks.push(context(&format!("Incident {id} · firewatch")));
    }
    let mut text = escape(&message.headline);
    if !paged.is_empty() {
        text.push_str(" — paged: ");
        text.push_str(&paged);
    }
    json!({"text": text, "blocks": blocks})
}

/// `text` (escaped) followed by a link to a channel: `🚨 #1 is handled in <#C…>`.
pub fn with_channel_link(text: &str, channel_id: &str) -> SlackMessageContent {
    let line = format!("{} <#{}>", escape(text), escape(channel_id));
    let value = json!({
        "text": line,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": line}}]
    });
    serde_json::from_value(value).expect("a section block is Block Kit the model reads")
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": text}]})
}

enum Part {
    Fields(Vec<(String, String)>),
    Text(String),
}

/// Groups the body into sections, keeping at most `budget` characters; returns how many
/// characters were left out.
fn body_within(blocks: &[Block], budget: usize) -> (Vec<Part>, usize) {
    let mut parts: Vec<Part> = Vec::new();
    let mut used = 0;
    let mut left_out = 0;
    for block in blocks {
        let size = match block {
            Block::Field { label, value } => label.chars().count() + value.chars().count() + 2,
            Block::Text(text) => text.chars().count() + 1,
        };
        if used + size > budget {
            left_out += size;
            continue;
        }
        used += size;
        match (block, parts.last_mut()) {
            (Block::Field { label, value }, Some(Part::Fields(fields)))
                if fields.len() < FIELDS_PER_SECTION =>
            {
                fields.push((label.clone(), value.clone()));
            }
            (Block::Field { label, value }, _) => {
                parts.push(Part::Fields(vec![(label.clone(), value.clone())]));
            }
            (Block::Text(text), _) if text.is_empty() => parts.push(Part::Text(String::new())),
            (Block::Text(text), Some(Part::Text(current))) if !current.is_empty() => {
                current.push('\n');
                current.push_str(text);
            }
            (Block::Text(text), _) => parts.push(Part::Text(text.clone())),
        }
    }
    parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
    (parts, left_out)
}

fn cut(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::IncidentId;

    fn mentions() -> Mentions {
        let mut roles = BTreeMap::new();
        roles.insert(
            "devops-troubleshooter".to_owned(),
            RoleSettings {
                slack: vec!["U0123ABCD".into(), "S0456EFGH".into()],
                ..RoleSettings::default()
            },
        );
        Mentions::new(&roles)
    }

    #[test]
    fn an_alert_becomes_header_fields_mentions_buttons_and_context() {
        let mut message = Message::from_rendered(
            "🚨 INCIDENT DETECTED - P1\nService: freightliner\nStatus: Investigating\n\nUsers see <!channel> & 500s",
        )
        .with_button("Acknowledge", "/incident-ack #1".into(), ButtonStyle::Primary);
        message.incident = IncidentId::new(1);
        message.paged_roles = vec!["devops-troubleshooter".into(), "golang-pro".into()];
        let json = to_json(&message, &mentions());
        let blocks = json["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["text"]["text"], "🚨 INCIDENT DETECTED - P1");
        assert_eq!(blocks[1]["fields"][0]["text"], "*Service*\nfreightliner");
        assert_eq!(
            blocks[2]["text"]["text"],
            "Users see &lt;!channel&gt; &amp; 500s"
        );
        assert_eq!(
            blocks[3]["text"]["text"],
            "*Paged:* devops-troubleshooter (<@U0123ABCD> <!subteam^S0456EFGH>), golang-pro"
        );
        assert_eq!(blocks[4]["elements"][0]["value"], "/incident-ack #1");
        assert_eq!(blocks[4]["elements"][0]["action_id"], "firewatch:0");
        assert_eq!(blocks[4]["elements"][0]["style"], "primary");
        assert_eq!(blocks[5]["elements"][0]["text"], "Incident #1 · firewatch");
        assert!(json["text"].as_str().unwrap().contains("<@U0123ABCD>"));
        // The typed model accepts it.
        let content = render(&message, &mentions());
        assert_eq!(content.blocks.unwrap().len(), 6);
    }

    #[test]
    fn a_long_body_is_cut_with_a_note() {
        let long = (0..200)
            .map(|i| format!("line {i} of the diagnosis output"))
            .collect::<Vec<_>>();
        let message = Message::from_rendered(&format!("🔎 Diagnosis\n{}", long.join("\n")));
        let json = to_json(&message, &Mentions::default());
        let text_len: usize = json["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .map(|t| t.chars().count())
            .sum();
        assert!(text_len <= LONGEST_BODY + 200, "{text_len}");
        let last = json["blocks"].as_array().unwrap().last().unwrap().clone();
        assert!(
            last["elements"][0]["text"]
                .as_str()
                .unwrap()
                .contains("more characters are not shown")
        );
    }

    #[test]
    fn only_user_ids_are_invited() {
        assert_eq!(
            mentions().users(&["devops-troubleshooter".into(), "nobody".into()]),
            vec!["U0123ABCD".to_owned()]
        );
    }
}
