//! `GET /healthz`, `GET /readyz` and `GET /metrics` of `firewatch serve`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use firewatch::app::health::Health;
use firewatch::app::health::Readiness;
use firewatch::app::http::{self, AppState};
use firewatch::app::serve;
use firewatch::app::startup::App;
use firewatch::approval::{Ballot, NewRequest, Request, State, Voted};
use firewatch::incident::{
    Actor, ChannelRef, Draft, Incident, IncidentId, TimelineEntry, TimelineEvent,
};
use firewatch::metrics::Metrics;
use firewatch::store::{
    Baseline, Close, Decide, Fired, Inbound, OnDue, RequestEntries, Result, SqlStore, Store,
    Updated,
};

use crate::fake_slack::FakeSlack;
use crate::helpers::TestApp;
use crate::slack::{SECRET, send_command};
mod exposition;
mod flaky;
mod readyz;

pub use exposition::check_exposition;

/// A GET; the status, the headers (lowercase names) and the body.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, HashMap<String, String>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// The value of one series (`name{labels}` exactly as rendered) in exposition text.
pub fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in:\n{text}"))
        .parse()
        .unwrap()
}

/// The value of one series in `app`'s registry (without the store-derived gauge).
pub fn metric(app: &App, series: &str) -> f64 {
    value(&firewatch::metrics::render(&app.metrics, None), series)
}

