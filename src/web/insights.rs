//! `/insights` and `/insights.csv`: per week (Monday to Sunday, UTC) and severity, how many
//! incidents opened, the median and p90 time to acknowledge, mitigate and resolve, how many
//! missed their response target, and the services with the most incidents; as SVG charts
//! ([`super::chart`]) and a table, over the last `weeks` weeks (12 unless asked, at most
//! [`MAX_INSIGHT_WEEKS`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::chart;
use super::page::{self, Section, level, severity_badge};
use super::{Failure, Web, html};
use crate::config::SeverityTable;
use crate::incident::Severity;
use crate::store::web::{MAX_INSIGHT_WEEKS, Response as Timing};

/// Weeks shown unless asked.
const WEEKS: u32 = 12;

/// How many services a row names.
const TOP: usize = 3;

/// Median and p90 of some durations, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Spread {
    /// The median.
    pub median: Option<f64>,
    /// The 90th percentile.
    pub p90: Option<f64>,
}

impl Spread {
    /// Of `minutes` (any order): nearest-rank percentiles.
    pub fn of(mut minutes: Vec<f64>) -> Self {
        if minutes.is_empty() {
            return Self::default();
        }
        minutes.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let n = minutes.len();
            let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            minutes[i]
        };
        Self {
            median: Some(rank(0.5)),
            p90: Some(rank(0.9)),
        }
    }
}

/// One week and severity.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The week's Monday.
    pub week: NaiveDate,
    /// The severity.
    pub severity: Severity,
    /// Incidents opened.
    pub opened: usize,
    /// Time to acknowledge.
    pub acknowledge: Spread,
    /// Time to mitigate.
    pub mitigate: Spread,
    /// Time to resolve.
    pub resolve: Spread,
    /// Incidents acknowledged after their response target, or not yet and past it.
    pub target_misses: usize,
    /// The services with the most incidents, most first, with their counts.
    pub top_services: Vec<(String, usize)>,
}

/// The Monday of `at`'s week.
pub fn monday(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The start of the window of the last `weeks` weeks (this one included).
pub fn window_start(now: DateTime<Utc>, weeks: u32) -> DateTime<Utc> {
    let first = monday(now) - TimeDelta::weeks(i64::from(weeks) - 1);
    first
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// The rows of `timings` (incidents opened in the window), for every week of the window and
/// every severity with an incident that week, oldest week first.
pub fn rows(timings: &[Timing], table: &SeverityTable, now: DateTime<Utc>) -> Vec<Row> {
    let mut groups: BTreeMap<(NaiveDate, Severity), Vec<&Timing>> = BTreeMap::new();
    for timing in timings {
        groups
            .entry((monday(timing.opened), timing.severity))
            .or_default()
            .push(timing);
    }
    let minutes = |d: TimeDelta| d.num_seconds() as f64 / 60.0;
    groups
        .into_iter()
        .map(|((week, severity), group)| {
            let target = TimeDelta::seconds(level(table, severity).respond_within.as_secs() as i64);
            let spread = |f: fn(&Timing) -> Option<DateTime<Utc>>| {
                Spread::of(
                    group
                        .iter()
                        .filter_map(|t| f(t).map(|at| minutes(at - t.opened)))
                        .collect(),
                )
            };
            let target_misses = group
                .iter()
                .filter(|t| t.target_missed || t.acknowledged.unwrap_or(now) - t.opened > target)
                .count();
            let mut services: BTreeMap<&str, usize> = BTreeMap::new();
            for t in &group {
                *services.entry(t.service.as_str()).or_default() += 1;
            }
            let mut top_services: Vec<(String, usize)> = services
                .into_iter()
                .map(|(s, n)| (s.to_owned(), n))
                .collect();
            top_services.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            top_services.truncate(TOP);
            Row {
                week,
                severity,
                opened: group.len(),
                acknowledge: spread(|t| t.acknowledged),
                mitigate: spread(|t| t.mitigated),
                resolve: spread(|t| t.resolved),
                target_misses,
                top_services,
            }
        })
        .collect()
}

/// The query of `/insights`.
#[derive(Debug, Default, Deserialize)]
pub struct InsightsQuery {
    weeks: Option<String>,
}

impl InsightsQuery {
    fn weeks(&self) -> Result<u32, Failure> {
        match self
            .weeks
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            None => Ok(WEEKS),
            Some(w) => w
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_INSIGHT_WEEKS).contains(n))
                .ok_or_else(|| {
                    Failure::BadRequest(format!(
                        "weeks: '{w}' is not a number from 1 to {MAX_INSIGHT_WEEKS}"
                    ))
                }),
        }
    }
}

