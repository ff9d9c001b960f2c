//! Incident roles: who leads the incident (commander), who keeps the channel and stakeholders
//! told (comms lead) and who keeps the record (scribe). Values only.
//!
//! # Guarantees
//! An incident has at most one holder of each role at a time; a handover replaces the holder
//! and is a timeline entry ([`super::TimelineEvent::RoleAssigned`]), so the timeline says who
//! held each role and from when.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Actor;

/// A role someone holds on one incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Leads the response and decides; the first to acknowledge unless someone was named.
    Commander,
    /// Posts the updates; ⏰ reminders name them when there is one.
    Comms,
    /// Keeps the timeline and the notes.
    Scribe,
}

impl Role {
    /// Every role, in the order they are shown.
    pub const ALL: [Role; 3] = [Role::Commander, Role::Comms, Role::Scribe];

    /// The word used in commands and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Commander => "commander",
            Role::Comms => "comms",
            Role::Scribe => "scribe",
        }
    }

    /// Parses a role word, case-insensitively.
    ///
    /// # Errors
    /// A message naming the text and listing the roles.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("'{text}' is not a role (commander, comms or scribe)"))
    }
}

impl fmt::Display for Role {
    /// The role as people say it: `incident commander`, `comms lead`, `scribe`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Commander => "incident commander",
            Role::Comms => "comms lead",
            Role::Scribe => "scribe",
        })
    }
}

/// Who holds a role now, and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The role.
    pub role: Role,
    /// The person.
    pub person: Actor,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// The current holder of `role` among `holders`.
pub fn holder(holders: &[Holder], role: Role) -> Option<&Holder> {
    holders.iter().find(|h| h.role == role)
}

/// `holders` with `role` given to `person` from `since`, replacing its holder; in role order.
pub fn assign(holders: &mut Vec<Holder>, role: Role, person: Actor, since: DateTime<Utc>) {
    holders.retain(|h| h.role != role);
    holders.push(Holder {
        role,
        person,
        since,
    });
    holders.sort_by_key(|h| h.role);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Platform;

    fn person(name: &str) -> Actor {
        Actor {
            platform: Platform::Console,
            id: name.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_role_has_one_holder_and_a_handover_replaces_it() {
        let t = DateTime::UNIX_EPOCH;
        let mut holders = Vec::new();
        assign(&mut holders, Role::Scribe, person("carol"), t);
        assign(&mut holders, Role::Commander, person("alice"), t);
        assign(&mut holders, Role::Commander, person("bob"), t);
        assert_eq!(holders.len(), 2);
        assert_eq!(holders[0].role, Role::Commander, "kept in role order");
        assert_eq!(
            holder(&holders, Role::Commander).unwrap().person.name,
            "bob"
        );
        assert!(holder(&holders, Role::Comms).is_none());
    }

    #[test]
    fn roles_parse_by_their_word_and_refuse_others() {
        assert_eq!(Role::parse("Comms"), Ok(Role::Comms));
        assert_eq!(
            Role::parse("boss").unwrap_err(),
            "'boss' is not a role (commander, comms or scribe)"
        );
    }
}
