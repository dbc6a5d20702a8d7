//! The element's DOM events (`ready`, `done`, `output`, `error`), with their `detail` objects.

use python_runner_protocol::OutputPart;
use serde::Serialize;
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit, HtmlElement};

use crate::machine::ElementEvent;

#[derive(Serialize)]
#[serde(untagged, rename_all_fields = "camelCase")]
enum Detail<'a> {
    Ready {
        pyodide_version: &'a str,
        warm: bool,
    },
    Done {
        exception: Option<&'a str>,
        stopped: bool,
    },
    Output {
        parts: &'a [OutputPart],
    },
    Error {
        kind: &'static str,
        message: &'a str,
    },
}

/// Dispatches `event` on `host`.
pub fn dispatch(host: &HtmlElement, event: &ElementEvent) {
    let (name, detail) = match event {
        ElementEvent::Ready {
            pyodide_version,
            warm,
        } => (
            "ready",
            Detail::Ready {
                pyodide_version,
                warm: *warm,
            },
        ),
        ElementEvent::Done { exception, stopped } => (
            "done",
            Detail::Done {
                exception: exception.as_deref(),
                stopped: *stopped,
            },
        ),
        ElementEvent::Output { parts } => ("output", Detail::Output { parts }),
        ElementEvent::Error { kind, message } => (
            "error",
            Detail::Error {
                kind: kind.wire_name(),
                message,
            },
        ),
    };
    let detail = detail
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL);
    let init = CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = CustomEvent::new_with_event_init_dict(name, &init) {
        // A listener's exception is reported by the browser; nothing to do here.
        let _ = host.dispatch_event(&event);
    }
}
