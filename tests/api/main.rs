//! Integration tests: one binary, so the crate is linked once.

mod alerts;
mod binary;
mod cluster;
mod console;
mod crash;
mod deploy;
mod discord;
mod engine;
mod fake_discord;
mod fake_slack;
mod fuzz;
mod health;
mod helpers;
mod outsiders;
mod posts;
mod recorder;
mod replicas;
mod report;
mod shutdown;
mod slack;
mod slow_clients;
mod store;
mod store_faults;
mod support;
mod timers;
