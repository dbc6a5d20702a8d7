//! The workers of one runtime (elements sharing a Pyodide URL, transport and group), and which of
//! them runs an element's code: the decisions of "many runners on one page", in plain Rust.
//!
//! Each element keeps its own `__main__` (a session) in the worker where it last ran, its home.
//! A run goes home when the home is free, else to any free worker (where the element's namespace
//! is fresh), else to a new worker (the page's spare joins the pool) unless one is still booting
//! or the pool is at [`MAX_WORKERS`]; otherwise it waits for the first worker to finish. So
//! nobody waits behind a busy loop or an `input()`, a page of snippets boots one Pyodide, and
//! runs that arrive while it boots queue for it. A worker that is lost (replaced by a restart,
//! crashed, retired) takes the sessions that lived there with it: their elements are told.
//!
//! `runtimes.rs` keeps one pool per runtime and carries out its decisions.

use std::collections::VecDeque;

use python_runner_protocol::Transport;

use crate::InstanceId;

/// Identifies one worker on the page.
pub type WorkerId = u32;

/// Workers one runtime may have at once (each is a Pyodide of 100–200 MB).
pub const MAX_WORKERS: usize = 4;

/// How long a worker beyond the first may stay idle before it is retired, ms.
pub const RETIRE_AFTER_MS: f64 = 60_000.0;

/// How long every worker may be held by one run while others wait for the first worker to boot
/// before the first waiting run gets a new worker, ms: long enough for a page of snippets to take
/// turns on one Python (a first run, an install of imports), short enough that nobody waits long
/// behind a loop. A run waiting in `input()` or `time.sleep` holds its worker at once.
pub const STALLED_AFTER_MS: f64 = 1000.0;

/// Which elements share a runtime, besides the Pyodide URL, the transport and the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// The default: every element of the page.
    Page,
    /// `runtime="name"`: the elements the author grouped.
    Named(String),
    /// `runtime="own"`: one element alone, as before sharing.
    Own(InstanceId),
}

/// The workers a runtime runs; a spare of the same kind can join it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerKind {
    /// The Pyodide distribution.
    pub pyodide_url: String,
    /// How its workers wait for the page.
    pub transport: Transport,
    /// Whether Python starts from the cached memory snapshot (not with `snapshot="off"`).
    pub snapshot: bool,
}

/// What identifies a runtime on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeKey {
    /// Its workers.
    pub kind: WorkerKind,
    /// Who shares it.
    pub group: Group,
    /// The archive on its `sys.path` (URL, format, folder and integrity), if any: two archives
    /// that both define `mypkg` never meet.
    pub archive: Option<String>,
}

/// Where an element's run goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Run on this worker (it may still be booting: it holds the run until Python is ready).
    /// `fresh`: the element's namespace is not there (first run, or it last ran elsewhere).
    Run { worker: WorkerId, fresh: bool },
    /// Start this new worker (or adopt the page's spare for it) and run there.
    Spawn { worker: WorkerId },
    /// Wait for a worker to finish; `busy` workers are running code.
    Wait { busy: usize },
}

#[derive(Debug)]
struct Slot {
    id: WorkerId,
    ready: bool,
    /// The element whose run this worker has.
    running: Option<InstanceId>,
    /// Elements whose namespace lives here (this is their home).
    sessions: Vec<InstanceId>,
    /// When its run started, or when it last finished one (page time, ms).
    since: f64,
    /// Its run waits for the reader (`input()`) or the clock (`time.sleep`).
    blocked: bool,
}

/// The workers of one runtime and the elements waiting for one.
#[derive(Debug, Default)]
pub struct Pool {
    slots: Vec<Slot>,
    queue: VecDeque<InstanceId>,
    /// Elements whose namespace was left behind in another worker by their last assignment.
    moved: Vec<InstanceId>,
}

impl Pool {
    /// How many workers the runtime has.
    pub fn workers(&self) -> usize {
        self.slots.len()
    }

