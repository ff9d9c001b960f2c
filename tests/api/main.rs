//! Integration tests: one binary, so the crate is linked once.

mod binary;
mod cluster;
mod console;
mod crash;
mod discord;
mod engine;
mod fake_discord;
mod fake_slack;
mod fuzz;
mod helpers;
mod recorder;
mod replicas;
mod report;
mod slack;
mod store;
mod support;
mod timers;
