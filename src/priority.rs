//! CPU priorities: the threads that acknowledge chat requests run at the process's own priority;
//! the engine's threads, and the threads that run the engine's SQLite statements, run a nice
//! increment lower (`server.engine_nice`, +10 by default, on Linux), so a burst of commands never
//! delays the acknowledgements of the next ones. On an idle machine this changes nothing.

use std::sync::atomic::{AtomicI32, Ordering};

/// The nice increment of the engine's threads (see [`set_engine_nice`]).
static ENGINE_NICE: AtomicI32 = AtomicI32::new(10);

/// The name of the threads that run the SQLite pool's statements, one per connection (sqlx runs
/// each connection on a thread of its own). Fifteen characters: Linux keeps no more of a
/// thread's name.
pub const STORE_THREAD: &str = "firewatch-store";

/// Sets how much lower the engine's threads run (a nice increment, 0 to 19;
/// `server.engine_nice`). Call it before the store opens and before the engine's runtime starts:
/// threads only ever move to a lower priority (raising one back needs a privilege).
pub fn set_engine_nice(nice: i32) {
    ENGINE_NICE.store(nice.clamp(0, 19), Ordering::Relaxed);
    lower_store_threads();
}

/// Gives the calling thread the engine's lower priority (the process's nice value plus
/// [`set_engine_nice`]'s increment). Elsewhere than Linux, or when the system refuses, the thread
/// keeps its priority.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    lower(0);
}

/// Gives the SQLite pool's connection threads ([`STORE_THREAD`]) the engine's lower priority.
///
/// The engine's queries wait for these threads; a connection opened while serving an
/// acknowledging thread's request, or at start-up, would otherwise start its thread at full
/// priority and run the engine's statements there. The store calls this after it opens each
/// connection. The acknowledgements do not use these threads (the inbox writer has its own).
pub fn lower_store_threads() {
    #[cfg(target_os = "linux")]
    {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return;
        };
        for task in tasks.flatten() {
            let named = std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.trim_end() == STORE_THREAD);
            let tid = task.file_name().to_str().and_then(|t| t.parse().ok());
            if let (true, Some(tid)) = (named, tid) {
                lower(tid);
            }
        }
    }
}

/// Sets thread `tid` (0: the calling thread) to the process's nice value plus the increment,
/// unless it already runs that low.
#[cfg(target_os = "linux")]
fn lower(tid: libc::id_t) {
    let nice = ENGINE_NICE.load(Ordering::Relaxed);
    // SAFETY: getpid, getpriority and setpriority with PRIO_PROCESS read and change only the nice
    // value of one thread of this process (Linux keeps it per thread; the process id names its
    // main thread); they touch no memory of ours.
    let failed = unsafe {
        let process = libc::getpriority(libc::PRIO_PROCESS, libc::getpid().cast_unsigned());
        let target = (process + nice).min(19);
        libc::getpriority(libc::PRIO_PROCESS, tid) < target
            && libc::setpriority(libc::PRIO_PROCESS, tid, target) != 0
    };
    if failed {
        tracing::debug!(tid, "could not lower a thread's priority");
    }
}
