//! The runtimes' upkeep on a timer: runs that wait while every worker is held by one run (an
//! `input()`, a long loop) get a new worker, and workers beyond a runtime's first that idled for
//! a minute are retired (see `pool.rs` for both decisions); and whether Python is loading
//! anywhere on the page (the spare waits for that).

use std::cell::Cell;
use std::thread::LocalKey;

use super::{next_worker, send_later, Outbox, Runtime, PAGE};

thread_local! {
    static STALL_CHECK: Cell<bool> = const { Cell::new(false) };
    static RETIREMENT: Cell<bool> = const { Cell::new(false) };
}

/// Calls `check` in `after_ms`, unless a call is already scheduled on `scheduled` (then that call
/// looks again, and schedules the next).
fn schedule(scheduled: &'static LocalKey<Cell<bool>>, after_ms: f64, check: fn()) {
    if scheduled.with(|flag| flag.replace(true)) {
        return;
    }
    wasm_bindgen_futures::spawn_local(async move {
        crate::timers::delay(after_ms.ceil() as u32).await;
        scheduled.with(|flag| flag.set(false));
        check();
    });
}

/// Whether some runtime's worker is still loading Python.
pub fn any_booting() -> bool {
    PAGE.with(|page| {
        page.borrow()
            .runtimes
            .iter()
            .any(|runtime| runtime.workers.iter().any(|worker| worker.booted.is_none()))
    })
}

/// Looks for idle workers to retire in `after_ms`.
pub(super) fn retire_later(after_ms: f64) {
    schedule(&RETIREMENT, after_ms, retire_idle);
}

impl Runtime {
    /// Schedules a look at this runtime's waiting runs for when they may get a new worker.
    pub(super) fn watch_stalls(&self) {
        if let Some(due) = self.pool.next_stall_check(js_sys::Date::now()) {
            schedule(&STALL_CHECK, due, check_stalls);
        }
    }
}

/// The first waiting run of each stalled runtime gets a new worker.
fn check_stalls() {
    let now = js_sys::Date::now();
    let mut outbox = Outbox::new();
    let mut next = None::<f64>;
    PAGE.with(|page| {
        let mut page = page.borrow_mut();
        let Some(start) = page.start else {
            return;
        };
        for runtime in &mut page.runtimes {
            if let Some((element, decision)) = runtime.pool.unstall(now, next_worker) {
                runtime.dispatch_waiting(element, decision, start, &mut outbox);
            }
            next = earliest(next, runtime.pool.next_stall_check(now));
        }
    });
    send_later(outbox);
    if let Some(due) = next {
        schedule(&STALL_CHECK, due, check_stalls);
    }
}

/// Terminates the workers beyond each runtime's first that idled for
/// [`crate::pool::RETIRE_AFTER_MS`]; the elements whose namespace they held hear so.
fn retire_idle() {
    let now = js_sys::Date::now();
    let mut outbox = Outbox::new();
    let mut dropped = Vec::new();
    let mut next = None::<f64>;
    PAGE.with(|page| {
        for runtime in &mut page.borrow_mut().runtimes {
            for worker in runtime.pool.to_retire(now) {
                dropped.extend(runtime.remove_worker(worker, None, true, &mut outbox));
            }
            next = earliest(next, runtime.pool.next_retirement(now));
        }
    });
    drop(dropped);
    send_later(outbox);
    if let Some(due) = next {
        retire_later(due);
    }
}

fn earliest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
