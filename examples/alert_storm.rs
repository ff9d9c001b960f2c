//! Load generator for an alert storm: how `firewatch serve` takes 200 alert groups of 50 alerts
//! each (10 000 alerts), sent within 60 s over 20 connections the way an HA Alertmanager pair
//! sends them (every group's notification twice, at once, on two connections). Prints the
//! webhook's answer latency, the alerts recorded, the incidents opened, the chat messages posted
//! (and the most about one incident within `alerts.update_every`) and the RSS after, beside their
//! targets (BENCHMARKS.md); asserts nothing.
//!
//! ```sh
//! cargo build --release --bin firewatch --example alert_storm
//! target/release/examples/alert_storm [--binary target/release/firewatch] [--store URL] \
//!     [--groups 200] [--alerts 50] [--seconds 60] [--connections 20]
//! ```
//!
//! The server runs as a child process (`serve --config bot.toml.example`, alerts on, posting to
//! a fake Slack in this process) on a temporary SQLite file or on `--store` (a Postgres URL).
//! The load is open loop: group `i` is due at `i × seconds / groups`, and each answer's latency
//! counts from when it was due.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::routing::post;
use firewatch::store::{SqlStore, Store};
use serde_json::{Value, json};

use common::{
    Connection, Figures, Server, firewatch_binary, flags, mib, number, serve, serve_on_a_thread,
    store_kind,
};

const TOKEN: &str = "bench-alerts-token";
/// `alerts.max_new_incidents` and `alerts.update_every` as configured (the defaults).
const MAX_NEW_INCIDENTS: usize = 10;
const UPDATE_EVERY: Duration = Duration::from_secs(60);

struct Args {
    binary: Option<std::path::PathBuf>,
    store: Option<String>,
    groups: usize,
    alerts: usize,
    seconds: u64,
    connections: usize,
}

fn args() -> Args {
    let mut args = Args {
        binary: None,
        store: None,
        groups: 200,
        alerts: 50,
        seconds: 60,
        connections: 20,
    };
    for (flag, value) in flags() {
        let n = || number(&flag, &value);
        match flag.as_str() {
            "--binary" => args.binary = Some(value.into()),
            "--store" => args.store = Some(value),
            "--groups" => args.groups = n().max(1),
            "--alerts" => args.alerts = n().max(1),
            "--seconds" => args.seconds = n() as u64,
            "--connections" => args.connections = n().max(2),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn main() {
    let args = args();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(drive(args));
}

/// The chat messages the fake Slack got: when, and about which incident.
type Posts = Arc<Mutex<Vec<(Instant, Option<u64>)>>>;

async fn drive(args: Args) {
    let binary = firewatch_binary(args.binary.clone());
    let posts: Posts = Arc::default();
    let slack = fake_slack(Arc::clone(&posts));
    let dir = tempfile::tempdir().expect("temp dir");
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("storm.db").display()));
    let alerts = args.groups * args.alerts;
    println!(
        "alert storm: {} groups × {} alerts = {alerts} alerts within {} s over {} connections, \
         every notification sent twice; {} on {}",
        args.groups,
        args.alerts,
        args.seconds,
        args.connections,
        binary.display(),
        store_kind(&store)
    );
    let mut command = serve(&binary, &slack, &store);
    command
        .env("FIREWATCH__ALERTS__TOKEN", TOKEN)
        .env("FIREWATCH__ALERTS__CHANNEL", "CSTORM")
        .env("FIREWATCH__SCHEDULER__TICK", "1s");
    let server = Server::start(command).await;
    let started = Instant::now();
    let answers = storm(&server, &args).await;
    let sent = started.elapsed();
    println!(
        "webhook answers: {} in {:.1} s (target p99 ≤ 250 ms); {} taken as duplicates",
        answers.figures.summary(),
        sent.as_secs_f64(),
        answers.duplicates
    );
    let (recorded, incidents, storms) = settle(&store, alerts).await;
    println!(
        "alerts recorded: {recorded} of {alerts} (target: all); incidents opened: {incidents}, \
         {storms} of them the storm's (target ≤ {} in the first minute)",
        MAX_NEW_INCIDENTS + 1
    );
    // Alerts that joined after a message wait for the next one, a minute later.
    tokio::time::sleep(UPDATE_EVERY + Duration::from_secs(3)).await;
    let posts = posts.lock().expect("not poisoned").clone();
    let (most, first) = busiest(&posts, started);
    println!(
        "chat messages posted: {} ({first} in the first minute); the most about one incident \
         within {} s: {most} (target 1)",
        posts.len(),
        UPDATE_EVERY.as_secs()
    );
    println!(
        "RSS after the storm: {} (target ≤ 64 MiB)",
        mib(server.rss_kib())
    );
}

/// What the storm's answers were.
struct Answers {
    figures: Figures,
    duplicates: usize,
}

/// Sends every group's notification twice, each copy on its own connection, group `i` due at
/// `i × seconds / groups`.
async fn storm(server: &Server, args: &Args) -> Answers {
    let mut connections = Vec::new();
    for _ in 0..args.connections {
        connections.push(Connection::open(server.addr).await.expect("a connection"));
    }
    let mut shares: Vec<Vec<(Duration, Vec<u8>)>> = vec![Vec::new(); args.connections];
    let step = Duration::from_secs(args.seconds).div_f64(args.groups as f64);
    for group in 0..args.groups {
        let request = request(server, group, args.alerts);
        let due = step.mul_f64(group as f64);
        // The HA pair: two copies at once, on two connections.
        let first = (2 * group) % args.connections;
        shares[first].push((due, request.clone()));
        shares[(first + 1) % args.connections].push((due, request));
    }
    let start = tokio::time::Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for (mut connection, share) in connections.into_iter().zip(shares) {
        runs.spawn(async move {
            let mut answers = Vec::new();
            for (due, request) in share {
                tokio::time::sleep_until(start + due).await;
                let answer = connection.exchange(&request).await;
                let latency = (start + due).elapsed();
                answers
                    .push(answer.map(|a| (a.status == 200, a.body.contains("duplicate"), latency)));
            }
            answers
        });
    }
    let mut duplicates = 0;
    let mut all = Vec::new();
    for answers in runs.join_all().await {
        for answer in answers {
            if let Ok((_, true, _)) = answer {
                duplicates += 1;
            }
            all.push(answer.map(|(ok, _, latency)| (ok, latency)));
        }
    }
    Answers {
        figures: Figures::of(all),
        duplicates,
    }
}

/// Group `group`'s notification as Alertmanager sends it, whole.
fn request(server: &Server, group: usize, alerts: usize) -> Vec<u8> {
    let name = format!("StormAlert{group:03}");
    let started = (chrono::Utc::now() - chrono::TimeDelta::minutes(1)).to_rfc3339();
    let alerts: Vec<Value> = (0..alerts)
        .map(|i| {
            json!({
                "status": "firing",
                "labels": {
                    "alertname": name,
                    "severity": "critical",
                    "service": "freightliner",
                    "instance": format!("node-{i:02}.freightliner:9100"),
                },
                "annotations": {"summary": format!("{name} on node-{i:02}")},
                "startsAt": started,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.org:9090/graph",
                "fingerprint": format!("{group:04x}{i:04x}"),
            })
        })
        .collect();
    let body = json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname=\"{name}\"}}"),
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "firewatch",
        "groupLabels": {"alertname": name},
        "commonLabels": {"alertname": name, "severity": "critical", "service": "freightliner"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "alerts": alerts,
    })
    .to_string();
    format!(
        "POST /alerts/alertmanager HTTP/1.1\r\nhost: {}\r\nuser-agent: Alertmanager/0.28.1\r\n\
         content-type: application/json\r\nauthorization: Bearer {TOKEN}\r\n\
         content-length: {}\r\n\r\n{body}",
        server.addr,
        body.len()
    )
    .into_bytes()
}

