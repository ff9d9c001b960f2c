//! The sections of `bot.toml` that steer cluster operations: evidence on assess, scaling bounds,
//! Prometheus and the runbook actions. `bot.toml.example` documents each key.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use super::{HOUR, MONTH, SECOND, within};
use crate::interval::Interval;

/// `[assess]`: the evidence `/incident-assess` gathers from the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessSettings {
    /// How long the alert waits for evidence; later parts follow as an update.
    pub evidence_timeout: Interval,
    /// The regular expression an error line of a pod's log matches.
    pub error_pattern: String,
    /// How far back pod logs are read.
    pub log_window: Interval,
    /// At most this many lines from the end of each pod's log.
    pub log_tail_lines: u32,
}

impl Default for AssessSettings {
    fn default() -> Self {
        Self {
            evidence_timeout: Interval::from_secs(5),
            error_pattern: "(?i)panic|error|fatal".into(),
            log_window: Interval::from_secs(3600),
            log_tail_lines: 1000,
        }
    }
}

/// `[scale]`: bounds of `/incident-scale`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScaleSettings {
    /// The most replicas `/incident-scale` asks for.
    pub max_replicas: u32,
}

impl Default for ScaleSettings {
    fn default() -> Self {
        Self { max_replicas: 20 }
    }
}

/// `[[actions]]`: a runbook toggle `/incident-action NAME` runs on the incident's service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSettings {
    /// The name typed after `/incident-action`.
    pub name: String,
    /// What it does, for help and messages.
    #[serde(default)]
    pub description: String,
    /// A ConfigMap in the service's namespace whose `key` is set to `value`.
    #[serde(default)]
    pub configmap: Option<String>,
    /// The ConfigMap key.
    #[serde(default)]
    pub key: Option<String>,
    /// An environment variable of the service's Deployment set to `value`.
    #[serde(default)]
    pub env: Option<String>,
    /// The container whose environment changes; the Deployment's first when unset.
    #[serde(default)]
    pub container: Option<String>,
    /// The value to set.
    pub value: String,
    /// Restart the Deployment's rollout afterwards (as `kubectl rollout restart`).
    #[serde(default)]
    pub restart: bool,
}

impl ActionSettings {
    /// What is wrong with this action, if anything.
    pub fn problem(&self) -> Option<String> {
        let name_ok = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Some(format!(
                "'{}' is not an action name (letters, digits, '-', '_', '.')",
                self.name
            ));
        }
        match (&self.configmap, &self.key, &self.env) {
            (Some(_), Some(_), None) | (None, None, Some(_)) => None,
            (Some(_), None, None) => Some("configmap needs a key".into()),
            _ => Some("set either configmap and key, or env".into()),
        }
    }
}

/// `[prometheus]`: queries for `/incident-diagnose perf` and `/incident-verify`. In each query,
/// `{namespace}` and `{deployment}` become the incident's service's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrometheusSettings {
    /// Base URL (`http://prometheus.monitoring:9090`); Prometheus is not asked when unset.
    pub url: Option<String>,
    /// The share of requests that fail (0 to 1).
    pub error_rate: String,
    /// `/incident-verify` passes when the error rate is at most this.
    pub error_rate_max: f64,
    /// p99 latency in seconds.
    pub latency_p99: String,
    /// Memory in bytes.
    pub memory: String,
    /// Go goroutines.
    pub goroutines: String,
}

impl Default for PrometheusSettings {
    fn default() -> Self {
        Self {
            url: None,
            error_rate: r#"sum(rate(http_requests_total{namespace="{namespace}",code=~"5.."}[5m])) / sum(rate(http_requests_total{namespace="{namespace}"}[5m]))"#.into(),
            error_rate_max: 0.01,
            latency_p99: r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{namespace="{namespace}"}[5m])))"#.into(),
            memory: r#"sum(container_memory_working_set_bytes{namespace="{namespace}",pod=~"{deployment}-.*"})"#.into(),
            goroutines: r#"sum(go_goroutines{namespace="{namespace}",pod=~"{deployment}-.*"})"#.into(),
        }
    }
}

