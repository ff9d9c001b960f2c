//! Evidence on `/incident-assess`: the four parts are gathered concurrently; the alert waits at
//! most `assess.evidence_timeout` for them, and parts that come later follow as an update posted
//! through the outbox and recorded on the timeline. It only reads the cluster; the incident is
//! changed through the state machine alone.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::task::JoinHandle;

use super::Outbox;
use crate::catalog::Service;
use crate::clock::Clock;
use crate::incident::lifecycle::{self, Event, Step};
use crate::incident::severity::Policy;
use crate::incident::{Actor, Incident, Severity, TimelineEvent};
use crate::message::{Block, Message};
use crate::ops::{self, Cluster, LogErrors, Readiness, Rollout, Warning};
use crate::store::{Store, Updated};

/// How far back deploys are listed.
const DEPLOYS_WINDOW: TimeDelta = TimeDelta::hours(24);
/// A deploy this recent, with errors in the logs, suggests a rollback.
const RECENT_DEPLOY: TimeDelta = TimeDelta::hours(1);

/// One part of the evidence, or why it is missing.
#[derive(Debug, Clone)]
pub(super) enum Part {
    Readiness(ops::Result<Readiness>),
    Rollouts(ops::Result<Vec<Rollout>>),
    Logs(ops::Result<LogErrors>),
    Warnings(ops::Result<Vec<Warning>>),
}

/// What the live evidence says about the incident.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Signals {
    /// The service is down: why (`0/3 replicas of web ready`).
    pub down: Option<String>,
    /// A rollback looks right: why.
    pub rollback: Option<String>,
}

/// Starts the four reads and waits for them until `timeout`: the parts that arrived in time,
/// and the ones still running.
pub(super) async fn gather(
    cluster: &Arc<dyn Cluster>,
    service: &Service,
    now: DateTime<Utc>,
    timeout: Duration,
) -> (Vec<Part>, Vec<JoinHandle<Part>>) {
    let since = now - DEPLOYS_WINDOW;
    let (c, s) = (Arc::clone(cluster), service.clone());
    let readiness = tokio::spawn(async move { Part::Readiness(c.readiness(&s).await) });
    let (c, s) = (Arc::clone(cluster), service.clone());
    let rollouts = tokio::spawn(async move { Part::Rollouts(c.rollouts(&s, since).await) });
    let (c, s) = (Arc::clone(cluster), service.clone());
    let logs = tokio::spawn(async move { Part::Logs(c.log_errors(&s).await) });
    let (c, s) = (Arc::clone(cluster), service.clone());
    let warnings = tokio::spawn(async move { Part::Warnings(c.warnings(&s).await) });
    let handles = [readiness, rollouts, logs, warnings];
    let deadline = tokio::time::Instant::now() + timeout;
    let (mut parts, mut pending) = (Vec::new(), Vec::new());
    for mut handle in handles {
        match tokio::time::timeout_at(deadline, &mut handle).await {
            Ok(Ok(part)) => parts.push(part),
            Ok(Err(e)) => tracing::error!(error = %e, "an evidence task failed"),
            Err(_) => pending.push(handle),
        }
    }
    (parts, pending)
}

/// Waits for the parts still running.
pub(super) async fn rest(pending: Vec<JoinHandle<Part>>) -> Vec<Part> {
    let mut parts = Vec::new();
    for handle in pending {
        match handle.await {
            Ok(part) => parts.push(part),
            Err(e) => tracing::error!(error = %e, "an evidence task failed"),
        }
    }
    parts
}

/// True when every part failed because there is no cluster: the alert says so, and the
/// timeline is spared an entry that holds nothing.
pub(super) fn nothing_gathered(parts: &[Part], pending: &[JoinHandle<Part>]) -> bool {
    pending.is_empty()
        && parts.iter().all(|p| {
            matches!(
                p,
                Part::Readiness(Err(ops::Error::Unavailable(_)))
                    | Part::Rollouts(Err(ops::Error::Unavailable(_)))
                    | Part::Logs(Err(ops::Error::Unavailable(_)))
                    | Part::Warnings(Err(ops::Error::Unavailable(_)))
            )
        })
}

/// The signals in `parts`.
pub(super) fn signals(parts: &[Part], now: DateTime<Utc>) -> Signals {
    let mut signals = Signals::default();
    let mut errors = 0;
    let mut recent = None;
    for part in parts {
        match part {
            Part::Readiness(Ok(r)) if r.is_down() => {
                signals.down = Some(format!(
                    "{}/{} replicas of {} ready",
                    r.ready, r.desired, r.deployment
                ));
            }
            Part::Logs(Ok(l)) => errors = l.count,
            Part::Rollouts(Ok(rollouts)) => {
                recent = rollouts
                    .iter()
                    .find(|r| r.is_recent(now, RECENT_DEPLOY))
                    .cloned();
            }
            _ => {}
        }
    }
    if let (Some(deploy), true) = (recent, errors > 0) {
        signals.rollback = Some(format!(
            "a deploy {} min ago ({}) and {errors} error lines in the logs",
            (now - deploy.at).num_minutes(),
            deploy.describe()
        ));
    }
    signals
}

