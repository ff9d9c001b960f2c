//! Block Kit rendering of a neutral [`Message`]: a header with the emoji line, fields in
//! sections, text, the paged roles as mentions, a context line with the incident id, and
//! buttons that run their command when pressed.
//!
//! Everything from the message is escaped (`&`, `<`, `>`), so text typed by a user can never
//! become a mention or a link; only the paged roles' members (from [`Roles`]) add those. Hidden
//! characters (terminal escapes, bidi overrides: [`text::is_hidden`]) are left out of every
//! text, escaped or plain.

use serde_json::{Value, json};
use slack_morphism::prelude::SlackMessageContent;

use super::payload::ACTION_PREFIX;
use crate::approval::Roles;
use crate::message::{Block, ButtonStyle, Message, WebLink, shorten};
use crate::text;

/// Longest message body posted as is (Slack caps a section's text near 3 000 characters);
/// longer bodies are cut with a note.
pub const LONGEST_BODY: usize = 2_900;
/// Slack's limit for a header block.
const LONGEST_HEADER: usize = 150;
/// Slack's limit of fields per section.
const FIELDS_PER_SECTION: usize = 10;
/// Slack's limit for one field's text.
const LONGEST_FIELD: usize = 2_000;
/// Slack's limit for a section's text.
const LONGEST_SECTION: usize = 3_000;
/// Slack's limit for a button's value.
const LONGEST_BUTTON_VALUE: usize = 2_000;
/// Buttons per actions block.
const BUTTONS: usize = 25;
/// The action id of link buttons (pressing one runs nothing).
const LINK_ACTION_PREFIX: &str = "firewatch-link:";
/// Slack allows 50 blocks; the header, the cut note, paged, actions and context take five.
const MOST_BODY_BLOCKS: usize = 44;

/// The Slack user ids (not groups) of the members of `paged`, for inviting into a channel.
pub fn users(roles: &Roles, paged: &[String]) -> Vec<String> {
    let mut users: Vec<String> = paged
        .iter()
        .filter_map(|r| roles.get(r))
        .flat_map(|m| &m.slack)
        .filter(|id| id.starts_with('U') || id.starts_with('W'))
        .cloned()
        .collect();
    users.sort();
    users.dedup();
    users
}

/// `role (<@U1> <!subteam^S1>)` for each of `paged`; a role without Slack ids by its name.
fn paged_line(roles: &Roles, paged: &[String]) -> String {
    paged
        .iter()
        .map(|role| {
            let ids: Vec<String> = roles
                .get(role)
                .into_iter()
                .flat_map(|m| &m.slack)
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

fn mention(id: &str) -> String {
    if id.starts_with('S') {
        format!("<!subteam^{id}>")
    } else {
        format!("<@{id}>")
    }
}

/// Escapes the three characters Slack's mrkdwn gives meaning to, and leaves out hidden
/// characters.
pub fn escape(text: &str) -> String {
    text::strip_hidden(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message as Block Kit, with a plain-text fallback for notifications.
pub fn render(message: &Message, roles: &Roles) -> SlackMessageContent {
    content(to_json(message, roles))
}

/// Block Kit JSON built here as the client's message content.
pub fn content(value: Value) -> SlackMessageContent {
    serde_json::from_value(value).expect("the blocks built here are Block Kit the model reads")
}

/// A card's first message (Block Kit JSON) with a later step added as a status line; a
/// `closed` step removes its buttons. `None` when the message has no room left.
pub fn with_status(first: &Value, step: &str, closed: bool) -> Option<Value> {
    let mut updated = first.clone();
    let blocks = updated["blocks"].as_array_mut()?;
    if closed {
        blocks.retain(|b| b["type"] != "actions");
    }
    if blocks.len() >= 50 {
        return None;
    }
    blocks.push(context(&escape(&shorten(step, LONGEST_SECTION))));
    Some(updated)
}

/// The message as the JSON Slack receives (`text` and `blocks`), within Block Kit's limits
/// whatever the message holds.
pub fn to_json(message: &Message, roles: &Roles) -> Value {
    let headline = text::strip_hidden(&message.headline);
    let headline = if headline.trim().is_empty() {
        "firewatch"
    } else {
        &headline
    };
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": shorten(headline, LONGEST_HEADER), "emoji": true}
    })];
    let (body, cut_chars) = body_within(&message.blocks, LONGEST_BODY, MOST_BODY_BLOCKS);
    for part in body {
        blocks.push(match part {
            Part::Fields(fields) => json!({
                "type": "section",
                "fields": fields.into_iter().map(|text| mrkdwn(&text)).collect::<Vec<_>>()
            }),
            Part::Text(text) => json!({"type": "section", "text": mrkdwn(&text)}),
        });
    }
    if cut_chars > 0 {
        blocks.push(context(&format!(
            "✂️ {cut_chars} more characters are not shown here (Slack's message limit)."
        )));
    }
    let paged = paged_line(roles, &message.paged_roles);
    if !paged.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": mrkdwn(&shorten(&format!("*Paged:* {paged}"), LONGEST_SECTION))
        }));
    }
    let elements: Vec<Value> = message
        .buttons
        .iter()
        .enumerate()
        .filter(|(_, b)| b.command.len() <= LONGEST_BUTTON_VALUE)
        .take(BUTTONS)
        .map(|(i, button)| {
            let mut element = json!({
                "type": "button",
                "action_id": format!("{ACTION_PREFIX}{i}"),
                "text": {
                    "type": "plain_text",
                    "text": shorten(&text::strip_hidden(&button.label), 75),
                    "emoji": true
                },
                "value": button.command,
            });
            match button.style {
                ButtonStyle::Primary => element["style"] = json!("primary"),
                ButtonStyle::Danger => element["style"] = json!("danger"),
                ButtonStyle::Default => {}
            }
            element
        })
        .chain(links(message).take(BUTTONS).map(|(i, link)| {
            // A link button's press reaches the app too; its action id is not one of firewatch's
            // commands, so it is acknowledged and ignored.
            json!({
                "type": "button",
                "action_id": format!("{LINK_ACTION_PREFIX}{i}"),
                "text": {"type": "plain_text", "text": shorten(&link.label, 75), "emoji": true},
                "url": link.url,
            })
        }))
        .take(BUTTONS)
        .collect();
    if !elements.is_empty() {
        blocks.push(json!({"type": "actions", "elements": elements}));
    }
    if let Some(id) = message.incident {
        blocks.push(context(&format!("Incident {id} · firewatch")));
    }
    let mut text = escape(headline);
    if !paged.is_empty() {
        text.push_str(" — paged: ");
        text.push_str(&paged);
    }
    json!({"text": shorten(&text, LONGEST_SECTION), "blocks": blocks})
}