/// `[diagnose]`: the CPU profile of `/incident-diagnose perf`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnoseSettings {
    /// Seconds of CPU profile taken from one pod through pods/proxy; 0 takes none.
    pub profile_seconds: u32,
    /// The pod port serving `/debug/pprof/profile` (Go's net/http/pprof).
    pub profile_port: u16,
    /// Where profiles are written (`incident-N-POD-TIME.pprof`).
    pub profile_dir: PathBuf,
}

impl Default for DiagnoseSettings {
    fn default() -> Self {
        Self {
            profile_seconds: 30,
            profile_port: 6060,
            profile_dir: "profiles".into(),
        }
    }
}

/// `pattern` compiles as a regular expression; otherwise `key` and the parser's complaint on one
/// line (`not a regular expression: unclosed group`).
fn regex_at(key: &str, pattern: &str) -> Result<(), (String, String)> {
    regex::Regex::new(pattern).map(drop).map_err(|e| {
        let text = e.to_string();
        let why = text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text.trim());
        (key.to_owned(), format!("not a regular expression: {why}"))
    })
}

impl super::Settings {
    /// Checks the cluster-operation sections: ranges, the error pattern, actions, Prometheus.
    pub(super) fn check_ops(&self) -> Result<(), (String, String)> {
        within(
            "assess.evidence_timeout",
            self.assess.evidence_timeout,
            SECOND,
            HOUR,
        )?;
        within("assess.log_window", self.assess.log_window, SECOND, MONTH)?;
        regex_at("assess.error_pattern", &self.assess.error_pattern)?;
        for (i, rule) in self.classify.iter().enumerate() {
            regex_at(&format!("classify[{i}].pattern"), &rule.pattern)?;
        }
        let mut actions = BTreeSet::new();
        for (i, action) in self.actions.iter().enumerate() {
            if let Some(problem) = action.problem() {
                return Err((format!("actions[{i}]"), problem));
            }
            if !actions.insert(action.name.as_str()) {
                return Err((
                    format!("actions[{i}].name"),
                    format!("action '{}' is defined twice", action.name),
                ));
            }
        }
        if let Some(url) = &self.prometheus.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err((
                "prometheus.url".into(),
                format!("'{url}' is not an http:// or https:// URL"),
            ));
        }
        if !(0.0..=1.0).contains(&self.prometheus.error_rate_max) {
            return Err((
                "prometheus.error_rate_max".into(),
                "must be between 0 and 1".into(),
            ));
        }
        if self.diagnose.profile_seconds > 300 {
            return Err((
                "diagnose.profile_seconds".into(),
                "at most 300 (0 takes no profile)".into(),
            ));
        }
        if self.scale.max_replicas == 0 {
            return Err(("scale.max_replicas".into(), "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{WEB, invalid};

    #[test]
    fn bad_cluster_settings_name_their_key() {
        let cases = [
            ("[assess]\nerror_pattern = \"(\"", "assess.error_pattern"),
            (
                "[assess]\nevidence_timeout = \"2h\"",
                "assess.evidence_timeout",
            ),
            ("[scale]\nmax_replicas = 0", "scale.max_replicas"),
            ("[prometheus]\nurl = \"prometheus:9090\"", "prometheus.url"),
            (
                "[prometheus]\nerror_rate_max = 2.0",
                "prometheus.error_rate_max",
            ),
            (
                "[diagnose]\nprofile_seconds = 900",
                "diagnose.profile_seconds",
            ),
            (
                "[[actions]]\nname = \"x\"\nconfigmap = \"c\"\nkey = \"k\"\nenv = \"E\"\nvalue = \"1\"",
                "actions[0]",
            ),
            (
                "[[actions]]\nname = \"x\"\nconfigmap = \"c\"\nvalue = \"1\"",
                "actions[0]",
            ),
            (
                "[[actions]]\nname = \"x\"\nenv = \"E\"\nvalue = \"1\"\n[[actions]]\nname = \"x\"\nenv = \"F\"\nvalue = \"2\"",
                "actions[1].name",
            ),
            (
                "[[actions]]\nname = \"a b\"\nenv = \"E\"\nvalue = \"1\"",
                "actions[0]",
            ),
        ];
        for (extra, key) in cases {
            let (got, message) = invalid(&format!("{WEB}{extra}"));
            assert_eq!(got, key, "{extra}: {message}");
            assert!(!message.is_empty());
        }
    }
}
