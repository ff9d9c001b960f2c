//! Discord rendering of a neutral [`Message`]: an embed coloured by severity (title = the emoji
//! headline, fields, description, footer with the incident id), buttons as components, and the
//! paged roles as mentions in the content — the only place mentions notify. `allowed_mentions`
//! names exactly those ids, so text typed by a user (`@everyone`) never pings anyone.
//!
//! Text from the message is Markdown-escaped ([`escape`]), as Slack's is escaped for mrkdwn, so
//! a `[link](https://evil.example)` in a log or a note never becomes a masked link, a spoiler
//! never hides a word and `<@id>` never shows as a mention; hidden characters (terminal escapes,
//! bidi overrides: [`text::is_hidden`]) are left out.

use serde_json::{Value, json};

use super::interaction::BUTTON_PREFIX;
use crate::approval::Roles;
use crate::message::{Block, ButtonStyle, Message, shorten};
use crate::text;

const TITLE: usize = 256;
const DESCRIPTION: usize = 4_096;
const FIELD_NAME: usize = 256;
const FIELD_VALUE: usize = 1_024;
const FIELDS: usize = 25;
const CUSTOM_ID: usize = 100;
/// Discord's limit for a link button's URL.
const LINK_URL: usize = 512;

/// The message as a Discord message body (`content`, `embeds`, `components`,
/// `allowed_mentions`).
pub fn render(message: &Message, roles: &Roles) -> Value {
    let mut fields = Vec::new();
    let mut description = String::new();
    for block in &message.blocks {
        match block {
            Block::Field { label, value } if fields.len() < FIELDS => fields.push(json!({
                "name": shorten(&escape(label), FIELD_NAME),
                "value": shorten(&escape(value), FIELD_VALUE),
                "inline": true,
            })),
            Block::Field { label, value } => push_line(
                &mut description,
                &format!("{}: {}", escape(label), escape(value)),
            ),
            Block::Text(line) => push_line(&mut description, &escape(line)),
        }
    }
    let mut embed = json!({
        "title": shorten(&escape(&message.headline), TITLE),
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
            escape(role)
        } else {
            format!("{} ({})", escape(role), ids.join(" "))
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
                "label": shorten(&text::strip_hidden(&b.label), 80),
                "custom_id": format!("{BUTTON_PREFIX}{}", b.command),
            })
        })
        .collect();
    // Link buttons (style 5) open their URL and send firewatch nothing.
    let links: Vec<Value> = message
        .links
        .iter()
        .filter(|l| l.url.len() <= LINK_URL)
        .take(5)
        .map(|l| json!({"type": 2, "style": 5, "label": shorten(&l.label, 80), "url": l.url}))
        .collect();
    let rows: Vec<Value> = [buttons, links]
        .into_iter()
        .filter(|row| !row.is_empty())
        .map(|row| json!({"type": 1, "components": row}))
        .collect();
    if !rows.is_empty() {
        body["components"] = json!(rows);
    }
    body
}

fn push_line(out: &mut String, line: &str) {
    out.push_str(line);
    out.push('\n');
}

/// Characters Discord's Markdown gives meaning to anywhere in a line: escapes, emphasis,
/// strike-through, code, spoilers, masked links, mentions and timestamps (`<…>`), quotes.
const MARKUP: &[char] = &['\\', '*', '_', '~', '`', '|', '[', ']', '<', '>'];
/// Characters that start a heading, subtext or list item when a line begins with them and a
/// space follows (`# `, `-# `, `- `).
const LINE_MARKUP: &[char] = &['#', '-', '+'];

