//! `firewatch serve` with Slack: signed requests in, Web API calls out, against a fake Slack.

use std::net::SocketAddr;

use firewatch::app::serve::{self, Running};
use firewatch::chat::slack::sign;
use firewatch::clock::Clock;
use serde_json::Value;

use crate::fake_slack::FakeSlack;
use crate::helpers::{TestApp, assert_has, http, repo};

/// The signing secret the tests configure (`slack.signing_secret`).
pub const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// firewatch serving Slack against a fake Slack.
pub struct Served {
    pub t: TestApp,
    pub fake: FakeSlack,
    pub running: Running,
}

pub fn slack_env(fake: &FakeSlack, extra: &[(&str, &str)]) -> Vec<(String, String)> {
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
    env
}

impl Served {
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let fake = FakeSlack::start().await;
        let t = TestApp::spawn_with(slack_env(&fake, extra)).await;
        let running = serve::start(&t.app, "127.0.0.1:0")
            .await
            .expect("serve starts");
        Self { t, fake, running }
    }

    pub async fn restart(self) -> Self {
        let Self { t, fake, running } = self;
        running.stop().await.unwrap();
        let t = t.restart().await;
        let running = serve::start(&t.app, "127.0.0.1:0")
            .await
            .expect("serve starts");
        Self { t, fake, running }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// A slash command as Slack sends it, signed now.
    pub async fn command(
        &self,
        user: &str,
        channel: &str,
        line: &str,
        trigger: &str,
    ) -> (u16, String) {
        send_command(self.addr(), &self.fake, user, channel, line, trigger).await
    }

    pub async fn incidents(&self) -> i64 {
        let store = firewatch::store::SqlStore::connect(&self.t.app.settings.store.url)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM incidents")
            .fetch_one(store.pool())
            .await
            .unwrap();
        n
    }

    async fn inbox(&self) -> i64 {
        let store = firewatch::store::SqlStore::connect(&self.t.app.settings.store.url)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM processed_requests")
            .fetch_one(store.pool())
            .await
            .unwrap();
        n
    }
}

/// Sends a slash command to firewatch at `addr` as Slack does, signed now with [`SECRET`].
pub async fn send_command(
    addr: SocketAddr,
    fake: &FakeSlack,
    user: &str,
    channel: &str,
    line: &str,
    trigger: &str,
) -> (u16, String) {
    let body = command_body(fake, user, channel, line, trigger);
    post_signed(addr, "/slack/commands", &body).await
}

/// A press of a firewatch button running `command`, by `user` (Slack id `U{USER}`) in
/// `channel`, as Slack posts it to the interactivity URL: `team.id` is `team`, the presser's own
/// workspace (`user.team_id`) `user_team`.
pub struct Press<'a> {
    pub team: &'a str,
    pub user_team: &'a str,
    pub channel: &'a str,
    pub user: &'a str,
    pub command: &'a str,
    pub trigger: &'a str,
}

/// Sends `press` to firewatch at `addr`, signed now; returns the status and body.
pub async fn send_press(addr: SocketAddr, fake: &FakeSlack, press: &Press<'_>) -> (u16, String) {
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": format!("U{}", press.user.to_uppercase()), "username": press.user,
                 "name": press.user, "team_id": press.user_team},
        "api_app_id": "A123456",
        "container": {"type": "message", "message_ts": "1764385200.000100", "channel_id": press.channel},
        "trigger_id": press.trigger,
        "team": {"id": press.team, "domain": "example"},
        "channel": {"id": press.channel, "name": "incidents"},
        "response_url": fake.response_url(press.trigger),
        "actions": [{"action_id": "firewatch:0", "block_id": "b", "value": press.command,
                     "type": "button", "action_ts": "1764385201.1",
                     "text": {"type": "plain_text", "text": "Approve"}}]
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    post_signed(addr, "/slack/interactions", &body).await
}

