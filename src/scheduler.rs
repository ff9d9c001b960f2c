//! The scheduler: one task that ticks on an interval (`[scheduler] tick`) and fires the timers
//! that fell due — missed response targets and overdue updates — through the engine.
//!
//! Due times live in the store, not in tasks: a tick is one indexed query when nothing is due,
//! whatever the number of open incidents, and the first tick after a start fires what fell due
//! while firewatch was down, once. Tests drive [`tick`] directly with a manual clock.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::engine::Engine;
use crate::error_chain;

/// Fires everything due now; returns how many timers fired. Failures are logged: the next tick
/// tries again.
pub async fn tick(engine: &Engine) -> usize {
    match engine.run_due().await {
        Ok(fired) => fired.len(),
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "scheduler tick failed; retrying next tick");
            0
        }
    }
}

/// The running scheduler task.
pub struct Scheduler {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Scheduler {
    /// Starts ticking every `every`, the first tick at once.
    pub fn spawn(engine: Arc<Engine>, every: Duration) -> Self {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = interval.tick() => {
                        tick(&engine).await;
                    }
                }
            }
        });
        Self { stop, task }
    }

    /// Stops ticking; a tick in progress finishes first.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the scheduler task failed");
        }
    }
}