/// `text` as Discord shows it literally: each Markdown character escaped with a backslash
/// (which Discord does not show) and hidden characters left out. A web address (from
/// `http://` or `https://` to the next space) is kept as it is, so Discord still links it: it
/// shows its own address, so it hides nothing, and a backslash inside would break it.
pub fn escape(text: &str) -> String {
    let text = text::strip_hidden(text);
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split_inclusive('\n') {
        let start = line.len() - line.trim_start_matches([' ', '\t']).len();
        out.push_str(&line[..start]);
        let mut rest = &line[start..];
        let after_marker = rest.trim_start_matches(LINE_MARKUP);
        if after_marker.len() < rest.len() && after_marker.starts_with([' ', '\t']) {
            out.push('\\');
        }
        while !rest.is_empty() {
            let (plain, address) = rest.split_at(web_address_at(rest).unwrap_or(rest.len()));
            for c in plain.chars() {
                if MARKUP.contains(&c) {
                    out.push('\\');
                }
                out.push(c);
            }
            let end = address
                .find(|c: char| c.is_whitespace() || c == '<')
                .unwrap_or(address.len());
            out.push_str(&address[..end]);
            rest = &address[end..];
        }
    }
    out
}

/// Where the first web address in `text` starts: `http://` or `https://` at the start of a word.
fn web_address_at(text: &str) -> Option<usize> {
    text.match_indices("http").map(|(i, _)| i).find(|&i| {
        let from = &text[i..];
        (from.starts_with("http://") || from.starts_with("https://"))
            && !text[..i].ends_with(char::is_alphanumeric)
    })
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

    #[test]
    fn links_are_link_buttons_in_a_row_of_their_own() {
        let message = Message::notice("🚨 INCIDENT DETECTED - P0", "")
            .with_button(
                "Acknowledge",
                "/incident-ack #1".into(),
                ButtonStyle::Primary,
            )
            .with_link("Silence", "https://grafana.example.org/silence/new".into())
            .with_link("Too long", format!("https://x.example/{}", "a".repeat(600)));
        let body = render(&message, &Roles::new());
        let rows = body["components"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0]["components"][0]["custom_id"],
            "firewatch:/incident-ack #1"
        );
        let links = rows[1]["components"].as_array().unwrap();
        assert_eq!(links.len(), 1, "a URL over Discord's limit is left out");
        assert_eq!(links[0]["style"], 5);
        assert_eq!(links[0]["url"], "https://grafana.example.org/silence/new");
        assert!(
            links[0].get("custom_id").is_none(),
            "a link sends firewatch nothing"
        );
    }

    #[test]
    fn hidden_characters_are_left_out_of_every_part() {
        let body = render(&crate::text::samples::message(), &Roles::new());
        assert_eq!(crate::text::samples::hidden_in(&body), Vec::<String>::new());
        let embed = &body["embeds"][0];
        assert_eq!(embed["title"], "🚨 INCIDENT DETECTED");
        assert_eq!(embed["fields"][0]["value"], "freightliner");
        assert_eq!(embed["description"], "panic: exe.txt");
        assert_eq!(body["components"][0]["components"][0]["label"], "Ack");
    }

    #[test]
    fn markdown_from_outside_is_shown_as_typed() {
        let cases = [
            (
                "see [the runbook](https://evil.example/login)",
                "see \\[the runbook\\](https://evil.example/login)",
            ),
            (
                "||hidden|| **bold** __under__ ~~gone~~ `code` <@123> <t:1:R> a\\b",
                "\\|\\|hidden\\|\\| \\*\\*bold\\*\\* \\_\\_under\\_\\_ \\~\\~gone\\~\\~ \\`code\\` \\<@123\\> \\<t:1:R\\> a\\\\b",
            ),
            (
                "# Heading\n  - item\n> quote\n-# small\n+ plus",
                "\\# Heading\n  \\- item\n\\> quote\n\\-# small\n\\+ plus",
            ),
            // Addresses stay linkable; what surrounds them is escaped.
            (
                "query (https://prom.example/graph?g0.expr=http_requests_total*2) and_more",
                "query (https://prom.example/graph?g0.expr=http_requests_total*2) and\\_more",
            ),
            (
                "[x](https://evil.example) xhttps://a_b",
                "\\[x\\](https://evil.example) xhttps://a\\_b",
            ),
            (
                "INCIDENT #1 - P1 at 03:00, 2026-11-29\n#1\n-1 replicas\n--sev P3",
                "INCIDENT #1 - P1 at 03:00, 2026-11-29\n#1\n-1 replicas\n--sev P3",
            ),
        ];
        for (typed, escaped) in cases {
            assert_eq!(escape(typed), escaped, "{typed}");
        }
    }
}
