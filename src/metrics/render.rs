//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per
//! family, then one `name{label="value",…} number` line per series.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::{
    ACK_PLATFORMS, APPROVAL_OUTCOMES, CLUSTER_CALLS, Histogram, Metrics, Outcome, PLATFORMS,
};
use crate::command::CommandName;
use crate::incident::Severity;

/// The `Content-Type` of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every figure as exposition text. `open` is the number of active incidents per severity
/// (`None` when the store could not say: the gauge is left out rather than shown as zero).
pub fn render(metrics: &Metrics, open: Option<&[(Severity, u64)]>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    family(
        &mut out,
        "firewatch_commands_total",
        "counter",
        "Commands handled, by command, platform and outcome (ok, refused, failed, replayed).",
    );
    for (c, by_platform) in metrics.commands.iter().enumerate() {
        let command = CommandName::ALL.get(c).map_or("invalid", |n| n.word());
        for (p, by_outcome) in by_platform.iter().enumerate() {
            for (o, count) in by_outcome.iter().enumerate() {
                let count = count.load(Ordering::Relaxed);
                // A series appears once it has counted something: 216 zero lines help nobody.
                if count > 0 {
                    let _ = writeln!(
                        out,
                        "firewatch_commands_total{{command=\"{command}\",platform=\"{}\",outcome=\"{}\"}} {count}",
                        PLATFORMS[p].as_str(),
                        Outcome::ALL[o].as_str(),
                    );
                }
            }
        }
    }
    family(
        &mut out,
        "firewatch_ack_latency_seconds",
        "histogram",
        "Time from a chat request's arrival to firewatch's acknowledgement, by platform.",
    );
    for (i, platform) in ACK_PLATFORMS.iter().enumerate() {
        histogram(
            &mut out,
            "firewatch_ack_latency_seconds",
            &format!("platform=\"{}\"", platform.as_str()),
            &metrics.ack[i],
        );
    }
    if let Some(open) = open {
        family(
            &mut out,
            "firewatch_open_incidents",
            "gauge",
            "Active incidents (investigating, mitigating, monitoring) in the store, by severity.",
        );
        for severity in Severity::ALL {
            let count = open
                .iter()
                .find(|(s, _)| *s == severity)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(
                out,
                "firewatch_open_incidents{{severity=\"{severity}\"}} {count}"
            );
        }
    }
    family(
        &mut out,
        "firewatch_approvals_total",
        "counter",
        "Approval requests by outcome (approved, then succeeded or failed; or denied, expired, cancelled).",
    );
    for (i, state) in APPROVAL_OUTCOMES.iter().enumerate() {
        let _ = writeln!(
            out,
            "firewatch_approvals_total{{outcome=\"{}\"}} {}",
            state.as_str(),
            metrics.approvals[i].load(Ordering::Relaxed)
        );
    }
    family(
        &mut out,
        "firewatch_cluster_call_duration_seconds",
        "histogram",
        "Duration of cluster operations (Kubernetes API and helm), by call.",
    );
    for (i, call) in CLUSTER_CALLS.iter().enumerate() {
        histogram(
            &mut out,
            "firewatch_cluster_call_duration_seconds",
            &format!("call=\"{call}\""),
            &metrics.cluster[i],
        );
    }
    family(
        &mut out,
        "firewatch_cluster_call_errors_total",
        "counter",
        "Cluster operations that failed, by call.",
    );
    for (i, call) in CLUSTER_CALLS.iter().enumerate() {
        let _ = writeln!(
            out,
            "firewatch_cluster_call_errors_total{{call=\"{call}\"}} {}",
            metrics.cluster_errors[i].load(Ordering::Relaxed)
        );
    }
    for (name, help, times) in [
        (
            "firewatch_time_to_acknowledge_seconds",
            "Time from an incident's opening to its acknowledgement.",
            &metrics.to_acknowledge,
        ),
        (
            "firewatch_time_to_mitigate_seconds",
            "Time from an incident's opening to its move from investigating to mitigating or monitoring.",
            &metrics.to_mitigate,
        ),
        (
            "firewatch_time_to_resolve_seconds",
            "Time from an incident's opening to its resolution.",
            &metrics.to_resolve,
        ),
    ] {
        family(&mut out, name, "histogram", help);
        histogram(&mut out, name, "", times);
    }
    out
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, histogram: &Histogram) {
    let (buckets, sum, count) = histogram.snapshot();
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, cumulative) in buckets {
        let le = if bound.is_infinite() {
            "+Inf".to_owned()
        } else {
            bound.to_string()
        };
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
        );
    }
    let braces = |labels: &str| {
        if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        }
    };
    let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
    let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
}