/// POSTs `body` to `path` signed now with [`SECRET`], as Slack does; returns the status and body.
pub async fn post_signed(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let ts = chrono::Utc::now().timestamp();
    post(addr, path, &sign(SECRET, ts, body), ts, body).await
}

fn command_body(fake: &FakeSlack, user: &str, channel: &str, line: &str, trigger: &str) -> String {
    command_body_from("T0001", fake, user, channel, line, trigger)
}

/// A slash command's form body as Slack posts it, typed in workspace `team`.
pub fn command_body_from(
    team: &str,
    fake: &FakeSlack,
    user: &str,
    channel: &str,
    line: &str,
    trigger: &str,
) -> String {
    let (command, text) = line.split_once(' ').unwrap_or((line, ""));
    serde_urlencoded::to_string([
        ("token", "gIkuvaNzQIHg97ATvDxqgjtO"),
        ("team_id", team),
        ("team_domain", "example"),
        ("channel_id", channel),
        ("channel_name", "incidents"),
        ("user_id", &format!("U{}", user.to_uppercase())),
        ("user_name", user),
        ("command", command),
        ("text", text),
        ("api_app_id", "A123456"),
        ("response_url", &fake.response_url(trigger)),
        ("trigger_id", trigger),
    ])
    .unwrap()
}

/// POSTs a form body with Slack's signing headers; returns the status and body.
pub async fn post(
    addr: SocketAddr,
    path: &str,
    signature: &str,
    ts: i64,
    body: &str,
) -> (u16, String) {
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         X-Slack-Signature: {signature}\r\nX-Slack-Request-Timestamp: {ts}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(addr, &request).await
}

fn text_of(call: &crate::recorder::Call) -> String {
    call.body.to_string()
}

#[tokio::test]
async fn assess_is_acknowledged_at_once_then_the_alert_is_posted() {
    let s = Served::start(&[]).await;
    let (status, body) = s
        .command(
            "alice",
            "C0INC",
            "/incident-assess API returning 500s since the last deploy",
            "1.1.a",
        )
        .await;
    assert_eq!((status, body.as_str()), (200, ""));
    let posts = s.fake.wait_calls("chat.postMessage", 1).await;
    assert_eq!(posts[0].auth.as_deref(), Some("Bearer xoxb-test-token"));
    assert_eq!(posts[0].body["channel"], "C0INC");
    assert_has(
        &text_of(&posts[0]),
        &[
            "🚨 INCIDENT DETECTED",
            "firewatch:0",
            "/incident-ack #1",
            "Incident #1 · firewatch",
        ],
    );
    assert_eq!(s.incidents().await, 1);
    let opened = &s.t.timeline(1).await[0];
    assert_eq!(opened.actor.name, "alice");
    assert_eq!(opened.actor.id, "UALICE");
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn the_alert_is_block_kit_matching_the_golden_file() {
    let s = Served::start(&[]).await;
    s.command(
        "alice",
        "C0INC",
        "/incident-assess checkout is down for all users",
        "2.1.a",
    )
    .await;
    let post = s.fake.wait_calls("chat.postMessage", 1).await.remove(0);
    let golden = repo().join("tests/api/golden/slack-alert.json");
    let actual = serde_json::to_string_pretty(&post.body).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &actual).unwrap();
    }
    let expected =
        std::fs::read_to_string(&golden).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        actual, expected,
        "run with UPDATE_GOLDEN=1 to accept the new rendering"
    );
}

