//! `/incident-diagnose app|perf|security|infra`: read the cluster (and Prometheus), record what
//! was found on the timeline, then post it (cut to a length the channel takes). It only reads
//! the cluster: nothing here changes it.

use std::sync::LazyLock;

use regex::Regex;

use super::{Caller, Engine, Reply, Result, to_channel};
use crate::catalog::Service;
use crate::command::{Area, CommandName};
use crate::incident::lifecycle::Step;
use crate::incident::{IncidentId, TimelineEvent};
use crate::message::{Block, Message};
use crate::ops;

/// Lines a diagnosis shows in the channel; the rest is on the timeline.
const MAX_LINES: usize = 40;

static AUTH_FAILURES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(401|403)\b").expect("the auth pattern compiles"));
static SUSPICIOUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)forbidden|unauthori[sz]ed|denied|privileged|secret|serviceaccount")
        .expect("the suspicious-event pattern compiles")
});

impl Engine {
    /// `/incident-diagnose AREA`.
    #[tracing::instrument(skip(self, caller), fields(user = %caller.actor.id))]
    pub(super) async fn diagnose(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        area: Area,
    ) -> Result<Vec<Reply>> {
        let incident = self.target(caller, explicit).await?;
        self.check_allowed(&incident, CommandName::Diagnose)?;
        let service = self.service_of(&incident)?;
        let findings = match area {
            Area::App => self.app(&service).await,
            Area::Perf => self.perf(&service, incident.id).await,
            Area::Security => self.security(&service).await,
            Area::Infra => self.infra(&service).await,
        };
        let name = area_name(area);
        let Findings {
            lines: findings,
            failed,
        } = findings;
        let entry = TimelineEvent::Diagnosed {
            area: name.into(),
            findings: findings.clone(),
            failed,
        };
        let incident = self
            .record_entries(
                caller,
                caller.request.as_deref(),
                &incident,
                CommandName::Diagnose,
                Step::Investigate,
                vec![entry],
            )
            .await?;
        let mut message = Message::notice(format!("🩺 DIAGNOSE {name} - {}", incident.id), "");
        let total = findings.len();
        message.blocks = findings
            .into_iter()
            .take(MAX_LINES)
            .map(Block::Text)
            .collect();
        if total > MAX_LINES {
            message.blocks.push(Block::Text(format!(
                "… {} more lines (truncated here; all of them are on the incident's timeline)",
                total - MAX_LINES
            )));
        }
        let message = self.about(&incident, message);
        Ok(vec![to_channel(&incident.channel, message)])
    }

    async fn app(&self, service: &Service) -> Findings {
        let (pods, logs) =
            futures::join!(self.cluster.pods(service), self.cluster.log_errors(service));
        let mut lines = Findings::default();
        match pods {
            Ok(pods) => {
                lines.push(format!("Pods: {}", pods.len()));
                lines.extend(pods.iter().map(|p| format!("  {}", p.describe())));
            }
            Err(e) => lines.failed(format!("Pods: {e}")),
        }
        match logs {
            Ok(l) => lines.extend(l.describe()),
            Err(e) => lines.failed(format!("Log errors: {e}")),
        }
        lines
    }

    async fn perf(&self, service: &Service, id: IncidentId) -> Findings {
        let mut lines = Findings::default();
        if self.limits.profile_seconds > 0 {
            self.profile(service, id, &mut lines).await;
        }
        match self.cluster.pod_usage(service).await {
            Ok(usage) if usage.is_empty() => lines.push("Pod usage: no metrics".into()),
            Ok(usage) => {
                lines.push("Pod usage (metrics.k8s.io):".into());
                lines.extend(usage.into_iter().map(|u| format!("  {u}")));
            }
            Err(e) => lines.failed(format!("Pod usage: {e}")),
        }
        if !self.prober.has_prometheus() {
            lines.push("Prometheus: not configured (prometheus.url)".into());
            return lines;
        }
        let queries = [
            ("latency_p99", "p99 latency", Unit::Seconds),
            ("error_rate", "error rate", Unit::Share),
            ("memory", "memory", Unit::Bytes),
            ("goroutines", "goroutines", Unit::Count),
        ];
        let results =
            futures::future::join_all(queries.iter().map(|(q, ..)| self.prober.query(q, service)))
                .await;
        for ((_, label, unit), result) in queries.iter().zip(results) {
            lines.push(match result {
                Ok(Some(v)) => format!("Prometheus {label}: {}", unit.show(v)),
                Ok(None) => format!("Prometheus {label}: no data"),
                Err(e) => {
                    lines.failed(format!("Prometheus {label}: {}", probe_error(&e)));
                    continue;
                }
            });
        }
        lines
    }

