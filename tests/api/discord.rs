//! `firewatch serve` with Discord: signed interactions in, REST calls out, against a fake
//! Discord API; and the status-channel mirror of incidents from other platforms.

use std::net::SocketAddr;

use ed25519_dalek::{Signer, SigningKey};
use firewatch::app::serve::{self, Running};
use serde_json::{Value, json};

use crate::fake_discord::FakeDiscord;
use crate::helpers::{TestApp, assert_has, http};

const APPLICATION: &str = "1180000000000000000";
pub const STATUS_CHANNEL: &str = "1200000000000000000";
const CHANNEL: &str = "1160000000000000000";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

pub fn discord_env(fake: &FakeDiscord) -> Vec<(String, String)> {
    [
        ("FIREWATCH__DISCORD__API_URL", fake.url.clone()),
        ("FIREWATCH__DISCORD__APPLICATION_ID", APPLICATION.into()),
        (
            "FIREWATCH__DISCORD__PUBLIC_KEY",
            hex::encode(key().verifying_key().as_bytes()),
        ),
        ("FIREWATCH__DISCORD__BOT_TOKEN", "test-bot-token".into()),
        (
            "FIREWATCH__DISCORD__STATUS_CHANNEL_ID",
            STATUS_CHANNEL.into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

struct Served {
    t: TestApp,
    fake: FakeDiscord,
    running: Running,
}

impl Served {
    async fn start() -> Self {
        let fake = FakeDiscord::start().await;
        let t = TestApp::spawn_with(discord_env(&fake)).await;
        let running = serve::start(&t.app, "127.0.0.1:0")
            .await
            .expect("serve starts");
        Self { t, fake, running }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    async fn interact(&self, body: &Value) -> (u16, String) {
        interact_at(self.addr(), body).await
    }

    async fn count(&self, sql: &'static str) -> i64 {
        count_in(&self.t, sql).await
    }
}

/// The number `sql` selects from `t`'s store.
async fn count_in(t: &TestApp, sql: &'static str) -> i64 {
    let store = firewatch::store::SqlStore::connect(&t.app.settings.store.url)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(store.pool()).await.unwrap();
    n
}

/// Sends `body` to firewatch's interactions endpoint at `addr`, signed now with the test key.
pub async fn interact_at(addr: SocketAddr, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    post(addr, &sign(&ts, &body), &ts, &body).await
}

/// The test key's public half, for `discord.public_key`.
pub fn public_key() -> String {
    hex::encode(key().verifying_key().as_bytes())
}

fn sign(ts: &str, body: &str) -> String {
    let signature = key().sign(format!("{ts}{body}").as_bytes());
    hex::encode(signature.to_bytes())
}

async fn post(addr: SocketAddr, signature: &str, ts: &str, body: &str) -> (u16, String) {
    let request = format!(
        "POST /discord/interactions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Signature-Ed25519: {signature}\r\nX-Signature-Timestamp: {ts}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(addr, &request).await
}

/// An `/incident SUB` interaction from Discord's documentation shapes, by alice.
fn command(id: &str, sub: &str, options: Value) -> Value {
    command_as(id, "alice", "1150000000000000000", sub, options)
}

/// An `/incident SUB` interaction by `user` (with Discord user id `user_id`).
pub fn command_as(id: &str, user: &str, user_id: &str, sub: &str, options: Value) -> Value {
    json!({
        "id": id, "application_id": APPLICATION, "type": 2, "token": format!("token-{id}"),
        "version": 1, "guild_id": "1170000000000000000", "channel_id": CHANNEL,
        "member": {"user": {"id": user_id, "username": user, "global_name": null},
                   "roles": [], "permissions": "2147483647", "joined_at": "2026-01-01T00:00:00.000000+00:00"},
        "data": {"id": "1140000000000000000", "name": "incident", "type": 1,
                 "options": [{"name": sub, "type": 1, "options": options}]},
        "locale": "en-US", "app_permissions": "2147483647"
    })
}

/// `interaction` with the fields the gateway sends and serenity's model requires besides those of
/// Discord's documented example.
pub fn over_the_gateway(mut interaction: Value) -> Value {
    interaction["member"]["deaf"] = json!(false);
    interaction["member"]["mute"] = json!(false);
    interaction["member"]["flags"] = json!(0);
    interaction["guild_locale"] = json!("en-US");
    interaction["entitlements"] = json!([]);
    interaction["attachment_size_limit"] = json!(26_214_400);
    interaction
}

fn json_body(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_ping_gets_a_pong() {
    let s = Served::start().await;
    let (status, body) = s.interact(&json!({"id": "1", "application_id": APPLICATION, "type": 1, "token": "t", "version": 1})).await;
    assert_eq!((status, json_body(&body)), (200, json!({"type": 1})));
}

#[tokio::test]
async fn bad_missing_and_stale_signatures_get_401_and_store_nothing() {
    let s = Served::start().await;
    let body = command(
        "1190000000000000001",
        "assess",
        json!([{"name": "description", "type": 3, "value": "db down"}]),
    )
    .to_string();
    let now = chrono::Utc::now().timestamp().to_string();
    let forged = hex::encode(
        SigningKey::from_bytes(&[8; 32])
            .sign(format!("{now}{body}").as_bytes())
            .to_bytes(),
    );
    assert_eq!(post(s.addr(), &forged, &now, &body).await.0, 401);
    let stale_ts = (chrono::Utc::now().timestamp() - 301).to_string();
    assert_eq!(
        post(s.addr(), &sign(&stale_ts, &body), &stale_ts, &body)
            .await
            .0,
        401
    );
    assert_eq!(post(s.addr(), "", &now, &body).await.0, 401);
    let tampered = body.replace("db down", "db up");
    assert_eq!(
        post(s.addr(), &sign(&now, &body), &now, &tampered).await.0,
        401
    );
    assert_eq!(s.count("SELECT count(*) FROM processed_requests").await, 0);
    assert_eq!(s.count("SELECT count(*) FROM incidents").await, 0);
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn an_interaction_over_the_length_limit_is_refused_with_a_word_and_never_stored() {
    let s = Served::start().await;
    let long = "a".repeat(9_000);
    let (status, body) = s
        .interact(&command(
            "1190000000000000009",
            "note",
            json!([{"name": "text", "type": 3, "value": long}]),
        ))
        .await;
    assert_eq!(status, 200);
    let answer = json_body(&body);
    assert_eq!(
        (answer["type"].clone(), answer["data"]["flags"].clone()),
        (json!(4), json!(64))
    );
    assert_has(
        answer["data"]["content"].as_str().unwrap(),
        &["characters long; the limit is 8000", "Nothing was recorded"],
    );
    assert_eq!(s.count("SELECT count(*) FROM processed_requests").await, 0);
    assert!(s.fake.calls().is_empty());
}

#[tokio::test]
async fn assess_is_deferred_at_once_then_the_alert_replaces_the_deferral_and_is_mirrored() {
    let s = Served::start().await;
    let (status, body) = s
        .interact(&command(
            "1190000000000000002",
            "assess",
            json!([{"name": "description", "type": 3, "value": "API returning 500s"},
                   {"name": "severity", "type": 3, "value": "P0"}]),
        ))
        .await;
    assert_eq!((status, json_body(&body)), (200, json!({"type": 5})));
    let edits = s
        .fake
        .wait_calls(
            &format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original"),
            1,
        )
        .await;
    let embed = &edits[0].body["embeds"][0];
    assert_has(&embed["title"].to_string(), &["🚨 INCIDENT DETECTED - P0"]);
    assert_eq!(embed["footer"]["text"], "Incident #1 · firewatch");
    assert_eq!(
        edits[0].body["components"][0]["components"][0]["custom_id"],
        "firewatch:/incident-ack #1"
    );
    // Stakeholders in the status channel get the same message as an embed, coloured P0 red.
    let mirrored = s
        .fake
        .wait_calls(&format!("POST /channels/{STATUS_CHANNEL}/messages"), 1)
        .await;
    assert_eq!(mirrored[0].auth.as_deref(), Some("Bot test-bot-token"));
    assert_eq!(mirrored[0].body["embeds"][0]["color"], 0xD92D20);
    assert!(
        mirrored[0].body.get("components").is_none(),
        "no buttons in the mirror"
    );
    let opened = &s.t.timeline(1).await[0];
    assert_eq!(
        (opened.actor.name.as_str(), opened.actor.id.as_str()),
        ("alice", "1150000000000000000")
    );
}

#[tokio::test]
async fn a_duplicate_interaction_id_has_one_effect() {
    let s = Served::start().await;
    let note = command(
        "1190000000000000003",
        "assess",
        json!([{"name": "description", "type": 3, "value": "db down"}]),
    );
    let (a, b) = tokio::join!(s.interact(&note), s.interact(&note));
    assert_eq!((a.0, b.0), (200, 200));
    s.fake
        .wait_calls(
            &format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original"),
            1,
        )
        .await;
    // A later command's answer comes after anything the duplicate could have done.
    s.interact(&command(
        "1190000000000000004",
        "note",
        json!([{"name": "text", "type": 3, "value": "x"}]),
    ))
    .await;
    s.fake
        .wait_calls(
            &format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original"),
            2,
        )
        .await;
    assert_eq!(s.count("SELECT count(*) FROM incidents").await, 1);
}

#[tokio::test]
async fn reads_are_private_and_mistakes_are_answered_plainly() {
    let s = Served::start().await;
    let (_, body) = s
        .interact(&command("1190000000000000005", "status", json!([])))
        .await;
    assert_eq!(json_body(&body), json!({"type": 5, "data": {"flags": 64}}));
    s.interact(&command("1190000000000000006", "ack", json!([])))
        .await;
    let edit = format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original");
    s.fake.wait_calls(&edit, 1).await;
    // Once the outbox recorded the failure (its pass ends before this one starts), it waits
    // Discord's retry_after (at least a second) by its clock.
    s.t.app.posts.deliver_due().await;
    s.t.clock.advance(chrono::TimeDelta::seconds(1));
    // The refusal of a command that changes something is for its author alone: the public
    // "thinking…" is deleted and the refusal follows privately, never edited in for everyone.
    let withdraw = format!("DELETE /webhooks/{APPLICATION}/{{token}}/messages/@original");
    s.fake.wait_calls(&withdraw, 1).await;
    let follow_up = format!("POST /webhooks/{APPLICATION}/{{token}}");
    let follow_ups = s.fake.wait_calls(&follow_up, 1).await;
    let refusal = &follow_ups[0].body;
    assert!(
        refusal
            .to_string()
            .contains("No incident is open in this channel"),
        "{refusal}"
    );
    assert_eq!(refusal["flags"], 64, "{refusal}");
    let edits = s.fake.calls_to(&edit);
    assert!(
        edits.iter().all(|e| !e
            .body
            .to_string()
            .contains("No incident is open in this channel")),
        "{edits:?}"
    );
}

#[tokio::test]
async fn a_button_press_is_a_deferred_update_and_runs_as_the_presser() {
    let s = Served::start().await;
    s.interact(&command(
        "1190000000000000007",
        "assess",
        json!([{"name": "description", "type": 3, "value": "db down"}]),
    ))
    .await;
    s.fake
        .wait_calls(
            &format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original"),
            1,
        )
        .await;
    let press = json!({
        "id": "1190000000000000008", "application_id": APPLICATION, "type": 3, "token": "token-press",
        "version": 1, "channel_id": CHANNEL,
        "member": {"user": {"id": "1150000000000000009", "username": "bob"}, "roles": [], "permissions": "0"},
        "message": {"id": "1300000000000000001", "channel_id": CHANNEL},
        "data": {"custom_id": "firewatch:/incident-ack #1", "component_type": 2}
    });
    let (status, body) = s.interact(&press).await;
    assert_eq!((status, json_body(&body)), (200, json!({"type": 6})));
    let follow_ups = s
        .fake
        .wait_calls(&format!("POST /webhooks/{APPLICATION}/{{token}}"), 1)
        .await;
    assert_has(&follow_ups[0].body.to_string(), &["bob"]);
    let acked =
        s.t.timeline(1)
            .await
            .into_iter()
            .filter(|e| e.event.describe() == "acknowledged")
            .count();
    assert_eq!(acked, 1);
}

#[tokio::test]
async fn a_rate_limited_call_is_retried_after_retry_after() {
    let s = Served::start().await;
    s.fake.rate_limit_next("PATCH /webhooks", 1);
    s.interact(&command(
        "1190000000000000010",
        "assess",
        json!([{"name": "description", "type": 3, "value": "db down"}]),
    ))
    .await;
    let edit = format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original");
    s.fake.wait_calls(&edit, 1).await;
    // Once the outbox recorded the failure (its pass ends before this one starts), it waits
    // Discord's retry_after (at least a second) by its clock.
    s.t.app.posts.deliver_due().await;
    s.t.clock.advance(chrono::TimeDelta::seconds(1));
    let edits = s.fake.wait_calls(&edit, 2).await;
    assert_eq!(edits[0].body, edits[1].body, "the same edit is sent again");
}

#[tokio::test]
async fn an_incident_opened_in_the_terminal_is_mirrored_to_the_status_channel() {
    let fake = FakeDiscord::start().await;
    let t = TestApp::spawn_with(discord_env(&fake)).await;
    // As `firewatch console` does: the outbox's posts (the mirror) are sent while it runs.
    let sending = t.app.posts.start();
    t.say("/incident-assess checkout is down --sev P2").await;
    let mirrored = fake
        .wait_calls(&format!("POST /channels/{STATUS_CHANNEL}/messages"), 1)
        .await;
    let embed = &mirrored[0].body["embeds"][0];
    assert_has(&embed["title"].to_string(), &["🚨 INCIDENT DETECTED - P2"]);
    assert!(embed["color"].is_u64());
    assert_eq!(mirrored[0].body["allowed_mentions"]["parse"], json!([]));
    t.say("/incident-resolve typo | fixed").await;
    let mirrored = fake
        .wait_calls(&format!("POST /channels/{STATUS_CHANNEL}/messages"), 2)
        .await;
    assert_has(&mirrored[1].body.to_string(), &["✅"]);
    sending.stop().await;
}

#[test]
fn discord_register_overwrites_the_commands_and_says_what_it_did() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fake = runtime.block_on(FakeDiscord::start());
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"));
    command
        .args([
            "discord-register",
            "--guild",
            "1170000000000000000",
            "-c",
            "bot.toml.example",
        ])
        .current_dir(crate::helpers::repo())
        .env(
            "FIREWATCH__STORE__URL",
            format!("sqlite://{}", dir.path().join("fw.db").display()),
        )
        .env_remove("RUST_LOG");
    for (k, v) in discord_env(&fake) {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_has(
        &stdout,
        &[
            "registered /incident",
            "20 subcommands",
            "assess, ack, role, page, update",
            "scope: guild 1170000000000000000",
        ],
    );
    let put = fake.calls_to(&format!(
        "PUT /applications/{APPLICATION}/guilds/1170000000000000000/commands"
    ));
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].auth.as_deref(), Some("Bot test-bot-token"));
    assert!(
        !stdout.contains("test-bot-token")
            && !String::from_utf8_lossy(&out.stderr).contains("test-bot-token")
    );
}

#[tokio::test]
async fn the_report_comes_with_its_file_attached() {
    let s = Served::start().await;
    let edit = format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original");
    s.interact(&command(
        "1190000000000000020",
        "assess",
        json!([{"name": "description", "type": 3, "value": "checkout down"}]),
    ))
    .await;
    s.fake.wait_calls(&edit, 1).await;
    s.interact(&command(
        "1190000000000000021",
        "resolve",
        json!([
        {"name": "root_cause", "type": 3, "value": "bad flag"},
        {"name": "resolution", "type": 3, "value": "reverted"}]),
    ))
    .await;
    s.fake.wait_calls(&edit, 2).await;
    s.interact(&command("1190000000000000022", "report", json!([])))
        .await;
    let edits = s.fake.wait_calls(&edit, 3).await;
    let multipart = edits[2].body.as_str().expect("a multipart body, not JSON");
    assert_has(
        multipart,
        &[
            "name=\"payload_json\"",
            "\"attachments\":[{\"filename\":\"incident-20261129.md\",\"id\":0}]",
            "name=\"files[0]\"; filename=\"incident-20261129.md\"",
            "bad flag",
        ],
    );
}

#[tokio::test]
async fn gateway_mode_takes_interactions_over_the_websocket() {
    let fake = FakeDiscord::start().await;
    let mut env = discord_env(&fake);
    env.push(("FIREWATCH__DISCORD__MODE".into(), "gateway".into()));
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let identify = fake.wait_calls("gateway op 2", 1).await;
    assert_eq!(identify[0].body["d"]["token"], "Bot test-bot-token");
    assert_eq!(
        identify[0].body["d"]["intents"], 0,
        "interactions need no intents"
    );
    let interaction = over_the_gateway(command(
        "1190000000000000030",
        "assess",
        json!([{"name": "description", "type": 3, "value": "search is down"}]),
    ));
    // Over the length limit: told at once through the callback, and nothing is stored.
    let mut long = interaction.clone();
    long["id"] = "1190000000000000031".into();
    long["data"]["options"][0]["options"][0]["value"] = "x".repeat(9_000).into();
    fake.dispatch("INTERACTION_CREATE", long).await;
    let refused = fake
        .wait_calls("POST /interactions/1190000000000000031/{token}/callback", 1)
        .await;
    assert_eq!(refused[0].body["type"], 4);
    assert_has(
        &refused[0].body["data"]["content"].to_string(),
        &["the limit is 8000", "Nothing was recorded"],
    );
    fake.dispatch("INTERACTION_CREATE", interaction).await;
    let callback = fake
        .wait_calls("POST /interactions/1190000000000000030/{token}/callback", 1)
        .await;
    assert_eq!(callback[0].body, json!({"type": 5}));
    let edits = fake
        .wait_calls(
            &format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original"),
            1,
        )
        .await;
    assert_has(&edits[0].body.to_string(), &["🚨 INCIDENT DETECTED"]);
    assert_eq!(t.timeline(1).await[0].actor.name, "alice");
    // The deferral over the gateway is timed like one over HTTP.
    let acks = "firewatch_ack_latency_seconds_count{platform=\"discord\"}";
    assert_eq!(crate::health::metric(&t.app, acks), 1.0);
    let stored = count_in(&t, "SELECT count(*) FROM processed_requests").await;
    assert_eq!(stored, 1, "only the command within the limit");
    running.stop().await.unwrap();
}

/// `/incident assess` (interaction `id`) while the next `n` edits of deferred answers get HTTP
/// `status`; returns the edit's call name once the first one failed.
async fn assess_while_answers_fail(s: &Served, id: &str, n: usize, status: u16) -> String {
    s.fake.fail_next("PATCH /webhooks", n, status);
    let description = json!([{"name": "description", "type": 3, "value": "db down"}]);
    s.interact(&command(id, "assess", description)).await;
    let edit = format!("PATCH /webhooks/{APPLICATION}/{{token}}/messages/@original");
    s.fake.wait_calls(&edit, 1).await;
    edit
}

#[tokio::test]
async fn a_discord_5xx_on_the_answer_is_retried_and_the_alert_replaces_the_deferral_once() {
    let s = Served::start().await;
    let edit = assess_while_answers_fail(&s, "1190000000000000011", 1, 502).await;
    s.t.app.posts.deliver_due().await;
    // The status channel's copy goes in a lane of its own: it does not wait for the answer.
    s.fake
        .wait_calls(&format!("POST /channels/{STATUS_CHANNEL}/messages"), 1)
        .await;
    assert_eq!(s.fake.calls_to(&edit).len(), 1, "not before the backoff");
    s.t.clock.advance(chrono::TimeDelta::seconds(1));
    let edits = s.fake.wait_calls(&edit, 2).await;
    assert_eq!(edits[0].body, edits[1].body, "the same answer again");
    assert_has(&edits[1].body.to_string(), &["INCIDENT DETECTED"]);
    s.t.app.posts.deliver_due().await;
    s.t.clock.advance(chrono::TimeDelta::minutes(1));
    s.t.app.posts.deliver_due().await;
    assert_eq!(s.fake.calls_to(&edit).len(), 2, "delivered once");
}

#[tokio::test]
async fn an_answer_discord_keeps_failing_is_given_up_when_its_token_expires() {
    let s = Served::start().await;
    let edit = assess_while_answers_fail(&s, "1190000000000000012", 1_000, 503).await;
    for _ in 0..20 {
        s.t.app.posts.deliver_due().await;
        s.t.clock.advance(chrono::TimeDelta::minutes(1));
    }
    s.t.app.posts.deliver_due().await;
    let tries = s.fake.calls_to(&edit).len();
    assert!((14..=16).contains(&tries), "{tries} tries in 15 minutes");
    let entries: Vec<String> =
        s.t.timeline(1)
            .await
            .into_iter()
            .map(|e| e.event.describe())
            .filter(|line| line.contains("not delivered"))
            .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_has(
        &entries[0],
        &[
            &format!("message to discord {CHANNEL} not delivered (still failing after 15m"),
            "discord answered 503",
            "INCIDENT DETECTED",
        ],
    );
}
