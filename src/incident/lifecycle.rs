//! The incident state machine, as pure functions: `(incident, event) -> (incident', entries)`.
//!
//! Nothing here performs I/O; the engine commits what [`apply`] returns and only then tells the
//! channel. Time comes in as an argument.

use chrono::{DateTime, Utc};

use super::roles::{self, Role};
use super::severity::{Classification, Policy};
use super::{
    Actor, ChannelRef, Draft, Incident, IncidentId, Severity, Stamp, Status, TimelineEvent,
};

/// A kind of step someone can take on an incident; each command maps to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Take the incident (`/incident-ack`).
    Acknowledge,
    /// Post a status update, possibly moving the status.
    Update,
    /// Raise or lower the severity.
    ChangeSeverity,
    /// Add a note for the record.
    Note,
    /// Declare it over for users.
    Resolve,
    /// Mitigate: rollback, scale, runbook actions.
    Mitigate,
    /// Look closer: diagnose, verify.
    Investigate,
    /// Write the report, which closes the incident.
    Close,
    /// Add or tick follow-up actions.
    FollowUp,
    /// Take or hand over a role (commander, comms lead, scribe).
    AssignRole,
    /// Read the incident.
    Read,
}

/// Whether `step` is possible for an incident in `status`.
pub fn allows(status: Status, step: Step) -> bool {
    match step {
        Step::Acknowledge
        | Step::Update
        | Step::ChangeSeverity
        | Step::Resolve
        | Step::Mitigate
        | Step::Investigate => status.is_active(),
        Step::Note | Step::AssignRole => status.is_active() || status == Status::Resolved,
        Step::Close => status == Status::Resolved,
        Step::FollowUp | Step::Read => true,
    }
}

/// Something a responder does to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `/incident-ack`.
    Acknowledge,
    /// `/incident-update`.
    PostUpdate {
        /// The status to move to, if any (an active status).
        status: Option<Status>,
        /// What happened since the last update.
        progress: String,
        /// Expected time to resolution, as written.
        eta: Option<String>,
        /// How many users are affected, as written.
        users: Option<String>,
        /// The business impact, as written.
        impact: Option<String>,
    },
    /// `/incident-severity`.
    ChangeSeverity {
        /// The new severity.
        to: Severity,
        /// Why, as given.
        reason: Option<String>,
    },
    /// `/incident-role`: `person` holds `role` from now.
    AssignRole {
        /// The role.
        role: Role,
        /// Who takes it.
        person: Actor,
    },
    /// `/incident-note`.
    AddNote {
        /// The note.
        text: String,
    },
    /// `/incident-resolve`.
    Resolve {
        /// What caused it.
        root_cause: String,
        /// What fixed it.
        resolution: String,
    },
    /// The report was written.
    Close {
        /// Where.
        report: String,
    },
    /// Something firewatch or a responder did outside the incident's fields (evidence gathered,
    /// a cluster change previewed or run): recorded on the timeline as it is. A `step` of
    /// [`Step::Read`] is firewatch's own and does not acknowledge the incident.
    Record {
        /// What kind of step it was, for the state check.
        step: Step,
        /// The entries to append.
        entries: Vec<TimelineEvent>,
        /// A live signal that raises the severity to this level (never lowers it), and why.
        raise: Option<(Severity, String)>,
    },
    /// `/incident-followup`: an action item added or done.
    FollowUp(FollowUp),
    /// Alerts arrived: firewatch records them on the timeline, raises the severity for a more
    /// severe alert as `/incident-severity` would, and with `monitor` (every alert resolved,
    /// `alerts.auto_monitor`) moves the incident to Monitoring. Firewatch's own step: it
    /// acknowledges nothing, and changes nothing but the timeline on an incident that is over.
    Alerts {
        /// The entries to append (alerts fired, all resolved).
        entries: Vec<TimelineEvent>,
        /// A more severe alert raises the severity to this level (never lowers it), and why.
        raise: Option<(Severity, String)>,
        /// Move to Monitoring.
        monitor: bool,
    },
}

