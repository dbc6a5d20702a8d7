//! Starting workers: the worker module's Blob URL (one per page), the compiled wasm module each
//! worker instantiates, and the choice between adopting the spare and spawning a new worker.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use python_runner_protocol::Transport;
use wasm_bindgen::JsValue;

use crate::error::Error;
use crate::machine::Booted;
use crate::pool::WorkerId;
use crate::spare::{self, Owner};
use crate::timers::delay;
use crate::worker_client::{WorkerClient, WorkerEvent};

/// Where a runtime's worker events go.
pub type Route = fn(WorkerId, WorkerEvent);

/// How long after code starts running (or a spare is taken) the next spare starts booting.
const SPARE_DELAY_MS: u32 = 300;

thread_local! {
    static WORKER_SOURCE: RefCell<JsValue> = const { RefCell::new(JsValue::UNDEFINED) };
    static WASM_MODULE: RefCell<JsValue> = const { RefCell::new(JsValue::UNDEFINED) };
    static WORKER_URL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Stores the worker's module source (a JS string, started from a Blob URL) and the compiled
/// wasm module it instantiates.
pub fn set_worker_code(source: js_sys::JsString, wasm_module: JsValue) {
    WORKER_SOURCE.with(|cell| *cell.borrow_mut() = source.into());
    WASM_MODULE.with(|cell| *cell.borrow_mut() = wasm_module);
}

/// A Blob URL for the worker module, created once per page and shared by all elements.
fn worker_url() -> Result<String, Error> {
    WORKER_URL.with(|cell| {
        if let Some(url) = cell.borrow().as_ref() {
            return Ok(url.clone());
        }
        let source = WORKER_SOURCE.with(|source| source.borrow().clone());
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("text/javascript");
        let blob = web_sys::Blob::new_with_str_sequence_and_options(
            &js_sys::Array::of1(&source),
            &options,
        )?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        *cell.borrow_mut() = Some(url.clone());
        Ok(url)
    })
}

/// A runtime's worker `id`, whose events go to `route`: the spare if one matches (with what it
/// said when it booted, if it has), else a new one. Taking the spare starts the next one.
pub fn start(
    id: WorkerId,
    pyodide_url: String,
    transport: Transport,
    route: Route,
    wanted: fn() -> bool,
) -> Result<(WorkerClient, Option<Booted>), Error> {
    if let Some(adopted) = spare::take(&pyodide_url, transport, id) {
        // Whoever needed this one (a restart, most likely) may well need the next one soon.
        refill_spare(pyodide_url, transport, route, wanted);
        return Ok((adopted.client, adopted.booted));
    }
    let owner: Owner = Rc::new(Cell::new(Some(id)));
    Ok((spawn(&pyodide_url, transport, owner, 0, route)?, None))
}

/// Starts a spare for `pyodide_url` and `transport` after a moment (so it does not compete with
/// the code that just started), unless one exists by then or `wanted()` says the page has no
/// elements left.
pub fn refill_spare(pyodide_url: String, transport: Transport, route: Route, wanted: fn() -> bool) {
    wasm_bindgen_futures::spawn_local(async move {
        delay(SPARE_DELAY_MS).await;
        if wanted() {
            spare::ensure(&pyodide_url, transport, |owner, serial| {
                spawn(&pyodide_url, transport, owner, serial, route)
            });
        }
    });
}

/// Starts a worker whose events go to the element in `owner`, or to the spare pool (as spare
/// `serial`) while `owner` is empty.
fn spawn(
    pyodide_url: &str,
    transport: Transport,
    owner: Owner,
    serial: u32,
    route: Route,
) -> Result<WorkerClient, Error> {
    let start_failed = |error: Error| Error::WorkerStart(error.to_string());
    let script_url = worker_url().map_err(start_failed)?;
    let wasm_module = WASM_MODULE.with(|cell| cell.borrow().clone());
    WorkerClient::spawn(
        &script_url,
        &wasm_module,
        pyodide_url,
        transport,
        move |event| match owner.get() {
            Some(id) => route(id, event),
            None => spare::on_event(serial, event),
        },
    )
    .map_err(start_failed)
}
