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

mod watch;

use std::sync::Arc;
use std::time::Duration;

use super::mitigate::{person, previewed};
use super::{Caller, Engine, Result, refuse};
use crate::approval::{NewRequest, Policy as ApprovalPolicy};
use crate::catalog::Service;
use crate::command::CommandName;
use crate::config::{JobKind, JobSettings, Settings, VerificationSettings};
use crate::incident::lifecycle::Step;
use crate::incident::timers::bot;
use crate::incident::{Incident, TimelineEvent};
use crate::message::{Block, Message};
use crate::ops::jobs::{self, JobSpec, Outcome, Purpose, Verdict, Waiting};
use crate::ops::{Change, Mutation};

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
                reason: Some(format!("{name} {}: {}", incident.id, incident.summary)),
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
            secret_env: job
                .secret_env
                .iter()
                .filter_map(|(var, reference)| {
                    let (secret, key) = crate::config::secret_ref(reference)?;
                    Some((var.clone(), secret.to_owned(), key.to_owned()))
                })
                .collect(),
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
        let message = watch::result_message(
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