    /// Takes a CPU profile and writes it to the profile folder: the line saying where.
    async fn profile(&self, service: &Service, id: IncidentId, lines: &mut Findings) {
        let seconds = self.limits.profile_seconds;
        let (pod, bytes) = match self
            .cluster
            .cpu_profile(service, self.limits.profile_port, seconds)
            .await
        {
            Ok(profile) => profile,
            Err(e) => return lines.failed(format!("CPU profile: {e}")),
        };
        let dir = &self.limits.profile_dir;
        let at = self.clock.now().format("%Y%m%dT%H%M%SZ");
        let path = dir.join(format!("incident-{}-{pod}-{at}.pprof", id.get()));
        let saved = std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, &bytes));
        match saved {
            Ok(()) => lines.push(format!(
                "CPU profile of {pod} ({seconds}s, {} bytes): {} (go tool pprof FILE)",
                bytes.len(),
                path.display()
            )),
            Err(e) => lines.failed(format!(
                "CPU profile of {pod}: could not be saved in {}: {e}",
                dir.display()
            )),
        }
    }

    async fn security(&self, service: &Service) -> Findings {
        let (logs, policies, events) = futures::join!(
            self.cluster.log_matches(service, &AUTH_FAILURES),
            self.cluster.network_policies(service),
            self.cluster.events(service)
        );
        let mut lines = Findings::default();
        match logs {
            Ok(l) => {
                lines.push(format!(
                    "401/403 responses in the logs of {} pods: {}",
                    l.pods, l.count
                ));
                lines.extend(l.top.iter().map(|(line, n)| format!("  {n}× {line}")));
            }
            Err(e) => lines.failed(format!("401/403 in logs: {e}")),
        }
        match policies {
            Ok(p) if p.is_empty() => {
                lines.push("NetworkPolicies: none (all traffic allowed in the namespace)".into())
            }
            Ok(p) => {
                lines.push(format!("NetworkPolicies: {}", p.len()));
                lines.extend(p.into_iter().map(|p| format!("  {p}")));
            }
            Err(e) => lines.failed(format!("NetworkPolicies: {e}")),
        }
        match events {
            Ok(events) => {
                let odd: Vec<String> = events
                    .iter()
                    .filter(|e| SUSPICIOUS.is_match(&e.reason) || SUSPICIOUS.is_match(&e.message))
                    .map(|e| format!("  {}", e.describe()))
                    .collect();
                lines.push(format!("Suspicious events: {}", odd.len()));
                lines.extend(odd);
            }
            Err(e) => lines.failed(format!("Suspicious events: {e}")),
        }
        lines
    }

    async fn infra(&self, service: &Service) -> Findings {
        let (nodes, events) = futures::join!(self.cluster.nodes(), self.cluster.events(service));
        let mut lines = Findings::default();
        match nodes {
            Ok(nodes) => {
                lines.push(format!("Nodes: {}", nodes.len()));
                lines.extend(nodes.iter().map(|n| format!("  {}", n.describe())));
            }
            Err(e) => lines.failed(format!("Nodes: {e}")),
        }
        match events {
            Ok(events) => {
                lines.push(format!(
                    "Events in {} (newest first): {}",
                    service.namespace,
                    events.len()
                ));
                lines.extend(events.iter().map(|e| format!("  {}", e.describe())));
            }
            Err(e) => lines.failed(format!("Events: {e}")),
        }
        lines
    }
}

/// What a diagnosis found, one finding a line, and how many of its checks could not run.
#[derive(Debug, Default)]
struct Findings {
    lines: Vec<String>,
    failed: u32,
}

impl Findings {
    fn push(&mut self, line: String) {
        self.lines.push(line);
    }

    fn extend(&mut self, lines: impl IntoIterator<Item = String>) {
        self.lines.extend(lines);
    }

    /// A check that could not run, with why.
    fn failed(&mut self, line: String) {
        self.lines.push(line);
        self.failed += 1;
    }
}

fn area_name(area: Area) -> &'static str {
    match area {
        Area::App => "app",
        Area::Perf => "perf",
        Area::Security => "security",
        Area::Infra => "infra",
    }
}

/// A probe's error without the "cluster unavailable" wording (a URL is not the cluster).
pub(super) fn probe_error(e: &ops::Error) -> String {
    match e {
        ops::Error::Unavailable(reason) => format!("unreachable: {reason}"),
        other => other.to_string(),
    }
}

/// How a Prometheus value is shown.
#[derive(Clone, Copy)]
pub(super) enum Unit {
    Seconds,
    Share,
    Bytes,
    Count,
}

impl Unit {
    pub(super) fn show(self, v: f64) -> String {
        match self {
            Unit::Seconds => format!("{:.0} ms", v * 1000.0),
            Unit::Share => format!("{:.2}%", v * 100.0),
            Unit::Bytes => format!("{:.0} MiB", v / 1_048_576.0),
            Unit::Count => format!("{v:.0}"),
        }
    }
}
