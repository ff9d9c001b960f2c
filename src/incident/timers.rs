//! What a due timer means, as a pure function: the response target (`ack`) and the promised
//! update (`update`). The store claims the due row and commits what [`on_due`] decides in one
//! transaction; the engine then tells the channel.

use chrono::{DateTime, Utc};

use super::severity::Policy;
use super::{Actor, Incident, IncidentId, TimelineEvent};

/// The kinds of timer an incident has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// Acknowledgement is due by the severity's response target.
    Ack,
    /// The next update promised in the channel.
    Update,
}

impl TimerKind {
    /// The name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Ack => "ack",
            TimerKind::Update => "update",
        }
    }

    /// Parses a stored kind.
    pub fn parse(text: &str) -> Option<Self> {
        [TimerKind::Ack, TimerKind::Update]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A timer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// The incident it belongs to.
    pub incident: IncidentId,
    /// Which timer.
    pub kind: TimerKind,
    /// What was promised: the acknowledgement deadline, the next update.
    pub due: DateTime<Utc>,
    /// When the scheduler acts on it next.
    pub fire_at: DateTime<Utc>,
    /// How often it fired since `due` was last set.
    pub fired: u32,
}

/// What firing a due timer does: timeline entries (by `by`) and when to fire again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// Who the entries are attributed to (firewatch itself).
    pub by: Actor,
    /// What to append to the timeline; empty when the timer had nothing left to say.
    pub entries: Vec<TimelineEvent>,
    /// When to fire again; `None`: never (until the due time is set anew).
    pub next: Option<DateTime<Utc>>,
}

/// The name timeline entries of firewatch itself carry.
pub const BOT_NAME: &str = "firewatch";

/// firewatch, as the actor of what it does on its own, on the incident's platform.
pub fn bot(incident: &Incident) -> Actor {
    Actor {
        platform: incident.channel.platform,
        id: BOT_NAME.into(),
        name: BOT_NAME.into(),
    }
}

/// Decides what `timer`, due at `now`, does to `incident` (as stored inside the claiming
/// transaction). `escalate_to` are the roles a missed response target pages.
///
/// # Guarantees
/// - A response target fires at most once: it escalates when the incident is still active and
///   unacknowledged, and is never due again (acknowledging deletes it).
/// - An update reminder repeats every cadence of the incident's *current* severity until an
///   update is posted (which sets a new due time); however long firewatch was down, an overdue
///   reminder fires once.
pub fn on_due(
    incident: &Incident,
    timer: &Timer,
    now: DateTime<Utc>,
    policy: &Policy,
    escalate_to: &[String],
) -> Firing {
    let by = bot(incident);
    let active = incident.status.is_active();
    match timer.kind {
        TimerKind::Ack if active && incident.acknowledged.is_none() => Firing {
            by,
            entries: vec![TimelineEvent::ResponseTargetMissed {
                target: policy.level(incident.severity).respond_within.to_string(),
                paged: escalate_to.to_vec(),
            }],
            next: None,
        },
        TimerKind::Update if active => Firing {
            by,
            entries: vec![TimelineEvent::UpdateOverdue {
                due: timer.due,
                commander: incident.update_lead().map(ToString::to_string),
            }],
            next: Some(now + policy.level(incident.severity).update_every.as_delta()),
        },
        // Stale: acknowledged or over since the row was written. Nothing to say, never again.
        _ => Firing {
            by,
            entries: Vec::new(),
            next: None,
        },
    }
}
