//! The work bound, the busy keys and the backlog sweep, over an inbox in memory.

use std::sync::Mutex;

use futures::FutureExt;

use super::*;

/// An inbox in memory and the runs of its requests.
#[derive(Default)]
struct Inbox {
    waiting: Mutex<Vec<String>>,
    runs: Mutex<Vec<String>>,
}

impl Inbox {
    fn store(&self, key: &str) {
        self.waiting.lock().unwrap().push(key.to_owned());
    }

    /// What a run does: it records itself and marks its request done.
    fn run(self: &Arc<Self>, key: String) -> impl Future<Output = ()> + Send + use<> {
        let inbox = Arc::clone(self);
        async move {
            tokio::task::yield_now().await;
            inbox.waiting.lock().unwrap().retain(|k| *k != key);
            inbox.runs.lock().unwrap().push(key);
        }
    }

    fn backlog(
        self: &Arc<Self>,
        limit: usize,
    ) -> Vec<(String, impl Future<Output = ()> + Send + use<>)> {
        let waiting = self.waiting.lock().unwrap().clone();
        waiting
            .into_iter()
            .take(limit)
            .map(|key| (key.clone(), self.run(key)))
            .collect()
    }

    fn runs(&self) -> Vec<String> {
        let mut runs = self.runs.lock().unwrap().clone();
        runs.sort();
        runs
    }
}

async fn drain(work: &Work, tasks: &TaskTracker, inbox: &Arc<Inbox>) {
    loop {
        tasks.close();
        tasks.wait().await;
        tasks.reopen();
        let started = work
            .sweep(async |limit| Ok(inbox.backlog(limit)))
            .await
            .unwrap();
        if started == 0 {
            return;
        }
    }
}

#[tokio::test]
async fn requests_beyond_the_bound_wait_in_the_inbox_and_each_runs_once() {
    let tasks = TaskTracker::new();
    let work = Work::new(tasks.clone(), 2);
    let inbox = Arc::new(Inbox::default());
    let mut expected = Vec::new();
    for i in 0..40 {
        let key = format!("k{i:02}");
        let claim = work.claim(key.clone()).expect("a new key");
        inbox.store(&key);
        work.start(claim, inbox.run(key.clone()));
        expected.push(key);
    }
    // A key held between its store and its start is not taken twice; a released one can be.
    let held = work.claim("redelivered".into()).expect("a new key");
    assert!(work.claim("redelivered".into()).is_none());
    held.release();
    work.claim("redelivered".into())
        .expect("released")
        .release();
    drain(&work, &tasks, &inbox).await;
    assert_eq!(inbox.runs(), expected, "every request ran, once");
}

#[tokio::test]
async fn a_request_that_finished_while_the_sweep_looked_is_not_run_again() {
    let tasks = TaskTracker::new();
    let work = Work::new(tasks.clone(), 4);
    let inbox = Arc::new(Inbox::default());
    inbox.store("done meanwhile");
    let claim = work.claim("done meanwhile".into()).expect("a new key");
    // The sweep reads the request as waiting; its run finishes before the sweep starts
    // anything.
    let (w, t, i) = (&work, &tasks, &inbox);
    let started = work
        .sweep(async move |limit| {
            let found = i.backlog(limit);
            w.start(claim, i.run("done meanwhile".into()));
            t.close();
            t.wait().await;
            t.reopen();
            Ok(found)
        })
        .await
        .unwrap();
    assert_eq!(started, 0);
    drain(&work, &tasks, &inbox).await;
    assert_eq!(inbox.runs(), ["done meanwhile"]);
}

#[tokio::test]
async fn a_sweep_that_filled_its_room_looks_again_when_a_run_finishes() {
    let tasks = TaskTracker::new();
    let work = Work::new(tasks.clone(), 1);
    let inbox = Arc::new(Inbox::default());
    for key in ["a", "b", "c"] {
        inbox.store(key);
    }
    let started = work
        .sweep(async |limit| Ok(inbox.backlog(limit)))
        .await
        .unwrap();
    assert_eq!(started, 1, "room for one");
    tasks.close();
    tasks.wait().await;
    tasks.reopen();
    assert!(
        work.sweep_wanted().now_or_never().is_some(),
        "the backlog was cut at the room there was: the finished run asks for a sweep"
    );
    drain(&work, &tasks, &inbox).await;
    assert_eq!(inbox.runs(), ["a", "b", "c"]);
}

