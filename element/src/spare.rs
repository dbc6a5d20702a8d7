//! The pre-warmed spare worker: one booted worker per (Pyodide URL, transport) on the page, kept
//! so that a Stop that must replace Python, a crash, or an element connected later gets a running
//! Python at once instead of waiting for Pyodide to load again.
//!
//! A spare is started a moment after code starts running in some element's ready worker (so it
//! never competes with the page's first Pyodide load, and a page whose code never runs pays
//! nothing), started again a moment after one is taken, and dropped when the page has no
//! elements left.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use python_runner_protocol::FromWorker;

use crate::error::Error;
use crate::machine::Booted;
use crate::pool::{WorkerId, WorkerKind};
use crate::worker_client::{WorkerClient, WorkerEvent};

/// Who receives a worker's events: the runtime's worker it became, or nobody yet (a spare).
pub type Owner = Rc<Cell<Option<WorkerId>>>;

/// A spare handed to an element.
pub struct Adopted {
    /// The worker, now reporting as the runtime's worker.
    pub client: WorkerClient,
    /// What it said when it finished booting, if it has.
    pub booted: Option<Booted>,
}

struct Spare {
    kind: WorkerKind,
    serial: u32,
    owner: Owner,
    client: WorkerClient,
    booted: Option<Booted>,
}

thread_local! {
    static SPARES: RefCell<Vec<Spare>> = const { RefCell::new(Vec::new()) };
    static NEXT_SERIAL: Cell<u32> = const { Cell::new(1) };
}

/// Hands the spare of `kind` (if any) to a runtime as its worker `id`.
pub fn take(kind: &WorkerKind, id: WorkerId) -> Option<Adopted> {
    let spare = SPARES.with(|spares| {
        let mut spares = spares.borrow_mut();
        let index = spares.iter().position(|spare| spare.kind == *kind)?;
        Some(spares.swap_remove(index))
    })?;
    spare.owner.set(Some(id));
    Some(Adopted {
        client: spare.client,
        booted: spare.booted,
    })
}

/// Starts a spare of `kind` unless one exists. `spawn(owner, serial)`
/// starts the worker; its events must go to [`on_event`] with `serial` while `owner` is `None`.
pub fn ensure(kind: &WorkerKind, spawn: impl FnOnce(Owner, u32) -> Result<WorkerClient, Error>) {
    let exists = SPARES.with(|spares| spares.borrow().iter().any(|spare| spare.kind == *kind));
    if exists {
        return;
    }
    let serial = NEXT_SERIAL.with(|next| {
        let serial = next.get();
        next.set(serial.wrapping_add(1));
        serial
    });
    let owner: Owner = Rc::new(Cell::new(None));
    match spawn(owner.clone(), serial) {
        Ok(client) => SPARES.with(|spares| {
            spares.borrow_mut().push(Spare {
                kind: kind.clone(),
                serial,
                owner,
                client,
                booted: None,
            });
        }),
        Err(reason) => web_sys::console::warn_1(
            &[
                "python-runner: could not start a spare worker: ",
                &reason.to_string(),
            ]
            .concat()
            .into(),
        ),
    }
}

/// An event from spare `serial`: it is ready, or it failed (then it is dropped, and the next
/// element that needs a worker starts its own).
pub fn on_event(serial: u32, event: WorkerEvent) {
    SPARES.with(|spares| {
        let mut spares = spares.borrow_mut();
        let Some(index) = spares.iter().position(|spare| spare.serial == serial) else {
            return;
        };
        if let Some(booted) = event.message().and_then(Booted::of) {
            spares[index].booted = Some(booted);
            return;
        }
        match event {
            WorkerEvent::Message(FromWorker::Failed { .. }, _) | WorkerEvent::Crashed(_) => {
                spares.swap_remove(index);
            }
            WorkerEvent::Message(..) => {}
        }
    });
}

/// Terminates every spare (the page has no elements left).
pub fn clear() {
    let spares = SPARES.with(|spares| std::mem::take(&mut *spares.borrow_mut()));
    drop(spares);
}
