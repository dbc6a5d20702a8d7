//! Making the memory snapshot that later starts restore (the protocol's `snapshot.rs` keeps it,
//! the worker restores it): once per page and Pyodide URL, some seconds after a worker started
//! Python in full, a throwaway worker makes it, off the critical path and off the main thread,
//! and moves the bytes here; the page stores them (the Cache API calls are asynchronous).

use std::cell::RefCell;

use python_runner_protocol::FromWorker;
use wasm_bindgen::JsCast;

use crate::pool::WorkerKind;
use crate::timers::delay;
use crate::worker_client::{WorkerClient, WorkerEvent};

/// How long after a full start the snapshot worker starts, ms: the page's first runs and its
/// spare have the cores first.
const MAKE_AFTER_MS: u32 = 5000;

thread_local! {
    /// Pyodide URLs whose snapshot this page made or is making.
    static ASKED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// The snapshot worker at work, if any.
    static MAKER: RefCell<Option<WorkerClient>> = const { RefCell::new(None) };
}

/// A worker of `kind` started Python in full: unless snapshots are off for it, or this page
/// already asked for one for its Pyodide URL, a snapshot is made in a while (for later visits,
/// so even if the page has no elements left by then).
pub fn after_full_start(kind: &WorkerKind) {
    let new = kind.snapshot
        && ASKED.with(|asked| {
            let mut asked = asked.borrow_mut();
            let new = !asked.contains(&kind.pyodide_url);
            if new {
                asked.push(kind.pyodide_url.clone());
            }
            new
        });
    if !new {
        return;
    }
    let pyodide_url = kind.pyodide_url.clone();
    wasm_bindgen_futures::spawn_local(async move {
        delay(MAKE_AFTER_MS).await;
        if MAKER.with(|maker| maker.borrow().is_some()) {
            return;
        }
        match crate::workers::spawn_snapshot_maker(&pyodide_url, on_event) {
            Ok(client) => MAKER.with(|maker| *maker.borrow_mut() = Some(client)),
            Err(error) => note(&error.to_string()),
        }
    });
}

/// The page is hidden: a snapshot worker at work is terminated, and a later full start may ask again.
pub fn abandon() {
    if MAKER.with(|maker| maker.borrow_mut().take()).is_some() {
        ASKED.with(|asked| asked.borrow_mut().clear());
    }
}

/// The snapshot worker's one answer: it is done either way, and is dropped (terminated).
fn on_event(event: WorkerEvent) {
    let maker = MAKER.with(|maker| maker.borrow_mut().take());
    match event {
        WorkerEvent::Message(FromWorker::SnapshotMade { key, .. }, attachment) => {
            match attachment.dyn_into::<js_sys::Uint8Array>() {
                Ok(bytes) => wasm_bindgen_futures::spawn_local(async move {
                    if !python_runner_protocol::snapshot::store(&key, &bytes).await {
                        note("the browser did not store it");
                    }
                }),
                Err(_) => note("its bytes were lost"),
            }
        }
        WorkerEvent::Message(FromWorker::Failed { error, .. }, _) => note(&error.message),
        WorkerEvent::Crashed(reason) => note(&reason),
        WorkerEvent::Message(..) => {
            MAKER.with(|slot| *slot.borrow_mut() = maker);
            return;
        }
    }
    drop(maker);
}

fn note(reason: &str) {
    web_sys::console::info_1(
        &[
            "python-runner: no Python snapshot for faster starts this time (",
            reason,
            ").",
        ]
        .concat()
        .into(),
    );
}
