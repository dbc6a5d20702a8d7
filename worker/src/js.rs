//! Typed declarations of every JS shape the worker touches: Pyodide and its helper modules, the
//! worker scope's `postMessage`, option objects, and what the engine can do. The only module of
//! the worker that reads untyped JS (`Reflect`); the rest of the crate calls these.

use js_sys::{Function, Int32Array, Object, Promise, Reflect, Uint8Array};
use python_runner_protocol::{FromWorker, ATTACHMENT};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_sys::DedicatedWorkerGlobalScope;

#[wasm_bindgen(inline_js = "export function import_module(url) { return import(url); }")]
extern "C" {
    /// `import(url)`: wasm-bindgen has no dynamic import of its own.
    pub fn import_module(url: &str) -> Promise;
}

#[wasm_bindgen]
extern "C" {
    /// The namespace object of `pyodide.mjs`.
    pub type PyodideModule;
    #[wasm_bindgen(method, getter, js_name = loadPyodide)]
    pub fn load_pyodide(this: &PyodideModule) -> JsValue;
    /// The module's `version` export.
    #[wasm_bindgen(method, getter)]
    pub fn version(this: &PyodideModule) -> Option<String>;

    /// `loadPyodide`'s options.
    #[wasm_bindgen(extends = Object)]
    pub type LoadOptions;
    #[wasm_bindgen(method, setter, js_name = indexURL)]
    pub fn set_index_url(this: &LoadOptions, url: &str);
    /// Pyodide's private option (pinned version): restore this memory snapshot.
    #[wasm_bindgen(method, setter, js_name = _loadSnapshot)]
    pub fn set_load_snapshot(this: &LoadOptions, snapshot: &Uint8Array);
    /// Pyodide's private option (pinned version): allow `makeMemorySnapshot`.
    #[wasm_bindgen(method, setter, js_name = _makeSnapshot)]
    pub fn set_make_snapshot(this: &LoadOptions, make: bool);

    /// The object `loadPyodide` resolves to.
    #[derive(Clone)]
    pub type Pyodide;
    #[wasm_bindgen(method, getter)]
    pub fn version(this: &Pyodide) -> Option<String>;
    #[wasm_bindgen(method, catch)]
    pub fn pyimport(this: &Pyodide, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = runPython)]
    pub fn run_python(this: &Pyodide, code: &str) -> Result<JsValue, JsValue>;
    /// The whole Python heap, to restore with `_loadSnapshot` (needs `_makeSnapshot`).
    #[wasm_bindgen(method, catch, js_name = makeMemorySnapshot)]
    pub fn make_memory_snapshot(this: &Pyodide) -> Result<Uint8Array, JsValue>;
    #[wasm_bindgen(method, getter, js_name = FS)]
    pub fn fs(this: &Pyodide) -> PyodideFs;
    #[wasm_bindgen(method, js_name = setInterruptBuffer)]
    pub fn set_interrupt_buffer(this: &Pyodide, buffer: &Int32Array);
    #[wasm_bindgen(method, catch, js_name = unpackArchive)]
    pub fn unpack_archive(
        this: &Pyodide,
        buffer: &JsValue,
        format: &str,
        options: &UnpackOptions,
    ) -> Result<JsValue, JsValue>;

    /// `unpackArchive`'s options.
    #[wasm_bindgen(extends = Object)]
    pub type UnpackOptions;
    #[wasm_bindgen(method, setter, js_name = extractDir)]
    pub fn set_extract_dir(this: &UnpackOptions, folder: &str);

    /// `pyodide.FS`, Emscripten's file system.
    pub type PyodideFs;
    #[wasm_bindgen(method, catch, js_name = mkdirTree)]
    pub fn mkdir_tree(this: &PyodideFs, path: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn readdir(this: &PyodideFs, path: &str) -> Result<js_sys::Array, JsValue>;
    #[wasm_bindgen(method, catch, js_name = writeFile)]
    pub fn write_file(this: &PyodideFs, path: &str, data: &str) -> Result<(), JsValue>;

    /// The helper package `pyodide_worker_runner` (a PyProxy of the module).
    pub type HelperModule;
    #[wasm_bindgen(method, getter)]
    pub fn run_code(this: &HelperModule) -> PyCallable;

    /// `pyodide_worker_runner.runner` (a PyProxy of the module).
    pub type RunnerModule;
    #[wasm_bindgen(method, catch)]
    pub fn add_to_path(this: &RunnerModule, folder: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    pub fn reset_session(this: &RunnerModule, session: &str) -> Result<(), JsValue>;

    /// `pyodide_worker_runner.imports` (a PyProxy of the module).
    pub type ImportsModule;
    #[wasm_bindgen(method, getter)]
    pub fn install_for_run(this: &ImportsModule) -> Function;

    /// A PyProxy of a Python callable: a JS function, plus `callPromising` where JSPI lets
    /// Python suspend on a promise.
    #[wasm_bindgen(extends = Function)]
    #[derive(Clone)]
    pub type PyCallable;
    #[wasm_bindgen(method, getter, js_name = callPromising)]
    pub fn call_promising(this: &PyCallable) -> Option<Function>;

    /// The service worker's answer to a synchronous read (`sync_message_sw.js`).
    pub type SyncAnswer;
    #[wasm_bindgen(method, getter)]
    pub fn version(this: &SyncAnswer) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    pub fn message(this: &SyncAnswer) -> JsValue;

    /// `new WebAssembly.Memory({initial, maximum, shared})`'s descriptor.
    #[wasm_bindgen(extends = Object)]
    type MemoryDescriptor;
    #[wasm_bindgen(method, setter)]
    fn set_initial(this: &MemoryDescriptor, pages: u32);
    #[wasm_bindgen(method, setter)]
    fn set_maximum(this: &MemoryDescriptor, pages: u32);
    #[wasm_bindgen(method, setter)]
    fn set_shared(this: &MemoryDescriptor, shared: bool);
}

impl LoadOptions {
    /// `{indexURL: url}`.
    pub fn index_url(url: &str) -> Self {
        let options: Self = Object::new().unchecked_into();
        options.set_index_url(url);
        options
    }
}

impl UnpackOptions {
    /// `{extractDir: folder}`.
    pub fn extract_dir(folder: &str) -> Self {
        let options: Self = Object::new().unchecked_into();
        options.set_extract_dir(folder);
        options
    }
}

/// One page of shared `WebAssembly.Memory`, which `Atomics.wait` can block on even without
/// cross-origin isolation, in engines that allow that; `None` where the engine refuses.
pub fn shared_memory_page() -> Option<js_sys::WebAssembly::Memory> {
    let descriptor: MemoryDescriptor = Object::new().unchecked_into();
    descriptor.set_initial(1);
    descriptor.set_maximum(1);
    descriptor.set_shared(true);
    js_sys::WebAssembly::Memory::new(&descriptor).ok()
}

/// Whether this engine has JavaScript Promise Integration (`WebAssembly.Suspending`).
pub fn has_jspi() -> bool {
    Reflect::get(&js_sys::global(), &"WebAssembly".into())
        .and_then(|wasm| Reflect::get(&wasm, &"Suspending".into()))
        .is_ok_and(|suspending| suspending.is_function())
}

/// The object a message carries beside its typed fields (see [`ATTACHMENT`]).
pub fn attachment(raw: &JsValue) -> JsValue {
    Reflect::get(raw, &ATTACHMENT.into()).unwrap_or_default()
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Handles every message the element posts to this worker, for the worker's whole life.
pub fn on_messages(handler: &Closure<dyn FnMut(web_sys::MessageEvent)>) {
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
}

/// The one encoder for messages to the element.
pub fn post(message: &FromWorker) {
    post_with(message, None);
}

/// Posts `message` with `bytes` under [`ATTACHMENT`], moving (not copying) their buffer.
pub fn post_transferring(message: &FromWorker, bytes: &js_sys::Uint8Array) {
    post_with(message, Some(bytes));
}

fn post_with(message: &FromWorker, attachment: Option<&js_sys::Uint8Array>) {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    match message.serialize(&serializer) {
        Ok(value) => {
            let posted = match attachment {
                None => scope().post_message(&value),
                Some(bytes) => Reflect::set(&value, &ATTACHMENT.into(), bytes).and_then(|_| {
                    scope().post_message_with_transfer(&value, &js_sys::Array::of1(&bytes.buffer()))
                }),
            };
            if let Err(error) = posted {
                web_sys::console::error_2(&"python-runner: postMessage failed".into(), &error);
            }
        }
        Err(error) => web_sys::console::error_1(
            &[
                "python-runner: could not encode a message: ",
                &error.to_string(),
            ]
            .concat()
            .into(),
        ),
    }
}
