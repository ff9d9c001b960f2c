//! The post-incident report and its follow-up actions: `/incident-report` renders the report
//! from the incident's trail ([`crate::incident::trail`]), writes it to the reports folder and
//! closes the incident; `/incident-followup` adds and ticks action items.
//!
//! It writes report files and commits through the state machine; it never touches the cluster.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::steps::{allowed_now, refusal};
use super::{Caller, Engine, Error, Reply, Result, refuse, to_channel};
use crate::alerts::Member;
use crate::command::{CommandName, Followup};
use crate::incident::lifecycle::{self, Event, FollowUp};
use crate::incident::trail::{self, Trail};
use crate::incident::{Incident, IncidentId, Status, TimelineEntry, TimelineEvent, timeline};
use crate::message::Message;
use crate::notify::{Template, context};
use crate::store::Updated;
use crate::text;

impl Engine {
    /// `/incident-report`: renders the report from the timeline, writes it to
    /// `reports.dir/incident-YYYYMMDD[-N].md`, closes the incident and posts the report. On a
    /// closed incident, writes its report again (with the action items as they are now).
    ///
    /// # Guarantees
    /// The file is written before the incident is closed: a closed incident always has its
    /// report. A report whose close is refused (someone closed it first) is removed again.
    pub(super) async fn report(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
    ) -> Result<Vec<Reply>> {
        let target = self.target(caller, explicit).await?;
        let id = target.id;
        match target.status {
            Status::Resolved | Status::Closed => {}
            status => {
                return Err(refuse(
                    format!("{id} cannot have its report yet"),
                    format!(
                        "The post-incident report is written once the incident is resolved. \
                         {} Resolve it first: /incident-resolve {id} <root cause> | <resolution>.",
                        allowed_now(id, status)
                    ),
                ));
            }
        }
        let timeline = self.store.timeline(id).await?;
        let alerts = self.store.alerts_of(id).await?;
        let now = self.clock.now();
        if target.status == Status::Closed {
            return self.rewrite_report(&target, &timeline, &alerts, now).await;
        }
        // The report describes the incident as it will be once closed.
        let closing = Incident {
            status: Status::Closed,
            closed_at: Some(now),
            ..target.clone()
        };
        let mut trail = trail::derive(&closing, &timeline);
        self.track(&closing, &mut trail).await;
        let text = self.report_text(&closing, &trail, &alerts, now)?;
        let place = self.store.opened_earlier_that_day(&closing).await?;
        let (path, created) = write_report(&self.reports, &closing, place, &text)?;
        let shown = path.display().to_string();
        let event = Event::Close {
            report: shown.clone(),
        };
        let decide = |incident: &Incident| {
            lifecycle::apply(incident, event.clone(), &caller.actor, now, &self.policy)
        };
        let updated = self
            .store
            .update(id, &caller.actor, now, caller.request.as_deref(), &decide)
            .await;
        match updated {
            Ok(Updated::Changed { after, .. }) => {
                tracing::info!(incident = %id, report = %shown, "report written; incident closed");
                self.publish_report(&after, &path, &text).await;
                let message = self.report_message(&after, &trail, &path, text, false);
                Ok(vec![to_channel(&after.channel, message)])
            }
            Ok(Updated::Refused(r)) => {
                // A report written at the same moment may have closed the incident with this
                // very file (same heading, so it reused the name): then the file stays.
                let closed_meanwhile = matches!(
                    self.store.incident(id).await,
                    Ok(Some(i)) if i.status == crate::incident::Status::Closed
                );
                if !closed_meanwhile {
                    discard(&path, created);
                }
                Err(refusal(CommandName::Report, r))
            }
            Err(e) => {
                discard(&path, created);
                Err(e.into())
            }
        }
    }

