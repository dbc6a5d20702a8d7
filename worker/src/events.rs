//! Python's runner events during a run: output is posted to the element (a picture's bytes moved
//! with it; draining when the page falls behind), and `input()` and `time.sleep` wait on the
//! [`Channel`].

use std::cell::{Cell, RefCell};

use js_sys::{ArrayBuffer, Uint8Array};
use python_runner_protocol::js::describe_error as describe;
use python_runner_protocol::js::JsObject;
use python_runner_protocol::{
    FromWorker, PartKind, RunId, WaitReason, WaitSeq, DRAIN_BYTES, DRAIN_MESSAGES,
};
use wasm_bindgen::prelude::*;

use crate::channel::Channel;
use crate::contract::PythonEvent;
use crate::js::{post, post_transferring};

/// What Python's events need while code runs (borrowed from inside a synchronous run, so it
/// lives apart from the worker's state).
#[derive(Default)]
pub struct Session {
    /// The run in progress (or the last one).
    pub current_run: Cell<RunId>,
    last_wait: Cell<WaitSeq>,
    /// How this worker waits for the page.
    pub channel: RefCell<Channel>,
    /// Output messages and bytes posted since the page last confirmed it took them (a drain).
    undrained: Cell<(u32, usize)>,
}

impl Session {
    /// Called by Python (`run_code`'s `send`) for each runner event, with the event's data as
    /// JSON (see `contract.rs`) and, for an `output` event with a picture, its bytes (a
    /// `Uint8Array`). Returns the reply to `input` and `sleep` events (see `Channel`), and to an
    /// `output` event that starts a drain; `undefined` otherwise.
    pub fn on_python_event(&self, event_type: &str, data_json: &str, bytes: JsValue) -> JsValue {
        if !PythonEvent::NAMES.contains(&event_type) {
            return JsValue::UNDEFINED; // an event of the user's code: nothing to do
        }
        let event = js_sys::JSON::parse(data_json)
            .map_err(|error| describe(&error))
            .and_then(|value| {
                let data = JsObject::new(value).ok_or("not an object")?;
                PythonEvent::decode(event_type, &data).map_err(|error| error.0)
            });
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                web_sys::console::error_1(
                    &["python-runner: unreadable ", event_type, " event: ", &error]
                        .concat()
                        .into(),
                );
                return JsValue::UNDEFINED;
            }
        };
        let id = self.current_run.get();
        match event {
            // `input("")` puts an empty prompt: nothing to show, so no message.
            PythonEvent::Output(parts)
                if parts
                    .iter()
                    .all(|part| part.text.is_empty() && part.kind != PartKind::Image) =>
            {
                JsValue::UNDEFINED
            }
            PythonEvent::Output(parts) => {
                let picture = parts.iter().any(|part| part.kind == PartKind::Image);
                let text = parts.iter().map(|part| part.text.len()).sum::<usize>();
                let message = FromWorker::Output { id, parts };
                let bytes = match bytes.dyn_into::<Uint8Array>() {
                    Ok(bytes) if picture => {
                        let bytes = movable(bytes);
                        post_transferring(&message, &bytes);
                        text + bytes.length() as usize
                    }
                    _ => {
                        post(&message);
                        text
                    }
                };
                let (messages, posted) = self.undrained.get();
                let (messages, posted) = (messages + 1, posted + bytes);
                if messages >= DRAIN_MESSAGES || posted >= DRAIN_BYTES {
                    self.undrained.set((0, 0));
                    return self.drain(id);
                }
                self.undrained.set((messages, posted));
                JsValue::UNDEFINED
            }
            PythonEvent::Input { .. } => {
                let mut channel = self.channel.borrow_mut();
                let seq = self.begin_wait(&channel, id, WaitReason::Input);
                channel.wait_for_input(seq)
            }
            PythonEvent::Sleep { seconds } => {
                let mut channel = self.channel.borrow_mut();
                let seq = self.begin_wait(&channel, id, WaitReason::Sleep);
                channel.sleep(seq, seconds * 1000.0)
            }
        }
    }

    /// Waits until the page has taken every output message posted so far
    /// ([`WaitReason::Drain`]), so a program that prints faster than the page reads never queues
    /// more than [`DRAIN_MESSAGES`] messages or [`DRAIN_BYTES`] of text. The reply goes to
    /// Python like a sleep's (Stop raises `KeyboardInterrupt` there); where nothing can block,
    /// or the service worker does not answer, Python does not wait (`undefined`).
    fn drain(&self, id: RunId) -> JsValue {
        let mut channel = self.channel.borrow_mut();
        if !channel.transport().can_block() {
            return JsValue::UNDEFINED;
        }
        let seq = self.begin_wait(&channel, id, WaitReason::Drain);
        channel.drain(seq)
    }

    /// Numbers a new wait of run `id` and tells the page, if the page can answer it.
    fn begin_wait(&self, channel: &Channel, id: RunId, reason: WaitReason) -> WaitSeq {
        let seq = self.last_wait.get().wrapping_add(1);
        self.last_wait.set(seq);
        if channel.transport().can_block() {
            post(&FromWorker::Waiting { id, seq, reason });
        }
        seq
    }
}

/// `bytes`, or a copy of them, alone in an `ArrayBuffer` that can be moved to the page: a view of
/// part of a buffer (Pyodide's memory) or of shared memory is copied.
fn movable(bytes: Uint8Array) -> Uint8Array {
    let buffer = bytes.buffer();
    if bytes.byte_offset() == 0
        && bytes.byte_length() == buffer.byte_length()
        && buffer.is_instance_of::<ArrayBuffer>()
    {
        bytes
    } else {
        bytes.slice(0, bytes.length())
    }
}
