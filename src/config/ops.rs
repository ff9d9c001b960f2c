//! The sections of `bot.toml` that steer cluster operations: evidence on assess, scaling bounds,
//! Prometheus and the runbook actions. `bot.toml.example` documents each key.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
