// Entry of python-runner.js: `cargo bundle` copies this file into target/bundle-work/, esbuild
// bundles it (ES module, minified) with the wasm-bindgen glue and snippets, the wasm module
// (raw-deflated, base64 loader: a string), the worker's start and the Python helper package, and
// assemble.rs wraps the result in one function, `__pythonRunner`, called at once. So the file runs
// as a classic `<script src>` and as an imported ES module, and its own text is the worker's code:
// one copy of the glue serves page and worker, wherever and however the file was loaded.
import init, { boot, pageHidden, pageShown } from "./wasm/python_runner_runtime.js";
import deflated from "./wasm/python_runner_runtime_bg.wasm.deflate";
import { startWorker } from "./worker.js";
import { serveSyncRequests } from "./service-worker.js";

// Until the element is defined (the wasm compiles asynchronously), show its code as code rather
// than as a run-on paragraph. A constructed sheet, not a <style> element, so strict CSP allows it.
function addEarlyStyle() {
  try {
  const early = new CSSStyleSheet();
  early.replaceSync("python-runner:not(:defined){display:block;white-space:pre;font-family:monospace}");
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, early];
  } catch {}
}

// The code of every worker: this whole file, whose first statement marks it as the worker.
// `__pythonRunner` is the wrapping function (its name is bound inside it), and a function's
// text is its source, so this needs no URL of the file and no second copy of it.
function workerSource() {
  return "self.__pythonRunnerWorker=1;(" + __pythonRunner + ")();";
}

async function start() {
  const binary = atob(deflated);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const inflated = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const module = await WebAssembly.compile(await new Response(inflated).arrayBuffer());
  await init({ module_or_path: module });
  // Each worker gets the compiled module and instantiates it: one download, one compilation.
  boot(workerSource(), module);
  // Leaving the page lets go of every worker (a page frozen in the back/forward cache keeps its workers, and
  // Firefox then stalls other pages' WebAssembly compilation); back from that cache, the elements start over.
  addEventListener("pagehide", pageHidden);
  addEventListener("pageshow", pageShown);
}

if (typeof ServiceWorkerGlobalScope === "function" && self instanceof ServiceWorkerGlobalScope) {
  // Registered as the page's service worker (or importScripts-ed by one): no element here.
  serveSyncRequests(self);
} else if (self.__pythonRunnerWorker) {
  // An element's worker, started from workerSource().
  startWorker();
} else {
  addEarlyStyle();
  start().catch((error) => console.error("python-runner failed to start:", error));
}
