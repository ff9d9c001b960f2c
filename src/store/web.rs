//! What the web pages read: pages of incident history under filters, the time of each active
//! incident's last update, the public updates for the status page, and the response times of
//! the incidents opened in a window (for insights). Every read is bounded: a page has a limit
//! and continues by id (keyset), the status page reads a window of days with a limit, insights
//! read at most [`MAX_INSIGHT_WEEKS`] of incidents.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Result;
use crate::incident::{Incident, IncidentId, Severity, Status};

/// The most incidents a history page shows.
pub const MAX_PAGE: u32 = 200;

/// How many incidents (by id) one page of a text search reads at most; the page says where it
/// stopped, and the next one goes on from there.
pub const SEARCH_SPAN: i64 = 20_000;

/// One page of history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The incidents, newest first.
    pub incidents: Vec<Incident>,
    /// For a text search: the smallest id it read (incidents below it are not searched yet).
    pub searched_from: Option<i64>,
}

/// The widest insights window, in weeks.
pub const MAX_INSIGHT_WEEKS: u32 = 104;

/// Which incidents a history page shows, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this service.
    pub service: Option<String>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this status.
    pub status: Option<Status>,
    /// Opened at or after.
    pub from: Option<DateTime<Utc>>,
    /// Opened before.
    pub to: Option<DateTime<Utc>>,
    /// Words the summary contains (case-insensitive).
    pub text: Option<String>,
    /// Only incidents with a smaller id (the next page).
    pub before: Option<IncidentId>,
    /// How many (at most [`MAX_PAGE`]).
    pub limit: u32,
}

/// A text posted for everyone (`--public`) on an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUpdate {
    /// The entry's position in the timeline (a feed entry's stable id).
    pub seq: i64,
    /// The incident.
    pub incident: IncidentId,
    /// When it was posted.
    pub at: DateTime<Utc>,
    /// What it says.
    pub text: String,
    /// Whether it was the incident's resolution.
    pub resolved: bool,
}

/// One incident's response times, for insights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The service.
    pub service: String,
    /// Its severity (now).
    pub severity: Severity,
    /// When it opened.
    pub opened: DateTime<Utc>,
    /// When it was acknowledged.
    pub acknowledged: Option<DateTime<Utc>>,
    /// When a mitigation was in (the first move to Mitigating or Monitoring, or an applied
    /// change).
    pub mitigated: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved: Option<DateTime<Utc>>,
    /// Whether its response target was missed (firewatch escalated).
    pub target_missed: bool,
}

/// The web side's reads.
#[async_trait]
pub trait WebReads: Send + Sync {
    /// One page of incidents matching `filter`, newest first (at most `filter.limit`); a text
    /// search reads at most [`SEARCH_SPAN`] incidents below `filter.before`.
    async fn incidents_page(&self, filter: &Filter) -> Result<Page>;

    /// When each of `ids` last had a status update posted (`/incident-update`); ids without one
    /// are left out.
    async fn last_updates(&self, ids: &[IncidentId]) -> Result<Vec<(IncidentId, DateTime<Utc>)>>;

    /// Public updates posted at or after `since`, newest first, at most `limit`.
    async fn public_updates(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<PublicUpdate>>;

    /// Incidents that were active at some time at or after `since` (opened after it, or not yet
    /// resolved, or resolved after it), newest first, at most `limit`.
    async fn incidents_since(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>>;

    /// The response times of the incidents opened in `[from, to)`.
    async fn responses(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Response>>;
}
