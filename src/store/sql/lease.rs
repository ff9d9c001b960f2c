//! This process's lease on what it accepts and runs, by which other processes tell whether it is
//! gone. SQLite: the file's writer lock ([`crate::store::lock`]), held by a serving process
//! ([`crate::store::Access::Exclusive`]), so any other owner of a request is gone. Postgres: a
//! row in `processes`, renewed every [`HEARTBEAT`] by a task of its own and deleted when the
//! store closes; a process whose row was not renewed for 30 s is gone (`dialect::unleased!`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::AnyPool;
use tokio::task::JoinHandle;

use super::dialect::Dialect;
use crate::store::Result;
use crate::store::lock::Lock;

/// How often a Postgres process renews its lease.
const HEARTBEAT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(super) enum Lease {
    /// SQLite: the writer lock, while this store holds it.
    File(Mutex<Option<Lock>>),
    /// Postgres: the task that renews this process's row.
    Heartbeat(JoinHandle<()>),
}

impl Lease {
    /// Starts the lease of `process`: on Postgres writes its row (on `pool`) and starts
    /// renewing it; on SQLite holds no lock yet ([`Lease::holding`]).
    pub(super) async fn start(
        dialect: Dialect,
        pool: &AnyPool,
        process: &Arc<str>,
    ) -> Result<Self> {
        if dialect == Dialect::Sqlite {
            return Ok(Self::File(Mutex::new(None)));
        }
        renew(pool, process).await?;
        // Rows of processes long gone (crashed, never closed) are of no use to anyone.
        sqlx::query("DELETE FROM processes WHERE heartbeat_at < now() - interval '1 day'")
            .execute(pool)
            .await?;
        let (pool, process) = (pool.clone(), Arc::clone(process));
        Ok(Self::Heartbeat(tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                if pool.is_closed() {
                    return;
                }
                if let Err(e) = renew(&pool, &process).await {
                    tracing::warn!(
                        error = %crate::error_chain(&e),
                        "could not renew this process's lease in the store"
                    );
                }
            }
        })))
    }

    /// The lease of a SQLite store that holds the file's writer lock.
    pub(super) fn holding(lock: Lock) -> Self {
        Self::File(Mutex::new(Some(lock)))
    }

    /// Ends the lease: what this process left is free to take over at once. Releases the
    /// SQLite lock, or stops the heartbeat and deletes the process's row (on `pool`).
    pub(super) async fn end(&self, pool: &AnyPool, process: &str) {
        match self {
            Self::File(lock) => drop(lock.lock().unwrap_or_else(PoisonError::into_inner).take()),
            Self::Heartbeat(task) => {
                task.abort();
                let ended = sqlx::query("DELETE FROM processes WHERE id = $1")
                    .bind(process)
                    .execute(pool)
                    .await;
                if let Err(e) = ended {
                    tracing::warn!(error = %crate::error_chain(&e), "could not end this process's lease");
                }
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Self::Heartbeat(task) = self {
            task.abort();
        }
    }
}

/// Writes (or renews) the lease of `process`.
async fn renew(pool: &AnyPool, process: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO processes (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
    )
    .bind(process)
    .execute(pool)
    .await?;
    Ok(())
}
