//! Timeline entries in words: the one line `/incident-status`, the report and the trail show for
//! each entry, grouped by what the entry is about (the incident's course, what firewatch found
//! or could not post, changes to the cluster, the approval ledger). Text only.

use super::TimelineEvent;

impl TimelineEvent {
    /// One line for people, as `/incident-status` lists it.
    pub fn describe(&self) -> String {
        use TimelineEvent as E;
        match self {
            E::Detected { .. }
            | E::Acknowledged { .. }
            | E::RoleAssigned { .. }
            | E::StatusChanged { .. }
            | E::Updated { .. }
            | E::SeverityChanged { .. }
            | E::Note { .. }
            | E::Resolved { .. }
            | E::ChannelBound { .. }
            | E::Closed { .. }
            | E::FollowupAdded { .. }
            | E::FollowupDone { .. }
            | E::FollowupFiled { .. }
            | E::ReportPublished { .. } => self.describe_course(),
            E::PublicUpdate { text, .. } => format!("public update: {text}"),
            E::ResponseTargetMissed { .. }
            | E::UpdateOverdue { .. }
            | E::Evidence { .. }
            | E::Diagnosed { .. }
            | E::Verified { .. }
            | E::PostUndelivered { .. }
            | E::AlertsFired { .. }
            | E::AlertsResolved { .. } => self.describe_finding(),
            E::MutationPreviewed { .. }
            | E::MutationApplied { .. }
            | E::MutationFailed { .. }
            | E::JobStarted { .. }
            | E::JobFinished { .. } => self.describe_cluster_change(),
            E::ApprovalRequested { .. }
            | E::ApprovalNotRequired { .. }
            | E::ApprovalGiven { .. }
            | E::ApprovalDenied { .. }
            | E::ApprovalExpired { .. }
            | E::ApprovalClosed { .. }
            | E::ApprovalRefused { .. }
            | E::ApprovalExecuting { .. } => self.describe_approval(),
            E::Paged { pager, what } => format!("📟 {pager}: {what}"),
        }
    }

    /// The incident's own course: opened, taken, updated, resolved, closed, followed up.
    fn describe_course(&self) -> String {
        match self {
            TimelineEvent::Detected {
                severity,
                reason,
                summary,
                ..
            } => format!("detected as {severity} ({reason}): {summary}"),
            TimelineEvent::Acknowledged { implicit: false } => "acknowledged".into(),
            TimelineEvent::Acknowledged { implicit: true } => {
                "acknowledged (by taking action)".into()
            }
            TimelineEvent::RoleAssigned {
                role,
                person,
                previous,
            } => match previous {
                Some(previous) => format!("{person} is {role} (handed over from {previous})"),
                None => format!("{person} is {role}"),
            },
            TimelineEvent::StatusChanged { from, to } => format!("status {from} → {to}"),
            TimelineEvent::Updated {
                progress,
                eta,
                users,
                impact,
            } => {
                let mut text = format!("update: {progress}");
                if let Some(eta) = eta {
                    text.push_str(&format!(" (ETA {eta})"));
                }
                if let Some(users) = users {
                    text.push_str(&format!(" (users affected: {users})"));
                }
                if let Some(impact) = impact {
                    text.push_str(&format!(" (business impact: {impact})"));
                }
                text
            }
            TimelineEvent::SeverityChanged { from, to, reason } => match reason {
                Some(reason) => format!("severity {from} → {to}: {reason}"),
                None => format!("severity {from} → {to}"),
            },
            TimelineEvent::Note { text } => format!("note: {text}"),
            TimelineEvent::Resolved {
                root_cause,
                resolution,
            } => format!("resolved. Root cause: {root_cause}. Resolution: {resolution}"),
            TimelineEvent::ChannelBound { channel } => {
                format!("moved to its own channel ({})", channel.id)
            }
            TimelineEvent::Closed { report } => {
                format!("closed; report {}", super::report_file_name(report))
            }
            TimelineEvent::FollowupAdded { text } => format!("follow-up added: {text}"),
            TimelineEvent::FollowupDone { n } => format!("follow-up {n} done"),
            TimelineEvent::ReportPublished { url } => format!("report published: {url}"),
            TimelineEvent::FollowupFiled { n, key, url } => {
                format!("follow-up {n} filed as {key} ({url})")
            }
            other => unreachable!("describe() routes {} elsewhere", other.kind()),
        }
    }

