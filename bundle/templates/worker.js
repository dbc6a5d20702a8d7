// Entry of the worker bundle: `cargo bundle` copies this file into target/bundle-work/ and
// esbuild bundles it (ES module, minified) with the worker's wasm-bindgen glue, its wasm
// (binary loader: a Uint8Array) and the Python helper package. The result becomes a string
// inside python-runner.js, which the element starts as a module worker from a Blob URL.
import init, { worker_boot } from "./worker/python_runner_worker.js";
import wasm from "./worker/python_runner_worker_bg.wasm";
import pythonFiles from "./python-files.js";

// Installed synchronously: a module worker drops messages that arrive before a handler exists,
// and the element posts its first request while the wasm is still compiling.
const queue = [];
self.onmessage = (event) => queue.push(event.data);

init({ module_or_path: wasm }).then(
  () => worker_boot(queue, pythonFiles),
  (error) =>
    self.postMessage({
      type: "failed",
      id: null,
      error: { kind: "worker", message: "python-runner worker failed to start: " + error, detail: null },
    }),
);
