//! Alert notifications: one incident per alert group while it is active. A notification is
//! planned ([`group::plan`]) inside the store's transaction against the group as stored; a new
//! incident is opened the way `/incident-assess` opens one (evidence, paging, the 🚨 message,
//! timers) with the receiver as its reporter and the earliest alert start as its detection
//! time. Later alerts are attached, at most one "➕ more alerts firing" message per incident
//! every `alerts.update_every` (the rest wait for [`Engine::run_due`]); a more severe alert
//! raises the severity as `/incident-severity` would; when every alert resolved, the channel is
//! told (and with `alerts.auto_monitor` the incident moves to Monitoring). Past
//! `alerts.max_new_incidents` openings a minute, new groups join one storm incident.
//!
//! It never resolves an incident: that needs a root cause from a person.

use chrono::{DateTime, Utc};

use super::opening::Opening;
use super::{Answer, Caller, Engine, Error, Failure, Reply, Result, error_reference, to_channel};
use crate::alerts::group::{self, Plan, Target};
use crate::alerts::messages::{self, Shown, timeline_line};
use crate::alerts::{AlertState, Change, Decision, Notification, rules};
use crate::error_chain;
use crate::incident::lifecycle::{self, Event, Report};
use crate::incident::{Actor, Draft, Incident, Status, TimelineEvent};
use crate::interval::humanize;
use crate::message::{Block, ButtonStyle, Message};
use crate::store::{self, AlertsTaken, Announcement, Taken};

/// How many due "more alerts" messages one store call claims.
const BATCH: u32 = 64;

impl Engine {
    /// Takes alert notification `n`, from `caller` (its receiver; `caller.request` is its inbox
    /// key, marked done with its effect), once: the messages for the channels (none for a
    /// repeat), [`Answer::Replayed`] when an earlier run took it, or [`Answer::Failed`] for an
    /// internal failure (logged), after which running it again is safe.
    #[tracing::instrument(skip_all, fields(group = %n.group_key, alerts = n.alerts.len()))]
    pub async fn take_alerts(&self, caller: &Caller, n: &Notification) -> Answer {
        match self.alerts_of_group(caller, n).await {
            Ok(replies) => {
                self.mirror(&replies);
                Answer::Final(replies)
            }
            Err(Error::Store(store::Error::Replayed(key))) => {
                tracing::info!(request = %key, "alert notification already taken; no effect");
                Answer::Replayed
            }
            Err(e) => {
                let reference = error_reference();
                tracing::error!(error = %error_chain(&e), reference = %reference, "an alert notification failed");
                Answer::Failed(Failure { reference })
            }
        }
    }

    async fn alerts_of_group(&self, caller: &Caller, n: &Notification) -> Result<Vec<Reply>> {
        let now = self.clock.now();
        let group = n.group_key.as_str();
        let every = self.alerts.update_every;
        let request = caller.request.as_deref();
        // A new incident's evidence is gathered before the transaction, never inside it.
        let state = self.store.alert_state(group, now).await?;
        let mut opening = match self.plan(&state, n).target {
            Target::Open => Some(self.open_for(caller, n, now).await),
            _ => None,
        };
        let taken = loop {
            let draft = opening.as_ref().map(|o| &o.draft);
            let decide = |state: &AlertState| self.decide(state, n, &caller.actor, draft, now);
            let taken = self
                .store
                .take_alerts(group, &caller.actor, now, every, request, &decide)
                .await?;
            match taken.taken {
                // Another notification ended the group's incident meanwhile.
                Taken::NeedsDraft if opening.is_none() => {
                    opening = Some(self.open_for(caller, n, now).await);
                }
                _ => break taken,
            }
        };
        let changed = match &taken.taken {
            Taken::Opened { incident, .. } => Some((None, (**incident).clone())),
            Taken::Updated { before, after, .. } => {
                Some((Some((**before).clone()), (**after).clone()))
            }
            _ => None,
        };
        let mut replies = self.said(taken, n, opening, caller, now);
        if let Some((before, after)) = changed {
            self.page_from_alerts(before.as_ref(), &after, &mut replies)
                .await;
        }
        Ok(replies)
    }

