//! Shared runtimes: the elements of one runtime (same Pyodide URL, transport, group and archive)
//! share its workers, and `pool.rs` decides which worker runs each run.
//!
//! Each element holds a [`Lease`] and uses it as if it were its own worker: its runs, replies,
//! interrupts and archive go through it, and the events of its runs come back to it with its own
//! run ids. Dropping a lease (a restart, a failure, the element leaving) terminates the worker
//! running the element's code, if any; the other elements whose namespace lived there hear so.
//! Events are delivered from a microtask, never while the runtimes or an element are borrowed.

use std::cell::{Cell, RefCell};

use js_sys::ArrayBuffer;
use python_runner_protocol::{
    ArchiveSpec, FromWorker, PythonException, Reply, RunId, RunOptions, ToWorker, WaitSeq,
};

use crate::error::Error;
use crate::machine::Booted;
use crate::pool::{Decision, Pool, RuntimeKey, WorkerId, WorkerKind};
use crate::worker_client::{WorkerClient, WorkerEvent};
use crate::InstanceId;

mod route;
mod upkeep;
pub use route::on_worker_event;
pub use upkeep::any_booting;

/// Where events for an element go.
pub type Deliver = fn(InstanceId, RuntimeEvent);

/// Starts worker `id` of a runtime (adopting the spare if it can): the client, and what it said
/// when it booted, if it has.
pub type Start = fn(WorkerId, &RuntimeKey) -> Result<(WorkerClient, Option<Booted>), Error>;

/// What a runtime tells one of its elements.
pub enum RuntimeEvent {
    /// From a worker, run ids translated to the element's own.
    Worker(WorkerEvent),
    /// The worker that held the element's namespace is gone: another element's restart, or it
    /// was `retired` unused.
    SessionLost { retired: bool },
    /// The element's run went to another worker than its namespace's (that one was busy).
    Moved,
    /// The element's run waits for a free worker.
    Queued,
    /// The element's run that waited got a worker.
    Dispatched,
}

struct Worker {
    id: WorkerId,
    client: WorkerClient,
    booted: Option<Booted>,
    /// Whether it was told of the archive, and whether it has the bytes (or the error).
    archive_announced: bool,
    archive_delivered: bool,
}

/// A run on a worker: the id on the wire, whose it is, and the element's own id.
struct Run {
    wire: RunId,
    element: InstanceId,
    local: RunId,
    worker: WorkerId,
}

/// A run waiting for the pool.
struct Pending {
    element: InstanceId,
    local: RunId,
    code: String,
    options: RunOptions,
}

struct Runtime {
    key: RuntimeKey,
    pool: Pool,
    workers: Vec<Worker>,
    /// Elements holding a lease, and whether they were told the runtime is ready.
    members: Vec<(InstanceId, bool)>,
    runs: Vec<Run>,
    pending: Vec<Pending>,
    archive: Option<ArchiveSpec>,
    archive_bytes: Option<Result<ArrayBuffer, String>>,
    /// Whether the elements heard that the archive failed (every worker reports it).
    archive_failure_told: bool,
}

struct Page {
    runtimes: Vec<Runtime>,
    deliver: Option<Deliver>,
    start: Option<Start>,
}

thread_local! {
    static PAGE: RefCell<Page> = const {
        RefCell::new(Page { runtimes: Vec::new(), deliver: None, start: None })
    };
    static NEXT_WORKER: Cell<WorkerId> = const { Cell::new(1) };
    static NEXT_RUN: Cell<RunId> = const { Cell::new(1) };
}

/// The next number of `counter` (page-wide worker and run ids).
fn take_next(counter: &'static std::thread::LocalKey<Cell<u32>>) -> u32 {
    counter.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1));
        id
    })
}

fn next_worker() -> WorkerId {
    take_next(&NEXT_WORKER)
}

fn next_run() -> RunId {
    take_next(&NEXT_RUN)
}

