//! Pages: the phone calls an incident makes through PagerDuty or Opsgenie. What a change to an
//! incident asks of its pagers ([`actions`]) and where a page stands ([`Page`]). Values and pure
//! functions only: sending is [`crate::paging`]'s, storing the store's.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Incident, IncidentId};

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

/// The key of the page that wakes role `role` for incident `id` through its own PagerDuty
/// service (`[roles.NAME] pagerduty_routing_key`): `firewatch-12-dba`.
pub fn role_page_key(id: IncidentId, role: &str) -> String {
    format!("{}-{role}", page_key(id))
}

/// The role whose own page of incident `id` `key` is (`firewatch-12-dba` → `dba`); none for
/// the incident's own page.
pub fn role_of(id: IncidentId, key: &str) -> Option<&str> {
    key.strip_prefix(&page_key(id))?
        .strip_prefix('-')
        .filter(|role| !role.is_empty())
}

/// The incident a page key names, for keys firewatch made: an incident's own page
/// (`firewatch-12`) or a role's (`firewatch-12-dba`).
pub fn incident_of(key: &str) -> Option<IncidentId> {
    let rest = key.strip_prefix("firewatch-")?;
    let (digits, role) = match rest.split_once('-') {
        Some((digits, role)) => (digits, Some(role)),
        None => (rest, None),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if role.is_some_and(|r| r.is_empty() || r.chars().any(char::is_whitespace)) {
        return None;
    }
    digits.parse().ok().and_then(IncidentId::new)
}

/// What a pager is asked to do, in the order a page asks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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

    /// Its word in the store and the log: `trigger`, `acknowledge`, `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
        }
    }

    /// The action a stored word names.
    pub fn parse(text: &str) -> Option<Self> {
        [Action::Trigger, Action::Acknowledge, Action::Resolve]
            .into_iter()
            .find(|a| a.as_str() == text)
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

/// One page of an incident through one pager: the incident's own ([`page_key`]), or, through
/// PagerDuty, a role's ([`role_page_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The incident.
    pub incident: IncidentId,
    /// Through what.
    pub pager: Pager,
    /// The pager's key for it (PagerDuty's `dedup_key`, Opsgenie's `alias`).
    pub key: String,
    /// How far firewatch took it along its incident's course: its trigger, the incident's
    /// acknowledgement (queued for it, or made before it was triggered), its resolution. What
    /// the incident did beyond that is owed ([`owed`]). Kept by the store apart from `state`:
    /// recording a state leaves it.
    pub asked: Action,
    /// Where it stands.
    pub state: PageState,
    /// Who it pages, in words: the service or the role (PagerDuty), the teams (Opsgenie).
    pub target: String,
    /// What the pager said when it failed, or who acted in it.
    pub detail: Option<String>,
    /// When it came to this state.
    pub at: DateTime<Utc>,
}

impl Page {
    /// A page of incident `incident` through `pager` under `key`, in `state` since `at`, asked
    /// its trigger.
    pub fn new(
        incident: IncidentId,
        pager: Pager,
        key: &str,
        state: PageState,
        target: &str,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            incident,
            pager,
            key: key.to_owned(),
            asked: Action::Trigger,
            state,
            target: target.to_owned(),
            detail: None,
            at,
        }
    }

    /// Whether the page stands: its pager took it or may yet (a failed page called nobody).
    pub fn stands(&self) -> bool {
        self.state != PageState::Failed
    }

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

