//! The worker's side of blocking on the page: Python's `input()` and `time.sleep` wait here for
//! the element's reply (the line typed, or Stop), through the transport the element chose.
//!
//! - [`Channel::Atomics`]: a blocking read of the shared buffer laid out by
//!   [`python_runner_protocol::sync::Layout`] (`Atomics.wait`), with the protocol crate's
//!   [`AtomicsReader`], the other half of the element's writer.
//! - [`Channel::Jspi`]: a promise, resolved when the element's `Reply` message arrives (or a sleep
//!   ends); Python suspends on it with `pyodide.ffi.run_sync`.
//! - [`Channel::ServiceWorker`]: a synchronous request that python-runner's service worker holds
//!   until the element's reply reaches it ([`ServiceWorkerUrls`]).
//! - [`Channel::None`]: nothing can answer; `input()` raises, `time.sleep` waits on private
//!   shared memory so it does not spin.

use js_sys::{Function, Int32Array, Promise};
use python_runner_protocol::atomics::{AtomicsReader, Cells};
use python_runner_protocol::js::{describe_error, now};
use python_runner_protocol::sync::ServiceWorkerUrls;
use python_runner_protocol::{Reply, RunId, ServiceWorkerRoute, Transport, WaitSeq};
use wasm_bindgen::prelude::*;

use crate::js::{has_jspi, shared_memory_page, SyncAnswer};

/// How this worker blocks; chosen from the element's `Init`.
#[derive(Default)]
pub enum Channel {
    /// Cross-origin isolated: shared memory.
    Atomics(AtomicsReader),
    /// JavaScript Promise Integration: the wait in progress, if any.
    Jspi(Option<PendingWait>),
    /// python-runner's service worker.
    ServiceWorker(ServiceWorkerReader),
    /// No way to wait for the page.
    #[default]
    None,
}

impl Channel {
    /// The channel for `transport`, from `Init`'s service-worker route and attachment. Asking
    /// for Atomics without a usable shared buffer, for JSPI in an engine without it, or for the
    /// service worker without its route, falls back to [`Channel::None`].
    pub fn new(
        transport: Transport,
        service_worker: Option<&ServiceWorkerRoute>,
        attachment: &JsValue,
    ) -> Self {
        match (transport, service_worker) {
            (Transport::Atomics, _) => {
                AtomicsReader::new(attachment).map_or(Channel::None, Channel::Atomics)
            }
            (Transport::Jspi, _) if has_jspi() => Channel::Jspi(None),
            (Transport::ServiceWorker, Some(route)) => {
                Channel::ServiceWorker(ServiceWorkerReader {
                    base_url: ServiceWorkerUrls::base_url(&route.scope),
                    channel: route.channel.clone(),
                })
            }
            _ => Channel::None,
        }
    }

    /// The transport actually in use, reported to the element in `Ready`.
    pub fn transport(&self) -> Transport {
        match self {
            Channel::Atomics(_) => Transport::Atomics,
            Channel::Jspi(_) => Transport::Jspi,
            Channel::ServiceWorker(_) => Transport::ServiceWorker,
            Channel::None => Transport::None,
        }
    }

    /// Prepares for run `id`: a Stop meant for an earlier run must not interrupt this one.
    pub fn begin_run(&self, id: RunId) {
        if let Channel::Atomics(reader) = self {
            reader.begin_run(id);
        }
    }

    /// Waits for the reply to input request `seq`. Returns the reply's JSON text (Atomics), a
    /// promise of it (JSPI), or `undefined` when nothing can answer.
    pub fn wait_for_input(&mut self, seq: WaitSeq) -> JsValue {
        match self {
            Channel::Atomics(reader) => reader.wait(seq, None).unwrap_or_default().into(),
            Channel::Jspi(pending) => PendingWait::start(pending, seq, None).into(),
            Channel::ServiceWorker(reader) => match reader.wait(seq, None) {
                Ok(reply) => reply.unwrap_or_default().into(),
                Err(error) => Reply::Error(error).to_json().into(),
            },
            Channel::None => JsValue::UNDEFINED,
        }
    }

