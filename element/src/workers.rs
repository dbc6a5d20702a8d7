//! Starting workers: the worker module's Blob URL (one per page), the compiled wasm module each
//! worker instantiates, and the choice between adopting the spare and spawning a new worker.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use python_runner_protocol::{Snapshot, Transport};
use wasm_bindgen::JsValue;

use crate::error::Error;
use crate::machine::Booted;
use crate::pool::{WorkerId, WorkerKind};
use crate::spare::{self, Owner};
use crate::timers::delay;
use crate::worker_client::{WorkerClient, WorkerEvent};

/// Where a runtime's worker events go.
pub type Route = fn(WorkerId, WorkerEvent);

/// The name of the worker making the memory snapshot (`new Worker(…, {name})`), so a page can
/// tell it apart from the workers running its code.
const SNAPSHOT_WORKER_NAME: &str = "python-runner-snapshot";

/// How long after code starts running (or a spare is taken) the next spare starts booting.
const SPARE_DELAY_MS: u32 = 300;

/// How many times [`SPARE_DELAY_MS`] a spare waits for the page's Pythons to finish loading.
const SPARE_PATIENCE: u32 = 100;

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
    kind: WorkerKind,
    route: Route,
    wanted: SpareWanted,
) -> Result<(WorkerClient, Option<Booted>), Error> {
    if let Some(adopted) = spare::take(&kind, id) {
        // Whoever needed this one (a restart, most likely) may well need the next one soon.
        refill_spare(kind, route, wanted);
        return Ok((adopted.client, adopted.booted));
    }
    let owner: Owner = Rc::new(Cell::new(Some(id)));
    Ok((spawn(&kind, owner, 0, route)?, None))
}

/// Whether a spare may start: `Some(true)` now; `Some(false)` not yet (Python is still loading
/// somewhere on the page, and the spare would slow it down); `None` never (no elements left).
pub type SpareWanted = fn() -> Option<bool>;

/// Starts a spare of `kind` after a moment (so it does not compete with the code that just
/// started) once `wanted()` says so (at the latest after [`SPARE_PATIENCE`] tries), unless one
/// exists by then or the page has no elements left.
pub fn refill_spare(kind: WorkerKind, route: Route, wanted: SpareWanted) {
    wasm_bindgen_futures::spawn_local(async move {
        for attempt in 0..=SPARE_PATIENCE {
            delay(SPARE_DELAY_MS).await;
            match wanted() {
                None => return,
                Some(false) if attempt < SPARE_PATIENCE => continue,
                Some(_) => break,
            }
        }
        spare::ensure(&kind, |owner, serial| spawn(&kind, owner, serial, route));
    });
}

/// Starts the throwaway worker that makes the memory snapshot for `pyodide_url` (see
/// `snapshot.rs`); its events go to `on_event`.
pub fn spawn_snapshot_maker(
    pyodide_url: &str,
    on_event: fn(WorkerEvent),
) -> Result<WorkerClient, Error> {
    let script_url = worker_url()?;
    let wasm_module = WASM_MODULE.with(|cell| cell.borrow().clone());
    WorkerClient::spawn(
        &script_url,
        &wasm_module,
        SNAPSHOT_WORKER_NAME,
        pyodide_url,
        Transport::None,
        Snapshot::Make,
        Rc::new(on_event),
    )
}

/// Starts a worker whose events go to the element in `owner`, or to the spare pool (as spare
/// `serial`) while `owner` is empty.
fn spawn(
    kind: &WorkerKind,
    owner: Owner,
    serial: u32,
    route: Route,
) -> Result<WorkerClient, Error> {
    let start_failed = |error: Error| Error::WorkerStart(error.to_string());
    let script_url = worker_url().map_err(start_failed)?;
    if kind.snapshot {
        python_runner_protocol::snapshot::touch();
    }
    let wasm_module = WASM_MODULE.with(|cell| cell.borrow().clone());
    WorkerClient::spawn(
        &script_url,
        &wasm_module,
        "python-runner",
        &kind.pyodide_url,
        kind.transport,
        if kind.snapshot {
            Snapshot::Use
        } else {
            Snapshot::Off
        },
        Rc::new(move |event| match owner.get() {
            Some(id) => route(id, event),
            None => spare::on_event(serial, event),
        }),
    )
    .map_err(start_failed)
}