/// Sets where element events go and how workers start (once, at boot).
pub fn init(deliver: Deliver, start: Start) {
    PAGE.with(|page| {
        let mut page = page.borrow_mut();
        page.deliver = Some(deliver);
        page.start = Some(start);
    });
}

/// Events to hand out once nothing is borrowed.
type Outbox = Vec<(InstanceId, RuntimeEvent)>;

fn send_later(outbox: Outbox) {
    if outbox.is_empty() {
        return;
    }
    let deliver = PAGE.with(|page| page.borrow().deliver);
    if let Some(deliver) = deliver {
        wasm_bindgen_futures::spawn_local(async move {
            for (element, event) in outbox {
                deliver(element, event);
            }
        });
    }
}

/// An element's share of its runtime.
pub struct Lease {
    element: InstanceId,
    kind: WorkerKind,
}

/// Gives element `element` a lease on the runtime `key`, starting its first worker if it has
/// none; returns what the runtime said when it booted, if it is ready.
pub fn attach(element: InstanceId, key: RuntimeKey) -> Result<(Lease, Option<Booted>), Error> {
    let kind = key.kind.clone();
    let booted = PAGE.with(|page| -> Result<Option<Booted>, Error> {
        let mut page = page.borrow_mut();
        let start = page.start.ok_or(Error::NoWorker)?;
        let index = match page.runtimes.iter().position(|runtime| runtime.key == key) {
            Some(index) => index,
            None => {
                page.runtimes.push(Runtime {
                    key,
                    pool: Pool::default(),
                    workers: Vec::new(),
                    members: Vec::new(),
                    runs: Vec::new(),
                    pending: Vec::new(),
                    archive: None,
                    archive_bytes: None,
                    archive_failure_told: false,
                });
                page.runtimes.len() - 1
            }
        };
        let runtime = &mut page.runtimes[index];
        if let Some(id) = runtime.pool.ensure_worker(next_worker) {
            if let Err(error) = runtime.start_worker(id, start) {
                if runtime.members.is_empty() {
                    page.runtimes.swap_remove(index);
                }
                return Err(error);
            }
        }
        let booted = runtime
            .workers
            .iter()
            .find_map(|worker| worker.booted.clone());
        runtime.members.retain(|(member, _)| *member != element);
        runtime.members.push((element, booted.is_some()));
        Ok(booted)
    })?;
    Ok((Lease { element, kind }, booted))
}

impl Lease {
    /// The runtime's workers: Pyodide URL, transport, snapshot.
    pub fn kind(&self) -> &WorkerKind {
        &self.kind
    }

    /// Sends a message as if to the element's own worker: runs go where the pool says, the
    /// archive to every worker of the runtime.
    pub fn send(&self, message: &ToWorker) -> Result<(), Error> {
        let element = self.element;
        let mut outbox = Outbox::new();
        let result = with_runtime(element, |runtime, start| match message {
            ToWorker::Run { id, code, options } => runtime.request(
                Pending {
                    element,
                    local: *id,
                    code: code.clone(),
                    options: options.clone(),
                },
                start,
                &mut outbox,
            ),
            ToWorker::Cancel { id } => {
                if runtime.drop_pending(element, *id) {
                    outbox.push((element, done(*id, None)));
                    return Ok(());
                }
                match runtime.run_of(element) {
                    Some((wire, worker)) => runtime
                        .client(worker)
                        .map_or(Ok(()), |client| client.send(&ToWorker::Cancel { id: wire })),
                    None => Ok(()),
                }
            }
            ToWorker::Archive { spec } => {
                runtime.archive = Some(spec.clone());
                runtime.deliver_archive()
            }
            ToWorker::ArchiveData { error, .. } => {
                if runtime.archive_bytes.is_none() {
                    runtime.archive_bytes = Some(Err(error.clone().unwrap_or_default()));
                }
                runtime.deliver_archive()
            }
            other => match runtime.run_of(element) {
                Some((_, worker)) => runtime
                    .client(worker)
                    .map_or(Ok(()), |client| client.send(other)),
                None => Ok(()),
            },
        });
        send_later(outbox);
        result.unwrap_or(Err(Error::NoWorker))
    }

