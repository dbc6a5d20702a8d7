//! The element's side of its worker: spawn it from the bundle's Blob URL, encode and decode
//! protocol messages, and terminate it when dropped.

use python_runner_protocol::js::JsObject;
use python_runner_protocol::{DecodeError, FromWorker, ToWorker, PROTOCOL_VERSION};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::listener::Listener;

/// What a worker told us, decoded.
pub enum WorkerEvent {
    /// A protocol message.
    Message(FromWorker),
    /// The worker's script failed (`error` event), or a message could not be read.
    Crashed(String),
}

/// One running worker. Dropping it terminates the worker and removes its listeners.
pub struct WorkerClient {
    worker: Worker,
    _listeners: [Listener; 3],
}

impl WorkerClient {
    /// Starts a module worker from `script_url`, hands it the compiled `wasm_module` (unless
    /// undefined) and sends it `Init` at once; the worker queues messages until its wasm is ready.
    /// Every event goes to `on_event`.
    pub fn spawn(
        script_url: &str,
        wasm_module: &JsValue,
        pyodide_url: &str,
        on_event: impl Fn(WorkerEvent) + Clone + 'static,
    ) -> Result<Self, JsValue> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        options.set_name("python-runner");
        let worker = Worker::new_with_options(script_url, &options)?;
        let on_message = on_event.clone();
        let on_error = on_event.clone();
        let on_message_error = on_event;
        let listeners = [
            Listener::new(&worker, "message", move |event| {
                let event: MessageEvent = event.unchecked_into();
                on_message(decode(event.data()));
            })?,
            Listener::new(&worker, "error", move |event| {
                // A script error in the worker; keep it from also reaching the page's onerror.
                event.prevent_default();
                let message = event
                    .dyn_ref::<web_sys::ErrorEvent>()
                    .map(|error| error.message())
                    .filter(|message| !message.is_empty())
                    .unwrap_or_else(|| "the worker script failed to load".into());
                on_error(WorkerEvent::Crashed(message));
            })?,
            Listener::new(&worker, "messageerror", move |_| {
                on_message_error(WorkerEvent::Crashed(
                    "a message from the worker could not be read".into(),
                ));
            })?,
        ];
        // From here on, an error drops `client`, which terminates the worker.
        let client = Self {
            worker,
            _listeners: listeners,
        };
        if !wasm_module.is_undefined() {
            // Not a protocol message: the worker's entry script (bundle/templates/worker.js)
            // instantiates the module from it, then hands every later message to Rust.
            // It also starts importing Pyodide at once, before the wasm is instantiated.
            let bootstrap = js_sys::Object::new();
            js_sys::Reflect::set(&bootstrap, &"wasm_module".into(), wasm_module)?;
            js_sys::Reflect::set(&bootstrap, &"pyodide_url".into(), &pyodide_url.into())?;
            client.worker.post_message(&bootstrap)?;
        }
        client.send(&ToWorker::Init {
            protocol: PROTOCOL_VERSION,
            pyodide_url: pyodide_url.into(),
        })?;
        Ok(client)
    }

    /// The one encoder for messages to the worker.
    pub fn send(&self, message: &ToWorker) -> Result<(), JsValue> {
        let value = message
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(JsValue::from)?;
        self.worker.post_message(&value)
    }
}

impl Drop for WorkerClient {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The one decoder for messages from the worker.
fn decode(data: JsValue) -> WorkerEvent {
    let decoded = JsObject::new(data)
        .ok_or_else(|| DecodeError("not an object".into()))
        .and_then(|message| FromWorker::decode(&message));
    match decoded {
        Ok(message) => WorkerEvent::Message(message),
        Err(error) => {
            WorkerEvent::Crashed(["unreadable message from the worker: ", &error.0].concat())
        }
    }
}
