//! The internal incident pages: `/` (what is active now), `/incidents` (the history, filtered
//! and paged) and `/incidents/ID` (one incident: summary, roles, timeline, alerts, changes with
//! their approvals, verification verdicts, action items and the report).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{self, Section, severity_badge, span, when};
use super::{Failure, Web, html};
use crate::approval::{Request, State as Approval};
use crate::incident::{Incident, IncidentId, Platform, Severity, Status, TimelineEvent};
use crate::store::web::{Filter, MAX_PAGE};

/// How many incidents a history page shows unless asked.
const PAGE: u32 = 50;

/// Every approval state, for reading an incident's changes.
const APPROVAL_STATES: [Approval; 8] = [
    Approval::Pending,
    Approval::Approved,
    Approval::Running,
    Approval::Succeeded,
    Approval::Failed,
    Approval::Denied,
    Approval::Expired,
    Approval::Cancelled,
];

/// A link to the incident's channel where the platform has web addresses for channels.
fn channel(incident: &Incident) -> Markup {
    let id = &incident.channel.id;
    html! {
        @match incident.channel.platform {
            Platform::Slack => a href=(format!("https://slack.com/app_redirect?channel={id}")) { "#" (id) },
            _ => span { (incident.channel.platform.as_str()) " " (id) },
        }
    }
}

fn link(incident: &Incident) -> Markup {
    html! { a href=(format!("/incidents/{}", incident.id.get())) { (incident.id) } }
}

/// `/`: the active incidents, most severe first, with how long since their last update (red
/// when the next one is overdue).
pub async fn active(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let user = match web.access.user(&headers).await {
        Ok(user) => user,
        Err(denied) => return denied.into_response(),
    };
    match active_page(&web, &user).await {
        Ok(markup) => html(markup),
        Err(failure) => failure.into_response(),
    }
}

async fn active_page(web: &Web, user: &str) -> Result<Markup, Failure> {
    let incidents = web.store.active_incidents().await?;
    let ids: Vec<IncidentId> = incidents.iter().map(|i| i.id).collect();
    let updates = web.reads()?.last_updates(&ids).await?;
    let now = web.clock.now();
    let table = &web.settings.severity;
    let body = html! {
        @if incidents.is_empty() {
            p.ok { "No active incidents." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "Incident" } th scope="col" { "Severity" } th scope="col" { "Service" }
                    th scope="col" { "Status" } th scope="col" { "Commander" } th scope="col" { "Age" }
                    th scope="col" { "Last update" } th scope="col" { "Channel" } th scope="col" { "Summary" }
                } }
                tbody {
                    @for incident in &incidents {
                        @let last = updates.iter().find(|(id, _)| *id == incident.id).map(|(_, at)| *at);
                        @let overdue = incident.next_update_due.is_some_and(|due| due <= now);
                        tr {
                            td { (link(incident)) }
                            td { (severity_badge(table, incident.severity)) }
                            td { (incident.service) }
                            td { (incident.status) }
                            td { @match incident.commander() { Some(c) => (c.name), None => span.muted { "none" } } }
                            td { (span(now - incident.opened.at)) }
                            td.overdue[overdue] {
                                @match last { Some(at) => { (span(now - at)) " ago" }, None => "none yet" }
                                @if overdue { " (overdue)" }
                            }
                            td { (channel(incident)) }
                            td { (incident.summary) }
                        }
                    }
                }
            } }
        }
    };
    Ok(page::internal(
        "Active incidents",
        Section::Active,
        user,
        body,
    ))
}

/// The query of `/incidents`, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct HistoryQuery {
    service: Option<String>,
    severity: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

/// A value given, or `None` for an empty field.
fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn day(name: &str, text: &str) -> Result<DateTime<Utc>, Failure> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| Failure::BadRequest(format!("{name}: '{text}' is not a date (YYYY-MM-DD)")))
}

