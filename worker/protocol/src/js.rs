//! [`WireObject`] for JS values (feature `js`): how the element and the worker read messages.

use js_sys::{Array, Reflect};
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

    fn object(&self, key: &str) -> Option<Self> {
        JsObject::new(self.get(key)?)
    }

    fn list(&self, key: &str) -> Option<Vec<Self>> {
        let array: Array = self.get(key)?.dyn_into().ok()?;
        Some(array.iter().filter_map(JsObject::new).collect())
    }
}