#[tokio::test]
async fn forged_stale_and_unsigned_requests_get_401_and_change_nothing() {
    let s = Served::start(&[]).await;
    let body = command_body(
        &s.fake,
        "mallory",
        "C0INC",
        "/incident-assess fake outage",
        "3.1.a",
    );
    let now = chrono::Utc::now().timestamp();
    let forged = sign("not-the-secret", now, &body);
    assert_eq!(
        post(s.addr(), "/slack/commands", &forged, now, &body)
            .await
            .0,
        401
    );
    let stale = sign(SECRET, now - 6 * 60, &body);
    assert_eq!(
        post(s.addr(), "/slack/commands", &stale, now - 6 * 60, &body)
            .await
            .0,
        401
    );
    let tampered = body.replace("fake+outage", "real+outage");
    let signed = sign(SECRET, now, &body);
    assert_eq!(
        post(s.addr(), "/slack/interactions", &signed, now, &tampered)
            .await
            .0,
        401
    );
    let unsigned = format!(
        "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(http(s.addr(), &unsigned).await.0, 401);
    // Nothing reached the inbox, so nothing can run or post.
    assert_eq!(s.inbox().await, 0);
    assert_eq!(s.incidents().await, 0);
    // A real command afterwards is posted, and it is the only post.
    s.command("alice", "C0INC", "/incident-status", "3.2.a")
        .await;
    s.fake.wait_calls("response_url", 1).await;
    assert!(s.fake.calls_to("chat.postMessage").is_empty());
}

#[tokio::test]
async fn a_certificate_check_and_an_oversized_body_store_nothing() {
    let s = Served::start(&[]).await;
    // Slack's check of a new request URL: signed, answered 200, nothing stored or run.
    let check = "token=gIkuvaNzQIHg97ATvDxqgjtO&ssl_check=1";
    let (status, _) = post_signed(s.addr(), "/slack/commands", check).await;
    assert_eq!(status, 200);
    assert_eq!(s.inbox().await, 0);
    // A signed command of 1.5 MB, far larger than any request Slack sends (64 KiB): refused
    // by its length while only its first KiB was sent, before the inbox.
    let huge = command_body(
        &s.fake,
        "alice",
        "C0INC",
        &format!("/incident-note {}", "a".repeat(1_500_000)),
        "3.2.a",
    );
    let now = chrono::Utc::now().timestamp();
    let head = format!(
        "POST /slack/commands HTTP/1.1\r\nHost: {}\r\n\
         X-Slack-Signature: {}\r\nX-Slack-Request-Timestamp: {now}\r\n\
         Content-Length: {}\r\n\r\n",
        s.addr(),
        sign(SECRET, now, &huge),
        huge.len()
    );
    let first_kib = [head.as_bytes(), &huge.as_bytes()[..1024]].concat();
    let seen = crate::slow_clients::send_then_stall(s.addr(), first_kib).await;
    assert_eq!(seen.status, Some(413));
    assert_eq!(s.inbox().await, 0);
    // A command whose text merely reads `ssl_check=1` is a command: stored, run, answered.
    let (status, _) = s
        .command("alice", "C0INC", "/incident-status ssl_check=1", "3.3.a")
        .await;
    assert_eq!(status, 200);
    s.fake.wait_calls("response_url", 1).await;
    assert_eq!(s.inbox().await, 1);
}

#[tokio::test]
async fn a_command_over_the_length_limit_is_refused_with_a_word_and_never_stored() {
    let s = Served::start(&[]).await;
    let line = format!("/incident-note {}", "a".repeat(9_000));
    let (status, body) = s.command("alice", "C0INC", &line, "3.4.a").await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_type"], "ephemeral");
    assert_has(
        answer["text"].as_str().unwrap(),
        &[
            "the command is 9015 characters long; the limit is 8000",
            "Nothing was recorded",
        ],
    );
    assert_eq!(s.inbox().await, 0);
    // A command at the limit is taken.
    let line = format!("/incident-note {}", "a".repeat(8_000 - 15));
    let (status, body) = s.command("alice", "C0INC", &line, "3.4.b").await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(s.inbox().await, 1);
}

#[tokio::test]
async fn a_replayed_trigger_id_opens_one_incident() {
    let s = Served::start(&[]).await;
    let body = command_body(
        &s.fake,
        "alice",
        "C0INC",
        "/incident-assess db down",
        "4.1.a",
    );
    let now = chrono::Utc::now().timestamp();
    let signature = sign(SECRET, now, &body);
    let first = post(s.addr(), "/slack/commands", &signature, now, &body);
    let second = post(s.addr(), "/slack/commands", &signature, now, &body);
    let (first, second) = tokio::join!(first, second);
    assert_eq!((first.0, second.0), (200, 200));
    s.fake.wait_calls("chat.postMessage", 1).await;
    // A later command's reply arrives after anything the duplicate could have posted.
    s.command("alice", "C0INC", "/incident-note later", "4.2.a")
        .await;
    s.fake.wait_calls("chat.postMessage", 2).await;
    assert_eq!(s.incidents().await, 1);
    let alerts = s
        .fake
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| text_of(c).contains("INCIDENT DETECTED"))
        .count();
    assert_eq!(alerts, 1);
}

