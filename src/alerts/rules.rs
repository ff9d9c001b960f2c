//! What an alert group's incident is opened with, from `[alerts]` and `[[services]]`: its
//! severity (the `severity` label through `[alerts.severity]`), its service (labels matched
//! against the catalog), its description, its channel and its reporter. Built once from the
//! settings ([`Rules::from_settings`], which names the key at fault); pure after that.

use std::collections::BTreeMap;

use chrono::TimeDelta;

use super::payload::{Alert, Notification};
use crate::config::Settings;
use crate::incident::severity::{Classification, Reason};
use crate::incident::{Actor, ChannelRef, Platform, Severity};

/// A key of the settings and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct Invalid {
    /// The key, like `alerts.severity.page`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// A service alerts can be about.
#[derive(Debug, Clone)]
struct Service {
    name: String,
    namespace: String,
    channel: Option<ChannelRef>,
}

/// The alert rules of the settings.
#[derive(Debug, Clone)]
pub struct Rules {
    severity: BTreeMap<String, Severity>,
    default_severity: Severity,
    service_labels: Vec<String>,
    services: Vec<Service>,
    default_service: String,
    channel: Option<ChannelRef>,
    /// At most one "➕ N more alerts firing" per incident this often.
    pub update_every: TimeDelta,
    /// Move an incident whose alerts all resolved to Monitoring.
    pub auto_monitor: bool,
    /// Incidents opened from alerts per minute before a storm incident takes the rest.
    pub max_new_incidents: u32,
    /// Whether `POST /alerts/alertmanager` is on.
    pub enabled: bool,
}

impl Rules {
    /// The rules of `settings` (checked by [`Settings::load`] already for ranges).
    ///
    /// # Errors
    /// [`Invalid`] for a severity that is not `P0`…`P3`, a channel that is no channel id, or
    /// alerts turned on (a token set) with nowhere to open their incidents.
    pub fn from_settings(settings: &Settings) -> Result<Self, Invalid> {
        let alerts = &settings.alerts;
        let invalid = |key: String, message: String| Invalid { key, message };
        let mut severity = BTreeMap::new();
        for (label, level) in &alerts.severity {
            let level = Severity::parse(level)
                .map_err(|m| invalid(format!("alerts.severity.{label}"), m))?;
            severity.insert(label.to_lowercase(), level);
        }
        let default_severity = Severity::parse(&settings.incidents.default_severity)
            .map_err(|m| invalid("incidents.default_severity".into(), m))?;
        let channel = alerts
            .channel
            .as_deref()
            .map(|c| parse_channel(c).map_err(|m| invalid("alerts.channel".into(), m)))
            .transpose()?;
        let mut services = Vec::new();
        for (i, s) in settings.services.iter().enumerate() {
            let channel = s
                .alerts_channel
                .as_deref()
                .map(|c| {
                    parse_channel(c)
                        .map_err(|m| invalid(format!("services[{i}].alerts_channel"), m))
                })
                .transpose()?;
            services.push(Service {
                name: s.name.clone(),
                namespace: s.namespace.clone(),
                channel,
            });
        }
        let enabled = alerts.enabled();
        if enabled && channel.is_none() && services.iter().any(|s| s.channel.is_none()) {
            return Err(invalid(
                "alerts.channel".into(),
                "alerts are on (alerts.token is set) but have no channel: set alerts.channel to \
                 a Slack or Discord channel id (or console), or alerts_channel on every service"
                    .into(),
            ));
        }
        let default_service = settings
            .default_service()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        Ok(Self {
            severity,
            default_severity,
            service_labels: alerts.service_labels.clone(),
            services,
            default_service,
            channel,
            update_every: alerts.update_every.as_delta(),
            auto_monitor: alerts.auto_monitor,
            max_new_incidents: alerts.max_new_incidents,
            enabled,
        })
    }

    /// The severity an alert asks for: its `severity` label through the map, else the default.
    pub fn severity_of(&self, alert: &Alert) -> Classification {
        let label = alert.severity_label().map(str::to_lowercase);
        match label.as_deref().and_then(|l| self.severity.get(l)) {
            Some(severity) => Classification {
                severity: *severity,
                reason: Reason::Alert(label),
            },
            None => Classification {
                severity: self.default_severity,
                reason: Reason::Alert(None),
            },
        }
    }