/// The rows of the asked window.
async fn read(
    web: &Web,
    query: Result<Query<InsightsQuery>, QueryRejection>,
) -> Result<(u32, Vec<Row>), Failure> {
    let Query(query) = query.map_err(|e| Failure::BadRequest(e.body_text()))?;
    let weeks = query.weeks()?;
    let now = web.clock.now();
    let timings = web
        .reads()?
        .responses(window_start(now, weeks), now)
        .await?;
    Ok((weeks, rows(&timings, &web.settings.severity, now)))
}

/// Minutes as people read them.
fn shown(minutes: Option<f64>) -> String {
    minutes.map_or_else(
        || "–".to_owned(),
        |m| page::span(TimeDelta::seconds((m * 60.0).round() as i64)),
    )
}

/// `/insights`.
pub async fn page(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    query: Result<Query<InsightsQuery>, QueryRejection>,
) -> Response {
    let user = match web.access.user(&headers).await {
        Ok(user) => user,
        Err(denied) => return denied.into_response(),
    };
    let (weeks, rows) = match read(&web, query).await {
        Ok(read) => read,
        Err(failure) => return failure.into_response(),
    };
    let now = web.clock.now();
    let table = &web.settings.severity;
    let body = insights_body(weeks, &rows, table, now);
    html(page::internal("Insights", Section::Insights, &user, body))
}

fn insights_body(weeks: u32, rows: &[Row], table: &SeverityTable, now: DateTime<Utc>) -> Markup {
    let first = monday(now) - TimeDelta::weeks(i64::from(weeks) - 1);
    let all_weeks: Vec<NaiveDate> = (0..i64::from(weeks))
        .map(|n| first + TimeDelta::weeks(n))
        .collect();
    html! {
        form.filters method="get" action="/insights" {
            label { "Weeks" input type="number" name="weeks" min="1" max=(MAX_INSIGHT_WEEKS) value=(weeks); }
            button type="submit" { "Show" }
            a href=(format!("/insights.csv?weeks={weeks}")) download { "Download CSV" }
        }
        h2 { "Incidents opened per week" }
        (chart::opened(&all_weeks, rows, table))
        h2 { "Median time to acknowledge" }
        (chart::lines(&all_weeks, rows, table, "Median time to acknowledge", |r| r.acknowledge.median))
        h2 { "Median time to resolve" }
        (chart::lines(&all_weeks, rows, table, "Median time to resolve", |r| r.resolve.median))
        h2 { "Per week and severity" }
        @if rows.is_empty() {
            p { "No incidents opened in these weeks." }
        } @else {
            div.table-wrap { table {
                thead {
                    tr {
                        th scope="col" rowspan="2" { "Week of" } th scope="col" rowspan="2" { "Severity" }
                        th scope="col" rowspan="2" { "Opened" }
                        th scope="colgroup" colspan="2" { "Acknowledge" } th scope="colgroup" colspan="2" { "Mitigate" }
                        th scope="colgroup" colspan="2" { "Resolve" }
                        th scope="col" rowspan="2" { "Target misses" } th scope="col" rowspan="2" { "Top services" }
                    }
                    tr { @for _ in 0..3 { th scope="col" { "median" } th scope="col" { "p90" } } }
                }
                tbody { @for row in rows {
                    tr {
                        td { (row.week) } td { (severity_badge(table, row.severity)) } td { (row.opened) }
                        @for spread in [row.acknowledge, row.mitigate, row.resolve] {
                            td { (shown(spread.median)) } td { (shown(spread.p90)) }
                        }
                        td.overdue[row.target_misses > 0] { (row.target_misses) }
                        td { @for (i, (service, n)) in row.top_services.iter().enumerate() {
                            @if i > 0 { ", " } (service) " (" (n) ")"
                        } }
                    }
                } }
            } }
        }
    }
}

