//! Where accepted chat requests run: tasks that shutdown waits for, at most [`RUNNING`] at once,
//! one per request key.
//!
//! A platform must get its acknowledgement within seconds (Slack: 3 s), so a request is stored
//! in the inbox and started here without waiting for it; the answer goes out at once.
//!
//! # Guarantees
//! - Bounded: at most [`RUNNING`] requests run at once. A request that finds no room is not
//!   kept in memory: it stays in the inbox (where it already is, durably) and the backlog sweep
//!   ([`Work::sweep`]) starts it once there is room, oldest first.
//! - Once per process: a key is held from before its request is stored ([`Work::claim`]) until
//!   its run ends, and the sweep skips keys that are held or that this process ran in the last
//!   [`REMEMBERED`] (a run whose inbox marks could not be written looks unstarted in the inbox;
//!   it runs again only after a restart, by the replay's rules). A run that panics still gives
//!   its key up.
//! - An acknowledgement abandoned while its request was being stored (the platform hung up)
//!   gives its key up and wakes the sweep, which finds the request in the inbox if it landed
//!   there (the periodic sweep finds one that landed later).
//! - A run waiting to try again ([`Work::pause`], after a failure it may get past) keeps its key
//!   and its place: at most [`RUNNING`] requests run or wait to run again, and the backlog waits
//!   in the inbox meanwhile.
//! - [`Work::close`] starts nothing more; runs in progress finish (shutdown waits for them
//!   through the task tracker), a run waiting to try again stops waiting and ends; what has not
//!   started or not finished stays in the inbox for the next start.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How many requests run at once (they mostly wait on the store, the cluster and the chat APIs).
pub const RUNNING: usize = 64;
/// How long the sweep remembers the keys this process ran: longer than any platform redelivers
/// and than a request stays answerable.
pub const REMEMBERED: Duration = Duration::from_secs(3600);

/// The running requests of one platform.
pub struct Work {
    tasks: TaskTracker,
    permits: Arc<Semaphore>,
    shared: Arc<Shared>,
}

/// What runs and the claims share.
#[derive(Default)]
struct Shared {
    keys: Mutex<Keys>,
    /// Set when a request was left in the inbox for want of room.
    overflowed: AtomicBool,
    /// Wakes the sweep.
    sweep: Notify,
    /// Cancelled by [`Work::close`]: ends the waits of runs that would try again.
    closed: CancellationToken,
}

#[derive(Default)]
struct Keys {
    /// Claimed, or running.
    busy: HashSet<String>,
    /// Run by this process, and when they finished.
    ran: HashMap<String, Instant>,
}

impl Shared {
    fn keys(&self) -> MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn finish(&self, key: &str) {
        let mut keys = self.keys();
        keys.busy.remove(key);
        keys.ran.insert(key.to_owned(), Instant::now());
    }

    fn ask_for_sweep(&self) {
        self.overflowed.store(true, Ordering::Release);
        self.sweep.notify_one();
    }
}

/// A request key held by this process from before its request is stored: handed to
/// [`Work::start`] once the store took the request as new, or given up with [`Claim::release`].
/// Dropped otherwise (the acknowledgement was abandoned), it gives the key up and wakes the
/// backlog sweep, since the request may be in the inbox.
#[must_use = "a claim is started or released once the store has answered"]
pub struct Claim {
    key: String,
    shared: Arc<Shared>,
    settled: bool,
}

impl Claim {
    /// The request was not stored as new (a redelivery, or the store failed): the key is free.
    pub fn release(mut self) {
        self.settled = true;
        self.shared.keys().busy.remove(&self.key);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.settled {
            self.shared.keys().busy.remove(&self.key);
            self.shared.ask_for_sweep();
        }
    }
}

/// A run's end, however it ends (a panic too): its key is given up and remembered as run, its
/// place freed, and the sweep woken when requests wait for room.
struct Finished {
    shared: Arc<Shared>,
    key: String,
    permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Finished {
    fn drop(&mut self) {
        self.shared.finish(&self.key);
        self.permit.take();
        if self.shared.overflowed.load(Ordering::Acquire) {
            self.shared.sweep.notify_one();
        }
    }
}

impl Work {
    /// Runs go into `tasks` (which shutdown waits for), at most `running` at once.
    pub fn new(tasks: TaskTracker, running: usize) -> Self {
        Self {
            tasks,
            permits: Arc::new(Semaphore::new(running.max(1))),
            shared: Arc::default(),
        }
    }

