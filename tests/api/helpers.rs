//! Starts firewatch exactly as the CLI does (through `startup::build`), on a temporary store and a
//! clock the test moves by hand, and talks to it through the terminal channel.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use firewatch::app::startup::{self, App};
use firewatch::chat::console;
use firewatch::clock::ManualClock;
use firewatch::config::Settings;
use firewatch::engine::outbox::{self, Outbox};
use firewatch::incident::{ChannelRef, Platform};
use firewatch::incident::{IncidentId, TimelineEntry};
use firewatch::message::Message;
use tempfile::TempDir;

use crate::support::FakeHelm;
use crate::support::kube::FakeKube;
use crate::support::pg::PgSchema;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `bot.toml.example` with the store moved to `dir` and templates read from the repository.
pub fn write_config(dir: &Path) -> PathBuf {
    let example = std::fs::read_to_string(repo().join("bot.toml.example")).expect("example config");
    let text = example
        .replace(
            "url = \"sqlite://firewatch.db\"",
            &format!("url = \"sqlite://{}\"", dir.join("firewatch.db").display()),
        )
        .replace(
            "# dir = \"messages\"",
            &format!("dir = \"{}\"", repo().join("messages").display()),
        );
    assert_ne!(
        text, example,
        "the example's store and messages lines moved"
    );
    let path = dir.join("bot.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// Sends firewatch's logs to the test's output (shown when a test fails, captured otherwise).
pub fn capture_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "firewatch=info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's temporary folder.
    Sqlite,
    /// A fresh schema on the test Postgres server, dropped afterwards.
    Postgres,
}

/// A firewatch on a temporary store, at 2026-11-29 03:00 UTC until moved.
pub struct TestApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
    env: Vec<(String, String)>,
    health_urls: Option<String>,
    /// TOML appended to the example config (`[[jobs]]` entries…).
    extra: Option<String>,
    /// The Postgres schema, when on Postgres (last: dropped after the app).
    pub pg: Option<PgSchema>,
}

/// Overrides that let every change run at once (policy 0).
pub const NO_APPROVALS: [(&str, &str); 3] = [
    ("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "0"),
    ("FIREWATCH__APPROVALS__SCALE__REQUIRED", "0"),
    ("FIREWATCH__APPROVALS__ACTION__REQUIRED", "0"),
];

/// The start time of every test app.
pub fn test_start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap()
}

/// A firewatch with a cluster: the fake API server, the fake helm, and the app pointed at both.
pub struct ClusterApp {
    pub t: TestApp,
    pub kube: FakeKube,
    pub helm: FakeHelm,
}

impl ClusterApp {
    /// Starts the fakes (the cluster empty until filled) and firewatch pointed at them, with
    /// `env` overrides (`FIREWATCH__…`).
    pub async fn spawn(env: &[(&str, &str)]) -> Self {
        Self::spawn_on(FakeKube::start().await, env).await
    }

    /// As [`ClusterApp::spawn`] with no approval needed for any change (the tests of what a
    /// change does; the approval tests set their own policy).
    pub async fn spawn_unapproved(env: &[(&str, &str)]) -> Self {
        let mut all = NO_APPROVALS.to_vec();
        all.extend_from_slice(env);
        Self::spawn(&all).await
    }

    /// As [`ClusterApp::spawn`], with `prometheus.url` at the fake (which serves `/api/v1/query`).
    pub async fn spawn_with_prometheus() -> Self {
        let kube = FakeKube::start().await;
        let url = kube.url.clone();
        Self::spawn_on(kube, &[("FIREWATCH__PROMETHEUS__URL", &url)]).await
    }

    /// As [`ClusterApp::spawn`] with `toml` appended to the config (`[[jobs]]`, `[verification]`).
    pub async fn spawn_with_toml(toml: &str, env: &[(&str, &str)]) -> Self {
        Self::spawn_on_with(FakeKube::start().await, env, Some(toml.to_owned())).await
    }

