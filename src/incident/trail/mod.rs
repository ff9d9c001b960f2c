//! The paper trail: what the post-incident report, `/incident-status` and the resolution message
//! derive from an incident's timeline — the runbook's milestones, the team's response times and
//! the follow-up action items. Pure functions of the stored timeline.
//!
//! [`derive()`] is the one place that reads timeline entries for the report: a new kind of entry
//! (a cluster mutation, a verification) becomes a milestone by adding a match arm there; what
//! the team did goes to the Actions Taken list ([`actions`]).

mod actions;

use chrono::{DateTime, TimeDelta, Utc};

use self::actions::Ledger;
pub use self::actions::{Action, since_last_update};
use super::{Incident, Role, Severity, Status, TimelineEntry, TimelineEvent};
use crate::message::capitalise;

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionItem {
    /// Its number, 1-based, in the order added.
    pub n: u32,
    /// What is to be done.
    pub text: String,
    /// Who added it.
    pub by: String,
    /// Whether it was ticked.
    pub done: bool,
    /// Its issue in the tracker (key, web page), once filed.
    pub issue: Option<(String, String)>,
    /// Whether it is to be filed in a tracker and is not yet.
    pub unfiled: bool,
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
    /// The latest `--impact` given on an update.
    pub business_impact: Option<String>,
    /// Notes starting with `prevention:`, without the prefix.
    pub prevention: Vec<String>,
    /// What verified the fix: `/incident-verify` checks and verification Job results.
    pub verification: Vec<String>,
    /// Who held each role and from when, in the order they took it.
    pub roles: Vec<Spell>,
    /// What the team did, in time order: every update's progress, every change firewatch ran
    /// or refused (who asked, who approved), every verification verdict.
    pub actions: Vec<Action>,
    /// The severity's course: the highest it reached and its last change.
    pub severity: SeverityCourse,
    /// Every service the incident touched, in the order they joined it.
    pub services: Vec<String>,
}

/// Someone's time in a role: from `from` until the next holder's `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spell {
    /// The role.
    pub role: Role,
    /// Who held it.
    pub person: String,
    /// From when.
    pub from: DateTime<Utc>,
}

/// The highest severity an incident reached and its last change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeverityCourse {
    /// The most severe level it had (`None` before its detection is read).
    pub peak: Option<Severity>,
    /// The last change: to what, when and by whom.
    pub last_change: Option<(Severity, DateTime<Utc>, String)>,
}

impl SeverityCourse {
    /// Takes `severity` into account as a level the incident had.
    fn had(&mut self, severity: Severity) {
        self.peak = Some(self.peak.map_or(severity, |p| p.min(severity)));
    }
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
    let mut walk = Walk::default();
    for entry in timeline {
        walk.read(entry);
    }
    walk.status_moved(None);
    let mut trail = walk.trail;
    trail.actions = walk.ledger.into_actions();
    if !trail.services.contains(&incident.service) {
        trail.services.push(incident.service.clone());
    }
    trail.metrics = response_times(incident, &trail.moments);
    // Stable: entries of one instant keep the order they were read in, which is the runbook's.
    trail.moments.sort_by_key(|m| m.at);
    trail
}

/// The trail as it is read, entry by entry.
#[derive(Default)]
struct Walk {
    trail: Trail,
    /// Milestones already on the trail: each counts once, the first time it is reached.
    reached: Vec<Milestone>,
    /// Whether a `root cause:` note named the root cause before the resolution did.
    root_cause_noted: bool,
    /// A status move whose update (recorded right after it) is still to be read.
    moved: Option<(DateTime<Utc>, String, Status)>,
    /// What the team did, for the Actions Taken list.
    ledger: Ledger,
}