    /// Writes the report of a closed incident again, at the path its closing recorded.
    async fn rewrite_report(
        &self,
        incident: &Incident,
        timeline: &[TimelineEntry],
        alerts: &[Member],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<Reply>> {
        let recorded = timeline.iter().rev().find_map(|e| match &e.event {
            TimelineEvent::Closed { report } => Some(PathBuf::from(report)),
            _ => None,
        });
        let Some(path) = recorded else {
            return Err(refuse(
                format!("{} is closed without a report", incident.id),
                "Its timeline records no report file, so there is nothing to write again.",
            ));
        };
        let mut trail = trail::derive(incident, timeline);
        self.track(incident, &mut trail).await;
        let text = self.report_text(incident, &trail, alerts, now)?;
        write_file(&path, &text, false).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        tracing::info!(incident = %incident.id, report = %path.display(), "report written again");
        self.publish_report(incident, &path, &text).await;
        let message = self.report_message(incident, &trail, &path, text, true);
        Ok(vec![to_channel(&incident.channel, message)])
    }

    /// The report of `incident` as written to its file. Text from outside in it (notes, log
    /// lines, alert text) has its hidden characters shown as escapes ([`text::escape_hidden`]):
    /// the file is read in terminals and browsers, and posted as it is.
    pub(super) fn report_text(
        &self,
        incident: &Incident,
        trail: &Trail,
        alerts: &[Member],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<String> {
        let rendered = self.templates.render_text(
            Template::Report,
            &context::report(incident, &self.policy, trail, alerts, now),
        )?;
        Ok(text::escape_hidden(&rendered).into_owned())
    }

    /// The channel message that carries the report written to `path`: it names the file, not
    /// the folder it is in on the server.
    fn report_message(
        &self,
        incident: &Incident,
        trail: &Trail,
        path: &Path,
        text: String,
        rewritten: bool,
    ) -> Message {
        let name = timeline::report_file_name(&path.to_string_lossy()).to_owned();
        let data = context::closed(incident, &self.policy, trail, &name, rewritten);
        self.render(Template::Closed, &data, incident)
            .with_attachment(name, text)
    }

    /// `/incident-followup <text>` adds an action item; `done N` ticks item N. Works in every
    /// status, also after the incident is closed.
    pub(super) async fn followup(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        followup: Followup,
    ) -> Result<Vec<Reply>> {
        let target = self.target(caller, explicit).await?;
        let id = target.id;
        let event = match followup {
            Followup::Add(text) => FollowUp::Add(text),
            Followup::Assign(n, person) => {
                return self.assign_item(caller, &target, n, &person).await;
            }
            Followup::Done(n) => {
                let timeline = self.store.timeline(target.id).await?;
                let items = trail::derive(&target, &timeline).action_items;
                match items.iter().find(|i| i.n == n) {
                    None if items.is_empty() => {
                        return Err(refuse(
                            format!("{} has no action items", target.id),
                            "Add one with /incident-followup <text>.",
                        ));
                    }
                    None => {
                        return Err(refuse(
                            format!("There is no action item {n} on {}", target.id),
                            format!(
                                "Its action items are 1 to {}; /incident-status {} lists them.",
                                items.len(),
                                target.id
                            ),
                        ));
                    }
                    Some(item) if item.done => {
                        return Err(refuse(
                            format!("Action item {n} is already done"),
                            format!("{}: {}", n, item.text),
                        ));
                    }
                    Some(_) => FollowUp::Done(n),
                }
            }
        };
        let replies = self
            .transition(
                caller,
                Some(target.id),
                CommandName::Followup,
                Event::FollowUp(event.clone()),
            )
            .await?;
        match &event {
            FollowUp::Add(text) => self.file_item(id, text).await,
            FollowUp::Done(n) => self.close_item(id, *n).await,
        }
        Ok(replies)
    }
}

/// Writes `text` to `dir/incident-YYYYMMDD[-N].md`: the detection day, and `-N` for the N-th
/// incident opened that day (`place` incidents opened before it), whatever order their reports
/// are written in. A file that already holds this incident's report (a retry after a failed
/// close) is written over; one that holds another report is kept, and this one takes the next
/// free name. Returns the path and whether the file is new.
fn write_report(
    dir: &Path,
    incident: &Incident,
    place: u32,
    text: &str,
) -> Result<(PathBuf, bool)> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let stem = format!("incident-{}", incident.opened.at.format("%Y%m%d"));
    let heading = text.lines().next().unwrap_or_default();
    for n in place.saturating_add(1)..place.saturating_add(10_000) {
        let name = if n == 1 {
            format!("{stem}.md")
        } else {
            format!("{stem}-{n}.md")
        };
        let path = dir.join(name);
        match write_file(&path, text, true) {
            Ok(()) => return Ok((path, true)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let existing = std::fs::read_to_string(&path).unwrap_or_default();
                if existing.lines().next() == Some(heading) {
                    write_file(&path, text, false).map_err(io(&path))?;
                    return Ok((path, false));
                }
            }
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Err(io(dir)(std::io::Error::other("no free report file name")))
}

/// Writes and syncs a file; with `new`, only if it does not exist yet.
fn write_file(path: &Path, text: &str, new: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Removes a report written for a close that did not happen (only a file this call created).
fn discard(path: &Path, created: bool) {
    if created && let Err(e) = std::fs::remove_file(path) {
        tracing::warn!(report = %path.display(), error = %e, "could not remove an unused report");
    }
}
