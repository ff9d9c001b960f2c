//! A live chat connection (Slack Socket Mode, the Discord gateway): up or down, as its adapter
//! last saw it. `GET /readyz` lists every link that is down; HTTP-mode platforms have no link of
//! their own (configured means ready).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One live chat connection's state: down until it says it is connected.
#[derive(Debug, Clone)]
pub struct Link {
    name: &'static str,
    up: Arc<AtomicBool>,
}

impl Link {
    /// A connection named `name` (as `/readyz` shows it), down until [`Link::connected`].
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            up: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Its name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The connection is up (Socket Mode `hello`, the gateway's `READY`).
    pub fn connected(&self) {
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!(link = self.name, "connected");
        }
    }

    /// The connection is down (an error, a disconnect, a reconnect in progress).
    pub fn disconnected(&self) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(link = self.name, "disconnected");
        }
    }

    /// Whether it is up now.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }
}
