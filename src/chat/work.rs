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
//! - While acknowledgements wait for the inbox ([`Acks`], shared by a process's adapters), a
//!   queue starts a request only when none of its own is running: a lower priority alone still
//!   let the engine take a quarter of the CPU during a burst (and its replies and inbox marks
//!   more), because it runs in every gap the acknowledgements leave. At least one request always
//!   runs, so the engine keeps moving under any load; at human rates acknowledgements wait a
//!   millisecond at a time and this changes nothing.
//! - During a flood (`PRESSURE`, 32, acknowledgements waiting at once; at human rates one or
//!   two wait), a queue starts at most one request per `PACE` (10 ms), whatever else it runs,
//!   and nothing but that timer wakes it: its own requests finishing and the acknowledgements
//!   going idle for an instant (which they do after every inbox commit) used to start one
//!   request after another, so the engine still took a sixth of the CPU. The requests wait
//!   durably in the inbox; once a start finds no flood since the one before, they run side by
//!   side again.
//! - The key an acknowledgement holds while [`Work::accept`] stores its request is released if
//!   the acknowledgement is abandoned (the platform hung up while the inbox committed): the
//!   backlog sweep then looks for the request in the inbox at once and again once its write has
//!   surely landed, so it does not stay unrun until the next start.
//! - [`Work::close`] stops starting requests; the ones running finish (shutdown waits for them
//!   through the adapter's task tracker); the queued ones stay in the inbox for the next start.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use crate::error_chain;
use crate::store::{self, Inbound, Store};

/// How many accepted requests may wait in memory.
pub const QUEUED: usize = 1024;
/// How many requests the engine runs at once (they mostly wait on the store, the cluster and the
/// chat APIs).
pub const RUNNING: usize = 64;
/// How many acknowledgements waiting for the inbox at once make a flood (at human rates one or
/// two wait at a time).
const PRESSURE: usize = 32;
/// During a flood, a queue starts at most one request per `PACE`.
const PACE: std::time::Duration = std::time::Duration::from_millis(10);

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
    sweep: Arc<Sweep>,
    closing: Arc<Closing>,
    acks: Arc<Acks>,
}

/// How many acknowledgements are waiting for the inbox, across the adapters of one process (see
/// the module's guarantees): counted by the keys held while [`Work::accept`] stores their
/// requests.
#[derive(Default)]
pub struct Acks {
    waiting: AtomicUsize,
    /// Counts the acknowledgements that began with [`PRESSURE`] or more waiting: a queue that
    /// sees it move since its last start knows acknowledgements are queueing behind the inbox.
    pressed: AtomicU64,
    /// Told when the count drops to zero.
    idle: Notify,
}

impl Acks {
    fn any(&self) -> bool {
        self.waiting.load(Ordering::Acquire) > 0
    }

