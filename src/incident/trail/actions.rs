//! The report's Actions Taken list: every update's progress, every change firewatch ran or
//! refused to run (with who asked and who approved), every verification verdict, in time order.
//! A change that did not happen is listed as what it was (denied, expired, failed), never as done.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::super::{TimelineEntry, TimelineEvent};
use crate::message::capitalise;

/// One line of the Actions Taken list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// When.
    pub at: DateTime<Utc>,
    /// What was done, found or refused, in words.
    pub what: String,
    /// Who did it (for a change: who asked).
    pub who: String,
    /// Whether it is a status update (the rest are changes and verdicts).
    pub update: bool,
}

/// A change that asked for approval: who asked, who approved.
#[derive(Debug, Default)]
struct Asked {
    what: String,
    by: String,
    approvers: Vec<String>,
}

/// The changes and verdicts between the last two updates of `actions` (before the first
/// update when there is only one): what the latest update's 📊 message reports as done since
/// the update before it.
pub fn since_last_update(actions: &[Action]) -> impl Iterator<Item = &Action> {
    let mut updates = actions
        .iter()
        .enumerate()
        .filter(|(_, a)| a.update)
        .map(|(i, _)| i);
    let last = updates.next_back().unwrap_or(actions.len());
    let previous = updates.next_back().map_or(0, |i| i + 1);
    actions[previous..last].iter().filter(|a| !a.update)
}

/// The actions read so far, and the approval requests they refer to.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    actions: Vec<Action>,
    requests: BTreeMap<i64, Asked>,
    /// The request whose run comes next (after [`TimelineEvent::ApprovalExecuting`]).
    running: Option<i64>,
    /// A change the policy lets run at once (after [`TimelineEvent::ApprovalNotRequired`]).
    unapproved: bool,
}

impl Ledger {
    /// Reads one entry.
    pub(super) fn read(&mut self, entry: &TimelineEntry) {
        let who = entry.actor.to_string();
        match &entry.event {
            TimelineEvent::Updated { progress, .. } => {
                self.push(entry, format!("Update: {progress}"), who);
                if let Some(last) = self.actions.last_mut() {
                    last.update = true;
                }
            }
            TimelineEvent::ApprovalRequested { request, what, .. } => {
                let asked = Asked {
                    what: what.clone(),
                    by: who,
                    approvers: Vec::new(),
                };
                self.requests.insert(*request, asked);
            }
            TimelineEvent::ApprovalGiven { request, .. } => {
                if let Some(asked) = self.requests.get_mut(request) {
                    asked.approvers.push(who);
                }
            }
            TimelineEvent::ApprovalNotRequired { .. } => self.unapproved = true,
            TimelineEvent::ApprovalExecuting { request, .. } => self.running = Some(*request),
            TimelineEvent::MutationApplied {
                what,
                before,
                after,
                ..
            } => {
                let done = format!("{} done: {before} → {after}", capitalise(what));
                self.change(entry, done, who);
            }
            TimelineEvent::MutationFailed { what, error } => {
                let failed = format!("{} failed: {error}; nothing changed", capitalise(what));
                self.change(entry, failed, who);
            }
            TimelineEvent::ApprovalDenied { request, reason } => {
                let why = reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                let text = format!("denied by {who}{why}; nothing ran");
                self.ended(entry, *request, &text);
            }
            TimelineEvent::ApprovalExpired { request } => {
                self.ended(
                    entry,
                    *request,
                    "expired without enough approvals; nothing ran",
                );
            }
            TimelineEvent::ApprovalClosed {
                request,
                state,
                why,
            } => {
                if self.running == Some(*request) {
                    self.running = None;
                }
                self.ended(entry, *request, &format!("{state}: {why}; nothing ran"));
            }
            TimelineEvent::ApprovalRefused {
                request: None,
                tried,
                why,
            } if tried == "request" => {
                self.push(entry, format!("Change refused: {why}"), who);
            }
            TimelineEvent::Verified { .. } | TimelineEvent::JobFinished { .. } => {
                let verdict = format!("Verification: {}", entry.event.describe());
                self.push(entry, verdict, who);
            }
            _ => {}
        }
    }

    /// The list, in time order.
    pub(super) fn into_actions(self) -> Vec<Action> {
        self.actions
    }

    fn push(&mut self, entry: &TimelineEntry, what: String, who: String) {
        self.actions.push(Action {
            at: entry.at,
            what,
            who,
            update: false,
        });
    }

