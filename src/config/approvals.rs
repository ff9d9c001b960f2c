//! `[approvals]`: who must agree before a production change runs. `bot.toml.example` documents
//! each key; the approval policy (`approval::Policy::new`) reads them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MINUTE, MONTH, Settings, within};
use crate::interval::Interval;

/// `[approvals]`: one rule per kind of change; each runbook action may have its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalSettings {
    /// How long a request waits for approval when its rule says nothing (15 minutes).
    pub ttl: Interval,
    /// `[approvals.rollback]`: 1 approval from someone else.
    pub rollback: ApprovalRule,
    /// `[approvals.scale]`: none at P0/P1, 1 otherwise; a scale to 0 replicas needs at least 1.
    pub scale: ApprovalRule,
    /// `[approvals.action]`: every runbook action without a rule of its own (1 approval).
    pub action: ApprovalRule,
    /// `[approvals.actions.NAME]`: one runbook action's rule.
    pub actions: BTreeMap<String, ApprovalRule>,
    /// `[approvals.job]`: creating verification Jobs (`[[jobs]]`); none needed by default.
    pub job: ApprovalRule,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        let zero = Some(SeverityRule {
            required: Some(0),
            ..SeverityRule::default()
        });
        Self {
            ttl: Interval::from_secs(15 * 60),
            rollback: ApprovalRule::default(),
            scale: ApprovalRule {
                p0: zero.clone(),
                p1: zero,
                ..ApprovalRule::default()
            },
            action: ApprovalRule::default(),
            actions: BTreeMap::new(),
            job: ApprovalRule {
                required: 0,
                ..ApprovalRule::default()
            },
        }
    }
}

/// One kind of change's rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApprovalRule {
    /// Approvals needed, not counting the requester; 0 runs the change at once.
    pub required: u32,
    /// Roles (`[roles.NAME]`) whose members may approve, and people (`[people.NAME]`) who may;
    /// with `approver_ids` empty too, anyone but the requester may.
    #[serde(deserialize_with = "super::string_list")]
    pub approvers: Vec<String>,
    /// People who may approve: `slack:U…`, `discord:SNOWFLAKE`, `console:NAME`.
    #[serde(deserialize_with = "super::string_list")]
    pub approver_ids: Vec<String>,
    /// Roles whose members may ask for the change, and people who may; with `requester_ids`
    /// empty too, anyone may.
    #[serde(deserialize_with = "super::string_list")]
    pub requesters: Vec<String>,
    /// People who may ask for it, written like `approver_ids`.
    #[serde(deserialize_with = "super::string_list")]
    pub requester_ids: Vec<String>,
    /// How long a request waits; `[approvals] ttl` when unset.
    pub ttl: Option<Interval>,
    /// What differs for P0 incidents.
    pub p0: Option<SeverityRule>,
    /// What differs for P1 incidents.
    pub p1: Option<SeverityRule>,
    /// What differs for P2 incidents.
    pub p2: Option<SeverityRule>,
    /// What differs for P3 incidents.
    pub p3: Option<SeverityRule>,
}

impl Default for ApprovalRule {
    fn default() -> Self {
        Self {
            required: 1,
            approvers: Vec::new(),
            approver_ids: Vec::new(),
            requesters: Vec::new(),
            requester_ids: Vec::new(),
            ttl: None,
            p0: None,
            p1: None,
            p2: None,
            p3: None,
        }
    }
}

/// What a rule says differently for one severity; unset keys keep the rule's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityRule {
    /// Approvals needed.
    pub required: Option<u32>,
    /// Roles whose members may approve, and people who may.
    pub approvers: Option<Vec<String>>,
    /// People who may approve.
    pub approver_ids: Option<Vec<String>>,
    /// How long a request waits.
    pub ttl: Option<Interval>,
}

impl ApprovalSettings {
    /// Every rule with its key, for checks.
    pub fn rules(&self) -> Vec<(String, &ApprovalRule)> {
        let mut all = vec![
            ("approvals.rollback".to_owned(), &self.rollback),
            ("approvals.scale".to_owned(), &self.scale),
            ("approvals.action".to_owned(), &self.action),
            ("approvals.job".to_owned(), &self.job),
        ];
        for (name, rule) in &self.actions {
            all.push((format!("approvals.actions.{name}"), rule));
        }
        all
    }
}

impl Settings {
    /// Roles and people exist, ids name a platform, TTLs are sane, per-action rules name actions.
    pub(super) fn check_approvals(&self) -> Result<(), (String, String)> {
        let approvals = &self.approvals;
        within("approvals.ttl", approvals.ttl, MINUTE, MONTH)?;
        for name in approvals.actions.keys() {
            if !self
                .actions
                .iter()
                .any(|a| a.name.eq_ignore_ascii_case(name))
            {
                return Err((
                    format!("approvals.actions.{name}"),
                    format!("there is no [[actions]] entry named '{name}'"),
                ));
            }
        }
        for (key, rule) in approvals.rules() {
            self.check_approver_names(&format!("{key}.approvers"), &rule.approvers)?;
            self.check_approver_names(&format!("{key}.requesters"), &rule.requesters)?;
            check_ids(&format!("{key}.approver_ids"), &rule.approver_ids)?;
            check_ids(&format!("{key}.requester_ids"), &rule.requester_ids)?;
            if let Some(ttl) = rule.ttl {
                within(&format!("{key}.ttl"), ttl, MINUTE, MONTH)?;
            }
            for (level, over) in [
                ("p0", &rule.p0),
                ("p1", &rule.p1),
                ("p2", &rule.p2),
                ("p3", &rule.p3),
            ] {
                let Some(over) = over else { continue };
                if let Some(roles) = &over.approvers {
                    self.check_approver_names(&format!("{key}.{level}.approvers"), roles)?;
                }
                if let Some(ids) = &over.approver_ids {
                    check_ids(&format!("{key}.{level}.approver_ids"), ids)?;
                }
                if let Some(ttl) = over.ttl {
                    within(&format!("{key}.{level}.ttl"), ttl, MINUTE, MONTH)?;
                }
            }
        }
        Ok(())
    }
}

fn check_ids(key: &str, ids: &[String]) -> Result<(), (String, String)> {
    for id in ids {
        let ok = id.split_once(':').is_some_and(|(platform, who)| {
            matches!(platform, "slack" | "discord" | "console") && !who.trim().is_empty()
        });
        if !ok {
            return Err((
                key.to_owned(),
                format!("'{id}' is not a person (write slack:U…, discord:ID or console:NAME)"),
            ));
        }
    }
    Ok(())
}
