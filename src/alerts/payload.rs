//! The webhook body Alertmanager (`version: "4"`) and Grafana alerting's webhook contact point
//! (the same shape, `version: "1"`, plus `orgId`, `title`, `message` and per-alert
//! `silenceURL`, `dashboardURL`, `panelURL`, `values`) send, read once at the edge into a
//! [`Notification`]: times parsed, the zero `endsAt` of a firing alert as `None`, links kept only
//! when they are `http(s)` URLs. A body that is not one of the two is refused with the reason.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::message::shorten;

/// The inbox key prefix of alert notifications.
pub const KEY_PREFIX: &str = "alerts:";
/// Group keys firewatch keeps for itself (the storm incident's group).
pub const RESERVED_GROUP_PREFIX: &str = "firewatch/";
/// The longest label value, annotation or link kept (Alertmanager allows any length).
const LONGEST_TEXT: usize = 1_000;

/// Who sent a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Prometheus Alertmanager's `webhook_config`.
    Alertmanager,
    /// Grafana alerting's webhook contact point.
    Grafana,
}

impl Source {
    /// `alertmanager` or `grafana`, as the reporter's name starts.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Alertmanager => "alertmanager",
            Source::Grafana => "grafana",
        }
    }
}

/// Whether an alert (or a group) fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    /// Firing.
    Firing,
    /// Resolved.
    Resolved,
}

impl AlertStatus {
    /// `firing` or `resolved`, as the store keeps it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// Where to look at an alert, as its sender linked it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The rule's expression in Prometheus (or the rule in Grafana).
    pub source: Option<String>,
    /// A new silence for the alert (Grafana).
    pub silence: Option<String>,
    /// The dashboard (Grafana).
    pub dashboard: Option<String>,
    /// The panel (Grafana).
    pub panel: Option<String>,
}

/// One alert of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Alertmanager's identity of the alert (its label set's hash).
    pub fingerprint: String,
    /// Firing or resolved.
    pub status: AlertStatus,
    /// Its labels (`alertname`, `severity`, `service`, …).
    pub labels: BTreeMap<String, String>,
    /// What it says: the `summary` annotation, else `description`, else its name.
    pub summary: String,
    /// When it started firing.
    pub starts_at: DateTime<Utc>,
    /// When it resolved; `None` while firing.
    pub ends_at: Option<DateTime<Utc>>,
    /// Where to look at it.
    pub links: Links,
    /// The query values that fired it (Grafana), `B=44.2`.
    pub values: Vec<String>,
}

impl Alert {
    /// The `alertname` label, or `alert` when it has none.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("alert", String::as_str)
    }

    /// The `severity` label, if any.
    pub fn severity_label(&self) -> Option<&str> {
        self.labels.get("severity").map(String::as_str)
    }

    /// Whether it fires.
    pub fn firing(&self) -> bool {
        self.status == AlertStatus::Firing
    }
}

/// One notification: an alert group as its sender sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Alertmanager or Grafana.
    pub source: Source,
    /// The receiver (route) that sent it.
    pub receiver: String,
    /// Firing when any of its alerts fires.
    pub status: AlertStatus,
    /// The group's identity: one incident per group while that incident is active.
    pub group_key: String,
    /// The labels the group is grouped by.
    pub group_labels: BTreeMap<String, String>,
    /// Labels every alert of the group has.
    pub common_labels: BTreeMap<String, String>,
    /// Annotations every alert of the group has.
    pub common_annotations: BTreeMap<String, String>,
    /// The sender's own URL (its UI, where silences are made).
    pub external_url: Option<String>,
    /// Alerts the sender left out (`max_alerts`).
    pub truncated: u64,
    /// The alerts.
    pub alerts: Vec<Alert>,
}

impl Notification {
    /// The inbox key: the same for the same group in the same alert states (an HA pair's
    /// duplicate, a retry), different as soon as one alert changes.
    pub fn key(&self) -> String {
        let mut states: Vec<String> = self
            .alerts
            .iter()
            .map(|a| {
                format!(
                    "{}\0{}\0{}\0{}",
                    a.fingerprint,
                    a.status.as_str(),
                    a.starts_at.timestamp_millis(),
                    a.ends_at.map_or(0, |t| t.timestamp_millis())
                )
            })
            .collect();
        states.sort();
        let mut hash = Sha256::new();
        hash.update(self.receiver.as_bytes());
        hash.update([0]);
        hash.update(self.group_key.as_bytes());
        for state in states {
            hash.update([0]);
            hash.update(state.as_bytes());
        }
        format!("{KEY_PREFIX}{}", hex::encode(&hash.finalize()[..16]))
    }

    /// The reporter's name: `alertmanager/<receiver>`.
    pub fn reporter(&self) -> String {
        format!("{}/{}", self.source.as_str(), self.receiver)
    }

    /// When an incident about it was detected: the earliest start among its firing alerts, when
    /// the problem began, but never after `now` (a clock ahead of ours), and `now` when none
    /// fires.
    pub fn detected(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.firing()
            .map(|a| a.starts_at)
            .min()
            .unwrap_or(now)
            .min(now)
    }

    /// Its firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.iter().filter(|a| a.firing())
    }
}

