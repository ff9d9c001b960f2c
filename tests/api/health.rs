//! `GET /healthz`, `GET /readyz` and `GET /metrics` of `firewatch serve`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use firewatch::approval::{NewRequest, Request, State, Vote, Voted};
use firewatch::health::Health;
use firewatch::incident::{
    Actor, ChannelRef, Draft, Incident, IncidentId, TimelineEntry, TimelineEvent,
};
use firewatch::metrics::Metrics;
use firewatch::readiness::Readiness;
use firewatch::serve;
use firewatch::server::{self, AppState};
use firewatch::startup::App;
use firewatch::store::{
    Close, Decide, Fired, Inbound, OnDue, RequestEntries, Result, SqliteStore, Store, Updated,
};
use tokio_util::task::TaskTracker;

use crate::fake_slack::FakeSlack;
use crate::helpers::TestApp;
use crate::slack::{SECRET, send_command};

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

/// Checks every line against the Prometheus text format 0.0.4: `# HELP`/`# TYPE` once per
/// family and before its samples, valid metric and label names, escaped label values, numeric
/// values, samples named after their family, histogram buckets cumulative with `+Inf` equal to
/// `_count`.
pub fn check_exposition(text: &str) {
    let name = regex::Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap();
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (\S+)$"#,
    )
    .unwrap();
    assert!(text.ends_with('\n'), "the text ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped = std::collections::HashSet::new();
    let mut current: Option<String> = None;
    let mut buckets: HashMap<String, (f64, f64)> = HashMap::new(); // series → (last le, count)
    for line in text.lines() {
        assert!(!line.is_empty(), "no blank lines");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (family, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(name.is_match(family), "{line}");
            assert!(!help.is_empty(), "{line}");
            assert!(helped.insert(family.to_owned()), "HELP twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(name.is_match(family), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(family.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line}"
            );
            current = Some(family.to_owned());
            continue;
        }
        assert!(
            !line.starts_with('#'),
            "only HELP and TYPE comments: {line}"
        );
        let caps = sample
            .captures(line)
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let metric = &caps[1];
        let family = current.as_deref().expect("a sample after its TYPE");
        let kind = &types[family];
        let value: f64 = match &caps[4] {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        match kind.as_str() {
            "histogram" => {
                let labels = caps.get(3).map_or("", |m| m.as_str());
                if metric == format!("{family}_bucket") {
                    let (rest, le) = labels.rsplit_once("le=\"").expect("a bucket has le");
                    let le = le.trim_end_matches('"');
                    let le: f64 = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    let entry = buckets
                        .entry(format!("{family}{{{rest}"))
                        .or_insert((f64::NEG_INFINITY, 0.0));
                    assert!(le > entry.0, "buckets in rising order: {line}");
                    assert!(value >= entry.1, "buckets are cumulative: {line}");
                    *entry = (le, value);
                } else if metric == format!("{family}_count") {
                    let key = if labels.is_empty() {
                        format!("{family}{{")
                    } else {
                        format!("{family}{{{labels},")
                    };
                    let (last, total) = buckets.get(&key).copied().expect("buckets before count");
                    assert!(last.is_infinite(), "the last bucket is +Inf: {line}");
                    assert_eq!(total, value, "+Inf equals _count: {line}");
                } else {
                    assert_eq!(metric, format!("{family}_sum"), "{line}");
                }
            }
            "counter" => {
                assert_eq!(metric, family, "{line}");
                assert!(metric.ends_with("_total"), "counters end in _total: {line}");
                assert!(value >= 0.0 && value.fract() == 0.0, "{line}");
            }
            _ => assert_eq!(metric, family, "{line}"),
        }
    }
    assert_eq!(helped.len(), types.len(), "every family has HELP and TYPE");
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
    let text = scrape_when(addr, &ok("assess"), 1.0).await;
    check_exposition(&text);
    assert_eq!(
        value(&text, "firewatch_open_incidents{severity=\"P1\"}"),
        1.0
    );
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

#[test]
fn the_exposition_check_can_fail() {
    for bad in [
        "# TYPE x_total counter\nx_total{a=\"1\"} one\n",
        "x_total 1\n",
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP g g\n# TYPE g gauge\ng{a=1} 1\n",
        "# HELP g g\n# TYPE g gauge\ng 1",
    ] {
        let caught = std::panic::catch_unwind(|| check_exposition(bad));
        assert!(caught.is_err(), "accepted: {bad:?}");
    }
}

/// A SQLite store whose `ping` can be made to fail or hang.
struct Flaky {
    inner: SqliteStore,
    /// 0 answers, 1 fails, 2 never answers.
    mode: AtomicU8,
}

#[async_trait]
impl Store for Flaky {
    async fn ping(&self) -> Result<()> {
        match self.mode.load(Ordering::SeqCst) {
            0 => self.inner.ping().await,
            1 => Err(firewatch::store::Error::Query(sqlx::Error::PoolClosed)),
            _ => std::future::pending().await,
        }
    }
    async fn open_incident(&self, draft: &Draft, request: Option<&str>) -> Result<Incident> {
        self.inner.open_incident(draft, request).await
    }
    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>> {
        self.inner.incident(id).await
    }
    async fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>> {
        self.inner.incidents_in(channel).await
    }
    async fn active_incidents(&self) -> Result<Vec<Incident>> {
        self.inner.active_incidents().await
    }
    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>> {
        self.inner.timeline(id).await
    }
    async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        decide: Decide<'_>,
    ) -> Result<Updated> {
        self.inner.update(id, actor, at, request, decide).await
    }
    async fn fire_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        on_due: OnDue<'_>,
    ) -> Result<Vec<Fired>> {
        self.inner.fire_due(now, limit, on_due).await
    }
    async fn accept_request(&self, request: &Inbound) -> Result<bool> {
        self.inner.accept_request(request).await
    }
    async fn handled_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.inner.handled_request(key, at).await
    }
    async fn complete_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.inner.complete_request(key, at).await
    }
    async fn pending_requests(&self, prefix: &str) -> Result<Vec<Inbound>> {
        self.inner.pending_requests(prefix).await
    }
    async fn prune_requests(&self, before: DateTime<Utc>) -> Result<u64> {
        self.inner.prune_requests(before).await
    }
    async fn append(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        entries: &[TimelineEvent],
    ) -> Result<()> {
        self.inner.append(id, actor, at, request, entries).await
    }
    async fn request_approval(
        &self,
        new: &NewRequest,
        entries: RequestEntries<'_>,
        request: Option<&str>,
    ) -> Result<Request> {
        self.inner.request_approval(new, entries, request).await
    }
    async fn approval(&self, id: i64) -> Result<Option<Request>> {
        self.inner.approval(id).await
    }
    async fn approvals_of(&self, incident: IncidentId, state: State) -> Result<Vec<Request>> {
        self.inner.approvals_of(incident, state).await
    }
    async fn approvals_in(
        &self,
        state: State,
        expired_by: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Request>> {
        self.inner.approvals_in(state, expired_by, limit).await
    }
    async fn vote(
        &self,
        id: i64,
        voter: &Actor,
        vote: Vote,
        reason: Option<&str>,
        at: DateTime<Utc>,
        request: Option<&str>,
    ) -> Result<Voted> {
        self.inner.vote(id, voter, vote, reason, at, request).await
    }
    async fn claim_approval(
        &self,
        id: i64,
        runner: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        self.inner.claim_approval(id, runner, at).await
    }
    async fn close_approval(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        self.inner
            .close_approval(id, close, entries, actor, at)
            .await
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}

async fn serve_health(health: Health) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = AppState::new(None, TaskTracker::new()).with_health(health);
    tokio::spawn(server::serve(listener, state, std::future::pending()));
    addr
}

