//! Alerts in words: the line each alert gets in a message, on the timeline and in
//! `/incident-status`, the labels worth showing, and the links (silence, dashboard, source) a
//! message offers. Text only.

use chrono::{DateTime, Utc};

use super::group::Member;
use super::payload::{Alert, Notification, Source};
use crate::message::shorten;

/// Labels never shown beside an alert: its name and severity are said otherwise.
const UNSHOWN: [&str; 2] = ["alertname", "severity"];
/// At most this many labels are shown per alert.
const SHOWN_LABELS: usize = 4;
/// At most this many alerts are listed in one message; the rest are counted.
pub const LISTED: usize = 20;

/// The labels that tell an alert from its group's others: `instance=web-1, pod=api-7`.
pub fn labels_that_matter(alert: &Alert) -> String {
    alert
        .labels
        .iter()
        .filter(|(k, _)| !UNSHOWN.contains(&k.as_str()) && !k.starts_with("__"))
        .take(SHOWN_LABELS)
        .map(|(k, v)| format!("{k}={}", shorten(v, 60)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `03:05 UTC`.
fn clock(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// An alert as the timeline keeps it: `ProbeFailure (instance=web-1) since 03:00 UTC`.
pub fn timeline_line(alert: &Alert) -> String {
    let labels = labels_that_matter(alert);
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!(" ({labels})")
    };
    format!(
        "{}{labels} since {}",
        shorten(alert.name(), 80),
        clock(alert.starts_at)
    )
}

/// A member as a message lists it: `🔥 ProbeFailure — the summary · instance=web-1 · since
/// 03:00 UTC`, with `🔁` when it fired again and `✅ … resolved 03:40 UTC` once it ended.
pub fn line(member: &Member) -> String {
    let alert = &member.alert;
    let mark = match (alert.firing(), member.firings > 1) {
        (true, false) => "🔥",
        (true, true) => "🔁",
        (false, _) => "✅",
    };
    let mut text = format!("{mark} {}", shorten(alert.name(), 80));
    if alert.summary != alert.name() {
        text.push_str(&format!(" — {}", shorten(&alert.summary, 200)));
    }
    let labels = labels_that_matter(alert);
    if !labels.is_empty() {
        text.push_str(&format!(" · {labels}"));
    }
    if let Some(severity) = alert.severity_label() {
        text.push_str(&format!(" · {}", shorten(severity, 20)));
    }
    match alert.ends_at {
        Some(end) if !alert.firing() => {
            text.push_str(&format!(" · {} – {}", clock(alert.starts_at), clock(end)))
        }
        _ if member.firings > 1 => {
            text.push_str(&format!(" · fired again {}", clock(alert.starts_at)))
        }
        _ => text.push_str(&format!(" · since {}", clock(alert.starts_at))),
    }
    if !alert.values.is_empty() {
        text.push_str(&format!(" · {}", shorten(&alert.values.join(", "), 100)));
    }
    text
}

/// Alerts a message shows: the first [`LISTED`] of them, and how many there are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// The first of them, in the order they are listed.
    pub first: Vec<Member>,
    /// How many there are.
    pub count: usize,
    /// How many of them fire again.
    pub again: usize,
}

impl Shown {
    /// All of `members`, listed.
    pub fn all(members: Vec<Member>) -> Self {
        let count = members.len();
        let again = members.iter().filter(|m| m.firings > 1).count();
        let first = members.into_iter().take(LISTED).collect();
        Self {
            first,
            count,
            again,
        }
    }

    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Their lines: the first [`LISTED`], then how many more.
    pub fn lines(&self) -> Vec<String> {
        listed(self.first.iter().map(line), self.count)
    }
}

/// `lines` as a message or the timeline lists them: the first [`LISTED`], then how many more of
/// all `count` there are.
pub fn listed(lines: impl IntoIterator<Item = String>, count: usize) -> Vec<String> {
    let mut listed: Vec<String> = lines.into_iter().take(LISTED).collect();
    if count > listed.len() {
        listed.push(format!("… and {} more", count - listed.len()));
    }
    listed
}

/// The links a message about `n`'s alerts offers: where to silence them (Grafana's
/// `silenceURL`, else Alertmanager's silence form for the group), the dashboard and panel
/// Grafana sent, and the rule's source. Silencing stays the sender's job.
pub fn links(n: &Notification) -> Vec<(&'static str, String)> {
    let first =
        |pick: fn(&Alert) -> Option<&String>| n.alerts.iter().find_map(|a| pick(a).cloned());
    let mut links = Vec::new();
    let silence =
        first(|a| a.links.silence.as_ref()).or_else(|| match (n.source, &n.external_url) {
            (Source::Alertmanager, Some(url)) => Some(silence_form(url, n)),
            _ => None,
        });
    if let Some(url) = silence {
        links.push(("Silence", url));
    }
    if let Some(url) = first(|a| a.links.dashboard.as_ref()) {
        links.push(("Dashboard", url));
    }
    if let Some(url) = first(|a| a.links.panel.as_ref()) {
        links.push(("Panel", url));
    }
    if let Some(url) = first(|a| a.links.source.as_ref()) {
        links.push(("Source", url));
    }
    links
}

/// Alertmanager's form for a new silence, filled with the group's labels:
/// `{externalURL}/#/silences/new?filter={alertname="X",service="y"}`.
fn silence_form(external: &str, n: &Notification) -> String {
    let labels = if n.group_labels.is_empty() {
        &n.common_labels
    } else {
        &n.group_labels
    };
    let matchers: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    let filter = format!("{{{}}}", matchers.join(","));
    let encoded: String = serde_urlencoded::to_string([("filter", filter)]).unwrap_or_default();
    format!(
        "{}/#/silences/new?{encoded}",
        external.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::payload::{self, tests};

    fn member(alert: Alert, firings: u32) -> Member {
        Member {
            group: "g".into(),
            alert,
            firings,
            announced: false,
        }
    }

    #[test]
    fn an_alert_line_has_its_name_summary_labels_that_matter_and_times() {
        let n = payload::read(tests::ALERTMANAGER.as_bytes()).unwrap();
        let alert = n.alerts[0].clone();
        assert_eq!(
            line(&member(alert.clone(), 1)),
            "🔥 ProbeFailure — BlackBox Probe Failure: https://server.example.org · \
             instance=https://server.example.org, job=http_checks, monitor=master · critical · \
             since 13:08 UTC"
        );
        assert!(line(&member(alert.clone(), 2)).starts_with("🔁 ProbeFailure"));
        assert_eq!(
            timeline_line(&alert),
            "ProbeFailure (instance=https://server.example.org, job=http_checks, monitor=master) \
             since 13:08 UTC"
        );
        let many: Vec<Member> = (0..25).map(|_| member(alert.clone(), 1)).collect();
        let listed = Shown::all(many).lines();
        assert_eq!(listed.len(), LISTED + 1);
        assert_eq!(listed.last().unwrap(), "… and 5 more");
    }

    #[test]
    fn links_are_grafanas_own_or_alertmanagers_silence_form() {
        let grafana = payload::read(tests::GRAFANA.as_bytes()).unwrap();
        let names: Vec<&str> = links(&grafana).iter().map(|(l, _)| *l).collect();
        assert_eq!(
            names,
            ["Silence", "Source"],
            "empty dashboard URLs are no links"
        );
        let am = payload::read(tests::ALERTMANAGER.as_bytes()).unwrap();
        let (label, url) = &links(&am)[0];
        assert_eq!(*label, "Silence");
        assert_eq!(
            url,
            "http://prometheus.example.org:9093/#/silences/new?filter=%7Balertname%3D%22ProbeFailure%22%7D"
        );
    }
}
