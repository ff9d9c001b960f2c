//! Evidence from the cluster about a service, and the live signals in it that change how an
//! incident is handled (0 ready replicas, a deploy just before errors).

use chrono::{DateTime, TimeDelta, Utc};

/// The service's Deployment right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// The Deployment.
    pub deployment: String,
    /// `spec.replicas`.
    pub desired: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.unavailableReplicas`.
    pub unavailable: i32,
    /// Container restarts over the Deployment's pods.
    pub restarts: i32,
    /// Pods stuck in a bad state: `pod-name: CrashLoopBackOff`, `pod-name: OOMKilled`.
    pub failing: Vec<String>,
}

/// Where a rollout was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutSource {
    /// A Helm release revision.
    Helm,
    /// A Deployment's ReplicaSet revision.
    ReplicaSet,
}

/// One deployment of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    /// Helm or ReplicaSet.
    pub source: RolloutSource,
    /// The revision number.
    pub revision: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// The chart (`freightliner-1.4.2`) or the image(s).
    pub what: String,
    /// Helm's status (`deployed`, `failed`, …) or `ready 3/3`.
    pub status: String,
}

/// Error lines found in the recent logs of the service's pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogErrors {
    /// How many pods' logs were read.
    pub pods: usize,
    /// Pods whose log could not be read, with why (the others still count).
    pub unreadable: Vec<String>,
    /// How many lines matched.
    pub count: usize,
    /// The most frequent matching lines with their counts, most frequent first.
    pub top: Vec<(String, usize)>,
}

/// A warning event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// When it was last seen.
    pub at: Option<DateTime<Utc>>,
    /// `Pod/freightliner-abc`.
    pub object: String,
    /// `BackOff`, `FailedScheduling`, …
    pub reason: String,
    /// The event's message.
    pub message: String,
    /// How often it happened.
    pub count: i32,
}

/// How many of the most frequent error lines are kept.
pub const TOP_LINES: usize = 3;

/// Counts matching lines and keeps the [`TOP_LINES`] most frequent (ties: first seen first).
pub fn count_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    pattern: &regex::Regex,
) -> (usize, Vec<(String, usize)>) {
    // line → (times seen, order first seen)
    let mut seen: std::collections::HashMap<String, (usize, usize)> =
        std::collections::HashMap::new();
    let mut count = 0;
    for line in lines.into_iter().filter(|l| pattern.is_match(l)) {
        count += 1;
        let line: String = line.trim().chars().take(200).collect();
        let order = seen.len();
        seen.entry(line).or_insert((0, order)).0 += 1;
    }
    let mut top: Vec<(String, usize, usize)> = seen
        .into_iter()
        .map(|(l, (n, order))| (l, n, order))
        .collect();
    top.sort_by_key(|(_, n, order)| (std::cmp::Reverse(*n), *order));
    top.truncate(TOP_LINES);
    (count, top.into_iter().map(|(l, n, _)| (l, n)).collect())
}

impl Readiness {
    /// True when replicas are wanted and none is ready: the service is down.
    pub fn is_down(&self) -> bool {
        self.desired > 0 && self.ready == 0
    }

    /// One line for the alert and the timeline.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "{} ready {}/{}, {} unavailable, {} restarts",
            self.deployment, self.ready, self.desired, self.unavailable, self.restarts
        );
        if !self.failing.is_empty() {
            line.push_str(&format!("; {}", self.failing.join(", ")));
        }
        line
    }
}

impl Rollout {
    /// One line for the alert and the timeline.
    pub fn describe(&self) -> String {
        let source = match self.source {
            RolloutSource::Helm => "helm revision",
            RolloutSource::ReplicaSet => "replicaset revision",
        };
        format!(
            "{source} {} at {} · {} · {}",
            self.revision,
            self.at.format("%Y-%m-%d %H:%M UTC"),
            self.what,
            self.status
        )
    }

    /// Whether it happened within `within` before `now`.
    pub fn is_recent(&self, now: DateTime<Utc>, within: TimeDelta) -> bool {
        self.at <= now && now - self.at <= within
    }
}

impl LogErrors {
    /// Lines for the alert and the timeline: the count, then the top lines.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "{} error lines in the logs of {} pods",
            self.count, self.pods
        )];
        for (line, n) in &self.top {
            lines.push(format!("  {n}× {line}"));
        }
        if !self.unreadable.is_empty() {
            lines.push(format!(
                "  logs not readable: {}",
                self.unreadable.join("; ")
            ));
        }
        lines
    }
}

impl Warning {
    /// One line for the alert and the timeline.
    pub fn describe(&self) -> String {
        let at = self
            .at
            .map(|t| t.format("%H:%M UTC").to_string())
            .unwrap_or_else(|| "--:--".into());
        format!(
            "{at} {} {} ×{}: {}",
            self.object, self.reason, self.count, self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_lines_counts_matches_and_keeps_the_most_frequent() {
        let pattern = regex::Regex::new("(?i)panic|error|fatal").expect("pattern");
        let log = "ok\nERROR db timeout\nfine\nERROR db timeout\npanic: nil map\nfatal: x\nerror y";
        let (count, top) = count_lines(log.lines(), &pattern);
        assert_eq!(count, 5);
        assert_eq!(top.len(), TOP_LINES);
        assert_eq!(top[0], ("ERROR db timeout".to_owned(), 2));
        assert_eq!(top[1], ("panic: nil map".to_owned(), 1));
    }

    #[test]
    fn a_deployment_with_replicas_wanted_and_none_ready_is_down() {
        let mut r = Readiness {
            deployment: "web".into(),
            desired: 3,
            ready: 0,
            unavailable: 3,
            restarts: 7,
            failing: vec!["web-1: CrashLoopBackOff".into()],
        };
        assert!(r.is_down());
        assert_eq!(
            r.describe(),
            "web ready 0/3, 3 unavailable, 7 restarts; web-1: CrashLoopBackOff"
        );
        r.desired = 0;
        assert!(!r.is_down());
    }
}
