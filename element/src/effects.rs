//! Feeds inputs to an instance's state machine and carries out the [`Effect`]s it returns:
//! DOM updates, worker messages, timers, the archive's delivery and DOM events.

use python_runner_protocol::{FromWorker, ToWorker};
use wasm_bindgen::JsValue;

use crate::archive;
use crate::attributes;
use crate::error::{BrowserError, Error};
use crate::events;
use crate::input::{self, Request};
use crate::instances::{self, Instance};
use crate::machine::{Booted, Effect, ElementEvent, STOP_GRACE_MS};
use crate::pool::{RuntimeKey, WorkerId, WorkerKind};
use crate::runtimes::{self, Lease, RuntimeEvent};
use crate::timers::{delay, next_frame};
use crate::viewport;
use crate::worker_client::{choose_transport, WorkerEvent};
use crate::workers;
use crate::InstanceId;

/// Feeds one input to instance `id`'s machine and carries out the effects. Events are
/// dispatched from a microtask, after every borrow and every `custom-elements` lock is released.
pub fn update(id: InstanceId, input: impl FnOnce(&mut Instance) -> Vec<Effect>) {
    let mut events = Vec::new();
    let host = instances::with(id, |instance| {
        let mut effects = input(instance);
        while !effects.is_empty() {
            let mut follow_up = Vec::new();
            for effect in effects {
                follow_up.extend(apply(id, instance, effect, &mut events));
            }
            effects = follow_up;
        }
        instance.host.clone()
    });
    if let (Some(host), false) = (host, events.is_empty()) {
        wasm_bindgen_futures::spawn_local(async move {
            for event in &events {
                events::dispatch(&host, event);
            }
        });
    }
}

/// Carries out one effect; returns the machine's answer to what happened, if any.
fn apply(
    id: InstanceId,
    instance: &mut Instance,
    effect: Effect,
    events: &mut Vec<ElementEvent>,
) -> Vec<Effect> {
    let result = match effect {
        Effect::SpawnWorker => return spawn_worker(id, instance),
        Effect::WatchViewport => {
            viewport::watch(id, &instance.host, |id| {
                update(id, |instance| instance.machine.came_near());
            });
            Ok(())
        }
        Effect::AnnounceArchive => return announce_archive(id, instance),
        Effect::WarmSpare => {
            if let Some(worker) = &instance.worker {
                workers::refill_spare(
                    worker.kind().clone(),
                    runtimes::on_worker_event,
                    spare_wanted,
                );
            }
            Ok(())
        }
        Effect::ShowQueued(queued) => {
            instance.view.status.set_queued(queued);
            Ok(())
        }
        Effect::ShowDiagnostics(text) => {
            instance.view.set_diagnostics(&text);
            Ok(())
        }
        Effect::ShowInput { .. } => instance
            .view
            .show_input(move |event| on_input_event(id, &event)),
        Effect::HideInput => {
            instance.view.hide_input();
            Ok(())
        }
        Effect::SendReply { seq, reply } => {
            return to_worker(instance, |worker| worker.reply(seq, &reply));
        }
        // Without a worker there is nothing to cancel.
        Effect::CancelRun { .. } if instance.worker.is_none() => Ok(()),
        Effect::CancelRun { run } => {
            return to_worker(instance, |worker| {
                worker.send(&ToWorker::Cancel { id: run })
            });
        }
        Effect::Interrupt { run } => {
            if let Some(worker) = &instance.worker {
                worker.interrupt(run);
            }
            Ok(())
        }
        Effect::StartStopTimer { run } => {
            wasm_bindgen_futures::spawn_local(async move {
                delay(STOP_GRACE_MS).await;
                update(id, |instance| instance.machine.stop_grace_over(run));
            });
            Ok(())
        }
        Effect::TerminateWorker => {
            instance.worker = None;
            Ok(())
        }
        Effect::SendRun { id: run_id, code } => {
            let mut options = attributes::run_options(&instance.host);
            // The element's own `__main__`, wherever its code runs.
            options.session = ["e", &id.to_string()].concat();
            let message = ToWorker::Run {
                id: run_id,
                code,
                options,
            };
            return to_worker(instance, |worker| worker.send(&message));
        }
        Effect::ClearOutput => {
            instance.view.clear_output();
            Ok(())
        }
        Effect::AppendOutput(parts) => {
            let attachment = std::mem::replace(&mut instance.attachment, JsValue::UNDEFINED);
            let first_change = instance.view.append(&parts, attachment);
            schedule_render(id, instance, first_change);
            Ok(())
        }
        Effect::ShowError(message) => {
            let first_change = instance.view.show_error(&message);
            schedule_render(id, instance, first_change);
            Ok(())
        }
        Effect::SetStatus(status) => {
            instance
                .view
                .set_status(status, instance.machine.python_available());
            instance
                .host
                .set_attribute("state", status.as_str())
                .map_err(BrowserError::from)
        }
        Effect::Dispatch(event) => {
            events.push(event);
            Ok(())
        }
    };
    if let Err(error) = result {
        error.log("update the element");
    }
    Vec::new()
}

