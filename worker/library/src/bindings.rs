//! The wasm exports `python-runner.mjs` wraps: blocking reads of sync-message channels (Atomics
//! and service worker), the Atomics write, the private sleep, the client machine and the
//! helper-package install. Errors the JS layer turns into its error classes are thrown as
//! `{serviceWorkerError: {url, status}}`; everything else as `Error`s.

use js_sys::{Function, Int32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use python_runner_protocol::atomics::{self, Cells};
use python_runner_protocol::js::now;
use python_runner_protocol::sync::ServiceWorkerUrls;
use python_runner_worker::channel::{read_service_worker, ServiceWorkerAnswer};

use crate::client::{ClientMachine, Interrupt, StatusEffect, Write};
use crate::wire::{self, ReadOptions};

/// A sync-message channel object, as the page made it.
enum ChannelKind {
    Atomics { data: Uint8Array, meta: Cells },
    ServiceWorker { base_url: String, timeout: f64 },
}

impl ChannelKind {
    fn from_js(channel: &JsValue) -> Result<Self, JsValue> {
        let field = |name: &str| Reflect::get(channel, &name.into()).unwrap_or_default();
        match field("type").as_string().as_deref() {
            Some("atomics") => Ok(ChannelKind::Atomics {
                data: field("data")
                    .dyn_into()
                    .map_err(|_| JsError::new("the atomics channel has no data Uint8Array"))?,
                meta: Cells::new(
                    field("meta")
                        .dyn_into::<Int32Array>()
                        .map_err(|_| JsError::new("the atomics channel has no meta Int32Array"))?,
                ),
            }),
            Some("serviceWorker") => Ok(ChannelKind::ServiceWorker {
                base_url: field("baseUrl").as_string().ok_or_else(|| {
                    JsError::new("the service-worker channel has no baseUrl string")
                })?,
                timeout: field("timeout")
                    .as_f64()
                    .filter(|timeout| *timeout > 0.0)
                    .unwrap_or(wire::DEFAULT_SERVICE_WORKER_TIMEOUT),
            }),
            _ => Err(JsError::new(
                "not a channel: expected an object made by makeChannel, makeAtomicsChannel or makeServiceWorkerChannel",
            )
            .into()),
        }
    }
}

/// sync-message's `readMessage`: blocks until message `message_id` arrives (its parsed value),
/// `check_interrupt` returns truthy, or `timeout` ms pass (both `null`).
#[wasm_bindgen]
pub fn read_message(
    channel: &JsValue,
    message_id: &str,
    check_interrupt: Option<Function>,
    check_timeout: Option<f64>,
    timeout: Option<f64>,
) -> Result<JsValue, JsValue> {
    let channel = ChannelKind::from_js(channel)?;
    let options = ReadOptions::new(check_interrupt.is_some(), check_timeout, timeout);
    let started = now();
    let mut check_timeout = options.check_timeout;
    loop {
        let remaining = options.timeout - (now() - started);
        if remaining <= 0.0 {
            return Ok(JsValue::NULL);
        }
        check_timeout = check_timeout.min(remaining);
        let message = match &channel {
            ChannelKind::Atomics { data, meta } => atomics_poll(data, meta, check_timeout)?,
            ChannelKind::ServiceWorker { base_url, timeout } => {
                service_worker_poll(base_url, message_id, check_timeout, started, *timeout)?
            }
        };
        if let Some(message) = message.filter(|message| !message.is_null()) {
            return Ok(message);
        }
        if let Some(check) = &check_interrupt {
            if check.call0(&JsValue::NULL)?.is_truthy() {
                return Ok(JsValue::NULL);
            }
        }
    }
}

/// The read behind `SyncExtras`: like [`read_message`] without `checkInterrupt`, but a message
/// naming another ID (`{id}`, which python-runner's client adds) is dropped, so a late interrupt
/// for a sleep that already ended cannot fail the next read (an upstream comsync bug).
#[wasm_bindgen]
pub fn read_call_message(
    channel: &JsValue,
    message_id: &str,
    timeout: Option<f64>,
) -> Result<JsValue, JsValue> {
    let deadline = timeout.map(|timeout| now() + timeout);
    loop {
        let remaining = deadline.map(|deadline| deadline - now());
        if remaining.is_some_and(|remaining| remaining <= 0.0) {
            return Ok(JsValue::NULL);
        }
        let message = read_message(channel, message_id, None, None, remaining)?;
        let addressee = Reflect::get(&message, &"id".into())
            .ok()
            .and_then(|id| id.as_string());
        match addressee {
            Some(addressee) if addressee != message_id => continue,
            _ => return Ok(message),
        }
    }
}

/// sync-message's Atomics `writeMessage`: `text` (JSON) into the channel's single slot.
#[wasm_bindgen]
pub fn write_message_atomics(channel: &JsValue, text: &str) -> Result<(), JsValue> {
    let ChannelKind::Atomics { data, meta } = ChannelKind::from_js(channel)? else {
        return Err(JsError::new("not an atomics channel").into());
    };
    let length = atomics::write_text(&data, text).map_err(|_| JsError::new(wire::TOO_BIG))?;
    meta.store(wire::META_LENGTH, length as i32)?;
    meta.store(wire::META_READY, 1)?;
    meta.notify(wire::META_READY)
}

/// Sleeps `milliseconds` without a channel and without spinning, if this engine can
/// (`Atomics.wait` on private shared memory); `false` when it cannot.
#[wasm_bindgen]
pub fn sleep_privately(milliseconds: f64) -> bool {
    python_runner_worker::channel::sleep_without_spinning(milliseconds)
}

/// Writes python-runner's Python package `pyodide_worker_runner` into Pyodide and imports it.
#[wasm_bindgen]
pub fn install_helper(pyodide: &JsValue, python_files: &Object) -> Result<JsValue, JsValue> {
    python_runner_worker::install_helper(pyodide, python_files).map_err(|reason| {
        JsError::new(&format!(
            "could not install the pyodide_worker_runner package: {reason}"
        ))
        .into()
    })
}

/// The wait before retry number `attempt` of `loadPyodideAndPackage`, or `undefined`.
#[wasm_bindgen]
pub fn retry_delay(attempt: u32) -> Option<f64> {
    wire::retry_delay(attempt)
}

/// Whether a `TypeError` with `message` is a network error (retried) or a bug (not).
#[wasm_bindgen]
pub fn is_network_type_error(message: &str) -> bool {
    wire::is_network_type_error(message)
}

/// The client state machine, for the JS `SyncClient`.
#[wasm_bindgen]
pub struct Machine(ClientMachine);

#[wasm_bindgen]
impl Machine {
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Machine {
        Machine(ClientMachine::new())
    }

    /// comsync's state name.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.0.state().name().to_string()
    }

    /// Starts a call; returns its number. Throws "State is …, not idle".
    pub fn begin_call(&mut self, base: String) -> Result<u32, JsError> {
        self.0
            .begin_call(base)
            .map_err(|message| JsError::new(&message))
    }

    /// A worker status; `true` when a queued write may now go.
    pub fn status(&mut self, call: u32, status: &str) -> bool {
        self.0.status(call, status) == StatusEffect::WakeQueuedWrite
    }

    /// `writeMessage`: the ID to send to now, or `undefined` to queue.
    pub fn write(&mut self) -> Result<Option<String>, JsError> {
        match self.0.write() {
            Ok(Write::Now(id)) => Ok(Some(id)),
            Ok(Write::Queue) => Ok(None),
            Err(message) => Err(JsError::new(&message)),
        }
    }

    /// The queued write's ID, or why it can no longer be sent.
    pub fn queued_write(&mut self, call: u32) -> Result<String, JsError> {
        self.0
            .queued_write(call)
            .map_err(|message| JsError::new(&message))
    }

    /// `interrupt()`: `"nothing"`, `"interrupter"`, `"terminate"`, or the ID to send
    /// `{interrupted: true}` to (prefixed `"message:"`).
    pub fn interrupt(&mut self, has_interrupter: bool) -> String {
        match self.0.interrupt(has_interrupter) {
            Interrupt::Nothing => "nothing".into(),
            Interrupt::Interrupter => "interrupter".into(),
            Interrupt::Terminate => "terminate".into(),
            Interrupt::Message(id) => ["message:", &id].concat(),
        }
    }

    /// The call ended; `true` if a write was still queued (reject it).
    pub fn end_call(&mut self) -> bool {
        self.0.end_call()
    }
}