impl HistoryQuery {
    /// The filter it asks for.
    ///
    /// # Errors
    /// A field that does not parse, named.
    pub fn filter(&self) -> Result<Filter, Failure> {
        let bad = |name: &str, e: String| Failure::BadRequest(format!("{name}: {e}"));
        Ok(Filter {
            service: given(self.service.as_ref()).map(str::to_owned),
            severity: given(self.severity.as_ref())
                .map(|s| Severity::parse(s).map_err(|e| bad("severity", e)))
                .transpose()?,
            status: given(self.status.as_ref())
                .map(|s| Status::parse(s).map_err(|e| bad("status", e)))
                .transpose()?,
            from: given(self.from.as_ref())
                .map(|d| day("from", d))
                .transpose()?,
            // The `to` day is included.
            to: given(self.to.as_ref())
                .map(|d| day("to", d).map(|t| t + TimeDelta::days(1)))
                .transpose()?,
            text: given(self.q.as_ref()).map(|q| q.chars().take(200).collect()),
            before: given(self.before.as_ref())
                .map(|b| IncidentId::parse(b).map_err(|e| bad("before", e)))
                .transpose()?,
            limit: match given(self.limit.as_ref()) {
                None => PAGE,
                Some(l) => l
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_PAGE).contains(n))
                    .ok_or_else(|| {
                        bad(
                            "limit",
                            format!("'{l}' is not a number from 1 to {MAX_PAGE}"),
                        )
                    })?,
            },
        })
    }

    /// This query's address for the page after `last`.
    fn next(&self, last: IncidentId) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (name, value) in [
            ("service", &self.service),
            ("severity", &self.severity),
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("limit", &self.limit),
        ] {
            if let Some(v) = given(value.as_ref()) {
                pairs.push((name, v.to_owned()));
            }
        }
        pairs.push(("before", last.get().to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("/incidents?{query}")
    }
}

/// `/incidents`: the history, newest first, under the filters typed.
pub async fn history(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Response {
    let user = match web.access.user(&headers).await {
        Ok(user) => user,
        Err(denied) => return denied.into_response(),
    };
    let query = match query {
        Ok(Query(query)) => query,
        Err(e) => return Failure::BadRequest(e.body_text()).into_response(),
    };
    match history_page(&web, &user, &query).await {
        Ok(markup) => html(markup),
        Err(failure) => failure.into_response(),
    }
}

async fn history_page(web: &Web, user: &str, query: &HistoryQuery) -> Result<Markup, Failure> {
    let mut filter = query.filter()?;
    let limit = filter.limit;
    filter.limit = limit + 1;
    let page = web.reads()?.incidents_page(&filter).await?;
    let mut found = page.incidents;
    let more = found.len() > limit as usize;
    found.truncate(limit as usize);
    // A text search that read its whole span goes on below it.
    let next = match (more, found.last(), page.searched_from) {
        (true, Some(last), _) => Some(last.id),
        (false, _, Some(from)) if from > 1 => IncidentId::new(from),
        _ => None,
    };
    let table = &web.settings.severity;
    let selected = |value: &Option<String>, option: &str| given(value.as_ref()) == Some(option);
    let body = html! {
        form.filters method="get" action="/incidents" role="search" {
            label { "Service"
                select name="service" {
                    option value="" { "any" }
                    @for service in &web.settings.services {
                        option value=(service.name) selected[selected(&query.service, &service.name)] { (service.name) }
                    }
                }
            }
            label { "Severity"
                select name="severity" {
                    option value="" { "any" }
                    @for s in Severity::ALL {
                        option value=(s.as_str()) selected[selected(&query.severity, s.as_str())] { (s) }
                    }
                }
            }
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in ["investigating", "mitigating", "monitoring", "resolved", "closed"] {
                        option value=(s) selected[selected(&query.status, s)] { (s) }
                    }
                }
            }
            label { "Opened from" input type="date" name="from" value=[given(query.from.as_ref())]; }
            label { "to" input type="date" name="to" value=[given(query.to.as_ref())]; }
            label { "Summary contains" input type="search" name="q" value=[given(query.q.as_ref())]; }
            button type="submit" { "Filter" }
        }
        @if let (Some(from), false) = (page.searched_from, more) {
            @if from > 1 {
                p.muted { "Searched incidents from " (format!("#{from}")) " on; “Older incidents” searches further back." }
            }
        }
        @if found.is_empty() {
            p { "No incidents match." }
        } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { "Incident" } th scope="col" { "Opened" } th scope="col" { "Severity" }
                    th scope="col" { "Service" } th scope="col" { "Status" } th scope="col" { "Summary" }
                } }
                tbody {
                    @for incident in &found {
                        tr {
                            td { (link(incident)) }
                            td { (when(incident.opened.at)) }
                            td { (severity_badge(table, incident.severity)) }
                            td { (incident.service) }
                            td { (incident.status) }
                            td { (incident.summary) }
                        }
                    }
                }
            } }
        }
        nav.pager aria-label="pages" {
            @if filter.before.is_some() { a href="/incidents" { "Newest" } }
            @if let Some(next) = next {
                a href=(query.next(next)) rel="next" { "Older incidents" }
            }
        }
    };
    Ok(page::internal(
        "Incident history",
        Section::History,
        user,
        body,
    ))
}

/// `/incidents/ID`: the incident in full.
pub async fn one(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let user = match web.access.user(&headers).await {
        Ok(user) => user,
        Err(denied) => return denied.into_response(),
    };
    match incident_page(&web, &user, &id).await {
        Ok(markup) => html(markup),
        Err(failure) => failure.into_response(),
    }
}

