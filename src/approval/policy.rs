//! The approval policy: for each kind of change and each severity, how many approvals a change
//! needs, who may approve it, who may ask for it and how long a request waits; and who is who
//! ([`super::people`]). Built once from `[approvals]`, `[roles.NAME]` and `[people.NAME]` by
//! [`Policy::new`]; after that nothing here reads the config, the store or the cluster.

use std::collections::BTreeMap;

use super::people::{People, Roles};
use crate::config::{ApprovalRule, ApprovalSettings, PersonSettings, RoleSettings};
use crate::incident::{Actor, Severity};
use crate::interval::Interval;
use crate::ops::Change;

/// The rule for one change at one severity, roles resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Approvals needed; 0 runs at once.
    pub required: u32,
    /// Roles whose members may approve, and people (`[people.NAME]`) who may.
    pub approvers: Vec<String>,
    /// Accounts that may approve (`slack:U…`).
    pub approver_ids: Vec<String>,
    /// Roles whose members may request, and people who may.
    pub requesters: Vec<String>,
    /// Accounts that may request.
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

/// One kind of change's rule at each severity, P0 first.
type BySeverity = [Rule; 4];

/// The approval policy of the config.
#[derive(Debug, Clone)]
pub struct Policy {
    rollback: BySeverity,
    scale: BySeverity,
    /// Every runbook action without a rule of its own.
    action: BySeverity,
    /// Runbook actions with a rule of their own, by name.
    actions: Vec<(String, BySeverity)>,
    job: BySeverity,
    roles: Roles,
    people: People,
}

impl Default for Policy {
    /// The default `[approvals]`, with no role members.
    fn default() -> Self {
        Self::new(
            &ApprovalSettings::default(),
            &BTreeMap::new(),
            &BTreeMap::new(),
        )
    }
}

impl Policy {
    /// The policy of `[approvals]` (checked settings), with `[roles.NAME]` and `[people.NAME]`
    /// to match people.
    pub fn new(
        settings: &ApprovalSettings,
        roles: &BTreeMap<String, RoleSettings>,
        people: &BTreeMap<String, PersonSettings>,
    ) -> Self {
        let rules = |rule: &ApprovalRule| Severity::ALL.map(|s| resolve(rule, s, settings.ttl));
        Self {
            rollback: rules(&settings.rollback),
            scale: rules(&settings.scale),
            action: rules(&settings.action),
            actions: settings
                .actions
                .iter()
                .map(|(name, rule)| (name.clone(), rules(rule)))
                .collect(),
            job: rules(&settings.job),
            roles: super::roles(roles, people),
            people: People::new(people),
        }
    }

    /// Whether `name` is a role (`[roles.NAME]`).
    pub fn is_role(&self, name: &str) -> bool {
        self.roles.contains_key(name)
    }

    /// The rule for `change` on an incident of `severity`.
    ///
    /// # Guarantees
    /// A scale to 0 replicas needs at least one approval at every severity (from the scale
    /// rule's approvers), even where `[approvals.scale]` lets other scales run at once: taking a
    /// production service down entirely is never a no-approval step.
    pub fn rule(&self, change: &Change, severity: Severity) -> Rule {
        let mut rule = self.rule_as_configured(change, severity);
        if matches!(change, Change::Scale { replicas: 0, .. }) {
            rule.required = rule.required.max(1);
        }
        rule
    }

    fn rule_as_configured(&self, change: &Change, severity: Severity) -> Rule {
        let rules = match change {
            Change::Rollback { .. } => &self.rollback,
            Change::Scale { .. } => &self.scale,
            Change::Action { name, .. } => self
                .actions
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map_or(&self.action, |(_, r)| r),
            Change::Job { .. } => &self.job,
        };
        rules[severity.index()].clone()
    }

    /// Whether `person` may approve under `rule` (the requester check is separate).
    pub fn may_approve(&self, rule: &Rule, person: Person<'_>) -> bool {
        self.admits(&rule.approvers, &rule.approver_ids, person)
    }

    /// Whether `person` may ask for a change under `rule`.
    pub fn may_request(&self, rule: &Rule, person: Person<'_>) -> bool {
        self.admits(&rule.requesters, &rule.requester_ids, person)
    }

    /// Whether `a` and `b` are one person: the same account, or accounts `[people.NAME]` links.
    /// The requester rule and one vote per person go by this.
    pub fn same_person(&self, a: &Actor, b: &Actor) -> bool {
        self.people.same(a, b)
    }

    /// Who is who: the people of `[people.NAME]`.
    pub fn people(&self) -> &People {
        &self.people
    }

    /// What one vote per person is counted by (see [`People::key`]).
    pub fn person_key(&self, actor: &Actor) -> String {
        self.people.key(actor)
    }

