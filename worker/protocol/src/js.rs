//! JS helpers shared by the element and the worker (feature `js`): [`WireObject`] for JS values,
//! one way to turn a thrown JS value into text, the clock of waits, and the text of a panic.

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};

use crate::wire::WireObject;

/// A JS object received through `postMessage` (or parsed from JSON).
pub struct JsObject(JsValue);

impl JsObject {
    /// Wraps `value` if it is an object (messages are never primitives).
    pub fn new(value: JsValue) -> Option<Self> {
        value.is_object().then_some(JsObject(value))
    }

    fn get(&self, key: &str) -> Option<JsValue> {
        Reflect::get(&self.0, &JsValue::from_str(key)).ok()
    }
}

impl WireObject for JsObject {
    fn string(&self, key: &str) -> Option<String> {
        self.get(key)?.as_string()
    }

    fn number(&self, key: &str) -> Option<f64> {
        self.get(key)?.as_f64()
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        self.get(key)?.as_bool()
    }

    fn object(&self, key: &str) -> Option<Self> {
        JsObject::new(self.get(key)?)
    }

    fn list(&self, key: &str) -> Option<Vec<Self>> {
        let array: Array = self.get(key)?.dyn_into().ok()?;
        Some(array.iter().filter_map(JsObject::new).collect())
    }
}

/// A thrown JS value as one line of text: `Name: message` for `Error`s (their own
/// `toString`), the value's string form otherwise; never panics, whatever was thrown.
pub fn describe_error(error: &JsValue) -> String {
    if let Some(error) = error.dyn_ref::<js_sys::Error>() {
        return error.to_string().into();
    }
    if let Some(text) = error.as_string() {
        return text;
    }
    match error.dyn_ref::<js_sys::Object>() {
        Some(object) => object.to_string().into(),
        None => "an unknown error".to_string(),
    }
}

/// Milliseconds on a monotonic clock (`performance.now()`), so a change of the system time
/// cannot stretch or cut a wait; the wall clock where `performance` is missing.
pub fn now() -> f64 {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|performance| {
            let now: Function = Reflect::get(&performance, &"now".into())
                .ok()?
                .dyn_into()
                .ok()?;
            now.call0(&performance).ok()?.as_f64()
        })
        .unwrap_or_else(js_sys::Date::now)
}

/// A panic's message and where it happened, for the console and the element: the payload and location without
/// `PanicHookInfo`'s `Display` (164 B less gzip in `python-runner.js`).
pub fn panic_text(info: &std::panic::PanicHookInfo) -> String {
    let message = info.payload_as_str().unwrap_or("panic");
    match info.location() {
        Some(at) => [message, " at ", at.file(), ":", &at.line().to_string()].concat(),
        None => message.to_string(),
    }
}
