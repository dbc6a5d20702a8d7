//! Where a runtime's worker events go: to the element whose run they belong to (with its own run
//! id), to every element waiting for the runtime's Python, or to the next run waiting for a
//! worker (the rest of the runtimes is in `runtimes.rs`).

use python_runner_protocol::{ErrorPayload, FromWorker, WaitReason};

use super::{send_later, upkeep, Outbox, Run, Runtime, RuntimeEvent, Start, PAGE};
use crate::machine::Booted;
use crate::pool::{Decision, WorkerId, RETIRE_AFTER_MS};
use crate::worker_client::{WorkerClient, WorkerEvent};
use crate::InstanceId;

/// An event from worker `worker` of some runtime.
pub fn on_worker_event(worker: WorkerId, event: WorkerEvent) {
    let mut outbox = Outbox::new();
    let mut dropped = None;
    PAGE.with(|page| {
        let mut page = page.borrow_mut();
        let Some(start) = page.start else {
            return;
        };
        let Some(runtime) = page
            .runtimes
            .iter_mut()
            .find(|runtime| runtime.workers.iter().any(|w| w.id == worker))
        else {
            return;
        };
        dropped = runtime.on_event(worker, event, start, &mut outbox);
        runtime.watch_stalls();
    });
    drop(dropped);
    send_later(outbox);
}

impl Runtime {
    /// Routes one event of worker `worker`; returns a worker to drop.
    fn on_event(
        &mut self,
        worker: WorkerId,
        event: WorkerEvent,
        start: Start,
        outbox: &mut Outbox,
    ) -> Option<WorkerClient> {
        let (mut message, attachment) = match event {
            // Python could not start there.
            failed @ WorkerEvent::Message(FromWorker::Failed { id: None, .. }, _) => {
                return self.broke(worker, failed, start, outbox);
            }
            WorkerEvent::Message(message, attachment) => (message, attachment),
            crashed @ WorkerEvent::Crashed(_) => return self.broke(worker, crashed, start, outbox),
        };
        // A run's message: to its element, with the element's own run id.
        if let FromWorker::Output { id, .. }
        | FromWorker::Waiting { id, .. }
        | FromWorker::Done { id, .. }
        | FromWorker::Failed { id: Some(id), .. } = &mut message
        {
            let wire = *id;
            let run = self
                .runs
                .iter()
                .position(|run| run.wire == wire && run.worker == worker);
            let finished = matches!(message, FromWorker::Done { .. });
            if let FromWorker::Waiting { reason, .. } = &message {
                // Held by the reader or the clock: runs waiting for a worker need another one.
                self.pool.blocked(worker, *reason != WaitReason::Drain);
            }
            if let Some(index) = run {
                let Run { element, local, .. } = self.runs[index];
                if finished {
                    self.runs.swap_remove(index);
                }
                if let FromWorker::Output { id, .. }
                | FromWorker::Waiting { id, .. }
                | FromWorker::Done { id, .. }
                | FromWorker::Failed { id: Some(id), .. } = &mut message
                {
                    *id = local;
                }
                let event = WorkerEvent::Message(message, attachment);
                outbox.push((element, RuntimeEvent::Worker(event)));
            }
            if finished {
                self.next_run(worker, start, outbox);
            }
            return None;
        }
        if let Some(booted) = Booted::of(&message) {
            self.ready(worker, booted, outbox);
        } else if let FromWorker::ArchiveFailed { error } = message {
            self.archive_failed(&error, outbox);
        } else if let FromWorker::Loading { .. } = message {
            // The runtime's first worker speaks for its start: the elements still waiting hear it.
            if self.workers.first().is_some_and(|w| w.id == worker) {
                for (member, ready) in &self.members {
                    if !ready {
                        outbox.push((*member, RuntimeEvent::Worker(message.clone().into())));
                    }
                }
            }
        }
        None
    }

