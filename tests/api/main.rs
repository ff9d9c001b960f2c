//! Integration tests: one binary, so the crate is linked once.

mod binary;
mod cluster;
mod console;
mod engine;
mod helpers;
mod store;
mod support;
