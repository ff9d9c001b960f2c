//! The real `firewatch serve` binary against slow and hostile clients: bodies over the limit are
//! refused unread, stalled bodies, half-sent headers and idle connections are closed by their
//! own timeouts, connections past `server.max_connections` wait to be accepted, and the memory
//! of the process stays bounded throughout (VmRSS from /proc).
//!
//! The timeouts are set to seconds and every wait is bounded generously ([`BOUND`]): nothing
//! here depends on the machine's speed, only on what the server does before the bound.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fake_slack::FakeSlack;
use crate::shutdown::{Serving, serve_with};

/// How long a client waits for the server to answer or close before the test fails.
const BOUND: Duration = Duration::from_secs(120);
/// The memory the process must stay under (the bound; the pod's limit is 256 MiB).
const RSS_LIMIT_KIB: u64 = 64 * 1024;

/// What a client saw: the status of the server's answer, if one came, and whether the server
/// closed the connection after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub status: Option<u16>,
    pub closed: bool,
}

/// Reads from `stream` until the server closes it (or resets it) or [`BOUND`] passes.
async fn seen(stream: &mut TcpStream) -> Seen {
    let mut received = Vec::new();
    let mut buf = [0; 4096];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    let text = String::from_utf8_lossy(&received);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    Seen { status, closed }
}

/// Connects, sends `bytes` (the server may close before it took them all), and keeps the
/// connection open without sending more until the server answers and closes.
pub async fn send_then_stall(addr: SocketAddr, bytes: Vec<u8>) -> Seen {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    let _ = stream.write_all(&bytes).await;
    seen(&mut stream).await
}

/// The head of a Slack slash command announcing `length` bytes of body, with both signing
/// headers present and fresh (the signature is checked only once the body is in).
fn slack_head(length: usize) -> String {
    let now = chrono::Utc::now().timestamp();
    format!(
        "POST /slack/commands HTTP/1.1\r\nHost: firewatch\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         X-Slack-Signature: v0={}\r\nX-Slack-Request-Timestamp: {now}\r\n\
         Content-Length: {length}\r\n\r\n",
        "0".repeat(64)
    )
}

/// The head and the first `sent` bytes of a body of `length`.
fn partial_body(length: usize, sent: usize) -> Vec<u8> {
    let mut bytes = slack_head(length).into_bytes();
    bytes.extend(std::iter::repeat_n(b'a', sent));
    bytes
}

/// A chunked body of `chunks` chunks of `size` bytes, never ended.
fn chunked(chunks: usize, size: usize) -> Vec<u8> {
    let head = slack_head(0).replace("Content-Length: 0", "Transfer-Encoding: chunked");
    let mut bytes = head.into_bytes();
    for _ in 0..chunks {
        bytes.extend(format!("{size:x}\r\n").bytes());
        bytes.extend(std::iter::repeat_n(b'a', size));
        bytes.extend(b"\r\n");
    }
    bytes
}

/// Opens `count` connections at once, each sending what `request` gives it and stalling; what
/// each saw.
async fn flood(addr: SocketAddr, count: usize, request: impl Fn(usize) -> Vec<u8>) -> Vec<Seen> {
    let clients: Vec<_> = (0..count)
        .map(|i| tokio::spawn(send_then_stall(addr, request(i))))
        .collect();
    let mut seen = Vec::new();
    for client in clients {
        seen.push(client.await.unwrap());
    }
    seen
}