    /// Delivers the archive's bytes to every worker of the runtime that has not had them.
    pub fn send_archive(&self, _url: &str, buffer: &ArrayBuffer) -> Result<(), Error> {
        with_runtime(self.element, |runtime, _| {
            if !matches!(runtime.archive_bytes, Some(Ok(_))) {
                runtime.archive_bytes = Some(Ok(buffer.clone()));
            }
            runtime.deliver_archive()
        })
        .unwrap_or(Err(Error::NoWorker))
    }

    /// Answers wait `seq` of the element's run.
    pub fn reply(&self, seq: WaitSeq, reply: &Reply) -> Result<(), Error> {
        with_runtime(self.element, |runtime, _| {
            match runtime.run_of(self.element) {
                Some((_, worker)) => {
                    runtime.pool.blocked(worker, false);
                    runtime
                        .client(worker)
                        .map_or(Ok(()), |client| client.reply(seq, reply))
                }
                None => Ok(()),
            }
        })
        .unwrap_or(Ok(()))
    }

    /// Asks Python to raise `KeyboardInterrupt` in the element's run `run`; a run still waiting
    /// for a worker just ends so.
    pub fn interrupt(&self, run: RunId) {
        let element = self.element;
        let mut outbox = Outbox::new();
        with_runtime(element, |runtime, _| {
            if runtime.drop_pending(element, run) {
                let interrupted = PythonException {
                    type_name: "KeyboardInterrupt".into(),
                    message: String::new(),
                };
                outbox.push((element, done(run, Some(interrupted))));
            } else if let Some((wire, worker)) = runtime.run_of(element) {
                if let Some(client) = runtime.client(worker) {
                    client.interrupt(wire);
                }
            }
        });
        send_later(outbox);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let element = self.element;
        let mut outbox = Outbox::new();
        let mut dropped = Vec::new();
        PAGE.with(|page| {
            let mut page = page.borrow_mut();
            let Some(index) = page
                .runtimes
                .iter()
                .position(|runtime| runtime.is_member(element))
            else {
                return;
            };
            let runtime = &mut page.runtimes[index];
            runtime.members.retain(|(member, _)| *member != element);
            runtime.pending.retain(|pending| pending.element != element);
            if let Some(worker) = runtime.pool.leave(element) {
                // Its code still runs there: only a new Python stops it for sure.
                if let Some(client) =
                    runtime.remove_worker(worker, Some(element), false, &mut outbox)
                {
                    dropped.push(client);
                }
            }
            if runtime.members.is_empty() {
                let runtime = page.runtimes.swap_remove(index);
                dropped.extend(runtime.workers.into_iter().map(|worker| worker.client));
            }
        });
        drop(dropped);
        send_later(outbox);
    }
}

/// Runs `action` on the runtime element `element` belongs to.
fn with_runtime<R>(
    element: InstanceId,
    action: impl FnOnce(&mut Runtime, Start) -> R,
) -> Option<R> {
    PAGE.with(|page| {
        let mut page = page.borrow_mut();
        let start = page.start?;
        let runtime = page
            .runtimes
            .iter_mut()
            .find(|runtime| runtime.is_member(element))?;
        Some(action(runtime, start))
    })
}

fn done(id: RunId, exception: Option<PythonException>) -> RuntimeEvent {
    RuntimeEvent::Worker(FromWorker::Done { id, exception }.into())
}

impl Runtime {
    fn is_member(&self, element: InstanceId) -> bool {
        self.members.iter().any(|(member, _)| *member == element)
    }

    fn client(&self, worker: WorkerId) -> Option<&WorkerClient> {
        self.workers
            .iter()
            .find(|candidate| candidate.id == worker)
            .map(|worker| &worker.client)
    }

    /// The wire id and worker of the element's run in progress.
    fn run_of(&self, element: InstanceId) -> Option<(RunId, WorkerId)> {
        self.runs
            .iter()
            .find(|run| run.element == element)
            .map(|run| (run.wire, run.worker))
    }

