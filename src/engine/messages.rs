//! The channel messages about changes to the cluster and their approval requests: the request
//! card, the outcome of a run, and the pieces they are made of (fields, counts, clock times).
//! The change gate (`gate`) and the approval ledger (`approve`) both post them.
//!
//! Text only: nothing here reads the store or touches the cluster.

use chrono::{DateTime, Utc};

use super::Engine;
use crate::approval::Request;
use crate::incident::{Actor, Incident};
use crate::message::{Block, ButtonStyle, Message};
use crate::ops::{self, Plan};

impl Engine {
    /// `message` as one about `incident`: its severity's colour and its id.
    pub(super) fn about(&self, incident: &Incident, message: Message) -> Message {
        message
            .with_colour(&self.policy.level(incident.severity).colour)
            .about(incident.id)
    }
}

/// The request message: what will change, who asked, why, until when, and the buttons.
pub(super) fn request_message(
    incident: &Incident,
    request: &Request,
    plan: &Plan,
    approvers: &str,
) -> Message {
    let new = &request.new;
    let label = request.label();
    let mut message = Message::notice(
        format!("🔐 Approval needed: {label} — {}", new.what),
        &format!(
            "{} asks to {} for {}. It runs once {} approved.",
            new.requested_by,
            new.what,
            incident.id,
            plural(new.required, "person has", "people have")
        ),
    );
    message.blocks.extend([
        field("Request", &label),
        field("Requested by", &new.requested_by.name),
        field("Why", new.reason.as_deref().unwrap_or("—")),
        field("Preview", &plan.checked),
        field("From", &plan.before),
        field("To", &plan.after),
        field(
            "Needs",
            &format!(
                "{} from {approvers} (not the requester)",
                plural(new.required, "approval", "approvals")
            ),
        ),
        field("Expires", &clock_time(new.expires_at)),
        Block::Text(format!(
            "Approve with /incident-approve {label}, or deny with /incident-deny {label} [reason]."
        )),
    ]);
    message
        .with_button(
            "Approve",
            format!("/incident-approve {label}"),
            ButtonStyle::Primary,
        )
        .with_button(
            "Deny",
            format!("/incident-deny {label}"),
            ButtonStyle::Danger,
        )
}

/// The message that reports what a change did: the preview it ran on, then its result or error.
pub(super) fn outcome_message(
    headline: String,
    body: &str,
    plan: &Plan,
    outcome: &Result<ops::Done, ops::Error>,
) -> Message {
    let mut message = Message::notice(headline, body);
    message.blocks.extend([
        field("Preview", &plan.checked),
        field("From", &plan.before),
        field("To", &plan.after),
    ]);
    match outcome {
        Ok(done) => message.blocks.push(field("Result", &done.detail)),
        Err(e) => {
            message.blocks.push(field("Error", &e.to_string()));
            message
                .blocks
                .push(Block::Text("The incident timeline has the details.".into()));
        }
    }
    message
}

/// The mark and word of a change's headline: `("🔧", "done")` or `("❌", "failed")`.
pub(super) fn done_or_failed<T, E>(outcome: &Result<T, E>) -> (&'static str, &'static str) {
    match outcome {
        Ok(_) => ("🔧", "done"),
        Err(_) => ("❌", "failed"),
    }
}

/// Puts a message about approval request `id` on its card (the request message, updated where
/// the platform can edit).
pub(super) fn card(message: Message, id: i64, closed: bool) -> Message {
    message.on_card(format!("approval-{id}"), closed)
}

/// The dry run as people read it: `before → after (how it was checked)`.
pub(super) fn preview_line(plan: &Plan) -> String {
    format!("{} → {} ({})", plan.before, plan.after, plan.checked)
}

/// `alice, bob`, or `nobody`.
pub(super) fn names(people: &[Actor]) -> String {
    if people.is_empty() {
        return "nobody".into();
    }
    people
        .iter()
        .map(|a| a.name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `1 approval`, `2 approvals`.
pub(super) fn plural(n: u32, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `03:15 UTC`.
pub(super) fn clock_time(t: DateTime<Utc>) -> String {
    t.format("%H:%M UTC").to_string()
}

/// A labelled field of a message.
pub(super) fn field(label: &str, value: &str) -> Block {
    Block::Field {
        label: label.into(),
        value: value.into(),
    }
}