/// The longest URL a Slack button takes; a longer one would make Slack refuse the whole message.
const LONGEST_URL: usize = 3_000;

/// `message`'s links that a Slack button can carry, numbered as the message lists them (an
/// Alertmanager silence link over many labels can be longer than Slack takes).
fn links(message: &Message) -> impl Iterator<Item = (usize, &WebLink)> {
    message
        .links
        .iter()
        .enumerate()
        .filter(|(_, link)| link.url.len() <= LONGEST_URL)
}

/// A mrkdwn text object that Slack takes as written: `verbatim` stops it from turning a typed
/// `@channel` or `#channel` into a mention or link.
fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": text, "verbatim": true})
}

/// `text` (escaped) followed by a link to a channel: `🚨 #1 is handled in <#C…>`.
pub fn with_channel_link(text: &str, channel_id: &str) -> SlackMessageContent {
    let line = format!("{} <#{}>", escape(text), escape(channel_id));
    content(json!({
        "text": line,
        "blocks": [{"type": "section", "text": mrkdwn(&line)}]
    }))
}

fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [mrkdwn(text)]})
}

enum Part {
    /// Escaped `*label*\nvalue` texts, at most ten.
    Fields(Vec<String>),
    /// Escaped text.
    Text(String),
}

/// Groups the body into sections of escaped text, keeping at most `budget` characters (counted
/// after escaping) in at most `most_parts` sections; returns how many characters were left out.
fn body_within(blocks: &[Block], budget: usize, most_parts: usize) -> (Vec<Part>, usize) {
    let mut parts: Vec<Part> = Vec::new();
    let mut used = 0;
    let mut left_out = 0;
    for block in blocks {
        let (text, field) = match block {
            Block::Field { label, value } => (
                shorten(
                    &format!("*{}*\n{}", escape(label), escape(value)),
                    LONGEST_FIELD,
                ),
                true,
            ),
            Block::Text(text) => (escape(text), false),
        };
        let size = text.chars().count() + 1;
        let joins = match (field, parts.last()) {
            (true, Some(Part::Fields(f))) => f.len() < FIELDS_PER_SECTION,
            (false, Some(Part::Text(t))) => !t.is_empty() && !text.is_empty(),
            _ => false,
        };
        if used + size > budget || (!joins && parts.len() >= most_parts) {
            left_out += size - 1;
            continue;
        }
        used += size;
        match (field, parts.last_mut()) {
            (true, Some(Part::Fields(fields))) if joins => fields.push(text),
            (true, _) => parts.push(Part::Fields(vec![text])),
            (false, Some(Part::Text(current))) if joins => {
                current.push('\n');
                current.push_str(&text);
            }
            (false, _) => parts.push(Part::Text(text)),
        }
    }
    parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
    (parts, left_out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::Members;
    use crate::incident::IncidentId;

    fn roles() -> Roles {
        let members = Members {
            slack: vec!["U0123ABCD".into(), "S0456EFGH".into()],
            ..Members::default()
        };
        Roles::from([("devops-troubleshooter".to_owned(), members)])
    }

    #[test]
    fn an_alert_becomes_header_fields_mentions_buttons_and_context() {
        let mut message = Message::from_rendered(
            "🚨 INCIDENT DETECTED - P1\nService: freightliner\nStatus: Investigating\n\nUsers see <!channel> & 500s",
        )
        .with_button("Acknowledge", "/incident-ack #1".into(), ButtonStyle::Primary);
        message.incident = IncidentId::new(1);
        message.paged_roles = vec!["devops-troubleshooter".into(), "golang-pro".into()];
        let json = to_json(&message, &roles());
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
        let content = render(&message, &roles());
        assert_eq!(content.blocks.unwrap().len(), 6);
    }

    #[test]
    fn a_link_longer_than_slack_takes_is_left_out() {
        let mut message = Message::from_rendered("🚨 INCIDENT DETECTED - P1");
        message.links = vec![
            WebLink {
                label: "Silence".into(),
                url: format!(
                    "https://alertmanager.example.org/#/silences/new?{}",
                    "a".repeat(3_000)
                ),
            },
            WebLink {
                label: "Dashboard".into(),
                url: "https://grafana.example.org/d/1".into(),
            },
        ];
        let json = to_json(&message, &roles());
        let buttons = json["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "actions")
            .unwrap()["elements"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(buttons.len(), 1);
        assert_eq!(buttons[0]["url"], "https://grafana.example.org/d/1");
        assert_eq!(buttons[0]["action_id"], format!("{LINK_ACTION_PREFIX}1"));
    }

    #[test]
    fn a_long_body_is_cut_with_a_note() {
        let long = (0..200)
            .map(|i| format!("line {i} of the diagnosis output"))
            .collect::<Vec<_>>();
        let message = Message::from_rendered(&format!("🔎 Diagnosis\n{}", long.join("\n")));
        let json = to_json(&message, &Roles::new());
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
    fn hostile_content_stays_within_block_kits_limits() {
        let angles = "<".repeat(2_800);
        let mut lines = vec![
            String::new(),
            format!("Impact: {}", "x".repeat(2_500)),
            angles,
        ];
        for i in 0..300 {
            lines.push(format!("Label{i}: v"));
            lines.push(format!("plain {i}"));
        }
        let mut message = Message::from_rendered(&format!("headline\n{}", lines.join("\n")));
        message.headline.clear();
        let json = to_json(&message, &Roles::new());
        let blocks = json["blocks"].as_array().unwrap();
        assert!(blocks.len() <= 50, "{}", blocks.len());
        assert_eq!(
            blocks[0]["text"]["text"], "firewatch",
            "an empty headline still has a header"
        );
        let mut total = 0;
        for block in blocks {
            if let Some(text) = block["text"]["text"].as_str() {
                assert!(text.chars().count() <= LONGEST_SECTION);
                total += text.chars().count();
            }
            for field in block["fields"].as_array().into_iter().flatten() {
                assert!(field["text"].as_str().unwrap().chars().count() <= LONGEST_FIELD);
                total += field["text"].as_str().unwrap().chars().count();
            }
            assert!(
                block["fields"]
                    .as_array()
                    .is_none_or(|f| f.len() <= FIELDS_PER_SECTION)
            );
        }
        assert!(total <= LONGEST_BODY + LONGEST_HEADER + 200, "{total}");
        assert!(
            blocks
                .iter()
                .all(|b| b["text"]["type"] != "mrkdwn" || b["text"]["verbatim"] == true)
        );
    }

    #[test]
    fn hidden_characters_are_left_out_of_every_block() {
        let json = to_json(&crate::text::samples::message(), &roles());
        assert_eq!(crate::text::samples::hidden_in(&json), Vec::<String>::new());
        assert_eq!(json["blocks"][0]["text"]["text"], "🚨 INCIDENT DETECTED");
        assert_eq!(json["blocks"][2]["text"]["text"], "panic: exe.txt");
        assert_eq!(json["blocks"][4]["elements"][0]["text"]["text"], "Ack");
        let status = with_status(&json, "✅ approved \u{1b}[2J\u{202e}", false).unwrap();
        assert_eq!(
            crate::text::samples::hidden_in(&status),
            Vec::<String>::new()
        );
    }

    #[test]
    fn only_user_ids_are_invited() {
        assert_eq!(
            users(&roles(), &["devops-troubleshooter".into(), "nobody".into()]),
            vec!["U0123ABCD".to_owned()]
        );
    }
}
