//! Where the message that shows each card (an approval request's progress) is remembered, so
//! that any step can edit it: in the store once one is attached (replicas share it, and it
//! survives a restart), in this process's memory otherwise. Each platform keeps its own JSON.
//!
//! Owns the remembering only: what a card message looks like is the platform's business.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use crate::error_chain;
use crate::store::Store;

/// The card messages a platform posted.
#[derive(Default)]
pub struct Cards {
    memory: Mutex<HashMap<String, Value>>,
    store: OnceLock<Arc<dyn Store>>,
}

impl Cards {
    /// Remembers cards in `store` from now on (the first store given stays).
    pub fn keep_in(&self, store: Arc<dyn Store>) {
        let _ = self.store.set(store);
    }

    /// The message of card `key`, if one was posted (by any replica, when in the store).
    pub async fn get(&self, key: &str) -> Option<Value> {
        if let Some(store) = self.store.get() {
            match store.card(key).await {
                Ok(Some(text)) => match serde_json::from_str(&text) {
                    Ok(value) => return Some(value),
                    Err(e) => tracing::warn!(card = key, error = %e, "unreadable stored card"),
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(card = key, error = %error_chain(&e), "cannot read a card")
                }
            }
        }
        let memory = self.memory.lock().expect("the card map is never poisoned");
        memory.get(key).cloned()
    }

    /// Remembers `message` as card `key`'s.
    pub async fn put(&self, key: &str, message: Value) {
        if let Some(store) = self.store.get()
            && let Err(e) = store.keep_card(key, &message.to_string()).await
        {
            tracing::warn!(card = key, error = %error_chain(&e), "cannot store a card");
        }
        let mut memory = self.memory.lock().expect("the card map is never poisoned");
        memory.insert(key.to_owned(), message);
    }
}
