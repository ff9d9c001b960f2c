//! What `GET /readyz` reports besides the store: whether the templates are loaded and whether
//! each chat connection that is a live link (Slack Socket Mode, the Discord gateway) is up.
//! HTTP-mode platforms have no link of their own: configured means ready.
//!
//! Owns the shared flags only; the adapters set them, the server reads them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The readiness of one application, shared by the adapters and the server.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    templates: AtomicBool,
    links: Mutex<Vec<Link>>,
}

/// One live chat connection's state: down until it says it is connected.
#[derive(Debug, Clone)]
pub struct Link {
    name: &'static str,
    up: Arc<AtomicBool>,
}

impl Link {
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

impl Readiness {
    /// Records that every template loaded and checked.
    pub fn templates_loaded(&self) {
        self.inner.templates.store(true, Ordering::Relaxed);
    }

    /// A new live connection, down until it reports [`Link::connected`].
    pub fn link(&self, name: &'static str) -> Link {
        let link = Link {
            name,
            up: Arc::new(AtomicBool::new(false)),
        };
        self.inner
            .links
            .lock()
            .expect("the link list is never poisoned: nothing panics holding it")
            .push(link.clone());
        link
    }

    /// What is not ready, one reason per line; empty when everything is.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.inner.templates.load(Ordering::Relaxed) {
            problems.push("templates: not loaded".to_owned());
        }
        let links = self
            .inner
            .links
            .lock()
            .expect("the link list is never poisoned: nothing panics holding it");
        for link in links.iter().filter(|l| !l.is_up()) {
            problems.push(format!("{}: not connected", link.name));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_templates_load_and_every_link_is_up() {
        let readiness = Readiness::default();
        assert_eq!(readiness.problems(), ["templates: not loaded"]);
        readiness.templates_loaded();
        let socket = readiness.link("slack socket mode");
        assert_eq!(readiness.problems(), ["slack socket mode: not connected"]);
        socket.connected();
        assert!(readiness.problems().is_empty());
        socket.disconnected();
        assert_eq!(readiness.problems(), ["slack socket mode: not connected"]);
    }
}