    /// Element `element` wants to run its code at page time `now`; `new_worker` numbers a
    /// worker if one starts.
    pub fn request(
        &mut self,
        element: InstanceId,
        now: f64,
        new_worker: impl FnOnce() -> WorkerId,
    ) -> Decision {
        if self.queue.contains(&element) {
            return Decision::Wait { busy: self.busy() };
        }
        if let Some(slot) = self.running_on(element) {
            // Asked again while running (Run restarts: the machine stops the run first).
            return Decision::Run {
                worker: slot,
                fresh: false,
            };
        }
        let home = self
            .slots
            .iter()
            .position(|slot| slot.sessions.contains(&element));
        let free = |slot: &Slot| slot.running.is_none();
        let chosen = match home {
            Some(home) if free(&self.slots[home]) => Some(home),
            _ => self.slots.iter().position(free),
        };
        if let Some(index) = chosen {
            return self.assign(index, element, now);
        }
        let booting = self.slots.iter().any(|slot| !slot.ready);
        if booting || self.slots.len() >= MAX_WORKERS {
            self.queue.push_back(element);
            return Decision::Wait { busy: self.busy() };
        }
        let id = new_worker();
        self.slots.push(Slot {
            id,
            ready: false,
            running: Some(element),
            sessions: Vec::new(),
            since: now,
            blocked: false,
        });
        self.move_session(element, self.slots.len() - 1);
        Decision::Spawn { worker: id }
    }

    /// A worker for elements that start before they run (Python loads near the viewport): the
    /// first worker, numbered by `new_worker`, if the runtime has none.
    pub fn ensure_worker(&mut self, new_worker: impl FnOnce() -> WorkerId) -> Option<WorkerId> {
        if !self.slots.is_empty() {
            return None;
        }
        let id = new_worker();
        self.slots.push(Slot {
            id,
            ready: false,
            running: None,
            sessions: Vec::new(),
            since: 0.0,
            blocked: false,
        });
        Some(id)
    }

    /// Worker `worker` loaded Python at page time `now` (a run it holds starts then).
    pub fn ready(&mut self, worker: WorkerId, now: f64) {
        if let Some(slot) = self.slot(worker) {
            slot.ready = true;
            slot.since = now;
        }
    }

    /// The run on `worker` ended at page time `now`: the first element waiting runs there.
    pub fn finished(&mut self, worker: WorkerId, now: f64) -> Option<(InstanceId, Decision)> {
        let index = self.slots.iter().position(|slot| slot.id == worker)?;
        self.slots[index].running = None;
        self.slots[index].since = now;
        self.slots[index].blocked = false;
        let next = self.queue.pop_front()?;
        Some((next, self.assign(index, next, now)))
    }

    /// Runs wait while every worker has been held by one run for [`STALLED_AFTER_MS`] at page
    /// time `now` (an `input()`, a long loop): the first waiting run gets a new worker, numbered
    /// by `new_worker`, if the pool may grow and no worker is booting.
    pub fn unstall(
        &mut self,
        now: f64,
        new_worker: impl FnOnce() -> WorkerId,
    ) -> Option<(InstanceId, Decision)> {
        self.next_stall_check(now).filter(|due| *due == 0.0)?;
        let element = *self.queue.front()?;
        let decision = self.request_spilled(element, now, new_worker);
        Some((element, decision))
    }

    /// How long from page time `now` until [`Pool::unstall`] may give a waiting run a new worker,
    /// ms (0: now); `None` while nobody waits, a worker is free or booting, or the pool is full.
    pub fn next_stall_check(&self, now: f64) -> Option<f64> {
        let can_grow = self.slots.len() < MAX_WORKERS
            && self
                .slots
                .iter()
                .all(|slot| slot.ready && slot.running.is_some());
        if self.queue.is_empty() || !can_grow {
            return None;
        }
        self.slots
            .iter()
            .map(|slot| match slot.blocked {
                true => 0.0,
                false => (slot.since + STALLED_AFTER_MS - now).max(0.0),
            })
            .reduce(f64::max)
    }