    /// What firewatch found or noticed: escalations, reminders, evidence, diagnoses, checks, and
    /// messages it could not deliver.
    fn describe_finding(&self) -> String {
        match self {
            TimelineEvent::ResponseTargetMissed { target, paged } => format!(
                "not acknowledged within {target}: escalated to {}",
                paged
                    .iter()
                    .map(|r| format!("@{r}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TimelineEvent::UpdateOverdue { due, commander } => format!(
                "update due at {} not posted; reminded {}",
                due.format("%H:%M"),
                commander.as_deref().unwrap_or("the channel")
            ),
            TimelineEvent::Evidence { findings, late } => format!(
                "{}: {}",
                if *late { "late evidence" } else { "evidence" },
                findings.join("; ")
            ),
            TimelineEvent::Diagnosed {
                area,
                findings,
                failed,
            } => {
                let failed = usize::try_from(*failed).unwrap_or(usize::MAX);
                if failed == 0 {
                    format!("diagnosed {area}: {} findings", findings.len())
                } else if failed >= findings.len() {
                    format!("diagnosis of {area} failed: {}", findings.join("; "))
                } else {
                    let checks = if failed == 1 { "check" } else { "checks" };
                    format!(
                        "diagnosed {area}: {} findings; {failed} {checks} could not run",
                        findings.len() - failed
                    )
                }
            }
            TimelineEvent::Verified { passed, checks } => format!(
                "verified: {} ({})",
                if *passed {
                    "all checks passed"
                } else {
                    "checks failed"
                },
                checks.join("; ")
            ),
            TimelineEvent::PostUndelivered { to, what, why } => {
                format!("message to {to} not delivered ({why}): {what}")
            }
            TimelineEvent::AlertsFired {
                count,
                alerts,
                refired,
                previous,
                ..
            } => {
                let mut text = match (*count, *refired) {
                    (1, 0) => "alert fired".to_owned(),
                    (1, _) => "alert fired again".to_owned(),
                    (n, 0) => format!("{n} alerts fired"),
                    (n, r) => format!("{n} alerts fired ({r} again)"),
                };
                if let Some(previous) = previous {
                    text.push_str(&format!(" (fired again; previous {previous})"));
                }
                format!("{text}: {}", alerts.join("; "))
            }
            TimelineEvent::AlertsResolved { count, at } => format!(
                "{} resolved at {}",
                match count {
                    1 => "the alert".to_owned(),
                    n => format!("all {n} alerts"),
                },
                at.format("%H:%M UTC")
            ),
            other => unreachable!("describe() routes {} elsewhere", other.kind()),
        }
    }

    /// Changes to the cluster: previews, runs, failures, and verification Jobs.
    fn describe_cluster_change(&self) -> String {
        match self {
            TimelineEvent::MutationPreviewed {
                what,
                before,
                after,
                checked,
            } => format!("preview of {what}: {before} → {after} ({checked})"),
            TimelineEvent::MutationApplied {
                what,
                before,
                after,
                ..
            } => format!("{what} done: {before} → {after}"),
            TimelineEvent::MutationFailed { what, error } => format!("{what} failed: {error}"),
            TimelineEvent::JobStarted {
                job,
                name,
                purpose,
                image,
            } => format!(
                "{} job {job} started as {name} ({image})",
                purpose_word(purpose)
            ),
            TimelineEvent::JobFinished {
                job,
                name,
                purpose,
                verdict,
                passed,
                lines,
            } => job_finished(job, name, purpose, verdict, *passed, lines),
            other => unreachable!("describe() routes {} elsewhere", other.kind()),
        }
    }

    /// The approval ledger: requests, votes and how each request ended.
    fn describe_approval(&self) -> String {
        match self {
            TimelineEvent::ApprovalRequested {
                request,
                what,
                required,
                approvers,
                expires,
            } => format!(
                "R{request} requested: {what} (needs {required} approval{} from {approvers}, expires {})",
                if *required == 1 { "" } else { "s" },
                expires.format("%H:%M UTC")
            ),
            TimelineEvent::ApprovalNotRequired { what } => {
                format!("{what}: no approval required by policy; runs at once")
            }
            TimelineEvent::ApprovalGiven {
                request,
                approvals,
                required,
            } => format!("R{request} approved ({approvals} of {required})"),
            TimelineEvent::ApprovalDenied { request, reason } => match reason {
                Some(reason) => format!("R{request} denied: {reason}"),
                None => format!("R{request} denied"),
            },
            TimelineEvent::ApprovalExpired { request } => {
                format!("R{request} expired without enough approvals; nothing ran")
            }
            TimelineEvent::ApprovalClosed {
                request,
                state,
                why,
            } => format!("R{request} {state}: {why}"),
            TimelineEvent::ApprovalRefused {
                request,
                tried,
                why,
            } => match request {
                Some(r) => format!("refused to {tried} R{r}: {why}"),
                None => format!("refused to {tried}: {why}"),
            },
            TimelineEvent::ApprovalExecuting { request, what } => {
                format!("R{request} approved; executing {what}")
            }
            other => unreachable!("describe() routes {} elsewhere", other.kind()),
        }
    }
}

/// A finished verification Job, with its comparison to the baseline and (for a load test) the
/// lines that say why.
fn job_finished(
    job: &str,
    name: &str,
    purpose: &str,
    verdict: &str,
    passed: bool,
    lines: &[String],
) -> String {
    let tolerance = match (purpose, passed) {
        ("compare", true) => ", within tolerance of the baseline",
        ("compare", false) if verdict == "passed" => ", outside tolerance of the baseline",
        _ => "",
    };
    let mut text = format!(
        "{} job {job} ({name}) {verdict}{tolerance}",
        purpose_word(purpose)
    );
    if !lines.is_empty() && purpose != "smoke" {
        text.push_str(&format!(": {}", lines.join("; ")));
    }
    text
}

/// `smoke`, `baseline`, `compare` as people read them.
fn purpose_word(purpose: &str) -> &str {
    match purpose {
        "smoke" => "smoke",
        "baseline" => "load (baseline)",
        "compare" => "load",
        other => other,
    }
}
