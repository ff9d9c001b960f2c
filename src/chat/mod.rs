//! Chat adapters: each turns a platform's input into engine calls and renders the engine's
//! neutral replies for the platform. Adapters never touch the cluster or templates; they use the
//! store only for their request inbox (dedupe and replay).

pub mod cards;
pub mod console;
pub mod discord;
mod link;
pub mod replay;
mod router;
pub mod slack;
pub mod work;

pub use link::Link;
pub use router::Router;
