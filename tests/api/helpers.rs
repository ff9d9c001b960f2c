//! Starts firewatch exactly as the CLI does (through `startup::build`), on a temporary store and a
//! clock the test moves by hand, and talks to it through the terminal channel.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use firewatch::chat::console;
use firewatch::chat::outbox::{self, Outbox};
use firewatch::clock::ManualClock;
use firewatch::config::Settings;
use firewatch::incident::{ChannelRef, Platform};
use firewatch::incident::{IncidentId, TimelineEntry};
use firewatch::message::Message;
use firewatch::startup::{self, App};
use tempfile::TempDir;

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
            "dir = \"messages\"",
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

/// A firewatch on a temporary store, at 2026-11-29 03:00 UTC until moved.
pub struct TestApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
    env: Vec<(String, String)>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        // Logs appear with a failing test's output (and are captured otherwise).
        let _ = tracing_subscriber::fmt()
            .with_env_filter("firewatch=info")
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let start = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap();
        Self::start(dir, Arc::new(ManualClock::new(start))).await
    }

    /// A firewatch whose settings also take these `FIREWATCH__…` overrides.
    pub async fn spawn_with(env: Vec<(String, String)>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let start = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap();
        Self::start_with(dir, Arc::new(ManualClock::new(start)), env).await
    }

    async fn start(dir: TempDir, clock: Arc<ManualClock>) -> Self {
        Self::start_with(dir, clock, Vec::new()).await
    }

    async fn start_with(dir: TempDir, clock: Arc<ManualClock>, env: Vec<(String, String)>) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("firewatch=info")
            .with_test_writer()
            .try_init();
        let settings =
            Settings::load_with_env(&write_config(dir.path()), env.clone()).expect("settings load");
        let app = startup::build(settings, clock.clone())
            .await
            .expect("app starts");
        Self {
            app,
            clock,
            dir,
            env,
        }
    }

    /// Stops this firewatch and starts a new one on the same store and clock.
    pub async fn restart(self) -> Self {
        let Self {
            app,
            clock,
            dir,
            env,
        } = self;
        drop(app);
        Self::start_with(dir, clock, env).await
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
            interactive: false,
            colour: false,
        };
        console::run(&self.app.engine, lines.as_bytes(), &mut out, options)
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
    /// Every message posted so far, as plain text, in order; forgets them.
    pub fn take(&self) -> Vec<Message> {
        let mut posted = self.0.lock().expect("not poisoned");
        posted.drain(..).map(|(_, m)| m).collect()
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
