//! The `<python-runner>` custom element: shows code, runs it in a Pyodide worker, renders output.
//!
//! `bindings.rs` is the JS boundary (the `boot` export, the element class, properties);
//! `registry.rs` holds live instances and carries out effects; `machine.rs` is the per-element
//! state machine (plain Rust); `log.rs` the output log's model (plain Rust); `view.rs` owns the shadow DOM; `worker_client.rs` the worker;
//! `code.rs` turns element text into source; `listener.rs` owns event listeners.
#![deny(clippy::unwrap_used)]

mod archive;
mod bindings;
pub mod code;
mod listener;
pub mod log;
pub mod machine;
mod registry;
mod spare;
mod view;
mod worker_client;

pub use bindings::boot;
pub use registry::live_instance_count;
