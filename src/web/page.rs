//! The pages' frame and shared pieces: the layout every page has, the stylesheet (with the
//! configured severity colours and a text colour chosen for contrast), times and durations as
//! people read them, and the Markdown renderer for reports (raw HTML shown as text, links only
//! to web and mail addresses).

use chrono::{DateTime, TimeDelta, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::config::{LevelSettings, SeverityTable};
use crate::incident::Severity;

/// Which part of the site a page belongs to (its navigation link is marked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `/`
    Active,
    /// `/incidents`
    History,
    /// `/insights`
    Insights,
    /// `/status`
    Status,
}

/// A whole internal page: navigation, `title` as its heading, then `body`.
pub fn internal(title: &str, section: Section, user: &str, body: Markup) -> Markup {
    let link = |href: &str, text: &str, this: Section| {
        html! {
            @if section == this {
                a href=(href) aria-current="page" { (text) }
            } @else {
                a href=(href) { (text) }
            }
        }
    };
    document(
        title,
        html! {
            header {
                nav aria-label="firewatch" {
                    strong { "firewatch" }
                    (link("/", "Active", Section::Active))
                    (link("/incidents", "History", Section::History))
                    (link("/insights", "Insights", Section::Insights))
                    (link("/status", "Status page", Section::Status))
                    span.user { "signed in as " (user) }
                }
            }
            main {
                h1 { (title) }
                (body)
            }
        },
    )
}

/// A page with no navigation (the public status page).
pub fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/static/style.css";
            }
            body { (body) }
        }
    }
}

/// The settings of `severity`.
pub fn level(table: &SeverityTable, severity: Severity) -> &LevelSettings {
    match severity {
        Severity::P0 => &table.p0,
        Severity::P1 => &table.p1,
        Severity::P2 => &table.p2,
        Severity::P3 => &table.p3,
    }
}

/// A severity badge in its configured colour.
pub fn severity_badge(table: &SeverityTable, severity: Severity) -> Markup {
    html! {
        span class=(format!("sev sev-{severity}")) title=(level(table, severity).label) { (severity) }
    }
}

/// The stylesheet: the fixed rules, then one rule per severity in its configured colour, with
/// black or white text, whichever contrasts more (WCAG AA needs 4.5:1; one of the two always
/// reaches it).
pub fn stylesheet(table: &SeverityTable) -> String {
    let mut css = String::from(STYLE);
    for severity in Severity::ALL {
        let colour = level(table, severity).colour.as_str();
        let colour = rgb(colour).map_or("#6b7280", |_| colour);
        let text = text_colour(colour);
        css.push_str(&format!(
            ".sev-{severity} {{ background: {colour}; color: {text}; }}\n"
        ));
    }
    css
}

/// `#RRGGBB` as its three channels.
fn rgb(colour: &str) -> Option<[u8; 3]> {
    let hex = colour.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// WCAG relative luminance of `#RRGGBB`.
fn luminance(colour: &str) -> f64 {
    let Some(channels) = rgb(colour) else {
        return 0.0;
    };
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * linear(channels[0]) + 0.7152 * linear(channels[1]) + 0.0722 * linear(channels[2])
}

/// WCAG contrast ratio of two colours.
pub fn contrast(a: &str, b: &str) -> f64 {
    let (a, b) = (luminance(a), luminance(b));
    (a.max(b) + 0.05) / (a.min(b) + 0.05)
}

/// Black or white, whichever reads better on `background`.
pub fn text_colour(background: &str) -> &'static str {
    if contrast(background, "#000000") >= contrast(background, "#ffffff") {
        "#000000"
    } else {
        "#ffffff"
    }
}

/// `2026-12-04 09:30 UTC`.
pub fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `3d 4h`, `2h 05m`, `7m`.
pub fn span(delta: TimeDelta) -> String {
    let minutes = delta.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins}m"),
        (0, h) => format!("{h}h {mins:02}m"),
        (d, h) => format!("{d}d {h}h"),
    }
}

/// A report's Markdown as HTML. Raw HTML in it is shown as text, images become links, and a
/// link keeps its target only when it is a web or mail address or stays on this site.
pub fn markdown(text: &str) -> Markup {
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    let events = parser.map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            dest_url,
            title,
            id,
            ..
        }) => Event::Start(Tag::Link {
            link_type: LinkType::Inline,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, events);
    PreEscaped(out)
}

/// `url` when it is `http(s):`, `mailto:`, a fragment or a path on this site; else `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let relative = (lower.starts_with('/') && !lower.starts_with("//")) || lower.starts_with('#');
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    if relative || allowed {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

/// The fixed part of the stylesheet: readable on a phone, AA contrast throughout.
const STYLE: &str = include_str!("style.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_in_a_report_is_shown_as_text() {
        let html =
            markdown("# Report\n\n<script>alert(1)</script>\n\nx <img src=x onerror=alert(1)>")
                .into_string();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn links_keep_only_safe_targets() {
        let html = markdown("[a](javascript:alert(1)) [b](https://example.com/x) ![c](data:x)")
            .into_string();
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://example.com/x\""), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn badge_text_meets_aa_contrast_on_every_runbook_colour() {
        let table = SeverityTable::default();
        for severity in Severity::ALL {
            let colour = &level(&table, severity).colour;
            let ratio = contrast(colour, text_colour(colour));
            assert!(ratio >= 4.5, "{severity} {colour}: {ratio:.2}");
        }
    }

    #[test]
    fn spans_read_as_people_write_them() {
        assert_eq!(span(TimeDelta::minutes(7)), "7m");
        assert_eq!(span(TimeDelta::minutes(125)), "2h 05m");
        assert_eq!(span(TimeDelta::minutes(3 * 1440 + 250)), "3d 4h");
    }
}