    /// A change that ran (or failed): an approved request's asker and approvers, or the caller
    /// when the policy needed no approval.
    fn change(&mut self, entry: &TimelineEntry, outcome: String, who: String) {
        let (text, asker) = match self.running.take().and_then(|r| self.requests.get(&r)) {
            Some(asked) => {
                let approved = match asked.approvers.as_slice() {
                    [] => String::new(),
                    names => format!(", approved by {}", names.join(", ")),
                };
                let text = format!("{outcome} (asked by {}{approved})", asked.by);
                (text, asked.by.clone())
            }
            None if std::mem::take(&mut self.unapproved) => {
                let text = format!("{outcome} (asked by {who}; no approval required by policy)");
                (text, who)
            }
            None => (outcome, who),
        };
        self.push(entry, text, asker);
    }

    /// A request that closed without running.
    fn ended(&mut self, entry: &TimelineEntry, request: i64, how: &str) {
        let (what, asker) = match self.requests.get(&request) {
            Some(asked) => (asked.what.clone(), asked.by.clone()),
            None => (format!("request R{request}"), entry.actor.to_string()),
        };
        let text = format!("{} (R{request}) {how}", capitalise(&what));
        self.push(entry, text, asker);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, TimeZone, Utc};

    use super::*;
    use crate::incident::{Actor, Platform};

    fn entry(minute: i64, who: &str, event: TimelineEvent) -> TimelineEntry {
        TimelineEntry {
            seq: minute,
            at: Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap() + TimeDelta::minutes(minute),
            actor: Actor {
                platform: Platform::Console,
                id: who.into(),
                name: who.into(),
            },
            event,
        }
    }

    fn listed(timeline: &[TimelineEntry]) -> Vec<String> {
        let mut ledger = Ledger::default();
        timeline.iter().for_each(|e| ledger.read(e));
        let actions = ledger.into_actions();
        actions
            .iter()
            .map(|a| format!("{} — {}", a.what, a.who))
            .collect()
    }

    fn requested(request: i64, what: &str) -> TimelineEvent {
        TimelineEvent::ApprovalRequested {
            request,
            what: what.into(),
            required: 1,
            approvers: "@sre".into(),
            expires: Utc.with_ymd_and_hms(2026, 11, 29, 4, 0, 0).unwrap(),
        }
    }

    #[test]
    fn changes_that_did_not_happen_are_listed_as_what_they_were() {
        let timeline = [
            entry(1, "bob", requested(1, "scale freightliner to 0 replicas")),
            entry(
                16,
                "firewatch",
                TimelineEvent::ApprovalExpired { request: 1 },
            ),
            entry(
                17,
                "mallory",
                TimelineEvent::ApprovalRefused {
                    request: None,
                    tried: "request".into(),
                    why: "only @sre may ask for /incident-rollback (approval policy)".into(),
                },
            ),
            entry(
                18,
                "bob",
                TimelineEvent::ApprovalNotRequired {
                    what: "scale freightliner to 5 replicas".into(),
                },
            ),
            entry(
                18,
                "bob",
                TimelineEvent::MutationFailed {
                    what: "scale freightliner to 5 replicas".into(),
                    error: "the cluster refused access".into(),
                },
            ),
            entry(
                20,
                "bob",
                TimelineEvent::Verified {
                    passed: false,
                    checks: vec!["❌ /health 503".into()],
                },
            ),
        ];
        assert_eq!(
            listed(&timeline),
            [
                "Scale freightliner to 0 replicas (R1) expired without enough approvals; nothing ran — bob",
                "Change refused: only @sre may ask for /incident-rollback (approval policy) — mallory",
                "Scale freightliner to 5 replicas failed: the cluster refused access; nothing changed (asked by bob; no approval required by policy) — bob",
                "Verification: verified: checks failed (❌ /health 503) — bob",
            ]
        );
    }

    #[test]
    fn only_changes_and_verdicts_between_the_last_two_updates_are_since_the_last_update() {
        let update = |progress: &str| TimelineEvent::Updated {
            progress: progress.into(),
            eta: None,
            users: None,
            impact: None,
        };
        let timeline = [
            entry(1, "bob", update("looking")),
            entry(2, "bob", requested(1, "rollback freightliner")),
            entry(
                3,
                "carol",
                TimelineEvent::ApprovalDenied {
                    request: 1,
                    reason: None,
                },
            ),
            entry(4, "bob", update("rolling forward instead")),
        ];
        let mut ledger = Ledger::default();
        timeline.iter().for_each(|e| ledger.read(e));
        let actions = ledger.into_actions();
        let since: Vec<&str> = since_last_update(&actions)
            .map(|a| a.what.as_str())
            .collect();
        assert_eq!(
            since,
            ["Rollback freightliner (R1) denied by carol; nothing ran"]
        );
        assert_eq!(since_last_update(&actions[..1]).count(), 0);
    }
}