    /// The most severe of `alerts`' severities (the default when there are none).
    pub fn classify<'a>(&self, alerts: impl IntoIterator<Item = &'a Alert>) -> Classification {
        alerts
            .into_iter()
            .map(|a| self.severity_of(a))
            .min_by_key(|c| c.severity)
            .unwrap_or(Classification {
                severity: self.default_severity,
                reason: Reason::Alert(None),
            })
    }

    /// The service a group is about: the first of `alerts.service_labels` (in the common labels,
    /// then the first alert's) that names a service; else the `namespace` label against each
    /// service's namespace; else the default service.
    pub fn service(&self, n: &Notification) -> &str {
        let first = n.alerts.first().map(|a| &a.labels);
        let label = |name: &str| {
            n.common_labels
                .get(name)
                .or_else(|| first.and_then(|l| l.get(name)))
        };
        let by_name = self.service_labels.iter().find_map(|name| {
            let value = label(name)?;
            self.services
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(value))
        });
        let by_namespace = || {
            let namespace = label("namespace")?;
            self.services.iter().find(|s| s.namespace == *namespace)
        };
        by_name
            .or_else(by_namespace)
            .map_or(&self.default_service, |s| &s.name)
    }

    /// Where incidents about `service` are opened: its `alerts_channel`, else `alerts.channel`,
    /// else the terminal's `alerts` channel (only reachable with alerts off, when nothing comes).
    pub fn channel(&self, service: &str) -> ChannelRef {
        self.services
            .iter()
            .find(|s| s.name == service)
            .and_then(|s| s.channel.clone())
            .or_else(|| self.channel.clone())
            .unwrap_or_else(|| ChannelRef {
                platform: Platform::Console,
                id: "alerts".into(),
            })
    }

    /// Where the storm incident and notices without an incident go: `alerts.channel`, else the
    /// default service's channel.
    pub fn default_channel(&self) -> ChannelRef {
        self.channel
            .clone()
            .unwrap_or_else(|| self.channel(&self.default_service))
    }

    /// The default service (the storm incident's).
    pub fn default_service(&self) -> &str {
        &self.default_service
    }

    /// The reporter of a notification's incidents: its receiver, on the platform of `channel`
    /// (`alertmanager/<receiver>`).
    pub fn reporter(n: &Notification, channel: &ChannelRef) -> Actor {
        let name = n.reporter();
        Actor {
            platform: channel.platform,
            id: name.clone(),
            name,
        }
    }
}

impl Default for Rules {
    /// The rules of the default settings: alerts off.
    fn default() -> Self {
        Self::from_settings(&Settings::default())
            .expect("the default alert settings are valid rules (checked by the tests)")
    }
}

/// An incident's description from its group: the common `summary` annotation, else the
/// `alertname` and the group labels (`HighErrorRate (service=checkout)`).
pub fn summary(n: &Notification) -> String {
    if let Some(summary) = n
        .common_annotations
        .get("summary")
        .filter(|s| !s.trim().is_empty())
    {
        return summary.clone();
    }
    let name = n
        .common_labels
        .get("alertname")
        .or_else(|| n.alerts.first().and_then(|a| a.labels.get("alertname")))
        .map_or("Alert", String::as_str);
    let labels: Vec<String> = n
        .group_labels
        .iter()
        .filter(|(k, _)| *k != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name} ({})", labels.join(", "))
    }
}

