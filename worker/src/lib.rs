//! The `<python-runner>` worker: loads Pyodide, installs the `pyodide_worker_runner` helper,
//! runs code and streams output back to the element as typed messages.
//!
//! It runs as a module worker created by the element from a Blob URL (see `bundle/templates/worker.js`).
//! `dispatch.rs` decides, `bindings.rs` talks to JS and Pyodide, `python.rs` holds paths and texts,
//! `contract.rs` the arguments and events of the Python helper's entry points.

mod bindings;
pub mod channel;
pub mod contract;
pub mod dispatch;
mod interrupts;
pub mod python;

pub use bindings::{boot, install_helper, worker_boot};
