// Entry of python-runner.js: `cargo bundle` copies this file into target/bundle-work/ and
// esbuild bundles it (IIFE, minified) with the element's wasm-bindgen glue and snippets, its
// wasm (binary loader: a Uint8Array) and the worker bundle (text loader: a string).
// An IIFE runs both as a classic `<script src>` and as an imported ES module.
import init, { boot } from "./element/python_runner_element.js";
import wasm from "./element/python_runner_element_bg.wasm";
import workerSource from "./worker.bundle.txt";

init({ module_or_path: wasm }).then(
  () => boot(workerSource),
  (error) => console.error("python-runner failed to start:", error),
);
