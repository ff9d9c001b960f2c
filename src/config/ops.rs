//! The sections of `bot.toml` that steer cluster operations: evidence on assess, scaling bounds,
//! Prometheus and the runbook actions. `bot.toml.example` documents each key.

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
