//! The pages in a real browser: `firewatch serve` (with Slack against its fake) behind a small
//! proxy that signs people in the way oauth2-proxy does (`X-Forwarded-User`), loaded in headless
//! Chromium. The DOM Chromium built is checked, the console must show no Content-Security-Policy
//! violation, and screenshots are taken (`UPDATE_SCREENSHOTS=1` writes them to `docs/`, where
//! README shows them). Skipped, saying so, when Chromium is not installed (`.ci/run` installs
//! Debian's `chromium`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::USER_HEADER;
use crate::helpers::{assert_has, repo};
use crate::slack::Served;

/// The Chromium binary, if there is one.
fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("FIREWATCH_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let found = Command::new("which").arg(name).output().ok()?;
            found
                .status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&found.stdout).trim()))
        })
}

/// A proxy in front of `upstream` that names every request's user `alice`.
async fn signing_proxy(upstream: SocketAddr) -> SocketAddr {
    async fn forward(State(upstream): State<SocketAddr>, request: Request) -> Response {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let answer = reqwest::Client::new()
            .get(format!("http://{upstream}{path}"))
            .header(USER_HEADER, "alice")
            .send()
            .await
            .expect("firewatch answers");
        let status = answer.status().as_u16();
        let headers = answer.headers().clone();
        let body = answer.bytes().await.expect("a body");
        let mut response = (
            axum::http::StatusCode::from_u16(status).unwrap(),
            body.to_vec(),
        )
            .into_response();
        for (name, value) in &headers {
            if name != "content-length" && name != "transfer-encoding" && name != "connection" {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_bytes(value.as_bytes()).unwrap());
            }
        }
        response
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(forward).with_state(upstream);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// What Chromium made of `url`: the DOM and its log (console messages included).
async fn load(
    chromium: &Path,
    profile: &Path,
    url: &str,
    screenshot: Option<(&Path, &str)>,
) -> (String, String) {
    let mut command = Command::new(chromium);
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some((path, size)) => {
            command.arg(format!("--screenshot={}", path.display()));
            command.arg(format!("--window-size={size}"));
            command.arg("--hide-scrollbars");
        }
        None => {
            command.arg("--dump-dom");
        }
    }
    command.arg(url);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_pages_render_in_headless_chromium_without_a_policy_violation() {
    let Some(chromium) = chromium() else {
        println!("skipped: chromium is not installed (apt-get install chromium; .ci/run does)");
        return;
    };
    let served = Served::start(&[
        ("FIREWATCH__WEB__ENABLED", "true"),
        ("FIREWATCH__WEB__USER_HEADER", USER_HEADER),
        ("FIREWATCH__WEB__TITLE", "Freightliner status"),
    ])
    .await;
    let t = &served.t;
    t.say("/incident-assess checkout latency is up for EU users <b>not bold</b> --sev P1")
        .await;
    t.advance_minutes(4);
    t.say("/incident-ack").await;
    t.console("bob", "ops", "/incident-role comms").await;
    t.advance_minutes(6);
    t.say("/incident-update --status mitigating --users ~30% --public \"Checkout is slow for some customers in Europe. We have found the cause and are rolling out a fix.\" rolled back to revision 41")
        .await;
    t.say("/incident-note p99 back under 300 ms after the rollback")
        .await;
    t.say("/incident-followup add an alert on the EU p99").await;
    t.advance_minutes(25);
    t.say("/incident-resolve --public \"Checkout is fast again for everyone.\" a bad connection pool size in 2.4.1 | rolled back to 2.4.0")
        .await;
    t.console(
        "carol",
        "payments",
        "/incident-assess refunds are failing for some cards --sev P2",
    )
    .await;
    t.advance_minutes(50);
    let proxy = signing_proxy(served.running.addr).await;
    let profile = tempfile::tempdir().unwrap();
    let shots = if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        std::fs::create_dir_all(repo().join("docs")).unwrap();
        repo().join("docs")
    } else {
        profile.path().to_owned()
    };
    let pages: [(&str, &[&str]); 4] = [
        (
            "/",
            &[
                "<h1>Active incidents</h1>",
                "refunds are failing for some cards",
                "sev sev-P2",
                "signed in as alice",
            ],
        ),
        (
            "/incidents/1",
            &[
                "&lt;b&gt;not bold&lt;/b&gt;",
                "comms lead: bob",
                "p99 back under 300 ms after the rollback",
                "add an alert on the EU p99",
                "<h2>Summary</h2>",
            ],
        ),
        (
            "/insights",
            &["<svg class=\"chart\"", "<td>2026-11-23</td>"],
        ),
        (
            "/status",
            &[
                "<h1>Freightliner status</h1>",
                "Checkout is fast again for everyone.",
                "Degraded performance",
            ],
        ),
    ];
    for (path, expected) in pages {
        let url = format!("http://{proxy}{path}");
        let (dom, log) = load(&chromium, profile.path(), &url, None).await;
        assert_has(&dom, expected);
        assert!(!dom.contains("<b>not bold"), "{path}: {dom}");
        for violation in [
            "Content Security Policy",
            "Content-Security-Policy",
            "Refused to",
        ] {
            assert!(!log.contains(violation), "{path}: {log}");
        }
    }
    // The status page must not show what was not posted for everyone.
    let (status, _) = load(
        &chromium,
        profile.path(),
        &format!("http://{proxy}/status"),
        None,
    )
    .await;
    for private in [
        "connection pool",
        "revision 41",
        "alice",
        "refunds are failing",
    ] {
        assert!(!status.contains(private), "{private}: {status}");
    }
    for (path, file, size) in [
        ("/incidents/1", "screenshot-incident.png", "1280,2000"),
        ("/status", "screenshot-status.png", "1280,1000"),
        ("/status", "screenshot-status-phone.png", "390,1100"),
        ("/insights", "screenshot-insights.png", "1280,1400"),
    ] {
        let target = shots.join(file);
        let url = format!("http://{proxy}{path}");
        load(&chromium, profile.path(), &url, Some((&target, size))).await;
        let png = std::fs::read(&target).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{file} is not a PNG");
    }
    served.running.stop().await.unwrap();
}
