//! `/incident-verify`: GET the service's health URLs, check the Deployment's rollout and, with
//! Prometheus, the error rate; record the verdict on the timeline, then post it (✅/❌ per check).
//! Then the service's smoke-test Jobs start (or only they, with `--smoke-only`); their results
//! follow when they finish (see `jobs`). `/performance-test [baseline]` runs the
//! service's load-test Jobs the same way. The checks only read; Jobs are created only through
//! the change gate.

use super::diagnose::{Unit, probe_error};
use super::{Caller, Engine, Error, Reply, Result, refuse, refused, to_channel};
use crate::catalog::Service;
use crate::command::CommandName;
use crate::incident::lifecycle::Step;
use crate::incident::{Incident, IncidentId, TimelineEvent};
use crate::message::{Block, Message};
use crate::ops::jobs::Purpose;

impl Engine {
    /// `/incident-verify`.
    #[tracing::instrument(skip(self, caller), fields(user = %caller.actor.id))]
    pub(super) async fn verify(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        smoke_only: bool,
    ) -> Result<Vec<Reply>> {
        let incident = self.target(caller, explicit).await?;
        self.check_allowed(&incident, CommandName::Verify)?;
        let service = self.service_of(&incident)?;
        let smoke = self.verification.smoke_tests(&service.name);
        if smoke_only && smoke.is_empty() {
            return Err(refuse(
                format!("No smoke-test job is configured for {}", service.name),
                "Add a [[jobs]] entry with kind = \"smoke\" (README: Verification jobs); \
                 /incident-verify without --smoke-only checks the health URLs, the rollout and the error rate.",
            ));
        }
        let mut replies = Vec::new();
        let mut request = caller.request.as_deref();
        let mut incident = incident;
        if !smoke_only {
            let (reply, after) = self.http_checks(caller, &incident, &service).await?;
            replies.push(reply);
            incident = after;
            request = None;
        }
        for job in &smoke {
            match self
                .start_job(caller, request, &incident, &service, job, Purpose::Smoke)
                .await
            {
                Ok(message) => replies.push(to_channel(&incident.channel, message)),
                Err(e) => return besides(replies, e),
            }
            request = None;
        }
        Ok(replies)
    }

    /// `/performance-test [baseline]`: runs the service's load-test jobs; with `baseline` their
    /// figures become the baseline, without it they are compared with it.
    #[tracing::instrument(skip(self, caller), fields(user = %caller.actor.id))]
    pub(super) async fn performance_test(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        baseline: bool,
    ) -> Result<Vec<Reply>> {
        let incident = self.target(caller, explicit).await?;
        self.check_allowed(&incident, CommandName::PerformanceTest)?;
        let service = self.service_of(&incident)?;
        let load = self.verification.load_tests(&service.name);
        if load.is_empty() {
            return Err(refuse(
                format!("No load-test job is configured for {}", service.name),
                "Add a [[jobs]] entry with kind = \"load\" (README: Verification jobs).",
            ));
        }
        if !baseline {
            let mut missing = Vec::new();
            for job in &load {
                if self
                    .store
                    .baseline(&service.name, &job.name)
                    .await?
                    .is_none()
                {
                    missing.push(job.name.clone());
                }
            }
            if !missing.is_empty() {
                return Err(refuse(
                    format!(
                        "There is no baseline for {} yet (load job {})",
                        service.name,
                        missing.join(", ")
                    ),
                    "Run /performance-test baseline while the service is healthy to store one; \
                     nothing was started.",
                ));
            }
        }
        let purpose = if baseline {
            Purpose::Baseline
        } else {
            Purpose::Compare
        };
        let mut replies = Vec::new();
        let mut request = caller.request.as_deref();
        for job in &load {
            match self
                .start_job(caller, request, &incident, &service, job, purpose)
                .await
            {
                Ok(message) => replies.push(to_channel(&incident.channel, message)),
                Err(e) => return besides(replies, e),
            }
            request = None;
        }
        Ok(replies)
    }