    fn begin(&self) {
        if self.waiting.fetch_add(1, Ordering::AcqRel) + 1 >= PRESSURE {
            self.pressed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Changes whenever an acknowledgement begins under pressure.
    fn pressure(&self) -> u64 {
        self.pressed.load(Ordering::Relaxed)
    }

    /// Whether [`PRESSURE`] acknowledgements wait now, or did at some moment since
    /// [`Acks::pressure`] read `then`.
    fn flooded_since(&self, then: u64) -> bool {
        self.waiting.load(Ordering::Acquire) >= PRESSURE || self.pressure() != then
    }

    fn done(&self) {
        if self.waiting.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// A request's key, held by this process ([`Work::accept`]) from before the request is stored
/// until it is queued ([`Claim::keep`] then [`Work::submit`]) or found not to be new
/// ([`Claim::release`]). While it lives, its acknowledgement counts as waiting ([`Acks`]).
///
/// Dropped without either (the acknowledgement was abandoned while the inbox committed), it
/// gives the key up and has the backlog sweep look in the inbox, where the request may be: at
/// once, and again after `SETTLE` (10 s).
#[must_use = "a claim is kept or released once the store has answered"]
struct Claim<'w, R: Runner> {
    work: &'w Work<R>,
    key: &'w str,
    settled: bool,
}

impl<R: Runner> Claim<'_, R> {
    /// The request is stored and new: the key stays held until [`Work::submit`] queues it.
    fn keep(mut self) {
        self.settled = true;
    }

    /// The request was not stored (a redelivery, or the store failed): the key is given up.
    fn release(mut self) {
        self.settled = true;
        self.work.keys.drop_key(self.key);
    }
}

/// How long after an abandoned acknowledgement the backlog sweep looks again: its write may
/// still be waiting for the inbox writer, whose connection gives up after 5 s (busy timeout).
const SETTLE: std::time::Duration = if cfg!(test) {
    std::time::Duration::from_millis(200)
} else {
    std::time::Duration::from_secs(10)
};

impl<R: Runner> Drop for Claim<'_, R> {
    fn drop(&mut self) {
        if !self.settled {
            self.work.keys.drop_key(self.key);
            // Now, for a write already committed, and once more when any write still waiting
            // has been committed or has failed.
            self.work.sweep.ask();
            let sweep = Arc::clone(&self.work.sweep);
            engine_runtime().spawn(async move {
                tokio::time::sleep(SETTLE).await;
                sweep.ask();
            });
        }
        self.work.acks.done();
    }
}

/// Whether the dispatcher should look in the inbox for requests that are there but not queued.
#[derive(Default)]
struct Sweep {
    asked: AtomicBool,
    /// Wakes the dispatcher when it waits for a request.
    notify: Notify,
}

impl Sweep {
    fn ask(&self) {
        self.asked.store(true, Ordering::Release);
        self.notify.notify_one();
    }

    fn asked(&self) -> bool {
        self.asked.load(Ordering::Acquire)
    }

    /// Remembers that a look is still needed (or no longer is) without waking anyone.
    fn set(&self, asked: bool) {
        self.asked.store(asked, Ordering::Release);
    }
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
    /// holds the runner weakly: it ends when the runner is dropped. `acks` is shared by the
    /// process's adapters.
    pub fn start(runner: Weak<R>, tasks: TaskTracker, bounds: Bounds, acks: Arc<Acks>) -> Self {
        let (sender, receiver) = mpsc::channel(bounds.queued.max(1));
        let work = Self {
            sender,
            keys: Arc::default(),
            sweep: Arc::default(),
            closing: Arc::default(),
            acks,
        };
        let dispatcher = Dispatcher {
            runner,
            tasks,
            running: bounds.running.max(1),
            receiver,
            sender: work.sender.downgrade(),
            keys: Arc::clone(&work.keys),
            sweep: Arc::clone(&work.sweep),
            closing: Arc::clone(&work.closing),
            acks: Arc::clone(&work.acks),
            finished: Arc::default(),
        };
        engine_runtime().spawn(dispatcher.run());
        work
    }

    /// Stores `request` in the inbox before it is acknowledged: `true` when it is new and must be
    /// handed to [`Work::submit`], `false` for a redelivery (this process holds its key, or the
    /// inbox has it). Its key is claimed first, so the backlog sweep never takes a request
    /// between its accept and its submit.
    ///
    /// # Errors
    /// The store could not record it (answer the caller that nothing was done).
    pub async fn accept(&self, store: &dyn Store, request: &Inbound) -> store::Result<bool> {
        let Some(claim) = self.claim(&request.key) else {
            return Ok(false);
        };
        let accepted = store.accept_request(request).await;
        if matches!(accepted, Ok(true)) {
            claim.keep();
        } else {
            claim.release();
        }
        accepted
    }

    /// Holds `key` for an acknowledgement; `None` when this process already has it claimed,
    /// queued or running.
    fn claim<'w>(&'w self, key: &'w str) -> Option<Claim<'w, R>> {
        if !self.keys.take(key) {
            return None;
        }
        self.acks.begin();
        Some(Claim {
            work: self,
            key,
            settled: false,
        })
    }

