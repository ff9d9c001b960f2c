//! Whether the store is fit to serve, for `/readyz` and the log: whether its writes succeed and,
//! on SQLite, whether the database file it writes is still the one at the configured path.
//!
//! A heartbeat task writes every [`HEARTBEAT`] (Postgres: renews this process's lease row;
//! SQLite: rewrites the one row of `heartbeat`) and records the outcome, as do the inbox's
//! batches of writes ([`super::marks`]), which every acknowledgement waits for. A store that
//! stops taking writes is reported within one heartbeat (at once when a batch fails), and one that
//! takes them again is seen to recover at the next heartbeat, with no other traffic. Each change
//! of state is logged once, with its reason.
//!
//! # Guarantees
//! - While every write fails, [`Health::problem`] names the failure: the heartbeat is a write.
//! - Once writes succeed again, the next heartbeat (or batch of inbox writes) clears it.
//! - A SQLite file deleted or replaced under the running process is reported by every check
//!   from then on (SQLite goes on writing to the deleted file, which is lost when the process
//!   ends), and logged once.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sqlx::AnyPool;
use tokio::task::JoinHandle;

use super::dialect::Dialect;
use crate::store::{Error, Result};

/// How often the heartbeat writes (and, on Postgres, renews this process's lease).
pub(super) const HEARTBEAT: Duration = Duration::from_secs(5);
/// How soon after a heartbeat a readiness check that finds writes failing may write one of its
/// own, to see a recovery before the next heartbeat.
const PROBE_AGAIN: Duration = Duration::from_secs(1);

/// What the store knows of its own fitness.
#[derive(Debug)]
pub(super) struct Health {
    state: Mutex<State>,
    /// SQLite: the database file and its identity when it was opened.
    file: Option<Opened>,
}

#[derive(Debug, Default)]
struct State {
    /// Why writes fail, while they do.
    writes: Option<String>,
    /// What became of the database file, once it is not the file opened.
    file: Option<String>,
    /// When the last heartbeat was written (or tried).
    beat: Option<Instant>,
}

#[derive(Debug)]
struct Opened {
    path: PathBuf,
    identity: Option<(u64, u64)>,
}

impl Health {
    /// The health of a store just opened; `file` is the SQLite database file (already created).
    pub(super) fn new(file: Option<&Path>) -> Self {
        Self {
            state: Mutex::default(),
            file: file.map(|path| Opened {
                path: std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
                identity: identity(path),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records how a write came out. Callers leave out a write the database refused for its own
    /// data ([`Dialect::own_fault`]): that says nothing about the store.
    pub(super) fn wrote(&self, outcome: std::result::Result<(), &Error>) {
        let mut state = self.state();
        match (outcome, &state.writes) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => {
                state.writes = None;
                tracing::info!("store writes succeed again");
            }
            (Err(e), _) => {
                let reason = crate::error_chain(e);
                if state.writes.is_none() {
                    tracing::error!(
                        %reason,
                        "store writes fail: commands cannot be saved; /readyz reports not ready \
                         until a write succeeds"
                    );
                }
                state.writes = Some(reason);
            }
        }
    }

    /// What makes the store unfit to serve now, if anything: its database file gone or
    /// replaced, its writes failing.
    pub(super) fn problem(&self) -> Option<String> {
        let file = self.file_problem();
        let state = self.state();
        let writes = state.writes.as_ref().map(|w| format!("writes fail: {w}"));
        match (file, writes) {
            (Some(file), Some(writes)) => Some(format!("{file}; {writes}")),
            (file, writes) => file.or(writes),
        }
    }

    /// Whether writes were failing and no heartbeat was tried for [`PROBE_AGAIN`].
    pub(super) fn wants_probe(&self) -> bool {
        let state = self.state();
        state.writes.is_some() && state.beat.is_none_or(|at| at.elapsed() >= PROBE_AGAIN)
    }

    /// The SQLite file's state: `None` while the configured path is the file opened. Logs the
    /// moment it is found otherwise.
    fn file_problem(&self) -> Option<String> {
        let opened = self.file.as_ref()?;
        if identity(&opened.path).is_some_and(|now| Some(now) == opened.identity) {
            return None;
        }
        // A connection opened since may have created a new, empty file at the path: either way
        // the file firewatch writes is no longer there.
        let problem = format!(
            "the database file {} was deleted or replaced while firewatch had it open: what it \
             writes goes to the file it opened, which nothing will read again and which is lost \
             when firewatch stops (while it runs, a copy can be taken from /proc/{}/fd)",
            opened.path.display(),
            std::process::id()
        );
        let mut state = self.state();
        if state.file.is_none() {
            tracing::error!(%problem, "the store's database file is gone; /readyz reports not ready");
        }
        state.file = Some(problem.clone());
        Some(problem)
    }
}

/// The device and inode of the file at `path`, if there is one.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.dev(), metadata.ino()))
}

/// Writes one heartbeat (as `process`, on `pool`) and records its outcome in `health`.
///
/// # Errors
/// The write failed.
pub(super) async fn beat(
    pool: &AnyPool,
    dialect: Dialect,
    process: &str,
    health: &Health,
) -> Result<()> {
    health.state().beat = Some(Instant::now());
    let written = sqlx::query(dialect.heartbeat())
        .bind(process)
        .execute(pool)
        .await
        .map(drop)
        .map_err(Error::from);
    health.wrote(written.as_ref().map(|_| ()));
    health.file_problem();
    written
}

/// The task that writes the heartbeat until the store closes.
#[derive(Debug)]
pub(super) struct Heartbeat(JoinHandle<()>);

impl Heartbeat {
    /// Starts writing a heartbeat every [`HEARTBEAT`], the first one after one period.
    pub(super) fn start(
        pool: AnyPool,
        dialect: Dialect,
        process: Arc<str>,
        health: Arc<Health>,
    ) -> Self {
        Self(tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                if pool.is_closed() {
                    return;
                }
                // A failure is recorded and logged (once) by `beat`.
                let _ = beat(&pool, dialect, &process, &health).await;
            }
        }))
    }

    /// Stops it (before the lease row is deleted, so nothing writes it back).
    pub(super) fn stop(&self) {
        self.0.abort();
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_fail_until_one_succeeds_and_a_deleted_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fw.db");
        std::fs::write(&path, "").unwrap();
        // Held open as SQLite holds it, so its inode is not reused while the test runs.
        let _open = std::fs::File::open(&path).unwrap();
        let health = Health::new(Some(&path));
        assert_eq!(health.problem(), None);
        assert!(!health.wants_probe());

        let full = Error::Write("database or disk is full".into());
        health.wrote(Err(&full));
        assert_eq!(
            health.problem().as_deref(),
            Some("writes fail: store write failed: database or disk is full")
        );
        assert!(health.wants_probe(), "no heartbeat tried yet");
        health.wrote(Ok(()));
        assert_eq!(health.problem(), None);

        std::fs::remove_file(&path).unwrap();
        let gone = format!(
            "the database file {} was deleted or replaced",
            path.display()
        );
        let problem = health.problem().expect("the file is gone");
        assert!(problem.starts_with(&gone), "{problem}");
        // A new file at the path is not the one firewatch writes.
        std::fs::write(&path, "").unwrap();
        let problem = health.problem().expect("the file is another one");
        assert!(problem.starts_with(&gone), "{problem}");
    }
}
