//! The public status page: each `[[services]]` entry as operational, degraded, partial outage or
//! major outage from its active incidents' severities, the public updates of current incidents,
//! and the last [`DAYS`] days. `/status.json` serves the same for other tools, `/status.atom`
//! the public updates as a feed.
//!
//! # Guarantees
//! Of an incident, only its service, when it started and ended, the state its severity means
//! for the service, and the text posted with `--public` appear here: never its summary, its
//! notes, its updates, its people or its channel.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use maud::{Markup, html};
use serde::Serialize;

use super::page::{self, when};
use super::{Failure, Web, html};
use crate::incident::{Incident, IncidentId, Severity};
use crate::store::web::PublicUpdate;

/// How many days of history the page shows.
pub const DAYS: i64 = 14;

/// The most incidents and updates the page reads.
const MOST: u32 = 500;

/// What an incident means for its service, mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Nothing wrong.
    Operational,
    /// P2 and P3.
    Degraded,
    /// P1.
    PartialOutage,
    /// P0.
    MajorOutage,
}

impl Condition {
    /// What an incident of `severity` means.
    pub fn of(severity: Severity) -> Self {
        match severity {
            Severity::P0 => Condition::MajorOutage,
            Severity::P1 => Condition::PartialOutage,
            Severity::P2 | Severity::P3 => Condition::Degraded,
        }
    }

    /// Its name in JSON and CSS classes.
    pub fn key(self) -> &'static str {
        match self {
            Condition::Operational => "operational",
            Condition::Degraded => "degraded",
            Condition::PartialOutage => "partial_outage",
            Condition::MajorOutage => "major_outage",
        }
    }

    /// Its name for people.
    pub fn label(self) -> &'static str {
        match self {
            Condition::Operational => "Operational",
            Condition::Degraded => "Degraded performance",
            Condition::PartialOutage => "Partial outage",
            Condition::MajorOutage => "Major outage",
        }
    }
}

/// The status page's content, as `/status.json` serves it.
#[derive(Debug, Serialize)]
pub struct Status {
    /// `web.title`.
    pub title: String,
    /// When it was read.
    pub updated_at: DateTime<Utc>,
    /// Every service, in catalog order.
    pub services: Vec<ServiceStatus>,
    /// Current incidents, then the past days' with public updates, newest first.
    pub incidents: Vec<PublicIncident>,
}

/// One service now and over the past days.
#[derive(Debug, Serialize)]
pub struct ServiceStatus {
    /// Its name.
    pub name: String,
    /// Now.
    pub status: Condition,
    /// The worst of each day, oldest first (today last).
    pub days: Vec<Day>,
}

/// One day of a service.
#[derive(Debug, Serialize)]
pub struct Day {
    /// The UTC date.
    pub date: NaiveDate,
    /// The worst condition that day.
    pub status: Condition,
}

/// What the public sees of an incident.
#[derive(Debug, Serialize)]
pub struct PublicIncident {
    /// Its number.
    pub id: i64,
    /// The service.
    pub service: String,
    /// What it means (means now, for a current one; meant, for a past one).
    pub impact: Condition,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it was resolved (`None`: current).
    pub resolved_at: Option<DateTime<Utc>>,
    /// Its public updates, newest first.
    pub updates: Vec<Update>,
}

/// A public update.
#[derive(Debug, Serialize)]
pub struct Update {
    /// When.
    pub at: DateTime<Utc>,
    /// What it says.
    pub text: String,
    /// Whether it came with the resolution.
    pub resolved: bool,
}

/// Reads the status page's content.
async fn read(web: &Web) -> Result<(Status, Vec<(PublicUpdate, String)>), Failure> {
    let now = web.clock.now();
    let since = now - TimeDelta::days(DAYS);
    let reads = web.reads()?;
    let incidents = reads.incidents_since(since, MOST).await?;
    let updates = reads.public_updates(since, MOST).await?;
    Ok(assemble(web, now, &incidents, updates))
}

/// The status page from the incidents and public updates of the window.
fn assemble(
    web: &Web,
    now: DateTime<Utc>,
    incidents: &[Incident],
    updates: Vec<PublicUpdate>,
) -> (Status, Vec<(PublicUpdate, String)>) {
    let today = now.date_naive();
    let first = today - TimeDelta::days(DAYS - 1);
    let services = web
        .settings
        .services
        .iter()
        .map(|service| {
            let theirs: Vec<&Incident> = incidents
                .iter()
                .filter(|i| i.service == service.name)
                .collect();
            let status = theirs
                .iter()
                .filter(|i| i.status.is_active())
                .map(|i| Condition::of(i.severity))
                .max()
                .unwrap_or(Condition::Operational);
            let days = (0..DAYS)
                .map(|n| {
                    let date = first + TimeDelta::days(n);
                    let start = date
                        .and_hms_opt(0, 0, 0)
                        .expect("midnight exists")
                        .and_utc();
                    let end = start + TimeDelta::days(1);
                    let status = theirs
                        .iter()
                        .filter(|i| {
                            let ended = i.resolved.as_ref().map_or(now, |r| r.at);
                            i.opened.at < end && ended >= start
                        })
                        .map(|i| Condition::of(i.severity))
                        .max()
                        .unwrap_or(Condition::Operational);
                    Day { date, status }
                })
                .collect();
            ServiceStatus {
                name: service.name.clone(),
                status,
                days,
            }
        })
        .collect();
    let mut by_incident: BTreeMap<IncidentId, Vec<Update>> = BTreeMap::new();
    let mut feed = Vec::new();
    for update in updates {
        let Some(incident) = incidents.iter().find(|i| i.id == update.incident) else {
            continue;
        };
        by_incident
            .entry(update.incident)
            .or_default()
            .push(Update {
                at: update.at,
                text: update.text.clone(),
                resolved: update.resolved,
            });
        feed.push((update, incident.service.clone()));
    }
    let mut shown = Vec::new();
    for i in incidents {
        let updates = by_incident.remove(&i.id);
        if !i.status.is_active() && updates.is_none() {
            continue;
        }
        shown.push(PublicIncident {
            id: i.id.get(),
            service: i.service.clone(),
            impact: Condition::of(i.severity),
            started_at: i.opened.at,
            resolved_at: i.resolved.as_ref().map(|r| r.at),
            updates: updates.unwrap_or_default(),
        });
    }
    let status = Status {
        title: web.settings.web.title.clone(),
        updated_at: now,
        services,
        incidents: shown,
    };
    (status, feed)
}

