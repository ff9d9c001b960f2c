//! Terminal rendering of replies: the message's text lines, buttons as the commands they run;
//! what would act on the terminal (escape sequences, bidi overrides) shown as escapes.

use crate::engine::{Audience, Reply};
use crate::incident::ChannelRef;
use crate::message::Message;
use crate::text;

/// A reply as terminal text, ending with a blank line. Messages posted to a channel other than
/// `here` are tagged with it; with `colour`, the headline is bold in the message's colour.
/// Characters that would act on the terminal are shown as escapes ([`text::escape_hidden`]).
pub fn render(reply: &Reply, here: &ChannelRef, colour: bool) -> String {
    let mut tag = String::new();
    if let Audience::Channel(channel) = &reply.audience
        && channel != here
    {
        tag = format!("[posted in #{}]\n", channel.id);
    }
    let message = &reply.message;
    let plain = message.plain_text();
    let (headline, body) = plain.split_once('\n').unwrap_or((&plain, ""));
    let mut rest = String::new();
    if !body.is_empty() {
        rest.push('\n');
        rest.push_str(body);
    }
    for button in &message.buttons {
        rest.push_str(&format!("\n  ▸ {}: {}", button.label, button.command));
    }
    for link in &message.links {
        rest.push_str(&format!("\n  ↗ {}: {}", link.label, link.url));
    }
    rest.push('\n');
    // The terminal cannot take a file: the document follows the message, framed.
    if let Some(file) = &message.attachment {
        rest.push_str(&format!("📎 {} ─────\n", file.name));
        rest.push_str(&file.content);
        if !file.content.ends_with('\n') {
            rest.push('\n');
        }
        rest.push_str(&format!("─────── end of {}\n", file.name));
    }
    let headline = paint(&text::escape_hidden(headline), message, colour);
    format!(
        "{}{headline}{}",
        text::escape_hidden(&tag),
        text::escape_hidden(&rest)
    )
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

    #[test]
    fn text_that_would_drive_the_terminal_is_shown_escaped_and_the_colour_is_ours() {
        let log = "panic: \u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mred \u{202e}txt.exe";
        let message = Message::from_rendered(&format!("🚨 INCIDENT \u{1b}[5m\nService: x\n{log}"))
            .with_colour("#F79009")
            .with_button(
                "Go \u{9b}",
                "/incident-note \u{1b}c".into(),
                ButtonStyle::Default,
            )
            .with_attachment("r\u{202e}.md".into(), "- \u{1b}[2J".into());
        let reply = Reply {
            audience: Audience::Channel(channel("o\u{1b}[2Jps")),
            message,
        };
        let shown = render(&reply, &channel("here"), true);
        assert_eq!(
            shown,
            "[posted in #o\\u{1b}[2Jps]\n\
             \u{1b}[1;38;2;247;144;9m🚨 INCIDENT \\u{1b}[5m\u{1b}[0m\n\
             Service: x\n\
             panic: \\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{1b}[31mred \\u{202e}txt.exe\n  \
             ▸ Go \\u{9b}: /incident-note \\u{1b}c\n\
             📎 r\\u{202e}.md ─────\n- \\u{1b}[2J\n─────── end of r\\u{202e}.md\n"
        );
    }
}
