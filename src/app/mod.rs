//! The process: the command line ([`cli`]), building the application from its settings
//! ([`startup`]), `firewatch serve` ([`serve`]: chat adapters, start-up replay, inbox upkeep),
//! its HTTP routes ([`http`]) and health endpoints ([`health`]).
//!
//! Wiring only: every behaviour lives in the library modules it connects.

pub mod cli;
pub mod health;
pub mod http;
pub mod serve;
pub mod startup;

pub use startup::App;
