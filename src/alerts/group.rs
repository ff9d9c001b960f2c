//! An alert group's life, as pure functions: how a notification's alerts change the members an
//! incident keeps ([`merge`]), and what the notification does ([`plan`]): nothing (a repeat),
//! record silently, attach to the group's active incident, open a new incident, or join the
//! storm incident once `alerts.max_new_incidents` were opened within a minute.
//!
//! The store reads an [`AlertState`] inside its transaction and writes the [`Decision`] the
//! engine makes from the plan, so two replicas taking notifications of one group at once see
//! each other's effects.
//!
//! # Guarantees
//! - A repeat (every alert in the state it is known in) changes nothing.
//! - An older state never overwrites a newer one: an alert whose start is before the known one,
//!   or a firing state of a start already known to have resolved, is ignored.
//! - A new incident is opened only for alerts that are new, or fire again, since the group's
//!   previous incident knew them: a resolved incident is not reopened by a resend of the alerts
//!   it already had.

use chrono::{DateTime, Utc};

use super::payload::{Alert, AlertStatus};
use super::rules::Rules;
use crate::incident::lifecycle::Outcome;
use crate::incident::severity::Classification;
use crate::incident::{Draft, Incident, IncidentId};

/// An alert as an incident keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The group it came in (`groupKey`).
    pub group: String,
    /// The alert, as last received.
    pub alert: Alert,
    /// How often it started firing while in the incident (more than 1: it fired again).
    pub firings: u32,
    /// Whether a message has shown it since it last started firing.
    pub announced: bool,
}

impl Member {
    /// Whether it fires.
    pub fn firing(&self) -> bool {
        self.alert.firing()
    }
}

/// What a notification's alerts did to a group's members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Merge {
    /// The members to write: new ones and changed ones.
    pub written: Vec<Member>,
    /// Every member after the notification.
    pub after: Vec<Member>,
    /// Fingerprints that started firing for the first time.
    pub fired: Vec<String>,
    /// Fingerprints that fired again after they had resolved.
    pub refired: Vec<String>,
    /// Fingerprints that resolved.
    pub resolved: Vec<String>,
}

impl Merge {
    /// Whether anything is to be written.
    pub fn changed(&self) -> bool {
        !self.written.is_empty()
    }

    /// Whether alerts started firing (for the first time or again).
    pub fn fires(&self) -> bool {
        !self.fired.is_empty() || !self.refired.is_empty()
    }

    /// The members that started firing, in the notification's order.
    pub fn newly_firing(&self) -> impl Iterator<Item = &Member> {
        self.after.iter().filter(|m| {
            self.fired.contains(&m.alert.fingerprint) || self.refired.contains(&m.alert.fingerprint)
        })
    }
}

/// Merges `incoming` (of group `group`) into the members `known` for it.
pub fn merge(known: &[Member], incoming: &[Alert], group: &str) -> Merge {
    let mut merge = Merge {
        after: known.to_vec(),
        ..Merge::default()
    };
    for alert in incoming {
        let fingerprint = alert.fingerprint.clone();
        let Some(at) = merge
            .after
            .iter()
            .position(|m| m.alert.fingerprint == fingerprint)
        else {
            let member = Member {
                group: group.to_owned(),
                alert: alert.clone(),
                firings: u32::from(alert.firing()),
                announced: false,
            };
            if alert.firing() {
                merge.fired.push(fingerprint);
            }
            merge.written.push(member.clone());
            merge.after.push(member);
            continue;
        };
        let old = &merge.after[at];
        let mut new = Member {
            alert: alert.clone(),
            ..old.clone()
        };
        use AlertStatus::{Firing, Resolved};
        let newer = alert.starts_at > old.alert.starts_at;
        match (old.alert.status, alert.status) {
            // An older state, or a firing already known to have resolved: news of the past.
            _ if alert.starts_at < old.alert.starts_at => continue,
            (Resolved, Firing) if !newer => continue,
            (Resolved, Firing) | (Firing, Firing) if newer => {
                new.firings += 1;
                new.announced = false;
                merge.refired.push(fingerprint);
            }
            (Firing, Resolved) => merge.resolved.push(fingerprint),
            _ if new == *old => continue,
            _ => {}
        }
        merge.written.push(new.clone());
        merge.after[at] = new;
    }
    merge
}