    async fn spawn_on(kube: FakeKube, env: &[(&str, &str)]) -> Self {
        Self::spawn_on_with(kube, env, None).await
    }

    async fn spawn_on_with(kube: FakeKube, env: &[(&str, &str)], extra: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = kube.kubeconfig(dir.path());
        let helm = FakeHelm::new(dir.path());
        // The test's own overrides come last and win.
        let mut all = vec![
            (
                "FIREWATCH__KUBERNETES__KUBECONFIG".to_owned(),
                kubeconfig.display().to_string(),
            ),
            (
                "FIREWATCH__HELM__BINARY".to_owned(),
                helm.binary.display().to_string(),
            ),
        ];
        all.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let env = all;
        let urls = format!("[\"{0}/health\", \"{0}/ready\"]", kube.url);
        let clock = Arc::new(ManualClock::new(test_start()));
        let t = TestApp::start_with(dir, clock, env, Some(urls), extra).await;
        Self { t, kube, helm }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        capture_logs();
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start(dir, Arc::new(ManualClock::new(test_start())), Vec::new()).await
    }

    /// A firewatch on `backend` (a fresh Postgres schema for [`Backend::Postgres`]).
    pub async fn spawn_on(backend: Backend) -> Self {
        Self::spawn_on_with(backend, Vec::new()).await
    }

    /// [`TestApp::spawn_on`] with these `FIREWATCH__…` overrides too.
    pub async fn spawn_on_with(backend: Backend, env: Vec<(String, String)>) -> Self {
        Self::spawn_on_with_toml(backend, "", env).await
    }

    /// [`TestApp::spawn_on_with`] with `toml` appended to its config too.
    pub async fn spawn_on_with_toml(
        backend: Backend,
        toml: &str,
        mut env: Vec<(String, String)>,
    ) -> Self {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(PgSchema::create().await),
        };
        if let Some(pg) = &pg {
            env.push(("FIREWATCH__STORE__URL".into(), pg.url.clone()));
        }
        let mut t = Self::spawn_with_toml(toml, env).await;
        t.pg = pg;
        t
    }

    /// A firewatch with `toml` appended to its config (`[people.NAME]`, which only the file
    /// sets) and these `FIREWATCH__…` overrides.
    pub async fn spawn_with_toml(toml: &str, env: Vec<(String, String)>) -> Self {
        capture_logs();
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(test_start()));
        Self::start_with(dir, clock, env, None, Some(toml.to_owned())).await
    }

    /// A firewatch whose settings also take these `FIREWATCH__…` overrides.
    pub async fn spawn_with(env: Vec<(String, String)>) -> Self {
        capture_logs();
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start(dir, Arc::new(ManualClock::new(test_start())), env).await
    }

    async fn start(dir: TempDir, clock: Arc<ManualClock>, env: Vec<(String, String)>) -> Self {
        Self::start_with(dir, clock, env, None, None).await
    }

    /// Starts on `bot.toml.example` with `env` overrides and, when given, the service's
    /// `health_urls` replaced (a TOML list).
    async fn start_with(
        dir: TempDir,
        clock: Arc<ManualClock>,
        env: Vec<(String, String)>,
        health_urls: Option<String>,
        extra: Option<String>,
    ) -> Self {
        let path = write_config(dir.path());
        if let Some(extra) = &extra {
            let mut text = std::fs::read_to_string(&path).expect("config");
            text.push('\n');
            text.push_str(extra);
            std::fs::write(&path, text).expect("write config");
        }
        if let Some(urls) = &health_urls {
            let text = std::fs::read_to_string(&path).expect("config");
            let example = "health_urls = [\"https://freightliner.example.com/health\", \"https://freightliner.example.com/ready\"]";
            assert!(
                text.contains(example),
                "the example's health_urls line moved"
            );
            let text = text.replace(example, &format!("health_urls = {urls}"));
            std::fs::write(&path, text).expect("write config");
        }
        let settings = Settings::load_with_env(&path, env.clone()).expect("settings load");
        let app = startup::build(settings, clock.clone(), firewatch::store::Access::Exclusive)
            .await
            .expect("app starts");
        Self {
            app,
            clock,
            dir,
            env,
            health_urls,
            extra,
            pg: None,
        }
    }

    /// Stops this firewatch and starts a new one on the same store and clock.
    pub async fn restart(self) -> Self {
        let Self {
            app,
            clock,
            dir,
            env,
            health_urls,
            extra,
            pg,
        } = self;
        app.store.close().await;
        drop(app);
        let mut t = Self::start_with(dir, clock, env, health_urls, extra).await;
        t.pg = pg;
        t
    }

    pub fn advance_minutes(&self, minutes: i64) {
        self.clock.advance(TimeDelta::minutes(minutes));
    }

    /// Types `lines` into the console as `user` in `channel`; returns everything printed.
    pub async fn console(&self, user: &str, channel: &str, lines: &str) -> String {
        let mut out = Vec::new();
        let options = console::Options {
            user: user.into(),
            channel: channel.into(),
            colour: false,
        };
        console::run(&self.app.engine, lines.as_bytes(), &mut out, options, None)
            .await
            .expect("console runs");
        String::from_utf8(out).expect("utf-8 output")
    }

    /// One command as alice in #ops.
    pub async fn say(&self, line: &str) -> String {
        self.console("alice", "ops", line).await
    }

    pub async fn timeline(&self, id: i64) -> Vec<TimelineEntry> {
        self.app
            .store
            .timeline(IncidentId::new(id).expect("positive id"))
            .await
            .expect("timeline loads")
    }

    pub async fn version(&self, id: i64) -> i64 {
        self.app
            .store
            .incident(IncidentId::new(id).expect("positive id"))
            .await
            .expect("incident loads")
            .expect("incident exists")
            .version
    }
}