/// What a change of an incident from `before` (`None`: it was just opened) to `after` asks of
/// one page, which the incident calls for in the states `pages` holds for (the incident's own
/// page: at a paged severity; a role's: also while that severity or service pages the role),
/// when the page exists already (`has_page`: triggered and not failed).
///
/// - Opened into a state that pages it, or changed into one while active with no page yet:
///   trigger.
/// - Acknowledged (by `/incident-ack` or by acting on it) with a page: acknowledge.
/// - Resolved with a page: resolve.
///
/// A change out of the states that page it leaves the page as it is: the person called is
/// already on it, and resolving tells the pager when it is over.
pub fn actions(
    before: Option<&Incident>,
    after: &Incident,
    pages: impl Fn(&Incident) -> bool,
    has_page: bool,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut paging = has_page;
    let was_paged = before.is_some_and(&pages);
    if !paging && after.status.is_active() && pages(after) && !was_paged {
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

/// How far along its incident's course a page is once its pager took `action`, queued while
/// the incident was `acknowledged` (or not): a trigger queued after the acknowledgement is past
/// it — the page is owed none: one queued with the trigger is on its way, and one left out (a
/// role's page, to wake the role) leaves the page calling until someone takes it there.
pub fn asked_by(action: Action, acknowledged: bool) -> Action {
    match action {
        Action::Trigger if acknowledged => Action::Acknowledge,
        other => other,
    }
}

/// What `page` is still owed of `incident`'s course, counting only changes made before
/// `settled` (a change made since may still be queuing its own event): its resolution once the
/// incident is resolved, its acknowledgement once it is acknowledged — unless firewatch
/// queued that already or the pager is there already. A failed or resolved page is owed
/// nothing.
pub fn owed(incident: &Incident, page: &Page, settled: DateTime<Utc>) -> Option<Action> {
    if matches!(page.state, PageState::Failed | PageState::Resolved) {
        return None;
    }
    if let Some(resolved) = &incident.resolved {
        return (page.asked < Action::Resolve && resolved.at < settled).then_some(Action::Resolve);
    }
    let acknowledged = incident.acknowledged.as_ref()?;
    (page.asked < Action::Acknowledge
        && page.state != PageState::Acknowledged
        && acknowledged.at < settled)
        .then_some(Action::Acknowledge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Severity, Status};

    fn incident(severity: Severity) -> Incident {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-29T03:00:00Z")
            .unwrap()
            .to_utc();
        Incident::example(3, severity, "freightliner", "alice", at)
    }

    const PAGED: [Severity; 2] = [Severity::P0, Severity::P1];

    /// What a page of an incident paged at P0 and P1 is asked.
    fn actions(
        before: Option<&Incident>,
        after: &Incident,
        paged: &[Severity],
        has_page: bool,
    ) -> Vec<Action> {
        super::actions(before, after, |i| paged.contains(&i.severity), has_page)
    }

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
        // A page the incident calls for only from P0 on (a P0 role's): a raise from P1 wakes it.
        let p0 = incident(Severity::P0);
        let p0_role = |i: &Incident| i.severity == Severity::P0;
        assert_eq!(
            super::actions(Some(&before), &p0, p0_role, false),
            [Action::Trigger]
        );
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
        let dba = role_page_key(id, "dba");
        assert_eq!(dba, "firewatch-12-dba");
        assert_eq!(incident_of(&dba), Some(id));
        assert_eq!(role_of(id, &dba), Some("dba"));
        assert_eq!(role_of(id, "firewatch-12"), None);
        assert_eq!(role_of(id, "firewatch-123"), None);
        assert_eq!(incident_of("firewatch-12-"), None);
        assert_eq!(incident_of("firewatch-12-a b"), None);
    }

    #[test]
    fn a_page_is_owed_what_the_incident_did_and_nobody_queued() {
        let opened = incident(Severity::P1);
        let at = opened.opened.at;
        let later = at + chrono::TimeDelta::minutes(5);
        let mut page = Page::new(
            opened.id,
            Pager::PagerDuty,
            "firewatch-3",
            PageState::Triggered,
            "freightliner",
            at,
        );
        assert_eq!(owed(&opened, &page, later), None, "nothing happened");
        let mut acked = opened.clone();
        acked.acknowledged = Some(opened.opened.clone());
        assert_eq!(owed(&acked, &page, later), Some(Action::Acknowledge));
        assert_eq!(owed(&acked, &page, at), None, "a change still queuing");
        page.asked = Action::Acknowledge;
        assert_eq!(owed(&acked, &page, later), None, "queued already");
        let mut resolved = acked.clone();
        resolved.status = Status::Resolved;
        resolved.resolved = Some(opened.opened.clone());
        assert_eq!(owed(&resolved, &page, later), Some(Action::Resolve));
        page.asked = Action::Trigger;
        page.state = PageState::Acknowledged;
        assert_eq!(
            owed(&acked, &page, later),
            None,
            "acknowledged in the pager"
        );
        assert_eq!(owed(&resolved, &page, later), Some(Action::Resolve));
        for done in [PageState::Failed, PageState::Resolved] {
            page.state = done;
            assert_eq!(owed(&resolved, &page, later), None);
        }
    }
}
