//! firewatch — ChatOps incident response for services on Kubernetes.
//!
//! One engine runs every incident command, whichever chat platform it came from:
//! `chat` adapters turn platform input into a [`command::Command`], the [`engine`] checks it
//! against the incident's state ([`incident::lifecycle`]), commits the change to the [`store`]
//! and renders [`message::Message`]s from the templates in `messages/` ([`notify`]).

pub mod app;
pub mod approval;
pub mod catalog;
pub mod chat;
pub mod clock;
pub mod command;
pub mod config;
pub mod engine;
pub mod incident;
pub mod interval;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod scheduler;
pub mod store;
pub mod tls;

/// An error and its causes on one line (`cannot open the store at x: unable to open database
/// file`), for logs and the command line. A cause already quoted by its parent is not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}