    /// Shows a change alerts made to the pagers, in the first message about the incident (or
    /// one of its own when the change had none).
    async fn page_from_alerts(
        &self,
        before: Option<&Incident>,
        after: &Incident,
        replies: &mut Vec<Reply>,
    ) {
        let Some(pages) = &self.pages else { return };
        let lines: Vec<Block> = pages
            .follow(before, after, None)
            .await
            .into_iter()
            .map(Block::Text)
            .collect();
        if lines.is_empty() {
            return;
        }
        match replies
            .iter_mut()
            .find(|r| r.message.incident == Some(after.id))
        {
            Some(reply) => {
                reply.message.blocks.push(Block::Text(String::new()));
                reply.message.blocks.extend(lines);
            }
            None => {
                let mut message =
                    Message::notice(format!("📟 {} paged", after.id), "").about(after.id);
                message.blocks = lines;
                replies.push(to_channel(&after.channel, message));
            }
        }
    }

    fn plan(&self, state: &AlertState, n: &Notification) -> Plan {
        group::plan(state, &n.group_key, &n.alerts, &self.alerts)
    }

    /// A new incident for `n`'s group, prepared as `/incident-assess` prepares one.
    async fn open_for(&self, caller: &Caller, n: &Notification, now: DateTime<Utc>) -> Opening {
        let rules = &self.alerts;
        let service = match self.catalog.pick(Some(rules.service(n))) {
            Ok(service) => service,
            Err(_) => self.catalog.pick(None).expect("the catalog has a service"),
        };
        let classification = rules.classify(n.firing());
        let detected = n.detected(now);
        let channel = rules.channel(&service.name);
        let summary = rules::summary(n);
        self.prepare_opening(
            &caller.actor,
            &channel,
            summary,
            classification,
            service,
            detected,
        )
        .await
    }

    /// The decision for `n` on the group as stored (`draft`: the group's new incident, when one
    /// was prepared).
    fn decide(
        &self,
        state: &AlertState,
        n: &Notification,
        by: &Actor,
        draft: Option<&Draft>,
        now: DateTime<Utc>,
    ) -> Decision {
        let plan = self.plan(state, n);
        let members = plan.merge.written.clone();
        let announce = plan.merge.fires();
        let change = match plan.target {
            Target::Nothing => return Decision::nothing(),
            Target::Latest => match &state.latest {
                Some(incident) => self.attach(incident, &plan, n, by, now),
                None => return Decision::nothing(),
            },
            Target::Open => match draft {
                Some(draft) => {
                    let previous = state.latest.as_ref().map(|p| previously(p, now));
                    let mut draft = draft.clone();
                    draft.entries.push(self.fired(n, &plan, previous));
                    Change::Open {
                        draft: Box::new(draft),
                        storm: false,
                    }
                }
                None => Change::NeedsDraft,
            },
            Target::Storm => match state.storm.as_ref().filter(|s| s.status.is_active()) {
                Some(storm) => self.attach(storm, &plan, n, by, now),
                None => Change::Open {
                    draft: Box::new(self.storm(n, &plan, by, now)),
                    storm: true,
                },
            },
        };
        Decision {
            change,
            members,
            announce,
        }
    }