/// A change to an incident's follow-up action items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    /// Add an item.
    Add(String),
    /// Tick item N (1-based, in the order added). The engine checks it exists and is open.
    Done(u32),
}

impl Event {
    /// The step this event is.
    pub fn step(&self) -> Step {
        match self {
            Event::Acknowledge => Step::Acknowledge,
            Event::PostUpdate { .. } => Step::Update,
            Event::ChangeSeverity { .. } => Step::ChangeSeverity,
            Event::AddNote { .. } => Step::Note,
            Event::AssignRole { .. } => Step::AssignRole,
            Event::Resolve { .. } => Step::Resolve,
            Event::Close { .. } => Step::Close,
            Event::FollowUp(_) => Step::FollowUp,
            Event::Record { step, .. } => *step,
            Event::Alerts { .. } => Step::Read,
        }
    }
}

/// Why an event was refused. Nothing changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The step is not possible in the incident's status.
    #[error("{id} is {status}")]
    WrongState {
        /// The incident.
        id: IncidentId,
        /// Its status.
        status: Status,
        /// What was tried.
        step: Step,
    },
    /// Someone already acknowledged it.
    #[error("{id} was already acknowledged by {} at {}", .by.by, .by.at.format("%H:%M UTC"))]
    AlreadyAcknowledged {
        /// The incident.
        id: IncidentId,
        /// The first acknowledgement.
        by: Stamp,
    },
    /// The person already holds the role.
    #[error("{person} already is {role} of {id}")]
    AlreadyHolds {
        /// The incident.
        id: IncidentId,
        /// The role.
        role: Role,
        /// Its holder.
        person: Actor,
    },
    /// The severity asked for is the current one.
    #[error("{id} is already {severity}")]
    SameSeverity {
        /// The incident.
        id: IncidentId,
        /// Its severity.
        severity: Severity,
    },
}

/// The result of an accepted event: the incident after it, and what to append to its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The incident after the event (same `version`; the store bumps it on commit).
    pub incident: Incident,
    /// New timeline entries, in order.
    pub entries: Vec<TimelineEvent>,
}

/// What an incident is opened with.
#[derive(Debug, Clone)]
pub struct Report {
    /// The reported impact.
    pub summary: String,
    /// The affected service.
    pub service: String,
    /// Its severity and why.
    pub classification: Classification,
    /// Where it was reported.
    pub channel: ChannelRef,
    /// The roles paged: the severity's, plus the service's owners.
    pub paged: Vec<String>,
}

/// Opens an incident: `Investigating`, first update and acknowledgement due by the severity's
/// cadence and response target.
pub fn open(report: Report, by: &Actor, now: DateTime<Utc>, policy: &Policy) -> Draft {
    open_at(report, by, now, now, policy)
}

