//! Charts as SVG drawn on the server (no script): incidents opened per week stacked by
//! severity, and one line per severity for a weekly figure. Colours are the configured
//! severity colours; each chart has a text alternative and each mark a tooltip (`<title>`).

use chrono::NaiveDate;
use maud::{Markup, html};

use super::insights::Row;
use super::page::{level, span};
use crate::config::SeverityTable;
use crate::incident::Severity;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

/// `colour` when it is `#RRGGBB`, else a neutral grey.
fn colour(table: &SeverityTable, severity: Severity) -> String {
    let c = &level(table, severity).colour;
    let valid = c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit());
    if valid { c.clone() } else { "#6b7280".into() }
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

/// The axes, the y maximum's label and every few weeks' label.
fn frame(weeks: &[NaiveDate], max: &str) -> Markup {
    let step = weeks.len().div_ceil(8).max(1);
    let band = (WIDTH - LEFT - RIGHT) / weeks.len().max(1) as f64;
    html! {
        line x1=(LEFT) y1=(TOP) x2=(LEFT) y2=(HEIGHT - BOTTOM) stroke="#57606a" {}
        line x1=(LEFT) y1=(HEIGHT - BOTTOM) x2=(WIDTH - RIGHT) y2=(HEIGHT - BOTTOM) stroke="#57606a" {}
        text x=(LEFT - 6.0) y=(TOP + 10.0) text-anchor="end" font-size="12" fill="#1f2328" { (max) }
        text x=(LEFT - 6.0) y=(HEIGHT - BOTTOM) text-anchor="end" font-size="12" fill="#1f2328" { "0" }
        @for (i, week) in weeks.iter().enumerate() {
            @if i % step == 0 {
                text x=(LEFT + band * (i as f64 + 0.5)) y=(HEIGHT - BOTTOM + 16.0) text-anchor="middle" font-size="11" fill="#1f2328" {
                    (week.format("%m-%d"))
                }
            }
        }
    }
}

fn legend(table: &SeverityTable) -> Markup {
    html! {
        @for (i, severity) in Severity::ALL.iter().enumerate() {
            @let x = LEFT + 70.0 * i as f64;
            rect x=(x) y=(HEIGHT - 14.0) width="10" height="10" fill=(colour(table, *severity)) {}
            text x=(x + 14.0) y=(HEIGHT - 5.0) font-size="11" fill="#1f2328" { (severity) }
        }
    }
}

/// Incidents opened per week, stacked by severity (P0 at the bottom).
pub fn opened(weeks: &[NaiveDate], rows: &[Row], table: &SeverityTable) -> Markup {
    let count = |week: &NaiveDate, severity: Severity| {
        rows.iter()
            .find(|r| r.week == *week && r.severity == severity)
            .map_or(0, |r| r.opened)
    };
    let totals: Vec<usize> = weeks
        .iter()
        .map(|w| Severity::ALL.iter().map(|s| count(w, *s)).sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let band = (WIDTH - LEFT - RIGHT) / weeks.len().max(1) as f64;
    let scale = plot_height() / max as f64;
    let total: usize = totals.iter().sum();
    let label = format!(
        "Incidents opened per week by severity: {total} in {} weeks, at most {max} in a week",
        weeks.len()
    );
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            (frame(weeks, &max.to_string()))
            @for (i, week) in weeks.iter().enumerate() {
                @let x = LEFT + band * i as f64 + band * 0.15;
                @let mut base = HEIGHT - BOTTOM;
                @for severity in Severity::ALL {
                    @let n = count(week, severity);
                    @if n > 0 {
                        @let h = n as f64 * scale;
                        @let y = { base -= h; base };
                        rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.1}", band * 0.7)) height=(format!("{h:.1}")) fill=(colour(table, severity)) {
                            title { "week of " (week) ": " (n) " " (severity) }
                        }
                    }
                }
            }
            (legend(table))
        }
    }
}

/// One line per severity of `figure` (minutes) per week; weeks without a figure break the line.
pub fn lines(
    weeks: &[NaiveDate],
    rows: &[Row],
    table: &SeverityTable,
    what: &str,
    figure: fn(&Row) -> Option<f64>,
) -> Markup {
    let value = |week: &NaiveDate, severity: Severity| {
        rows.iter()
            .find(|r| r.week == *week && r.severity == severity)
            .and_then(figure)
    };
    let max = rows
        .iter()
        .filter_map(figure)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let band = (WIDTH - LEFT - RIGHT) / weeks.len().max(1) as f64;
    let scale = plot_height() / max;
    let max_label = span(chrono::TimeDelta::seconds((max * 60.0) as i64));
    let label = format!("{what} per week by severity, up to {max_label}");
    html! {
        svg.chart viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            (frame(weeks, &max_label))
            @for severity in Severity::ALL {
                @let points: Vec<(f64, f64, &NaiveDate, f64)> = weeks.iter().enumerate()
                    .filter_map(|(i, w)| value(w, severity).map(|v| (LEFT + band * (i as f64 + 0.5), HEIGHT - BOTTOM - v * scale, w, v)))
                    .collect();
                @if points.len() > 1 {
                    polyline fill="none" stroke=(colour(table, severity)) stroke-width="2"
                        points=(points.iter().map(|(x, y, _, _)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")) {}
                }
                @for (x, y, week, v) in &points {
                    circle cx=(format!("{x:.1}")) cy=(format!("{y:.1}")) r="3.5" fill=(colour(table, severity)) {
                        title { (severity) ", week of " (week) ": " (span(chrono::TimeDelta::seconds((v * 60.0) as i64))) }
                    }
                }
            }
            (legend(table))
        }
    }
}
