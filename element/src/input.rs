//! Keys and pastes in the input field, read into what they ask for.

use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, Event, HtmlInputElement, KeyboardEvent};

/// What an event in the input field asks for.
pub enum Request {
    /// Send the typed text followed by `pasted`: Enter (nothing pasted), or a paste of several
    /// lines (Python hands them to the next `input()` calls) or of more than the field holds.
    Submit {
        /// The pasted lines, `\n`-separated; empty for Enter.
        pasted: String,
    },
    /// Ctrl+C with nothing selected: stop the code.
    Stop,
}

/// UTF-8 bytes of a paste that is sent at once rather than put in the field: WebKit's text
/// fields keep only the first 524,288 characters of a value.
const FIELD_HOLDS: usize = 524_288;

/// Reads a `keydown` or `paste` event of the input field, and keeps the browser from acting
/// on it when it asks for something.
pub fn read(event: &Event) -> Option<Request> {
    let request = if let Some(paste) = event.dyn_ref::<ClipboardEvent>() {
        let pasted = paste
            .clipboard_data()
            .and_then(|data| data.get_data("text/plain").ok())
            .unwrap_or_default();
        (pasted.contains('\n') || pasted.len() > FIELD_HOLDS).then(|| Request::Submit {
            pasted: crate::code::unix_newlines(&pasted),
        })
    } else {
        let key = event.dyn_ref::<KeyboardEvent>()?;
        let name = key.key();
        if name == "Enter" && !key.is_composing() {
            Some(Request::Submit {
                pasted: String::new(),
            })
        } else if key.ctrl_key() && name.eq_ignore_ascii_case("c") && !has_selection(key) {
            Some(Request::Stop)
        } else {
            None
        }
    };
    if request.is_some() {
        event.prevent_default();
    }
    request
}

fn has_selection(event: &KeyboardEvent) -> bool {
    let Some(input) = event
        .target()
        .and_then(|target| target.dyn_into::<HtmlInputElement>().ok())
    else {
        return false;
    };
    matches!(
        (input.selection_start(), input.selection_end()),
        (Ok(Some(start)), Ok(Some(end))) if start != end
    )
}
