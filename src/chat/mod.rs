//! Chat adapters: each turns a platform's input into engine calls and renders the engine's
//! neutral replies for the platform. Adapters never touch the store, the cluster or templates.

pub mod console;
