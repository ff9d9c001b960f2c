//! A SQLite store on a small tmpfs that fills up, then gets its space back: commands
//! acknowledged before or during the fault run once when writes succeed again, without a
//! restart; `/readyz` is 503 with the reason meanwhile.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use firewatch::app::serve;
use firewatch::incident::Incident;
use firewatch::store::Store;
use sqlx::SqlitePool;
use tokio::sync::Semaphore;

use super::{acknowledged, eventually, incidents_in, never_said, notes, slack_env, texts};
use crate::fake_slack::FakeSlack;
use crate::health::get;
use crate::helpers::ClusterApp;
use crate::slack::send_command;
use crate::support::kube::Fault;

/// A tmpfs of its own, unmounted when dropped.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`16m`); `None` (said on stderr) where this process may not
    /// mount one.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().to_owned();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status();
        match mounted {
            Ok(status) if status.success() => Some(Self { _dir: dir, path }),
            other => {
                eprintln!(
                    "skipped: cannot mount a tmpfs here ({other:?}); this test needs root (or \
                     CAP_SYS_ADMIN) to fill a disk of its own"
                );
                None
            }
        }
    }

    /// Fills the file system: a file grows until no byte more fits.
    fn fill(&self) -> PathBuf {
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        for chunk in [1 << 20, 4096, 1] {
            let bytes = vec![0_u8; chunk];
            while file.write_all(&bytes).is_ok() {}
        }
        // Whatever was buffered in part is on the file system's side now.
        let _ = file.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Starts every write from an empty write-ahead log (SQLite otherwise writes over log space it
/// already has), so that a full disk fails every commit.
async fn empty_the_log(db: &Path) {
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("a second connection");
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&pool)
        .await
        .expect("checkpoint");
    assert_eq!(busy, 0, "the checkpoint was not blocked");
    pool.close().await;
}

/// A firewatch serving Slack on a SQLite store on its own tmpfs, with one incident in `C0OPS`,
/// and assessments in [`CHANNELS`] acknowledged and failing on a full disk, each author told
/// that firewatch keeps trying.
struct FullDisk {
    fake: FakeSlack,
    c: ClusterApp,
    running: serve::Running,
    /// The incident opened before the fault.
    ops: Incident,
    filler: PathBuf,
    /// Unmounted when the test ends (dropped last, after the app).
    _disk: Tmpfs,
}

/// Where the assessments caught by the fault are typed.
const CHANNELS: [&str; 3] = ["C0DISK1", "C0DISK2", "C0DISK3"];

impl FullDisk {
    /// `None` where no tmpfs can be mounted.
    async fn start() -> Option<Self> {
        crate::helpers::capture_logs();
        let disk = Tmpfs::mount("16m")?;
        let db = disk.path.join("fw.db");
        let fake = FakeSlack::start().await;
        let url = format!("sqlite://{}", db.display());
        let env = slack_env(
            &fake,
            &[
                ("FIREWATCH__STORE__URL", &url),
                // Assessments wait for the cluster as long as the test holds it.
                ("FIREWATCH__ASSESS__EVIDENCE_TIMEOUT", "10m"),
            ],
        );
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (&k[..], &v[..])).collect();
        let c = ClusterApp::spawn(&env).await;
        let running = serve::start(&c.t.app, "127.0.0.1:0")
            .await
            .expect("serve starts");
        let (store, addr) = (c.t.app.store.as_ref(), running.addr);
        let send = |channel: &'static str, line: String, trigger: String| {
            let fake = fake.clone();
            async move { send_command(addr, &fake, "alice", channel, &line, &trigger).await }
        };
        let opened = send(
            "C0OPS",
            "/incident-assess checkout down".into(),
            "d.0".into(),
        )
        .await;
        assert!(acknowledged(&opened));
        eventually("the first incident", || async {
            incidents_in(store, "C0OPS").await.len() == 1
        })
        .await;
        let ops = incidents_in(store, "C0OPS").await.remove(0);
        assert_eq!(get(addr, "/readyz").await.0, 200);

        // Three assessments are acknowledged (stored in the inbox) and wait for the cluster.
        let cluster = Arc::new(Semaphore::new(0));
        c.kube.fail("/", Fault::Hang(Arc::clone(&cluster)));
        for (i, channel) in CHANNELS.into_iter().enumerate() {
            let line = format!("/incident-assess payments stuck {i}");
            assert!(acknowledged(&send(channel, line, format!("d.{i}.a")).await));
        }
        // The disk fills up; the cluster answers; every commit fails.
        empty_the_log(&db).await;
        let filler = disk.fill();
        cluster.add_permits(1 << 20);
        c.kube.heal();
        let full = Self {
            fake,
            c,
            running,
            ops,
            filler,
            _disk: disk,
        };
        // Each assessment failed twice: its author hears once that firewatch keeps trying.
        full.each_author_told("has not done that yet").await;
        Some(full)
    }

    fn store(&self) -> &dyn Store {
        self.c.t.app.store.as_ref()
    }

    fn addr(&self) -> std::net::SocketAddr {
        self.running.addr
    }

    async fn send(&self, channel: &str, line: &str, trigger: &str) -> (u16, String) {
        send_command(self.addr(), &self.fake, "alice", channel, line, trigger).await
    }

    /// Waits until each assessment's author got exactly one answer saying `headline` about it.
    async fn each_author_told(&self, headline: &str) {
        eventually(&format!("{headline:?} to each author"), || async {
            let told = texts(&self.fake.calls_to("response_url"));
            (0..CHANNELS.len()).all(|i| {
                told.iter()
                    .filter(|t| t.contains(headline))
                    .filter(|t| t.contains(&format!("payments stuck {i}")))
                    .count()
                    == 1
            })
        })
        .await;
    }

    async fn stop(self) {
        self.running.stop().await.expect("stops");
        self.c.t.app.store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_acknowledged_while_the_disk_is_full_run_once_when_space_is_back() {
    let Some(full) = FullDisk::start().await else {
        return;
    };
    let (store, addr) = (full.store(), full.addr());
    // Commands arriving now are acknowledged only if the inbox could store them.
    let mut during = Vec::new();
    for i in 0..3 {
        let text = format!("note during the fault {i}");
        let line = format!("/incident-note {text}");
        let answer = full.send("C0OPS", &line, &format!("d.n{i}")).await;
        during.push((text, acknowledged(&answer)));
    }
    eventually("/readyz says why it is not ready", || async {
        let (status, _, body) = get(addr, "/readyz").await;
        status == 503 && body.starts_with("store: writes fail: ") && body.contains("full")
    })
    .await;
    for channel in CHANNELS {
        assert!(incidents_in(store, channel).await.is_empty(), "{channel}");
    }

    // Space is back: the same process, with the same connection pools, writes again.
    std::fs::remove_file(&full.filler).expect("free the disk");
    for channel in CHANNELS {
        eventually(&format!("the incident of {channel}"), || async {
            !incidents_in(store, channel).await.is_empty()
        })
        .await;
    }
    eventually("/readyz is 200 again", || async {
        get(addr, "/readyz").await.0 == 200
    })
    .await;
    let ops = &full.ops;
    for (text, acked) in &during {
        if *acked {
            eventually(text, || async { notes(store, ops).await.contains(text) }).await;
        }
    }
    let after = full
        .send("C0OPS", "/incident-note written after the fault", "d.after")
        .await;
    assert!(acknowledged(&after));
    eventually("the note after the fault", || async {
        notes(store, ops)
            .await
            .contains(&"written after the fault".to_owned())
    })
    .await;

    // Exactly once: one incident and one alert per assessment; each note once, or never when
    // it was not acknowledged.
    for channel in CHANNELS {
        assert_eq!(incidents_in(store, channel).await.len(), 1, "{channel}");
        let alerts = full
            .fake
            .calls_to("chat.postMessage")
            .into_iter()
            .filter(|call| call.body["channel"] == channel)
            .count();
        assert_eq!(alerts, 1, "{channel}");
    }
    let written = notes(store, ops).await;
    for (text, acked) in &during {
        let times = written.iter().filter(|n| *n == text).count();
        assert_eq!(times, usize::from(*acked), "{text} (acknowledged: {acked})");
    }
    never_said(&full.fake, "could not do a command");
    full.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_fails_until_its_reply_window_ends_is_given_up_with_a_word_to_its_author() {
    let Some(full) = FullDisk::start().await else {
        return;
    };
    // Slack's 30 minutes for an answer run out while the disk is still full.
    full.c.t.clock.advance(chrono::TimeDelta::minutes(31));
    full.each_author_told("could not do a command").await;

    // Space is back; a new command runs, the given-up ones stay undone.
    std::fs::remove_file(&full.filler).expect("free the disk");
    let store = full.store();
    let answer = full
        .send("C0OPS", "/incident-note the disk has room again", "d.room")
        .await;
    assert!(acknowledged(&answer));
    eventually("the note after the fault", || async {
        notes(store, &full.ops)
            .await
            .contains(&"the disk has room again".to_owned())
    })
    .await;
    for channel in CHANNELS {
        assert!(incidents_in(store, channel).await.is_empty(), "{channel}");
    }
    never_said(&full.fake, "what that did is saved");
    full.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_waiting_to_try_again_runs_once_after_a_restart() {
    let Some(full) = FullDisk::start().await else {
        return;
    };
    let FullDisk {
        fake,
        mut c,
        running,
        filler,
        _disk,
        ..
    } = full;
    // Shutdown ends the waits; the assessments stay unhandled in the inbox.
    running.stop().await.expect("stops");
    std::fs::remove_file(&filler).expect("free the disk");
    c.t = c.t.restart().await;
    let running = serve::start(&c.t.app, "127.0.0.1:0")
        .await
        .expect("serve starts again");
    let store = c.t.app.store.as_ref();
    for channel in CHANNELS {
        eventually(&format!("the incident of {channel}"), || async {
            !incidents_in(store, channel).await.is_empty()
        })
        .await;
    }
    for channel in CHANNELS {
        assert_eq!(incidents_in(store, channel).await.len(), 1, "{channel}");
    }
    never_said(&fake, "could not do a command");
    running.stop().await.expect("stops");
    c.t.app.store.close().await;
}
