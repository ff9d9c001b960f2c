use std::time::Duration;

use super::*;
use crate::incident::Severity;

fn line_of<'a>(text: &'a str, series: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
}

#[test]
fn a_histogram_counts_each_observation_in_its_bucket_and_above() {
    let metrics = Metrics::default();
    metrics.ack(Platform::Slack, Duration::from_micros(800));
    metrics.ack(Platform::Slack, Duration::from_millis(7));
    metrics.ack(Platform::Slack, Duration::from_secs(9));
    metrics.ack(Platform::Console, Duration::from_secs(1)); // not timed: ignored
    let text = render(&metrics, None);
    let series = |le: &str| {
        line_of(
            &text,
            &format!("firewatch_ack_latency_seconds_bucket{{platform=\"slack\",le=\"{le}\"}}"),
        )
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned()
    };
    assert_eq!(series("0.001"), "1");
    assert_eq!(series("0.005"), "1");
    assert_eq!(series("0.01"), "2");
    assert_eq!(series("3"), "2");
    assert_eq!(series("+Inf"), "3");
    assert!(
        line_of(
            &text,
            "firewatch_ack_latency_seconds_count{platform=\"slack\"}"
        )
        .ends_with(" 3")
    );
    assert!(
        line_of(
            &text,
            "firewatch_ack_latency_seconds_sum{platform=\"slack\"}"
        )
        .ends_with(" 9.0078")
    );
    assert!(
        line_of(
            &text,
            "firewatch_ack_latency_seconds_count{platform=\"discord\"}"
        )
        .ends_with(" 0")
    );
}

#[test]
fn commands_show_once_counted_with_their_labels() {
    let metrics = Metrics::default();
    metrics.command(Some(CommandName::Ack), Platform::Slack, Outcome::Ok);
    metrics.command(Some(CommandName::Ack), Platform::Slack, Outcome::Ok);
    metrics.command(None, Platform::Discord, Outcome::Refused);
    let text = render(&metrics, Some(&[(Severity::P1, 2)]));
    assert!(
        line_of(
            &text,
            "firewatch_commands_total{command=\"ack\",platform=\"slack\",outcome=\"ok\"}"
        )
        .ends_with(" 2")
    );
    assert!(
        line_of(
            &text,
            "firewatch_commands_total{command=\"invalid\",platform=\"discord\",outcome=\"refused\"}"
        )
        .ends_with(" 1")
    );
    assert_eq!(text.matches("firewatch_commands_total{").count(), 2);
    assert!(line_of(&text, "firewatch_open_incidents{severity=\"P1\"}").ends_with(" 2"));
    assert!(line_of(&text, "firewatch_open_incidents{severity=\"P0\"}").ends_with(" 0"));
}

#[test]
fn the_open_incidents_gauge_is_left_out_when_the_store_cannot_say() {
    let text = render(&Metrics::default(), None);
    assert!(!text.contains("firewatch_open_incidents"), "{text}");
    assert!(text.contains("# TYPE firewatch_approvals_total counter"));
}

#[test]
fn cluster_calls_count_errors_by_call() {
    let metrics = Metrics::default();
    let nodes = CLUSTER_CALLS.iter().position(|c| *c == "nodes").unwrap();
    metrics.cluster_call(nodes, Duration::from_millis(30), true);
    metrics.cluster_call(nodes, Duration::from_millis(3), false);
    metrics.cluster_call(99, Duration::from_millis(3), true); // out of range: ignored
    let text = render(&metrics, None);
    assert!(line_of(&text, "firewatch_cluster_call_errors_total{call=\"nodes\"}").ends_with(" 1"));
    assert!(
        line_of(
            &text,
            "firewatch_cluster_call_duration_seconds_count{call=\"nodes\"}"
        )
        .ends_with(" 2")
    );
    assert!(
        line_of(
            &text,
            "firewatch_cluster_call_duration_seconds_bucket{call=\"nodes\",le=\"0.01\"}"
        )
        .ends_with(" 1")
    );
}
