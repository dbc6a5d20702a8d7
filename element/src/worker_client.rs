//! The element's side of its worker: spawn it from the bundle's Blob URL, encode and decode
//! protocol messages, write replies to Python's waits (the writer half of the transport), and
//! terminate the worker when dropped.

use python_runner_protocol::atomics::AtomicsWriter;
use python_runner_protocol::js::JsObject;
use python_runner_protocol::sync::ServiceWorkerUrls;
use python_runner_protocol::{
    DecodeError, FromWorker, Reply, RunId, ServiceWorkerRoute, Snapshot, ToWorker, Transport,
    WaitSeq, ATTACHMENT, PROTOCOL_VERSION,
};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::error::Error;
use crate::js;
use crate::listener::Listener;

/// What a worker told us, decoded.
#[derive(Clone)]
pub enum WorkerEvent {
    /// A protocol message, and what it transferred beside it under [`ATTACHMENT`] (e.g. the
    /// snapshot's bytes; `undefined` when nothing).
    Message(FromWorker, JsValue),
    /// The worker's script failed (`error` event), or a message could not be read.
    Crashed(String),
}

impl From<FromWorker> for WorkerEvent {
    /// A message made here (routed or repeated), with nothing attached.
    fn from(message: FromWorker) -> Self {
        WorkerEvent::Message(message, JsValue::UNDEFINED)
    }
}

impl WorkerEvent {
    /// The message, unless the worker crashed.
    pub fn message(&self) -> Option<&FromWorker> {
        match self {
            WorkerEvent::Message(message, _) => Some(message),
            WorkerEvent::Crashed(_) => None,
        }
    }
}

/// The transport this page can use: `preferred` if it is available, else the best available:
/// Atomics on a cross-origin isolated page, then JSPI, then a service worker controlling the page
/// (it must be python-runner's; any other makes `input()` explain that), then none.
pub fn choose_transport(preferred: Option<Transport>) -> Transport {
    let js::Capabilities {
        atomics,
        jspi,
        service_worker,
    } = js::capabilities();
    match preferred {
        Some(Transport::Atomics) if atomics => Transport::Atomics,
        Some(Transport::Jspi) if jspi => Transport::Jspi,
        Some(Transport::ServiceWorker) if service_worker => Transport::ServiceWorker,
        Some(Transport::None) => Transport::None,
        _ if atomics => Transport::Atomics,
        _ if jspi => Transport::Jspi,
        _ if service_worker => Transport::ServiceWorker,
        _ => Transport::None,
    }
}

/// One running worker. Dropping it terminates the worker and removes its listeners.
pub struct WorkerClient {
    worker: Worker,
    writer: Writer,
    _listeners: [Listener; 3],
}

/// How replies reach the worker.
enum Writer {
    /// Into shared memory.
    Atomics(AtomicsWriter),
    /// To the service worker, for wait ids on this channel.
    ServiceWorker(String),
    /// As a `Reply` message (JSPI; with no transport nothing waits for one).
    Message,
}

