//! Load generator for the acknowledgement targets: how fast `firewatch serve` acknowledges
//! signed Slack slash commands at a steady rate and in a burst, how much memory it holds idle and
//! right after the burst, and how long it takes from start to `GET /readyz` 200. Figures are
//! printed beside their targets (BENCHMARKS.md), never asserted.
//!
//! ```sh
//! cargo build --release --bin firewatch --example ack_load
//! target/release/examples/ack_load [--binary target/release/firewatch] [--store URL] \
//!     [--rate 100] [--seconds 60] [--burst 2000] [--connections 200] [--command "/incident-status"]
//! ```
//!
//! The server runs as a child process (`serve --config bot.toml.example`) on a temporary SQLite
//! file, or on `--store` (a Postgres URL), against a fake Slack Web API in this process. Every
//! request is a real slash command, signed as Slack signs it, with a unique `trigger_id`: each
//! acknowledgement stores its request durably before it is answered. The steady load is open
//! loop: each request's latency counts from when it was due, so a slow server cannot slow the
//! offered rate down. The burst sends all its requests at once, spread over `--connections`
//! keep-alive connections opened beforehand; each latency counts from the burst's start.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use tokio::sync::Mutex;

use common::{
    Connection, Figures, SECRET, Server, firewatch_binary, flags, mib, ms, number, serve,
    serve_on_a_thread, store_kind,
};

struct Args {
    binary: Option<std::path::PathBuf>,
    store: Option<String>,
    rate: u32,
    seconds: u32,
    burst: usize,
    connections: usize,
    command: String,
}