    /// Waits until the page confirms it has taken the output posted so far (wait `seq`, a
    /// [`python_runner_protocol::WaitReason::Drain`]); Stop ends the wait with an interrupted
    /// reply. A service worker that does not answer is no reason to fail a `print`: Python then
    /// goes on without waiting (`undefined`).
    pub fn drain(&mut self, seq: WaitSeq) -> JsValue {
        match self {
            Channel::ServiceWorker(reader) => reader
                .wait(seq, None)
                .ok()
                .flatten()
                .map_or(JsValue::UNDEFINED, JsValue::from),
            _ => self.wait_for_input(seq),
        }
    }

    /// Sleeps `milliseconds`; Stop ends the sleep early with an interrupted reply.
    pub fn sleep(&mut self, seq: WaitSeq, milliseconds: f64) -> JsValue {
        let over = || Reply::Message(None).to_json();
        match self {
            Channel::Atomics(reader) => reader
                .wait(seq, Some(milliseconds))
                .unwrap_or_else(over)
                .into(),
            Channel::Jspi(pending) => PendingWait::start(pending, seq, Some(milliseconds)).into(),
            Channel::ServiceWorker(reader) => {
                let started = now();
                match reader.wait(seq, Some(milliseconds)) {
                    Ok(reply) => reply.unwrap_or_else(over).into(),
                    // No service worker: still sleep, without it (or let Python sleep).
                    Err(_) => sleep_or_leave_to_python(milliseconds - (now() - started)),
                }
            }
            Channel::None => sleep_or_leave_to_python(milliseconds),
        }
    }

    /// The element's reply to wait `seq` arrived (JSPI); a reply to an older wait is dropped.
    pub fn resolve(&mut self, seq: WaitSeq, reply: &str) {
        if let Channel::Jspi(pending) = self {
            if pending.as_ref().is_some_and(|wait| wait.seq == seq) {
                if let Some(wait) = pending.take() {
                    wait.finish(reply);
                }
            }
        }
    }
}

/// Sleeps `milliseconds` here and answers "sleep over"; where that is impossible, answers
/// `undefined`, and Python sleeps with the real `time.sleep` (which spins, but sleeps).
fn sleep_or_leave_to_python(milliseconds: f64) -> JsValue {
    if sleep_without_spinning(milliseconds) {
        Reply::Message(None).to_json().into()
    } else {
        JsValue::UNDEFINED
    }
}

/// Blocks the worker for `milliseconds` without using the CPU, if it can. `Atomics.wait` needs
/// shared memory; a shared `WebAssembly.Memory` provides it even without cross-origin isolation
/// (it just cannot be posted), in engines that allow that.
pub fn sleep_without_spinning(milliseconds: f64) -> bool {
    let Some(memory) = shared_memory_page() else {
        return false;
    };
    let cells = Cells::new(Int32Array::new(&memory.buffer()));
    cells.wait(0, 0, milliseconds).is_ok()
}

/// A JSPI wait in progress: Python is suspended on a promise that this resolves.
pub struct PendingWait {
    seq: WaitSeq,
    resolve: Function,
    timer: Option<i32>,
}

impl PendingWait {
    /// Starts wait `seq` (replacing any older one) and returns the promise Python suspends on.
    /// With `sleep` milliseconds the promise also resolves, with "sleep over", when they pass.
    fn start(slot: &mut Option<Self>, seq: WaitSeq, sleep: Option<f64>) -> Promise {
        let mut resolve = None;
        let promise = Promise::new(&mut |resolve_fn, _reject| resolve = Some(resolve_fn));
        let Some(resolve) = resolve else {
            return promise;
        };
        let timer = sleep.and_then(|milliseconds| {
            let over: Function = resolve
                .bind1(&JsValue::NULL, &Reply::Message(None).to_json().into())
                .unchecked_into();
            // setTimeout takes at most 2^31 - 1 ms (about 24.8 days).
            let delay = milliseconds.clamp(0.0, f64::from(i32::MAX)) as i32;
            let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
            scope
                .set_timeout_with_callback_and_timeout_and_arguments_0(&over, delay)
                .ok()
        });
        *slot = Some(Self {
            seq,
            resolve,
            timer,
        });
        promise
    }

