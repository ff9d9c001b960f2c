//! Channel approvals for production changes: the policy (who must agree before a rollback, a
//! scale or a runbook action runs) and the ledger's values. The engine gates every
//! [`crate::ops::Mutation`] through it; the store keeps the ledger.
//!
//! # Who is who
//! A person matches a role (`[roles.NAME]`) on Slack by user id (`slack`; user-group ids are
//! mentioned but not expanded), on Discord by user id (`discord_users`) or by one of the member's
//! role ids (`discord_roles`), and on the terminal by the name `firewatch console` runs as
//! (`console`). `approver_ids`/`requester_ids` name people directly: `slack:U…`,
//! `discord:SNOWFLAKE`, `console:NAME`. The requester never counts as an approver.
//!
//! # Exactly once
//! A request is `pending` until enough approvals are committed; the vote that completes it moves
//! it to `approved` in the same transaction. The run then claims it `approved → running` with one
//! atomic update: whoever wins runs it, everyone else (other approvers, duplicate deliveries, the
//! scheduler resuming after a restart) finds nothing to claim. A restart resumes `approved`
//! requests (they never reached the cluster) and marks `running` ones of the process before
//! `failed` (they may have reached it): a change never runs twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::{ApprovalRule, ApprovalSettings, RoleSettings, SeverityRule};
use crate::incident::{Actor, IncidentId, Platform, Severity};
use crate::interval::Interval;
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

/// The rule for one change at one severity, roles resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Approvals needed; 0 runs at once.
    pub required: u32,
    /// Roles whose members may approve.
    pub approvers: Vec<String>,
    /// People who may approve (`slack:U…`).
    pub approver_ids: Vec<String>,
    /// Roles whose members may request.
    pub requesters: Vec<String>,
    /// People who may request.
    pub requester_ids: Vec<String>,
    /// How long a request waits.
    pub ttl: Interval,
}

/// A person as the policy sees them: who, and their platform roles (Discord role ids).
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    /// The person.
    pub actor: &'a Actor,
    /// Their platform role ids (Discord member roles); empty elsewhere.
    pub platform_roles: &'a [String],
}

/// The approval policy of the config.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    settings: ApprovalSettings,
    roles: BTreeMap<String, RoleSettings>,
}

impl Policy {
    /// The policy of `[approvals]`, with `[roles.NAME]` to match people.
    pub fn new(settings: ApprovalSettings, roles: BTreeMap<String, RoleSettings>) -> Self {
        Self { settings, roles }
    }

    /// The rule for `change` on an incident of `severity`.
    pub fn rule(&self, change: &Change, severity: Severity) -> Rule {
        let s = &self.settings;
        let base: &ApprovalRule = match change {
            Change::Rollback { .. } => &s.rollback,
            Change::Scale { .. } => &s.scale,
            Change::Action { name, .. } => s
                .actions
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, r)| r)
                .unwrap_or(&s.action),
            Change::Job { .. } => &s.job,
        };
        let over: Option<&SeverityRule> = match severity {
            Severity::P0 => base.p0.as_ref(),
            Severity::P1 => base.p1.as_ref(),
            Severity::P2 => base.p2.as_ref(),
            Severity::P3 => base.p3.as_ref(),
        };
        let pick = |o: Option<&Vec<String>>, b: &Vec<String>| o.unwrap_or(b).clone();
        Rule {
            required: over.and_then(|o| o.required).unwrap_or(base.required),
            approvers: pick(over.and_then(|o| o.approvers.as_ref()), &base.approvers),
            approver_ids: pick(
                over.and_then(|o| o.approver_ids.as_ref()),
                &base.approver_ids,
            ),
            requesters: base.requesters.clone(),
            requester_ids: base.requester_ids.clone(),
            ttl: over.and_then(|o| o.ttl).or(base.ttl).unwrap_or(s.ttl),
        }
    }

    /// Whether `person` may approve under `rule` (the requester check is separate).
    pub fn may_approve(&self, rule: &Rule, person: Person<'_>) -> bool {
        self.admits(&rule.approvers, &rule.approver_ids, person)
    }

    /// Whether `person` may ask for a change under `rule`.
    pub fn may_request(&self, rule: &Rule, person: Person<'_>) -> bool {
        self.admits(&rule.requesters, &rule.requester_ids, person)
    }

    fn admits(&self, roles: &[String], ids: &[String], person: Person<'_>) -> bool {
        if roles.is_empty() && ids.is_empty() {
            return true;
        }
        let actor = person.actor;
        let platform = actor.platform.as_str();
        let named = ids.iter().any(|id| {
            id.split_once(':')
                .is_some_and(|(p, who)| p == platform && who.trim() == actor.id)
        });
        named
            || roles
                .iter()
                .any(|role| self.roles.get(role).is_some_and(|r| member(r, person)))
    }

    /// Who may approve under `rule`, for refusals and request messages: `anyone but the
    /// requester`, or `@deployment-engineer, slack:U123`.
    pub fn describe_approvers(rule: &Rule) -> String {
        describe(
            &rule.approvers,
            &rule.approver_ids,
            "anyone but the requester",
        )
    }

    /// Who may request under `rule`.
    pub fn describe_requesters(rule: &Rule) -> String {
        describe(&rule.requesters, &rule.requester_ids, "anyone")
    }
}

