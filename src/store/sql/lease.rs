//! This process's lease on what it accepts and runs, by which other processes tell whether it is
//! gone. SQLite: the file's writer lock ([`crate::store::lock`]), held by a serving process
//! ([`crate::store::Access::Exclusive`]), so any other owner of a request is gone. Postgres: a
//! row in `processes`, renewed by the store's heartbeat ([`super::health`]) and deleted when the
//! store closes; a process whose row was not renewed for 30 s is gone (`dialect::unleased!`).

use std::sync::{Mutex, PoisonError};

use sqlx::AnyPool;

use super::dialect::Dialect;
use crate::store::Result;
use crate::store::lock::Lock;

#[derive(Debug)]
pub(super) enum Lease {
    /// SQLite: the writer lock, while this store holds it.
    File(Mutex<Option<Lock>>),
    /// Postgres: this process's row.
    Row,
}

impl Lease {
    /// Starts the lease of `process`: on Postgres writes its row (on `pool`; the heartbeat
    /// renews it from then on); on SQLite holds no lock yet ([`Lease::holding`]).
    pub(super) async fn start(dialect: Dialect, pool: &AnyPool, process: &str) -> Result<Self> {
        if dialect == Dialect::Sqlite {
            return Ok(Self::File(Mutex::new(None)));
        }
        sqlx::query(dialect.heartbeat())
            .bind(process)
            .execute(pool)
            .await?;
        // Rows of processes long gone (crashed, never closed) are of no use to anyone.
        sqlx::query("DELETE FROM processes WHERE heartbeat_at < now() - interval '1 day'")
            .execute(pool)
            .await?;
        Ok(Self::Row)
    }

    /// The lease of a SQLite store that holds the file's writer lock.
    pub(super) fn holding(lock: Lock) -> Self {
        Self::File(Mutex::new(Some(lock)))
    }

    /// Ends the lease (once the heartbeat has stopped): what this process left is free to take
    /// over at once. Releases the SQLite lock, or deletes the process's row (on `pool`).
    pub(super) async fn end(&self, pool: &AnyPool, process: &str) {
        match self {
            Self::File(lock) => drop(lock.lock().unwrap_or_else(PoisonError::into_inner).take()),
            Self::Row => {
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
