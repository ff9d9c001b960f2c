//! The figures `GET /metrics` shows, in a small in-repo registry: fixed label sets, one atomic
//! per series, no locks and no allocation when a figure is recorded (the ack path records on
//! every request). [`render`] writes the Prometheus text exposition format (version 0.0.4).
//!
//! Owns counting only: it never reads the store or the cluster (open incidents are counted by
//! the server at scrape time and handed to [`render`]).

mod render;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use render::{CONTENT_TYPE, render};

use crate::approval::State;
use crate::command::CommandName;
use crate::incident::{Incident, Platform};

/// Bucket bounds (seconds) of the ack latency: Slack and Discord want an answer within 3 s.
const ACK_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0,
];
/// Bucket bounds (seconds) of one cluster call (a CPU profile takes its `seconds=N`).
const CLUSTER_BOUNDS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Bucket bounds (seconds) of incident milestones: a minute to two days.
const MILESTONE_BOUNDS: &[f64] = &[
    60.0, 300.0, 900.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 43_200.0, 86_400.0, 172_800.0,
];
/// The most buckets any histogram has (its `+Inf` bucket is the count).
const MAX_BUCKETS: usize = 11;

/// A histogram: one atomic per bucket (not cumulative; [`render`] adds them up), the sum in
/// microseconds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: [AtomicU64; MAX_BUCKETS + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    const fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: [const { AtomicU64::new(0) }; MAX_BUCKETS + 1],
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation: two atomic adds.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// `(upper bound, cumulative count)` per bucket, then the sum in seconds and the count.
    fn snapshot(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(self.bounds.len() + 1);
        for (i, bound) in self.bounds.iter().chain([&f64::INFINITY]).enumerate() {
            total += self.buckets[i].load(Ordering::Relaxed);
            cumulative.push((*bound, total));
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        (cumulative, sum, total)
    }
}

/// How a command ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did what was asked.
    Ok,
    /// The caller's mistake or a refusal (wrong state, no permission, bad arguments).
    Refused,
    /// Our failure (store, cluster, a bug): answered with an apology and a reference.
    Failed,
    /// A redelivery of a request already handled: no effect.
    Replayed,
}

impl Outcome {
    const ALL: [Outcome; 4] = [
        Outcome::Ok,
        Outcome::Refused,
        Outcome::Failed,
        Outcome::Replayed,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Replayed => "replayed",
        }
    }
}

/// Command labels: every [`CommandName`] plus `invalid` (a line that did not parse).
const COMMANDS: usize = CommandName::ALL.len() + 1;
const PLATFORMS: [Platform; 3] = [Platform::Console, Platform::Slack, Platform::Discord];
/// Platforms with an HTTP/websocket acknowledgement to time.
const ACK_PLATFORMS: [Platform; 2] = [Platform::Slack, Platform::Discord];
/// Approval outcomes counted: the states a request ends in, and `approved`.
const APPROVAL_OUTCOMES: [State; 6] = [
    State::Approved,
    State::Denied,
    State::Expired,
    State::Cancelled,
    State::Succeeded,
    State::Failed,
];

/// Every cluster call the ops layer makes, by its name in `firewatch_cluster_call_*{call=…}`
/// (one per method of [`crate::ops::Cluster`]).
pub const CLUSTER_CALLS: [&str; 19] = [
    "readiness",
    "rollouts",
    "log_errors",
    "warnings",
    "history",
    "preview",
    "apply",
    "pods",
    "log_matches",
    "events",
    "network_policies",
    "nodes",
    "pod_usage",
    "rollout_status",
    "cpu_profile",
    "create_job",
    "job_state",
    "job_log",
    "delete_job",
];

/// Every figure firewatch counts. One per application; shared as `Arc<Metrics>`.
#[derive(Debug)]
pub struct Metrics {
    commands: [[[AtomicU64; Outcome::ALL.len()]; PLATFORMS.len()]; COMMANDS],
    ack: [Histogram; ACK_PLATFORMS.len()],
    approvals: [AtomicU64; APPROVAL_OUTCOMES.len()],
    cluster: [Histogram; CLUSTER_CALLS.len()],
    cluster_errors: [AtomicU64; CLUSTER_CALLS.len()],
    /// Incident milestones, timed from the opening: acknowledged; moved from investigating to
    /// mitigating or monitoring; resolved.
    to_acknowledge: Histogram,
    to_mitigate: Histogram,
    to_resolve: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            commands: [const { [const { [const { AtomicU64::new(0) }; 4] }; 3] }; COMMANDS],
            ack: [const { Histogram::new(ACK_BOUNDS) }; ACK_PLATFORMS.len()],
            approvals: [const { AtomicU64::new(0) }; APPROVAL_OUTCOMES.len()],
            cluster: [const { Histogram::new(CLUSTER_BOUNDS) }; CLUSTER_CALLS.len()],
            cluster_errors: [const { AtomicU64::new(0) }; CLUSTER_CALLS.len()],
            to_acknowledge: Histogram::new(MILESTONE_BOUNDS),
            to_mitigate: Histogram::new(MILESTONE_BOUNDS),
            to_resolve: Histogram::new(MILESTONE_BOUNDS),
        }
    }
}

impl Metrics {
    /// Counts one command (`None`: the line did not parse).
    pub fn command(&self, name: Option<CommandName>, platform: Platform, outcome: Outcome) {
        let command = match name {
            Some(name) => CommandName::ALL
                .iter()
                .position(|n| *n == name)
                .unwrap_or(COMMANDS - 1),
            None => COMMANDS - 1,
        };
        let platform = PLATFORMS.iter().position(|p| *p == platform).unwrap_or(0);
        let outcome = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.commands[command][platform][outcome].fetch_add(1, Ordering::Relaxed);
    }

    /// Times one acknowledgement to Slack or Discord (from the request to the answer).
    pub fn ack(&self, platform: Platform, took: Duration) {
        if let Some(i) = ACK_PLATFORMS.iter().position(|p| *p == platform) {
            self.ack[i].observe(took);
        }
    }

    /// Counts an approval request reaching `state` (ignored for `pending` and `running`).
    pub fn approval(&self, state: State) {
        if let Some(i) = APPROVAL_OUTCOMES.iter().position(|s| *s == state) {
            self.approvals[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Times one cluster call (`call` from [`CLUSTER_CALLS`]) and counts it as an error when it
    /// failed.
    pub fn cluster_call(&self, call: usize, took: Duration, failed: bool) {
        if let Some(histogram) = self.cluster.get(call) {
            histogram.observe(took);
            if failed {
                self.cluster_errors[call].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Observes the milestones an incident reached between `before` and `after` (a change
    /// committed at `now`), timed from when it was opened.
    pub fn incident_changed(
        &self,
        before: &Incident,
        after: &Incident,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let opened = after.opened.at;
        let since = |at: chrono::DateTime<chrono::Utc>| (at - opened).to_std().unwrap_or_default();
        if before.acknowledged.is_none()
            && let Some(ack) = &after.acknowledged
        {
            self.to_acknowledge.observe(since(ack.at));
        }
        use crate::incident::Status::{Investigating, Mitigating, Monitoring};
        if before.status == Investigating && matches!(after.status, Mitigating | Monitoring) {
            self.to_mitigate.observe(since(now));
        }
        if before.resolved.is_none()
            && let Some(resolved) = &after.resolved
        {
            self.to_resolve.observe(since(resolved.at));
        }
    }
}

#[cfg(test)]
mod tests;