/// One wait on the Atomics channel's flag; the message's parsed value if one was ready.
fn atomics_poll(data: &Uint8Array, meta: &Cells, wait_ms: f64) -> Result<Option<JsValue>, JsValue> {
    if !meta.wait(wire::META_READY, 0, wait_ms)? {
        return Ok(None);
    }
    let length = meta.exchange(wire::META_LENGTH, 0)?;
    let text = atomics::read_text(data, length);
    meta.store(wire::META_READY, 0)?;
    Ok(Some(js_sys::JSON::parse(&text)?))
}

/// One read from the service worker. `Ok(None)` when it timed out, or failed within the
/// channel's start-up grace period.
fn service_worker_poll(
    base_url: &str,
    message_id: &str,
    wait_ms: f64,
    started: f64,
    grace_ms: f64,
) -> Result<Option<JsValue>, JsValue> {
    let wait_ms = wait_ms.ceil().clamp(0.0, f64::from(u32::MAX)) as u32;
    match read_service_worker(base_url, message_id, wait_ms)? {
        ServiceWorkerAnswer::Message(message) => Ok(Some(message)),
        ServiceWorkerAnswer::TimedOut => Ok(None),
        ServiceWorkerAnswer::Other(_) if now() - started < grace_ms => {
            // The service worker may still be starting: ask again soon, without spinning.
            sleep_privately(20.0);
            Ok(None)
        }
        ServiceWorkerAnswer::Other(status) => {
            let error = Object::new();
            let details = Object::new();
            let url = ServiceWorkerUrls::read_url(base_url);
            Reflect::set(&details, &"url".into(), &url.into())?;
            Reflect::set(&details, &"status".into(), &status.into())?;
            Reflect::set(&error, &"serviceWorkerError".into(), &details)?;
            Err(error.into())
        }
    }
}