    /// Holds `key` for a request about to be stored; `None` when this process already holds it
    /// (a redelivery while the first one is stored or runs).
    pub fn claim(&self, key: String) -> Option<Claim> {
        if !self.shared.keys().busy.insert(key.clone()) {
            return None;
        }
        Some(Claim {
            key,
            shared: Arc::clone(&self.shared),
            settled: false,
        })
    }

    /// Starts `run`, the claimed request's work, without waiting. Without room (or once
    /// closed), nothing starts: the request waits in the inbox for [`Work::sweep`] (or the next
    /// start).
    pub fn start(&self, mut claim: Claim, run: impl Future<Output = ()> + Send + 'static) {
        claim.settled = true;
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => self.spawn(claim.key.clone(), permit, run),
            Err(_) => {
                self.shared.keys().busy.remove(&claim.key);
                if !self.permits.is_closed() {
                    tracing::debug!(request = %claim.key, "no room to run it now; it waits in the inbox");
                    self.shared.ask_for_sweep();
                }
            }
        }
    }

    /// Starts `run` for `key` once there is room (start-up replays, which no acknowledgement
    /// waits for). Nothing happens when this process holds the key already, or once closed.
    pub async fn start_waiting(&self, key: String, run: impl Future<Output = ()> + Send + 'static) {
        if !self.shared.keys().busy.insert(key.clone()) {
            return;
        }
        match Arc::clone(&self.permits).acquire_owned().await {
            Ok(permit) => self.spawn(key, permit, run),
            Err(_) => self.shared.finish(&key),
        }
    }

    fn spawn(
        &self,
        key: String,
        permit: OwnedSemaphorePermit,
        run: impl Future<Output = ()> + Send + 'static,
    ) {
        let finished = Finished {
            shared: Arc::clone(&self.shared),
            key,
            permit: Some(permit),
        };
        self.tasks.spawn(async move {
            run.await;
            drop(finished);
        });
    }

    /// Waits until requests may be waiting in the inbox for room (one was left there, or an
    /// acknowledgement was abandoned) and a run has finished since.
    pub async fn sweep_wanted(&self) {
        self.shared.sweep.notified().await;
    }

    /// Starts, as room allows, requests that wait in the inbox: `backlog(limit)` reads up to
    /// `limit` of them as `(key, run)`, oldest first. Keys held, or run by this process, are
    /// skipped.
    ///
    /// # Errors
    /// The backlog could not be read (the next sweep tries again).
    pub async fn sweep<F, R>(&self, backlog: F) -> Result<usize, String>
    where
        F: AsyncFnOnce(usize) -> Result<Vec<(String, R)>, String>,
        R: Future<Output = ()> + Send + 'static,
    {
        let room = self.permits.available_permits();
        if room == 0 || self.permits.is_closed() {
            return Ok(0);
        }
        self.shared.overflowed.store(false, Ordering::Release);
        // Held and recently run keys are not done either: ask for enough to see past them.
        let skipped = {
            let mut keys = self.shared.keys();
            keys.ran.retain(|_, at| at.elapsed() < REMEMBERED);
            keys.busy.len() + keys.ran.len()
        };
        let limit = room + skipped;
        let found = backlog(limit).await;
        let mut keys = self.shared.keys();
        let found = match found {
            Ok(found) => found,
            Err(reason) => {
                self.shared.overflowed.store(true, Ordering::Release);
                return Err(reason);
            }
        };
        // A backlog cut at its limit may hold more than was read: look again when a run
        // finishes.
        let mut more = found.len() >= limit;
        let mut started = 0;
        for (key, run) in found {
            if keys.busy.contains(&key) || keys.ran.contains_key(&key) {
                continue;
            }
            let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                more = true;
                break;
            };
            keys.busy.insert(key.clone());
            self.spawn(key, permit, run);
            started += 1;
        }
        if more {
            self.shared.overflowed.store(true, Ordering::Release);
        }
        Ok(started)
    }

    /// Waits `delay` inside a run before it tries again, keeping its key and its place; `false`
    /// when [`Work::close`] came first (the run should end, leaving its request in the inbox).
    pub async fn pause(&self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => !self.is_closed(),
            () = self.shared.closed.cancelled() => false,
        }
    }

    /// Starts nothing more. Runs in progress finish (those waiting to try again stop waiting);
    /// the rest stays in the inbox.
    pub fn close(&self) {
        self.permits.close();
        self.shared.closed.cancel();
        self.shared.sweep.notify_waiters();
    }

    /// Whether [`Work::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }
}

#[cfg(test)]
mod tests;
