//! Verification Jobs from the engine's side: starting one for an incident (through the
//! approval policy, like every change to the cluster), and watching it in the background until
//! its result is recorded on the timeline and posted through the outbox.
//!
//! # Guarantees
//! - A Job is created only after its start is committed to the timeline (with the chat
//!   request marked done), so a redelivered command starts nothing twice, and a crash leaves a
//!   record of what runs.
//! - Its result is committed (with the baseline, for `/performance-test baseline`) before it is
//!   posted; the Job is deleted once its result is read or its time is up.
//! - No command waits for a Job: the answer says it started, the result follows.

use std::sync::Arc;
use std::time::Duration;

use super::mitigate::{person, previewed};
use super::{Caller, Engine, Result, refuse};
use crate::approval::{NewRequest, Policy as ApprovalPolicy};
use crate::catalog::Service;
use crate::chat::Outbox;
use crate::clock::Clock;
use crate::command::CommandName;
use crate::config::{JobKind, JobSettings, Settings, VerificationSettings};
use crate::incident::lifecycle::Step;
use crate::incident::severity::Policy;
use crate::incident::timers::bot;
use crate::incident::{Incident, TimelineEvent};
use crate::message::{Block, Message};
use crate::ops::jobs::{self, Figures, JobSpec, Outcome, Purpose, Verdict, Waiting};
use crate::ops::{Change, Cluster, Mutation};
use crate::store::{Baseline, Store};

/// Lines of a load test's log read to find its figures.
const LOAD_LOG_LINES: u32 = 2_000;

/// The verification Jobs of the config.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// `[[jobs]]`.
    pub jobs: Vec<JobSettings>,
    /// `[verification]`.
    pub settings: VerificationSettings,
}

impl Verification {
    /// The jobs and settings of checked settings.
    pub fn new(settings: &Settings) -> Self {
        Self {
            jobs: settings.jobs.clone(),
            settings: settings.verification.clone(),
        }
    }

    /// The jobs of `kind` that verify `service`, in config order.
    pub fn of(&self, service: &str, kind: JobKind) -> Vec<&JobSettings> {
        self.jobs
            .iter()
            .filter(|j| j.kind == kind && j.covers(service))
            .collect()
    }

    fn named(&self, name: &str) -> Option<&JobSettings> {
        self.jobs.iter().find(|j| j.name == name)
    }

    fn waiting(&self, purpose: Purpose) -> Waiting {
        Waiting {
            poll: Duration::from_millis(self.settings.poll_ms),
            tail_lines: match purpose {
                Purpose::Smoke => self.settings.log_tail_lines,
                Purpose::Baseline | Purpose::Compare => LOAD_LOG_LINES,
            },
        }
    }
}