#[tokio::test]
async fn mistakes_come_back_only_to_the_caller() {
    let s = Served::start(&[]).await;
    s.command("alice", "C0INC", "/incident-severity P9", "5.1.a")
        .await;
    let answers = s.fake.wait_calls("response_url", 1).await;
    assert_has(&text_of(&answers[0]), &["⚠️"]);
    assert!(
        answers[0]
            .body
            .get("response_type")
            .is_none_or(|t| t == "ephemeral")
    );
    assert!(s.fake.calls_to("chat.postMessage").is_empty());
}

#[tokio::test]
async fn a_button_press_runs_its_command_as_the_presser() {
    let s = Served::start(&[]).await;
    s.command("alice", "C0INC", "/incident-assess db down", "6.1.a")
        .await;
    s.fake.wait_calls("chat.postMessage", 1).await;
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": "UBOB", "username": "bob", "name": "bob", "team_id": "T0001"},
        "api_app_id": "A123456",
        "container": {"type": "message", "message_ts": "1764385200.000100", "channel_id": "C0INC"},
        "trigger_id": "6.2.a",
        "team": {"id": "T0001", "domain": "example"},
        "channel": {"id": "C0INC", "name": "incidents"},
        "response_url": s.fake.response_url("6.2.a"),
        "actions": [{"action_id": "firewatch:0", "block_id": "b", "value": "/incident-ack #1",
                     "type": "button", "action_ts": "1764385201.1",
                     "text": {"type": "plain_text", "text": "Acknowledge"}}]
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let now = chrono::Utc::now().timestamp();
    let signature = sign(SECRET, now, &body);
    assert_eq!(
        post(s.addr(), "/slack/interactions", &signature, now, &body)
            .await
            .0,
        200
    );
    // Delivered twice (a retry): one acknowledgement.
    assert_eq!(
        post(s.addr(), "/slack/interactions", &signature, now, &body)
            .await
            .0,
        200
    );
    let posts = s.fake.wait_calls("chat.postMessage", 2).await;
    assert_has(&text_of(&posts[1]), &["bob"]);
    let acks =
        s.t.timeline(1)
            .await
            .into_iter()
            .filter(|e| e.event.describe() == "acknowledged")
            .count();
    assert_eq!(acks, 1);
}

#[tokio::test]
async fn a_rate_limited_post_is_retried_after_retry_after() {
    let s = Served::start(&[]).await;
    s.fake.rate_limit_next(1);
    s.command("alice", "C0INC", "/incident-assess db down", "7.1.a")
        .await;
    s.fake.wait_calls("chat.postMessage", 1).await;
    // Once the outbox recorded the 429 (its pass ends before this one starts), it waits the
    // `Retry-After: 1` by its clock.
    s.t.app.posts.deliver_due().await;
    s.t.clock.advance(chrono::TimeDelta::seconds(1));
    let posts = s.fake.wait_calls("chat.postMessage", 2).await;
    assert_eq!(
        posts[0].body, posts[1].body,
        "the same message is sent again"
    );
}

