//! Where accepted chat requests wait for the engine: off the acknowledgement path, in a bounded
//! queue, run on threads that give the CPU to acknowledgements first.
//!
//! A platform must get its acknowledgement within seconds (Slack: 3 s), whatever firewatch is
//! doing; the engine's work (store transactions, cluster reads, chat posts) can wait a moment. So
//! an adapter stores a request in the inbox, hands it to [`Work::submit`] and answers at once.
//!
//! # Guarantees
//! - Memory is bounded: at most [`QUEUED`] requests wait in memory and [`RUNNING`] run at once.
//!   A request that finds the queue full stays in the inbox (where it already is, durably) and is
//!   picked up from there as soon as there is room ([`Runner::backlog`]), oldest first.
//! - A request runs once per process: a request is queued or running under its key at most once,
//!   and the backlog sweep skips keys that are queued, running, or finished while it looked.
//! - The engine runs on its own threads at a lower CPU priority (`server.engine_nice`, +10 by
//!   default, on Linux), so a burst of commands never delays the acknowledgements of the next
//!   ones; on an idle machine this changes nothing.
//! - [`Work::close`] stops starting requests; the ones running finish (shutdown waits for them
//!   through the adapter's task tracker); the queued ones stay in the inbox for the next start.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio_util::task::TaskTracker;

use crate::error_chain;
use crate::store::Store;

/// How many accepted requests may wait in memory.
pub const QUEUED: usize = 1024;
/// How many requests the engine runs at once (they mostly wait on the store, the cluster and the
/// chat APIs).
pub const RUNNING: usize = 64;

/// How much the queue holds and runs at once.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Requests waiting in memory.
    pub queued: usize,
    /// Requests running at once.
    pub running: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            queued: QUEUED,
            running: RUNNING,
        }
    }
}

/// How a platform runs its requests and finds those that overflowed.
#[async_trait]
pub trait Runner: Send + Sync + 'static {
    /// The platform's request.
    type Job: Send + 'static;

    /// The request's inbox key.
    fn key(job: &Self::Job) -> String;

    /// Runs it: the engine, every reply, the inbox marks.
    async fn run(&self, job: Self::Job);

    /// Requests of this platform accepted but not handled yet, oldest first, at most `limit`.
    ///
    /// # Errors
    /// The inbox could not be read (the sweep is tried again a moment later).
    async fn backlog(&self, limit: usize) -> Result<Vec<Self::Job>, String>;
}

/// The queue of one platform's accepted requests.
pub struct Work<R: Runner> {
    sender: mpsc::Sender<R::Job>,
    keys: Arc<Keys>,
    overflowed: Arc<AtomicBool>,
    closing: Arc<Closing>,
}

/// The keys queued or running, and (while a backlog sweep runs) the keys that finished meanwhile.
#[derive(Default)]
struct Keys {
    state: Mutex<KeyState>,
}

#[derive(Default)]
struct KeyState {
    busy: HashSet<String>,
    sweeping: bool,
    finished: HashSet<String>,
}

impl Keys {
    fn lock(&self) -> std::sync::MutexGuard<'_, KeyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks `key` busy; `false` when it already is.
    fn take(&self, key: &str) -> bool {
        self.lock().busy.insert(key.to_owned())
    }

    fn release(&self, key: &str) {
        let mut state = self.lock();
        state.busy.remove(key);
        if state.sweeping {
            state.finished.insert(key.to_owned());
        }
    }

    fn drop_key(&self, key: &str) {
        self.lock().busy.remove(key);
    }
}

#[derive(Default)]
struct Closing {
    closed: AtomicBool,
    notify: Notify,
}

impl<R: Runner> Work<R> {
    /// Starts the queue's dispatcher; runs go into `tasks`, which shutdown waits for. The queue
    /// holds the runner weakly: it ends when the runner is dropped.
    pub fn start(runner: Weak<R>, tasks: TaskTracker, bounds: Bounds) -> Self {
        let (sender, receiver) = mpsc::channel(bounds.queued.max(1));
        let work = Self {
            sender,
            keys: Arc::default(),
            overflowed: Arc::default(),
            closing: Arc::default(),
        };
        let dispatcher = Dispatcher {
            runner,
            tasks,
            running: bounds.running.max(1),
            receiver,
            sender: work.sender.downgrade(),
            keys: Arc::clone(&work.keys),
            overflowed: Arc::clone(&work.overflowed),
            closing: Arc::clone(&work.closing),
        };
        engine_runtime().spawn(dispatcher.run());
        work
    }

    /// Claims `key` before its request is stored in the inbox, so the backlog sweep never takes a
    /// request between its accept and its [`Work::submit`]. `false` when this process already
    /// has it queued or running (a redelivery).
    pub fn claim(&self, key: &str) -> bool {
        self.keys.take(key)
    }

    /// Gives up a claim whose request was not stored (a redelivery, or the store failed).
    pub fn unclaim(&self, key: &str) {
        self.keys.drop_key(key);
    }

