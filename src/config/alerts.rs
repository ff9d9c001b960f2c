//! `[alerts]`: Prometheus Alertmanager and Grafana notifications that open incidents
//! (`POST /alerts/alertmanager`). `bot.toml.example` documents each key. Severity names and
//! channel ids are parsed by the alert rules (`alerts::Rules::from_settings`), which name the
//! key at fault; here only what serde and ranges can say.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{HOUR, SECOND, Secret, Settings, within};
use crate::interval::Interval;

/// The default `max_body`: 4 MiB, room for thousands of alerts in one notification.
pub const DEFAULT_MAX_BODY: u64 = 4 * 1024 * 1024;
/// The largest `max_body`: 8 MiB, the most the server holds of all bodies being read at once.
pub const MAX_MAX_BODY: u64 = 8 * 1024 * 1024;

/// `[alerts]`: how alert notifications are taken and turned into incidents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// The bearer token Alertmanager and Grafana send (`Authorization: Bearer …`); set it with
    /// `FIREWATCH__ALERTS__TOKEN`. Unset (and no `token_file`), the endpoint is off (404).
    pub token: Option<Secret>,
    /// A file holding the token (a Kubernetes Secret mount), instead of `token`.
    pub token_file: Option<PathBuf>,
    /// The largest notification body taken, in bytes (larger ones are answered 413); at most
    /// 8 MiB.
    pub max_body: u64,
    /// Where incidents from alerts are opened when their service has no `alerts_channel`: a
    /// Slack channel id (`C…`), a Discord channel id, or `console` / `console:NAME`.
    pub channel: Option<String>,
    /// An alert's `severity` label → the incident's severity; labels not listed (or no label)
    /// get `incidents.default_severity`.
    pub severity: BTreeMap<String, String>,
    /// The labels whose value names the service (`[[services]]` name), tried in order; then the
    /// `namespace` label against each service's namespace. In the environment, a
    /// comma-separated list.
    #[serde(deserialize_with = "super::string_list")]
    pub service_labels: Vec<String>,
    /// At most one "➕ N more alerts firing" message per incident this often.
    pub update_every: Interval,
    /// When every alert of an incident has resolved, move it to Monitoring (as the receiver)
    /// instead of only suggesting it. Resolving always needs a person.
    pub auto_monitor: bool,
    /// At most this many incidents are opened from alerts per minute; further alert groups
    /// join one "⛈️ alert storm" incident.
    pub max_new_incidents: u32,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            token: None,
            token_file: None,
            max_body: DEFAULT_MAX_BODY,
            channel: None,
            severity: [
                ("critical", "P0"),
                ("error", "P1"),
                ("warning", "P2"),
                ("info", "P3"),
            ]
            .into_iter()
            .map(|(label, severity)| (label.to_owned(), severity.to_owned()))
            .collect(),
            service_labels: ["service", "app", "job"].map(str::to_owned).to_vec(),
            update_every: Interval::from_secs(60),
            auto_monitor: false,
            max_new_incidents: 10,
        }
    }
}

impl AlertSettings {
    /// Whether the endpoint is on: a token is configured.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }
}

impl Settings {
    /// The ranges of `[alerts]`; label names that Prometheus allows.
    pub(super) fn check_alerts(&self) -> Result<(), (String, String)> {
        let alerts = &self.alerts;
        if !(1024..=MAX_MAX_BODY).contains(&alerts.max_body) {
            return Err((
                "alerts.max_body".into(),
                format!(
                    "{} bytes is out of range (1024 to {MAX_MAX_BODY}; the default is \
                     {DEFAULT_MAX_BODY})",
                    alerts.max_body
                ),
            ));
        }
        within("alerts.update_every", alerts.update_every, SECOND, HOUR)?;
        if !(1..=10_000).contains(&alerts.max_new_incidents) {
            return Err((
                "alerts.max_new_incidents".into(),
                "must be between 1 and 10000".into(),
            ));
        }
        if alerts.service_labels.is_empty() {
            return Err((
                "alerts.service_labels".into(),
                "name at least one label (the default is [\"service\", \"app\", \"job\"])".into(),
            ));
        }
        if let Some(bad) = alerts.service_labels.iter().find(|l| !is_label_name(l)) {
            return Err((
                "alerts.service_labels".into(),
                format!(
                    "'{bad}' is not a label name (letters, digits and '_', not starting with a digit)"
                ),
            ));
        }
        if alerts
            .token
            .as_ref()
            .is_some_and(|t| t.expose().trim().is_empty())
        {
            return Err((
                "alerts.token".into(),
                "is set but empty: unset it (the endpoint is then off) or give it its value".into(),
            ));
        }
        Ok(())
    }
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
