//! The process: the command line ([`cli`]), building the application from its settings
//! ([`startup`]), `firewatch serve` ([`serve`]: chat adapters, start-up replay, inbox upkeep),
//! its HTTP routes ([`http`]), the alert notifications' intake ([`alerts`]) and health
//! endpoints ([`health`]); what `check-config` and `serve` warn about ([`warnings`]).
//!
//! Wiring only: every behaviour lives in the library modules it connects.

pub mod alerts;
pub mod cli;
pub mod health;
pub mod http;
pub mod pagers;
pub mod serve;
pub mod startup;
pub mod warnings;

pub use startup::App;
