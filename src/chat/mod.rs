//! Chat: the platforms people type commands in and read the bot's messages on. Every request,
//! whatever its platform, takes one way through the engine ([`pipeline`]: inbox, run, replay,
//! on tasks bounded by [`work`]); each platform ([`slack`], [`discord`]) keeps only its own
//! verifying, decoding, rendering and sending. The terminal ([`console`]) runs commands
//! directly. [`Router`] is the engine's outbox over every platform this process runs. A request
//! from a workspace or server firewatch does not serve ([`Served`]) is refused before it is
//! stored.
//!
//! Adapters never touch the cluster or templates; they use the store only through the pipeline's
//! inbox and their cards.

pub mod cards;
pub mod console;
pub mod discord;
mod link;
pub mod pipeline;
pub mod replay;
mod router;
mod served;
pub mod signing;
pub mod slack;
pub mod work;

pub use link::Link;
pub use pipeline::{Adapter, Pipeline};
pub use router::Router;
pub use served::Served;
