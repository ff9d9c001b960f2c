//! Integration tests: one binary, so the crate is linked once.

mod binary;
mod console;
mod engine;
mod helpers;
mod report;
mod store;
mod timers;
