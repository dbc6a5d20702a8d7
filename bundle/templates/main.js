// Entry of python-runner.js: `cargo bundle` copies this file into target/bundle-work/ and
// esbuild bundles it (IIFE, minified) with the wasm-bindgen glue and snippets, the wasm module
// (raw-deflated, binary loader: a Uint8Array) and the worker bundle (text loader: a string).
// An IIFE runs both as a classic `<script src>` and as an imported ES module.
import init, { boot } from "./wasm/python_runner_runtime.js";
import deflated from "./wasm/python_runner_runtime_bg.wasm.deflate";
import workerSource from "./worker.bundle.txt";
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

async function start() {
  const inflated = new Blob([deflated]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  const module = await WebAssembly.compile(await new Response(inflated).arrayBuffer());
  await init({ module_or_path: module });
  // Each worker gets the compiled module and instantiates it: one download, one compilation.
  boot(workerSource, module);
}

if (typeof ServiceWorkerGlobalScope === "function" && self instanceof ServiceWorkerGlobalScope) {
  // Registered as the page's service worker (or importScripts-ed by one): no element here.
  serveSyncRequests(self);
} else {
  addEarlyStyle();
  start().catch((error) => console.error("python-runner failed to start:", error));
}
