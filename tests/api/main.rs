//! Integration tests: one binary, so the crate is linked once.

mod binary;
mod console;
mod engine;
mod fake_slack;
mod helpers;
mod slack;
mod store;
