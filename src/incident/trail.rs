//! The paper trail: what the post-incident report, `/incident-status` and the resolution message
//! derive from an incident's timeline — the runbook's milestones, the team's response times and
//! the follow-up action items. Pure functions of the stored timeline.
//!
//! [`derive`] is the one place that reads timeline entries for the report: a new kind of entry
//! (a cluster mutation, a verification) becomes a milestone by adding a match arm there.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Incident, Status, TimelineEntry, TimelineEvent};

/// A runbook milestone of the report's Timeline section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Milestone {
    /// The incident was opened.
    Detected,
    /// The team had its first picture: the first status update or severity change.
    AssessmentComplete,
    /// A mitigation was applied: the first move to Mitigating or Monitoring.
    MitigationImplemented,
    /// The root cause was named: a note starting with `root cause:`, else the resolution.
    RootCauseIdentified,
    /// A fix is in: the first move to Monitoring.
    FixDeployed,
    /// The incident was resolved.
    Resolved,
}

impl Milestone {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Milestone::Detected => "Incident detected",
            Milestone::AssessmentComplete => "Assessment complete",
            Milestone::MitigationImplemented => "Mitigation implemented",
            Milestone::RootCauseIdentified => "Root cause identified",
            Milestone::FixDeployed => "Fix deployed",
            Milestone::Resolved => "Incident resolved",
        }
    }
}

/// One line of the report's Timeline section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// When.
    pub at: DateTime<Utc>,
    /// The milestone, or `None` for other entries worth reading (notes, escalations, severity).
    pub milestone: Option<Milestone>,
    /// What happened, in words.
    pub what: String,
    /// Who.
    pub who: String,
}

/// A follow-up action item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionItem {
    /// Its number, 1-based, in the order added.
    pub n: u32,
    /// What is to be done.
    pub text: String,
    /// Who added it.
    pub by: String,
    /// Whether it was ticked.
    pub done: bool,
}

/// The team's response times, from detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Metrics {
    /// Time to acknowledge.
    pub acknowledge: Option<TimeDelta>,
    /// Time to mitigate (to [`Milestone::MitigationImplemented`]).
    pub mitigate: Option<TimeDelta>,
    /// Time to resolve.
    pub resolve: Option<TimeDelta>,
}

/// Everything the paper trail derives from one incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Trail {
    /// Milestones and notable entries, in time order.
    pub moments: Vec<Moment>,
    /// Response times.
    pub metrics: Metrics,
    /// The follow-up action items.
    pub action_items: Vec<ActionItem>,
    /// The latest `--users` given on an update.
    pub users_affected: Option<String>,
    /// Notes starting with `prevention:`, without the prefix.
    pub prevention: Vec<String>,
    /// What verified the fix: `/incident-verify` checks and verification Job results.
    pub verification: Vec<String>,
}

/// Strips a case-insensitive `tag:` prefix (`root cause: the cache` → `the cache`).
fn tagged<'a>(text: &'a str, tag: &str) -> Option<&'a str> {
    let head = text.get(..tag.len())?;
    let rest = text[tag.len()..].trim_start();
    (head.eq_ignore_ascii_case(tag))
        .then(|| rest.strip_prefix(':'))
        .flatten()
        .map(str::trim)
}

