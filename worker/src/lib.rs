//! The `<python-runner>` worker: loads Pyodide, installs the `pyodide_worker_runner` helper,
//! runs code and streams output back to the element as typed messages.
//!
//! It runs as a module worker created by the element from a Blob URL (see `bundle/templates/worker.js`).
//! `entry.rs` is its life (messages in, effects out), `dispatch.rs` decides, `boot.rs` starts
//! Python, `events.rs` answers Python's events, `channel.rs` waits for the page, `js.rs` declares
//! every JS shape, `python.rs` holds paths and texts, and `contract.rs` the arguments and events
//! of the Python helper's entry points.

mod boot;
pub mod channel;
pub mod contract;
pub mod dispatch;
mod entry;
mod events;
mod interrupts;
pub mod js;
pub mod python;

pub use boot::{boot, install_helper, make_snapshot, Booted};
pub use entry::worker_boot;
