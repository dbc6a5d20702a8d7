//! The `<python-runner>` custom element: shows code, runs it in a Pyodide worker, renders output.
//!
//! Binding modules (the only ones that touch untyped JS): `bindings.rs` (exports: `boot`, the
//! element class, the per-element handle) and `js.rs` (typed imports of page shapes).
//! Plain Rust, tested natively: `machine.rs` (the per-element state machine, where every
//! decision lives), `log.rs` (the output log), `code.rs` (element text to source).
//! Glue: `lifecycle.rs` (connect, disconnect, properties), `effects.rs` (carries out the
//! machine's effects), `instances.rs` (the live instances), `workers.rs` and `spare.rs`
//! (starting workers, the pre-warmed spare), `worker_client.rs` (one worker), `archive.rs`
//! (downloads), `view.rs` (the shadow DOM), `style.rs` (themes), `editor.rs` (the `editable`
//! code), `viewport.rs` (lazy start), `events.rs`, `input.rs`, `attributes.rs`, `timers.rs`,
//! `listener.rs`.
#![deny(clippy::unwrap_used)]

mod archive;
mod attributes;
mod bindings;
pub mod code;
mod editor;
pub mod effect;
mod effects;
mod error;
mod events;
mod input;
mod instances;
mod js;
mod lifecycle;
mod listener;
pub mod log;
pub mod machine;
mod pictures;
pub mod pool;
mod runtimes;
mod snapshot;
mod spare;
mod status;
mod style;
mod timers;
mod view;
mod viewport;
mod worker_client;
mod workers;

/// Identifies one element instance.
type InstanceId = u32;

pub use bindings::boot;
pub use instances::live_instance_count;