async fn incident_page(web: &Web, user: &str, id: &str) -> Result<Markup, Failure> {
    let id = IncidentId::parse(id).map_err(Failure::BadRequest)?;
    let incident = web
        .store
        .incident(id)
        .await?
        .ok_or_else(|| Failure::NotFound(format!("there is no incident {id}")))?;
    let timeline = web.store.timeline(id).await?;
    let alerts = web.store.alerts_of(id).await?;
    let mut changes: Vec<Request> = Vec::new();
    for state in APPROVAL_STATES {
        changes.extend(web.store.approvals_of(id, state).await?);
    }
    changes.sort_by_key(|r| r.id);
    let trail = crate::incident::trail::derive(&incident, &timeline);
    let report = web.engine.report_markdown(&incident, &timeline).await?;
    let table = &web.settings.severity;
    let title = format!("{} {}", incident.id, incident.summary);
    let body = html! {
        dl.facts {
            dt { "Severity" } dd { (severity_badge(table, incident.severity)) " " (incident.severity_reason) }
            dt { "Service" } dd { (incident.service) }
            dt { "Status" } dd { (incident.status) }
            dt { "Channel" } dd { (channel(&incident)) }
            dt { "Opened" } dd { (when(incident.opened.at)) " by " (incident.opened.by.name) }
            @if let Some(ack) = &incident.acknowledged {
                dt { "Acknowledged" } dd { (when(ack.at)) " by " (ack.by.name) " (" (span(ack.at - incident.opened.at)) ")" }
            }
            @if let Some(resolved) = &incident.resolved {
                dt { "Resolved" } dd { (when(resolved.at)) " by " (resolved.by.name) " (" (span(resolved.at - incident.opened.at)) ")" }
            }
            @if let Some(cause) = &incident.root_cause { dt { "Root cause" } dd { (cause) } }
            @if let Some(resolution) = &incident.resolution { dt { "Resolution" } dd { (resolution) } }
        }
        h2 { "Roles" }
        @if trail.roles.is_empty() {
            p.muted { "Nobody has taken a role." }
        } @else {
            ul { @for spell in &trail.roles { li { (spell.role) ": " (spell.person) " from " (when(spell.from)) } } }
        }
        h2 { "Timeline" }
        ol.timeline {
            @for entry in &timeline {
                li { time datetime=(entry.at.to_rfc3339()) { (when(entry.at)) } strong { (entry.actor.name) } " " (entry.event.describe()) }
            }
        }
        h2 { "Alerts" }
        @if alerts.is_empty() {
            p.muted { "No alerts." }
        } @else {
            ul { @for member in &alerts {
                li { (member.alert.name()) ": " (member.alert.summary) " since " (when(member.alert.starts_at))
                    @if member.firing() { " (firing)" } @else { " (resolved)" } }
            } }
        }
        h2 { "Changes and approvals" }
        @if changes.is_empty() {
            p.muted { "No changes were asked for." }
        } @else {
            div.table-wrap { table {
                thead { tr { th scope="col" { "Request" } th scope="col" { "Change" } th scope="col" { "Asked by" } th scope="col" { "State" } th scope="col" { "Approved by" } th scope="col" { "Result" } } }
                tbody { @for change in &changes {
                    tr {
                        td { (change.label()) }
                        td { (change.new.what) @if let Some(reason) = &change.new.reason { br; span.muted { (reason) } } }
                        td { (change.new.requested_by.name) br; span.muted { (when(change.new.requested_at)) } }
                        td { (change.state.as_str()) }
                        td { @for (i, a) in change.approvers.iter().enumerate() { @if i > 0 { ", " } (a.name) } }
                        td { @if let Some(result) = &change.result { (result) } }
                    }
                } }
            } }
        }
        h2 { "Verification" }
        @let verdicts: Vec<_> = timeline.iter().filter(|e| matches!(e.event, TimelineEvent::Verified { .. } | TimelineEvent::JobFinished { .. })).collect();
        @if verdicts.is_empty() {
            p.muted { "Nothing was verified." }
        } @else {
            ul { @for entry in verdicts { li { (when(entry.at)) " " (entry.event.describe()) } } }
        }
        h2 { "Action items" }
        @if trail.action_items.is_empty() {
            p.muted { "No action items." }
        } @else {
            ul { @for item in &trail.action_items {
                li { (item.n) ". " (item.text) span.muted { " (" (item.by) ")" } " " @if item.done { strong.ok { "done" } } @else { strong { "open" } } }
            } }
        }
        h2 { "Report" }
        @if incident.status != Status::Closed { p.muted { "A draft: the report as it would be written now." } }
        div.report { (page::markdown(&report)) }
    };
    Ok(page::internal(&title, Section::History, user, body))
}