#[tokio::test]
async fn after_close_nothing_new_starts() {
    let tasks = TaskTracker::new();
    let work = Work::new(tasks.clone(), 8);
    let inbox = Arc::new(Inbox::default());
    work.close();
    let claim = work.claim("late".into()).expect("a new key");
    inbox.store("late");
    work.start(claim, inbox.run("late".into()));
    work.start_waiting("replayed".into(), inbox.run("replayed".into()))
        .await;
    assert_eq!(
        work.sweep(async |limit| Ok(inbox.backlog(limit))).await,
        Ok(0)
    );
    tasks.close();
    tasks.wait().await;
    assert!(inbox.runs().is_empty());
}

#[tokio::test]
async fn an_abandoned_acknowledgement_gives_its_key_to_the_backlog_sweep() {
    let tasks = TaskTracker::new();
    let work = Work::new(tasks.clone(), 8);
    let inbox = Arc::new(Inbox::default());
    // The acknowledgement's future is dropped after the inbox stored the request, before it
    // was started.
    let claim = work.claim("stored, then the platform hung up".into());
    inbox.store("stored, then the platform hung up");
    drop(claim);
    // Asked for already: this returns at once.
    work.sweep_wanted().await;
    drain(&work, &tasks, &inbox).await;
    assert_eq!(inbox.runs(), ["stored, then the platform hung up"]);
}

#[tokio::test]
async fn a_request_this_process_ran_is_not_run_again_though_its_marks_were_not_written() {
    let tasks = TaskTracker::new();
    let work = Work::new(tasks.clone(), 4);
    let inbox = Arc::new(Inbox::default());
    inbox.store("marks failed");
    let claim = work.claim("marks failed".into()).expect("a new key");
    // The run's marks could not be written: the inbox still shows it waiting.
    let runs = Arc::clone(&inbox);
    work.start(claim, async move {
        runs.runs.lock().unwrap().push("marks failed".into());
    });
    tasks.close();
    tasks.wait().await;
    tasks.reopen();
    let started = work
        .sweep(async |limit| Ok(inbox.backlog(limit)))
        .await
        .unwrap();
    assert_eq!(started, 0);
    assert_eq!(inbox.runs(), ["marks failed"]);
}

#[tokio::test]
async fn a_run_that_panics_gives_its_key_and_its_place_up() {
    let tasks = TaskTracker::new();
    let work = Work::new(tasks.clone(), 1);
    let claim = work.claim("panics".into()).expect("a new key");
    work.start(claim, async { panic!("a bug in a command") });
    tasks.close();
    tasks.wait().await;
    tasks.reopen();
    work.claim("panics".into())
        .expect("its key is free again")
        .release();
    let inbox = Arc::new(Inbox::default());
    let claim = work.claim("next".into()).expect("a new key");
    inbox.store("next");
    work.start(claim, inbox.run("next".into()));
    drain(&work, &tasks, &inbox).await;
    assert_eq!(inbox.runs(), ["next"], "its place was given back");
}

#[tokio::test]
async fn a_run_waiting_to_try_again_keeps_its_place_until_close_ends_its_wait() {
    let tasks = TaskTracker::new();
    let work = Arc::new(Work::new(tasks.clone(), 1));
    let inbox = Arc::new(Inbox::default());
    let tries = Arc::new(Mutex::new(0));
    let claim = work.claim("failing".into()).expect("a new key");
    let (again, counted) = (Arc::clone(&work), Arc::clone(&tries));
    work.start(claim, async move {
        loop {
            let n = {
                let mut tries = counted.lock().unwrap();
                *tries += 1;
                *tries
            };
            // Short waits at first, then one longer than any test.
            let wait = if n < 3 { 1 } else { 3_600_000 };
            if !again.pause(Duration::from_millis(wait)).await {
                return;
            }
        }
    });
    while *tries.lock().unwrap() < 3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Its place is still taken: the next request waits in the inbox, and its key is held.
    let claim = work.claim("next".into()).expect("a new key");
    inbox.store("next");
    work.start(claim, inbox.run("next".into()));
    assert!(work.claim("failing".into()).is_none(), "still held");
    assert_eq!(
        work.sweep(async |limit| Ok(inbox.backlog(limit))).await,
        Ok(0)
    );
    // Closing ends the wait at once: shutdown does not wait an hour for it.
    work.close();
    tasks.close();
    tokio::time::timeout(Duration::from_secs(60), tasks.wait())
        .await
        .expect("the waiting run ended when work closed");
    assert_eq!(*tries.lock().unwrap(), 3);
    assert!(inbox.runs().is_empty());
}