/// Opens an incident reported at `now` about a problem that began at `detected` (an alert's
/// start): the detection time is `detected`, so acknowledgement is due by the response target
/// counted from it (possibly at once) and the response times count from it; the first update
/// is due a cadence after `now`.
pub fn open_at(
    report: Report,
    by: &Actor,
    detected: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Draft {
    let severity = report.classification.severity;
    let level = policy.level(severity);
    let reason = report.classification.to_string();
    Draft {
        entries: vec![TimelineEvent::Detected {
            summary: report.summary.clone(),
            service: report.service.clone(),
            severity,
            reason: reason.clone(),
            paged: report.paged,
        }],
        summary: report.summary,
        service: report.service,
        severity,
        severity_reason: reason,
        channel: report.channel,
        opened: Stamp {
            by: by.clone(),
            at: detected,
        },
        next_update_due: now + level.update_every.as_delta(),
        ack_due: detected + level.respond_within.as_delta(),
    }
}

/// Applies `event`, done by `by` at `now`, to `incident`.
///
/// # Errors
/// A [`Refusal`] when the event is not possible now; the incident is then unchanged.
///
/// # Guarantees
/// Any accepted responder action on an unacknowledged active incident also acknowledges it
/// (recorded as an implicit acknowledgement): whoever acts first is the commander.
pub fn apply(
    incident: &Incident,
    event: Event,
    by: &Actor,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<Outcome, Refusal> {
    if !allows(incident.status, event.step()) {
        return Err(Refusal::WrongState {
            id: incident.id,
            status: incident.status,
            step: event.step(),
        });
    }
    let stamp = Stamp {
        by: by.clone(),
        at: now,
    };
    let mut change = Change {
        next: incident.clone(),
        entries: Vec::new(),
        now,
        policy,
    };
    change.take_command(incident, &event, &stamp)?;
    match event {
        Event::Acknowledge => {}
        Event::PostUpdate {
            status,
            progress,
            eta,
            users,
            impact,
        } => change.post_update(status, progress, Said { eta, users, impact }),
        Event::ChangeSeverity { to, reason } => {
            if to == incident.severity {
                return Err(Refusal::SameSeverity {
                    id: incident.id,
                    severity: to,
                });
            }
            let why = match &reason {
                Some(reason) => format!("changed by {by}: {reason}"),
                None => format!("changed by {by}"),
            };
            change.set_severity(to, why, reason);
        }
        Event::AddNote { text } => change.entries.push(TimelineEvent::Note { text }),
        Event::AssignRole { role, person } => {
            if let Some(holder) = incident.holder(role).filter(|h| same_account(h, &person)) {
                return Err(Refusal::AlreadyHolds {
                    id: incident.id,
                    role,
                    person: holder.clone(),
                });
            }
            change.assign(role, person);
        }
        Event::Resolve {
            root_cause,
            resolution,
        } => change.resolve(stamp, root_cause, resolution),
        Event::Close { report } => {
            change.next.status = Status::Closed;
            change.next.closed_at = Some(now);
            change.entries.push(TimelineEvent::Closed { report });
        }
        Event::FollowUp(FollowUp::Add(text)) => {
            change.entries.push(TimelineEvent::FollowupAdded { text });
        }
        Event::FollowUp(FollowUp::Done(n)) => {
            change.entries.push(TimelineEvent::FollowupDone { n });
        }
        Event::Record { entries, raise, .. } => change.record(entries, raise),
        Event::Alerts {
            entries,
            raise,
            monitor,
        } => change.alerts(entries, raise, monitor, by),
    }
    Ok(Outcome {
        incident: change.next,
        entries: change.entries,
    })
}

/// An accepted event being applied: the incident as it becomes, and its new entries.
struct Change<'a> {
    next: Incident,
    entries: Vec<TimelineEvent>,
    now: DateTime<Utc>,
    policy: &'a Policy,
}

/// What an update says besides its progress, as written.
struct Said {
    eta: Option<String>,
    users: Option<String>,
    impact: Option<String>,
}

impl Change<'_> {
    /// Who takes the incident: an explicit acknowledgement is refused when someone already
    /// took it; any responder step on an unacknowledged active incident acknowledges it, and
    /// the one who acknowledges becomes commander unless someone was named (before, or by this
    /// very step).
    fn take_command(
        &mut self,
        incident: &Incident,
        event: &Event,
        stamp: &Stamp,
    ) -> Result<(), Refusal> {
        let explicit = *event == Event::Acknowledge;
        if let (Some(first), true) = (&incident.acknowledged, explicit) {
            return Err(Refusal::AlreadyAcknowledged {
                id: incident.id,
                by: first.clone(),
            });
        }
        let by_responder = event.step() != Step::Read;
        if incident.acknowledged.is_none() && incident.status.is_active() && by_responder {
            self.next.acknowledged = Some(stamp.clone());
            self.next.ack_due = None;
            self.entries.push(TimelineEvent::Acknowledged {
                implicit: !explicit,
            });
            let names_commander = matches!(
                event,
                Event::AssignRole {
                    role: Role::Commander,
                    ..
                }
            );
            if incident.holder(Role::Commander).is_none() && !names_commander {
                self.assign(Role::Commander, stamp.by.clone());
            }
        }
        Ok(())
    }

    /// `person` holds `role` from now, in place of its holder (a handover).
    fn assign(&mut self, role: Role, person: Actor) {
        let previous = self.next.holder(role).cloned();
        roles::assign(&mut self.next.roles, role, person.clone(), self.now);
        self.entries.push(TimelineEvent::RoleAssigned {
            role,
            person,
            previous,
        });
    }

    /// A status update, moving the status when asked; the next update is due a cadence later.
    fn post_update(&mut self, status: Option<Status>, progress: String, said: Said) {
        let from = self.next.status;
        if let Some(to) = status.filter(|to| *to != from) {
            self.next.status = to;
            self.entries.push(TimelineEvent::StatusChanged { from, to });
        }
        let Said { eta, users, impact } = said;
        self.entries.push(TimelineEvent::Updated {
            progress,
            eta,
            users,
            impact,
        });
        promise_update(&mut self.next, self.now, self.policy);
    }

    /// A new severity (`why` for the incident, `reason` for the timeline): its update cadence
    /// and, for an unacknowledged incident, its (possibly shorter) response target apply.
    fn set_severity(&mut self, to: Severity, why: String, reason: Option<String>) {
        let from = self.next.severity;
        self.next.severity = to;
        self.next.severity_reason = why;
        self.entries
            .push(TimelineEvent::SeverityChanged { from, to, reason });
        promise_update(&mut self.next, self.now, self.policy);
        tighten_ack_target(&mut self.next, self.policy);
    }

    /// Resolved: no more updates or acknowledgement are due.
    fn resolve(&mut self, stamp: Stamp, root_cause: String, resolution: String) {
        let next = &mut self.next;
        next.status = Status::Resolved;
        next.resolved = Some(stamp);
        next.root_cause = Some(root_cause.clone());
        next.resolution = Some(resolution.clone());
        next.next_update_due = None;
        next.ack_due = None;
        self.entries.push(TimelineEvent::Resolved {
            root_cause,
            resolution,
        });
    }

    /// Entries recorded as they are; a live signal raises an active incident's severity (never
    /// lowers it).
    fn record(&mut self, recorded: Vec<TimelineEvent>, raise: Option<(Severity, String)>) {
        self.entries.extend(recorded);
        let active = self.next.status.is_active();
        if let Some((to, why)) = raise.filter(|(to, _)| *to < self.next.severity && active) {
            let why = format!("raised by the cluster: {why}");
            self.set_severity(to, why.clone(), Some(why));
        }
    }

    /// Alerts recorded; on an active incident, a more severe alert raises the severity and
    /// `monitor` moves it to Monitoring.
    fn alerts(
        &mut self,
        entries: Vec<TimelineEvent>,
        raise: Option<(Severity, String)>,
        monitor: bool,
        by: &Actor,
    ) {
        self.entries.extend(entries);
        if !self.next.status.is_active() {
            return;
        }
        if let Some((to, why)) = raise.filter(|(to, _)| *to < self.next.severity) {
            self.set_severity(to, format!("raised by {by}: {why}"), Some(why));
        }
        let from = self.next.status;
        if monitor && from != Status::Monitoring {
            self.next.status = Status::Monitoring;
            self.entries.push(TimelineEvent::StatusChanged {
                from,
                to: Status::Monitoring,
            });
        }
    }
}

/// Whether `a` and `b` are the same account.
fn same_account(a: &Actor, b: &Actor) -> bool {
    a.platform == b.platform && a.id == b.id
}

/// A raised severity has a shorter response target: an unacknowledged incident is due for
/// acknowledgement by the earlier of its old deadline and the new severity's target counted from
/// when it was opened (possibly at once).
fn tighten_ack_target(incident: &mut Incident, policy: &Policy) {
    if let Some(due) = incident.ack_due {
        let target = incident.opened.at + policy.level(incident.severity).respond_within.as_delta();
        incident.ack_due = Some(due.min(target));
    }
}

/// Promises the next update one cadence of the (possibly new) severity from now.
fn promise_update(incident: &mut Incident, now: DateTime<Utc>, policy: &Policy) {
    incident.next_update_due = Some(now + policy.level(incident.severity).update_every.as_delta());
}

#[cfg(test)]
pub(crate) mod tests;