fn describe(roles: &[String], ids: &[String], open: &str) -> String {
    if roles.is_empty() && ids.is_empty() {
        return open.to_owned();
    }
    roles
        .iter()
        .map(|r| format!("@{r}"))
        .chain(ids.iter().cloned())
        .collect::<Vec<_>>()
        .join(", ")
}

fn member(role: &RoleSettings, person: Person<'_>) -> bool {
    let actor = person.actor;
    match actor.platform {
        Platform::Slack => role.slack.contains(&actor.id),
        Platform::Discord => {
            role.discord_users.contains(&actor.id)
                || person
                    .platform_roles
                    .iter()
                    .any(|r| role.discord_roles.contains(r))
        }
        Platform::Console => role
            .console
            .iter()
            .any(|n| n == &actor.id || n == &actor.name),
    }
}

/// Whether `a` and `b` are the same person.
pub fn same_person(a: &Actor, b: &Actor) -> bool {
    a.platform == b.platform && a.id == b.id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(platform: Platform, id: &str) -> Actor {
        Actor {
            platform,
            id: id.into(),
            name: id.into(),
        }
    }

    #[test]
    fn defaults_rollback_one_scale_none_at_p0_p1() {
        let policy = Policy::default();
        let rollback = Change::Rollback { revision: None };
        let scale = Change::Scale {
            deployment: "d".into(),
            replicas: 3,
        };
        for sev in [Severity::P0, Severity::P1, Severity::P2, Severity::P3] {
            assert_eq!(policy.rule(&rollback, sev).required, 1);
            assert_eq!(policy.rule(&rollback, sev).ttl.as_secs(), 900);
        }
        assert_eq!(policy.rule(&scale, Severity::P0).required, 0);
        assert_eq!(policy.rule(&scale, Severity::P1).required, 0);
        assert_eq!(policy.rule(&scale, Severity::P2).required, 1);
        assert_eq!(policy.rule(&scale, Severity::P3).required, 1);
    }

    #[test]
    fn people_match_roles_per_platform_and_ids() {
        let mut roles = BTreeMap::new();
        roles.insert(
            "sre".to_owned(),
            RoleSettings {
                slack: vec!["U1".into()],
                discord_users: vec!["111111111111111111".into()],
                discord_roles: vec!["222222222222222222".into()],
                console: vec!["carol".into()],
                ..RoleSettings::default()
            },
        );
        let mut settings = ApprovalSettings::default();
        settings.rollback.approvers = vec!["sre".into()];
        settings.rollback.approver_ids = vec!["slack:U9".into()];
        let policy = Policy::new(settings, roles);
        let rule = policy.rule(&Change::Rollback { revision: None }, Severity::P1);
        let yes = |a: &Actor, r: &[String]| {
            policy.may_approve(
                &rule,
                Person {
                    actor: a,
                    platform_roles: r,
                },
            )
        };
        assert!(yes(&actor(Platform::Slack, "U1"), &[]));
        assert!(yes(&actor(Platform::Slack, "U9"), &[]));
        assert!(!yes(&actor(Platform::Slack, "U2"), &[]));
        assert!(!yes(&actor(Platform::Console, "U1"), &[]));
        assert!(yes(&actor(Platform::Discord, "111111111111111111"), &[]));
        assert!(yes(
            &actor(Platform::Discord, "333333333333333333"),
            &["222222222222222222".into()]
        ));
        assert!(!yes(&actor(Platform::Discord, "333333333333333333"), &[]));
        assert!(yes(&actor(Platform::Console, "carol"), &[]));
        assert!(!yes(&actor(Platform::Console, "dave"), &[]));
        assert_eq!(Policy::describe_approvers(&rule), "@sre, slack:U9");
    }
}