/// The findings of `parts`, one a line, as the alert and the timeline show them. When every
/// part failed the same way, that is said once.
pub(super) fn findings(parts: &[Part]) -> Vec<String> {
    let failures: Vec<&ops::Error> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Readiness(Err(e)) | Part::Logs(Err(e)) => Some(e),
            Part::Rollouts(Err(e)) | Part::Warnings(Err(e)) => Some(e),
            _ => None,
        })
        .collect();
    if !parts.is_empty()
        && failures.len() == parts.len()
        && failures.iter().all(|e| *e == failures[0])
    {
        return vec![failures[0].to_string()];
    }
    let mut lines = Vec::new();
    for part in parts {
        match part {
            Part::Readiness(Ok(r)) => lines.push(format!("Readiness: {}", r.describe())),
            Part::Readiness(Err(e)) => lines.push(format!("Readiness: {e}")),
            Part::Rollouts(Ok(r)) if r.is_empty() => lines.push("Deploys (24h): none".into()),
            Part::Rollouts(Ok(r)) => {
                lines.push(format!("Deploys (24h): {}", r.len()));
                lines.extend(r.iter().take(5).map(|r| format!("  {}", r.describe())));
            }
            Part::Rollouts(Err(e)) => lines.push(format!("Deploys (24h): {e}")),
            Part::Logs(Ok(l)) => {
                let mut described = l.describe().into_iter();
                if let Some(first) = described.next() {
                    lines.push(format!("Log errors: {first}"));
                }
                lines.extend(described);
            }
            Part::Logs(Err(e)) => lines.push(format!("Log errors: {e}")),
            Part::Warnings(Ok(w)) if w.is_empty() => lines.push("Warning events: none".into()),
            Part::Warnings(Ok(w)) => {
                lines.push(format!("Warning events: {}", w.len()));
                lines.extend(w.iter().take(5).map(|w| format!("  {}", w.describe())));
            }
            Part::Warnings(Err(e)) => lines.push(format!("Warning events: {e}")),
        }
    }
    lines
}

/// Lines about the signals for the alert: what raised the severity, what to consider.
pub(super) fn signal_lines(signals: &Signals) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(down) = &signals.down {
        lines.push(format!("🔴 Live signal: {down}: the service is down (P0)"));
    }
    if let Some(why) = &signals.rollback {
        lines.push(format!(
            "↩️ Suggest rollback: {why}. /incident-rollback shows what it would do."
        ));
    }
    lines
}

/// What the late parts need to be recorded and posted.
pub(super) struct FollowUp {
    pub store: Arc<dyn Store>,
    pub outbox: Arc<dyn Outbox>,
    pub clock: Arc<dyn Clock>,
    pub policy: Arc<Policy>,
    pub incident: Incident,
    pub actor: Actor,
    pub early: Vec<Part>,
}

/// Waits for the parts that missed the alert, records them on the timeline, then posts them.
pub(super) async fn follow_up(f: FollowUp, pending: Vec<JoinHandle<Part>>) {
    let late = rest(pending).await;
    if late.is_empty() {
        return;
    }
    let now = f.clock.now();
    let mut lines = findings(&late);
    let before = signals(&f.early, now);
    let mut all = f.early;
    all.extend(late);
    let after = signals(&all, now);
    let mut news = Signals::default();
    let mut raise = None;
    if after.down != before.down
        && let Some(down) = after.down
    {
        raise = Some((Severity::P0, down.clone()));
        news.down = Some(down);
    }
    if after.rollback != before.rollback {
        news.rollback = after.rollback;
    }
    lines.extend(signal_lines(&news));
    let event = Event::Record {
        step: Step::Read,
        entries: vec![TimelineEvent::Evidence {
            findings: lines.clone(),
            late: true,
        }],
        raise,
    };
    let decide = |i: &Incident| lifecycle::apply(i, event.clone(), &f.actor, now, &f.policy);
    let id = f.incident.id;
    let (before, after) = match f.store.update(id, &f.actor, now, None, &decide).await {
        Ok(Updated::Changed { before, after }) => (before, after),
        Ok(Updated::Refused(r)) => {
            tracing::warn!(incident = %id, refusal = %r, "late evidence not recorded");
            return;
        }
        Err(e) => {
            tracing::error!(incident = %id, error = %crate::error_chain(&e), "late evidence not recorded");
            return;
        }
    };
    let mut paged = Vec::new();
    if after.severity < before.severity {
        lines.push(format!(
            "🔴 Severity raised {} → {} by the cluster",
            before.severity, after.severity
        ));
        let old = &f.policy.level(before.severity).roles;
        paged = f
            .policy
            .level(after.severity)
            .roles
            .iter()
            .filter(|r| !old.contains(r))
            .cloned()
            .collect();
    }
    let mut message = Message::notice(format!("🔎 MORE EVIDENCE - {id}"), "");
    message.blocks = lines.into_iter().map(Block::Text).collect();
    message.paged_roles = paged;
    let message = message
        .with_colour(&f.policy.level(after.severity).colour)
        .about(id);
    // The incident may have moved to its own channel since the alert.
    if let Err(e) = f.outbox.post(&after.channel, &message).await {
        tracing::warn!(incident = %id, error = %e, "late evidence recorded but not posted");
    }
    f.outbox.mirror(&after.channel, &message).await;
}