    /// Whether `person` is named in `names` (roles they are a member of, or their person) or
    /// `ids` (one of their accounts), or both lists are empty.
    fn admits(&self, names: &[String], ids: &[String], person: Person<'_>) -> bool {
        if names.is_empty() && ids.is_empty() {
            return true;
        }
        let accounts = self.people.accounts_of(person.actor);
        let named = ids.iter().any(|id| {
            id.split_once(':').is_some_and(|(platform, who)| {
                accounts
                    .iter()
                    .any(|(p, account)| p.as_str() == platform && *account == who.trim())
            })
        });
        let own = self.people.who(person.actor);
        named
            || names.iter().any(|name| match self.roles.get(name) {
                Some(members) => members.include(&accounts, person.platform_roles),
                None => own == Some(name.as_str()),
            })
    }

    /// Who may approve under `rule`, for refusals and request messages: `anyone but the
    /// requester`, or `@deployment-engineer, alice, slack:U123` (roles, people, accounts).
    pub fn describe_approvers(&self, rule: &Rule) -> String {
        self.describe(
            &rule.approvers,
            &rule.approver_ids,
            "anyone but the requester",
        )
    }

    /// Who may request under `rule`.
    pub fn describe_requesters(&self, rule: &Rule) -> String {
        self.describe(&rule.requesters, &rule.requester_ids, "anyone")
    }

    fn describe(&self, names: &[String], ids: &[String], open: &str) -> String {
        if names.is_empty() && ids.is_empty() {
            return open.to_owned();
        }
        names
            .iter()
            .map(|n| {
                if self.roles.contains_key(n) {
                    format!("@{n}")
                } else {
                    n.clone()
                }
            })
            .chain(ids.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The rules of `settings` whose approvals anyone but the requester may give (approvals needed,
/// no approvers listed), with the severities at which they do: `("approvals.rollback", [P0,
/// P1, P2, P3])` by default. A scale to 0 replicas always needs an approval ([`Policy::rule`]),
/// so where `[approvals.scale]` needs none it is named on its own: `approvals.scale (to 0
/// replicas)`.
pub fn open_to_anyone(settings: &ApprovalSettings) -> Vec<(String, Vec<Severity>)> {
    let open = |rule: &ApprovalRule, least: u32| -> Vec<Severity> {
        Severity::ALL
            .into_iter()
            .filter(|&severity| {
                let r = resolve(rule, severity, settings.ttl);
                r.required.max(least) > 0 && r.approvers.is_empty() && r.approver_ids.is_empty()
            })
            .collect()
    };
    let mut found = Vec::new();
    for (key, rule) in settings.rules() {
        let as_configured = open(rule, 0);
        let to_zero: Vec<Severity> = if std::ptr::eq(rule, &settings.scale) {
            open(rule, 1)
                .into_iter()
                .filter(|s| !as_configured.contains(s))
                .collect()
        } else {
            Vec::new()
        };
        if !as_configured.is_empty() {
            found.push((key.clone(), as_configured));
        }
        if !to_zero.is_empty() {
            found.push((format!("{key} (to 0 replicas)"), to_zero));
        }
    }
    found
}

/// `base` at `severity`: what its `[…pN]` table changes, with `ttl` when neither sets one.
fn resolve(base: &ApprovalRule, severity: Severity, ttl: Interval) -> Rule {
    let over = match severity {
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
        ttl: over.and_then(|o| o.ttl).or(base.ttl).unwrap_or(ttl),
    }
}

#[cfg(test)]
mod tests {
    use super::super::people::tests::actor;
    use super::*;
    use crate::incident::Platform;

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
    fn a_scale_to_zero_needs_an_approval_even_where_other_scales_need_none() {
        let policy = Policy::default();
        let zero = Change::Scale {
            deployment: "d".into(),
            replicas: 0,
        };
        for sev in Severity::ALL {
            assert_eq!(policy.rule(&zero, sev).required, 1, "{sev:?}");
        }
        let mut settings = ApprovalSettings::default();
        settings.scale.required = 2;
        let policy = Policy::new(&settings, &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(
            policy.rule(&zero, Severity::P3).required,
            2,
            "a stricter rule stands"
        );
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
        let policy = Policy::new(&settings, &roles, &BTreeMap::new());
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
        assert_eq!(policy.describe_approvers(&rule), "@sre, slack:U9");
    }

    #[test]
    fn a_runbook_action_may_have_its_own_rule_and_a_severity_its_own_numbers() {
        let mut settings = ApprovalSettings::default();
        settings.actions.insert(
            "Circuit-Breaker".into(),
            ApprovalRule {
                required: 2,
                p0: Some(crate::config::SeverityRule {
                    required: Some(0),
                    ..Default::default()
                }),
                ..ApprovalRule::default()
            },
        );
        let policy = Policy::new(&settings, &BTreeMap::new(), &BTreeMap::new());
        let action = |name: &str| Change::Action {
            name: name.into(),
            toggle: crate::ops::Toggle {
                target: crate::ops::ToggleTarget::Env {
                    variable: "X".into(),
                    container: None,
                },
                value: "1".into(),
                restart: false,
            },
        };
        assert_eq!(
            policy
                .rule(&action("circuit-breaker"), Severity::P1)
                .required,
            2
        );
        assert_eq!(
            policy
                .rule(&action("circuit-breaker"), Severity::P0)
                .required,
            0
        );
        assert_eq!(policy.rule(&action("rate-limit"), Severity::P1).required, 1);
    }
}