    /// The run on `worker` waits for the reader or the clock (`blocked`), or goes on.
    pub fn blocked(&mut self, worker: WorkerId, blocked: bool) {
        if let Some(slot) = self.slot(worker) {
            slot.blocked = blocked;
        }
    }

    /// [`Pool::request`] for a waiting element: out of the queue, and asked again.
    fn request_spilled(
        &mut self,
        element: InstanceId,
        now: f64,
        new_worker: impl FnOnce() -> WorkerId,
    ) -> Decision {
        self.queue.retain(|waiting| *waiting != element);
        self.request(element, now, new_worker)
    }

    /// Worker `worker` is gone (terminated to stop a run, crashed, retired). Returns the elements
    /// whose namespace lived there, but for `except` (the element whose restart it was, which
    /// says so itself); the element running there, if any, is among them or is `except`.
    pub fn lost(&mut self, worker: WorkerId, except: Option<InstanceId>) -> Vec<InstanceId> {
        let Some(index) = self.slots.iter().position(|slot| slot.id == worker) else {
            return Vec::new();
        };
        let slot = self.slots.remove(index);
        slot.sessions
            .into_iter()
            .filter(|element| Some(*element) != except)
            .collect()
    }

    /// The elements waiting for a worker, in order, taken out of the queue (to ask again once
    /// the pool changed, e.g. after the worker they waited for was lost).
    pub fn take_queue(&mut self) -> Vec<InstanceId> {
        self.queue.drain(..).collect()
    }

    /// Element `element` left the page: it waits no more and its namespace is dropped. Returns
    /// the worker still running its code, which the caller stops.
    pub fn leave(&mut self, element: InstanceId) -> Option<WorkerId> {
        self.queue.retain(|waiting| *waiting != element);
        for slot in &mut self.slots {
            slot.sessions.retain(|session| *session != element);
        }
        self.running_on(element)
    }

    /// Workers to retire at page time `now`: idle ones beyond the first, idle for
    /// [`RETIRE_AFTER_MS`]. Report each with [`Pool::lost`].
    pub fn to_retire(&self, now: f64) -> Vec<WorkerId> {
        self.slots
            .iter()
            .skip(1)
            .filter(|slot| slot.running.is_none() && now - slot.since >= RETIRE_AFTER_MS)
            .map(|slot| slot.id)
            .collect()
    }

    /// How long from page time `now` until the next idle worker beyond the first is due to
    /// retire, ms (0: now), if any is idle.
    pub fn next_retirement(&self, now: f64) -> Option<f64> {
        self.slots
            .iter()
            .skip(1)
            .filter(|slot| slot.running.is_none())
            .map(|slot| (slot.since + RETIRE_AFTER_MS - now).max(0.0))
            .reduce(f64::min)
    }

    fn assign(&mut self, index: usize, element: InstanceId, now: f64) -> Decision {
        let fresh = !self.slots[index].sessions.contains(&element);
        self.slots[index].running = Some(element);
        self.slots[index].since = now;
        self.move_session(element, index);
        Decision::Run {
            worker: self.slots[index].id,
            fresh,
        }
    }

    /// Makes slot `index` the element's home (a namespace left elsewhere is dropped with it,
    /// and the element is listed in [`Pool::take_moved`]).
    fn move_session(&mut self, element: InstanceId, index: usize) {
        for (other, slot) in self.slots.iter_mut().enumerate() {
            if other == index {
                if !slot.sessions.contains(&element) {
                    slot.sessions.push(element);
                }
            } else if let Some(at) = slot.sessions.iter().position(|s| *s == element) {
                slot.sessions.swap_remove(at);
                self.moved.push(element);
            }
        }
    }

    /// The elements whose last run went to another worker than the one holding their namespace
    /// (its variables are not where the run is), since the last call.
    pub fn take_moved(&mut self) -> Vec<InstanceId> {
        std::mem::take(&mut self.moved)
    }

    fn running_on(&self, element: InstanceId) -> Option<WorkerId> {
        self.slots
            .iter()
            .find(|slot| slot.running == Some(element))
            .map(|slot| slot.id)
    }