async fn served_slack(extra: &[(&str, &str)]) -> (TestApp, FakeSlack, serve::Running) {
    let fake = FakeSlack::start().await;
    let mut env = vec![
        (
            "FIREWATCH__SLACK__API_URL".to_owned(),
            format!("{}/api", fake.url),
        ),
        (
            "FIREWATCH__SLACK__BOT_TOKEN".to_owned(),
            "xoxb-test-token".to_owned(),
        ),
        (
            "FIREWATCH__SLACK__SIGNING_SECRET".to_owned(),
            SECRET.to_owned(),
        ),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    (t, fake, running)
}

/// Scrapes until `series` reaches `want` (commands run in tasks after their ack), then returns
/// the text.
async fn scrape_when(addr: SocketAddr, series: &str, want: f64) -> String {
    for _ in 0..200 {
        let (status, _, text) = get(addr, "/metrics").await;
        assert_eq!(status, 200);
        if text.lines().any(|l| {
            l.strip_prefix(series)
                .and_then(|v| v.strip_prefix(' '))
                .is_some_and(|v| v.parse::<f64>() == Ok(want))
        }) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, _, text) = get(addr, "/metrics").await;
    panic!("{series} never reached {want}:\n{text}");
}

#[tokio::test]
async fn metrics_count_commands_acks_open_incidents_and_milestones_exactly() {
    let (t, fake, running) = served_slack(&[]).await;
    let addr = running.addr;
    let (status, _, _) = get(addr, "/healthz").await;
    assert_eq!(status, 200);

    let send = |line: &'static str, trigger: &'static str| {
        let fake = &fake;
        async move {
            let (status, _) = send_command(addr, fake, "alice", "C0INC", line, trigger).await;
            assert_eq!(status, 200, "{line}");
        }
    };
    let ok = |command: &str| {
        format!(
            "firewatch_commands_total{{command=\"{command}\",platform=\"slack\",outcome=\"ok\"}}"
        )
    };
    send("/incident-assess checkout returning 500s", "m.1").await;
    scrape_when(addr, &ok("assess"), 1.0).await;
    // A scrape reads the store before the counters, so the one that first counts the command
    // may have read the store just before its commit: the next one sees the incident.
    let text = scrape_when(addr, "firewatch_open_incidents{severity=\"P1\"}", 1.0).await;
    check_exposition(&text);
    assert_eq!(
        value(&text, "firewatch_open_incidents{severity=\"P0\"}"),
        0.0
    );
    // A redelivery (same trigger) is acknowledged but not run again.
    send("/incident-assess checkout returning 500s", "m.1").await;

    // Each command runs in a task after its ack: wait for it before moving the clock.
    t.advance_minutes(5);
    send("/incident-ack", "m.2").await;
    scrape_when(addr, &ok("ack"), 1.0).await;
    send("/incident-ack", "m.3").await; // already acknowledged: refused
    let refused =
        "firewatch_commands_total{command=\"ack\",platform=\"slack\",outcome=\"refused\"}";
    scrape_when(addr, refused, 1.0).await;
    send("/incident-severity P9", "m.4").await; // does not parse
    t.advance_minutes(5);
    send(
        "/incident-update --status mitigating rolling back the flag",
        "m.5",
    )
    .await;
    scrape_when(addr, &ok("update"), 1.0).await;
    t.advance_minutes(20);
    send("/incident-resolve bad flag | rolled back", "m.6").await;
    scrape_when(addr, &ok("resolve"), 1.0).await;
    let invalid =
        "firewatch_commands_total{command=\"invalid\",platform=\"slack\",outcome=\"refused\"}";
    let text = scrape_when(addr, invalid, 1.0).await;
    check_exposition(&text);
    for (series, want) in [
        (ok("assess"), 1.0),
        (ok("ack"), 1.0),
        (ok("update"), 1.0),
        (ok("resolve"), 1.0),
        (
            "firewatch_commands_total{command=\"invalid\",platform=\"slack\",outcome=\"refused\"}"
                .to_owned(),
            1.0,
        ),
        (
            "firewatch_ack_latency_seconds_count{platform=\"slack\"}".to_owned(),
            7.0,
        ),
        (
            "firewatch_ack_latency_seconds_bucket{platform=\"slack\",le=\"+Inf\"}".to_owned(),
            7.0,
        ),
        (
            "firewatch_ack_latency_seconds_count{platform=\"discord\"}".to_owned(),
            0.0,
        ),
        ("firewatch_open_incidents{severity=\"P1\"}".to_owned(), 0.0),
        // Acknowledged after 5 minutes, mitigating after 10, resolved after 30.
        (
            "firewatch_time_to_acknowledge_seconds_count".to_owned(),
            1.0,
        ),
        (
            "firewatch_time_to_acknowledge_seconds_sum".to_owned(),
            300.0,
        ),
        (
            "firewatch_time_to_acknowledge_seconds_bucket{le=\"60\"}".to_owned(),
            0.0,
        ),
        (
            "firewatch_time_to_acknowledge_seconds_bucket{le=\"300\"}".to_owned(),
            1.0,
        ),
        ("firewatch_time_to_mitigate_seconds_sum".to_owned(), 600.0),
        (
            "firewatch_time_to_mitigate_seconds_bucket{le=\"300\"}".to_owned(),
            0.0,
        ),
        (
            "firewatch_time_to_mitigate_seconds_bucket{le=\"900\"}".to_owned(),
            1.0,
        ),
        ("firewatch_time_to_resolve_seconds_count".to_owned(), 1.0),
        ("firewatch_time_to_resolve_seconds_sum".to_owned(), 1800.0),
        (
            "firewatch_time_to_resolve_seconds_bucket{le=\"900\"}".to_owned(),
            0.0,
        ),
        (
            "firewatch_time_to_resolve_seconds_bucket{le=\"1800\"}".to_owned(),
            1.0,
        ),
    ] {
        assert_eq!(value(&text, &series), want, "{series}");
    }
    // Six commands ran; the redelivery did not.
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("firewatch_commands_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(counted, 6.0, "{text}");
    // No cluster is configured: assess's evidence reads failed and were counted as errors.
    let failed = value(
        &text,
        "firewatch_cluster_call_errors_total{call=\"readiness\"}",
    );
    assert_eq!(
        failed,
        value(
            &text,
            "firewatch_cluster_call_duration_seconds_count{call=\"readiness\"}"
        )
    );
    assert!(failed >= 1.0, "{text}");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_are_served_as_prometheus_text() {
    let (_t, _fake, running) = served_slack(&[]).await;
    let (status, headers, text) = get(running.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    check_exposition(&text);
    for family in [
        "firewatch_commands_total counter",
        "firewatch_ack_latency_seconds histogram",
        "firewatch_open_incidents gauge",
        "firewatch_approvals_total counter",
        "firewatch_cluster_call_duration_seconds histogram",
        "firewatch_cluster_call_errors_total counter",
        "firewatch_time_to_acknowledge_seconds histogram",
        "firewatch_time_to_mitigate_seconds histogram",
        "firewatch_time_to_resolve_seconds histogram",
    ] {
        assert!(text.contains(&format!("# TYPE {family}\n")), "{family}");
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn discord_acks_are_timed_and_readyz_waits_for_the_gateway() {
    use crate::discord::{command_as, discord_env, interact_at};
    use crate::fake_discord::FakeDiscord;
    // Over HTTP: each acknowledged interaction is timed under platform="discord".
    let fake = FakeDiscord::start().await;
    let t = TestApp::spawn_with(discord_env(&fake)).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let (status, _, body) = get(running.addr, "/readyz").await;
    assert_eq!(
        (status, body.as_str()),
        (200, "ready\n"),
        "HTTP mode is ready when configured"
    );
    let status = command_as(
        "1190000000000000077",
        "alice",
        "1170000000000000001",
        "status",
        serde_json::json!([]),
    );
    assert_eq!(interact_at(running.addr, &status).await.0, 200);
    let series = "firewatch_ack_latency_seconds_count{platform=\"discord\"}";
    assert_eq!(value(&get(running.addr, "/metrics").await.2, series), 1.0);
    running.stop().await.unwrap();

    // Over the gateway: not ready until READY arrives.
    let mut env = discord_env(&fake);
    env.push(("FIREWATCH__DISCORD__MODE".into(), "gateway".into()));
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let mut last = String::new();
    for _ in 0..400 {
        let (status, _, body) = get(running.addr, "/readyz").await;
        if status == 200 {
            fake.wait_calls("gateway op 2", 1).await;
            running.stop().await.unwrap();
            return;
        }
        assert_eq!(body, "discord gateway: not connected\n");
        last = body;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never ready: {last}");
}