#[tokio::test]
async fn a_request_acknowledged_before_a_crash_runs_once_after_the_restart() {
    let s = Served::start(&[]).await;
    // As if the process died right after storing the request and answering Slack.
    let delivery: firewatch::chat::slack::Delivery = serde_json::from_value(serde_json::json!({
        "kind": "command",
        "team_id": "T0001", "channel_id": "C0INC", "user_id": "UALICE", "user_name": "alice",
        "command": "/incident-assess", "text": "payments failing",
        "response_url": s.fake.response_url("9.1.a"), "trigger_id": "9.1.a"
    }))
    .unwrap();
    s.t.app
        .store
        .accept_request(&firewatch::store::Inbound {
            key: delivery.key(),
            payload: serde_json::to_string(&delivery).unwrap(),
            received: s.t.clock.now(),
            handled: false,
            attempts: 0,
        })
        .await
        .unwrap();
    let s = s.restart().await;
    s.fake.wait_calls("chat.postMessage", 1).await;
    assert_eq!(s.incidents().await, 1);
    let s = s.restart().await;
    s.command("alice", "C0INC", "/incident-note after", "9.2.a")
        .await;
    s.fake.wait_calls("chat.postMessage", 2).await;
    assert_eq!(s.incidents().await, 1, "the replay ran once");
}

#[tokio::test]
async fn serve_and_the_terminal_write_the_same_timeline() {
    let script = [
        "/incident-assess checkout down --sev P1",
        "/incident-ack",
        "/incident-update --status mitigating rolled back",
        "/incident-note error rate falling",
        "/incident-resolve bad config | reverted",
    ];
    let s = Served::start(&[]).await;
    for (i, line) in script.iter().enumerate() {
        s.command("alice", "C0INC", line, &format!("10.{i}.a"))
            .await;
        s.fake.wait_calls("chat.postMessage", i + 1).await;
    }
    let terminal = TestApp::spawn().await;
    terminal.say(&script.join("\n")).await;
    let describe =
        |entries: Vec<firewatch::incident::TimelineEntry>| -> Vec<(String, String, String)> {
            entries
                .into_iter()
                .map(|e| (e.event.describe(), e.actor.name, e.at.to_rfc3339()))
                .collect()
        };
    assert_eq!(
        describe(s.t.timeline(1).await),
        describe(terminal.timeline(1).await)
    );
}

#[tokio::test]
async fn incident_channels_are_created_joined_and_bound_and_alerts_go_to_the_alerts_channel() {
    let s = Served::start(&[
        ("FIREWATCH__SLACK__CREATE_INCIDENT_CHANNELS", "true"),
        ("FIREWATCH__SLACK__ALERTS_CHANNEL", "C0ALERTS"),
    ])
    .await;
    s.command(
        "alice",
        "C0OPS",
        "/incident-assess API returning 500s",
        "11.1.a",
    )
    .await;
    let posts = s.fake.wait_calls("chat.postMessage", 3).await;
    let create = s.fake.calls_to("conversations.create");
    assert_eq!(create[0].body["name"], "inc-20261129-api-returning-500s");
    let invite = s.fake.calls_to("conversations.invite");
    assert_eq!(invite[0].body["channel"], "CINC0001");
    let invited: Vec<Value> = invite[0].body["users"].as_array().unwrap().clone();
    assert!(invited.contains(&Value::from("UALICE")), "{invited:?}");
    let by_channel = |id: &str| posts.iter().filter(|p| p.body["channel"] == id).count();
    assert_eq!(
        (
            by_channel("CINC0001"),
            by_channel("C0ALERTS"),
            by_channel("C0OPS")
        ),
        (1, 1, 1)
    );
    assert_has(
        &text_of(posts.iter().find(|p| p.body["channel"] == "C0OPS").unwrap()),
        &["<#CINC0001>"],
    );
    // Commands typed in the new channel act on the incident.
    s.command("bob", "CINC0001", "/incident-ack", "11.2.a")
        .await;
    s.fake.wait_calls("chat.postMessage", 4).await;
    let timeline: Vec<String> =
        s.t.timeline(1)
            .await
            .into_iter()
            .map(|e| e.event.describe())
            .collect();
    assert_eq!(timeline[1], "moved to its own channel (CINC0001)");
    assert_eq!(timeline[2], "acknowledged");
}