#[tokio::test]
async fn readyz_is_503_with_the_reason_while_the_store_is_down_and_200_when_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("fw.db").display()))
        .await
        .unwrap();
    let store = Arc::new(Flaky {
        inner: sqlite,
        mode: AtomicU8::new(0),
    });
    let readiness = Readiness::default();
    readiness.templates_loaded();
    let metrics = Arc::new(Metrics::default());
    let addr = serve_health(Health::of(store.clone(), readiness, metrics)).await;

    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));

    store.mode.store(1, Ordering::SeqCst);
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert!(body.starts_with("store: store query failed"), "{body}");
    // /healthz says the process is alive all the same; /metrics leaves the store gauge out
    // only when the store cannot count (here it can).
    assert_eq!(get(addr, "/healthz").await.0, 200);

    store.mode.store(2, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body, "store: no answer within 2000 ms\n");
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");

    store.mode.store(0, Ordering::SeqCst);
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
}

#[tokio::test]
async fn readyz_names_every_problem_a_closed_store_and_unloaded_templates_and_a_dropped_link() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::connect(&format!("sqlite://{}", dir.path().join("fw.db").display()))
        .await
        .unwrap();
    sqlite.close().await;
    let readiness = Readiness::default();
    let link = readiness.link("discord gateway");
    let addr = serve_health(Health::of(
        Arc::new(sqlite),
        readiness.clone(),
        Arc::new(Metrics::default()),
    ))
    .await;
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503);
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[0].starts_with("store: "), "{body}");
    assert_eq!(
        lines[1..],
        ["templates: not loaded", "discord gateway: not connected"]
    );
    // The metrics still answer, without the gauge the store would give.
    let (status, _, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(!text.contains("firewatch_open_incidents"), "{text}");
    check_exposition(&text);
    link.connected();
    readiness.templates_loaded();
    let (_, _, body) = get(addr, "/readyz").await;
    assert_eq!(body.lines().count(), 1, "{body}");
}

#[tokio::test]
async fn readyz_waits_for_socket_mode_to_say_hello() {
    let fake = FakeSlack::start().await;
    let env = vec![
        (
            "FIREWATCH__SLACK__API_URL".to_owned(),
            format!("{}/api", fake.url),
        ),
        (
            "FIREWATCH__SLACK__BOT_TOKEN".to_owned(),
            "xoxb-test-token".to_owned(),
        ),
        (
            "FIREWATCH__SLACK__APP_TOKEN".to_owned(),
            "xapp-test-token".to_owned(),
        ),
        (
            "FIREWATCH__SLACK__SIGNING_SECRET".to_owned(),
            SECRET.to_owned(),
        ),
    ];
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    fake.wait_calls("apps.connections.open", 1).await;
    let mut last = String::new();
    for _ in 0..200 {
        let (status, _, body) = get(running.addr, "/readyz").await;
        if status == 200 {
            running.stop().await.unwrap();
            return;
        }
        assert_eq!(body, "slack socket mode: not connected\n");
        last = body;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never ready: {last}");
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