fn incident_block(incident: &PublicIncident) -> Markup {
    html! {
        article {
            h3 {
                (incident.service) ": "
                span class=(format!("state state-{}", incident.impact.key())) { (incident.impact.label()) }
            }
            p.muted {
                "Started " (when(incident.started_at))
                @if let Some(end) = incident.resolved_at { ", resolved " (when(end)) }
            }
            @if incident.updates.is_empty() {
                p { "We are investigating. Updates will follow here." }
            } @else {
                ul { @for update in &incident.updates {
                    li { time datetime=(update.at.to_rfc3339()) { (when(update.at)) } " — "
                        @if update.resolved { strong { "Resolved: " } } (update.text) }
                } }
            }
        }
    }
}

/// `/status`: the public page.
pub async fn page(State(web): State<Arc<Web>>) -> Response {
    let (status, _) = match read(&web).await {
        Ok(read) => read,
        Err(failure) => return failure.into_response(),
    };
    let worst = status
        .services
        .iter()
        .map(|s| s.status)
        .max()
        .unwrap_or(Condition::Operational);
    let (current, past): (Vec<&PublicIncident>, Vec<&PublicIncident>) = status
        .incidents
        .iter()
        .partition(|i| i.resolved_at.is_none());
    let body = html! {
        main {
            h1 { (status.title) }
            @if worst == Condition::Operational {
                p.status-banner { "All systems operational" }
            } @else {
                p.status-banner.trouble { "Some systems are affected" }
            }
            h2 { "Services" }
            div.table-wrap { table {
                thead { tr { th scope="col" { "Service" } th scope="col" { "Now" } th scope="col" { "Last " (DAYS) " days" } } }
                tbody { @for service in &status.services {
                    tr {
                        th scope="row" { (service.name) }
                        td { span class=(format!("state state-{}", service.status.key())) { (service.status.label()) } }
                        td { div.days role="img" aria-label=(format!("{}: the last {DAYS} days", service.name)) {
                            @for day in &service.days {
                                span class=(format!("day day-{}", day.status.key())) title=(format!("{}: {}", day.date, day.status.label())) {}
                            }
                        } }
                    }
                } }
            } }
            h2 { "Current incidents" }
            @if current.is_empty() { p { "None." } }
            @for incident in current { (incident_block(incident)) }
            h2 { "Past " (DAYS) " days" }
            @if past.is_empty() { p { "No incidents." } }
            @for incident in past { (incident_block(incident)) }
            p.muted { "Updated " (when(status.updated_at)) ". "
                a href="/status.atom" { "Subscribe (Atom)" } " · " a href="/status.json" { "JSON" } }
        }
    };
    html(page::document(&status.title, body))
}

/// `/status.json`: the same as JSON.
pub async fn json(State(web): State<Arc<Web>>) -> Response {
    match read(&web).await {
        Ok((status, _)) => {
            ([(header::CACHE_CONTROL, "max-age=30")], axum::Json(status)).into_response()
        }
        Err(failure) => failure.into_response(),
    }
}

/// `text` for XML text and attribute values.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// `/status.atom`: the public updates of the past days as an Atom feed, newest first.
pub async fn atom(State(web): State<Arc<Web>>) -> Response {
    let (status, feed) = match read(&web).await {
        Ok(read) => read,
        Err(failure) => return failure.into_response(),
    };
    let updated = feed.first().map_or(status.updated_at, |(u, _)| u.at);
    // Absolute where `web.public_url` says where the pages are; else relative to the feed.
    let page = xml(&web
        .settings
        .web_url("/status")
        .unwrap_or_else(|| "/status".into()));
    let own = xml(&web
        .settings
        .web_url("/status.atom")
        .unwrap_or_else(|| "/status.atom".into()));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\">\n\
         <title>{}</title>\n<id>urn:firewatch:status</id>\n<updated>{}</updated>\n\
         <link rel=\"alternate\" type=\"text/html\" href=\"{page}\"/>\n\
         <link rel=\"self\" href=\"{own}\"/>\n",
        xml(&status.title),
        updated.to_rfc3339()
    );
    for (update, service) in &feed {
        let title = if update.resolved {
            format!("{service}: resolved")
        } else {
            format!("{service}: update")
        };
        out.push_str(&format!(
            "<entry>\n<title>{}</title>\n<id>urn:firewatch:update:{}</id>\n<updated>{}</updated>\n\
             <author><name>{}</name></author>\n\
             <link rel=\"alternate\" type=\"text/html\" href=\"{page}\"/>\n\
             <content type=\"text\">{}</content>\n</entry>\n",
            xml(&title),
            update.seq,
            update.at.to_rfc3339(),
            xml(&status.title),
            xml(&update.text)
        ));
    }
    out.push_str("</feed>\n");
    (
        [
            (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=60"),
        ],
        out,
    )
        .into_response()
}