impl Engine {
    /// Starts `job` for `incident`'s `service`: the next run's [`JobSpec`], the approval policy
    /// (a request when it needs approval), a dry run, the timeline, then the Job and its
    /// watcher. `request` (the chat delivery) is marked done with the first entry. Returns the
    /// channel message.
    ///
    /// # Errors
    /// A refusal when the caller may not ask for Jobs; store failures.
    pub(super) async fn start_job(
        &self,
        caller: &Caller,
        request: Option<&str>,
        incident: &Incident,
        service: &Service,
        job: &JobSettings,
        purpose: Purpose,
    ) -> Result<Message> {
        let name = match purpose {
            Purpose::Smoke => CommandName::Verify,
            Purpose::Baseline | Purpose::Compare => CommandName::PerformanceTest,
        };
        let n = self.next_run(incident, &job.name).await?;
        let spec = self.job_spec(incident, service, job, purpose, n);
        let mutation = Mutation {
            service: service.clone(),
            change: Change::Job {
                purpose,
                spec: spec.clone(),
            },
        };
        let what = mutation.describe();
        let rule = self.approvals.rule(&mutation.change, incident.severity);
        if !self.approvals.may_request(&rule, person(caller)) {
            let who = ApprovalPolicy::describe_requesters(&rule);
            let why = format!("only {who} may ask for verification Jobs (approval policy)");
            self.audit_refusal(caller, incident, None, "request", &why)
                .await?;
            return Err(refuse(
                format!("You may not run {} job {}", purpose.describe(), job.name),
                format!("Only {who} may ask for it. The attempt is on the incident's timeline."),
            ));
        }
        let plan = match self.cluster.preview(&mutation).await {
            Ok(plan) => plan,
            Err(e) => {
                let outcome = Outcome {
                    verdict: Verdict::NotStarted(e.to_string()),
                    log: String::new(),
                    cleanup_error: None,
                };
                let entry = finished_entry(&spec, purpose, &outcome, false, Vec::new());
                self.record_entries(
                    caller,
                    request,
                    incident,
                    name,
                    Step::Investigate,
                    vec![entry],
                )
                .await?;
                return Ok(self.job_message(incident, &spec, purpose, &outcome, false, &[]));
            }
        };
        if rule.required > 0 {
            let now = self.clock.now();
            let new = NewRequest {
                incident: incident.id,
                command: name.word().to_owned(),
                service: service.name.clone(),
                severity: incident.severity,
                change: mutation.change.clone(),
                what: what.clone(),
                preview: format!("{} → {} ({})", plan.before, plan.after, plan.checked),
                reason: Some(format!("verify {}: {}", incident.id, incident.summary)),
                requested_by: caller.actor.clone(),
                requested_at: now,
                expires_at: now + rule.ttl.as_delta(),
                required: rule.required,
            };
            let approvers = ApprovalPolicy::describe_approvers(&rule);
            let entries = |id: i64| {
                vec![
                    previewed(&what, &plan),
                    TimelineEvent::ApprovalRequested {
                        request: id,
                        what: what.clone(),
                        required: rule.required,
                        approvers: approvers.clone(),
                        expires: new.expires_at,
                    },
                ]
            };
            let stored = self.store.request_approval(&new, &entries, request).await?;
            tracing::info!(incident = %incident.id, request = stored.id, job = %spec.name, "approval requested for a verification Job");
            let message = self.request_message(incident, &stored, &plan, &approvers);
            return Ok(super::approve::card(message, stored.id, false));
        }
        let entries = vec![
            TimelineEvent::ApprovalNotRequired { what: what.clone() },
            started_entry(&spec, purpose),
        ];
        if !self.reserve_job(&spec.name) {
            return Err(refuse(
                format!("Job {} is already running", spec.name),
                "Wait for its result, then try again.",
            ));
        }
        let incident = match self
            .record_entries(caller, request, incident, name, Step::Investigate, entries)
            .await
        {
            Ok(incident) => incident,
            Err(e) => {
                self.release_job(&spec.name);
                return Err(e);
            }
        };
        if let Err(e) = self.cluster.apply(&mutation).await {
            self.release_job(&spec.name);
            let outcome = Outcome {
                verdict: Verdict::NotStarted(e.to_string()),
                log: String::new(),
                cleanup_error: None,
            };
            let entry = finished_entry(&spec, purpose, &outcome, false, Vec::new());
            self.store
                .append(
                    incident.id,
                    &bot(&incident),
                    self.clock.now(),
                    None,
                    &[entry],
                )
                .await?;
            return Ok(self.job_message(&incident, &spec, purpose, &outcome, false, &[]));
        }
        tracing::info!(incident = %incident.id, job = %spec.name, "verification Job created");
        self.watch_job(&incident, spec.clone(), purpose);
        let mut message = Message::notice(
            format!(
                "🧪 Running {} {} - {}",
                purpose.describe(),
                job.name,
                incident.id
            ),
            &format!(
                "Job {} in {} ({}), timeout {}. The result follows here when it finishes.",
                spec.name, spec.namespace, spec.image, job.timeout
            ),
        );
        message.blocks.push(Block::Text(format!(
            "Asked by {}; no approval needed for verification Jobs.",
            caller.actor
        )));
        Ok(self.about_incident(&incident, message))
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
        let watch = Watch {
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

    /// On the first scheduler pass of this process: the Jobs of active incidents whose start is
    /// on the timeline but whose result is not (the process that started them stopped) are
    /// watched again; their result is recorded and posted when they finish. Returns how many.
    ///
    /// # Caveats
    /// With several processes on one store, each resumes them (a claim in the store would be
    /// needed to pick one).
    pub(super) async fn resume_jobs(&self) -> Result<usize> {
        use std::sync::atomic::Ordering;
        if self.jobs_resumed.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let mut resumed = 0;
        for incident in self.store.active_incidents().await? {
            let timeline = self.store.timeline(incident.id).await?;
            let finished: Vec<&str> = timeline
                .iter()
                .filter_map(|e| match &e.event {
                    TimelineEvent::JobFinished { name, .. } => Some(name.as_str()),
                    _ => None,
                })
                .collect();
            for entry in &timeline {
                let TimelineEvent::JobStarted {
                    job, name, purpose, ..
                } = &entry.event
                else {
                    continue;
                };
                if finished.contains(&name.as_str()) {
                    continue;
                }
                let purpose = match purpose.as_str() {
                    "smoke" => Purpose::Smoke,
                    "baseline" => Purpose::Baseline,
                    _ => Purpose::Compare,
                };
                let (Some(settings), Some(service), Some(n)) = (
                    self.verification.named(job),
                    self.catalog.get(&incident.service),
                    jobs::run_number(name, incident.id.get(), job),
                ) else {
                    tracing::warn!(incident = %incident.id, job = %name, "a verification Job of an earlier process is no longer configured; not watched");
                    continue;
                };
                if !self.reserve_job(name) {
                    continue;
                }
                let spec = self.job_spec(&incident, service, settings, purpose, n);
                tracing::info!(incident = %incident.id, job = %name, "watching a verification Job an earlier process started");
                self.watch_job(&incident, spec, purpose);
                resumed += 1;
            }
        }
        self.jobs_resumed.store(true, Ordering::SeqCst);
        Ok(resumed)
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

    fn job_spec(
        &self,
        incident: &Incident,
        service: &Service,
        job: &JobSettings,
        purpose: Purpose,
        n: u32,
    ) -> JobSpec {
        let id = incident.id.get().to_string();
        let fill = |v: &str| {
            v.replace("{namespace}", &service.namespace)
                .replace("{deployment}", &service.deployment)
                .replace("{service}", &service.name)
        };
        let mut env: Vec<(String, String)> =
            job.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect();
        for (k, v) in [
            ("FIREWATCH_INCIDENT", id.clone()),
            ("FIREWATCH_SERVICE", service.name.clone()),
            ("FIREWATCH_NAMESPACE", service.namespace.clone()),
            ("FIREWATCH_DEPLOYMENT", service.deployment.clone()),
        ] {
            if !job.env.contains_key(k) {
                env.push((k.to_owned(), v));
            }
        }
        JobSpec {
            job: job.name.clone(),
            name: jobs::job_name(incident.id.get(), &job.name, n),
            namespace: job
                .namespace
                .clone()
                .unwrap_or_else(|| service.namespace.clone()),
            image: job.image.clone(),
            command: job.command.iter().map(|c| fill(c)).collect(),
            args: job.args.iter().map(|a| fill(a)).collect(),
            env,
            limits: job
                .limits
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            timeout_secs: job.timeout.as_secs(),
            ttl_secs: u32::try_from(self.verification.settings.ttl_after_finished.as_secs())
                .unwrap_or(u32::MAX),
            labels: vec![
                (jobs::MANAGED_BY.0.into(), jobs::MANAGED_BY.1.into()),
                (jobs::INCIDENT_LABEL.into(), id),
                (jobs::JOB_LABEL.into(), job.name.clone()),
                (jobs::PURPOSE_LABEL.into(), purpose.as_str().into()),
            ],
        }
    }

    fn job_message(
        &self,
        incident: &Incident,
        spec: &JobSpec,
        purpose: Purpose,
        outcome: &Outcome,
        passed: bool,
        lines: &[String],
    ) -> Message {
        let message = result_message(
            incident,
            spec,
            purpose,
            outcome,
            passed,
            lines,
            &self.verification,
        );
        self.about_incident(incident, message)
    }

    fn about_incident(&self, incident: &Incident, message: Message) -> Message {
        message
            .with_colour(&self.policy.level(incident.severity).colour)
            .about(incident.id)
    }
}

/// What a watcher needs after the command returned.
struct Watch {
    watching: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    stop: tokio::sync::watch::Receiver<()>,
    store: Arc<dyn Store>,
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
    policy: Arc<Policy>,
    cluster: Arc<dyn Cluster>,
    verification: Arc<Verification>,
    incident: Incident,
    spec: JobSpec,
    purpose: Purpose,
}

impl Watch {
    async fn run(mut self) {
        let waiting = self.verification.waiting(self.purpose);
        let outcome = tokio::select! {
            outcome = jobs::wait(&*self.cluster, &self.spec, waiting) => outcome,
            _ = self.stop.changed() => {
                tracing::info!(job = %self.spec.name, "firewatch stops; the Job is watched again after a restart");
                return;
            }
        };
        self.finish(outcome).await;
        self.watching
            .lock()
            .expect("not poisoned")
            .remove(&self.spec.name);
    }

    /// Records the result of a run that ended, then posts it.
    async fn finish(&self, outcome: Outcome) {
        let id = self.incident.id;
        let (passed, lines, baseline) = self.judge(&outcome).await;
        let entry = finished_entry(&self.spec, self.purpose, &outcome, passed, lines.clone());
        let actor = bot(&self.incident);
        let now = self.clock.now();
        let stored = match baseline {
            Some(figures) => {
                let baseline = Baseline {
                    service: self.incident.service.clone(),
                    job: self.spec.job.clone(),
                    figures,
                    incident: id,
                    job_name: self.spec.name.clone(),
                    by: actor.clone(),
                    at: now,
                };
                self.store.store_baseline(&baseline, &[entry], &actor).await
            }
            None => self.store.append(id, &actor, now, None, &[entry]).await,
        };
        if let Err(e) = stored {
            tracing::error!(incident = %id, job = %self.spec.name, error = %crate::error_chain(&e), "a verification Job's result was not recorded; not posting it");
            return;
        }
        // The incident may have moved to its own channel since the command.
        let incident = match self.store.incident(id).await {
            Ok(Some(i)) => i,
            _ => self.incident.clone(),
        };
        let message = result_message(
            &incident,
            &self.spec,
            self.purpose,
            &outcome,
            passed,
            &lines,
            &self.verification,
        )
        .with_colour(&self.policy.level(incident.severity).colour)
        .about(id);
        if let Err(e) = self.outbox.post(&incident.channel, &message).await {
            tracing::warn!(incident = %id, job = %self.spec.name, error = %e, "a verification Job's result was recorded but not posted");
        }
        self.outbox.mirror(&incident.channel, &message).await;
    }

    /// Whether the run passed, the lines that say why, and the figures to store as baseline.
    async fn judge(&self, outcome: &Outcome) -> (bool, Vec<String>, Option<Figures>) {
        let tail_lines = self.verification.settings.log_tail_lines as usize;
        let tail = || jobs::tail(&outcome.log, tail_lines);
        if self.purpose == Purpose::Smoke {
            return (outcome.verdict == Verdict::Passed, tail(), None);
        }
        let Some(job) = self.verification.named(&self.spec.job) else {
            return (
                false,
                vec![format!(
                    "job '{}' is no longer in the config; its figures cannot be read",
                    self.spec.job
                )],
                None,
            );
        };
        // A load test that failed (k6 thresholds) still reports its figures.
        if !matches!(outcome.verdict, Verdict::Passed | Verdict::Failed(_)) {
            return (false, tail(), None);
        }
        let format = job.result.unwrap_or(jobs::ResultFormat::Line);
        let figures = match jobs::figures::parse(format, &outcome.log) {
            Ok(f) => f,
            Err(e) => {
                let mut lines = vec![format!("❌ figures not found: {e}")];
                lines.extend(tail());
                return (false, lines, None);
            }
        };
        match self.purpose {
            Purpose::Baseline if outcome.verdict == Verdict::Passed => (
                true,
                vec![format!("baseline stored: {}", figures.describe())],
                Some(figures),
            ),
            Purpose::Baseline => (
                false,
                vec![format!(
                    "{} — not stored as baseline: the test failed",
                    figures.describe()
                )],
                None,
            ),
            _ => {
                let baseline = self
                    .store
                    .baseline(&self.incident.service, &self.spec.job)
                    .await;
                match baseline {
                    Ok(Some(b)) => {
                        let c = jobs::figures::compare(
                            &figures,
                            &b.figures,
                            job.tolerance(&self.verification.settings),
                        );
                        let mut lines = c.lines;
                        lines.push(format!(
                            "baseline from {} ({}, {})",
                            b.at.format("%Y-%m-%d %H:%M UTC"),
                            b.job_name,
                            b.incident
                        ));
                        (c.passed && outcome.verdict == Verdict::Passed, lines, None)
                    }
                    Ok(None) => (
                        false,
                        vec![
                            figures.describe(),
                            "no baseline to compare with (/performance-test baseline stores one)"
                                .into(),
                        ],
                        None,
                    ),
                    Err(e) => (
                        false,
                        vec![
                            figures.describe(),
                            format!("the baseline could not be read: {e}"),
                        ],
                        None,
                    ),
                }
            }
        }
    }
}

fn started_entry(spec: &JobSpec, purpose: Purpose) -> TimelineEvent {
    TimelineEvent::JobStarted {
        job: spec.job.clone(),
        name: spec.name.clone(),
        purpose: purpose.as_str().into(),
        image: spec.image.clone(),
    }
}

fn finished_entry(
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

/// The channel message of a finished (or never started) Job.
fn result_message(
    incident: &Incident,
    spec: &JobSpec,
    purpose: Purpose,
    outcome: &Outcome,
    passed: bool,
    lines: &[String],
    verification: &Verification,
) -> Message {
    let what = match purpose {
        Purpose::Smoke => "SMOKE TEST",
        Purpose::Baseline => "LOAD TEST BASELINE",
        Purpose::Compare => "PERFORMANCE TEST",
    };
    let id = incident.id;
    let job = &spec.job;
    let (headline, body) = match &outcome.verdict {
        Verdict::NotStarted(why) => (
            format!("⚠️ {what} COULD NOT START - {id}: {job}"),
            format!(
                "Job {} could not start: {why}. This is not a test failure: the test never ran.",
                spec.name
            ),
        ),
        Verdict::TimedOut => (
            format!("⏱️ {what} TIMED OUT - {id}: {job}"),
            format!(
                "Job {} did not finish within {}s; it was stopped and deleted.",
                spec.name, spec.timeout_secs
            ),
        ),
        Verdict::Unknown(why) => (
            format!("❓ {what} RESULT UNKNOWN - {id}: {job}"),
            format!("Job {}: {why}.", spec.name),
        ),
        Verdict::Failed(why) if purpose == Purpose::Smoke => (
            format!("❌ {what} FAILED - {id}: {job}"),
            format!("Job {} failed: {why}.", spec.name),
        ),
        Verdict::Passed if purpose == Purpose::Smoke => (
            format!("✅ {what} PASSED - {id}: {job}"),
            format!("Job {} exited 0.", spec.name),
        ),
        verdict => {
            let mark = if passed { "✅" } else { "❌" };
            let result = match (purpose, passed) {
                (Purpose::Baseline, true) => "STORED",
                (Purpose::Baseline, false) => "NOT STORED",
                (_, true) => "WITHIN TOLERANCE",
                (_, false) => "OUTSIDE TOLERANCE",
            };
            (
                format!("{mark} {what} {result} - {id}: {job}"),
                format!("Job {} {}.", spec.name, verdict.describe()),
            )
        }
    };
    let mut message = Message::notice(headline, &body);
    if !lines.is_empty() {
        let log_shown = purpose == Purpose::Smoke
            || !matches!(outcome.verdict, Verdict::Passed | Verdict::Failed(_));
        if log_shown {
            message.blocks.push(Block::Text(format!(
                "Log (last {} lines of {}):",
                lines.len(),
                spec.name
            )));
            message
                .blocks
                .extend(lines.iter().map(|l| Block::Text(format!("│ {l}"))));
        } else {
            message
                .blocks
                .extend(lines.iter().map(|l| Block::Text(l.clone())));
        }
    }
    if let Some(e) = &outcome.cleanup_error {
        message.blocks.push(Block::Text(format!(
            "⚠️ The Job could not be deleted ({e}); the cluster removes it {}s after it finished.",
            verification.settings.ttl_after_finished.as_secs()
        )));
    }
    message
}