/// A channel as `[alerts]` writes it: a Slack channel id (`C…`, `G…`), a Discord channel id (a
/// snowflake), `console` or `console:NAME`.
///
/// # Errors
/// A message naming the text and what is accepted.
pub fn parse_channel(text: &str) -> Result<ChannelRef, String> {
    let text = text.trim();
    let channel = |platform, id: &str| ChannelRef {
        platform,
        id: id.to_owned(),
    };
    if text == "console" {
        return Ok(channel(Platform::Console, "console"));
    }
    if let Some(name) = text.strip_prefix("console:") {
        let name = name.trim_start_matches('#');
        if !name.is_empty() && !name.chars().any(char::is_whitespace) {
            return Ok(channel(Platform::Console, name));
        }
    }
    let snowflake = (15..=21).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    if snowflake {
        return Ok(channel(Platform::Discord, text));
    }
    let slack = text.len() >= 3
        && text.starts_with(['C', 'G'])
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if slack {
        return Ok(channel(Platform::Slack, text));
    }
    Err(format!(
        "'{text}' is not a channel: write a Slack channel id (C0123ALERTS), a Discord channel id \
         (a number like 112233445566778899), or console"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::payload::{self, tests::ALERTMANAGER};
    use crate::config::tests::{invalid, load};

    const SERVICES: &str = "[[services]]\nname = \"freightliner\"\nnamespace = \"freightliner-production\"\n\
        [[services]]\nname = \"checkout\"\nnamespace = \"shop\"\nalerts_channel = \"112233445566778899\"\n";

    fn rules(extra: &str) -> Rules {
        Rules::from_settings(&load(&format!("{SERVICES}\n{extra}")).expect("loads"))
            .expect("valid rules")
    }

    fn with_labels(labels: &[(&str, &str)]) -> Notification {
        let mut n = payload::read(ALERTMANAGER.as_bytes()).unwrap();
        n.common_labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        n.alerts[0].labels = n.common_labels.clone();
        n
    }

    #[test]
    fn severity_labels_map_to_severities_and_unknown_ones_to_the_default() {
        let r = rules("[alerts]\nchannel = \"C0ALERTS\"\n[alerts.severity]\npage = \"P0\"\n");
        let n = with_labels(&[("severity", "critical")]);
        let c = r.classify(n.firing());
        assert_eq!(c.severity, Severity::P0);
        assert_eq!(c.to_string(), "alert severity 'critical'");
        let n = with_labels(&[("severity", "page")]);
        assert_eq!(
            r.classify(n.firing()).severity,
            Severity::P0,
            "added to the defaults"
        );
        let n = with_labels(&[("severity", "whatever")]);
        let c = r.classify(n.firing());
        assert_eq!(c.severity, Severity::P2);
        assert_eq!(c.to_string(), "no alert severity listed; default P2");
    }

    #[test]
    fn the_service_comes_from_its_labels_then_the_namespace_then_the_default() {
        let r = rules("");
        assert_eq!(r.service(&with_labels(&[("app", "Checkout")])), "checkout");
        assert_eq!(
            r.service(&with_labels(&[("job", "node"), ("service", "checkout")])),
            "checkout",
            "service is tried before job"
        );
        assert_eq!(
            r.service(&with_labels(&[("namespace", "shop")])),
            "checkout"
        );
        assert_eq!(r.service(&with_labels(&[("job", "node")])), "freightliner");
    }

    #[test]
    fn the_channel_is_the_services_then_the_alerts_channel() {
        let r = rules("[alerts]\nchannel = \"console:#ops\"\n");
        assert_eq!(r.channel("checkout").platform, Platform::Discord);
        assert_eq!(
            r.channel("freightliner"),
            ChannelRef {
                platform: Platform::Console,
                id: "ops".into()
            }
        );
        assert_eq!(
            parse_channel("C0123ALERTS").unwrap().platform,
            Platform::Slack
        );
        assert!(parse_channel("#alerts").is_err());
    }

    #[test]
    fn the_description_is_the_summary_else_the_name_and_group_labels() {
        let mut n = payload::read(ALERTMANAGER.as_bytes()).unwrap();
        assert_eq!(
            summary(&n),
            "BlackBox Probe Failure: https://server.example.org"
        );
        n.common_annotations.clear();
        n.group_labels.insert("service".into(), "checkout".into());
        assert_eq!(summary(&n), "ProbeFailure (service=checkout)");
    }

    #[test]
    fn bad_alert_settings_name_their_key() {
        let check = |extra: &str| {
            let settings = load(&format!("{SERVICES}\n{extra}")).expect("loads");
            Rules::from_settings(&settings).unwrap_err().to_string()
        };
        assert_eq!(
            check("[alerts.severity]\npage = \"P9\"\n"),
            "alerts.severity.page: 'P9' is not a severity (P0, P1, P2 or P3)"
        );
        assert!(
            check("[alerts]\nchannel = \"alerts\"\n")
                .starts_with("alerts.channel: 'alerts' is not a channel")
        );
        assert!(check("[alerts]\ntoken = \"t\"\n").contains("have no channel"));
        let (key, _) = invalid(&format!("{SERVICES}\n[alerts]\nmax_new_incidents = 0\n"));
        assert_eq!(key, "alerts.max_new_incidents");
        let (key, message) = invalid(&format!(
            "{SERVICES}\n[alerts]\nservice_labels = [\"9x\"]\n"
        ));
        assert_eq!(key, "alerts.service_labels");
        assert!(message.contains("'9x'"));
    }
}
