//! The bounds the engine keeps to in its work with the cluster (evidence wait, replica ceiling,
//! CPU profiles), read once from the settings. Values only: it calls nothing.

use std::time::Duration;

/// Bounds of what the engine does with the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// How long the alert waits for evidence (`assess.evidence_timeout`).
    pub evidence_timeout: Duration,
    /// The most replicas `/incident-scale` sets (`scale.max_replicas`).
    pub max_replicas: u32,
    /// Seconds of CPU profile `/incident-diagnose perf` takes; 0 for none.
    pub profile_seconds: u32,
    /// The pods' pprof port.
    pub profile_port: u16,
    /// Where profiles are written.
    pub profile_dir: std::path::PathBuf,
}

impl Limits {
    /// The limits of checked settings.
    pub fn new(settings: &crate::config::Settings) -> Self {
        Self {
            evidence_timeout: Duration::from_secs(settings.assess.evidence_timeout.as_secs()),
            max_replicas: settings.scale.max_replicas,
            profile_seconds: settings.diagnose.profile_seconds,
            profile_port: settings.diagnose.profile_port,
            profile_dir: settings.diagnose.profile_dir.clone(),
        }
    }
}
