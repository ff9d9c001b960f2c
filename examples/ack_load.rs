//! Load generator: how fast `firewatch serve` acknowledges signed Slack slash commands, beside a
//! bare axum endpoint measured in the same run, and what memory the server holds.
//!
//! ```sh
//! cargo build --profile dist --bin firewatch     # scripts/bench builds it as deploy/Dockerfile does
//! cargo run --release --example ack_load -- --binary target/dist/firewatch [--concurrency 200] \
//!     [--requests 5000] [--command "/incident-status"] [--store postgres://…] [--rates 5000,10000]
//! ```
//!
//! Starts a `firewatch` binary (`--binary`, by default `target/release/firewatch`; the shipped
//! build is the `dist` profile) with `serve` as a child process against a fake Slack Web API in
//! this process (on a thread of its own), on a temporary SQLite store; times start → `GET
//! /readyz` 200 (store, templates and chat ready); then sends `--requests` signed slash commands
//! (unique `trigger_id`s) over `--concurrency` keep-alive connections and prints p50/p99/max ack
//! latency and requests/s, the child's VmRSS/VmHWM from `/proc/PID/status` idle and after the
//! load, and how long the engine took to post every reply, with the server's CPU time per
//! request by thread (from `/proc/PID/task/*/schedstat`). With `--rates`, firewatch is then
//! offered each fixed rate (open loop, latency counted from when each request was due), which
//! shows the latency below saturation. The same closed-loop load then goes to a bare axum `200`
//! endpoint (this example run again as a child with `--bare-server`), so both servers run as
//! their own process on the same cores. The requests of a run are built and signed before its
//! clock starts and written whole to raw connections, so the generator, which shares the cores,
//! takes little of them. Figures are printed, never asserted.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const SECRET: &str = "bench-signing-secret";

struct Args {
    concurrency: usize,
    requests: usize,
    command: String,
    binary: Option<std::path::PathBuf>,
    /// `--store URL`: the store firewatch runs on (default: a temporary SQLite file).
    store: Option<String>,
    /// `--rates R1,R2`: after the closed-loop runs, offer these fixed rates (requests/s) to
    /// firewatch, at most `concurrency` in flight, each for `requests` requests.
    rates: Vec<u32>,
}

fn args() -> Args {
    let mut args = Args {
        concurrency: 200,
        requests: 5000,
        command: "/incident-status".into(),
        binary: None,
        store: None,
        rates: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--concurrency" => args.concurrency = value.parse().expect("--concurrency N"),
            "--requests" => args.requests = value.parse().expect("--requests N"),
            "--command" => args.command = value,
            "--binary" => args.binary = Some(value.into()),
            "--store" => args.store = Some(value),
            "--rates" => {
                args.rates = value
                    .split(',')
                    .map(|r| r.trim().parse().expect("--rates R1,R2,… (requests/s)"))
                    .collect();
            }
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--bare-server") {
        return bare_server();
    }
    let args = args();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(drive(args));
}

/// The reference: axum answering 200 to any POST, nothing else.
fn bare_server() {
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async {
            let app = Router::new()
                .route("/slack/commands", post(|_: Bytes| async { "" }))
                .route("/readyz", get(|| async { "ok" }));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            eprintln!("bare: serving on {}", listener.local_addr().unwrap());
            axum::serve(listener, app).await.unwrap();
        });
}

/// A fake Slack Web API: every method answers `ok`, `response_url` answers `ok`; counts calls.
/// It runs on a thread of its own (`fake-slack`), so the generator's CPU figures show it apart
/// from the load's.
fn fake_slack(calls: Arc<AtomicU64>) -> String {
    let api_calls = Arc::clone(&calls);
    let app = Router::new()
        .route(
            "/api/{method}",
            post(move |_: Bytes| {
                let calls = Arc::clone(&api_calls);
                async move {
                    calls.fetch_add(1, Ordering::Relaxed);
                    axum::Json(serde_json::json!({
                        "ok": true, "channel": "CLOAD", "ts": "1764385200.000100",
                        "message": {"ts": "1764385200.000100", "text": "", "type": "message"}
                    }))
                }
            }),
        )
        .route(
            "/respond/{id}",
            post(move |_: Bytes| {
                let calls = Arc::clone(&calls);
                async move {
                    calls.fetch_add(1, Ordering::Relaxed);
                    "ok"
                }
            }),
        );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::Builder::new()
        .name("fake-slack".into())
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    axum::serve(listener, app).await.unwrap();
                });
        })
        .expect("the fake Slack's thread starts");
    url
}