impl WorkerClient {
    /// Starts a module worker from `script_url`, hands it the compiled `wasm_module` (unless
    /// undefined) and sends it `Init` at once; the worker queues messages until its wasm is ready.
    /// Every event goes to `on_event`.
    pub fn spawn(
        script_url: &str,
        wasm_module: &JsValue,
        name: &str,
        pyodide_url: &str,
        transport: Transport,
        snapshot: Snapshot,
        on_event: std::rc::Rc<dyn Fn(WorkerEvent)>,
    ) -> Result<Self, Error> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        options.set_name(name);
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
        let writer = match transport {
            Transport::Atomics => Writer::Atomics(AtomicsWriter::new()?),
            Transport::ServiceWorker => Writer::ServiceWorker(channel_id()),
            Transport::Jspi | Transport::None => Writer::Message,
        };
        // From here on, an error drops `client`, which terminates the worker.
        let client = Self {
            worker,
            writer,
            _listeners: listeners,
        };
        if !wasm_module.is_undefined() {
            // Not a protocol message: the worker's entry script (bundle/templates/worker.js)
            // instantiates the module from it, then hands every later message to Rust.
            // It also starts importing Pyodide at once, before the wasm is instantiated.
            let bootstrap = js::object(&[
                ("wasm_module", wasm_module),
                ("pyodide_url", &pyodide_url.into()),
            ]);
            client.worker.post_message(&bootstrap)?;
        }
        let service_worker = match &client.writer {
            Writer::ServiceWorker(channel) => {
                // Absolute: the worker's own URL is a Blob URL, against which "/" cannot resolve.
                let origin = web_sys::window()
                    .and_then(|window| window.location().origin().ok())
                    .unwrap_or_default();
                Some(ServiceWorkerRoute {
                    scope: [origin.as_str(), "/"].concat(),
                    channel: channel.clone(),
                })
            }
            _ => None,
        };
        let init = encode(&ToWorker::Init {
            protocol: PROTOCOL_VERSION,
            pyodide_url: pyodide_url.into(),
            transport,
            service_worker,
            snapshot,
        })?;
        if let Writer::Atomics(writer) = &client.writer {
            js::set(&init, ATTACHMENT, writer.buffer());
        }
        client.worker.post_message(&init)?;
        Ok(client)
    }

    /// Sends a message to the worker.
    pub fn send(&self, message: &ToWorker) -> Result<(), Error> {
        Ok(self.worker.post_message(&encode(message)?)?)
    }

    /// Posts the archive announced by `ToWorker::Archive` (the bytes are copied, not moved: other
    /// elements may use the same download).
    pub fn send_archive(&self, url: &str, buffer: &js_sys::ArrayBuffer) -> Result<(), Error> {
        let message = encode(&ToWorker::ArchiveData {
            url: url.into(),
            error: None,
        })?;
        js::set(&message, ATTACHMENT, buffer);
        Ok(self.worker.post_message(&message)?)
    }

    /// Answers wait `seq`: through shared memory (Atomics), the service worker, or a `Reply`
    /// message (JSPI).
    pub fn reply(&self, seq: WaitSeq, reply: &Reply) -> Result<(), Error> {
        let json = reply.to_json();
        match &self.writer {
            Writer::Atomics(writer) => Ok(writer.write(seq, &json)?),
            Writer::ServiceWorker(channel) => {
                let controller = js::service_worker_controller().ok_or_else(|| {
                    Error::Js(
                        "the page is no longer controlled by python-runner's service worker".into(),
                    )
                })?;
                // sync-message's write, posted rather than fetched: no round trip to wait for.
                let body = js::object(&[
                    ("messageId", &ServiceWorkerUrls::id(channel, seq).into()),
                    ("message", &json.into()),
                ]);
                Ok(controller.post_message(&js::object(&[(ServiceWorkerUrls::MARKER, &body)]))?)
            }
            Writer::Message => self.send(&ToWorker::Reply { seq, reply: json }),
        }
    }

    /// Asks Python to raise `KeyboardInterrupt` in run `run`, wherever it is (Atomics only).
    pub fn interrupt(&self, run: RunId) {
        if let Writer::Atomics(writer) = &self.writer {
            writer.interrupt(run);
        }
    }
}

/// A new id for one worker's waits on the service worker, unique across the origin's tabs.
fn channel_id() -> String {
    let base36 = |number: f64| -> String {
        js_sys::Number::from(number)
            .to_string_with_radix(36)
            .map(String::from)
            .unwrap_or_default()
    };
    [
        base36(js_sys::Date::now()),
        base36((js_sys::Math::random() * 9_007_199_254_740_991.0).floor()),
    ]
    .concat()
}

/// The one encoder for messages to the worker.
fn encode(message: &ToWorker) -> Result<JsValue, Error> {
    message
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|error| Error::from(JsValue::from(error)))
}

impl Drop for WorkerClient {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}

/// The one decoder for messages from the worker.
fn decode(data: JsValue) -> WorkerEvent {
    let attachment = js::get(&data, ATTACHMENT);
    let decoded = JsObject::new(data)
        .ok_or_else(|| DecodeError("not an object".into()))
        .and_then(|message| FromWorker::decode(&message));
    match decoded {
        Ok(message) => WorkerEvent::Message(message, attachment),
        Err(error) => {
            WorkerEvent::Crashed(["unreadable message from the worker: ", &error.0].concat())
        }
    }
}
