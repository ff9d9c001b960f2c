//! Opening an incident, shared by `/incident-assess` and alert groups: the evidence gathered
//! from the cluster (parts that come late follow as an update), the live signals that raise the
//! severity, the roles paged, and the 🚨 message with its buttons.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use super::{Engine, evidence};
use crate::catalog::Service;
use crate::incident::lifecycle::{self, Report};
use crate::incident::severity::Classification;
use crate::incident::{Actor, ChannelRef, Draft, Incident, Severity, TimelineEvent};
use crate::message::{Block, ButtonStyle, Message};
use crate::notify::{Template, context};

/// A new incident prepared by [`Engine::prepare_opening`]: its draft, and what its 🚨 message
/// and the evidence that comes later need.
pub(super) struct Opening {
    /// The incident to store.
    pub draft: Draft,
    findings: Vec<String>,
    suggest_rollback: bool,
    paged: Vec<String>,
    parts: Vec<evidence::Part>,
    pending: Vec<JoinHandle<evidence::Part>>,
}

impl Engine {
    /// A new incident the way `/incident-assess` opens one, before it is stored: the evidence
    /// gathered (up to `assess.evidence_timeout`), the severity raised to P0 when the service is
    /// down, the roles paged, the draft reported by `by` in `channel` and detected at `detected`.
    pub(super) async fn prepare_opening(
        &self,
        by: &Actor,
        channel: &ChannelRef,
        summary: String,
        classification: Classification,
        service: &Service,
        detected: DateTime<Utc>,
    ) -> Opening {
        let now = self.clock.now();
        let timeout = self.limits.evidence_timeout;
        let (parts, pending) = evidence::gather(&self.cluster, service, now, timeout).await;
        let signals = evidence::signals(&parts, now);
        let mut classification = classification;
        if let Some(down) = &signals.down {
            classification = classification.raise(Severity::P0, down.clone());
        }
        let paged = self.paged(classification.severity, &service.name, &[]);
        let report = Report {
            summary,
            service: service.name.clone(),
            classification,
            channel: channel.clone(),
            paged: paged.clone(),
        };
        let findings = evidence_lines(&parts, pending.len(), &signals);
        let mut draft = lifecycle::open_at(report, by, detected, now, &self.policy);
        if !evidence::nothing_gathered(&parts, &pending) {
            draft.entries.push(TimelineEvent::Evidence {
                findings: findings.clone(),
                late: false,
            });
        }
        Opening {
            draft,
            findings,
            suggest_rollback: signals.rollback.is_some(),
            paged,
            parts,
            pending,
        }
    }

    /// The 🚨 message of `incident`, opened from `opening`; the evidence still being gathered
    /// follows it in the background (recorded as `by`, posted as an update).
    pub(super) fn opened(&self, incident: &Incident, opening: Opening, by: &Actor) -> Message {
        let now = self.clock.now();
        let Opening {
            findings,
            suggest_rollback,
            paged,
            parts,
            pending,
            ..
        } = opening;
        let message = self.alert(incident, findings, suggest_rollback, paged, now);
        if !pending.is_empty() {
            let follow = evidence::FollowUp {
                store: Arc::clone(&self.store),
                outbox: Arc::clone(&self.outbox),
                clock: Arc::clone(&self.clock),
                policy: Arc::clone(&self.policy),
                incident: incident.clone(),
                actor: by.clone(),
                early: parts,
            };
            self.background.spawn(evidence::follow_up(follow, pending));
        }
        message
    }

    /// The 🚨 alert of a new incident: the detected template, the evidence, and the buttons
    /// (Roll back when the evidence suggests it).
    pub(super) fn alert(
        &self,
        incident: &Incident,
        findings: Vec<String>,
        suggest_rollback: bool,
        paged: Vec<String>,
        now: DateTime<Utc>,
    ) -> Message {
        let data = context::detected(incident, &self.policy, &paged, now);
        let mut message = self
            .render(Template::Detected, &data, incident)
            .with_button(
                "Acknowledge",
                format!("/incident-ack {}", incident.id),
                ButtonStyle::Primary,
            );
        if !findings.is_empty() {
            message.blocks.push(Block::Text(String::new()));
            message.blocks.push(Block::Text("🔎 Evidence".into()));
            message.blocks.extend(findings.into_iter().map(Block::Text));
        }
        if suggest_rollback {
            message = message.with_button(
                "Roll back",
                format!("/incident-rollback {}", incident.id),
                ButtonStyle::Danger,
            );
        }
        message.paged_roles = paged;
        message
    }
}

/// The alert's evidence lines: what was found, what it signals, and how much still comes.
fn evidence_lines(
    parts: &[evidence::Part],
    pending: usize,
    signals: &evidence::Signals,
) -> Vec<String> {
    let mut findings = evidence::findings(parts);
    findings.extend(evidence::signal_lines(signals));
    if pending > 0 {
        findings.push(format!(
            "⏳ {pending} more part(s) still being gathered; they follow as an update"
        ));
    }
    findings
}