    /// Queues an accepted request, taken by [`Work::accept`], without waiting: when the queue
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
                self.sweep.ask();
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
    sweep: Arc<Sweep>,
    closing: Arc<Closing>,
    acks: Arc<Acks>,
    /// Told when one of this queue's requests finishes.
    finished: Arc<Notify>,
}

impl<R: Runner> Dispatcher<R> {
    /// Waits until this queue may start a request (the caller holds one permit of `running`):
    /// at once when no acknowledgement waits for the inbox; while some wait, when none of this
    /// queue's requests runs (or none waits any more); during a flood ([`PRESSURE`]
    /// acknowledgements waiting now or at some moment since the last start), [`PACE`] after the
    /// last start.
    async fn wait_for_turn(&self, running: &Semaphore, last: Option<(Instant, u64)>) {
        loop {
            let idle = self.acks.idle.notified();
            let finished = self.finished.notified();
            if self.closing.closed.load(Ordering::Acquire) {
                return;
            }
            let flood = last.filter(|&(_, pressure)| self.acks.flooded_since(pressure));
            if let Some((started, _)) = flood {
                // Only the pace changes the answer now: waking when the acknowledgements go
                // idle or a request finishes would take the CPU they need.
                let due = started + PACE;
                if due <= Instant::now() {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = self.closing.notify.notified() => {}
                }
                continue;
            }
            let others = self.running - 1 - running.available_permits();
            if others == 0 || !self.acks.any() {
                return;
            }
            tokio::select! {
                () = idle => {}
                () = finished => {}
                () = self.closing.notify.notified() => {}
            }
        }
    }

    async fn run(mut self) {
        let running = Arc::new(Semaphore::new(self.running));
        let handle = Handle::current();
        // When this queue last started a request, and the pressure count then.
        let mut last = None;
        loop {
            if self.closing.closed.load(Ordering::Acquire) {
                return;
            }
            let job = match self.receiver.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if self.sweep.asked() {
                        self.sweep().await;
                        continue;
                    }
                    tokio::select! {
                        job = self.receiver.recv() => match job {
                            Some(job) => job,
                            None => return,
                        },
                        () = self.sweep.notify.notified() => continue,
                        () = self.closing.notify.notified() => continue,
                    }
                }
            };
            let Ok(permit) = Arc::clone(&running).acquire_owned().await else {
                return;
            };
            self.wait_for_turn(&running, last).await;
            last = Some((Instant::now(), self.acks.pressure()));
            if self.closing.closed.load(Ordering::Acquire) {
                self.keys.drop_key(&R::key(&job));
                return;
            }
            let Some(runner) = self.runner.upgrade() else {
                return;
            };
            let keys = Arc::clone(&self.keys);
            let finished = Arc::clone(&self.finished);
            self.tasks.spawn_on(
                async move {
                    let key = R::key(&job);
                    runner.run(job).await;
                    keys.release(&key);
                    drop(permit);
                    finished.notify_one();
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
        self.sweep.set(false);
        let room = sender.capacity();
        if room == 0 {
            self.sweep.set(true);
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
                self.sweep.set(true);
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
                    self.sweep.set(true);
                    break;
                }
                queued += 1;
            }
            state.sweeping = false;
            state.finished.clear();
        }
        if queued == room {
            self.sweep.set(true);
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
        /// How long a run takes, in milliseconds (2 when 0).
        takes: u64,
        running: AtomicUsize,
        most_at_once: AtomicUsize,
        started: Mutex<Vec<Instant>>,
    }

    #[async_trait]
    impl Runner for Fake {
        type Job = String;

        fn key(job: &String) -> String {
            job.clone()
        }

        async fn run(&self, job: String) {
            self.started.lock().unwrap().push(Instant::now());
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(self.takes.max(2))).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
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

    fn start(fake: &Arc<Fake>, bounds: Bounds) -> Work<Fake> {
        Work::start(
            Arc::downgrade(fake),
            TaskTracker::new(),
            bounds,
            Arc::default(),
        )
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
        let work = start(&fake, bounds);
        for i in 0..40 {
            let key = accept(&fake, &format!("k{i:02}"));
            work.claim(&key).expect("a new key").keep();
            work.submit(key);
        }
        // A key held between accept and submit is not taken twice; a released one can be.
        let held = work.claim("redelivered").expect("a new key");
        assert!(work.claim("redelivered").is_none());
        held.release();
        work.claim("redelivered").expect("released").release();
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
        let work = start(&fake, bounds);
        work.close();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let key = accept(&fake, "late");
        work.claim(&key).expect("a new key").keep();
        work.submit(key);
        assert!(wait_for_runs(&fake, 1, 20).await.is_empty());
    }

