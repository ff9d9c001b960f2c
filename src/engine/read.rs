//! `/incident-status`: one incident with its timeline, or the list of open ones.

use super::{Caller, Engine, Reply, Result, private};
use crate::incident::{Incident, IncidentId};
use crate::message::Message;
use crate::notify::{Template, context};

/// Which of a channel's incidents a command without `#ID` means.
pub(super) enum Choice {
    /// Exactly one fits: the only active one, or the only one at all.
    One(Box<Incident>),
    /// None is bound to the channel.
    Nothing,
    /// Several fit; the caller must say which.
    Several(Vec<Incident>),
}

/// Picks from the channel's not-closed incidents (newest first).
pub(super) fn choose(mut candidates: Vec<Incident>) -> Choice {
    let active: Vec<usize> = (0..candidates.len())
        .filter(|&i| candidates[i].status.is_active())
        .collect();
    match (active.as_slice(), candidates.len()) {
        ([one], _) => Choice::One(Box::new(candidates.swap_remove(*one))),
        ([], 1) => Choice::One(Box::new(candidates.swap_remove(0))),
        ([], 0) => Choice::Nothing,
        _ => Choice::Several(candidates),
    }
}

impl Engine {
    /// `/incident-status [#ID]`: the named or channel's incident; otherwise the open incidents.
    pub(super) async fn status(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
    ) -> Result<Vec<Reply>> {
        let now = self.clock.now();
        let chosen = match explicit {
            Some(_) => Choice::One(Box::new(self.target(caller, explicit).await?)),
            None => choose(self.store.incidents_in(&caller.channel).await?),
        };
        let message = match chosen {
            Choice::One(incident) => {
                let timeline = self.store.timeline(incident.id).await?;
                let data = context::status(&incident, &self.policy, &timeline, now);
                self.render(Template::Status, &data, &incident)
            }
            Choice::Nothing => {
                let open = self.store.active_incidents().await?;
                self.list(&open, now)?
            }
            Choice::Several(list) => self.list(&list, now)?,
        };
        Ok(vec![private(message)])
    }

    fn list(&self, incidents: &[Incident], now: chrono::DateTime<chrono::Utc>) -> Result<Message> {
        let data = context::incidents(incidents, &self.policy, now);
        Ok(self.templates.render(Template::Incidents, &data)?)
    }
}
