//! Pages: the phone calls an incident makes through PagerDuty or Opsgenie. What a change to an
//! incident asks of its pagers ([`actions`]) and where a page stands ([`Page`]). Values and pure
//! functions only: sending is [`crate::paging`]'s, storing the store's.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Incident, IncidentId, Severity};

/// A paging service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pager {
    /// PagerDuty (Events API v2 out, webhooks v3 in).
    PagerDuty,
    /// Opsgenie (Alert API out, outgoing webhooks in).
    Opsgenie,
}

impl Pager {
    /// Both, in the order messages list them.
    pub const ALL: [Pager; 2] = [Pager::PagerDuty, Pager::Opsgenie];

    /// Its key in the store, the outbox's kind and the config section: `pagerduty`, `opsgenie`.
    pub fn key(self) -> &'static str {
        match self {
            Pager::PagerDuty => "pagerduty",
            Pager::Opsgenie => "opsgenie",
        }
    }

    /// The pager a key names.
    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }
}

impl fmt::Display for Pager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pager::PagerDuty => "PagerDuty",
            Pager::Opsgenie => "Opsgenie",
        })
    }
}

/// The key both pagers know an incident's page by (PagerDuty's `dedup_key`, Opsgenie's
/// `alias`): `firewatch-12`. The same in every process and after every restart.
pub fn page_key(id: IncidentId) -> String {
    format!("firewatch-{}", id.get())
}

/// The incident a page key names, for keys firewatch made.
pub fn incident_of(key: &str) -> Option<IncidentId> {
    let digits = key.strip_prefix("firewatch-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().and_then(IncidentId::new)
}

/// What a pager is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Page: wake the on-call person.
    Trigger,
    /// Someone took it: stop escalating.
    Acknowledge,
    /// It is over.
    Resolve,
}

impl Action {
    /// The state a page is in once the pager took this action.
    pub fn done(self) -> PageState {
        match self {
            Action::Trigger => PageState::Triggered,
            Action::Acknowledge => PageState::Acknowledged,
            Action::Resolve => PageState::Resolved,
        }
    }
}

/// Where a page stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageState {
    /// Stored in the outbox, not yet taken by the pager.
    Triggering,
    /// The pager took the trigger: people are being called.
    Triggered,
    /// Acknowledged (here or in the pager).
    Acknowledged,
    /// Resolved (here or in the pager).
    Resolved,
    /// The pager refused it, or never took it: nobody was called through it.
    Failed,
}

impl PageState {
    /// Its word in messages and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            PageState::Triggering => "triggering",
            PageState::Triggered => "triggered",
            PageState::Acknowledged => "acknowledged",
            PageState::Resolved => "resolved",
            PageState::Failed => "failed",
        }
    }

    /// The state a stored word names.
    pub fn parse(text: &str) -> Option<Self> {
        [
            PageState::Triggering,
            PageState::Triggered,
            PageState::Acknowledged,
            PageState::Resolved,
            PageState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// One incident's page through one pager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The incident.
    pub incident: IncidentId,
    /// Through what.
    pub pager: Pager,
    /// Where it stands.
    pub state: PageState,
    /// Who it pages, in words: the service (PagerDuty), the teams (Opsgenie).
    pub target: String,
    /// What the pager said when it failed, or who acted in it.
    pub detail: Option<String>,
    /// When it came to this state.
    pub at: DateTime<Utc>,
}

impl Page {
    /// The page in one line: `📟 PagerDuty: triggered (freightliner)`.
    pub fn line(&self) -> String {
        let mut line = format!(
            "📟 {}: {} ({})",
            self.pager,
            self.state.as_str(),
            self.target
        );
        if let Some(detail) = &self.detail {
            line.push_str(" — ");
            line.push_str(detail);
        }
        line
    }
}

/// What a change of an incident from `before` (`None`: it was just opened) to `after` asks of a
/// pager that pages severities `paged`, when the incident `has_page` there already (a page that
/// was triggered and not failed).
///
/// - Opened at a paged severity, or raised into one while active with no page yet: trigger.
/// - Acknowledged (by `/incident-ack` or by acting on it) with a page: acknowledge.
/// - Resolved with a page: resolve.
///
/// A severity lowered out of the paged ones leaves the page as it is: the person called is
/// already on it, and resolving tells the pager when it is over.
pub fn actions(
    before: Option<&Incident>,
    after: &Incident,
    paged: &[Severity],
    has_page: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut paging = has_page;
    let was_paged = before.is_some_and(|b| paged.contains(&b.severity));
    if !paging && after.status.is_active() && paged.contains(&after.severity) && !was_paged {
        actions.push(Action::Trigger);
        paging = true;
    }
    if !paging {
        return actions;
    }
    let newly_acknowledged = after.acknowledged.is_some()
        && before.is_none_or(|b| b.acknowledged.is_none())
        && after.resolved.is_none();
    if newly_acknowledged {
        actions.push(Action::Acknowledge);
    }
    if after.resolved.is_some() && before.is_some_and(|b| b.resolved.is_none()) {
        actions.push(Action::Resolve);
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Actor, ChannelRef, Platform, Stamp, Status};

    fn incident(severity: Severity) -> Incident {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-29T03:00:00Z")
            .unwrap()
            .to_utc();
        let by = Actor {
            platform: Platform::Console,
            id: "alice".into(),
            name: "alice".into(),
        };
        Incident {
            id: IncidentId::new(3).unwrap(),
            summary: "checkout down".into(),
            service: "freightliner".into(),
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

    const PAGED: [Severity; 2] = [Severity::P0, Severity::P1];

    #[test]
    fn opening_at_a_paged_severity_triggers_and_below_it_does_not() {
        assert_eq!(
            actions(None, &incident(Severity::P1), &PAGED, false),
            [Action::Trigger]
        );
        assert!(actions(None, &incident(Severity::P2), &PAGED, false).is_empty());
    }

    #[test]
    fn raising_into_a_paged_severity_triggers_once() {
        let before = incident(Severity::P2);
        let after = incident(Severity::P1);
        assert_eq!(
            actions(Some(&before), &after, &PAGED, false),
            [Action::Trigger]
        );
        let p0 = incident(Severity::P0);
        assert!(actions(Some(&after), &p0, &PAGED, true).is_empty());
    }

    #[test]
    fn an_acknowledgement_and_a_resolution_follow_a_page_only() {
        let before = incident(Severity::P1);
        let mut acked = before.clone();
        acked.acknowledged = Some(before.opened.clone());
        assert_eq!(
            actions(Some(&before), &acked, &PAGED, true),
            [Action::Acknowledge]
        );
        assert!(actions(Some(&before), &acked, &PAGED, false).is_empty());
        let mut resolved = acked.clone();
        resolved.status = Status::Resolved;
        resolved.resolved = Some(before.opened.clone());
        assert_eq!(
            actions(Some(&acked), &resolved, &PAGED, true),
            [Action::Resolve]
        );
    }

    #[test]
    fn page_keys_name_their_incident_and_nothing_else() {
        let id = IncidentId::new(12).unwrap();
        assert_eq!(page_key(id), "firewatch-12");
        assert_eq!(incident_of("firewatch-12"), Some(id));
        assert_eq!(incident_of("firewatch-"), None);
        assert_eq!(incident_of("firewatch-1x"), None);
        assert_eq!(incident_of("other-12"), None);
        assert_eq!(incident_of("firewatch-0"), None);
    }
}
