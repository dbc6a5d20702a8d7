//! Every JS-facing part of the element crate: the `boot` export, the custom element class
//! (through the `custom-elements` crate), prototype properties, and a few typed imports.

use custom_elements::CustomElement;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::registry::{self, InstanceId};

/// The tag name of the element.
pub const TAG: &str = "python-runner";

#[wasm_bindgen(module = "/js/properties.js")]
extern "C" {
    fn define_properties(tag: &str, call: &Closure<dyn FnMut(HtmlElement, String) -> JsValue>);
    /// Whether `code`, `pyodideUrl`, `manual` or `hideCode` was set before the class existed.
    pub fn has_early_properties(element: &HtmlElement) -> bool;
    /// Moves such properties onto the accessors (sets attributes: never call it in a callback).
    pub fn upgrade_early_properties(element: &HtmlElement);
}

#[wasm_bindgen]
extern "C" {
    /// The host element with the property the `code` setter stores its value in.
    #[wasm_bindgen(extends = HtmlElement)]
    pub type RunnerHost;
    #[wasm_bindgen(method, getter, js_name = __pythonRunnerCode)]
    pub fn code_property(this: &RunnerHost) -> Option<String>;
}

/// Defines `<python-runner>`. `worker_source` is the worker's module code, a JS string started
/// from a Blob URL (in `python-runner.js`: the bundle's own text, marked as the worker; kept as a
/// JS string, never copied into wasm memory); `wasm_module` is this very wasm module, compiled,
/// which each worker instantiates (or `undefined` when the worker brings its own code, as in
/// component tests). Calling it again (a second copy of the bundle) does nothing.
#[wasm_bindgen]
pub fn boot(worker_source: js_sys::JsString, wasm_module: JsValue) {
    // Panic messages go to the console (instead of a bare "unreachable executed").
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&info.to_string().into());
    }));
    let Some(window) = web_sys::window() else {
        return;
    };
    if !window.custom_elements().get(TAG).is_undefined() {
        web_sys::console::warn_1(&"python-runner: already defined on this page; skipping".into());
        return;
    }
    registry::set_worker_code(worker_source, wasm_module);
    Shell::define(TAG);
    let call = Closure::<dyn FnMut(HtmlElement, String) -> JsValue>::new(element_call);
    define_properties(TAG, &call);
    call.forget(); // Leaks on purpose: the accessors live as long as the page's element definition.
}

/// Carries out a property access or method call from `properties.js`.
fn element_call(host: HtmlElement, operation: String) -> JsValue {
    match operation.as_str() {
        "get_code" => registry::code_of(&host).into(),
        "code_changed" => {
            registry::code_property_changed(&host);
            JsValue::UNDEFINED
        }
        "get_state" => registry::state_of(&host).into(),
        "run" => {
            registry::run(&host);
            JsValue::UNDEFINED
        }
        "stop" => {
            registry::stop(&host);
            JsValue::UNDEFINED
        }
        "get_active_transport" => registry::active_transport_of(&host),
        _ => JsValue::UNDEFINED,
    }
}

/// The per-element object the `custom-elements` crate keeps; state lives in `registry.rs`.
///
/// The crate holds a lock on this while any callback runs, so nothing here may set an
/// observed attribute or dispatch an event synchronously (events are dispatched from a microtask).
#[derive(Default)]
struct Shell {
    id: Option<InstanceId>,
}

impl CustomElement for Shell {
    fn inject_children(&mut self, _shadow_root: &HtmlElement) {
        // The crate calls this from the constructor with the new open shadow root; the view is
        // built into it on connect (`registry::connected`).
        self.id = Some(registry::new_id());
    }

    fn observed_attributes() -> &'static [&'static str] {
        registry::OBSERVED_ATTRIBUTES
    }

    fn connected_callback(&mut self, this: &HtmlElement) {
        if let Some(id) = self.id {
            registry::connected(id, this);
        }
    }

    fn disconnected_callback(&mut self, _this: &HtmlElement) {
        if let Some(id) = self.id {
            registry::disconnected(id);
        }
    }

    fn attribute_changed_callback(
        &mut self,
        _this: &HtmlElement,
        name: String,
        _old_value: Option<String>,
        new_value: Option<String>,
    ) {
        if let Some(id) = self.id {
            registry::attribute_changed(id, &name, new_value.as_deref());
        }
    }
}
