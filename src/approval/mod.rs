//! Channel approvals for production changes: the policy (who must agree before a rollback, a
//! scale, a runbook action or a verification Job runs; [`Policy`]) and the ledger's values
//! (requests, votes, states). The engine's change gate puts every [`crate::ops::Mutation`]
//! through it; the store keeps the ledger. Values and rules only: nothing here does I/O.
//!
//! # Who is who
//! An account matches a role (`[roles.NAME]`) on Slack by user id (`slack`; user-group ids are
//! mentioned but not expanded), on Discord by user id (`discord_users`) or by one of the member's
//! role ids (`discord_roles`), and on the terminal by the name `firewatch console` runs as
//! (`console`). `approver_ids`/`requester_ids` name accounts directly: `slack:U…`,
//! `discord:SNOWFLAKE`, `console:NAME`. `[people.NAME]` makes several accounts one person
//! ([`People`]): a role, an approver list or an id that admits one of a person's accounts admits
//! the person on every platform, and roles and approver lists may name people. The requester
//! never counts as an approver, from any account of theirs, and a person votes once on a request.
//!
//! # Where
//! A request records the channel its card was posted in ([`NewRequest::channel`]); the engine
//! counts votes only from there.
//!
//! # Exactly once
//! A request is `pending` until enough approvals are committed; the vote that completes it moves
//! it to `approved` in the same transaction. The run then claims it `approved → running` with one
//! atomic update: whoever wins runs it, everyone else (other approvers, duplicate deliveries, the
//! scheduler resuming after a restart) finds nothing to claim. A restart resumes `approved`
//! requests (they never reached the cluster) and marks `running` ones of the process before
//! `failed` (they may have reached it): a change never runs twice.

mod people;
mod policy;

use chrono::{DateTime, Utc};

pub use people::{Members, People, Roles, roles};
pub use policy::{Person, Policy, Rule, open_to_anyone};

use crate::incident::{Actor, ChannelRef, IncidentId, Severity};
use crate::ops::Change;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Waiting for approvals.
    Pending,
    /// Enough approvals; not started yet.
    Approved,
    /// Claimed by one process, which is running it.
    Running,
    /// It ran and worked.
    Succeeded,
    /// It ran and failed, or could not run (or a restart interrupted it).
    Failed,
    /// Someone denied it.
    Denied,
    /// Nobody approved it in time.
    Expired,
    /// The incident ended (or changed so the change no longer applies) before it ran.
    Cancelled,
}

impl State {
    /// The name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Cancelled => "cancelled",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            State::Pending,
            State::Approved,
            State::Running,
            State::Succeeded,
            State::Failed,
            State::Denied,
            State::Expired,
            State::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new request, before the store numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// The incident the change mitigates.
    pub incident: IncidentId,
    /// `rollback`, `scale` or `action`.
    pub command: String,
    /// The service it acts on.
    pub service: String,
    /// The incident's severity when asked (picks the rule).
    pub severity: Severity,
    /// The change.
    pub change: Change,
    /// `rollback freightliner to the previous revision`.
    pub what: String,
    /// The dry run, as people read it.
    pub preview: String,
    /// Why.
    pub reason: Option<String>,
    /// Who asked.
    pub requested_by: Actor,
    /// The channel its card was posted in (the incident's when it was asked): votes count only
    /// there.
    pub channel: ChannelRef,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// When it expires if not approved.
    pub expires_at: DateTime<Utc>,
    /// Approvals needed.
    pub required: u32,
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its number (`R3`).
    pub id: i64,
    /// What was asked.
    pub new: NewRequest,
    /// Where it is.
    pub state: State,
    /// What running it said, once it ran (or why it closed).
    pub result: Option<String>,
    /// Who approved so far, in order.
    pub approvers: Vec<Actor>,
}

impl Request {
    /// `R3`.
    pub fn label(&self) -> String {
        format!("R{}", self.id)
    }
}

/// A vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// Approve.
    Approve,
    /// Deny.
    Deny,
}

impl Vote {
    /// The name in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Approve => "approve",
            Vote::Deny => "deny",
        }
    }
}

/// A vote as the ledger records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ballot<'a> {
    /// Who votes.
    pub voter: &'a Actor,
    /// The person they are ([`Policy::person_key`]): one vote per person, whichever of their
    /// accounts casts it.
    pub person: &'a str,
    /// For or against.
    pub vote: Vote,
    /// Why (a denial's reason).
    pub reason: Option<&'a str>,
}

/// What a vote did, committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Voted {
    /// An approval was counted; `complete` when it was the last one needed (the request is
    /// now `approved`).
    Approved {
        /// The request after the vote.
        request: Request,
        /// Whether it has enough approvals now.
        complete: bool,
    },
    /// The request was denied and closed.
    Denied(Request),
    /// This person voted on it before: nothing changed.
    Duplicate(Request),
    /// The request is no longer pending (or has expired): nothing changed.
    Closed(Request),
}
