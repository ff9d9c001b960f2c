//! Watching a created verification Job until it ends: its result judged (a smoke test's exit,
//! a load test's figures against the baseline), committed to the timeline (with the baseline),
//! then posted through the outbox. A watcher only reads its Job (and deletes it once read); it
//! starts nothing: Jobs are created through the change gate.

use std::sync::Arc;

use super::finished_entry;
use crate::clock::Clock;
use crate::engine::Outbox;
use crate::engine::{Engine, Result};
use crate::incident::Incident;
use crate::incident::TimelineEvent;
use crate::incident::severity::Policy;
use crate::incident::timers::bot;
use crate::message::{Block, Message};
use crate::ops::Cluster;
use crate::ops::jobs::{self, Figures, JobSpec, Judged, Outcome, Purpose, Verdict, Verification};
use crate::store::{Baseline, Store};

impl Engine {
    /// On the first scheduler pass of this process: the Jobs of active incidents whose start is
    /// on the timeline but whose result is not (the process that started them stopped) are
    /// watched again; their result is recorded and posted when they finish. Returns how many.
    ///
    /// # Caveats
    /// With several processes on one store, each resumes them (a claim in the store would be
    /// needed to pick one).
    pub(in crate::engine) async fn resume_jobs(&self) -> Result<usize> {
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
                let (Some(definition), Some(service), Some(n)) = (
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
                let spec =
                    self.verification
                        .spec(definition, incident.id.get(), service, purpose, n);
                tracing::info!(incident = %incident.id, job = %name, "watching a verification Job an earlier process started");
                self.watch_job(&incident, spec, purpose);
                resumed += 1;
            }
        }
        self.jobs_resumed.store(true, Ordering::SeqCst);
        Ok(resumed)
    }
}

/// What a watcher needs after the command returned.
pub(super) struct Watch {
    pub(super) watching: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    pub(super) stop: tokio::sync::watch::Receiver<()>,
    pub(super) store: Arc<dyn Store>,
    pub(super) outbox: Arc<dyn Outbox>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) policy: Arc<Policy>,
    pub(super) cluster: Arc<dyn Cluster>,
    pub(super) verification: Arc<Verification>,
    pub(super) incident: Incident,
    pub(super) spec: JobSpec,
    pub(super) purpose: Purpose,
}

impl Watch {
    pub(super) async fn run(mut self) {
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
        // One result per Job, however many processes watch it (replicas resume the same Jobs).
        let request = format!("job:{}", self.spec.name);
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
                self.store
                    .store_baseline(&baseline, &[entry], &actor, Some(&request))
                    .await
            }
            None => {
                self.store
                    .append(id, &actor, now, Some(&request), &[entry])
                    .await
            }
        };
        if let Err(crate::store::Error::Replayed(_)) = stored {
            tracing::info!(incident = %id, job = %self.spec.name, "another process recorded this Job's result");
            return;
        }
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
    async fn judge(&self, outcome: &Outcome) -> Judgement {
        let tail_lines = self.verification.log_tail_lines as usize;
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
        let Judged::Load { format, tolerance } = job.judged else {
            return (
                false,
                vec![format!(
                    "job '{}' is no longer a load test in the config; its figures cannot be read",
                    self.spec.job
                )],
                None,
            );
        };
        // A load test that failed (k6 thresholds) still reports its figures.
        if !matches!(outcome.verdict, Verdict::Passed | Verdict::Failed(_)) {
            return (false, tail(), None);
        }
        let figures = match jobs::figures::parse(format, &outcome.log) {
            Ok(f) => f,
            Err(e) => {
                let mut lines = vec![format!("❌ figures not found: {e}")];
                lines.extend(tail());
                return (false, lines, None);
            }
        };
        let passed = outcome.verdict == Verdict::Passed;
        match self.purpose {
            Purpose::Baseline if passed => (
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
            _ => self.compare_with_baseline(figures, tolerance, passed).await,
        }
    }

    /// A load test's figures against the service's stored baseline: within tolerance (and the
    /// test itself `passed`), with the lines that say so.
    async fn compare_with_baseline(
        &self,
        figures: Figures,
        tolerance: jobs::Tolerance,
        passed: bool,
    ) -> Judgement {
        let baseline = self
            .store
            .baseline(&self.incident.service, &self.spec.job)
            .await;
        match baseline {
            Ok(Some(b)) => {
                let c = jobs::figures::compare(&figures, &b.figures, tolerance);
                let mut lines = c.lines;
                lines.push(format!(
                    "baseline from {} ({}, {})",
                    b.at.format("%Y-%m-%d %H:%M UTC"),
                    b.job_name,
                    b.incident
                ));
                (c.passed && passed, lines, None)
            }
            Ok(None) => (
                false,
                vec![
                    figures.describe(),
                    "no baseline to compare with (/performance-test baseline stores one)".into(),
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

/// What a finished run came to: whether it passed, the lines that say why, and the figures to
/// store as the baseline.
type Judgement = (bool, Vec<String>, Option<Figures>);

/// The channel message of a finished (or never started) Job.
pub(super) fn result_message(
    incident: &Incident,
    spec: &JobSpec,
    purpose: Purpose,
    outcome: &Outcome,
    passed: bool,
    lines: &[String],
    verification: &Verification,
) -> Message {
    let (headline, body) = verdict_text(incident, spec, purpose, &outcome.verdict, passed);
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
            verification.ttl_after_finished.as_secs()
        )));
    }
    message
}

/// The headline and body of a Job's result: what ran, and its verdict in words.
fn verdict_text(
    incident: &Incident,
    spec: &JobSpec,
    purpose: Purpose,
    verdict: &Verdict,
    passed: bool,
) -> (String, String) {
    let what = match purpose {
        Purpose::Smoke => "SMOKE TEST",
        Purpose::Baseline => "LOAD TEST BASELINE",
        Purpose::Compare => "PERFORMANCE TEST",
    };
    let id = incident.id;
    let (job, name) = (&spec.job, &spec.name);
    match verdict {
        Verdict::NotStarted(why) => (
            format!("⚠️ {what} COULD NOT START - {id}: {job}"),
            format!(
                "Job {name} could not start: {why}. This is not a test failure: the test never ran."
            ),
        ),
        Verdict::TimedOut => (
            format!("⏱️ {what} TIMED OUT - {id}: {job}"),
            format!(
                "Job {name} did not finish within {}s; it was stopped and deleted.",
                spec.timeout_secs
            ),
        ),
        Verdict::Unknown(why) => (
            format!("❓ {what} RESULT UNKNOWN - {id}: {job}"),
            format!("Job {name}: {why}."),
        ),
        Verdict::Failed(why) if purpose == Purpose::Smoke => (
            format!("❌ {what} FAILED - {id}: {job}"),
            format!("Job {name} failed: {why}."),
        ),
        Verdict::Passed if purpose == Purpose::Smoke => (
            format!("✅ {what} PASSED - {id}: {job}"),
            format!("Job {name} exited 0."),
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
                format!("Job {name} {}.", verdict.describe()),
            )
        }
    }
}
