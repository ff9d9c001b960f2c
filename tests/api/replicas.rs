//! Several `firewatch serve` processes on one Postgres schema: each effect happens once however
//! the platform's deliveries are spread over the replicas, and a replica starting up leaves the
//! requests another one is running alone. Also: the Postgres store comes back by itself after
//! its connections were cut.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use firewatch::store::{Inbound, SqlStore, Store};
use sqlx::PgPool;

use crate::fake_slack::FakeSlack;
use crate::helpers::write_config;
use crate::slack::{SECRET, post_signed, send_command};
use crate::support::FakeHelm;
use crate::support::kube::FakeKube;
use crate::support::objects;
use crate::support::pg::PgSchema;
use crate::support::pg_proxy::PgProxy;

/// One `firewatch serve` process; dropping it kills it (`kill -9`).
pub(crate) struct Replica {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl Replica {
    /// Starts `firewatch serve --config config` with `env` on a free port.
    pub(crate) fn start(config: &Path, env: &[(String, String)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_firewatch"))
            .args(["serve", "--config"])
            .arg(config)
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("FIREWATCH__SERVER__LISTEN", "127.0.0.1:0")
            .env("FIREWATCH__LOG__LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("firewatch starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                match line.split_once("serving on ") {
                    Some((_, addr)) => {
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(addr.trim().to_owned());
                        }
                    }
                    None => eprintln!("firewatch: {line}"),
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("firewatch prints its address")
            .parse()
            .expect("an address");
        Self { child, addr }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything two replicas share: the schema, Slack, the cluster, helm, the config.
struct Fleet {
    slack: FakeSlack,
    helm: FakeHelm,
    config: PathBuf,
    env: Vec<(String, String)>,
    _kube: FakeKube,
    _dir: tempfile::TempDir,
    /// Last: dropped after the replicas are gone.
    pg: PgSchema,
}

impl Fleet {
    async fn new(extra: &[(&str, &str)]) -> Self {
        let pg = PgSchema::create().await;
        let slack = FakeSlack::start().await;
        let kube = FakeKube::start().await;
        objects::broken(&kube);
        let dir = tempfile::tempdir().expect("temp dir");
        let config = write_config(dir.path());
        let text = std::fs::read_to_string(&config).expect("config");
        let example = "health_urls = [\"https://freightliner.example.com/health\", \"https://freightliner.example.com/ready\"]";
        assert!(
            text.contains(example),
            "the example's health_urls line moved"
        );
        let urls = format!("health_urls = [\"{0}/health\", \"{0}/ready\"]", kube.url);
        std::fs::write(&config, text.replace(example, &urls)).expect("write config");
        let helm = FakeHelm::new(dir.path());
        let mut env: Vec<(String, String)> = [
            ("FIREWATCH__STORE__URL", pg.url.clone()),
            ("FIREWATCH__SLACK__API_URL", format!("{}/api", slack.url)),
            ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-replicas".to_owned()),
            ("FIREWATCH__SLACK__SIGNING_SECRET", SECRET.to_owned()),
            (
                "FIREWATCH__KUBERNETES__KUBECONFIG",
                kube.kubeconfig(dir.path()).display().to_string(),
            ),
            ("FIREWATCH__HELM__BINARY", helm.binary.display().to_string()),
            ("FIREWATCH__SCHEDULER__TICK", "1s".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        Self {
            slack,
            helm,
            config,
            env,
            _kube: kube,
            _dir: dir,
            pg,
        }
    }

    fn replica(&self) -> Replica {
        Replica::start(&self.config, &self.env)
    }

    async fn count(&self, sql: &str) -> i64 {
        let pool: PgPool = self.pg.pool().await;
        let n = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&pool)
            .await
            .expect(sql);
        pool.close().await;
        n
    }

    /// Waits until every accepted request's answer was delivered.
    async fn drained(&self) {
        for _ in 0..200 {
            let open = self
                .count("SELECT count(*) FROM processed_requests WHERE delivered_at IS NULL AND payload IS NOT NULL")
                .await;
            if open == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("requests are still undelivered after 10 s");
    }

    /// Posts a signed button press (`value` is the command it runs) as Slack does.
    async fn press(&self, to: &Replica, user: &str, value: &str, trigger: &str) -> u16 {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": {"id": format!("U{}", user.to_uppercase()), "username": user, "name": user, "team_id": "T0001"},
            "api_app_id": "A123456",
            "container": {"type": "message", "message_ts": "1764385200.000100", "channel_id": "C0INC"},
            "trigger_id": trigger,
            "team": {"id": "T0001", "domain": "example"},
            "channel": {"id": "C0INC", "name": "incidents"},
            "response_url": self.slack.response_url(trigger),
            "actions": [{"action_id": "firewatch:0", "block_id": "b", "value": value,
                         "type": "button", "action_ts": "1764385201.1",
                         "text": {"type": "plain_text", "text": "Approve"}}]
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        post_signed(to.addr, "/slack/interactions", &body).await.0
    }

    /// The channel posts whose text contains `needle`.
    fn posts_with(&self, needle: &str) -> usize {
        self.slack
            .calls_to("chat.postMessage")
            .iter()
            .filter(|c| c.body.to_string().contains(needle))
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_slack_command_delivered_to_two_replicas_opens_one_incident() {
    let fleet = Fleet::new(&[]).await;
    let (a, b) = (fleet.replica(), fleet.replica());
    let line = "/incident-assess checkout errors for some users";
    let (ra, rb) = tokio::join!(
        send_command(a.addr, &fleet.slack, "alice", "C0INC", line, "8.1.same"),
        send_command(b.addr, &fleet.slack, "alice", "C0INC", line, "8.1.same"),
    );
    assert_eq!((ra.0, rb.0), (200, 200), "both acknowledged");
    fleet.slack.wait_calls("chat.postMessage", 1).await;
    fleet.drained().await;
    assert_eq!(fleet.count("SELECT count(*) FROM incidents").await, 1);
    assert_eq!(fleet.posts_with("INCIDENT DETECTED"), 1, "one channel post");
    assert_eq!(
        fleet
            .count("SELECT count(*) FROM timeline WHERE kind = 'detected'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_reminder_is_posted_once_by_two_replicas() {
    let fleet = Fleet::new(&[]).await;
    let (a, _b) = (fleet.replica(), fleet.replica());
    let line = "/incident-assess checkout errors for some users";
    send_command(a.addr, &fleet.slack, "alice", "C0INC", line, "8.2.a").await;
    fleet.slack.wait_calls("chat.postMessage", 1).await;
    fleet.drained().await;
    // The response target passes: as if five minutes went by, for both replicas at once.
    let past = chrono::Utc::now().timestamp_millis() - 60_000;
    let pool = fleet.pg.pool().await;
    sqlx::query("UPDATE reminders SET due_at = $1, fire_at = $1 WHERE kind = 'ack'")
        .bind(past)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    fleet.slack.wait_calls("chat.postMessage", 2).await;
    // Both replicas tick every second: give them several more chances to fire it again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        fleet
            .count("SELECT count(*) FROM timeline WHERE kind = 'response_target_missed'")
            .await,
        1
    );
    assert_eq!(
        fleet.slack.calls_to("chat.postMessage").len(),
        2,
        "the alert and one escalation: {:#?}",
        fleet.slack.calls_to("chat.postMessage")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvals_arriving_at_different_replicas_run_one_rollback() {
    let fleet = Fleet::new(&[("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2")]).await;
    let (a, b) = (fleet.replica(), fleet.replica());
    let line = "/incident-assess checkout errors for some users";
    send_command(a.addr, &fleet.slack, "alice", "C0INC", line, "8.3.a").await;
    fleet.slack.wait_calls("chat.postMessage", 1).await;
    send_command(
        b.addr,
        &fleet.slack,
        "bob",
        "C0INC",
        "/incident-rollback",
        "8.3.b",
    )
    .await;
    fleet.drained().await;
    assert_eq!(
        fleet
            .count("SELECT count(*) FROM approvals WHERE state = 'pending'")
            .await,
        1
    );
    assert!(
        fleet.helm.calls().is_empty(),
        "nothing runs before approval"
    );
    let (ca, cb) = tokio::join!(
        fleet.press(&a, "carol", "/incident-approve R1", "8.3.c"),
        fleet.press(&b, "dave", "/incident-approve R1", "8.3.d"),
    );
    assert_eq!((ca, cb), (200, 200));
    for _ in 0..200 {
        let finished = fleet
            .count("SELECT count(*) FROM approvals WHERE state IN ('succeeded', 'failed')")
            .await;
        if finished == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fleet.drained().await;
    // Several scheduler passes on both replicas: nothing resumes it again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rollbacks: Vec<String> = fleet
        .helm
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("rollback"))
        .collect();
    assert_eq!(rollbacks.len(), 1, "{rollbacks:?}");
    assert_eq!(
        fleet
            .count("SELECT count(*) FROM approvals WHERE state = 'succeeded'")
            .await,
        1
    );
    assert_eq!(
        fleet
            .count("SELECT count(*) FROM approval_votes WHERE vote = 'approve'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_starting_leaves_a_request_and_a_post_in_flight_on_another_alone() {
    let fleet = Fleet::new(&[]).await;
    let a = fleet.replica();
    // Slack is slow: A's alert waits on it in A's outbox, and so does the answer of a status
    // (only its author sees it) that A is running.
    let gate = fleet.slack.hold();
    let line = "/incident-assess checkout errors for some users";
    let (status, _) = send_command(a.addr, &fleet.slack, "alice", "C0INC", line, "8.4.a").await;
    assert_eq!(status, 200);
    fleet.slack.wait_calls("chat.postMessage", 1).await;
    let (status, _) = send_command(
        a.addr,
        &fleet.slack,
        "bob",
        "C0INC",
        "/incident-status",
        "8.4.b",
    )
    .await;
    assert_eq!(status, 200);
    fleet.slack.wait_calls("response_url", 1).await;
    let in_flight = "SELECT count(*) FROM processed_requests WHERE delivered_at IS NULL AND payload IS NOT NULL";
    assert_eq!(fleet.count(in_flight).await, 1);
    // B starts (and replays what it may, and sends what the outbox holds) while both are in
    // flight.
    let _b = fleet.replica();
    let pool = fleet.pg.pool().await;
    let (owner, attempts): (String, i64) = sqlx::query_as(
        "SELECT owner, attempts FROM processed_requests WHERE request_key = 'slack:command:8.4.b'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let first: String = sqlx::query_scalar("SELECT id FROM processes ORDER BY started_at LIMIT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    let sending: Option<String> = sqlx::query_scalar("SELECT claimed_by FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(owner, first, "still A's");
    assert_eq!(attempts, 0, "not replayed");
    assert_eq!(
        sending.as_deref(),
        Some(first.as_str()),
        "A still sends the alert"
    );
    gate.add_permits(1000);
    fleet.drained().await;
    fleet.slack.wait_calls("response_url", 1).await;
    assert_eq!(fleet.count("SELECT count(*) FROM incidents").await, 1);
    assert_eq!(fleet.posts_with("INCIDENT DETECTED"), 1);
    assert_eq!(
        fleet.slack.calls_to("response_url").len(),
        1,
        "answered once"
    );
    assert_eq!(
        fleet.posts_with("restarted"),
        0,
        "no one reports it as lost"
    );
}

#[tokio::test]
async fn the_postgres_store_comes_back_after_its_connections_are_cut() {
    let proxy = PgProxy::to_test_server().await;
    let pg = PgSchema::create_on(&proxy.url()).await;
    let store = SqlStore::connect(&pg.url).await.expect("store opens");
    store.ping().await.expect("up");
    proxy.off();
    let err = store.ping().await.expect_err("down while the proxy is off");
    assert!(
        firewatch::error_chain(&err).starts_with("store query failed"),
        "{}",
        firewatch::error_chain(&err)
    );
    let request = Inbound {
        key: "slack:command:cut".into(),
        payload: "{}".into(),
        received: chrono::Utc::now(),
        handled: false,
        attempts: 0,
    };
    assert!(
        store.accept_request(&request).await.is_err(),
        "not acknowledged"
    );
    proxy.on();
    let mut back = false;
    for _ in 0..100 {
        if store.ping().await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the store answers again once the database is back");
    assert!(store.accept_request(&request).await.expect("write after"));
    assert!(!store.accept_request(&request).await.expect("dedupe after"));
    store.close().await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_without_its_password() {
    // Nothing listens on port 1.
    let url = "postgres://fw:s3cret-pw@127.0.0.1:1/firewatch?sslmode=disable";
    let err = firewatch::store::open(url, firewatch::store::Access::Exclusive)
        .await
        .err()
        .expect("no database there");
    let text = firewatch::error_chain(&err);
    assert!(
        text.starts_with(
            "cannot open the store at postgres://fw:***@127.0.0.1:1/firewatch?sslmode=disable: "
        ),
        "{text}"
    );
    assert!(!text.contains("s3cret-pw"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_card_posted_by_one_replica_is_updated_by_the_other() {
    let fleet = Fleet::new(&[("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2")]).await;
    let (a, b) = (fleet.replica(), fleet.replica());
    let line = "/incident-assess checkout errors for some users";
    send_command(b.addr, &fleet.slack, "alice", "C0INC", line, "8.6.a").await;
    fleet.slack.wait_calls("chat.postMessage", 1).await;
    // B posts the request's card (with its buttons)…
    send_command(
        b.addr,
        &fleet.slack,
        "bob",
        "C0INC",
        "/incident-rollback",
        "8.6.b",
    )
    .await;
    fleet.drained().await;
    let card = fleet
        .slack
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.body.to_string().contains("Approval needed"))
        .expect("the request's card");
    assert!(card.body.to_string().contains("\"actions\""), "buttons");
    // …and both approvals reach A, which edits B's message at every step.
    assert_eq!(
        fleet
            .press(&a, "carol", "/incident-approve R1", "8.6.c")
            .await,
        200
    );
    fleet.drained().await;
    assert_eq!(
        fleet
            .press(&a, "dave", "/incident-approve R1", "8.6.d")
            .await,
        200
    );
    let updates = fleet.slack.wait_calls("chat.update", 3).await;
    fleet.drained().await;
    assert_eq!(fleet.helm.calls().len(), 1, "{:?}", fleet.helm.calls());
    let last = updates.last().expect("an update").body.to_string();
    assert!(
        !last.contains("\"actions\""),
        "closed: no buttons left: {last}"
    );
    assert!(last.contains("done"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_group_reaching_two_replicas_at_once_opens_one_incident() {
    use crate::alerts::{TOKEN, alert, intake::post, notification};
    let fleet = Fleet::new(&[
        ("FIREWATCH__ALERTS__TOKEN", TOKEN),
        ("FIREWATCH__ALERTS__CHANNEL", "C0INC"),
    ])
    .await;
    let (a, b) = (fleet.replica(), fleet.replica());
    let bearer = format!("Bearer {TOKEN}");
    let one = alert("HighErrorRate", "fp-a", "critical", -4, None);
    let two = alert("HighErrorRate", "fp-b", "critical", -3, None);
    // The HA pair's two copies, one at each replica…
    let same = notification("HighErrorRate", std::slice::from_ref(&one)).to_string();
    let (ra, rb) = tokio::join!(
        post(a.addr, &same, Some(&bearer)),
        post(b.addr, &same, Some(&bearer))
    );
    assert_eq!((ra.0, rb.0), (200, 200));
    // …and, for a second group, two different states of it at once.
    let first = notification("HighLatency", std::slice::from_ref(&one)).to_string();
    let both = notification("HighLatency", &[one, two]).to_string();
    let (ra, rb) = tokio::join!(
        post(a.addr, &first, Some(&bearer)),
        post(b.addr, &both, Some(&bearer))
    );
    assert_eq!((ra.0, rb.0), (200, 200));
    fleet.drained().await;
    assert_eq!(fleet.count("SELECT count(*) FROM incidents").await, 2);
    assert_eq!(fleet.posts_with("INCIDENT DETECTED"), 2, "one 🚨 per group");
    assert_eq!(
        fleet.count("SELECT count(*) FROM alerts").await,
        3,
        "every alert of both groups recorded once"
    );
}