    /// Worker `worker` loaded Python: every element waiting for the runtime hears so.
    fn ready(&mut self, worker: WorkerId, booted: Booted, outbox: &mut Outbox) {
        self.pool.ready(worker, js_sys::Date::now());
        if !booted.warm {
            crate::snapshot::after_full_start(&self.key.kind);
        }
        for (member, ready) in &mut self.members {
            if !std::mem::replace(ready, true) {
                outbox.push((*member, RuntimeEvent::Worker(booted.message().into())));
            }
        }
        if let Some(w) = self.workers.iter_mut().find(|w| w.id == worker) {
            w.booted = Some(booted);
        }
    }

    /// Every worker reports the archive's failure; the elements hear it once.
    fn archive_failed(&mut self, error: &ErrorPayload, outbox: &mut Outbox) {
        if std::mem::replace(&mut self.archive_failure_told, true) {
            return;
        }
        for (member, _) in &self.members {
            let failed = FromWorker::ArchiveFailed {
                error: error.clone(),
            };
            outbox.push((*member, RuntimeEvent::Worker(failed.into())));
        }
    }

    /// The first run waiting for a worker goes to `worker`, which just finished one.
    fn next_run(&mut self, worker: WorkerId, start: Start, outbox: &mut Outbox) {
        let Some((next, decision)) = self.pool.finished(worker, js_sys::Date::now()) else {
            if self.pool.workers() > 1 {
                upkeep::retire_later(RETIRE_AFTER_MS);
            }
            return;
        };
        self.dispatch_waiting(next, decision, start, outbox);
    }

    /// Carries out the pool's `decision` for the run of element `next` that waited for a worker.
    pub(super) fn dispatch_waiting(
        &mut self,
        next: InstanceId,
        decision: Decision,
        start: Start,
        outbox: &mut Outbox,
    ) {
        self.tell_moved(outbox);
        let Some(index) = self.pending.iter().position(|p| p.element == next) else {
            return;
        };
        let run = self.pending.swap_remove(index);
        outbox.push((next, RuntimeEvent::Dispatched));
        let sent = match decision {
            Decision::Run { worker, fresh } => self.dispatch(run, worker, fresh),
            Decision::Spawn { worker } => self
                .start_worker(worker, start)
                .and_then(|()| self.dispatch(run, worker, true)),
            Decision::Wait { .. } => Ok(()),
        };
        if let Err(error) = sent {
            outbox.push((
                next,
                RuntimeEvent::Worker(WorkerEvent::Crashed(error.to_string())),
            ));
        }
    }

    /// Python broke in `worker` (it could not start, or its worker died): `event` goes to the
    /// element running there and, unless another worker is ready, to every element waiting
    /// for the runtime's Python; the namespaces it held are lost. Returns the worker to drop.
    fn broke(
        &mut self,
        worker: WorkerId,
        event: WorkerEvent,
        start: Start,
        outbox: &mut Outbox,
    ) -> Option<WorkerClient> {
        let mut told: Vec<InstanceId> = self
            .runs
            .iter()
            .filter(|run| run.worker == worker)
            .map(|run| run.element)
            .collect();
        if self
            .workers
            .iter()
            .all(|w| w.id == worker || w.booted.is_none())
        {
            for (member, ready) in &self.members {
                if !ready && !told.contains(member) {
                    told.push(*member);
                }
            }
        }
        let removed = self.remove_worker(worker, None, false, outbox);
        // Runs that waited for the lost worker ask the pool again.
        let waiting = self.pool.take_queue();
        for element in waiting {
            if let Some(index) = self.pending.iter().position(|p| p.element == element) {
                let run = self.pending.remove(index);
                outbox.push((element, RuntimeEvent::Dispatched));
                if let Err(error) = self.request(run, start, outbox) {
                    outbox.push((
                        element,
                        RuntimeEvent::Worker(WorkerEvent::Crashed(error.to_string())),
                    ));
                }
            }
        }
        for element in told {
            outbox.push((element, RuntimeEvent::Worker(event.clone())));
        }
        removed
    }
}