fn args() -> Args {
    let mut args = Args {
        binary: None,
        store: None,
        rate: 100,
        seconds: 60,
        burst: 2000,
        connections: 200,
        command: "/incident-status".into(),
    };
    for (flag, value) in flags() {
        let n = || number(&flag, &value);
        match flag.as_str() {
            "--binary" => args.binary = Some(value.into()),
            "--store" => args.store = Some(value),
            "--rate" => args.rate = n() as u32,
            "--seconds" => args.seconds = n() as u32,
            "--burst" => args.burst = n(),
            "--connections" => args.connections = n().max(1),
            "--command" => args.command = value,
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

async fn drive(args: Args) {
    let binary = firewatch_binary(args.binary.clone());
    let replies = Arc::new(AtomicU64::new(0));
    let slack = fake_slack(Arc::clone(&replies));
    let dir = tempfile::tempdir().expect("temp dir");
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    println!("server: {} on {}", binary.display(), store_kind(&store));
    let command = serve(&binary, &slack, &store);
    let server = Server::start(command).await;
    println!(
        "start → GET /readyz 200: {:.1} ms (target ≤ 200 ms)",
        ms(server.ready)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!("idle RSS: {} (target ≤ 32 MiB)", mib(server.rss_kib()));
    let load = Load {
        addr: server.addr,
        command: args.command.clone(),
        response_url: format!("{slack}/respond"),
    };

    let count = (args.rate * args.seconds) as usize;
    let steady = load.steady(args.rate, count).await;
    println!(
        "steady {} req/s for {} s: {} (target p99 ≤ 100 ms)",
        args.rate,
        args.seconds,
        steady.summary()
    );
    wait_for_replies(&replies, count as u64).await;

    let burst = load.burst(args.burst, args.connections).await;
    let rss = server.rss_kib();
    let late = burst
        .latencies
        .iter()
        .filter(|l| **l > Duration::from_secs(2))
        .count();
    println!(
        "burst of {} over {} connections: {}, {late} later than 2 s (target every ack ≤ 2 s)",
        args.burst,
        args.connections,
        burst.summary()
    );
    println!("RSS right after the burst: {} (target ≤ 64 MiB)", mib(rss));
    let started = Instant::now();
    let all = (count + args.burst) as u64;
    wait_for_replies(&replies, all).await;
    let posted = replies.load(Ordering::Relaxed);
    if posted < all {
        println!("only {posted} of {all} replies posted a minute after the burst");
    } else {
        println!(
            "every reply of the burst posted {:.1} s after its last ack",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Waits (at most a minute) until the fake Slack got `n` replies: the engine has caught up.
async fn wait_for_replies(replies: &AtomicU64, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while replies.load(Ordering::Relaxed) < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fake Slack Web API on a thread of its own: every method and `response_url` answers `ok`;
/// replies through `response_url` are counted.
fn fake_slack(replies: Arc<AtomicU64>) -> String {
    let app = Router::new()
        .route(
            "/api/{method}",
            post(|_: Bytes| async {
                axum::Json(serde_json::json!({
                    "ok": true, "channel": "CLOAD", "ts": "1764385200.000100",
                    "message": {"ts": "1764385200.000100", "text": "", "type": "message"}
                }))
            }),
        )
        .route(
            "/respond/{id}",
            post(move |_: Bytes| {
                replies.fetch_add(1, Ordering::Relaxed);
                async { "ok" }
            }),
        );
    serve_on_a_thread(app)
}

/// Signed slash commands for one server.
struct Load {
    addr: SocketAddr,
    command: String,
    response_url: String,
}

impl Load {
    /// Request `i` of the run `run`, whole, signed as Slack signs it.
    fn request(&self, run: &str, i: usize) -> Vec<u8> {
        let (command, text) = self.command.split_once(' ').unwrap_or((&self.command, ""));
        let (user, channel) = (format!("U{}", i % 50), format!("CLOAD{}", i % 20));
        let (url, trigger) = (
            format!("{}/{run}{i}", self.response_url),
            format!("{run}.{i}"),
        );
        let body = serde_urlencoded::to_string([
            ("team_id", "T0LOAD"),
            ("channel_id", channel.as_str()),
            ("user_id", user.as_str()),
            ("user_name", user.as_str()),
            ("command", command),
            ("text", text),
            ("response_url", url.as_str()),
            ("trigger_id", trigger.as_str()),
        ])
        .unwrap();
        let ts = chrono::Utc::now().timestamp();
        let signature = firewatch::chat::slack::sign(SECRET, ts, &body);
        format!(
            "POST /slack/commands HTTP/1.1\r\nhost: {}\r\n\
             content-type: application/x-www-form-urlencoded\r\n\
             x-slack-request-timestamp: {ts}\r\nx-slack-signature: {signature}\r\n\
             content-length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .into_bytes()
    }

    /// `count` requests offered at `rate` per second, each on an idle keep-alive connection (a
    /// new one when none is idle).
    async fn steady(&self, rate: u32, count: usize) -> Figures {
        let idle: Arc<Mutex<Vec<Connection>>> = Arc::default();
        let start = tokio::time::Instant::now();
        let mut runs = tokio::task::JoinSet::new();
        for i in 0..count {
            let due = start + Duration::from_secs_f64(i as f64 / f64::from(rate));
            tokio::time::sleep_until(due).await;
            let request = self.request("steady", i);
            let (idle, addr) = (Arc::clone(&idle), self.addr);
            runs.spawn(async move {
                let connection = idle.lock().await.pop();
                let mut connection = match connection {
                    Some(c) => c,
                    None => Connection::open(addr).await?,
                };
                let ok = connection.exchange(&request).await?.status == 200;
                idle.lock().await.push(connection);
                Ok::<_, std::io::Error>((ok, due.elapsed()))
            });
        }
        Figures::of(runs.join_all().await)
    }

    /// `count` requests sent at once over `connections` connections opened beforehand, one
    /// request in flight on each.
    async fn burst(&self, count: usize, connections: usize) -> Figures {
        let mut opened = Vec::new();
        for _ in 0..connections {
            opened.push(Connection::open(self.addr).await.expect("a connection"));
        }
        let mut shares: Vec<Vec<Vec<u8>>> = vec![Vec::new(); connections];
        for i in 0..count {
            shares[i % connections].push(self.request("burst", i));
        }
        let start = Instant::now();
        let mut runs = tokio::task::JoinSet::new();
        for (mut connection, share) in opened.into_iter().zip(shares) {
            runs.spawn(async move {
                let mut answers = Vec::new();
                for request in share {
                    let ok = connection.exchange(&request).await?.status == 200;
                    answers.push((ok, start.elapsed()));
                }
                Ok::<_, std::io::Error>(answers)
            });
        }
        let mut all = Vec::new();
        for answers in runs.join_all().await {
            match answers {
                Ok(answers) => all.extend(answers.into_iter().map(Ok)),
                Err(e) => all.push(Err(e)),
            }
        }
        Figures::of(all)
    }
}
