//! The incident domain: who opened what, how bad it is, where it stands, and what happened.
//!
//! Pure data and pure functions only: nothing here does I/O, knows a chat platform's wire format,
//! or talks to a cluster. Values are parsed at the edge ([`IncidentId::parse`], [`Severity::parse`],
//! [`Status::parse`]); once they exist they are valid.

pub mod impact;
pub mod lifecycle;
pub mod page;
pub mod roles;
pub mod severity;
pub mod timeline;
pub mod timers;
pub mod trail;

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use impact::UsersAffected;
pub use roles::Role;
pub use severity::Severity;
pub use timeline::{TimelineEntry, TimelineEvent};

use crate::message::capitalise;

/// An incident's number, shown and typed as `#12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentId(i64);

impl IncidentId {
    /// Wraps a number the store handed out.
    pub fn new(n: i64) -> Option<Self> {
        (n > 0).then_some(Self(n))
    }

    /// Parses `#12` or `12`.
    ///
    /// # Errors
    /// A message naming the text when it is not a positive incident number.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text.strip_prefix('#').unwrap_or(text);
        digits
            .parse::<i64>()
            .ok()
            .and_then(Self::new)
            .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("'{text}' is not an incident number (write it like #12)"))
    }

    /// The number itself.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where an incident stands.
///
/// `Investigating → Mitigating → Monitoring → Resolved → Closed`; the first three are *active* and
/// an incident may move between them in either direction (a fix that did not hold sends it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Opened; the team is finding out what is wrong.
    Investigating,
    /// A mitigation is being applied.
    Mitigating,
    /// A fix is in; the team watches whether it holds.
    Monitoring,
    /// Over for users; the post-incident report is still to come.
    Resolved,
    /// The report exists; nothing more happens but follow-ups.
    Closed,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Investigating,
        Status::Mitigating,
        Status::Monitoring,
        Status::Resolved,
        Status::Closed,
    ];

    /// The statuses `/incident-update --status` may set.
    pub const ACTIVE: [Status; 3] = [
        Status::Investigating,
        Status::Mitigating,
        Status::Monitoring,
    ];

    /// The lowercase name used in commands and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Investigating => "investigating",
            Status::Mitigating => "mitigating",
            Status::Monitoring => "monitoring",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    /// Whether the incident is still ongoing for users.
    pub fn is_active(self) -> bool {
        Self::ACTIVE.contains(&self)
    }

    /// Parses a status name, case-insensitively.
    ///
    /// # Errors
    /// A message naming the text and listing the statuses.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("'{text}' is not a status (investigating, mitigating, monitoring)")
            })
    }
}

impl fmt::Display for Status {
    /// The capitalised name shown in messages: `Investigating`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&capitalise(self.as_str()))
    }
}

/// The chat platform a person or channel belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// The terminal channel (`firewatch console`).
    Console,
    /// Slack.
    Slack,
    /// Discord.
    Discord,
}

impl Platform {
    /// The lowercase name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Console => "console",
            Platform::Slack => "slack",
            Platform::Discord => "discord",
        }
    }

    /// Parses a stored platform name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Console, Self::Slack, Self::Discord]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Someone who did something: a person on a platform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The platform the id belongs to.
    pub platform: Platform,
    /// The platform's id for the person (Slack `U…`, Discord snowflake, console user name).
    pub id: String,
    /// The name to show.
    pub name: String,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A chat channel an incident can be bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The platform the channel lives on.
    pub platform: Platform,
    /// The platform's channel id (Slack `C…`, Discord snowflake, console channel name).
    pub id: String,
}

/// Who did something, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Who.
    pub by: Actor,
    /// When.
    pub at: DateTime<Utc>,
}

/// An incident as the team sees it now. Its history lives in the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Its number.
    pub id: IncidentId,
    /// What was reported (`/incident-assess <description>`): the user impact.
    pub summary: String,
    /// The catalog service it affects.
    pub service: String,
    /// Current severity.
    pub severity: Severity,
    /// Why the current severity was chosen ("matched 'unavailable'", "set by alice").
    pub severity_reason: String,
    /// Where it stands.
    pub status: Status,
    /// The channel it is bound to: commands there without `#ID` are about it.
    pub channel: ChannelRef,
    /// Who opened it and when (the detection time).
    pub opened: Stamp,
    /// The first acknowledgement.
    pub acknowledged: Option<Stamp>,
    /// Who holds each role now (commander, comms lead, scribe), in role order.
    pub roles: Vec<roles::Holder>,
    /// When and by whom it was resolved.
    pub resolved: Option<Stamp>,
    /// What caused it, once resolved.
    pub root_cause: Option<String>,
    /// What fixed it, once resolved.
    pub resolution: Option<String>,
    /// When the report closed it.
    pub closed_at: Option<DateTime<Utc>>,
    /// When the next update is promised; `None` once resolved.
    pub next_update_due: Option<DateTime<Utc>>,
    /// When acknowledgement is due by the severity's response target; `None` once acknowledged.
    pub ack_due: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version; the store bumps it on every change.
    pub version: i64,
}

#[cfg(test)]
impl Incident {
    /// An investigating incident for tests: `id`, at `severity`, on `service`, opened by the
    /// console user `by` at `at` in console channel `ops`, nothing else set.
    pub(crate) fn example(
        id: i64,
        severity: Severity,
        service: &str,
        by: &str,
        at: DateTime<Utc>,
    ) -> Self {
        let by = Actor {
            platform: Platform::Console,
            id: by.into(),
            name: by.into(),
        };
        Incident {
            id: IncidentId::new(id).expect("a positive id"),
            summary: "checkout down".into(),
            service: service.into(),
            severity,
            severity_reason: "set".into(),
            status: Status::Investigating,
            channel: ChannelRef {
                platform: Platform::Console,
                id: "ops".into(),
            },
            opened: Stamp { by, at },
            acknowledged: None,
            roles: Vec::new(),
            resolved: None,
            root_cause: None,
            resolution: None,
            closed_at: None,
            next_update_due: None,
            ack_due: None,
            version: 1,
        }
    }
}

impl Incident {
    /// The holder of `role`, if anyone holds it.
    pub fn holder(&self, role: Role) -> Option<&Actor> {
        roles::holder(&self.roles, role).map(|h| &h.person)
    }

    /// The incident commander: the one named, else whoever acknowledged first.
    pub fn commander(&self) -> Option<&Actor> {
        self.holder(Role::Commander)
            .or(self.acknowledged.as_ref().map(|s| &s.by))
    }

    /// Who owes the channel its updates: the comms lead when there is one, else the commander.
    pub fn update_lead(&self) -> Option<&Actor> {
        self.holder(Role::Comms).or(self.commander())
    }
}

/// An incident about to be opened: what the store needs to give it a number.
///
/// It starts `Investigating`, unacknowledged and unresolved, with its detection as the last update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// What was reported.
    pub summary: String,
    /// The catalog service it affects.
    pub service: String,
    /// Its classified severity.
    pub severity: Severity,
    /// Why that severity.
    pub severity_reason: String,
    /// The channel it is opened in.
    pub channel: ChannelRef,
    /// Who opened it, and when.
    pub opened: Stamp,
    /// The first promised update.
    pub next_update_due: DateTime<Utc>,
    /// The acknowledgement deadline.
    pub ack_due: DateTime<Utc>,
    /// The first timeline entries (detection).
    pub entries: Vec<TimelineEvent>,
}