#[tokio::test]
async fn socket_mode_takes_the_same_commands_without_a_public_url() {
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
    ];
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let open = fake.wait_calls("apps.connections.open", 1).await;
    assert_eq!(open[0].auth.as_deref(), Some("Bearer xapp-test-token"));
    let envelope = socket_command(&fake, "T0001", "alice", "12.1.a");
    // A command over the length limit: its acknowledgement says so to its author, and
    // nothing is stored.
    let mut long = envelope.clone();
    long["envelope_id"] = "0a0b0c0d-4d35-4d0b-b6aa-3361493e1caf".into();
    long["payload"]["text"] = "x".repeat(9_000).into();
    long["payload"]["trigger_id"] = "12.0.a".into();
    fake.send_envelope(long).await;
    let acks = fake.wait_calls("socket", 1).await;
    assert_has(
        &acks[0].body.to_string(),
        &["0a0b0c0d", "the limit is 8000", "Nothing was recorded"],
    );
    fake.send_envelope(envelope.clone()).await;
    let posts = fake.wait_calls("chat.postMessage", 1).await;
    assert_has(&text_of(&posts[0]), &["🚨 INCIDENT DETECTED"]);
    // Socket Mode leaves the handle out; users.info supplies it, as over HTTP.
    assert_eq!(t.timeline(1).await[0].actor.name, "alice");
    let acks = fake.wait_calls("socket", 2).await;
    assert_eq!(
        acks[1].body["envelope_id"],
        "57d6a792-4d35-4d0b-b6aa-3361493e1caf"
    );
    // The acknowledgements over the websocket are timed like ones over HTTP.
    let timed = "firewatch_ack_latency_seconds_count{platform=\"slack\"}";
    assert_eq!(crate::health::metric(&t.app, timed), 2.0);
    // Slack redelivers an unacknowledged envelope: still one incident.
    fake.send_envelope(envelope).await;
    fake.wait_calls("socket", 3).await;
    let store = firewatch::store::SqlStore::connect(&t.app.settings.store.url)
        .await
        .unwrap();
    for (query, stored) in [
        ("SELECT count(*) FROM incidents", 1),
        ("SELECT count(*) FROM processed_requests", 1),
    ] {
        let (n,): (i64,) = sqlx::query_as(query).fetch_one(store.pool()).await.unwrap();
        assert_eq!(n, stored, "{query}");
    }
    running.stop().await.unwrap();
}

/// A Socket Mode envelope of `/incident-assess search is down` typed by `user` in workspace
/// `team`, channel C0INC (envelope id `57d6a792-4d35-4d0b-b6aa-3361493e1caf`).
pub fn socket_command(fake: &FakeSlack, team: &str, user: &str, trigger: &str) -> Value {
    serde_json::json!({
        "envelope_id": "57d6a792-4d35-4d0b-b6aa-3361493e1caf",
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "token": "x", "team_id": team, "team_domain": "example",
            "channel_id": "C0INC", "channel_name": "incidents",
            "user_id": format!("U{}", user.to_uppercase()), "user_name": user,
            "command": "/incident-assess", "text": "search is down",
            "api_app_id": "A123456", "is_enterprise_install": "false",
            "response_url": fake.response_url(trigger), "trigger_id": trigger
        }
    })
}