/// An outbox that keeps what the bot posts on its own.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<(ChannelRef, Message)>>);

#[async_trait]
impl Outbox for Recorder {
    async fn post(&self, channel: &ChannelRef, message: &Message) -> outbox::Result<()> {
        let mut posted = self.0.lock().expect("not poisoned");
        posted.push((channel.clone(), message.clone()));
        Ok(())
    }
}

impl Recorder {
    /// Every message posted so far, in order; forgets them.
    pub fn take(&self) -> Vec<Message> {
        let mut posted = self.0.lock().expect("not poisoned");
        posted.drain(..).map(|(_, m)| m).collect()
    }

    /// Every message posted so far as plain text (headline and body), in order; forgets them.
    pub fn take_text(&self) -> Vec<String> {
        self.take().iter().map(Message::plain_text).collect()
    }
}

impl TestApp {
    /// Routes the console platform's posts to a new recorder.
    pub fn record_posts(&self) -> Arc<Recorder> {
        let recorder = Arc::new(Recorder::default());
        self.app.outbox.route(Platform::Console, recorder.clone());
        recorder
    }

    /// One scheduler tick at the current manual time; how many timers fired.
    pub async fn tick(&self) -> usize {
        firewatch::scheduler::tick(&self.app.engine).await
    }
}

/// Asserts that `haystack` contains every one of `needles`, showing the whole output otherwise.
#[track_caller]
pub fn assert_has(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "missing {needle:?} in:\n{haystack}"
        );
    }
}

/// Sends a raw HTTP/1.1 request (with `Connection: close`) and returns the status and body.
pub async fn http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Runs each named `async fn(Backend)` once per backend, as `<name>::sqlite` and
/// `<name>::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::helpers::Backend;

                #[tokio::test]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$name(Backend::Postgres).await;
                }
            }
        )*
    };
}

pub(crate) use on_both_backends;
