//! Action items in the tracker (`[followups] tracker`): after `/incident-followup` commits an
//! item or its tick, the post that files or closes its issue is stored in the outbox
//! ([`crate::tracker`]); before a report is rendered, each filed item's state is read from the
//! tracker, so an issue closed there is ticked.

use super::{Caller, Engine, Reply, Result, refuse, to_channel};
use crate::command::Mention;
use crate::incident::roles::{self, Role};
use crate::incident::trail::{self, Trail};
use crate::incident::{Incident, IncidentId, Platform};
use crate::message::Message;

impl Engine {
    /// Files the newest action item of `id` that reads `text` (just added) in the tracker.
    pub(super) async fn file_item(&self, id: IncidentId, text: &str) {
        let Some(tracker) = &self.tracker else {
            return;
        };
        let (incident, timeline) = match self.incident_and_timeline(id).await {
            Some(found) => found,
            None => return,
        };
        let items = trail::derive(&incident, &timeline).action_items;
        if let Some(item) = items.iter().rev().find(|i| i.text == text) {
            tracker.file(&incident, item.n, text).await;
        }
    }

    /// Files what a crash lost: an action item of an active incident that was committed while
    /// its filing post never was (the process stopped between the two). Once per process, at
    /// the scheduler's first tick; a filing still waiting in the outbox goes first, and this one
    /// then finds the item filed and calls nobody. Closed incidents' items are filed again when
    /// their report is written.
    pub(super) async fn file_what_a_crash_lost(&self) {
        let Some(tracker) = &self.tracker else {
            return;
        };
        if self.refiled.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let active = match self.store.active_incidents().await {
            Ok(active) => active,
            Err(e) => {
                tracing::warn!(error = %crate::error_chain(&e), "cannot look for action items left unfiled; looking again next tick");
                self.refiled
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                return;
            }
        };
        for incident in active {
            let Ok(timeline) = self.store.timeline(incident.id).await else {
                continue;
            };
            let items = trail::derive(&incident, &timeline).action_items;
            for item in items.iter().filter(|i| i.issue.is_none()) {
                tracker.file(&incident, item.n, &item.text).await;
            }
        }
    }

    /// Closes the issue of action item `n` of `id` (just ticked) in the tracker.
    pub(super) async fn close_item(&self, id: IncidentId, n: u32) {
        let Some(tracker) = &self.tracker else {
            return;
        };
        if let Ok(Some(incident)) = self.store.incident(id).await {
            tracker.close(&incident, n).await;
        }
    }

    /// `/incident-followup N @person`: assigns item `n`'s issue to the person's account in
    /// the tracker (`[people.NAME] github` or `jira`).
    pub(super) async fn assign_item(
        &self,
        caller: &Caller,
        incident: &Incident,
        n: u32,
        person: &Mention,
    ) -> Result<Vec<Reply>> {
        let id = incident.id;
        let Some(tracker) = &self.tracker else {
            return Err(refuse(
                "Action items are assigned in a tracker",
                "Set [followups] tracker = \"github\" or \"jira\" to file them as issues; \
                 /incident-followup N @person then assigns one.",
            ));
        };
        let timeline = self.store.timeline(id).await?;
        let items = trail::derive(incident, &timeline).action_items;
        if !items.iter().any(|i| i.n == n) {
            return Err(refuse(
                format!("There is no action item {n} on {id}"),
                format!("/incident-status {id} lists its action items."),
            ));
        }
        // `@commander`, `@comms`, `@scribe`: whoever holds that role of the incident now.
        let role = match person {
            Mention::Name(word) => Role::parse(word).ok(),
            Mention::Account { .. } => None,
        };
        let (person, platform) = match role {
            Some(role) => {
                let Some(holder) = roles::holder(&incident.roles, role) else {
                    return Err(refuse(
                        format!("Nobody is {role} of {id}"),
                        format!(
                            "/incident-role {id} {} @person names one; or name the person.",
                            role.as_str()
                        ),
                    ));
                };
                let held = &holder.person;
                let mention = match held.platform {
                    Platform::Console => Mention::Name(held.id.clone()),
                    _ => Mention::Account {
                        id: held.id.clone(),
                        label: Some(held.name.clone()),
                    },
                };
                (mention, held.platform)
            }
            None => (person.clone(), caller.actor.platform),
        };
        let shown = match &person {
            Mention::Name(name) => name.clone(),
            Mention::Account { id, label } => label.clone().unwrap_or_else(|| id.clone()),
        };
        let (name, key) = (tracker.name(), tracker.person_key());
        let Some(login) = tracker.account(&person, platform) else {
            return Err(refuse(
                format!("{shown} has no {name} account"),
                format!("Add {key} = \"ACCOUNT\" to their [people.NAME] in bot.toml."),
            ));
        };
        tracker.assign(incident, n, &login).await;
        let message = Message::notice(
            format!("👤 ACTION ITEM {n} on {id} ASSIGNED"),
            &format!(
                "Its issue is assigned to {login} on {name} (by {}).",
                caller.actor
            ),
        )
        .about(id);
        Ok(vec![to_channel(&incident.channel, message)])
    }

    /// Marks `trail`'s action items (of `incident`) as the tracker has them now: an item whose
    /// issue is closed there is done, one not filed yet says so and is filed again (a filing a
    /// crash lost, or one refused before the token was fixed; a filing still waiting in the
    /// outbox goes first, and this one then finds the item filed and calls nobody).
    pub(super) async fn track(&self, incident: &Incident, trail: &mut Trail) {
        let Some(tracker) = &self.tracker else {
            return;
        };
        for item in trail.action_items.iter().filter(|i| i.issue.is_none()) {
            tracker.file(incident, item.n, &item.text).await;
        }
        let reads = trail.action_items.iter().map(|item| async {
            match &item.issue {
                Some((key, _)) => tracker.closed(key).await,
                None => None,
            }
        });
        let states = futures::future::join_all(reads).await;
        for (item, closed) in trail.action_items.iter_mut().zip(states) {
            item.unfiled = item.issue.is_none();
            if closed == Some(true) {
                item.done = true;
            }
        }
    }

    /// Stores the post that commits the report `text` of `incident`, written to `path`, to the
    /// service's repository (`[reports] github`).
    pub(super) async fn publish_report(
        &self,
        incident: &Incident,
        path: &std::path::Path,
        text: &str,
    ) {
        let Some(reports) = &self.published else {
            return;
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if let Some(name) = name {
            reports.publish(incident, &name, text).await;
        }
    }

    async fn incident_and_timeline(
        &self,
        id: IncidentId,
    ) -> Option<(
        crate::incident::Incident,
        Vec<crate::incident::TimelineEntry>,
    )> {
        let incident = self.store.incident(id).await.ok().flatten()?;
        let timeline = self.store.timeline(id).await.ok()?;
        Some((incident, timeline))
    }
}
