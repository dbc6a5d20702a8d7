//! The library API behind `python-runner.mjs`, a drop-in for pyodide-worker-runner, comsync and
//! sync-message for users who run their own worker: the client state machine (`client.rs`),
//! sync-message's wire (`wire.rs`) and the wasm exports the module's JS layer wraps (`bindings.rs`).

pub mod client;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
pub use bindings::*;