    /// Queues an accepted request, claimed with [`Work::claim`], without waiting: when the queue
    /// is full (or closing), the request stays in the inbox and runs from there when there is
    /// room (or at the next start).
    pub fn submit(&self, job: R::Job) {
        // The key is only needed when the job is not queued (during a burst, when the queue is
        // full, that is most acknowledgements): it is built from the job handed back.
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(job)) => {
                let key = R::key(&job);
                self.keys.drop_key(&key);
                self.overflowed.store(true, Ordering::Release);
                self.closing.notify.notify_one();
                tracing::debug!(request = %key, "the work queue is full; the request waits in the inbox");
            }
            Err(mpsc::error::TrySendError::Closed(job)) => self.keys.drop_key(&R::key(&job)),
        }
    }

    /// Queues a request, waiting for room (replays at start-up, which are not on an
    /// acknowledgement path).
    pub async fn submit_waiting(&self, job: R::Job) {
        let key = R::key(&job);
        if !self.keys.take(&key) {
            return;
        }
        if self.sender.send(job).await.is_err() {
            self.keys.drop_key(&key);
        }
    }

    /// Stops starting requests. Those running finish; the queued ones stay in the inbox.
    pub fn close(&self) {
        self.closing.closed.store(true, Ordering::Release);
        self.closing.notify.notify_waiters();
        self.closing.notify.notify_one();
    }
}

struct Dispatcher<R: Runner> {
    runner: Weak<R>,
    tasks: TaskTracker,
    running: usize,
    receiver: mpsc::Receiver<R::Job>,
    sender: mpsc::WeakSender<R::Job>,
    keys: Arc<Keys>,
    overflowed: Arc<AtomicBool>,
    closing: Arc<Closing>,
}

impl<R: Runner> Dispatcher<R> {
    async fn run(mut self) {
        let running = Arc::new(Semaphore::new(self.running));
        let handle = Handle::current();
        loop {
            if self.closing.closed.load(Ordering::Acquire) {
                return;
            }
            let job = match self.receiver.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if self.overflowed.load(Ordering::Acquire) {
                        self.sweep().await;
                        continue;
                    }
                    tokio::select! {
                        job = self.receiver.recv() => match job {
                            Some(job) => job,
                            None => return,
                        },
                        () = self.closing.notify.notified() => continue,
                    }
                }
            };
            let Ok(permit) = Arc::clone(&running).acquire_owned().await else {
                return;
            };
            if self.closing.closed.load(Ordering::Acquire) {
                self.keys.drop_key(&R::key(&job));
                return;
            }
            let Some(runner) = self.runner.upgrade() else {
                return;
            };
            let keys = Arc::clone(&self.keys);
            self.tasks.spawn_on(
                async move {
                    let key = R::key(&job);
                    runner.run(job).await;
                    keys.release(&key);
                    drop(permit);
                },
                &handle,
            );
        }
    }

    /// Moves requests that overflowed the queue from the inbox into it, as room allows.
    async fn sweep(&mut self) {
        let (Some(runner), Some(sender)) = (self.runner.upgrade(), self.sender.upgrade()) else {
            return;
        };
        self.overflowed.store(false, Ordering::Release);
        let room = sender.capacity();
        if room == 0 {
            self.overflowed.store(true, Ordering::Release);
            return;
        }
        {
            let mut state = self.keys.lock();
            state.sweeping = true;
            state.finished.clear();
        }
        // Busy keys are not handled yet either, so ask for enough to see past them.
        let busy = self.keys.lock().busy.len();
        let found = match runner.backlog(room + busy).await {
            Ok(found) => found,
            Err(reason) => {
                tracing::warn!(%reason, "could not read the requests waiting in the inbox; trying again in a second");
                self.keys.lock().sweeping = false;
                self.overflowed.store(true, Ordering::Release);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                return;
            }
        };
        let mut queued = 0;
        let mut skipped = 0;
        {
            let mut state = self.keys.lock();
            for job in found {
                let key = R::key(&job);
                if state.finished.contains(&key) || !state.busy.insert(key.clone()) {
                    skipped += 1;
                    continue;
                }
                if sender.try_send(job).is_err() {
                    state.busy.remove(&key);
                    // Still more than there is room for: look again when there is.
                    self.overflowed.store(true, Ordering::Release);
                    break;
                }
                queued += 1;
            }
            state.sweeping = false;
            state.finished.clear();
        }
        if queued == room {
            self.overflowed.store(true, Ordering::Release);
        }
        if queued > 0 {
            tracing::debug!(queued, skipped, "queued requests that waited in the inbox");
        }
    }
}