    fn busy(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.running.is_some())
            .count()
    }

    fn slot(&mut self, worker: WorkerId) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|slot| slot.id == worker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool whose new workers are numbered 1, 2, 3, …
    struct Page {
        pool: Pool,
        next: WorkerId,
    }

    impl Page {
        fn new() -> Self {
            Page {
                pool: Pool::default(),
                next: 0,
            }
        }

        fn request(&mut self, element: InstanceId) -> Decision {
            let next = &mut self.next;
            self.pool.request(element, 0.0, || {
                *next += 1;
                *next
            })
        }
    }

    #[test]
    fn snippets_that_run_while_python_boots_queue_for_the_one_booting_worker() {
        let mut page = Page::new();
        assert_eq!(page.request(1), Decision::Spawn { worker: 1 });
        for element in 2..=8 {
            assert_eq!(page.request(element), Decision::Wait { busy: 1 });
        }
        page.pool.ready(1, 0.0);
        // Each finished run hands the worker to the next snippet, in order.
        for element in 2..=8 {
            assert_eq!(
                page.pool.finished(1, 0.0),
                Some((
                    element,
                    Decision::Run {
                        worker: 1,
                        fresh: true
                    }
                ))
            );
        }
        assert_eq!(page.pool.finished(1, 0.0), None);
        assert_eq!(page.pool.workers(), 1);
    }

    #[test]
    fn a_runtime_started_near_the_viewport_has_one_worker_that_takes_the_first_run() {
        let mut page = Page::new();
        let mut next = 0;
        let mut new_worker = || {
            next += 1;
            next
        };
        assert_eq!(page.pool.ensure_worker(&mut new_worker), Some(1));
        assert_eq!(page.pool.ensure_worker(&mut new_worker), None);
        page.next = next;
        assert_eq!(
            page.request(1),
            Decision::Run {
                worker: 1,
                fresh: true
            }
        );
        assert_eq!(page.request(2), Decision::Wait { busy: 1 });
    }

    #[test]
    fn a_run_goes_home_to_its_namespace_when_home_is_free() {
        let mut page = Page::new();
        page.request(1);
        page.pool.ready(1, 0.0);
        page.pool.finished(1, 0.0);
        assert_eq!(
            page.request(1),
            Decision::Run {
                worker: 1,
                fresh: false
            }
        );
    }

    #[test]
    fn nobody_waits_behind_a_busy_worker_a_new_one_joins() {
        let mut page = Page::new();
        page.request(1); // A: while True: pass, or input()
        page.pool.ready(1, 0.0);
        assert_eq!(page.request(2), Decision::Spawn { worker: 2 });
        page.pool.ready(2, 0.0);
        // A's input() still has its worker; B's namespace now lives in worker 2.
        page.pool.finished(2, 0.0);
        page.pool.finished(1, 0.0);
        assert_eq!(
            page.request(2),
            Decision::Run {
                worker: 2,
                fresh: false
            }
        );
        assert_eq!(
            page.request(1),
            Decision::Run {
                worker: 1,
                fresh: false
            }
        );
    }

    #[test]
    fn a_run_whose_home_is_busy_runs_fresh_elsewhere_and_moves_home() {
        let mut page = Page::new();
        page.request(1);
        page.pool.ready(1, 0.0);
        page.request(2);
        page.pool.ready(2, 0.0);
        page.pool.finished(1, 0.0);
        page.pool.finished(2, 0.0);
        page.request(3); // 3 takes worker 1 (free), then 1's home is busy
        assert_eq!(
            page.request(1),
            Decision::Run {
                worker: 2,
                fresh: true
            }
        );
        page.pool.finished(1, 0.0);
        page.pool.finished(2, 0.0);
        assert_eq!(
            page.request(1),
            Decision::Run {
                worker: 2,
                fresh: false
            }
        );
    }

    #[test]
    fn at_the_cap_runs_wait_for_the_first_free_worker() {
        let mut page = Page::new();
        for element in 1..=MAX_WORKERS as InstanceId {
            let decision = page.request(element);
            assert_eq!(decision, Decision::Spawn { worker: element });
            page.pool.ready(element, 0.0);
        }
        assert_eq!(page.request(99), Decision::Wait { busy: MAX_WORKERS });
        assert_eq!(page.request(99), Decision::Wait { busy: MAX_WORKERS });
        assert_eq!(
            page.pool.finished(3, 0.0),
            Some((
                99,
                Decision::Run {
                    worker: 3,
                    fresh: true
                }
            ))
        );
    }

    #[test]
    fn a_lost_worker_names_the_elements_whose_namespace_it_held() {
        let mut page = Page::new();
        page.request(1);
        page.pool.ready(1, 0.0);
        page.pool.finished(1, 0.0);
        page.request(2);
        page.pool.finished(1, 0.0);
        page.request(3); // running on worker 1: its restart replaces worker 1
        assert_eq!(page.pool.lost(1, Some(3)), vec![1, 2]);
        assert_eq!(page.pool.workers(), 0);
        assert_eq!(page.request(1), Decision::Spawn { worker: 2 });
    }

    #[test]
    fn an_element_that_leaves_stops_waiting_and_names_the_worker_running_it() {
        let mut page = Page::new();
        page.request(1);
        page.request(2);
        assert_eq!(page.pool.leave(2), None);
        assert_eq!(page.pool.leave(1), Some(1));
        page.pool.ready(1, 0.0);
        assert_eq!(page.pool.finished(1, 0.0), None);
    }

    #[test]
    fn runs_waiting_for_the_first_python_spill_when_it_is_held_by_one_run() {
        let mut page = Page::new();
        // Element 1 runs as soon as Python is ready; 2 and 3 wait for it.
        page.request(1);
        page.request(2);
        page.request(3);
        assert_eq!(page.pool.next_stall_check(0.0), None, "booting");
        // Python is ready long after the runs were asked for: the clock starts now.
        page.pool.ready(1, 2_000.0);
        // Snippets take turns: each start on the worker restarts the clock.
        assert_eq!(page.pool.next_stall_check(2_400.0), Some(600.0));
        assert_eq!(page.pool.unstall(2_400.0, || 9), None);
        let next = page.pool.finished(1, 2_500.0);
        assert_eq!(
            next,
            Some((
                2,
                Decision::Run {
                    worker: 1,
                    fresh: true
                }
            ))
        );
        assert_eq!(page.pool.next_stall_check(3_000.0), Some(500.0));
        // Element 2 waits in input(): element 3 gets a new worker at once.
        page.pool.blocked(1, true);
        assert_eq!(page.pool.next_stall_check(3_000.0), Some(0.0));
        assert_eq!(
            page.pool.unstall(3_000.0, || 2),
            Some((3, Decision::Spawn { worker: 2 }))
        );
        assert_eq!(page.pool.next_stall_check(3_000.0), None);
        assert_eq!(page.pool.workers(), 2);
    }

    #[test]
    fn idle_workers_beyond_the_first_retire_after_a_minute() {
        let mut page = Page::new();
        page.request(1);
        page.pool.ready(1, 0.0);
        page.request(2);
        page.pool.ready(2, 0.0);
        page.pool.finished(1, 1_000.0);
        page.pool.finished(2, 1_000.0);
        assert_eq!(
            page.pool.to_retire(1_000.0 + RETIRE_AFTER_MS - 1.0),
            Vec::<WorkerId>::new()
        );
        assert_eq!(page.pool.to_retire(1_000.0 + RETIRE_AFTER_MS), vec![2]);
        // When to look again: the first worker never retires; a busy one is not due.
        assert_eq!(page.pool.next_retirement(31_000.0), Some(30_000.0));
        assert_eq!(page.pool.next_retirement(99_000.0), Some(0.0));
        page.request(2);
        page.request(1);
        assert_eq!(page.pool.next_retirement(31_000.0), None);
    }
}
