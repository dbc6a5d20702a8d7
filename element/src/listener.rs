//! An event listener that removes itself when dropped, so closures never outlive their owner.

use wasm_bindgen::prelude::*;
use web_sys::EventTarget;

use crate::error::BrowserError;

/// Owns a `Closure` registered with `addEventListener`; `Drop` unregisters and frees it.
pub struct Listener {
    target: EventTarget,
    event_type: &'static str,
    closure: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    /// Registers `handler` for `event_type` on `target`.
    pub fn new(
        target: &EventTarget,
        event_type: &'static str,
        handler: impl FnMut(web_sys::Event) + 'static,
    ) -> Result<Self, BrowserError> {
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
        target.add_event_listener_with_callback(event_type, closure.as_ref().unchecked_ref())?;
        Ok(Self {
            target: target.clone(),
            event_type,
            closure,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Removing a listener cannot fail for a function we added; nothing to report if it does.
        let _ = self.target.remove_event_listener_with_callback(
            self.event_type,
            self.closure.as_ref().unchecked_ref(),
        );
    }
}