/// Why a body was refused (answered 400 with this text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Reads a webhook body.
///
/// # Errors
/// [`Invalid`] naming what is wrong: not JSON, a missing or mistyped field (with its path), a
/// version neither sender uses, an unknown status, an empty group key or alert list.
pub fn read(body: &[u8]) -> Result<Notification, Invalid> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let wire: Wire = serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." || path == "?" {
            Invalid(format!("not an alert notification: {inner}"))
        } else {
            Invalid(format!("{path}: {inner}"))
        }
    })?;
    let source = match (wire.version.as_str(), wire.org_id.is_some()) {
        ("4", _) => Source::Alertmanager,
        ("1", true) => Source::Grafana,
        (version, _) => {
            return Err(Invalid(format!(
                "version \"{version}\" is not supported: Alertmanager sends \"4\", Grafana \"1\" \
                 with orgId"
            )));
        }
    };
    if wire.group_key.trim().is_empty() {
        return Err(Invalid("groupKey is empty".into()));
    }
    if wire.group_key.starts_with(RESERVED_GROUP_PREFIX) {
        return Err(Invalid(format!(
            "groupKey may not start with \"{RESERVED_GROUP_PREFIX}\""
        )));
    }
    if wire.alerts.is_empty() {
        return Err(Invalid("alerts is empty".into()));
    }
    let alerts = wire
        .alerts
        .into_iter()
        .enumerate()
        .map(|(i, a)| alert(a).map_err(|why| Invalid(format!("alerts[{i}].{why}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Notification {
        source,
        receiver: bounded(&wire.receiver),
        status: status("status", &wire.status)?,
        group_key: wire.group_key,
        group_labels: texts(wire.group_labels),
        common_labels: texts(wire.common_labels),
        common_annotations: texts(wire.common_annotations),
        external_url: link(wire.external_url),
        truncated: wire.truncated_alerts,
        alerts,
    })
}

/// The body as sent; unknown fields (Grafana's `state`, `title`, `message`, …) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    version: String,
    #[serde(default)]
    receiver: String,
    status: String,
    group_key: String,
    alerts: Vec<WireAlert>,
    #[serde(default)]
    group_labels: BTreeMap<String, String>,
    #[serde(default)]
    common_labels: BTreeMap<String, String>,
    #[serde(default)]
    common_annotations: BTreeMap<String, String>,
    #[serde(default, rename = "externalURL")]
    external_url: Option<String>,
    #[serde(default)]
    truncated_alerts: u64,
    #[serde(default)]
    org_id: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireAlert {
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: DateTime<Utc>,
    #[serde(default)]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "generatorURL")]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default, rename = "silenceURL")]
    silence_url: Option<String>,
    #[serde(default, rename = "dashboardURL")]
    dashboard_url: Option<String>,
    #[serde(default, rename = "panelURL")]
    panel_url: Option<String>,
    #[serde(default)]
    values: Option<BTreeMap<String, serde_json::Value>>,
}

fn alert(a: WireAlert) -> Result<Alert, String> {
    let status = status("status", &a.status).map_err(|e| e.0)?;
    let labels = texts(a.labels);
    let fingerprint = match a.fingerprint.as_deref().map(str::trim) {
        Some(f) if !f.is_empty() => bounded(f),
        // Older senders leave it out: the label set identifies the alert, as it does for them.
        _ => {
            let mut hash = Sha256::new();
            for (name, value) in &labels {
                hash.update(name.as_bytes());
                hash.update([0]);
                hash.update(value.as_bytes());
                hash.update([0]);
            }
            hex::encode(&hash.finalize()[..8])
        }
    };
    let annotations = texts(a.annotations);
    let summary = annotations
        .get("summary")
        .or_else(|| annotations.get("description"))
        .or_else(|| labels.get("alertname"))
        .cloned()
        .unwrap_or_else(|| "alert".into());
    // Alertmanager writes the zero time for an alert that has not ended.
    let ends_at = a.ends_at.filter(|t| t.year() > 1);
    if status == AlertStatus::Resolved && ends_at.is_none() {
        return Err("endsAt: a resolved alert needs its end time".into());
    }
    let values = a
        .values
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| match value {
            serde_json::Value::Number(n) => format!("{name}={n}"),
            other => format!("{name}={other}"),
        })
        .collect();
    Ok(Alert {
        fingerprint,
        status,
        labels,
        summary,
        starts_at: a.starts_at,
        ends_at,
        links: Links {
            source: link(a.generator_url),
            silence: link(a.silence_url),
            dashboard: link(a.dashboard_url),
            panel: link(a.panel_url),
        },
        values,
    })
}

fn status(key: &str, text: &str) -> Result<AlertStatus, Invalid> {
    match text {
        "firing" => Ok(AlertStatus::Firing),
        "resolved" => Ok(AlertStatus::Resolved),
        other => Err(Invalid(format!(
            "{key}: \"{other}\" is not a status (firing or resolved)"
        ))),
    }
}

/// Labels or annotations, each value cut to a length a message can show.
fn texts(map: BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| (bounded(&k), bounded(&v)))
        .collect()
}

fn bounded(text: &str) -> String {
    shorten(text, LONGEST_TEXT)
}

/// A link worth showing: an `http(s)` URL without spaces or characters that hide or reorder
/// text (an empty one, another scheme, or one with those, is dropped).
fn link(url: Option<String>) -> Option<String> {
    let url = url?.trim().to_owned();
    let lower = url.to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    let plain = !url
        .chars()
        .any(|c| c.is_whitespace() || crate::text::is_hidden(c));
    (web && url.len() <= 2_000 && plain).then_some(url)
}

#[cfg(test)]
pub(crate) mod tests;