/// The process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// How many sockets the process holds open (its listener and connections among them).
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|fds| {
            fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                .filter(|target| target.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// The highest memory and socket count of a process, sampled every 20 ms until stopped.
struct Peaks {
    stop: Arc<AtomicBool>,
    sampler: std::thread::JoinHandle<(u64, usize)>,
}

impl Peaks {
    fn watch(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let sampler = std::thread::spawn(move || {
            let (mut rss, mut open) = (0, 0);
            while !stopped.load(Ordering::Relaxed) {
                rss = rss.max(rss_kib(pid));
                open = open.max(sockets(pid));
                std::thread::sleep(Duration::from_millis(20));
            }
            (rss, open)
        });
        Self { stop, sampler }
    }

    /// The peak VmRSS (KiB) and socket count.
    fn stop(self) -> (u64, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.sampler.join().unwrap()
    }
}

/// `firewatch serve` with one-second header and body timeouts and `env` on top.
async fn serve(dir: &Path, fake: &FakeSlack, env: &[(&str, &str)]) -> Serving {
    let mut all = vec![
        ("FIREWATCH__SERVER__HEADER_TIMEOUT", "1s"),
        ("FIREWATCH__SERVER__BODY_TIMEOUT", "1s"),
        ("RUST_LOG", "firewatch=info"),
    ];
    all.extend_from_slice(env);
    serve_with(dir, fake, &all).await
}

#[tokio::test]
async fn a_flood_of_oversized_and_stalled_bodies_is_refused_unread_and_memory_stays_bounded() {
    const CAP: usize = 64;
    const CLIENTS: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSlack::start().await;
    let serving = serve(
        dir.path(),
        &fake,
        &[("FIREWATCH__SERVER__MAX_CONNECTIONS", &CAP.to_string())],
    )
    .await;
    let (addr, pid) = (serving.addr, serving.child.id().expect("running"));
    let before = rss_kib(pid);
    let peaks = Peaks::watch(pid);
    let started = Instant::now();

    // The attack, 2 MB announced: 413 while the client has sent 1 KiB of it; a
    // chunked body is refused as soon as it passes 64 KiB.
    let oversized = flood(addr, CLIENTS, |i| {
        if i % 10 == 0 {
            chunked(9, 8 * 1024)
        } else {
            partial_body(2_000_000, 1024)
        }
    })
    .await;
    for seen in &oversized {
        assert_eq!(
            *seen,
            Seen {
                status: Some(413),
                closed: true
            }
        );
    }
    let refused = started.elapsed();
    // Under the limit, half sent, then nothing: each is answered 408 once the body timeout
    // passes, and closed. 300 clients, 64 served at a time: the rest wait to be accepted.
    let stalled = flood(addr, CLIENTS, |_| partial_body(60_000, 30_000)).await;
    for seen in &stalled {
        assert_eq!(
            *seen,
            Seen {
                status: Some(408),
                closed: true
            }
        );
    }
    let (peak, peak_sockets) = peaks.stop();
    // Every client connected at once; the server never held many more sockets than the cap
    // (its listener and a few of its own beside the connections).
    assert!(
        peak_sockets <= CAP + 8,
        "{peak_sockets} sockets open for a cap of {CAP}"
    );
    assert!(peak < RSS_LIMIT_KIB, "peak VmRSS {peak} KiB");
    let mut after = rss_kib(pid);
    let deadline = Instant::now() + Duration::from_secs(60);
    while after >= RSS_LIMIT_KIB && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = rss_kib(pid);
    }
    eprintln!(
        "slow clients: {CLIENTS} oversized then {CLIENTS} stalled bodies (cap {CAP}): VmRSS \
         {before} KiB before, {peak} KiB at peak, {after} KiB after; at most {peak_sockets} \
         sockets open; oversized refused in {refused:?}, all done in {:?}",
        started.elapsed()
    );
    assert!(after < RSS_LIMIT_KIB, "VmRSS {after} KiB after the flood");
    // The server still answers.
    let (status, _, _) = crate::health::get(addr, "/healthz").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn half_sent_headers_idle_connections_and_the_cap_are_closed_by_their_own_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSlack::start().await;
    let serving = serve(
        dir.path(),
        &fake,
        &[
            ("FIREWATCH__SERVER__IDLE_TIMEOUT", "6s"),
            ("FIREWATCH__SERVER__MAX_CONNECTIONS", "4"),
        ],
    )
    .await;
    let addr = serving.addr;

    // The cap: four connections that send nothing fill it; a fifth waits to be accepted, and
    // is answered once the header timeout closed one of the four (the server closed it before
    // it accepted the fifth, so the client has its end of file already).
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    fifth
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: firewatch\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(seen(&mut fifth).await.status, Some(200));
    let closed = silent
        .iter()
        .filter(|s| matches!(s.try_read(&mut [0; 1]), Ok(0)))
        .count();
    assert!(
        closed >= 1,
        "the fifth was answered while the four were open"
    );
    for mut s in silent {
        assert_eq!(
            seen(&mut s).await,
            Seen {
                status: None,
                closed: true
            },
            "a silent connection is closed by the header timeout"
        );
    }

    // Half a head, then nothing; or a head trickled a byte at a time, which never ends within
    // the header timeout although bytes keep coming: both closed without an answer.
    let half = send_then_stall(
        addr,
        b"POST /slack/commands HTTP/1.1\r\nHost: x\r\n".to_vec(),
    );
    let trickled = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let start = b"POST /slack/commands HTTP/1.1\r\nHost: x\r\nX-Pad: ";
        let bytes = start.iter().chain(std::iter::repeat(&b'a'));
        let steps = BOUND.as_millis() / 100;
        for byte in bytes.take(usize::try_from(steps).unwrap()) {
            if stream.write_all(&[*byte]).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            match stream.try_read(&mut [0; 64]) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                // Closed, reset, or answered: the server ended it.
                _ => return true,
            }
        }
        false
    };
    // Kept alive: a second request after three times the header timeout is still served (the
    // wait between requests is the idle timeout's), then the idle connection is closed.
    let idle = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut ask = async || {
            let get = b"GET /healthz HTTP/1.1\r\nHost: firewatch\r\n\r\n";
            stream.write_all(get).await.unwrap();
            let mut buf = [0; 1024];
            let n = stream.read(&mut buf).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        let first = ask().await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let second = ask().await;
        let answered = Instant::now();
        let end = seen(&mut stream).await;
        ([first, second], end, answered.elapsed())
    };
    let (half, trickled, (answers, idle_end, idle_for)) = tokio::join!(half, trickled, idle);
    assert_eq!(
        half,
        Seen {
            status: None,
            closed: true
        }
    );
    assert!(trickled, "a trickled head was closed by the header timeout");
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    assert_eq!(
        idle_end,
        Seen {
            status: None,
            closed: true
        }
    );
    eprintln!("slow clients: an idle connection was closed {idle_for:?} after its last answer");
}