/// Stores a slash command in the inbox as if Slack had been answered and firewatch then died.
async fn accepted_before_a_crash(
    s: &Served,
    line: &str,
    trigger: &str,
    minutes_ago: i64,
) -> String {
    let body = command_body(&s.fake, "alice", "C0INC", line, trigger);
    let command =
        firewatch::chat::slack::payload::SlashCommand::from_form(body.as_bytes()).unwrap();
    let delivery = firewatch::chat::slack::Delivery::Command(command);
    s.t.app
        .store
        .accept_request(&firewatch::store::Inbound {
            key: delivery.key(),
            payload: serde_json::to_string(&delivery).unwrap(),
            received: s.t.clock.now() - chrono::TimeDelta::minutes(minutes_ago),
            handled: false,
            attempts: 0,
        })
        .await
        .unwrap();
    delivery.key()
}

#[tokio::test]
async fn an_answer_lost_in_a_crash_is_reported_and_the_command_is_not_run_again() {
    let s = Served::start(&[]).await;
    let key = accepted_before_a_crash(&s, "/incident-assess checkout down", "13.1.a", 1).await;
    // The engine ran it (the incident exists) but firewatch died before posting.
    let caller = firewatch::engine::Caller {
        actor: firewatch::incident::Actor {
            platform: firewatch::incident::Platform::Slack,
            id: "UALICE".into(),
            name: "alice".into(),
        },
        channel: firewatch::incident::ChannelRef {
            platform: firewatch::incident::Platform::Slack,
            id: "C0INC".into(),
        },
        request: Some(key.clone()),
        roles: Vec::new(),
    };
    s.t.app
        .engine
        .handle(&caller, "/incident-assess checkout down")
        .await;
    s.t.app
        .store
        .handled_request(&key, s.t.clock.now())
        .await
        .unwrap();
    let s = s.restart().await;
    let posts = s.fake.wait_calls("chat.postMessage", 1).await;
    assert_has(
        &text_of(&posts[0]),
        &[
            "♻️ firewatch restarted before it could post an answer",
            "/incident-assess checkout down",
        ],
    );
    assert_eq!(s.incidents().await, 1);
    // Delivered now: the next restart says nothing more.
    let s = s.restart().await;
    s.command("alice", "C0INC", "/incident-note later", "13.2.a")
        .await;
    let posts = s.fake.wait_calls("chat.postMessage", 2).await;
    assert_has(&text_of(&posts[1]), &["NOTE on #1"]);
}

#[tokio::test]
async fn a_status_whose_answer_was_lost_in_a_crash_is_simply_answered_again() {
    let s = Served::start(&[("FIREWATCH__SERVER__SHUTDOWN_GRACE", "1s")]).await;
    let gate = s.fake.hold();
    let (status, _) = s
        .command("alice", "C0INC", "/incident-status", "13.3.a")
        .await;
    assert_eq!(status, 200);
    // The engine answered, but firewatch stops before Slack has taken the answer.
    s.fake.wait_calls("response_url", 1).await;
    let s = s.restart().await;
    gate.add_permits(100);
    // A command that only reads leaves no handled mark: the restart runs it again (a fresh
    // answer) instead of reporting its answer lost.
    let answers = s.fake.wait_calls("response_url", 2).await;
    assert_eq!(text_of(&answers[1]), text_of(&answers[0]));
    assert!(
        !s.fake
            .calls()
            .iter()
            .any(|call| text_of(call).contains("restarted before it could post")),
        "a status is answered again, not reported lost"
    );
}

#[tokio::test]
async fn a_command_too_old_to_answer_is_not_run_and_its_author_is_told() {
    let s = Served::start(&[]).await;
    accepted_before_a_crash(&s, "/incident-assess checkout down", "14.1.a", 31).await;
    let s = s.restart().await;
    let told = s.fake.wait_calls("chat.postEphemeral", 1).await;
    assert_eq!(told[0].body["user"], "UALICE");
    assert_has(
        &text_of(&told[0]),
        &[
            "did not run a command",
            "/incident-assess checkout down from",
            "too old",
        ],
    );
    assert_eq!(s.incidents().await, 0);
}