/// Derives the trail of `incident` from its whole `timeline` (oldest first).
pub fn derive(incident: &Incident, timeline: &[TimelineEntry]) -> Trail {
    let mut trail = Trail::default();
    let mut reached: Vec<Milestone> = Vec::new();
    let mut root_cause_noted = false;
    for entry in timeline {
        let who = entry.actor.to_string();
        let mut push = |milestone: Option<Milestone>, what: String| {
            if let Some(m) = milestone {
                if reached.contains(&m) {
                    return;
                }
                reached.push(m);
            }
            trail.moments.push(Moment {
                at: entry.at,
                milestone,
                what,
                who: who.clone(),
            });
        };
        match &entry.event {
            TimelineEvent::Detected {
                severity, summary, ..
            } => push(
                Some(Milestone::Detected),
                format!("{} ({severity}): {summary}", Milestone::Detected.label()),
            ),
            TimelineEvent::Updated {
                progress, users, ..
            } => {
                if users.is_some() {
                    trail.users_affected.clone_from(users);
                }
                push(
                    Some(Milestone::AssessmentComplete),
                    format!("{}: {progress}", Milestone::AssessmentComplete.label()),
                );
            }
            TimelineEvent::SeverityChanged { from, to, reason } => {
                push(
                    Some(Milestone::AssessmentComplete),
                    format!(
                        "{}: severity {from} → {to}",
                        Milestone::AssessmentComplete.label()
                    ),
                );
                let why = reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                push(None, format!("Severity {from} → {to}{why}"));
            }
            TimelineEvent::StatusChanged { to, .. } => {
                if matches!(to, Status::Mitigating | Status::Monitoring) {
                    push(
                        Some(Milestone::MitigationImplemented),
                        format!("{} (status {to})", Milestone::MitigationImplemented.label()),
                    );
                }
                if *to == Status::Monitoring {
                    push(
                        Some(Milestone::FixDeployed),
                        format!("{} (status {to})", Milestone::FixDeployed.label()),
                    );
                }
            }
            TimelineEvent::Note { text } => {
                if let Some(cause) = tagged(text, "root cause") {
                    root_cause_noted = true;
                    push(
                        Some(Milestone::RootCauseIdentified),
                        format!("{}: {cause}", Milestone::RootCauseIdentified.label()),
                    );
                } else if let Some(prevention) = tagged(text, "prevention") {
                    trail.prevention.push(prevention.to_owned());
                } else {
                    push(None, format!("Note: {text}"));
                }
            }
            TimelineEvent::Resolved { root_cause, .. } => {
                if !root_cause_noted {
                    push(
                        Some(Milestone::RootCauseIdentified),
                        format!("{}: {root_cause}", Milestone::RootCauseIdentified.label()),
                    );
                }
                push(
                    Some(Milestone::Resolved),
                    Milestone::Resolved.label().into(),
                );
            }
            TimelineEvent::MutationApplied {
                what,
                before,
                after,
                ..
            } => push(
                Some(Milestone::MitigationImplemented),
                format!(
                    "{}: {what} ({before} → {after})",
                    Milestone::MitigationImplemented.label()
                ),
            ),
            // A preview changed nothing; the applied change or its failure is what counts.
            TimelineEvent::MutationPreviewed { .. } => {}
            TimelineEvent::ResponseTargetMissed { .. }
            | TimelineEvent::ChannelBound { .. }
            | TimelineEvent::Evidence { .. }
            | TimelineEvent::MutationFailed { .. }
            | TimelineEvent::ApprovalRequested { .. }
            | TimelineEvent::ApprovalNotRequired { .. }
            | TimelineEvent::ApprovalGiven { .. }
            | TimelineEvent::ApprovalDenied { .. }
            | TimelineEvent::ApprovalExpired { .. }
            | TimelineEvent::ApprovalClosed { .. }
            | TimelineEvent::ApprovalRefused { .. }
            | TimelineEvent::ApprovalExecuting { .. }
            | TimelineEvent::Diagnosed { .. }
            | TimelineEvent::JobStarted { .. } => {
                push(None, capitalise(&entry.event.describe()));
            }
            TimelineEvent::Verified { .. } | TimelineEvent::JobFinished { .. } => {
                let what = capitalise(&entry.event.describe());
                trail
                    .verification
                    .push(format!("{} {what}", entry.at.format("%H:%M")));
                push(None, what);
            }
            TimelineEvent::FollowupAdded { text } => {
                let n = u32::try_from(trail.action_items.len() + 1).unwrap_or(u32::MAX);
                trail.action_items.push(ActionItem {
                    n,
                    text: text.clone(),
                    by: who.clone(),
                    done: false,
                });
            }
            TimelineEvent::FollowupDone { n } => {
                if let Some(item) = trail.action_items.iter_mut().find(|i| i.n == *n) {
                    item.done = true;
                }
            }
            TimelineEvent::Acknowledged { .. } => {
                push(None, "Acknowledged; incident commander".into());
            }
            TimelineEvent::UpdateOverdue { .. } | TimelineEvent::Closed { .. } => {}
        }
    }
    let since_detection = |m: Milestone| {
        trail
            .moments
            .iter()
            .find(|x| x.milestone == Some(m))
            .map(|x| x.at - incident.opened.at)
    };
    trail.metrics = Metrics {
        acknowledge: incident
            .acknowledged
            .as_ref()
            .map(|a| a.at - incident.opened.at),
        mitigate: since_detection(Milestone::MitigationImplemented),
        resolve: incident
            .resolved
            .as_ref()
            .map(|r| r.at - incident.opened.at),
    };
    trail.moments.sort_by_key(|m| m.at);
    trail
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
