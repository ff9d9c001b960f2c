//! Verification Jobs from the engine's side: starting one for an incident (through the change
//! gate, like every change to the cluster, as a [`JobRun`]), and watching it in the background
//! until its result is recorded on the timeline and posted through the outbox.
//!
//! # Guarantees
//! - A Job is created only after its start is committed to the timeline (with the chat
//!   request marked done), so a redelivered command starts nothing twice, and a crash leaves a
//!   record of what runs.
//! - Its result is committed (with the baseline, for `/performance-test baseline`) before it is
//!   posted; the Job is deleted once its result is read or its time is up.
//! - No command waits for a Job: the answer says it started, the result follows.

mod watch;

use std::sync::Arc;

use super::gate::{self, Ask, Effect, Ran};
use super::{Caller, Engine, Result};
use crate::catalog::Service;
use crate::command::CommandName;
use crate::incident::{Incident, TimelineEvent};
use crate::interval::Interval;
use crate::message::{Block, Message};
use crate::ops::jobs::{self, Definition, JobSpec, Outcome, Purpose, Verdict};
use crate::ops::{self, Change, Mutation};

impl Engine {
    /// Starts `job` for `incident`'s `service`: the next run's [`JobSpec`], taken through the
    /// change gate (who may ask, a dry run, the approval policy) as a [`JobRun`]. `request` (the
    /// chat delivery) is marked done with the first entry. Returns the channel message.
    ///
    /// # Errors
    /// A refusal when the caller may not ask for Jobs or the Job already runs; store failures.
    pub(super) async fn start_job(
        &self,
        caller: &Caller,
        request: Option<&str>,
        incident: &Incident,
        service: &Service,
        job: &Definition,
        purpose: Purpose,
    ) -> Result<Message> {
        let command = match purpose {
            Purpose::Smoke => CommandName::Verify,
            Purpose::Baseline | Purpose::Compare => CommandName::PerformanceTest,
        };
        let n = self.next_run(incident, &job.name).await?;
        let spec = self
            .verification
            .spec(job, incident.id.get(), service, purpose, n);
        let ask = Ask {
            caller,
            delivery: request,
            incident,
            command,
        };
        let run = JobRun {
            spec: &spec,
            purpose,
        };
        let mutation = Mutation {
            service: service.clone(),
            change: Change::Job {
                purpose,
                spec: spec.clone(),
            },
        };
        self.gate(&ask, mutation, &run).await
    }

    /// Marks the Job `name` as watched by this process (before its start is recorded, so the
    /// scheduler's [`Engine::resume_jobs`] leaves it alone); false when it already is.
    pub(super) fn reserve_job(&self, name: &str) -> bool {
        self.watching
            .lock()
            .expect("not poisoned")
            .insert(name.to_owned())
    }

    /// Undoes [`Engine::reserve_job`] for a Job that was not created.
    pub(super) fn release_job(&self, name: &str) {
        self.watching.lock().expect("not poisoned").remove(name);
    }

    /// Watches a created (and reserved) Job in the background until its result is recorded
    /// and posted, or this engine is dropped (a restart resumes it).
    pub(super) fn watch_job(&self, incident: &Incident, spec: JobSpec, purpose: Purpose) {
        let watch = watch::Watch {
            watching: Arc::clone(&self.watching),
            stop: self.alive.subscribe(),
            store: Arc::clone(&self.store),
            outbox: Arc::clone(&self.outbox),
            clock: Arc::clone(&self.clock),
            policy: Arc::clone(&self.policy),
            cluster: Arc::clone(&self.cluster),
            verification: Arc::clone(&self.verification),
            incident: incident.clone(),
            spec,
            purpose,
        };
        tokio::spawn(watch.run());
    }

    /// The run number after the highest one this incident's timeline names for `job`.
    async fn next_run(&self, incident: &Incident, job: &str) -> Result<u32> {
        let id = incident.id.get();
        let highest = self
            .store
            .timeline(incident.id)
            .await?
            .iter()
            .filter_map(|e| match &e.event {
                TimelineEvent::JobStarted { name, .. }
                | TimelineEvent::JobFinished { name, .. } => jobs::run_number(name, id, job),
                TimelineEvent::ApprovalRequested { what, .. }
                | TimelineEvent::MutationPreviewed { what, .. } => what
                    .split_whitespace()
                    .filter_map(|w| jobs::run_number(w, id, job))
                    .max(),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        Ok(highest.saturating_add(1))
    }
}

/// A verification Job through the change gate: its watcher is reserved before its start is
/// recorded, its start is recorded before it is created, and its result follows when it
/// finishes. A Job that cannot be created (not even as a dry run) is a result too: it never ran.
pub(super) struct JobRun<'a> {
    /// The run, exactly as it is created.
    pub(super) spec: &'a JobSpec,
    /// Why it runs.
    pub(super) purpose: Purpose,
}

impl JobRun<'_> {
    fn not_started_entry(&self, error: &ops::Error) -> TimelineEvent {
        finished_entry(
            self.spec,
            self.purpose,
            &not_started(error),
            false,
            Vec::new(),
        )
    }

