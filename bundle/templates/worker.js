// The worker's start, a part of python-runner.js: main.js calls `startWorker` when the bundle runs
// as an element's worker (a module worker from a Blob URL of the bundle's own text, see main.js), so
// the worker shares the page's one copy of the wasm-bindgen glue and carries the Python helper
// package. The wasm itself arrives compiled, in the element's first message.
import { initSync, worker_boot } from "./wasm/python_runner_runtime.js";
import pythonFiles from "./python-files.js";

export function startWorker() {
  // Installed synchronously: a module worker drops messages that arrive before a handler exists.
  // Messages before the module (none, in practice) are queued for Rust, which then takes over.
  const queue = [];
  self.onmessage = (event) => {
    const module = event.data && event.data.wasm_module;
    if (!(module instanceof WebAssembly.Module)) {
      queue.push(event.data);
      return;
    }
    // Start fetching Pyodide now; Rust imports the same URL later and gets this module (or error).
    import(event.data.pyodide_url + "pyodide.mjs").catch(() => {});
    try {
      initSync({ module });
      worker_boot(queue, pythonFiles);
    } catch (error) {
      self.postMessage({
        type: "failed",
        id: null,
        error: { kind: "worker", message: "python-runner worker failed to start: " + error, detail: null },
      });
    }
  };
}
