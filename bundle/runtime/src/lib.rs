//! The single wasm module of `python-runner.js`: the page half (`python-runner-element`) and the
//! worker half (`python-runner-worker`) linked into one binary.
//!
//! Linking them together means std, serde and the wasm-bindgen runtime exist once in the bundle.
//! The page compiles the module once and posts the compiled `WebAssembly.Module` to each worker,
//! which instantiates it synchronously; each side only ever calls its own exports.
//! The two crates stay independent of each other: this crate only re-exports their entry points.

use wasm_bindgen::prelude::*;

pub use python_runner_element::boot;

/// The worker's entry (see `python_runner_worker::worker_boot`).
#[wasm_bindgen]
pub fn worker_boot(queue: js_sys::Array, python_files: js_sys::Object) {
    python_runner_worker::worker_boot(queue, python_files);
}
