//! Platform-neutral messages: what the bot says, before a chat adapter turns it into Block Kit,
//! a Discord embed or terminal text.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::incident::IncidentId;

/// A message to post.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The first line, with its emoji: `🚨 INCIDENT DETECTED - P1`.
    pub headline: String,
    /// The body, in order.
    pub blocks: Vec<Block>,
    /// `#RRGGBB` for attachments and embeds (the severity's colour), if any.
    pub colour: Option<String>,
    /// The incident the message is about, for context lines and threading.
    pub incident: Option<IncidentId>,
    /// Roles the message pages; adapters add the platform mentions.
    pub paged_roles: Vec<String>,
    /// Interactive parts.
    pub buttons: Vec<Button>,
    /// Links to other tools (an alert's silence, its dashboard), shown as link buttons where
    /// the platform has them.
    pub links: Vec<WebLink>,
    /// A document that goes with the message: uploaded as a file where the platform allows,
    /// shown inline otherwise.
    pub attachment: Option<Attachment>,
    /// The card this message belongs to (an approval request): platforms that can edit their
    /// messages also update the card's first message with this one's headline.
    pub card: Option<Card>,
}

/// A message that is updated as something progresses (an approval request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// Its identity: the same for every message about it (`approval-3`).
    pub key: String,
    /// This message ends it: the card's buttons go.
    pub closed: bool,
}

/// A file posted with a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The file name: `incident-20261129.md`.
    pub name: String,
    /// The text.
    pub content: String,
}

/// A part of a message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A `Label: value` line, shown as a field where the platform has fields.
    Field {
        /// `Service`, `Status`, …
        label: String,
        /// The value.
        value: String,
    },
    /// A line of text (empty for a paragraph break).
    Text(String),
}

/// A button that runs a command when pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    /// What it says.
    pub label: String,
    /// The command it runs, as if typed by whoever pressed it: `/incident-ack #3`.
    pub command: String,
    /// How it looks.
    pub style: ButtonStyle,
}

/// A link to a page outside the chat, opened by whoever presses it; it runs no command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebLink {
    /// What it says: `Silence`, `Dashboard`.
    pub label: String,
    /// An `http(s)` URL.
    pub url: String,
}

/// Button emphasis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonStyle {
    /// Plain.
    Default,
    /// The expected action.
    Primary,
    /// A destructive or refusing action.
    Danger,
}

static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Z][A-Za-z0-9 /()'-]{0,39}):\s+(\S.*)$").expect("the field pattern compiles")
});

/// `text` in at most `limit` characters: cut with `…` when longer (platform field limits).
pub fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` with its first letter upper-case.
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl Message {
    /// Reads a rendered template: the first non-empty line is the headline; `Label: value` lines
    /// become fields, other lines text. Runs of blank lines shrink to one; none lead or trail.
    pub fn from_rendered(text: &str) -> Self {
        let mut lines = text
            .lines()
            .map(str::trim_end)
            .skip_while(|l| l.trim().is_empty());
        let headline = lines.next().unwrap_or_default().trim().to_owned();
        let mut blocks: Vec<Block> = Vec::new();
        for line in lines {
            if line.trim().is_empty() {
                let after_break = match blocks.last() {
                    None => true,
                    Some(Block::Text(t)) => t.is_empty(),
                    Some(Block::Field { .. }) => false,
                };
                if !after_break {
                    blocks.push(Block::Text(String::new()));
                }
                continue;
            }
            blocks.push(match FIELD.captures(line) {
                Some(c) => Block::Field {
                    label: c[1].to_owned(),
                    value: c[2].to_owned(),
                },
                None => Block::Text(line.to_owned()),
            });
        }
        if matches!(blocks.last(), Some(Block::Text(t)) if t.is_empty()) {
            blocks.pop();
        }
        Self {
            headline,
            blocks,
            ..Self::default()
        }
    }

    /// A short message that is not from a template: refusals, errors, help.
    pub fn notice(headline: impl Into<String>, body: &str) -> Self {
        let mut message = Self::from_rendered(body);
        let first = std::mem::replace(&mut message.headline, headline.into());
        if !first.is_empty() {
            message.blocks.insert(0, Block::Text(first));
        }
        message
    }

    /// Sets the colour.
    pub fn with_colour(mut self, colour: &str) -> Self {
        self.colour = Some(colour.to_owned());
        self
    }

    /// Makes this message part of card `key` (`closed` when it ends the card).
    pub fn on_card(mut self, key: String, closed: bool) -> Self {
        self.card = Some(Card { key, closed });
        self
    }

    /// Sets the incident.
    pub fn about(mut self, id: IncidentId) -> Self {
        self.incident = Some(id);
        self
    }

    /// Attaches a document.
    pub fn with_attachment(mut self, name: String, content: String) -> Self {
        self.attachment = Some(Attachment { name, content });
        self
    }

    /// Adds a button.
    pub fn with_button(mut self, label: &str, command: String, style: ButtonStyle) -> Self {
        self.buttons.push(Button {
            label: label.into(),
            command,
            style,
        });
        self
    }

    /// Adds a link (`url` is an `http(s)` URL).
    pub fn with_link(mut self, label: &str, url: String) -> Self {
        self.links.push(WebLink {
            label: label.into(),
            url,
        });
        self
    }

    /// The message as plain text lines: headline, then the body.
    pub fn plain_text(&self) -> String {
        let mut out = self.headline.clone();
        for block in &self.blocks {
            out.push('\n');
            match block {
                Block::Field { label, value } => {
                    out.push_str(label);
                    out.push_str(": ");
                    out.push_str(value);
                }
                Block::Text(text) => out.push_str(text),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rendered_template_splits_into_headline_fields_and_text() {
        let m = Message::from_rendered(
            "\n\n🚨 INCIDENT DETECTED - P1\nService: freightliner\nStatus: Investigating\n\n\n\
             Some words: not a field because lowercase?\nnext: lowercase label is text\nTimeline:\n\n",
        );
        assert_eq!(m.headline, "🚨 INCIDENT DETECTED - P1");
        assert_eq!(
            m.blocks,
            vec![
                Block::Field {
                    label: "Service".into(),
                    value: "freightliner".into()
                },
                Block::Field {
                    label: "Status".into(),
                    value: "Investigating".into()
                },
                Block::Text(String::new()),
                Block::Field {
                    label: "Some words".into(),
                    value: "not a field because lowercase?".into()
                },
                Block::Text("next: lowercase label is text".into()),
                Block::Text("Timeline:".into()),
            ]
        );
    }

    #[test]
    fn plain_text_keeps_the_rendered_lines() {
        let text = "📊 INCIDENT UPDATE\nService: a\n\n03:05 alice: note";
        assert_eq!(Message::from_rendered(text).plain_text(), text);
    }

    #[test]
    fn a_notice_keeps_its_body_below_the_headline() {
        let m = Message::notice(
            "⚠️ Not possible now",
            "#3 is Resolved.\nAllowed now: /incident-note",
        );
        assert_eq!(
            m.plain_text(),
            "⚠️ Not possible now\n#3 is Resolved.\nAllowed now: /incident-note"
        );
    }
}