    /// The result message of a Job the cluster would not create: the test never ran.
    fn not_started_message(
        &self,
        engine: &Engine,
        incident: &Incident,
        error: &ops::Error,
    ) -> Message {
        let (spec, purpose, outcome) = (self.spec, self.purpose, not_started(error));
        let message = watch::result_message(
            incident,
            spec,
            purpose,
            &outcome,
            false,
            &[],
            &engine.verification,
        );
        engine.about(incident, message)
    }
}

impl Effect for JobRun<'_> {
    fn purpose(&self) -> &'static str {
        "verify"
    }

    fn unpreviewed(
        &self,
        engine: &Engine,
        incident: &Incident,
        error: &ops::Error,
    ) -> Option<(Vec<TimelineEvent>, Message)> {
        let message = self.not_started_message(engine, incident, error);
        Some((vec![self.not_started_entry(error)], message))
    }

    fn reserve(&self, engine: &Engine) -> std::result::Result<(), String> {
        if engine.reserve_job(&self.spec.name) {
            Ok(())
        } else {
            Err(format!("Job {} is already running", self.spec.name))
        }
    }

    fn release(&self, engine: &Engine) {
        engine.release_job(&self.spec.name);
    }

    fn starting(&self) -> Vec<TimelineEvent> {
        vec![started_entry(self.spec, self.purpose)]
    }

    fn recorded(&self, _what: &str, outcome: &gate::Outcome) -> Vec<TimelineEvent> {
        match outcome {
            Ok(_) => Vec::new(),
            Err(e) => vec![self.not_started_entry(e)],
        }
    }

    fn follow(&self, engine: &Engine, incident: &Incident, outcome: &gate::Outcome) {
        match outcome {
            Ok(_) => engine.watch_job(incident, self.spec.clone(), self.purpose),
            Err(_) => engine.release_job(&self.spec.name),
        }
    }

    fn ran(&self, engine: &Engine, ran: &Ran<'_>) -> Message {
        let (spec, purpose, incident) = (self.spec, self.purpose, ran.incident);
        if let Err(e) = ran.outcome {
            return self.not_started_message(engine, incident, e);
        }
        tracing::info!(incident = %incident.id, job = %spec.name, "verification Job created");
        let mut message = Message::notice(
            format!(
                "🧪 Running {} {} - {}",
                purpose.describe(),
                spec.job,
                incident.id
            ),
            &format!(
                "Job {} in {} ({}), timeout {}. The result follows here when it finishes.",
                spec.name,
                spec.namespace,
                spec.image,
                Interval::from_secs(spec.timeout_secs)
            ),
        );
        message.blocks.push(Block::Text(format!(
            "Asked by {}; no approval needed for verification Jobs.",
            ran.ask.caller.actor
        )));
        engine.about(incident, message)
    }
}

/// The outcome of a Job the cluster would not create.
fn not_started(error: &ops::Error) -> Outcome {
    Outcome {
        verdict: Verdict::NotStarted(error.to_string()),
        log: String::new(),
        cleanup_error: None,
    }
}

pub(super) fn started_entry(spec: &JobSpec, purpose: Purpose) -> TimelineEvent {
    TimelineEvent::JobStarted {
        job: spec.job.clone(),
        name: spec.name.clone(),
        purpose: purpose.as_str().into(),
        image: spec.image.clone(),
    }
}

pub(super) fn finished_entry(
    spec: &JobSpec,
    purpose: Purpose,
    outcome: &Outcome,
    passed: bool,
    lines: Vec<String>,
) -> TimelineEvent {
    TimelineEvent::JobFinished {
        job: spec.job.clone(),
        name: spec.name.clone(),
        purpose: purpose.as_str().into(),
        verdict: outcome.verdict.describe(),
        passed,
        lines,
    }
}