/// A CSV cell: quoted when needed, and never starting like a spreadsheet formula.
fn cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The rows as CSV (minutes with one decimal; empty when there is no figure).
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "week,severity,opened,ack_median_min,ack_p90_min,mitigate_median_min,mitigate_p90_min,\
         resolve_median_min,resolve_p90_min,target_misses,top_services\n",
    );
    let figure = |m: Option<f64>| m.map_or_else(String::new, |m| format!("{m:.1}"));
    for row in rows {
        let top: Vec<String> = row
            .top_services
            .iter()
            .map(|(s, n)| format!("{s} ({n})"))
            .collect();
        let cells = [
            row.week.to_string(),
            row.severity.to_string(),
            row.opened.to_string(),
            figure(row.acknowledge.median),
            figure(row.acknowledge.p90),
            figure(row.mitigate.median),
            figure(row.mitigate.p90),
            figure(row.resolve.median),
            figure(row.resolve.p90),
            row.target_misses.to_string(),
            top.join("; "),
        ];
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

/// `/insights.csv`: the table's rows.
pub async fn download(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    query: Result<Query<InsightsQuery>, QueryRejection>,
) -> Response {
    if let Err(denied) = web.access.user(&headers).await {
        return denied.into_response();
    }
    match read(&web, query).await {
        Ok((weeks, rows)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"firewatch-insights-{weeks}w.csv\""),
                ),
            ],
            csv(&rows),
        )
            .into_response(),
        Err(failure) => failure.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn timing(service: &str, severity: Severity, opened: DateTime<Utc>, ack: i64) -> Timing {
        Timing {
            service: service.into(),
            severity,
            opened,
            acknowledged: Some(opened + TimeDelta::minutes(ack)),
            mitigated: Some(opened + TimeDelta::minutes(ack * 2)),
            resolved: Some(opened + TimeDelta::minutes(ack * 10)),
            target_missed: false,
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let spread = Spread::of((1..=10).map(f64::from).collect());
        assert_eq!(spread.median, Some(5.0));
        assert_eq!(spread.p90, Some(9.0));
        assert_eq!(Spread::of(vec![7.0]).p90, Some(7.0));
        assert_eq!(Spread::of(Vec::new()), Spread::default());
    }

    #[test]
    fn rows_group_by_week_and_severity_and_count_misses_against_the_target() {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap(); // a Friday
        let monday = Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap();
        let table = SeverityTable::default();
        let timings = [
            timing("freightliner", Severity::P0, monday, 3),
            timing(
                "freightliner",
                Severity::P0,
                monday + TimeDelta::days(1),
                20,
            ),
            timing("payments", Severity::P0, monday + TimeDelta::days(2), 4),
            timing("payments", Severity::P2, monday - TimeDelta::days(3), 30),
        ];
        let rows = rows(&timings, &table, now);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].week.to_string(), "2026-11-23");
        assert_eq!(rows[0].severity, Severity::P2);
        assert_eq!(rows[0].target_misses, 0);
        let p0 = &rows[1];
        assert_eq!((p0.week.to_string(), p0.opened), ("2026-11-30".into(), 3));
        assert_eq!(p0.acknowledge.median, Some(4.0));
        assert_eq!(p0.acknowledge.p90, Some(20.0));
        assert_eq!(p0.resolve.median, Some(40.0));
        // The P0 target is 5 minutes: the 20-minute acknowledgement missed it.
        assert_eq!(p0.target_misses, 1);
        assert_eq!(
            p0.top_services,
            [("freightliner".to_owned(), 2), ("payments".to_owned(), 1)]
        );
        let csv = csv(&rows);
        assert!(
            csv.contains(
                "2026-11-30,P0,3,4.0,20.0,8.0,40.0,40.0,200.0,1,freightliner (2); payments (1)\n"
            ),
            "{csv}"
        );
        assert_eq!(
            window_start(now, 2),
            Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("plain"), "plain");
    }
}