/// Hands the instance's worker a message with `send`; a worker that cannot take it (or is
/// missing) has crashed, and the machine hears so.
fn to_worker(
    instance: &mut Instance,
    send: impl FnOnce(&Lease) -> Result<(), Error>,
) -> Vec<Effect> {
    let sent = instance.worker.as_ref().map_or(Err(Error::NoWorker), send);
    match sent {
        Ok(()) => Vec::new(),
        Err(error) => instance.machine.worker_crashed(&error.to_string()),
    }
}

/// Gives the element its share of its runtime (the workers of the elements it shares Python with).
fn spawn_worker(id: InstanceId, instance: &mut Instance) -> Vec<Effect> {
    let attached = attributes::pyodide_url(&instance.host).and_then(|pyodide_url| {
        let key = RuntimeKey {
            kind: WorkerKind {
                pyodide_url,
                transport: choose_transport(attributes::preferred_transport(&instance.host)),
                snapshot: attributes::snapshot(&instance.host),
            },
            group: attributes::group(&instance.host, id),
            archive: attributes::archive_identity(&instance.host),
        };
        runtimes::attach(id, key)
    });
    match attached {
        Ok((lease, booted)) => {
            instance.worker = Some(lease);
            instance.machine.worker_spawned(booted)
        }
        Err(error) => instance.machine.worker_crashed(&error.to_string()),
    }
}

/// Starts worker `worker` of the runtime `key` (the spare if one matches).
pub fn start_worker(
    worker: WorkerId,
    key: &RuntimeKey,
) -> Result<(crate::worker_client::WorkerClient, Option<Booted>), Error> {
    workers::start(
        worker,
        key.kind.clone(),
        runtimes::on_worker_event,
        spare_wanted,
    )
}

/// A spare starts once no Python of the page is loading, and only while the page has elements.
fn spare_wanted() -> Option<bool> {
    instances::any_live().then(|| !runtimes::any_booting())
}

/// Shows new output: at once if the log was last rendered more than a frame ago (output that
/// trickles in appears without delay), else at the next animation frame, or earlier when the
/// status changes (a flood of output updates the DOM once per frame). `first_change` says the
/// log was in step with the DOM before this change; otherwise a render is already due.
fn schedule_render(id: InstanceId, instance: &mut Instance, first_change: bool) {
    if !first_change {
        return;
    }
    if instance.view.rendered_within_a_frame() {
        wasm_bindgen_futures::spawn_local(async move {
            next_frame().await;
            instances::with(id, |instance| instance.view.render());
        });
    } else {
        instance.view.render();
    }
}

fn on_input_event(id: InstanceId, event: &web_sys::Event) {
    match input::read(event) {
        Some(Request::Submit { pasted }) => {
            update(id, |instance| match instance.view.input_value() {
                Some(typed) => instance.machine.input_submitted(typed + &pasted),
                None => Vec::new(),
            });
        }
        Some(Request::Stop) => update(id, |instance| instance.machine.stop_requested()),
        None => {}
    }
}

