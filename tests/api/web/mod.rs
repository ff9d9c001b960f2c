//! The web pages over real HTTP: access rules ([`access`]), the internal pages and their
//! filters with hostile text ([`pages`]), insights ([`insights`]), the public status page and
//! what it must not show
//! ([`status`]), and the pages in headless Chromium ([`browser`]).

mod access;
mod browser;
mod insights;
mod pages;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use firewatch::incident::{
    Actor, ChannelRef, Draft, Incident, Platform, Severity, Stamp, TimelineEvent,
};
use firewatch::web::{self, Web};

use crate::helpers::{Backend, TestApp, test_start};

/// The header the tests' proxy signs people in with.
pub const USER_HEADER: &str = "X-Forwarded-User";

/// A firewatch on `backend` with the web pages on, people named by [`USER_HEADER`], plus `env`.
pub async fn app_with(backend: Backend, env: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("FIREWATCH__WEB__ENABLED".to_owned(), "true".to_owned())];
    all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    TestApp::spawn_on_with(backend, all).await
}

/// [`app_with`] with the proxy header configured.
pub async fn app(backend: Backend) -> TestApp {
    app_with(backend, &[("FIREWATCH__WEB__USER_HEADER", USER_HEADER)]).await
}

/// Serves `t`'s web routes on a free port, as `firewatch serve` merges them.
pub async fn serve(t: &TestApp) -> SocketAddr {
    let web = Web::new(
        Arc::clone(&t.app.store),
        Arc::clone(&t.app.engine),
        t.app.clock.clone(),
        &t.app.settings,
    )
    .expect("[web] is enabled");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = web::router(web);
    tokio::spawn(async move { axum::serve(listener, routes).await });
    addr
}

/// An answer: its status, its headers (lowercase names) and its body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` with the extra `headers` lines.
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).expect("utf-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(body)
    } else {
        body.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A chunked body's data.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// `GET path` as `alice` through the proxy.
pub async fn get_as_alice(addr: SocketAddr, path: &str) -> Answer {
    get(addr, path, &[(USER_HEADER, "alice")]).await
}

/// Opens an incident straight in the store: `service`, `severity`, `summary`, opened
/// `minutes` after the test's start.
pub async fn seed(
    t: &TestApp,
    service: &str,
    severity: Severity,
    summary: &str,
    minutes: i64,
) -> Incident {
    let at: DateTime<Utc> = test_start() + TimeDelta::minutes(minutes);
    let by = Actor {
        platform: Platform::Console,
        id: "seed".into(),
        name: "seed".into(),
    };
    let draft = Draft {
        summary: summary.into(),
        service: service.into(),
        severity,
        severity_reason: "seeded".into(),
        channel: ChannelRef {
            platform: Platform::Console,
            id: format!("seed-{minutes}"),
        },
        opened: Stamp { by, at },
        next_update_due: at + TimeDelta::minutes(30),
        ack_due: at + TimeDelta::minutes(5),
        entries: vec![TimelineEvent::Detected {
            summary: summary.into(),
            service: service.into(),
            severity,
            reason: "seeded".into(),
            paged: Vec::new(),
        }],
    };
    t.app.store.open_incident(&draft, None).await.unwrap()
}