    /// Attaches `plan`'s alerts (of `n`'s group) to `incident`, the group's or the storm
    /// incident: their timeline entries, a raise, the move to Monitoring. An incident that is
    /// over keeps them without a change.
    fn attach(
        &self,
        incident: &Incident,
        plan: &Plan,
        n: &Notification,
        by: &Actor,
        now: DateTime<Utc>,
    ) -> Change {
        let mut entries = Vec::new();
        if plan.merge.fires() {
            entries.push(self.fired(n, plan, None));
        }
        if let Some((count, at)) = plan.all_resolved {
            entries.push(TimelineEvent::AlertsResolved { count, at });
        }
        let raise = plan
            .severity
            .as_ref()
            .filter(|c| c.severity < incident.severity)
            .map(|c| {
                let mut names: Vec<&str> = Vec::new();
                for name in plan.merge.newly_firing().map(|m| m.alert.name()) {
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                let more = names.len().saturating_sub(3);
                names.truncate(3);
                let names = match more {
                    0 => names.join(", "),
                    more => format!("{} and {more} more", names.join(", ")),
                };
                (c.severity, format!("{names} fired ({c})"))
            });
        let monitor = plan.all_resolved.is_some() && self.alerts.auto_monitor;
        if !incident.status.is_active() || (entries.is_empty() && raise.is_none()) {
            return Change::Keep;
        }
        let event = Event::Alerts {
            entries,
            raise,
            monitor,
        };
        match lifecycle::apply(incident, event, by, now, &self.policy) {
            Ok(outcome) => Change::Update {
                id: incident.id,
                outcome: Box::new(outcome),
            },
            Err(refusal) => {
                tracing::warn!(incident = %incident.id, %refusal, "the incident's state refused its alerts' timeline entries");
                Change::Keep
            }
        }
    }

    /// The timeline entry of the alerts of `n`'s group that started firing (`previous`: the
    /// group's incident before, in words, when a new one opens): at most [`messages::LISTED`]
    /// of them, then how many more, and the service they are about.
    fn fired(&self, n: &Notification, plan: &Plan, previous: Option<String>) -> TimelineEvent {
        let total = plan.merge.newly_firing().count();
        let firing = plan.merge.newly_firing().map(|m| timeline_line(&m.alert));
        let alerts = messages::listed(firing, total);
        TimelineEvent::AlertsFired {
            group: n.group_key.clone(),
            count: count(total),
            alerts,
            refired: count(plan.merge.refired.len()),
            previous,
            service: Some(self.alerts.service(n).to_owned()),
        }
    }

    /// The storm incident, opened for `n`'s group: in the alerts channel, about the default
    /// service, as severe as its alerts; paged once for every group that joins it.
    fn storm(&self, n: &Notification, plan: &Plan, by: &Actor, now: DateTime<Utc>) -> Draft {
        let rules = &self.alerts;
        let classification = plan
            .severity
            .clone()
            .unwrap_or_else(|| rules.classify(n.firing()));
        let service = rules.default_service().to_owned();
        let report = Report {
            summary: format!(
                "⛈️ Alert storm: more than {} alert groups fired within a minute",
                rules.max_new_incidents
            ),
            paged: self.paged(classification.severity, &service, &[]),
            service,
            classification,
            channel: rules.default_channel(),
        };
        let detected = n.detected(now);
        let mut draft = lifecycle::open_at(report, by, detected, now, &self.policy);
        draft.entries.push(self.fired(n, plan, None));
        draft
    }

    /// The messages about what a notification did, for the incident's channel.
    fn said(
        &self,
        taken: AlertsTaken,
        n: &Notification,
        opening: Option<Opening>,
        caller: &Caller,
        now: DateTime<Utc>,
    ) -> Vec<Reply> {
        let AlertsTaken {
            taken,
            announce,
            previous,
        } = taken;
        match taken {
            Taken::Nothing | Taken::NeedsDraft => Vec::new(),
            Taken::Opened { incident, storm } => {
                tracing::info!(incident = %incident.id, severity = %incident.severity, storm, "incident opened from alerts");
                let mut message = match opening.filter(|_| !storm) {
                    Some(opening) => self.opened(&incident, opening, &caller.actor),
                    None => {
                        let paged = self.paged(incident.severity, &incident.service, &[]);
                        self.alert(&incident, Vec::new(), false, paged, now)
                    }
                };
                let mut lines = Vec::new();
                if storm {
                    lines.push(format!(
                        "⛈️ Alert storm: more than {} alert groups opened incidents within a \
                         minute, so further groups join {} instead of paging again.",
                        self.alerts.max_new_incidents, incident.id
                    ));
                }
                if let Some(previous) = previous.filter(|p| p.id != incident.id && !storm) {
                    lines.push(format!(
                        "🔁 Fired again; previous {}",
                        previously(&previous, now)
                    ));
                }
                lines.push(format!("🔔 Alerts firing ({})", announce.count));
                lines.extend(announce.lines());
                if n.truncated > 0 {
                    lines.push(format!(
                        "{} more alerts were left out by the sender (max_alerts)",
                        n.truncated
                    ));
                }
                message.blocks.push(Block::Text(String::new()));
                message.blocks.extend(lines.into_iter().map(Block::Text));
                for (label, url) in messages::links(n) {
                    message = message.with_link(label, url);
                }
                vec![to_channel(&incident.channel, message)]
            }
            Taken::Kept(incident) => self.more(&incident, &announce).into_iter().collect(),
            Taken::Updated {
                before,
                after,
                entries,
            } => {
                self.metrics.incident_changed(&before, &after, now);
                let mut replies = Vec::new();
                if after.severity < before.severity {
                    let why = entries.iter().find_map(|e| match e {
                        TimelineEvent::SeverityChanged { reason, .. } => reason.clone(),
                        _ => None,
                    });
                    let message =
                        self.severity_changed(&before, &after, why.as_deref(), &caller.actor, now);
                    replies.push(to_channel(&after.channel, message));
                }
                replies.extend(self.more(&after, &announce));
                let resolved = entries.iter().find_map(|e| match e {
                    TimelineEvent::AlertsResolved { count, at } => Some((*count, *at)),
                    _ => None,
                });
                if let Some((count, at)) = resolved {
                    let moved = before.status != after.status && after.status == Status::Monitoring;
                    replies.push(to_channel(
                        &after.channel,
                        self.all_resolved(&after, count, at, moved),
                    ));
                }
                replies
            }
        }
    }

    /// "➕ N more alerts firing" about `shown`, when there are any.
    fn more(&self, incident: &Incident, shown: &Shown) -> Option<Reply> {
        if shown.is_empty() || !incident.status.is_active() {
            return None;
        }
        let headline = match (shown.count, shown.again) {
            (n, a) if a == n => format!("🔁 {} firing again on {}", alerts(n), incident.id),
            (n, 0) => format!("➕ {} more {} firing on {}", n, plural(n), incident.id),
            (n, a) => format!(
                "➕ {} more {} firing on {} ({a} again)",
                n,
                plural(n),
                incident.id
            ),
        };
        let mut message = Message::notice(headline, "");
        message.blocks = shown.lines().into_iter().map(Block::Text).collect();
        Some(to_channel(&incident.channel, self.about(incident, message)))
    }

    /// "✅ All N alerts resolved", with the step it suggests (or took, with `moved`).
    fn all_resolved(
        &self,
        incident: &Incident,
        count: u32,
        at: DateTime<Utc>,
        moved: bool,
    ) -> Message {
        let id = incident.id;
        let what = match count {
            1 => format!("The alert of {id} resolved"),
            n => format!("All {n} alerts of {id} resolved"),
        };
        let headline = format!("✅ {what} at {}", at.format("%H:%M UTC"));
        let next = format!(
            "Resolving it needs its root cause: /incident-resolve {id} <root cause> | <resolution>."
        );
        let body = if moved {
            format!("firewatch moved {id} to Monitoring (alerts.auto_monitor). {next}")
        } else {
            format!(
                "If the fix holds, move it to Monitoring: /incident-update {id} --status \
                 monitoring <what was done>. {next}"
            )
        };
        let mut message = self.about(incident, Message::notice(headline, &body));
        if !moved && incident.status != Status::Monitoring {
            message = message.with_button(
                "Move to Monitoring",
                format!("/incident-update {id} --status monitoring all alerts resolved"),
                ButtonStyle::Primary,
            );
        }
        message
    }

    /// Posts the "➕ more alerts firing" messages that fell due (alerts that waited for the
    /// incident's cadence); returns how many were posted. A failed post is logged.
    ///
    /// # Errors
    /// Store failures before any was claimed.
    pub(super) async fn announce_due(&self) -> std::result::Result<usize, store::Error> {
        let now = self.clock.now();
        let due: Vec<Announcement> = self.store.due_announcements(now, BATCH).await?;
        let mut posted = 0;
        for Announcement { incident, shown } in due {
            let Some(reply) = self.more(&incident, &shown) else {
                continue;
            };
            if let Err(e) = self.outbox.post(&incident.channel, &reply.message).await {
                tracing::warn!(incident = %incident.id, error = %e, "could not post the alerts that waited");
                continue;
            }
            self.outbox.mirror(&incident.channel, &reply.message).await;
            posted += 1;
        }
        Ok(posted)
    }
}

/// The group's previous incident in words: `#12 resolved 2h 05m ago`.
fn previously(incident: &Incident, now: DateTime<Utc>) -> String {
    let (word, at) = match (&incident.resolved, incident.closed_at) {
        (_, Some(closed)) if incident.status == Status::Closed => ("closed", closed),
        (Some(resolved), _) => ("resolved", resolved.at),
        _ => ("opened", incident.opened.at),
    };
    format!("{} {word} {} ago", incident.id, humanize(now - at))
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "alert" } else { "alerts" }
}

/// `1 alert`, `3 alerts`.
fn alerts(n: usize) -> String {
    format!("{n} {}", plural(n))
}
