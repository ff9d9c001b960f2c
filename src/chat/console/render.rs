//! Terminal rendering of replies: the message's text lines, buttons as the commands they run.

use crate::engine::{Audience, Reply};
use crate::incident::ChannelRef;
use crate::message::Message;

/// A reply as terminal text, ending with a blank line. Messages posted to a channel other than
/// `here` are tagged with it; with `colour`, the headline is bold in the message's colour.
pub fn render(reply: &Reply, here: &ChannelRef, colour: bool) -> String {
    let mut out = String::new();
    if let Audience::Channel(channel) = &reply.audience
        && channel != here
    {
        out.push_str(&format!("[posted in #{}]\n", channel.id));
    }
    let message = &reply.message;
    let text = message.plain_text();
    let (headline, body) = text.split_once('\n').unwrap_or((&text, ""));
    out.push_str(&paint(headline, message, colour));
    if !body.is_empty() {
        out.push('\n');
        out.push_str(body);
    }
    for button in &message.buttons {
        out.push_str(&format!("\n  ▸ {}: {}", button.label, button.command));
    }
    out.push('\n');
    // The terminal cannot take a file: the document follows the message, framed.
    if let Some(file) = &message.attachment {
        out.push_str(&format!("📎 {} ─────\n", file.name));
        out.push_str(&file.content);
        if !file.content.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!("─────── end of {}\n", file.name));
    }
    out
}

fn paint(headline: &str, message: &Message, colour: bool) -> String {
    let rgb = message
        .colour
        .as_deref()
        .and_then(|c| c.strip_prefix('#'))
        .filter(|hex| hex.len() == 6)
        .and_then(|hex| {
            let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
            Some((byte(0)?, byte(2)?, byte(4)?))
        });
    match (colour, rgb) {
        (true, Some((r, g, b))) => format!("\x1b[1;38;2;{r};{g};{b}m{headline}\x1b[0m"),
        (true, None) => format!("\x1b[1m{headline}\x1b[0m"),
        (false, _) => headline.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Platform;
    use crate::message::ButtonStyle;

    fn channel(id: &str) -> ChannelRef {
        ChannelRef {
            platform: Platform::Console,
            id: id.into(),
        }
    }

    #[test]
    fn a_channel_message_renders_its_lines_and_buttons() {
        let message = Message::from_rendered("🚨 INCIDENT DETECTED - P1\nService: freightliner")
            .with_colour("#F79009")
            .with_button(
                "Acknowledge",
                "/incident-ack #1".into(),
                ButtonStyle::Primary,
            );
        let reply = Reply {
            audience: Audience::Channel(channel("ops")),
            message,
        };
        assert_eq!(
            render(&reply, &channel("ops"), false),
            "🚨 INCIDENT DETECTED - P1\nService: freightliner\n  ▸ Acknowledge: /incident-ack #1\n"
        );
        assert!(render(&reply, &channel("other"), false).starts_with("[posted in #ops]\n"));
        assert!(render(&reply, &channel("ops"), true).starts_with("\x1b[1;38;2;247;144;9m🚨"));
    }
}
