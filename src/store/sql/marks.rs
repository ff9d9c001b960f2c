//! The inbox's own writes — a request accepted, handled, delivered — committed together: one
//! task takes them as they come and commits all that wait in one transaction, so a burst of
//! acknowledgements shares its commits (and their syncs to disk) instead of queueing for one
//! each. Each caller is answered once its write is committed. How each batch came out is
//! recorded in the store's [`Health`].

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::dialect::Dialect;
use super::health::Health;
use super::inbox;
use crate::store::{Error, Inbound, Result};

/// How many writes one transaction takes at most.
const BATCH: usize = 256;
/// How long closing waits for the writes already taken.
const CLOSE_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// One write to the inbox.
pub(super) enum Mark {
    /// Stored before it is acknowledged: answers whether its key is new.
    Accept(Inbound),
    /// Its effect (if any) is committed.
    Handled(String, DateTime<Utc>),
    /// Its answer is delivered.
    Complete(String, DateTime<Utc>),
}

type Job = (Mark, oneshot::Sender<Result<bool>>);

/// The task that commits the inbox's writes.
#[derive(Debug)]
pub(super) struct Marks {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Marks {
    /// Starts the task, writing into `pool` as `owner`.
    pub(super) fn start(
        pool: AnyPool,
        dialect: Dialect,
        owner: Arc<str>,
        health: Arc<Health>,
    ) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Job>(BATCH);
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                let answers = commit(&pool, dialect, &owner, &batch, &health).await;
                for ((_, reply), answer) in batch.drain(..).zip(answers) {
                    let _ = reply.send(answer);
                }
            }
        });
        Self {
            sender: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
        }
    }

    /// Writes `mark` with whatever else waits; answers once it is committed.
    ///
    /// # Errors
    /// The write failed, or the store is closed (nothing was written).
    pub(super) async fn write(&self, mark: Mark) -> Result<bool> {
        let closed = || Error::Query(sqlx::Error::PoolClosed);
        let sender = self.sender.lock().expect("not poisoned").clone();
        let (reply, answer) = oneshot::channel();
        sender
            .ok_or_else(closed)?
            .send((mark, reply))
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Takes no more writes, and returns once those already taken are committed (or failed),
    /// or after [`CLOSE_WITHIN`], whichever comes first.
    pub(super) async fn close(&self) {
        self.sender.lock().expect("not poisoned").take();
        let task = self.task.lock().expect("not poisoned").take();
        if let Some(task) = task
            && tokio::time::timeout(CLOSE_WITHIN, task).await.is_err()
        {
            tracing::warn!("inbox writes were still being committed when the store closed");
        }
    }
}

/// Commits `batch` in one transaction. When the database refuses one write's data, each write
/// is tried alone, so that one fails only itself; any other failure (unreachable, busy, timing
/// out, a full disk) is every write's answer at once, and `health`'s.
async fn commit(
    pool: &AnyPool,
    dialect: Dialect,
    owner: &str,
    batch: &[Job],
    health: &Health,
) -> Vec<Result<bool>> {
    let together = async {
        let mut tx = pool.begin_with(dialect.begin()).await?;
        let mut answers = Vec::with_capacity(batch.len());
        for (mark, _) in batch {
            answers.push(inbox::mark(&mut tx, mark, owner).await?);
        }
        tx.commit().await?;
        Ok::<_, Error>(answers)
    };
    let mut failed = match together.await {
        Ok(answers) => {
            health.wrote(Ok(()));
            return answers.into_iter().map(Ok).collect();
        }
        Err(e) if dialect.own_fault(&e) => None,
        Err(e) => {
            health.wrote(Err(&e));
            Some(crate::error_chain(&e))
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    for (mark, _) in batch {
        if let Some(reason) = &failed {
            answers.push(Err(Error::Write(reason.clone())));
            continue;
        }
        let alone = async {
            let mut conn = pool.acquire().await?;
            inbox::mark(&mut conn, mark, owner).await
        };
        let answer = alone.await;
        if let Err(e) = &answer
            && !dialect.own_fault(e)
        {
            health.wrote(Err(e));
            failed = Some(crate::error_chain(e));
        }
        answers.push(answer);
    }
    answers
}
