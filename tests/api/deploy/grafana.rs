//! `deploy/grafana-dashboard.json` charts what `/metrics` exports: every metric it queries
//! exists, and every metric firewatch exports is on it.

use std::collections::BTreeSet;

use firewatch::incident::Severity;
use firewatch::metrics::{Metrics, render};
use regex::Regex;
use serde_json::Value;

use super::deploy;

/// The metric families `/metrics` exports, by their `# TYPE` lines.
fn exported() -> BTreeSet<String> {
    let open: Vec<(Severity, u64)> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    render(&Metrics::default(), Some(&open))
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Every query of the dashboard's panels (rows included).
fn queries(dashboard: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dashboard["panels"].clone()];
    while let Some(panels) = stack.pop() {
        for panel in panels.as_array().into_iter().flatten() {
            stack.push(panel["panels"].clone());
            for target in panel["targets"].as_array().into_iter().flatten() {
                found.push(target["expr"].as_str().expect("a PromQL expr").to_owned());
            }
        }
    }
    found
}

#[test]
fn the_grafana_dashboard_charts_every_exported_metric_and_nothing_else() {
    let text = std::fs::read_to_string(deploy().join("grafana-dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "firewatch");
    let queries = queries(&dashboard);
    assert!(!queries.is_empty());
    let name = Regex::new(r"firewatch_[a-z_]+").unwrap();
    let exported = exported();
    let mut charted = BTreeSet::new();
    for query in &queries {
        for found in name.find_iter(query) {
            let series = found.as_str();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| series.strip_suffix(suffix))
                .filter(|family| exported.contains(*family))
                .unwrap_or(series);
            assert!(
                exported.contains(family),
                "the dashboard queries {series}, which /metrics does not export: {query}"
            );
            charted.insert(family.to_owned());
        }
    }
    let missing: Vec<_> = exported.difference(&charted).collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
    // Every panel reads the dashboard's chosen Prometheus.
    for query_panel in dashboard["panels"].as_array().unwrap() {
        if query_panel["type"] != "row" {
            assert_eq!(
                query_panel["datasource"]["uid"], "${datasource}",
                "{}",
                query_panel["title"]
            );
        }
    }
}
