//! The incident's append-only history: every transition, update and note, with who and when.
//! Each entry is stored as JSON tagged with its [`TimelineEvent::kind`];
//! [`TimelineEvent::describe`] says it in one line for people. Values only: nothing here reads
//! or writes the store.

mod describe;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Actor, ChannelRef, Role, Severity, Status};

/// Something that happened to an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The incident was opened and classified.
    Detected {
        /// The reported impact.
        summary: String,
        /// The affected service.
        service: String,
        /// The classified severity.
        severity: Severity,
        /// Why that severity.
        reason: String,
        /// The roles paged.
        paged: Vec<String>,
    },
    /// Someone took the incident; the first to do so is the commander.
    Acknowledged {
        /// True when the acknowledgement came from another responder action, not `/incident-ack`.
        implicit: bool,
    },
    /// Someone took a role or was given it; the entry's time is when they hold it from.
    RoleAssigned {
        /// The role.
        role: Role,
        /// Who holds it from now.
        person: Actor,
        /// Who held it before (a handover), if anyone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<Actor>,
    },
    /// The status moved.
    StatusChanged {
        /// Before.
        from: Status,
        /// After.
        to: Status,
    },
    /// A status update was posted to the channel.
    Updated {
        /// What the team did or found.
        progress: String,
        /// The expected time to resolution, as written.
        eta: Option<String>,
        /// How many users are affected, as written (`--users`), if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        users: Option<String>,
        /// The business impact, as written (`--impact`), if given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        impact: Option<String>,
    },
    /// The severity moved.
    SeverityChanged {
        /// Before.
        from: Severity,
        /// After.
        to: Severity,
        /// Why, as given.
        reason: Option<String>,
    },
    /// A free-text note for the record.
    Note {
        /// The note.
        text: String,
    },
    /// The incident was resolved.
    Resolved {
        /// What caused it.
        root_cause: String,
        /// What fixed it.
        resolution: String,
    },
    /// The incident moved to its own channel (Slack incident channels).
    ChannelBound {
        /// The channel it is bound to now.
        channel: ChannelRef,
    },
    /// The post-incident report closed the incident.
    Closed {
        /// Where the report was written.
        report: String,
    },
    /// Nobody acknowledged within the severity's response target: firewatch escalated.
    ResponseTargetMissed {
        /// The target, as configured (`5m`).
        target: String,
        /// The roles paged again: the severity's, the service's owners and the escalation roles.
        paged: Vec<String>,
    },
    /// The promised update did not come: firewatch reminded the channel.
    UpdateOverdue {
        /// When the update was due.
        due: DateTime<Utc>,
        /// Who the reminder named: the comms lead, else the commander, if there is one.
        commander: Option<String>,
    },
    /// A message about the incident never reached its destination: refused (the bot is not in
    /// the channel, the channel is gone), or not taken within the outbox's time.
    PostUndelivered {
        /// Where it was going (`slack channel C0INC`).
        to: String,
        /// What it said, in one line.
        what: String,
        /// Why it was not delivered.
        why: String,
    },
    /// News of the incident's page: what a pager was asked or said (triggered, refused,
    /// acknowledged there by someone, escalated to someone).
    Paged {
        /// The pager: `PagerDuty`, `Opsgenie`.
        pager: String,
        /// What happened, in words.
        what: String,
    },
    /// A follow-up action item was added; items are numbered 1, 2, … in the order added.
    FollowupAdded {
        /// What is to be done.
        text: String,
    },
    /// Follow-up action item `n` was done.
    FollowupDone {
        /// Its number.
        n: u32,
    },
    /// The report was committed to the service's repository: the pull request (or commit) at
    /// `url`.
    ReportPublished {
        /// The pull request's or commit's web page.
        url: String,
    },
    /// Follow-up action item `n` was filed in the tracker as `key` (`acme/web#123`) at `url`.
    FollowupFiled {
        /// Its number.
        n: u32,
        /// The key in the tracker.
        key: String,
        /// The web page.
        url: String,
    },
    /// Evidence gathered from the cluster (readiness, deploys, log errors, warning events).
    Evidence {
        /// What was found, one finding a line.
        findings: Vec<String>,
        /// True for parts that arrived after the alert was posted.
        late: bool,
    },
    /// A change to the cluster was previewed (a dry run; nothing changed yet).
    MutationPreviewed {
        /// What was asked (`scale freightliner to 5 replicas`).
        what: String,
        /// The state now.
        before: String,
        /// The state it would lead to.
        after: String,
        /// How the preview was checked.
        checked: String,
    },
    /// A change to the cluster ran.
    MutationApplied {
        /// What was asked.
        what: String,
        /// The state before.
        before: String,
        /// The state after.
        after: String,
        /// What the cluster or helm said.
        detail: String,
    },
    /// Diagnostics gathered for one area (`/incident-diagnose`).
    Diagnosed {
        /// `app`, `perf`, `security` or `infra`.
        area: String,
        /// What was found, one finding a line (a check that could not run says so on its line).
        findings: Vec<String>,
        /// How many of the area's checks could not run (the cluster or Prometheus failed).
        #[serde(default, skip_serializing_if = "is_zero")]
        failed: u32,
    },
    /// The fix was verified (`/incident-verify`).
    Verified {
        /// True when every check passed.
        passed: bool,
        /// Each check with its ✅/❌.
        checks: Vec<String>,
    },
    /// A change to the cluster was tried and failed (or its preview was refused).
    MutationFailed {
        /// What was asked.
        what: String,
        /// Why it failed.
        error: String,
    },
    /// A change was asked for and waits for approval (`R3`).
    ApprovalRequested {
        /// The request's number.
        request: i64,
        /// What will change.
        what: String,
        /// Approvals needed.
        required: u32,
        /// Who may approve.
        approvers: String,
        /// When it expires.
        expires: DateTime<Utc>,
    },
    /// A change ran without approval because its policy needs none.
    ApprovalNotRequired {
        /// What changes.
        what: String,
    },
    /// Someone approved a request.
    ApprovalGiven {
        /// The request.
        request: i64,
        /// Approvals so far.
        approvals: u32,
        /// Approvals needed.
        required: u32,
    },
    /// Someone denied a request; it is closed.
    ApprovalDenied {
        /// The request.
        request: i64,
        /// Why, as given.
        reason: Option<String>,
    },
    /// Nobody approved in time; the request is closed.
    ApprovalExpired {
        /// The request.
        request: i64,
    },
    /// The request closed without running (the incident ended, or a restart interrupted it).
    ApprovalClosed {
        /// The request.
        request: i64,
        /// The state it closed in (`cancelled`, `failed`).
        state: String,
        /// Why.
        why: String,
    },
    /// Someone not allowed to tried to approve, deny or ask for a change (audit).
    ApprovalRefused {
        /// The request, if there was one.
        request: Option<i64>,
        /// What they tried (`approve`, `deny`, `request`).
        tried: String,
        /// Why it was refused.
        why: String,
    },
    /// An approved request started running.
    ApprovalExecuting {
        /// The request.
        request: i64,
        /// What changes.
        what: String,
    },
    /// A verification Job (`[[jobs]]`) was created in the cluster.
    JobStarted {
        /// The `[[jobs]]` entry.
        job: String,
        /// The Job's name in the cluster (`firewatch-3-api-smoke-1`).
        name: String,
        /// `smoke`, `baseline` or `compare`.
        purpose: String,
        /// Its image.
        image: String,
    },
    /// A verification Job finished, could not start, or ran out of time; it was cleaned up.
    JobFinished {
        /// The `[[jobs]]` entry.
        job: String,
        /// The Job's name in the cluster.
        name: String,
        /// `smoke`, `baseline` or `compare`.
        purpose: String,
        /// `passed`, `failed: exit code 1`, `timed out`, `could not start: …`.
        verdict: String,
        /// Whether it passed (for a load test: within tolerance of the baseline).
        passed: bool,
        /// What it showed: the figures and their comparison, or the end of its log.
        lines: Vec<String>,
    },
    /// Alerts of a group fired: firewatch opened the incident for them, or attached them to it.
    AlertsFired {
        /// The alert group (Alertmanager's `groupKey`).
        group: String,
        /// How many alerts fired.
        count: u32,
        /// The first of them as people read them (`ProbeFailure (instance=web-1) since 03:00
        /// UTC`), then how many more.
        alerts: Vec<String>,
        /// How many of them fired again after they had resolved.
        #[serde(default)]
        refired: u32,
        /// The group's previous incident, when this one was opened after it ended
        /// (`#12 resolved 2h 05m ago`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
        /// The service the alerts are about (the report's Services affected).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// Every alert of the incident resolved.
    AlertsResolved {
        /// How many alerts the incident has.
        count: u32,
        /// When the last of them resolved.
        at: DateTime<Utc>,
    },
    /// Text for everyone (`--public`): the only part of an incident the status page shows.
    PublicUpdate {
        /// What it says.
        text: String,
        /// True when it came with the resolution.
        #[serde(default)]
        resolved: bool,
    },
}

impl TimelineEvent {
    /// The stored kind name (`detected`, `status_changed`, …): the tag of its JSON.
    pub fn kind(&self) -> String {
        let json = serde_json::to_value(self).expect("a timeline event serialises to JSON");
        json["kind"].as_str().unwrap_or_default().to_owned()
    }
}

/// Whether a count is zero (left out of the stored JSON).
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The file name of a report recorded at `path` (`incident-20261129.md`), as people are shown
/// it: where it sits on the server is the server's business, and the reports folder is known.
pub fn report_file_name(path: &str) -> &str {
    std::path::Path::new(path)
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or(path)
}

/// A stored timeline entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    /// Position in the whole store's timeline (increasing).
    pub seq: i64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What happened.
    pub event: TimelineEvent,
}
