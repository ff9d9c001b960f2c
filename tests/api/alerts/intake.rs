//! `POST /alerts/alertmanager` on `firewatch serve`, against a fake Slack: the bearer token, the
//! body limit and bad bodies refused with nothing stored; a notification stored, answered and
//! posted in the alerts channel with its links; an HA pair's two copies taken once.

use std::net::SocketAddr;

use firewatch::app::serve::{self, Running};
use serde_json::Value;

use super::{TOKEN, alert, grafana, notification};
use crate::fake_slack::FakeSlack;
use crate::helpers::{TestApp, assert_has, http};
use crate::slack::SECRET;

struct Served {
    t: TestApp,
    slack: FakeSlack,
    running: Running,
}

impl Served {
    /// `firewatch serve` with Slack (alerts go to `C0ALERTS`), alerts on unless `extra` says
    /// otherwise.
    async fn start(extra: &[(&str, &str)]) -> Self {
        let slack = FakeSlack::start().await;
        let mut env: Vec<(String, String)> = [
            ("FIREWATCH__SLACK__API_URL", format!("{}/api", slack.url)),
            ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-test-token".into()),
            ("FIREWATCH__SLACK__SIGNING_SECRET", SECRET.into()),
            ("FIREWATCH__ALERTS__TOKEN", TOKEN.into()),
            ("FIREWATCH__ALERTS__CHANNEL", "C0ALERTS".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            if !value.is_empty() {
                env.push(((*key).to_owned(), (*value).to_owned()));
            }
        }
        let t = TestApp::spawn_with(env).await;
        let running = serve::start(&t.app, "127.0.0.1:0")
            .await
            .expect("serve starts");
        Self { t, slack, running }
    }

    fn addr(&self) -> SocketAddr {
        self.running.addr
    }

    /// Counts rows with raw SQL.
    async fn count(&self, sql: &str) -> i64 {
        let store = firewatch::store::SqlStore::connect(&self.t.app.settings.store.url)
            .await
            .unwrap();
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(store.pool())
            .await
            .unwrap();
        n
    }

    /// Notifications in the inbox.
    async fn stored(&self) -> i64 {
        self.count("SELECT count(*) FROM processed_requests WHERE request_key LIKE 'alerts:%'")
            .await
    }

    /// Waits until every stored notification was run and its answers posted.
    async fn drained(&self) {
        for _ in 0..200 {
            let open = "SELECT count(*) FROM processed_requests WHERE delivered_at IS NULL";
            if self.count(open).await == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("notifications are still running after 10 s");
    }
}

/// POSTs `body` as Alertmanager does, with `Authorization: <auth>` when given.
pub(crate) async fn post(addr: SocketAddr, body: &str, auth: Option<&str>) -> (u16, String) {
    let auth = auth.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
    let request = format!(
        "POST /alerts/alertmanager HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: Alertmanager/0.28.1\r\n\
         Content-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(addr, &request).await
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn errors() -> Value {
    notification(
        "HighErrorRate",
        &[alert("HighErrorRate", "fp-a", "critical", -4, None)],
    )
}

#[tokio::test]
async fn a_notification_is_stored_answered_and_opens_an_incident_in_the_alerts_channel() {
    let s = Served::start(&[]).await;
    let (status, body) = post(s.addr(), &errors().to_string(), Some(&bearer())).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"accepted"}"#));
    let posted = s.slack.wait_calls("chat.postMessage", 1).await;
    assert_eq!(posted[0].body["channel"], "C0ALERTS");
    let json = posted[0].body.to_string();
    assert_has(
        &json,
        &[
            "🚨 INCIDENT DETECTED - P0",
            "🔔 Alerts firing (1)",
            "\"action_id\":\"firewatch:0\"",
            "\"action_id\":\"firewatch-link:0\"",
            "\"url\":\"http://alertmanager.example.org:9093/#/silences/new?filter=",
            "alertmanager/firewatch",
        ],
    );
    s.drained().await;
    assert_eq!(s.count("SELECT count(*) FROM incidents").await, 1);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn an_ha_pairs_two_copies_at_once_have_one_effect() {
    let s = Served::start(&[]).await;
    let (body, auth) = (errors().to_string(), bearer());
    let (a, b) = tokio::join!(
        post(s.addr(), &body, Some(&auth)),
        post(s.addr(), &body, Some(&auth))
    );
    assert_eq!((a.0, b.0), (200, 200));
    let mut answers = [a.1, b.1];
    answers.sort();
    assert_eq!(
        answers,
        [r#"{"status":"accepted"}"#, r#"{"status":"duplicate"}"#]
    );
    s.slack.wait_calls("chat.postMessage", 1).await;
    s.drained().await;
    // A retry after the answer has no effect either.
    assert_eq!(post(s.addr(), &body, Some(&bearer())).await.0, 200);
    s.drained().await;
    assert_eq!(s.count("SELECT count(*) FROM incidents").await, 1);
    assert_eq!(s.slack.calls_to("chat.postMessage").len(), 1);
    assert_eq!(s.stored().await, 1);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn without_the_token_nothing_is_stored() {
    let s = Served::start(&[]).await;
    let body = errors().to_string();
    for auth in [
        None,
        Some("Bearer not-the-token".to_owned()),
        Some(format!("Basic {TOKEN}")),
    ] {
        let (status, answer) = post(s.addr(), &body, auth.as_deref()).await;
        assert_eq!(
            (status, answer.as_str()),
            (401, "missing or wrong bearer token")
        );
    }
    assert_eq!(s.stored().await, 0);
    assert_eq!(s.count("SELECT count(*) FROM incidents").await, 0);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn bad_bodies_are_refused_with_the_reason_and_nothing_is_stored() {
    let s = Served::start(&[]).await;
    let (status, reason) = post(s.addr(), "{\"version\": \"4\",", Some(&bearer())).await;
    assert_eq!(status, 400);
    assert!(reason.starts_with("not an alert notification"), "{reason}");
    let mut v3 = errors();
    v3["version"] = "3".into();
    let (status, reason) = post(s.addr(), &v3.to_string(), Some(&bearer())).await;
    assert_eq!(status, 400);
    assert_has(&reason, &["version \"3\" is not supported"]);
    let mut no_start = errors();
    no_start["alerts"][0]
        .as_object_mut()
        .unwrap()
        .remove("startsAt");
    let (status, reason) = post(s.addr(), &no_start.to_string(), Some(&bearer())).await;
    assert_eq!(status, 400);
    assert_has(&reason, &["alerts[0]", "startsAt"]);
    assert_eq!(s.stored().await, 0);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_body_over_max_body_is_refused_and_nothing_is_stored() {
    let s = Served::start(&[("FIREWATCH__ALERTS__MAX_BODY", "2048")]).await;
    let alerts: Vec<Value> = (0..20)
        .map(|i| alert("HighErrorRate", &format!("fp-{i}"), "critical", -4, None))
        .collect();
    let big = notification("HighErrorRate", &alerts).to_string();
    assert!(big.len() > 2048);
    let (status, _) = post(s.addr(), &big, Some(&bearer())).await;
    assert_eq!(status, 413, "refused by its Content-Length");
    // Without a length, the body is cut off at the limit as it is read.
    let chunked = format!(
        "POST /alerts/alertmanager HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Authorization: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         {:x}\r\n{big}\r\n0\r\n\r\n",
        s.addr(),
        bearer(),
        big.len()
    );
    let (status, _) = http(s.addr(), &chunked).await;
    assert_eq!(status, 413, "refused while read");
    assert_eq!(s.stored().await, 0);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn with_no_token_the_endpoint_is_off() {
    let s = Served::start(&[("FIREWATCH__ALERTS__TOKEN", "")]).await;
    let (status, answer) = post(s.addr(), &errors().to_string(), Some(&bearer())).await;
    assert_eq!(
        (status, answer.as_str()),
        (404, "alerts are not configured (set alerts.token)")
    );
    assert_eq!(s.stored().await, 0);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_grafana_notification_opens_an_incident_with_its_silence_and_dashboard() {
    let s = Served::start(&[]).await;
    let body = grafana("HighMemoryUsage", "c6eadffa33fcdf37").to_string();
    let (status, _) = post(s.addr(), &body, Some(&bearer())).await;
    assert_eq!(status, 200);
    let posted = s.slack.wait_calls("chat.postMessage", 1).await;
    let json = posted[0].body.to_string();
    assert_has(
        &json,
        &[
            "grafana/oncall",
            "\"text\":\"Silence\"",
            "https://grafana.example.org/alerting/silence/new?alertmanager=grafana",
            "\"text\":\"Dashboard\"",
            "https://grafana.example.org/d/freightliner",
            "\"text\":\"Panel\"",
            "B=12.5, C=1",
        ],
    );
    s.running.stop().await.unwrap();
}