#[tokio::test]
async fn a_huge_description_full_of_markup_still_posts_the_alert() {
    let s = Served::start(&[]).await;
    let description = format!("<!channel> @here {}", "<b>&</b> ".repeat(280));
    s.command(
        "alice",
        "C0INC",
        &format!("/incident-assess {description}"),
        "15.1.a",
    )
    .await;
    let posts = s.fake.wait_calls("chat.postMessage", 1).await;
    assert!(!posts.is_empty());
    // The fake answers over-limit blocks with invalid_blocks; nothing was refused.
    assert!(
        s.fake.calls_to("response_url").is_empty(),
        "{:?}",
        s.fake.calls_to("response_url")
    );
    assert!(!text_of(&posts[0]).contains("<!channel>"));
}

#[tokio::test]
async fn the_report_is_posted_with_its_file_attached() {
    let s = Served::start(&[]).await;
    let script = [
        "/incident-assess checkout down --sev P2",
        "/incident-resolve bad flag | reverted",
        "/incident-report",
    ];
    for (i, line) in script.iter().enumerate() {
        s.command("alice", "C0INC", line, &format!("16.{i}.a"))
            .await;
        s.fake.wait_calls("chat.postMessage", i + 1).await;
    }
    let slot = s.fake.wait_calls("files.getUploadURLExternal", 1).await;
    assert_eq!(slot[0].body["filename"], "incident-20261129.md");
    let uploaded = s.fake.wait_calls("upload", 1).await;
    let content = uploaded[0].body.as_str().unwrap_or_default().to_owned();
    assert_has(&content, &["checkout down", "bad flag"]);
    assert_eq!(
        slot[0].body["length"],
        serde_json::Value::String(content.len().to_string())
    );
    let complete = s.fake.wait_calls("files.completeUploadExternal", 1).await;
    assert_eq!(complete[0].body["channel_id"], "C0INC");
    assert_eq!(complete[0].body["files"][0]["id"], "F0001");
}

#[tokio::test]
async fn a_slow_slack_does_not_hold_up_the_acknowledgement() {
    let s = Served::start(&[]).await;
    let gate = s.fake.hold();
    let (status, _) = s
        .command("alice", "C0INC", "/incident-assess db down", "9.3.a")
        .await;
    assert_eq!(status, 200);
    // The alert is on its way but Slack has not answered it yet.
    s.fake.wait_calls("chat.postMessage", 1).await;
    assert_eq!(s.incidents().await, 1);
    let (status, _) = s.command("bob", "C0INC", "/incident-ack", "9.3.b").await;
    assert_eq!(status, 200, "acknowledged while Slack still hangs");
    gate.add_permits(10);
    let posts = s.fake.wait_calls("chat.postMessage", 2).await;
    assert_has(&text_of(&posts[1]), &["ACKNOWLEDGED"]);
}

#[tokio::test]
async fn a_burst_beyond_what_runs_at_once_is_answered_in_full_from_the_inbox() {
    let s = Served::start(&[]).await;
    // Slack is slow to take answers: the first runs hold every place there is to run.
    let gate = s.fake.hold();
    let burst = firewatch::chat::work::RUNNING * 2 + 10;
    let served = &s;
    let sent = futures::future::join_all((0..burst).map(|i| async move {
        let trigger = format!("burst.{i}");
        served
            .command("alice", "C0BURST", "/incident-status", &trigger)
            .await
            .0
    }))
    .await;
    assert!(sent.iter().all(|status| *status == 200), "{sent:?}");
    gate.add_permits(burst);
    let answered = s.fake.wait_calls("response_url", burst).await;
    assert_eq!(answered.len(), burst, "each request answered once");
}