    fn finish(self, reply: &str) {
        if let Some(timer) = self.timer {
            let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
            scope.clear_timeout_with_handle(timer);
        }
        let _ = self.resolve.call1(&JsValue::NULL, &reply.into());
    }
}

/// The worker's side of the service-worker transport.
pub struct ServiceWorkerReader {
    /// sync-message's base URL under the page's origin.
    base_url: String,
    channel: String,
}

impl ServiceWorkerReader {
    /// Blocks until the reply to wait `seq` arrives (`Ok(Some(json))`) or `timeout` milliseconds
    /// pass (`Ok(None)`). `Err` explains that python-runner's service worker is not answering.
    fn wait(&self, seq: WaitSeq, timeout: Option<f64>) -> Result<Option<String>, String> {
        let id = ServiceWorkerUrls::id(&self.channel, seq);
        let deadline = timeout.map(|timeout| now() + timeout);
        let url = ServiceWorkerUrls::read_url(&self.base_url);
        loop {
            let remaining = deadline.map_or(f64::INFINITY, |deadline| deadline - now());
            if remaining <= 0.0 {
                return Ok(None);
            }
            let poll = remaining.min(f64::from(ServiceWorkerUrls::POLL_MS)).ceil() as u32;
            match read_service_worker(&self.base_url, &id, poll) {
                Ok(ServiceWorkerAnswer::Message(reply)) => {
                    return Ok(Some(reply.as_string().unwrap_or_default()))
                }
                Ok(ServiceWorkerAnswer::TimedOut) => continue,
                Ok(ServiceWorkerAnswer::Other(status)) => {
                    let what = format!("status {status} (not python-runner's service worker)");
                    return Err(service_worker_error(&url, &what));
                }
                Err(error) => return Err(service_worker_error(&url, &describe_error(&error))),
            }
        }
    }
}

fn service_worker_error(url: &str, what: &str) -> String {
    format!(
        "input() needs python-runner's service worker, but it did not answer ({what} from {url}). Register python-runner.js as the page's service worker and reload the page."
    )
}

/// What a sync-message service worker answered to one read.
pub enum ServiceWorkerAnswer {
    /// The message written for this read (`message` of the answer).
    Message(JsValue),
    /// The read's time passed without one (408).
    TimedOut,
    /// Not a sync-message broker's answer: its status (0 when the request failed).
    Other(u16),
}

/// One synchronous read (allowed in workers) of message `message_id` from the sync-message
/// broker under `base_url`, held by the service worker at most `wait_ms`. Shared by the element's
/// service-worker transport and the library's `readMessage`.
pub fn read_service_worker(
    base_url: &str,
    message_id: &str,
    wait_ms: u32,
) -> Result<ServiceWorkerAnswer, JsValue> {
    let request = web_sys::XmlHttpRequest::new()?;
    request.open_with_async("POST", &ServiceWorkerUrls::read_url(base_url), false)?;
    let body = ServiceWorkerUrls::read_body(message_id, wait_ms);
    let status = request
        .send_with_opt_str(Some(&body))
        .and_then(|()| request.status())
        .unwrap_or(0);
    Ok(match status {
        200 => {
            let text = request.response_text()?.unwrap_or_default();
            let answer: SyncAnswer = js_sys::JSON::parse(&text)
                .unwrap_or_default()
                .unchecked_into();
            if answer.is_object() && answer.version().as_deref() == Some(ServiceWorkerUrls::VERSION)
            {
                ServiceWorkerAnswer::Message(answer.message())
            } else {
                ServiceWorkerAnswer::Other(200)
            }
        }
        408 => ServiceWorkerAnswer::TimedOut,
        status => ServiceWorkerAnswer::Other(status),
    })
}