/// The requests of one platform (`prefix`) waiting in the inbox, decoded from their stored
/// payload: what [`Runner::backlog`] returns. An unreadable payload is left to the start-up replay,
/// which reports and drops it.
///
/// # Errors
/// The inbox could not be read.
pub async fn backlog<J: DeserializeOwned>(
    store: &dyn Store,
    prefix: &str,
    limit: usize,
) -> Result<Vec<J>, String> {
    let waiting = store
        .backlog_requests(prefix, limit)
        .await
        .map_err(|e| error_chain(&e))?;
    Ok(waiting
        .iter()
        .filter_map(|inbound| serde_json::from_str(&inbound.payload).ok())
        .collect())
}

/// The nice increment of the engine's threads (see [`set_engine_nice`]).
static ENGINE_NICE: AtomicI32 = AtomicI32::new(10);

/// Sets how much lower the engine's threads run (a nice increment, 0 to 19; `server.engine_nice`).
/// Takes effect when the engine's runtime starts, so only before the first [`Work::start`] of the
/// process.
pub fn set_engine_nice(nice: i32) {
    ENGINE_NICE.store(nice.clamp(0, 19), Ordering::Relaxed);
}

/// The runtime the engine runs on: its own threads, at a lower CPU priority than the threads that
/// acknowledge requests. One per process, started on first use.
pub fn engine_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .thread_name("firewatch-engine")
            .worker_threads(
                std::thread::available_parallelism()
                    .map(usize::from)
                    .unwrap_or(2),
            )
            .on_thread_start(lower_priority)
            .enable_all()
            .build()
            .expect("the engine runtime starts")
    })
}

/// Gives the calling thread a lower scheduling priority (`nice` + [`ENGINE_NICE`]): on Linux the
/// nice value is per thread. Elsewhere, or when the system refuses, the thread keeps its priority.
fn lower_priority() {
    let nice = ENGINE_NICE.load(Ordering::Relaxed);
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpriority and setpriority with PRIO_PROCESS and who = 0 read and change only
        // the calling thread's nice value; they touch no memory of ours. A new thread starts at
        // the nice value of the process, so this is an increment over it.
        let failed = unsafe {
            let current = libc::getpriority(libc::PRIO_PROCESS, 0);
            libc::setpriority(libc::PRIO_PROCESS, 0, (current + nice).min(19))
        } != 0;
        if failed {
            tracing::debug!("could not lower the engine threads' priority");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// An inbox in memory: every submitted job is first accepted here, as the adapters do.
    #[derive(Default)]
    struct Fake {
        inbox: Mutex<Vec<(String, bool)>>,
        runs: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Runner for Fake {
        type Job = String;

        fn key(job: &String) -> String {
            job.clone()
        }

        async fn run(&self, job: String) {
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.runs.lock().unwrap().push(job.clone());
            let mut inbox = self.inbox.lock().unwrap();
            if let Some(entry) = inbox.iter_mut().find(|(k, _)| *k == job) {
                entry.1 = true;
            }
        }

        async fn backlog(&self, limit: usize) -> Result<Vec<String>, String> {
            Ok(self
                .inbox
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, handled)| !handled)
                .take(limit)
                .map(|(k, _)| k.clone())
                .collect())
        }
    }

    fn accept(fake: &Fake, key: &str) -> String {
        fake.inbox.lock().unwrap().push((key.to_owned(), false));
        key.to_owned()
    }

    async fn wait_for_runs(fake: &Fake, n: usize, polls: usize) -> Vec<String> {
        for _ in 0..polls {
            if fake.runs.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Anything that would run twice has had the time to.
        tokio::time::sleep(Duration::from_millis(50)).await;
        fake.runs.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn requests_beyond_the_queue_wait_in_the_inbox_and_each_runs_once() {
        let fake = Arc::new(Fake::default());
        let bounds = Bounds {
            queued: 2,
            running: 1,
        };
        let work = Work::start(Arc::downgrade(&fake), TaskTracker::new(), bounds);
        for i in 0..40 {
            let key = accept(&fake, &format!("k{i:02}"));
            assert!(work.claim(&key));
            work.submit(key);
        }
        // A key held between accept and submit is not taken twice; a released one can be.
        assert!(work.claim("redelivered"));
        assert!(!work.claim("redelivered"));
        work.unclaim("redelivered");
        assert!(work.claim("redelivered"));
        work.unclaim("redelivered");
        let mut runs = wait_for_runs(&fake, 40, 2000).await;
        assert_eq!(runs.len(), 40, "every accepted request ran: {runs:?}");
        runs.sort();
        runs.dedup();
        assert_eq!(runs.len(), 40, "none ran twice");
    }

    #[tokio::test]
    async fn after_close_nothing_new_starts() {
        let fake = Arc::new(Fake::default());
        let bounds = Bounds {
            queued: 8,
            running: 1,
        };
        let work = Work::start(Arc::downgrade(&fake), TaskTracker::new(), bounds);
        work.close();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let key = accept(&fake, "late");
        assert!(work.claim(&key));
        work.submit(key);
        assert!(wait_for_runs(&fake, 1, 20).await.is_empty());
    }
}