    #[tokio::test]
    async fn while_an_acknowledgement_waits_one_request_runs_at_a_time() {
        let fake = Arc::new(Fake {
            takes: 20,
            ..Fake::default()
        });
        let bounds = Bounds {
            queued: 64,
            running: 4,
        };
        let work = start(&fake, bounds);
        let waiting = work.claim("an acknowledgement").expect("a new key");
        for i in 0..6 {
            let key = accept(&fake, &format!("a{i}"));
            work.claim(&key).expect("a new key").keep();
            work.submit(key);
        }
        assert_eq!(wait_for_runs(&fake, 6, 400).await.len(), 6, "they all ran");
        assert_eq!(fake.most_at_once.load(Ordering::SeqCst), 1);
        waiting.release();
        for i in 0..6 {
            let key = accept(&fake, &format!("b{i}"));
            work.claim(&key).expect("a new key").keep();
            work.submit(key);
        }
        assert_eq!(wait_for_runs(&fake, 12, 400).await.len(), 12);
        assert!(
            fake.most_at_once.load(Ordering::SeqCst) > 1,
            "with no acknowledgement waiting, requests run side by side"
        );
    }

    fn submit(work: &Work<Fake>, fake: &Fake, key: &str) {
        let key = accept(fake, key);
        work.claim(&key).expect("a new key").keep();
        work.submit(key);
    }

    #[tokio::test]
    async fn during_a_flood_of_acknowledgements_requests_start_at_a_pace() {
        let fake = Arc::new(Fake::default());
        let work = start(&fake, Bounds::default());
        submit(&work, &fake, "before");
        assert_eq!(wait_for_runs(&fake, 1, 400).await.len(), 1);
        // As many acknowledgements wait for the inbox at once as make a flood.
        let keys: Vec<_> = (0..PRESSURE).map(|i| format!("ack {i}")).collect();
        let flood: Vec<_> = keys
            .iter()
            .map(|key| work.claim(key).expect("a new key"))
            .collect();
        for i in 0..4 {
            submit(&work, &fake, &format!("during {i}"));
        }
        assert_eq!(wait_for_runs(&fake, 5, 400).await.len(), 5, "they all ran");
        let started = fake.started.lock().unwrap().clone();
        for pair in started.windows(2) {
            assert!(
                pair[1] - pair[0] >= PACE,
                "started {:?} apart",
                pair[1] - pair[0]
            );
        }
        // Once the flood is over, requests start side by side again.
        for claim in flood {
            claim.release();
        }
        fake.most_at_once.store(0, Ordering::SeqCst);
        for i in 0..4 {
            submit(&work, &fake, &format!("after {i}"));
        }
        assert_eq!(wait_for_runs(&fake, 9, 400).await.len(), 9);
        assert!(fake.most_at_once.load(Ordering::SeqCst) > 1);
    }

    #[tokio::test]
    async fn an_abandoned_acknowledgement_gives_its_key_to_the_backlog_sweep() {
        let fake = Arc::new(Fake::default());
        let work = start(&fake, Bounds::default());
        let key = accept(&fake, "stored, then the platform hung up");
        // The acknowledgement's future is dropped after the inbox stored the request but before
        // it was queued.
        drop(work.claim(&key).expect("a new key"));
        assert_eq!(wait_for_runs(&fake, 1, 400).await, vec![key.clone()]);
        // Its key is free again, for a redelivery after a restart.
        work.claim(&key).expect("released").release();
    }

    #[tokio::test]
    async fn an_abandoned_write_committed_later_is_found_by_a_later_sweep() {
        let fake = Arc::new(Fake::default());
        let work = start(&fake, Bounds::default());
        // Dropped while its write still waits for the inbox writer: the first sweep finds
        // nothing, the write lands afterwards.
        drop(work.claim("committed late").expect("a new key"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(fake.runs.lock().unwrap().is_empty());
        let key = accept(&fake, "committed late");
        assert_eq!(wait_for_runs(&fake, 1, 400).await, vec![key]);
    }
}
