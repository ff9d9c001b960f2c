//! The real `firewatch serve` binary stopped with SIGTERM or Ctrl-C (SIGINT) while a command is
//! in flight; its logs as JSON lines; secrets read from files and never logged; its threads'
//! priorities.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use firewatch::store::Store;

use crate::fake_slack::FakeSlack;
use crate::helpers::write_config;
use crate::slack::{SECRET, send_command};

const TOKEN: &str = "xoxb-shutdown-test-token";

pub struct Serving {
    pub child: Child,
    pub addr: std::net::SocketAddr,
    /// Every stderr line, as it comes.
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

/// Starts `firewatch serve` on a store in `dir`, Slack at `fake`, the bot token and signing
/// secret read from files (with trailing newlines), JSON logs.
async fn serve(dir: &Path, fake: &FakeSlack) -> Serving {
    serve_with(dir, fake, &[]).await
}

/// [`serve`] with more environment variables.
pub async fn serve_with(dir: &Path, fake: &FakeSlack, env: &[(&str, &str)]) -> Serving {
    let config = write_config(dir);
    std::fs::write(dir.join("bot-token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.join("signing-secret"), format!("{SECRET}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("FIREWATCH__SLACK__API_URL", format!("{}/api", fake.url))
        .env("FIREWATCH__SLACK__BOT_TOKEN_FILE", dir.join("bot-token"))
        .env(
            "FIREWATCH__SLACK__SIGNING_SECRET_FILE",
            dir.join("signing-secret"),
        )
        .env("FIREWATCH__SERVER__LISTEN", "127.0.0.1:0")
        .env("FIREWATCH__SERVER__SHUTDOWN_GRACE", "30s")
        .env("FIREWATCH__LOG__FORMAT", "json")
        .env("RUST_LOG", "firewatch=debug")
        .env_remove("KUBECONFIG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("firewatch starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (send, mut lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.recv().await.expect("firewatch says where it serves");
            seen.push(line.clone());
            if let Some(addr) = line.strip_prefix("firewatch: serving on ") {
                return addr.parse().unwrap();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("firewatch did not start: {seen:#?}"));
    Serving {
        child,
        addr,
        lines,
        seen,
    }
}

impl Serving {
    /// Alice opens an incident in `C0INC` (Slack trigger id `trigger`); it is acknowledged.
    async fn assess(&self, fake: &FakeSlack, trigger: &str) {
        let (status, _) = send_command(
            self.addr,
            fake,
            "alice",
            "C0INC",
            "/incident-assess checkout returning 500s",
            trigger,
        )
        .await;
        assert_eq!(status, 200);
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit; returns its code and every stderr line.
    async fn exit(mut self) -> (Option<i32>, Vec<String>) {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("firewatch exits")
            .unwrap();
        while let Some(line) = self.lines.recv().await {
            self.seen.push(line);
        }
        (status.code(), self.seen)
    }
}

/// Checks that every log line is a JSON object with a level and a message, and that no line
/// holds a secret.
fn check_logs(lines: &[String]) -> Vec<serde_json::Value> {
    let mut logs = Vec::new();
    for line in lines {
        assert!(!line.contains(TOKEN), "the bot token leaked: {line}");
        assert!(!line.contains(SECRET), "the signing secret leaked: {line}");
        if line.starts_with("firewatch: serving on ") {
            continue; // the one plain line, for people and scripts
        }
        let log: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(log["level"].is_string(), "{line}");
        assert!(log["timestamp"].is_string(), "{line}");
        assert!(log["fields"]["message"].is_string(), "{line}");
        logs.push(log);
    }
    logs
}

async fn rows(dir: &Path, sql: &'static str) -> i64 {
    let store = firewatch::store::SqlStore::connect(&format!(
        "sqlite://{}",
        dir.join("firewatch.db").display()
    ))
    .await
    .unwrap();
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(store.pool()).await.unwrap();
    store.close().await;
    n
}

#[tokio::test]
async fn sigterm_lets_a_command_in_flight_commit_and_answer_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSlack::start().await;
    let serving = serve(dir.path(), &fake).await;
    // Slack is slow: the alert's post waits until the gate opens.
    let gate = fake.hold();
    serving.assess(&fake, "sd.1").await;
    let posts = fake.wait_calls("chat.postMessage", 1).await;
    assert_eq!(posts[0].auth.as_deref(), Some(&*format!("Bearer {TOKEN}")));

    serving.signal("TERM");
    // It stops accepting at once, while the command is still waiting on Slack.
    let mut refused = false;
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(serving.addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(refused, "the listener closed on SIGTERM");
    gate.add_permits(1_000);

    let (code, lines) = serving.exit().await;
    assert_eq!(code, Some(0), "{lines:#?}");
    let logs = check_logs(&lines);
    let messages: Vec<&str> = logs
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(messages.contains(&"shutting down"), "{messages:?}");
    assert!(messages.contains(&"stopped"), "{messages:?}");
    // The command's effect is committed and its answer delivered before the exit.
    assert_eq!(rows(dir.path(), "SELECT count(*) FROM incidents").await, 1);
    assert_eq!(
        rows(
            dir.path(),
            "SELECT count(*) FROM processed_requests WHERE request_key = 'slack:command:sd.1' \
             AND done_at IS NOT NULL AND delivered_at IS NOT NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn ctrl_c_stops_an_idle_server_with_exit_code_0() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeSlack::start().await;
    let serving = serve(dir.path(), &fake).await;
    serving.signal("INT");
    let (code, lines) = serving.exit().await;
    assert_eq!(code, Some(0), "{lines:#?}");
    // What check-config warns about, the start logs too.
    let warned: Vec<String> = check_logs(&lines)
        .iter()
        .filter(|l| l["level"] == "WARN")
        .filter_map(|l| l["fields"]["message"].as_str().map(str::to_owned))
        .collect();
    for said in [
        "approvals.rollback: anyone but the requester may approve",
        "slack.team_ids is empty",
    ] {
        assert!(warned.iter().any(|w| w.starts_with(said)), "{warned:#?}");
    }
}

#[test]
fn check_config_never_shows_a_secret_even_when_debugging() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .args(["check-config", "--config"])
        .arg(&config)
        .env("FIREWATCH__SLACK__BOT_TOKEN_FILE", dir.path().join("token"))
        .env("FIREWATCH__SLACK__SIGNING_SECRET", SECRET)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains(": ok"), "{all}");
    assert!(!all.contains(TOKEN) && !all.contains(SECRET), "{all}");
    // Both the value and the file: refused, naming the key and not the value.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_firewatch"))
        .args(["check-config", "--config"])
        .arg(&config)
        .env("FIREWATCH__SLACK__BOT_TOKEN_FILE", dir.path().join("token"))
        .env("FIREWATCH__SLACK__BOT_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("slack.bot_token_file"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
}