/// Tells the (new) worker that an archive is coming and delivers it once the page has it
/// (downloaded once per page and URL, checked against `integrity`).
fn announce_archive(id: InstanceId, instance: &mut Instance) -> Vec<Effect> {
    let source = match attributes::archive(&instance.host) {
        Ok(Some(source)) => source,
        Ok(None) => return instance.machine.archive_downloaded(),
        Err(error) => return instance.machine.archive_failed(error.to_string()),
    };
    let url = source.spec.url.clone();
    let Some(worker) = &instance.worker else {
        // The worker could not start; Run starts another, which announces the archive again.
        return Vec::new();
    };
    if let Err(error) = worker.send(&ToWorker::Archive { spec: source.spec }) {
        return instance.machine.worker_crashed(&error.to_string());
    }
    instance.archive_url = Some(url.clone());
    wasm_bindgen_futures::spawn_local(async move {
        let mut result = archive::bytes(&url, archive_progress).await;
        if let (Ok(buffer), Some(integrity)) = (&result, &source.integrity) {
            if let Err(error) = archive::check_integrity(&url, buffer, integrity).await {
                result = Err(error);
            }
        }
        update(id, |instance| deliver_archive(instance, &url, result));
    });
    Vec::new()
}

fn deliver_archive(
    instance: &mut Instance,
    url: &str,
    result: Result<js_sys::ArrayBuffer, Error>,
) -> Vec<Effect> {
    if instance.archive_url.take().is_some() {
        instance.view.status.archive_progress(None);
    }
    let Some(worker) = &instance.worker else {
        return Vec::new();
    };
    let sent = match &result {
        Ok(buffer) => worker.send_archive(url, buffer),
        Err(error) => worker.send(&ToWorker::ArchiveData {
            url: url.into(),
            error: Some(error.to_string()),
        }),
    };
    match (result, sent) {
        (_, Err(error)) => instance.machine.worker_crashed(&error.to_string()),
        (Err(error), Ok(())) => instance.machine.archive_failed(error.to_string()),
        (Ok(_), Ok(())) => instance.machine.archive_downloaded(),
    }
}

/// Download progress of the archive at `url`, shown by every element waiting for it.
fn archive_progress(url: &str, received: u64, total: Option<u64>) {
    let name = url
        .split(['?', '#'])
        .next()
        .and_then(|path| path.rsplit('/').next())
        .unwrap_or(url);
    let text = archive::describe_progress(name, received, total);
    instances::for_each(|instance| {
        if instance.archive_url.as_deref() == Some(url) {
            let progress = (text.clone(), received, total.unwrap_or(received));
            instance.view.status.archive_progress(Some(progress));
        }
    });
}

/// Routes an event of element `id`'s runtime to its machine.
pub fn on_runtime_event(id: InstanceId, event: RuntimeEvent) {
    update(id, |instance| {
        let machine = &mut instance.machine;
        let event = match event {
            RuntimeEvent::Worker(event) => event,
            RuntimeEvent::SessionLost { retired } => {
                machine.session_lost(retired);
                return Vec::new();
            }
            RuntimeEvent::Moved => return machine.moved(),
            RuntimeEvent::Queued => return machine.queued(true),
            RuntimeEvent::Dispatched => return machine.queued(false),
        };
        match event {
            WorkerEvent::Message(ready @ FromWorker::Ready { .. }, _) => {
                Booted::of(&ready).map_or_else(Vec::new, |booted| machine.worker_ready(booted))
            }
            // Only the snapshot worker says this, and no element listens to it.
            WorkerEvent::Message(FromWorker::SnapshotMade { .. }, _) => Vec::new(),
            WorkerEvent::Message(FromWorker::Loading { received, total }, _) => {
                // Whole bytes, far below 2^53: the casts are exact.
                let (received, total) = (received as u64, total as u64);
                instance.view.status.python_progress(received, total);
                Vec::new()
            }
            WorkerEvent::Message(FromWorker::Output { id, parts }, attachment) => {
                instance.attachment = attachment;
                machine.worker_output(id, parts)
            }
            WorkerEvent::Message(FromWorker::Waiting { id, seq, reason }, _) => {
                machine.worker_waiting(id, seq, reason)
            }
            WorkerEvent::Message(FromWorker::ArchiveFailed { error }, _) => {
                machine.archive_failed(error.message)
            }
            WorkerEvent::Message(FromWorker::Done { id, exception }, _) => {
                machine.worker_done(id, exception)
            }
            WorkerEvent::Message(FromWorker::Failed { id, error }, _) => {
                machine.worker_failed(id, error)
            }
            WorkerEvent::Crashed(reason) => machine.worker_crashed(&reason),
        }
    });
}