/// Waits (at most two minutes) until every notification was run; then the alerts recorded,
/// the incidents opened, and how many of those are storm incidents.
async fn settle(url: &str, alerts: usize) -> (i64, i64, i64) {
    let store = SqlStore::connect(url).await.expect("the bench store opens");
    let count = |sql: &'static str| {
        let pool = store.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap_or(-1)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let waiting = count(
            "SELECT count(*) FROM processed_requests WHERE delivered_at IS NULL \
             AND substr(request_key, 1, 7) = 'alerts:'",
        )
        .await;
        if waiting == 0 && count("SELECT count(*) FROM alerts").await >= alerts as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recorded = count("SELECT count(*) FROM alerts").await;
    let incidents = count("SELECT count(*) FROM incidents").await;
    let storms = count("SELECT count(*) FROM incidents WHERE summary LIKE '%Alert storm%'").await;
    store.close().await;
    (recorded, incidents, storms)
}

/// The most messages about one incident within any `UPDATE_EVERY`, and how many messages came
/// in the first minute after `started`.
fn busiest(posts: &[(Instant, Option<u64>)], started: Instant) -> (usize, usize) {
    let mut by_incident: BTreeMap<u64, Vec<Instant>> = BTreeMap::new();
    for (at, incident) in posts {
        if let Some(id) = incident {
            by_incident.entry(*id).or_default().push(*at);
        }
    }
    let most = by_incident
        .values()
        .map(|times| {
            times
                .iter()
                .map(|start| {
                    times
                        .iter()
                        .filter(|t| **t >= *start && t.duration_since(*start) < UPDATE_EVERY)
                        .count()
                })
                .max()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0);
    let first = posts
        .iter()
        .filter(|(at, _)| at.duration_since(started) < Duration::from_secs(60))
        .count();
    (most, first)
}

/// A fake Slack Web API on a thread of its own: every method answers `ok`; each
/// `chat.postMessage` is recorded with the incident its context line names.
fn fake_slack(posts: Posts) -> String {
    let app = Router::new().route(
        "/api/{method}",
        post(move |Path(method): Path<String>, body: Bytes| {
            if method == "chat.postMessage" {
                let text = String::from_utf8_lossy(&body);
                let incident = text
                    .split("Incident #")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok());
                posts
                    .lock()
                    .expect("not poisoned")
                    .push((Instant::now(), incident));
            }
            async {
                axum::Json(json!({
                    "ok": true, "channel": "CSTORM", "ts": "1764385200.000100",
                    "message": {"ts": "1764385200.000100", "text": "", "type": "message"}
                }))
            }
        }),
    );
    serve_on_a_thread(app)
}