impl Walk {
    /// Adds what one entry contributes: moments, milestones, action items, notes for the report.
    fn read(&mut self, entry: &TimelineEntry) {
        let (at, who) = (entry.at, &entry.actor.to_string());
        if let TimelineEvent::Updated { progress, .. } = &entry.event {
            self.status_moved(Some(progress));
        } else {
            self.status_moved(None);
        }
        self.ledger.read(entry);
        match &entry.event {
            TimelineEvent::Detected {
                severity,
                summary,
                service,
                ..
            } => {
                self.trail.severity.had(*severity);
                self.touched(service);
                let detail = format!(" ({severity}): {summary}");
                self.reach(at, who, Milestone::Detected, detail);
            }
            TimelineEvent::Updated {
                progress,
                users,
                impact,
                ..
            } => {
                if let Some(impact) = impact {
                    self.trail.business_impact = Some(impact.clone());
                }
                self.updated(at, who, progress, users.as_deref());
            }
            TimelineEvent::SeverityChanged { from, to, reason } => {
                self.trail.severity.had(*to);
                self.trail.severity.last_change = Some((*to, at, who.clone()));
                let moved = format!(": severity {from} → {to}");
                self.reach(at, who, Milestone::AssessmentComplete, moved);
                let why = reason.as_deref().map(|r| format!(": {r}"));
                let why = why.unwrap_or_default();
                self.moment(at, who, format!("Severity {from} → {to}{why}"));
            }
            TimelineEvent::StatusChanged { to, .. } => self.moved = Some((at, who.clone(), *to)),
            TimelineEvent::Note { text } => self.note(at, who, text),
            TimelineEvent::Resolved { root_cause, .. } => self.resolved(at, who, root_cause),
            TimelineEvent::MutationApplied {
                what,
                before,
                after,
                ..
            } => {
                let done = format!(": {what} ({before} → {after})");
                self.reach(at, who, Milestone::MitigationImplemented, done);
            }
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
            | TimelineEvent::PostUndelivered { .. }
            | TimelineEvent::Paged { .. }
            | TimelineEvent::JobStarted { .. } => {
                self.moment(at, who, capitalise(&entry.event.describe()));
            }
            TimelineEvent::Verified { .. } | TimelineEvent::JobFinished { .. } => {
                self.verification(at, who, &entry.event);
            }
            TimelineEvent::AlertsFired { service, .. } => {
                if let Some(service) = service {
                    self.touched(service);
                }
                self.moment(at, who, alert_moment(&entry.event));
            }
            TimelineEvent::AlertsResolved { .. } => {
                self.moment(at, who, alert_moment(&entry.event));
            }
            TimelineEvent::FollowupAdded { text } => self.action_item(text, who),
            TimelineEvent::FollowupDone { n } => self.action_item_done(*n),
            TimelineEvent::FollowupFiled { n, key, url } => {
                if let Some(item) = self.trail.action_items.iter_mut().find(|i| i.n == *n) {
                    item.issue = Some((key.clone(), url.clone()));
                }
            }
            TimelineEvent::Acknowledged { .. } => self.moment(at, who, "Acknowledged".into()),
            TimelineEvent::RoleAssigned {
                role,
                person,
                previous,
            } => {
                self.trail.roles.push(Spell {
                    role: *role,
                    person: person.to_string(),
                    from: at,
                });
                let handover = previous
                    .as_ref()
                    .map_or_else(String::new, |p| format!(", taking over from {p}"));
                let what = format!("{}: {person}{handover}", capitalise(&role.to_string()));
                self.moment(at, who, what);
            }
            TimelineEvent::UpdateOverdue { .. }
            | TimelineEvent::Closed { .. }
            | TimelineEvent::PublicUpdate { .. }
            | TimelineEvent::ReportPublished { .. } => {}
        }
    }

    /// A status update: the first completes the assessment; the latest `--users` counts.
    fn updated(&mut self, at: DateTime<Utc>, who: &str, progress: &str, users: Option<&str>) {
        if let Some(users) = users {
            self.trail.users_affected = Some(users.to_owned());
        }
        let detail = format!(": {progress}");
        self.reach(at, who, Milestone::AssessmentComplete, detail);
    }

    /// A service the incident touched.
    fn touched(&mut self, service: &str) {
        if !self.trail.services.iter().any(|s| s == service) {
            self.trail.services.push(service.to_owned());
        }
    }

    /// Settles a pending status move with the words of the update that made it (`None` when
    /// the next entry is no update): after the update's own assessment, in the runbook's order.
    fn status_moved(&mut self, words: Option<&str>) {
        let Some((at, who, to)) = self.moved.take() else {
            return;
        };
        if let Some(words) = words {
            self.reach(
                at,
                &who,
                Milestone::AssessmentComplete,
                format!(": {words}"),
            );
        }
        let words = words.map(|w| format!(": {w}")).unwrap_or_default();
        self.status_changed(at, &who, to, &words);
    }

    /// Resolved: the resolution's root cause unless a note named it first.
    fn resolved(&mut self, at: DateTime<Utc>, who: &str, root_cause: &str) {
        if !self.root_cause_noted {
            let cause = format!(": {root_cause}");
            self.reach(at, who, Milestone::RootCauseIdentified, cause);
        }
        self.reach(at, who, Milestone::Resolved, String::new());
    }

    /// A verification (checks or a Job's result): a moment, and a line of the report's
    /// Verification section.
    fn verification(&mut self, at: DateTime<Utc>, who: &str, event: &TimelineEvent) {
        let what = capitalise(&event.describe());
        let when = at.format("%H:%M");
        self.trail.verification.push(format!("{when} {what}"));
        self.moment(at, who, what);
    }

