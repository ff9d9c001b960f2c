//! `/incident-status`: one incident with its timeline, or the list of open ones; and which of a
//! channel's incidents a command without `#ID` means. It only reads the store.

use super::{Caller, Engine, Reply, Result, private};
use crate::incident::{Incident, IncidentId};
use crate::message::Message;
use crate::notify::{Template, context};

/// Which of a channel's incidents a command without `#ID` means.
pub(super) enum Choice {
    /// The only active one; with none active, the most recently opened resolved one.
    One(Box<Incident>),
    /// None is bound to the channel.
    Nothing,
    /// Several are active; the caller must say which.
    Several(Vec<Incident>),
}

/// Picks from the channel's not-closed incidents (newest first).
pub(super) fn choose(candidates: Vec<Incident>) -> Choice {
    let (mut active, resolved): (Vec<Incident>, Vec<Incident>) =
        candidates.into_iter().partition(|i| i.status.is_active());
    match active.len() {
        1 => Choice::One(Box::new(active.remove(0))),
        0 => resolved
            .into_iter()
            .next()
            .map_or(Choice::Nothing, |i| Choice::One(Box::new(i))),
        _ => Choice::Several(active),
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
                let alerts = self.store.alerts_of(incident.id).await?;
                let data = context::status(&incident, &self.policy, &timeline, &alerts, now);
                let mut message = self.render(Template::Status, &data, &incident);
                self.show_pages(incident.id, &mut message).await?;
                message
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