    /// The HTTP checks of `/incident-verify`: health URLs, rollout, error rate; recorded, with
    /// the channel message and the incident after.
    async fn http_checks(
        &self,
        caller: &Caller,
        incident: &Incident,
        service: &Service,
    ) -> Result<(Reply, Incident)> {
        let mut checks = self.probe_health_urls(service).await;
        checks.push(self.rollout_check(service).await);
        if let Some(check) = self.error_rate_check(service).await {
            checks.push(check);
        }
        let failed = checks.iter().filter(|(ok, _)| !ok).count();
        let lines: Vec<String> = checks
            .iter()
            .map(|(ok, line)| format!("{} {line}", if *ok { "✅" } else { "❌" }))
            .collect();
        let entry = TimelineEvent::Verified {
            passed: failed == 0,
            checks: lines.clone(),
        };
        let incident = self
            .record_entries(
                caller,
                caller.request.as_deref(),
                incident,
                CommandName::Verify,
                Step::Investigate,
                vec![entry],
            )
            .await?;
        let headline = if failed == 0 {
            format!(
                "✅ VERIFIED - {}: all {} checks passed",
                incident.id,
                checks.len()
            )
        } else {
            format!(
                "❌ NOT VERIFIED - {}: {failed} of {} checks failed",
                incident.id,
                checks.len()
            )
        };
        let mut message = Message::notice(headline, "");
        message.blocks = lines.into_iter().map(Block::Text).collect();
        let message = self.about(&incident, message);
        Ok((to_channel(&incident.channel, message), incident))
    }

    /// GETs each health URL: only a 2xx answer passes (a redirect to a login page is not a
    /// healthy answer).
    async fn probe_health_urls(&self, service: &Service) -> Vec<Check> {
        let probes = service.health_urls.iter().map(|target| async move {
            let url = crate::ops::probe::redact(target);
            match self.prober.get(target).await {
                Ok(a) => (
                    (200..300).contains(&a.status),
                    format!("GET {url} → {} in {} ms", a.status, a.latency.as_millis()),
                ),
                Err(e) => (false, format!("GET {url}: {}", probe_error(&e))),
            }
        });
        futures::future::join_all(probes).await
    }

    /// Whether the Deployment's rollout is complete.
    async fn rollout_check(&self, service: &Service) -> Check {
        let deployment = &service.deployment;
        match self.cluster.rollout_status(service).await {
            Ok(r) if r.is_complete() => (
                true,
                format!("rollout of {deployment} complete: {}", r.describe()),
            ),
            Ok(r) => (
                false,
                format!("rollout of {deployment} not complete: {}", r.describe()),
            ),
            Err(e) => (false, format!("rollout of {deployment}: {e}")),
        }
    }

    /// Whether the error rate is at most `prometheus.error_rate_max`; `None` without Prometheus.
    async fn error_rate_check(&self, service: &Service) -> Option<Check> {
        if !self.prober.has_prometheus() {
            return None;
        }
        let max = self.prober.error_rate_max();
        Some(match self.prober.query("error_rate", service).await {
            Ok(Some(rate)) => (
                rate <= max,
                format!(
                    "error rate {} (at most {})",
                    Unit::Share.show(rate),
                    Unit::Share.show(max)
                ),
            ),
            Ok(None) => (false, "error rate: Prometheus has no data".into()),
            Err(e) => (false, format!("error rate: {}", probe_error(&e))),
        })
    }
}

/// One check of `/incident-verify`: whether it passed, and what it saw.
type Check = (bool, String);

/// What a command answers when `error` stops it after `replies` (what already ran, and is
/// committed): a refusal is told to the caller beside them, not instead of them.
fn besides(mut replies: Vec<Reply>, error: Error) -> Result<Vec<Reply>> {
    match error {
        Error::User { headline, detail } if !replies.is_empty() => {
            replies.push(refused(&headline, &detail));
            Ok(replies)
        }
        other => Err(other),
    }
}