    /// Action item `n` ticked off.
    fn action_item_done(&mut self, n: u32) {
        if let Some(item) = self.trail.action_items.iter_mut().find(|i| i.n == n) {
            item.done = true;
        }
    }

    /// A moment that is no milestone (notes, escalations, severity, approvals).
    fn moment(&mut self, at: DateTime<Utc>, who: &str, what: String) {
        self.trail.moments.push(Moment {
            at,
            milestone: None,
            what,
            who: who.to_owned(),
        });
    }

    /// `milestone` reached, described as its label followed by `detail`; only the first time.
    fn reach(&mut self, at: DateTime<Utc>, who: &str, milestone: Milestone, detail: String) {
        if self.reached.contains(&milestone) {
            return;
        }
        self.reached.push(milestone);
        self.trail.moments.push(Moment {
            at,
            milestone: Some(milestone),
            what: format!("{}{detail}", milestone.label()),
            who: who.to_owned(),
        });
    }

    /// Mitigating or Monitoring means a mitigation is in; Monitoring also means the fix is.
    /// `words` are the update's, after the status.
    fn status_changed(&mut self, at: DateTime<Utc>, who: &str, to: Status, words: &str) {
        let status = format!(" (status {to}){words}");
        if matches!(to, Status::Mitigating | Status::Monitoring) {
            self.reach(at, who, Milestone::MitigationImplemented, status.clone());
        }
        if to == Status::Monitoring {
            self.reach(at, who, Milestone::FixDeployed, status);
        }
    }

    /// A note: `root cause: …` names the root cause, `prevention: …` goes to the report's
    /// Prevention section, anything else is a moment.
    fn note(&mut self, at: DateTime<Utc>, who: &str, text: &str) {
        if let Some(cause) = tagged(text, "root cause") {
            self.root_cause_noted = true;
            let cause = format!(": {cause}");
            self.reach(at, who, Milestone::RootCauseIdentified, cause);
        } else if let Some(prevention) = tagged(text, "prevention") {
            self.trail.prevention.push(prevention.to_owned());
        } else {
            self.moment(at, who, format!("Note: {text}"));
        }
    }

    /// A new action item, numbered in the order added.
    fn action_item(&mut self, text: &str, by: &str) {
        let items = &mut self.trail.action_items;
        let n = u32::try_from(items.len() + 1).unwrap_or(u32::MAX);
        items.push(ActionItem {
            n,
            text: text.to_owned(),
            by: by.to_owned(),
            done: false,
            issue: None,
            unfiled: false,
        });
    }
}

/// An alert entry as the report's Timeline says it: `Alert fired: …`, `Alerts resolved: …`.
fn alert_moment(event: &TimelineEvent) -> String {
    match event {
        TimelineEvent::AlertsFired {
            count,
            alerts,
            refired,
            previous,
            ..
        } => {
            let again = *refired > 0 && refired == count;
            let head = if again {
                "Alert fired again"
            } else {
                "Alert fired"
            };
            let mut text = format!("{head}: {}", alerts.join("; "));
            if let Some(previous) = previous {
                text.push_str(&format!(" (previous incident {previous})"));
            }
            text
        }
        other => format!("Alerts resolved: {}", other.describe()),
    }
}

/// The response times of `incident`, from detection.
fn response_times(incident: &Incident, moments: &[Moment]) -> Metrics {
    let opened = incident.opened.at;
    let since_detection = |m: Milestone| {
        moments
            .iter()
            .find(|x| x.milestone == Some(m))
            .map(|x| x.at - opened)
    };
    Metrics {
        acknowledge: incident.acknowledged.as_ref().map(|a| a.at - opened),
        mitigate: since_detection(Milestone::MitigationImplemented),
        resolve: incident.resolved.as_ref().map(|r| r.at - opened),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Status;
    use crate::incident::lifecycle::tests::{incident, person, t0};

    #[test]
    fn services_affected_include_those_alerts_brought() {
        let incident = incident(Status::Investigating, false);
        let fired = |seq, service: Option<&str>| TimelineEntry {
            seq,
            at: t0(),
            actor: person("alertmanager"),
            event: TimelineEvent::AlertsFired {
                group: format!("group-{seq}"),
                count: 1,
                alerts: vec!["ApiDown".into()],
                refired: 0,
                previous: None,
                service: service.map(Into::into),
            },
        };
        let timeline = [
            fired(1, Some("payments")),
            fired(2, Some("freightliner")),
            fired(3, None),
            fired(4, Some("payments")),
        ];
        // Once each, in the order the timeline touched them.
        assert_eq!(
            derive(&incident, &timeline).services,
            ["payments", "freightliner"]
        );
    }
}
