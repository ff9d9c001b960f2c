//! What the load generators share: `firewatch serve` as a child process (its address, start-up
//! time, RSS), keep-alive HTTP/1.1 connections with one request in flight, and latency figures.

// Each load generator uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The command line's `--flag value` pairs.
pub fn flags() -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        pairs.push((flag, value));
    }
    pairs
}

/// `value` of `flag` as a number.
pub fn number(flag: &str, value: &str) -> usize {
    value
        .parse()
        .unwrap_or_else(|_| panic!("{flag} takes a number, not {value}"))
}

/// The signing secret the servers are started with.
pub const SECRET: &str = "bench-signing-secret";

/// The `firewatch` binary: `given`, else the one built beside the running example.
pub fn firewatch_binary(given: Option<std::path::PathBuf>) -> std::path::PathBuf {
    let binary = given.unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("own path");
        let profile = exe.parent().and_then(|examples| examples.parent());
        profile.expect("target/PROFILE/examples").join("firewatch")
    });
    assert!(
        binary.exists(),
        "{} is missing: cargo build --release --bin firewatch",
        binary.display()
    );
    binary
}

/// `binary serve --config bot.toml.example` on a free port, with Slack at `slack` (a fake) and
/// the store at `store`; more settings go on as `FIREWATCH__…` variables.
pub fn serve(binary: &std::path::Path, slack: &str, store: &str) -> Command {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new(binary);
    command
        .args(["serve", "--config"])
        .arg(repo.join("bot.toml.example"))
        .env_remove("RUST_LOG")
        .env("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-bench")
        .env("FIREWATCH__SLACK__SIGNING_SECRET", SECRET)
        .env("FIREWATCH__SLACK__API_URL", format!("{slack}/api"))
        .env("FIREWATCH__STORE__URL", store)
        .env("FIREWATCH__SERVER__LISTEN", "127.0.0.1:0");
    command
}

/// `Postgres` or `SQLite`, as the store URL says.
pub fn store_kind(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "Postgres"
    } else {
        "SQLite"
    }
}

/// The server as a child process.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Spawn → first `GET /readyz` 200.
    pub ready: Duration,
}

impl Server {
    /// Spawns `command` (a `firewatch serve`), waits for its address and `GET /readyz` 200.
    pub async fn start(mut command: Command) -> Self {
        let started = Instant::now();
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps draining the log, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some((_, addr)) = line.split_once("serving on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_owned());
                } else if line.contains("ERROR") || line.contains("WARN") || line.contains("error")
                {
                    eprintln!("server: {line}");
                }
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
            .await
            .unwrap()
            .expect("the server prints its address");
        let addr: SocketAddr = addr.parse().expect("an address");
        let ready = loop {
            if let Ok(mut c) = Connection::open(addr).await {
                let probe = format!("GET /readyz HTTP/1.1\r\nhost: {addr}\r\n\r\n");
                if c.exchange(probe.as_bytes())
                    .await
                    .is_ok_and(|a| a.status == 200)
                {
                    break started.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        Self { child, addr, ready }
    }

    /// VmRSS in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: its status and body.
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
}

/// One keep-alive connection, one request in flight at a time.
pub struct Connection {
    stream: TcpStream,
    read: Vec<u8>,
}

impl Connection {
    /// Connects to `addr`.
    pub async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            read: Vec::with_capacity(1024),
        })
    }

    /// Sends `request` and reads its whole answer.
    pub async fn exchange(&mut self, request: &[u8]) -> std::io::Result<Answer> {
        self.stream.write_all(request).await?;
        self.read.clear();
        loop {
            if self.stream.read_buf(&mut self.read).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let httparse::Status::Complete(head) =
                response.parse(&self.read).map_err(std::io::Error::other)?
            else {
                continue;
            };
            let length: usize = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                .unwrap_or(0);
            let status = response.code.unwrap_or_default();
            while self.read.len() < head + length {
                if self.stream.read_buf(&mut self.read).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
            }
            let body = String::from_utf8_lossy(&self.read[head..head + length]).into_owned();
            return Ok(Answer { status, body });
        }
    }
}

/// The latencies of a run's acknowledgements, and how many failed.
pub struct Figures {
    /// The answered ones' latencies, sorted.
    pub latencies: Vec<Duration>,
    /// How many failed or were not 200.
    pub failed: usize,
}

impl Figures {
    /// The figures of `answers`: whether each was 200, and its latency.
    pub fn of(answers: Vec<std::io::Result<(bool, Duration)>>) -> Self {
        let mut latencies = Vec::new();
        let mut failed = 0;
        for answer in answers {
            match answer {
                Ok((true, latency)) => latencies.push(latency),
                _ => failed += 1,
            }
        }
        latencies.sort();
        Self { latencies, failed }
    }

    /// The latency at `quantile` (0.5, 0.99, 1.0).
    pub fn at(&self, quantile: f64) -> Duration {
        let last = self.latencies.len().saturating_sub(1);
        self.latencies
            .get((last as f64 * quantile).round() as usize)
            .copied()
            .unwrap_or_default()
    }

    /// `N acks, p50 …, p99 …, max …, F failed`.
    pub fn summary(&self) -> String {
        format!(
            "{} acks, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {} failed",
            self.latencies.len(),
            ms(self.at(0.5)),
            ms(self.at(0.99)),
            ms(self.at(1.0)),
            self.failed
        )
    }
}

/// Milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `12.3 MiB`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Serves `app` (a fake of an outside API) on 127.0.0.1, on a thread and runtime of its own so
/// that it never competes with the load it answers; returns its base URL.
pub fn serve_on_a_thread(app: axum::Router) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
    });
    url
}
