// Entry of the worker bundle: `cargo bundle` copies this file into target/bundle-work/ and
// esbuild bundles it (ES module, minified) with the wasm-bindgen glue and the Python helper
// package. The result becomes a string inside python-runner.js, which the element starts as a
// module worker from a Blob URL. The wasm itself arrives compiled, in the element's first message.
import { initSync, worker_boot } from "./wasm/python_runner_runtime.js";
import pythonFiles from "./python-files.js";

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
