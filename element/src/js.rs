//! Typed declarations of the browser shapes the element reads that web-sys does not cover, or
//! covers with getters that throw where a feature is missing: the host's stored `code` and
//! handle, what the page can do (isolation, JSPI, a controlling service worker), and plain
//! objects for messages. The only module besides `bindings.rs` that touches untyped JS.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

#[wasm_bindgen(module = "/js/properties.js")]
extern "C" {
    /// Defines the prototype's properties and methods, which call each element's handle.
    pub fn define_properties(tag: &str);
    /// Whether `code`, `pyodideUrl`, `manual` or `hideCode` was set before the class existed.
    pub fn has_early_properties(element: &HtmlElement) -> bool;
    /// Moves such properties onto the accessors (sets attributes: never call it in a callback).
    pub fn upgrade_early_properties(element: &HtmlElement);
}

#[wasm_bindgen]
extern "C" {
    /// The host element, with the properties `properties.js` and `bindings.rs` keep on it.
    #[wasm_bindgen(extends = HtmlElement)]
    pub type RunnerHost;
    /// The value the `code` setter stored (`undefined` until it is set).
    #[wasm_bindgen(method, getter, js_name = __pythonRunnerCode)]
    pub fn code_property(this: &RunnerHost) -> Option<String>;
    /// Keeps the reader's edit as the `code` property's value (without running it).
    #[wasm_bindgen(method, setter, js_name = __pythonRunnerCode)]
    pub fn set_code_property(this: &RunnerHost, code: &str);
    /// Keeps the element's handle (`bindings::Handle`), which the prototype's properties call.
    #[wasm_bindgen(method, setter, js_name = __pythonRunner)]
    pub fn set_handle(this: &RunnerHost, handle: JsValue);

    /// The page's global object (`window`), read for what it can do.
    type Global;
    #[wasm_bindgen(method, getter, js_name = crossOriginIsolated)]
    fn cross_origin_isolated(this: &Global) -> Option<bool>;
    #[wasm_bindgen(method, getter, js_name = SharedArrayBuffer)]
    fn shared_array_buffer(this: &Global) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = WebAssembly)]
    fn web_assembly(this: &Global) -> Option<WebAssemblyNamespace>;
    #[wasm_bindgen(method, getter)]
    fn navigator(this: &Global) -> Option<Navigator>;

    type WebAssemblyNamespace;
    #[wasm_bindgen(method, getter, js_name = Suspending)]
    fn suspending(this: &WebAssemblyNamespace) -> JsValue;

    type Navigator;
    /// `undefined` outside secure contexts, hence not web-sys's typed getter.
    #[wasm_bindgen(method, getter, js_name = serviceWorker)]
    fn service_worker(this: &Navigator) -> Option<ServiceWorkerContainer>;

    type ServiceWorkerContainer;
    #[wasm_bindgen(method, getter)]
    fn controller(this: &ServiceWorkerContainer) -> Option<ServiceWorker>;

    /// The service worker controlling the page.
    pub type ServiceWorker;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    pub fn post_message(this: &ServiceWorker, message: &JsValue) -> Result<(), JsValue>;
}

fn global() -> Global {
    js_sys::global().unchecked_into()
}

/// What the page offers for a worker to wait on it.
pub struct Capabilities {
    /// Cross-origin isolated, with `SharedArrayBuffer`.
    pub atomics: bool,
    /// `WebAssembly.Suspending` (JavaScript Promise Integration).
    pub jspi: bool,
    /// A service worker controls the page.
    pub service_worker: bool,
}

/// Reads the page's [`Capabilities`].
pub fn capabilities() -> Capabilities {
    let global = global();
    Capabilities {
        atomics: global.cross_origin_isolated() == Some(true)
            && global.shared_array_buffer().is_function(),
        jspi: global
            .web_assembly()
            .is_some_and(|wasm| wasm.suspending().is_function()),
        service_worker: service_worker_controller().is_some(),
    }
}

/// The service worker controlling this page (`navigator.serviceWorker.controller`), if any.
pub fn service_worker_controller() -> Option<ServiceWorker> {
    global().navigator()?.service_worker()?.controller()
}

/// A plain object with `entries` as its properties.
pub fn object(entries: &[(&str, &JsValue)]) -> Object {
    let object = Object::new();
    for (key, value) in entries {
        set(&object, key, value);
    }
    object
}

/// Sets `object[key] = value` (on an object this crate made, where it cannot fail).
pub fn set(object: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

/// `object[key]`, or `undefined` (also when `object` is not an object).
pub fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).unwrap_or_default()
}