    fn drop_pending(&mut self, element: InstanceId, local: RunId) -> bool {
        let before = self.pending.len();
        self.pending
            .retain(|pending| !(pending.element == element && pending.local == local));
        self.pending.len() != before
    }

    /// Starts worker `id`, which the pool already counts; a worker that cannot start leaves the
    /// pool again, so nothing waits for it.
    fn start_worker(&mut self, id: WorkerId, start: Start) -> Result<(), Error> {
        let (client, booted) = start(id, &self.key).inspect_err(|_| {
            self.pool.lost(id, None);
        })?;
        if booted.is_some() {
            self.pool.ready(id, js_sys::Date::now());
        }
        self.workers.push(Worker {
            id,
            client,
            booted,
            archive_announced: false,
            archive_delivered: false,
        });
        self.deliver_archive()
    }

    /// Announces the archive to workers that were not told, and hands them the bytes (or the
    /// download's error) once the page has them.
    fn deliver_archive(&mut self) -> Result<(), Error> {
        let Some(spec) = &self.archive else {
            return Ok(());
        };
        for worker in &mut self.workers {
            if !worker.archive_announced {
                worker
                    .client
                    .send(&ToWorker::Archive { spec: spec.clone() })?;
                worker.archive_announced = true;
            }
            match (&self.archive_bytes, worker.archive_delivered) {
                (Some(Ok(buffer)), false) => worker.client.send_archive(&spec.url, buffer)?,
                (Some(Err(error)), false) => worker.client.send(&ToWorker::ArchiveData {
                    url: spec.url.clone(),
                    error: Some(error.clone()),
                })?,
                _ => continue,
            }
            worker.archive_delivered = true;
        }
        Ok(())
    }

    /// Finds a worker for `run` (the pool decides) and sends it, or keeps it waiting.
    fn request(&mut self, run: Pending, start: Start, outbox: &mut Outbox) -> Result<(), Error> {
        let decision = self
            .pool
            .request(run.element, js_sys::Date::now(), next_worker);
        self.tell_moved(outbox);
        match decision {
            Decision::Run { worker, fresh } => self.dispatch(run, worker, fresh),
            Decision::Spawn { worker } => {
                self.start_worker(worker, start)?;
                self.dispatch(run, worker, true)
            }
            Decision::Wait { .. } => {
                outbox.push((run.element, RuntimeEvent::Queued));
                self.pending.push(run);
                self.watch_stalls();
                Ok(())
            }
        }
    }

    /// Elements whose run left their namespace behind hear so.
    fn tell_moved(&mut self, outbox: &mut Outbox) {
        for element in self.pool.take_moved() {
            outbox.push((element, RuntimeEvent::Moved));
        }
    }

    fn dispatch(&mut self, run: Pending, worker: WorkerId, fresh: bool) -> Result<(), Error> {
        let wire = next_run();
        let mut options = run.options;
        options.fresh_session = fresh;
        self.runs.push(Run {
            wire,
            element: run.element,
            local: run.local,
            worker,
        });
        match self.client(worker) {
            Some(client) => client.send(&ToWorker::Run {
                id: wire,
                code: run.code,
                options,
            }),
            None => Err(Error::NoWorker),
        }
    }

    /// Terminates worker `worker` (returned, to be dropped once nothing is borrowed); tells the
    /// elements whose namespace it held, but for `except`, that it was lost (`retired`, or to a
    /// restart).
    fn remove_worker(
        &mut self,
        worker: WorkerId,
        except: Option<InstanceId>,
        retired: bool,
        outbox: &mut Outbox,
    ) -> Option<WorkerClient> {
        for element in self.pool.lost(worker, except) {
            if self.is_member(element) {
                outbox.push((element, RuntimeEvent::SessionLost { retired }));
            }
        }
        self.runs.retain(|run| run.worker != worker);
        let index = self.workers.iter().position(|w| w.id == worker)?;
        Some(self.workers.swap_remove(index).client)
    }
}
