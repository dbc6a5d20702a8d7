//! The element crate's exports: `boot`, the custom element class (through the `custom-elements`
//! crate), and the per-element [`Handle`] its prototype properties (`js/properties.js`) call.

use custom_elements::CustomElement;
use wasm_bindgen::prelude::*;
use web_sys::{HtmlElement, ShadowRoot};

use crate::attributes;
use crate::instances;
use crate::js::{define_properties, RunnerHost};
use crate::lifecycle;
use crate::workers;
use crate::InstanceId;

/// The tag name of the element.
pub const TAG: &str = "python-runner";

/// Defines `<python-runner>`. `worker_source` is the worker's module code, a JS string started
/// from a Blob URL (in `python-runner.js`: the bundle's own text, marked as the worker; kept as a
/// JS string, never copied into wasm memory); `wasm_module` is this very wasm module, compiled,
/// which each worker instantiates (or `undefined` when the worker brings its own code, as in
/// component tests). Calling it again (a second copy of the bundle) does nothing.
#[wasm_bindgen]
pub fn boot(worker_source: js_sys::JsString, wasm_module: JsValue) {
    // Panic messages go to the console (instead of a bare "unreachable executed").
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&python_runner_protocol::js::panic_text(info).into());
    }));
    let Some(window) = web_sys::window() else {
        return;
    };
    if !window.custom_elements().get(TAG).is_undefined() {
        web_sys::console::warn_1(&"python-runner: already defined on this page; skipping".into());
        return;
    }
    workers::set_worker_code(worker_source, wasm_module);
    crate::runtimes::init(
        crate::effects::on_runtime_event,
        crate::effects::start_worker,
    );
    Shell::define(TAG);
    define_properties(TAG);
}

/// `pagehide`: every element lets go of its workers (see [`lifecycle::page_hidden`]).
#[wasm_bindgen(js_name = pageHidden)]
pub fn page_hidden() {
    lifecycle::page_hidden();
}

/// `pageshow`: elements the page let go of start over (back from the back/forward cache).
#[wasm_bindgen(js_name = pageShown)]
pub fn page_shown() {
    lifecycle::page_shown();
}

/// What an element's properties and methods call: kept on the element as `__pythonRunner`,
/// given the element itself (so the handle holds no reference to it).
#[wasm_bindgen]
pub struct Handle(InstanceId);

#[wasm_bindgen]
impl Handle {
    /// The `code` property.
    pub fn code(&self, host: &HtmlElement) -> String {
        lifecycle::code_of(self.0, host)
    }

    /// The `code` property was set (its value is in `__pythonRunnerCode`).
    #[wasm_bindgen(js_name = codeChanged)]
    pub fn code_changed(&self) {
        lifecycle::code_property_changed(self.0);
    }

    /// The `state` property.
    pub fn state(&self) -> String {
        lifecycle::state_of(self.0).into()
    }

    /// The `activeTransport` property (`null` until the worker is ready).
    #[wasm_bindgen(js_name = activeTransport)]
    pub fn active_transport(&self) -> Option<String> {
        lifecycle::active_transport_of(self.0).map(String::from)
    }

    /// `run()`.
    pub fn run(&self) {
        lifecycle::run(self.0);
    }

    /// `stop()`.
    pub fn stop(&self) {
        lifecycle::stop(self.0);
    }
}

/// The per-element object the `custom-elements` crate keeps; state lives in `instances.rs`.
///
/// The crate holds a lock on this while any callback runs, so nothing here may set an
/// observed attribute or dispatch an event synchronously (events are dispatched from a microtask).
#[derive(Default)]
struct Shell {
    id: Option<InstanceId>,
}

impl CustomElement for Shell {
    fn inject_children(&mut self, shadow_root: &HtmlElement) {
        // The crate calls this from the constructor with the new open shadow root; the view is
        // built into it on connect (`lifecycle::connected`).
        let id = instances::new_id();
        self.id = Some(id);
        if let Some(shadow) = shadow_root.dyn_ref::<ShadowRoot>() {
            shadow
                .host()
                .unchecked_into::<RunnerHost>()
                .set_handle(Handle(id).into());
        }
    }

    fn observed_attributes() -> &'static [&'static str] {
        attributes::OBSERVED
    }

    fn connected_callback(&mut self, this: &HtmlElement) {
        if let Some(id) = self.id {
            lifecycle::connected(id, this);
        }
    }

    fn disconnected_callback(&mut self, _this: &HtmlElement) {
        if let Some(id) = self.id {
            lifecycle::disconnected(id);
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
            lifecycle::attribute_changed(id, &name, new_value.as_deref());
        }
    }
}
