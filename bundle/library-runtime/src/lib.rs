//! The wasm module inlined in `python-runner.mjs` (the library API): only re-exports the library crate.
//!
//! Kept apart from `bundle/runtime` so the element's bundle does not carry the library's code.

pub use python_runner_library::*;
