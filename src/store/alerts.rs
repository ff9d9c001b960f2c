//! What the store answers about alerts: what a notification did ([`AlertsTaken`]) and the
//! "more alerts firing" messages that fell due ([`Announcement`]).

use crate::alerts::messages::Shown;
use crate::alerts::{AlertState, Decision};
use crate::incident::{Incident, TimelineEvent};

/// The engine's decision for a notification, made inside the store's transaction from the
/// group's state as stored.
pub type AlertDecide<'a> = &'a (dyn Fn(&AlertState) -> Decision + Send + Sync);

/// What [`super::Store::take_alerts`] did.
#[derive(Debug, Clone)]
pub enum Taken {
    /// Nothing: every alert was in the state it is known in (or older).
    Nothing,
    /// The group needs a new incident and none was prepared: nothing was written.
    NeedsDraft,
    /// The alerts were recorded under the group's incident, which did not change.
    Kept(Box<Incident>),
    /// The incident (the group's, or the storm incident the group joined) changed.
    Updated {
        /// Before.
        before: Box<Incident>,
        /// After.
        after: Box<Incident>,
        /// The timeline entries it got.
        entries: Vec<TimelineEvent>,
    },
    /// A new incident was opened: the group's own, or (`storm`) the storm incident.
    Opened {
        /// The incident.
        incident: Box<Incident>,
        /// Whether it is the storm incident.
        storm: bool,
    },
}

/// What a notification did, committed.
#[derive(Debug, Clone)]
pub struct AlertsTaken {
    /// What happened to an incident.
    pub taken: Taken,
    /// The alerts a message shows now: a new incident's firing alerts, or those that waited
    /// to be shown once the incident's cadence allows (none while it does not).
    pub announce: Shown,
    /// The group's incident before this notification (the previous one, when a new one opened).
    pub previous: Option<Incident>,
}

/// A "more alerts firing" message that fell due: the incident and the alerts it shows (now
/// marked shown).
#[derive(Debug, Clone)]
pub struct Announcement {
    /// The incident.
    pub incident: Incident,
    /// Its alerts that started firing since its last message.
    pub shown: Shown,
}