/// What an alert group's notification finds in the store, read inside the transaction that
/// writes its effect.
#[derive(Debug, Clone, Default)]
pub struct AlertState {
    /// The group's latest incident (active or not).
    pub latest: Option<Incident>,
    /// The group's members in it.
    pub members: Vec<Member>,
    /// Members of that incident in other groups (a storm incident's), and how many fire.
    pub others: (u32, u32),
    /// The latest storm incident.
    pub storm: Option<Incident>,
    /// Incidents opened from alert groups within the last minute (storms not counted).
    pub opened_recently: u32,
}

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Nowhere: nothing is new.
    Nothing,
    /// The group's latest incident: attached when it is active, recorded silently otherwise.
    Latest,
    /// A new incident for the group.
    Open,
    /// The storm incident (opened now when none is active).
    Storm,
}

/// What a notification does, before it is written.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where it goes.
    pub target: Target,
    /// Its alerts against the members they join.
    pub merge: Merge,
    /// Every alert of the incident resolved with this notification: how many it has, and when
    /// the last one ended.
    pub all_resolved: Option<(u32, DateTime<Utc>)>,
    /// The most severe of the alerts that started firing.
    pub severity: Option<Classification>,
}

/// Plans `incoming` (group `group`) against `state`.
pub fn plan(state: &AlertState, group: &str, incoming: &[Alert], rules: &Rules) -> Plan {
    let active = state.latest.as_ref().filter(|i| i.status.is_active());
    let known = merge(&state.members, incoming, group);
    let (target, merged) = if active.is_some() {
        let target = if known.changed() {
            Target::Latest
        } else {
            Target::Nothing
        };
        (target, known)
    } else if known.fires() {
        let fresh = merge(&[], incoming, group);
        let target = if state.opened_recently >= rules.max_new_incidents {
            Target::Storm
        } else {
            Target::Open
        };
        (target, fresh)
    } else if known.changed() && state.latest.is_some() {
        (Target::Latest, known)
    } else {
        (Target::Nothing, known)
    };
    let severity = merged
        .fires()
        .then(|| rules.classify(merged.newly_firing().map(|m| &m.alert)));
    let (others, others_firing) = state.others;
    let all_resolved = (target == Target::Latest
        && active.is_some()
        && !merged.resolved.is_empty()
        && others_firing == 0
        && !merged.after.iter().any(Member::firing))
    .then(|| {
        let last = merged
            .after
            .iter()
            .filter_map(|m| m.alert.ends_at)
            .max()
            .unwrap_or_default();
        let count = u32::try_from(merged.after.len()).unwrap_or(u32::MAX);
        (count.saturating_add(others), last)
    });
    Plan {
        target,
        merge: merged,
        all_resolved,
        severity,
    }
}

/// What the store writes for a notification.
#[derive(Debug, Clone)]
pub struct Decision {
    /// What happens to an incident.
    pub change: Change,
    /// The group's members to write, in the incident the change leaves them in.
    pub members: Vec<Member>,
    /// Whether alerts started firing that a message should show (at most one message per
    /// incident every `alerts.update_every`).
    pub announce: bool,
}

impl Decision {
    /// Nothing is written.
    pub fn nothing() -> Self {
        Self {
            change: Change::Nothing,
            members: Vec::new(),
            announce: false,
        }
    }
}

/// What a notification does to an incident.
#[derive(Debug, Clone)]
pub enum Change {
    /// Nothing at all (a repeat).
    Nothing,
    /// Members are written under the group's latest incident, which does not change.
    Keep,
    /// Incident `id` (the group's, or the storm incident the group joins) changes as the
    /// state machine said.
    Update {
        /// The incident.
        id: IncidentId,
        /// The incident after, and its new timeline entries.
        outcome: Box<Outcome>,
    },
    /// A new incident is opened: the group's own, or (`storm`) the storm incident, the group
    /// its first.
    Open {
        /// The incident to open.
        draft: Box<Draft>,
        /// Whether it is the storm incident.
        storm: bool,
    },
    /// The group needs a new incident, and none was prepared (its evidence is gathered outside
    /// the transaction): nothing is written; ask again with one.
    NeedsDraft,
}

#[cfg(test)]
mod tests;
