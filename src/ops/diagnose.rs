//! What `/incident-diagnose` and `/incident-verify` read from the cluster: pod states, events,
//! network policies, nodes, metrics.k8s.io usage and the Deployment's rollout status.

use chrono::{DateTime, Utc};

/// One pod of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    /// The pod.
    pub name: String,
    /// `Running`, `Pending`, …
    pub phase: String,
    /// Container restarts.
    pub restarts: i32,
    /// Why a container waits (`CrashLoopBackOff`), if one does.
    pub waiting: Option<String>,
    /// The last termination: `OOMKilled (exit 137) at …`.
    pub last_termination: Option<String>,
    /// The node it runs on.
    pub node: Option<String>,
}

impl PodState {
    /// One line.
    pub fn describe(&self) -> String {
        let mut line = format!("{} {} restarts {}", self.name, self.phase, self.restarts);
        if let Some(w) = &self.waiting {
            line.push_str(&format!(", waiting: {w}"));
        }
        if let Some(t) = &self.last_termination {
            line.push_str(&format!(", last terminated: {t}"));
        }
        line
    }
}

/// An event of the namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    /// Last seen (`lastTimestamp`, else `eventTime`, else creation).
    pub at: Option<DateTime<Utc>>,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// `Pod/freightliner-0`.
    pub object: String,
    /// `BackOff`, …
    pub reason: String,
    /// The message.
    pub message: String,
}

impl EventLine {
    /// One line.
    pub fn describe(&self) -> String {
        let at = self
            .at
            .map_or_else(|| "--:--".into(), |t| t.format("%H:%M:%S").to_string());
        format!(
            "{at} {} {} {}: {}",
            self.kind, self.object, self.reason, self.message
        )
    }
}

/// A node's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// The node.
    pub name: String,
    /// Whether `Ready` is `True`.
    pub ready: bool,
    /// Pressure or other bad conditions that are `True` (`MemoryPressure`).
    pub problems: Vec<String>,
    /// `cpu 1200m, memory 3Gi` from metrics.k8s.io, when available.
    pub usage: Option<String>,
}

impl NodeState {
    /// One line.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{} {}",
            self.name,
            if self.ready { "Ready" } else { "NotReady" }
        );
        if !self.problems.is_empty() {
            line.push_str(&format!(", {}", self.problems.join(", ")));
        }
        if let Some(u) = &self.usage {
            line.push_str(&format!(", using {u}"));
        }
        line
    }
}

/// The Deployment's rollout, as `kubectl rollout status` judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutStatus {
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`.
    pub observed: i64,
    /// `spec.replicas`.
    pub desired: i32,
    /// `status.updatedReplicas`.
    pub updated: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// `status.replicas`.
    pub replicas: i32,
}

impl RolloutStatus {
    /// Complete when the controller saw the latest spec and every replica is updated and
    /// available, with no old ones left.
    pub fn is_complete(&self) -> bool {
        self.observed >= self.generation
            && self.updated == self.desired
            && self.available == self.updated
            && self.replicas == self.updated
    }

    /// One line.
    pub fn describe(&self) -> String {
        format!(
            "generation {} observed {}, {}/{} updated, {} available, {} total",
            self.generation,
            self.observed,
            self.updated,
            self.desired,
            self.available,
            self.replicas
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollout_is_complete_only_when_every_count_agrees() {
        let done = RolloutStatus {
            generation: 4,
            observed: 4,
            desired: 3,
            updated: 3,
            available: 3,
            replicas: 3,
        };
        assert!(done.is_complete());
        assert!(
            !RolloutStatus {
                observed: 3,
                ..done
            }
            .is_complete()
        );
        assert!(
            !RolloutStatus {
                available: 2,
                ..done
            }
            .is_complete()
        );
        assert!(
            !RolloutStatus {
                replicas: 4,
                ..done
            }
            .is_complete()
        );
    }
}