/// A child server and the address it printed.
struct Server {
    child: Child,
    addr: SocketAddr,
    /// Spawn → "serving on" printed.
    listening: Duration,
    /// Spawn → first `GET /readyz` 200.
    ready: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(mut command: Command, client: &HttpClient) -> Server {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    // Keeps draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some((_, addr)) = line.split_once("serving on ")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send((addr.trim().to_owned(), started.elapsed()));
            } else if line.contains("ERROR") || line.contains("WARN") || line.contains("error:") {
                eprintln!("server: {line}");
            }
        }
    });
    let (addr, listening) = tokio::task::spawn_blocking(move || {
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the server prints its address")
    })
    .await
    .unwrap();
    let addr: SocketAddr = addr.parse().expect("an address");
    let ready = loop {
        let request = hyper::Request::get(format!("http://{addr}/readyz"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        if let Ok(response) = client.request(request).await
            && response.status() == 200
        {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    Server {
        child,
        addr,
        listening,
        ready,
    }
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// VmRSS and VmHWM of `pid`, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time each thread group of `pid` has used, in nanoseconds, by thread name (tokio's worker
/// threads, the engine's, SQLite's connection threads), from `/proc/PID/task/*/schedstat`.
fn cpu(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut by_name = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let ran = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0u64);
        *by_name.entry(group(name.trim())).or_insert(0) += ran;
    }
    by_name
}

/// A thread's group: its name without a trailing number.
fn group(name: &str) -> String {
    name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
        .to_owned()
}

/// CPU microseconds per request spent between two [`cpu`] readings, by thread group.
fn cpu_per_request(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
    requests: usize,
) -> String {
    let mut total = 0;
    let mut parts = Vec::new();
    for (name, ran) in after {
        let spent = ran.saturating_sub(before.get(name).copied().unwrap_or(0));
        total += spent;
        if spent > 0 {
            parts.push(format!(
                "{name} {:.1}",
                spent as f64 / 1e3 / requests as f64
            ));
        }
    }
    format!(
        "{:.1} µs/request ({})",
        total as f64 / 1e3 / requests as f64,
        parts.join(", ")
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
    per_second: f64,
    failed: usize,
}

/// The requests of one run, each a whole HTTP/1.1 request: slash command `i` comes from user and
/// channel `i % concurrency`, with trigger id `salt.i` (unique across runs), signed like Slack
/// signs it. Built before the clock starts, so the generator's CPU during the load goes to
/// sending and reading, not to building and signing: it shares the two cores with the server it
/// measures. One timestamp for all: a run lasts seconds, Slack's window is five minutes.
fn prepare(
    addr: SocketAddr,
    args: &Args,
    response_url: &str,
    salt: &str,
    count: usize,
) -> Arc<Vec<Vec<u8>>> {
    let (cmd, text) = args.command.split_once(' ').unwrap_or((&args.command, ""));
    let ts = chrono::Utc::now().timestamp();
    let requests = (0..count)
        .map(|i| {
            let worker = i % args.concurrency;
            let (channel, user, name) = (
                format!("CLOAD{}", worker % 20),
                format!("U{worker}"),
                format!("load{worker}"),
            );
            let (url, trigger) = (format!("{response_url}/{i}"), format!("{salt}.{i}"));
            let body = serde_urlencoded::to_string([
                ("token", "unused"),
                ("team_id", "T0LOAD"),
                ("channel_id", channel.as_str()),
                ("user_id", user.as_str()),
                ("user_name", name.as_str()),
                ("command", cmd),
                ("text", text),
                ("response_url", url.as_str()),
                ("trigger_id", trigger.as_str()),
            ])
            .unwrap();
            let signature = firewatch::chat::slack::sign(SECRET, ts, &body);
            format!(
                "POST /slack/commands HTTP/1.1\r\nhost: {addr}\r\n\
                 content-type: application/x-www-form-urlencoded\r\n\
                 x-slack-request-timestamp: {ts}\r\nx-slack-signature: {signature}\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
        .collect();
    Arc::new(requests)
}

/// One keep-alive connection of the load, one request in flight at a time: a request is
/// written whole and its answer read with `httparse`, with no pool, no task per connection and
/// no hand-off between tasks (what a pooled client costs per request).
struct Connection {
    addr: SocketAddr,
    stream: tokio::net::TcpStream,
    read: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            addr,
            stream,
            read: Vec::with_capacity(4096),
        })
    }

    /// Sends `request` and reads its whole answer: whether it was 200. An error means the
    /// connection is unusable (the caller opens another).
    async fn exchange(&mut self, request: &[u8]) -> std::io::Result<bool> {
        use std::io::{Error, ErrorKind};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(request).await?;
        self.read.clear();
        let (ok, end, close) = loop {
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let head = match response.parse(&self.read).map_err(Error::other)? {
                httparse::Status::Complete(head) => head,
                httparse::Status::Partial => continue,
            };
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| String::from_utf8_lossy(h.value).into_owned())
            };
            // Every answer of both servers has a length (none is chunked).
            let length: usize = header("content-length")
                .and_then(|l| l.trim().parse().ok())
                .ok_or_else(|| Error::other("an answer without content-length"))?;
            let close = header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
            break (response.code == Some(200), head + length, close);
        };
        while self.read.len() < end {
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
        }
        if close {
            *self = Self::open(self.addr).await?;
        }
        Ok(ok)
    }
}

/// Sends `requests` over `concurrency` connections (opened before the clock starts), each
/// connection taking the next request as soon as its previous one is answered.
///
/// Without `rate`, a closed loop: each latency counts from when its request was sent. With
/// `rate` (requests/s), an open loop: request `i` is due at `i / rate` s and its latency counts
/// from then, so a server that falls behind shows it; at most `concurrency` are in flight.
async fn load(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    concurrency: usize,
    rate: Option<u32>,
) -> Figures {
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(Connection::open(addr).await.expect("a connection opens"));
    }
    let interval = rate.map(|r| Duration::from_secs_f64(1.0 / f64::from(r.max(1))));
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = connections
        .into_iter()
        .map(|mut connection| {
            let (requests, next, failed) = (
                Arc::clone(&requests),
                Arc::clone(&next),
                Arc::clone(&failed),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(i) else {
                        break latencies;
                    };
                    let from = match interval {
                        Some(interval) => {
                            let due = started + interval.mul_f64(i as f64);
                            tokio::time::sleep_until(due.into()).await;
                            due
                        }
                        None => Instant::now(),
                    };
                    match connection.exchange(request).await {
                        Ok(ok) => {
                            latencies.push(from.elapsed());
                            if !ok {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            match Connection::open(addr).await {
                                Ok(fresh) => connection = fresh,
                                Err(_) => break latencies,
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(requests.len());
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    figures(
        latencies,
        requests.len(),
        elapsed,
        failed.load(Ordering::Relaxed),
    )
}

fn figures(
    mut latencies: Vec<Duration>,
    requests: usize,
    elapsed: Duration,
    failed: usize,
) -> Figures {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        p50: at(0.50),
        p99: at(0.99),
        max: *latencies.last().unwrap(),
        per_second: requests as f64 / elapsed.as_secs_f64(),
        failed,
    }
}

/// Waits (at most 120 s from `since`) until every accepted request's answer was posted: how
/// long that took, and how many were still unanswered.
async fn drain(
    sqlite: Option<&sqlx::SqlitePool>,
    postgres: Option<&sqlx::PgPool>,
    since: Instant,
) -> (Option<Duration>, i64) {
    let undelivered_sql = "SELECT count(*) FROM processed_requests WHERE delivered_at IS NULL";
    let mut undelivered = 0;
    while since.elapsed() < Duration::from_secs(120) {
        undelivered = match (sqlite, postgres) {
            (Some(pool), _) => sqlx::query_scalar::<_, i64>(undelivered_sql)
                .fetch_one(pool)
                .await
                .expect("the inbox reads"),
            (_, Some(pool)) => sqlx::query_scalar::<_, i64>(undelivered_sql)
                .fetch_one(pool)
                .await
                .expect("the inbox reads"),
            _ => unreachable!("one of them is open"),
        };
        if undelivered == 0 {
            return (Some(since.elapsed()), 0);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (None, undelivered)
}

fn show(name: &str, f: &Figures) {
    println!(
        "{name:<10} p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}  {:>8.0} req/s  {} failed",
        f.p50, f.p99, f.max, f.per_second, f.failed
    );
}

async fn drive(args: Args) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = std::env::current_exe().expect("own path");
    let binary = args.binary.clone().unwrap_or_else(|| {
        exe.parent()
            .and_then(|examples| examples.parent())
            .map(|profile| profile.join("firewatch"))
            .expect("target/PROFILE/firewatch")
    });
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build --profile dist --bin firewatch)",
        binary.display()
    );
    println!("server binary: {}", binary.display());
    let calls = Arc::new(AtomicU64::new(0));
    let slack = fake_slack(Arc::clone(&calls));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.concurrency)
        .build(connector);
    println!(
        "ack load: {} signed `{}` slash commands over {} connections ({} warm-up first)",
        args.requests, args.command, args.concurrency, args.concurrency
    );

    let mut firewatch = Command::new(&binary);
    firewatch
        .args(["serve", "--config"])
        .arg(repo.join("bot.toml.example"))
        .env_remove("RUST_LOG")
        .env("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-bench")
        .env("FIREWATCH__SLACK__SIGNING_SECRET", SECRET)
        .env("FIREWATCH__SLACK__API_URL", format!("{slack}/api"))
        .env(
            "FIREWATCH__STORE__URL",
            args.store
                .clone()
                .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display())),
        )
        .env("FIREWATCH__SERVER__LISTEN", "127.0.0.1:0");
    let server = start(firewatch, &client).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = memory(server.child.id());
    let response_url = format!("{slack}/respond");
    let warm = prepare(server.addr, &args, &response_url, "warm", args.concurrency);
    load(server.addr, warm, args.concurrency, None).await;
    let requests = prepare(server.addr, &args, &response_url, "load", args.requests);
    let cpu_before = cpu(server.child.id());
    let own_before = cpu(std::process::id());
    let fw = load(server.addr, requests, args.concurrency, None).await;
    let after = memory(server.child.id());
    let cpu_acked = cpu(server.child.id());
    let own_acked = cpu(std::process::id());
    let acked = Instant::now();
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store_url = args.store.clone().unwrap_or(sqlite_url);
    let (sqlite, postgres) = if store_url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&store_url).await;
        (None, Some(pool.expect("the store opens")))
    } else {
        let pool = sqlx::SqlitePool::connect(&store_url).await;
        (Some(pool.expect("the store opens")), None)
    };
    let (drained, undelivered) = drain(sqlite.as_ref(), postgres.as_ref(), acked).await;
    let settled = memory(server.child.id());
    let cpu_drained = cpu(server.child.id());
    let mut at_rates = Vec::new();
    for (n, &rate) in args.rates.iter().enumerate() {
        let requests = prepare(
            server.addr,
            &args,
            &response_url,
            &format!("rate{n}"),
            args.requests,
        );
        let figures = load(server.addr, requests, args.concurrency, Some(rate)).await;
        drain(sqlite.as_ref(), postgres.as_ref(), Instant::now()).await;
        at_rates.push((rate, figures));
    }
    if let Some(pool) = sqlite {
        pool.close().await;
    }
    if let Some(pool) = postgres {
        pool.close().await;
    }
    let (listening, ready) = (server.listening, server.ready);
    drop(server);

    let bare = start(
        {
            let mut c = Command::new(&exe);
            c.arg("--bare-server");
            c
        },
        &client,
    )
    .await;
    let bare_idle = memory(bare.child.id());
    let warm = prepare(bare.addr, &args, &response_url, "bwarm", args.concurrency);
    load(bare.addr, warm, args.concurrency, None).await;
    let requests = prepare(bare.addr, &args, &response_url, "bload", args.requests);
    let bare_before = cpu(bare.child.id());
    let own_bare_before = cpu(std::process::id());
    let reference = load(bare.addr, requests, args.concurrency, None).await;
    let bare_cpu = cpu(bare.child.id());
    let own_bare = cpu(std::process::id());
    let bare_after = memory(bare.child.id());
    drop(bare);

    show("firewatch", &fw);
    show("bare axum", &reference);
    println!(
        "firewatch throughput: {:.0} % of bare axum",
        100.0 * fw.per_second / reference.per_second
    );
    for (rate, figures) in &at_rates {
        show(&format!("@{rate}/s"), figures);
    }
    let n = args.requests;
    println!(
        "firewatch CPU during the load: {}",
        cpu_per_request(&cpu_before, &cpu_acked, n)
    );
    println!(
        "firewatch CPU after the load, until every reply was posted: {}",
        cpu_per_request(&cpu_acked, &cpu_drained, n)
    );
    println!(
        "bare axum CPU during its load: {}",
        cpu_per_request(&bare_before, &bare_cpu, n)
    );
    println!(
        "load generator CPU: {} (firewatch run) · {} (bare run)",
        cpu_per_request(&own_before, &own_acked, n),
        cpu_per_request(&own_bare_before, &own_bare, n)
    );
    println!("firewatch start: listening after {listening:.1?}, GET /readyz 200 after {ready:.1?}");
    println!(
        "firewatch RSS: idle {} · right after the load {} · after the replies {} (peak VmHWM {})",
        mib(idle.0),
        mib(after.0),
        mib(settled.0),
        mib(settled.1)
    );
    println!(
        "bare axum RSS: idle {} · after the load {} (peak {})",
        mib(bare_idle.0),
        mib(bare_after.0),
        mib(bare_after.1)
    );
    match drained {
        Some(t) => println!(
            "replies: every request answered {t:.2?} after the last ack ({} calls to the fake Slack)",
            calls.load(Ordering::Relaxed)
        ),
        None => println!(
            "replies: {undelivered} requests still unanswered 120 s after the last ack ({} calls to the fake Slack)",
            calls.load(Ordering::Relaxed)
        ),
    }
}
