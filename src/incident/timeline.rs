//! The incident's append-only history: every transition, update and note, with who and when.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Actor, Severity, Status};

/// Something that happened to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The incident was opened and classified.
    Detected {
        /// The reported impact.
        summary: String,
        /// The affected service.
        service: String,
        /// The classified severity.
        severity: Severity,
        /// Why that severity.
        reason: String,
        /// The roles paged.
        paged: Vec<String>,
    },
    /// Someone took the incident; the first to do so is the commander.
    Acknowledged {
        /// True when the acknowledgement came from another responder action, not `/incident-ack`.
        implicit: bool,
    },
    /// The status moved.
    StatusChanged {
        /// Before.
        from: Status,
        /// After.
        to: Status,
    },
    /// A status update was posted to the channel.
    Updated {
        /// What the team did or found.
        progress: String,
        /// The expected time to resolution, as written.
        eta: Option<String>,
    },
    /// The severity moved.
    SeverityChanged {
        /// Before.
        from: Severity,
        /// After.
        to: Severity,
        /// Why, as given.
        reason: Option<String>,
    },
    /// A free-text note for the record.
    Note {
        /// The note.
        text: String,
    },
    /// The incident was resolved.
    Resolved {
        /// What caused it.
        root_cause: String,
        /// What fixed it.
        resolution: String,
    },
    /// The post-incident report closed the incident.
    Closed {
        /// Where the report was written.
        report: String,
    },
    /// Evidence gathered from the cluster (readiness, deploys, log errors, warning events).
    Evidence {
        /// What was found, one finding a line.
        findings: Vec<String>,
        /// True for parts that arrived after the alert was posted.
        late: bool,
    },
    /// A change to the cluster was previewed (a dry run; nothing changed yet).
    MutationPreviewed {
        /// What was asked (`scale freightliner to 5 replicas`).
        what: String,
        /// The state now.
        before: String,
        /// The state it would lead to.
        after: String,
        /// How the preview was checked.
        checked: String,
    },
    /// A change to the cluster ran.
    MutationApplied {
        /// What was asked.
        what: String,
        /// The state before.
        before: String,
        /// The state after.
        after: String,
        /// What the cluster or helm said.
        detail: String,
    },
    /// Diagnostics gathered for one area (`/incident-diagnose`).
    Diagnosed {
        /// `app`, `perf`, `security` or `infra`.
        area: String,
        /// What was found, one finding a line.
        findings: Vec<String>,
    },
    /// The fix was verified (`/incident-verify`).
    Verified {
        /// True when every check passed.
        passed: bool,
        /// Each check with its ✅/❌.
        checks: Vec<String>,
    },
    /// A change to the cluster was tried and failed (or its preview was refused).
    MutationFailed {
        /// What was asked.
        what: String,
        /// Why it failed.
        error: String,
    },
}

impl TimelineEvent {
    /// The stored kind name (`detected`, `status_changed`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            TimelineEvent::Detected { .. } => "detected",
            TimelineEvent::Acknowledged { .. } => "acknowledged",
            TimelineEvent::StatusChanged { .. } => "status_changed",
            TimelineEvent::Updated { .. } => "updated",
            TimelineEvent::SeverityChanged { .. } => "severity_changed",
            TimelineEvent::Note { .. } => "note",
            TimelineEvent::Resolved { .. } => "resolved",
            TimelineEvent::Closed { .. } => "closed",
            TimelineEvent::Evidence { .. } => "evidence",
            TimelineEvent::MutationPreviewed { .. } => "mutation_previewed",
            TimelineEvent::MutationApplied { .. } => "mutation_applied",
            TimelineEvent::MutationFailed { .. } => "mutation_failed",
            TimelineEvent::Diagnosed { .. } => "diagnosed",
            TimelineEvent::Verified { .. } => "verified",
        }
    }

    /// One line for people, as `/incident-status` lists it.
    pub fn describe(&self) -> String {
        match self {
            TimelineEvent::Detected {
                severity,
                reason,
                summary,
                ..
            } => format!("detected as {severity} ({reason}): {summary}"),
            TimelineEvent::Acknowledged { implicit: false } => "acknowledged".into(),
            TimelineEvent::Acknowledged { implicit: true } => {
                "acknowledged (by taking action)".into()
            }
            TimelineEvent::StatusChanged { from, to } => format!("status {from} → {to}"),
            TimelineEvent::Updated {
                progress,
                eta: Some(eta),
            } => format!("update: {progress} (ETA {eta})"),
            TimelineEvent::Updated {
                progress,
                eta: None,
            } => format!("update: {progress}"),
            TimelineEvent::SeverityChanged { from, to, reason } => match reason {
                Some(reason) => format!("severity {from} → {to}: {reason}"),
                None => format!("severity {from} → {to}"),
            },
            TimelineEvent::Note { text } => format!("note: {text}"),
            TimelineEvent::Resolved {
                root_cause,
                resolution,
            } => format!("resolved. Root cause: {root_cause}. Resolution: {resolution}"),
            TimelineEvent::Closed { report } => format!("closed; report at {report}"),
            TimelineEvent::Evidence { findings, late } => format!(
                "{}: {}",
                if *late { "late evidence" } else { "evidence" },
                findings.join("; ")
            ),
            TimelineEvent::MutationPreviewed {
                what,
                before,
                after,
                checked,
            } => format!("preview of {what}: {before} → {after} ({checked})"),
            TimelineEvent::MutationApplied {
                what,
                before,
                after,
                ..
            } => format!("{what} done: {before} → {after}"),
            TimelineEvent::MutationFailed { what, error } => format!("{what} failed: {error}"),
            TimelineEvent::Diagnosed { area, findings } => {
                format!("diagnosed {area}: {} findings", findings.len())
            }
            TimelineEvent::Verified { passed, checks } => format!(
                "verified: {} ({})",
                if *passed {
                    "all checks passed"
                } else {
                    "checks failed"
                },
                checks.join("; ")
            ),
        }
    }
}

/// A stored timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Position in the whole store's timeline (increasing).
    pub seq: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What happened.
    pub event: TimelineEvent,
}
