//! The per-element state machine: what the element does when it is connected, gets its code,
//! is asked to run, or hears from its worker.
//!
//! Plain Rust with no JS types, unit-tested natively. `effects.rs` feeds it inputs and
//! carries out the [`Effect`]s it returns (DOM updates in `view.rs`, messages in `worker_client.rs`).
//! Every decision lives here: when to run, stop, restart, announce the archive, warm the spare,
//! and whether a worker speaks our protocol.

use python_runner_protocol::{ErrorKind, Reply, RunId, Transport, WaitReason, WaitSeq};

mod from_worker;

pub use crate::effect::{
    diagnostics, Booted, Effect, ElementEvent, Status, CANCELLED_NOTICE, DEQUEUED_NOTICE,
    MOVED_NOTICE, RESTARTED_NOTICE, RETIRED_NOTICE, SESSION_LOST_NOTICE, STOP_GRACE_MS,
    STUCK_NOTICE,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WorkerPhase {
    Absent,
    Booting,
    Ready,
    Failed,
}

/// State of one `<python-runner>`.
#[derive(Debug)]
pub struct Machine {
    status: Status,
    worker: WorkerPhase,
    connected: bool,
    code: Option<String>,
    manual: bool,
    /// Python starts when the element comes near the viewport (`loading="lazy"`, the default).
    lazy: bool,
    run_requested: bool,
    current_run: Option<RunId>,
    next_run_id: RunId,
    has_run: bool,
    transport: Transport,
    waiting: Option<(WaitSeq, WaitReason)>,
    stopping: Option<RunId>,
    archive_failed: bool,
    has_archive: bool,
    archive_pending: bool,
    /// The namespace of earlier runs was lost (another element's restart, or its Python retired):
    /// the next run says so with this notice.
    session_lost: Option<&'static str>,
    /// The run in progress waits for a free Python of its runtime.
    queued: bool,
}

impl Default for Machine {
    fn default() -> Self {
        Self {
            status: Status::Idle,
            worker: WorkerPhase::Absent,
            connected: false,
            code: None,
            manual: false,
            lazy: false,
            run_requested: false,
            current_run: None,
            next_run_id: 1,
            has_run: false,
            transport: Transport::None,
            waiting: None,
            stopping: None,
            archive_failed: false,
            has_archive: false,
            archive_pending: false,
            session_lost: None,
            queued: false,
        }
    }
}

impl Machine {
    /// The current status.
    pub fn status(&self) -> Status {
        self.status
    }

    /// The transport of the current worker ([`Transport::None`] until it is ready).
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether Python started (or is starting): false once its worker failed.
    pub fn python_available(&self) -> bool {
        self.worker != WorkerPhase::Failed
    }

    /// Whether the input field is up (Python waits for a line).
    pub fn awaiting_input(&self) -> bool {
        matches!(self.waiting, Some((_, WaitReason::Input)))
    }

    /// The code, once known.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The element was connected to a document (`has_archive`: it names a `src`). An eager
    /// element's worker starts at once, before the code is known, so Pyodide loads while the page
    /// is still parsing; a lazy one's when it comes near the viewport ([`Machine::came_near`]),
    /// or when it is asked to run.
    pub fn connected(&mut self, manual: bool, has_archive: bool) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.connected = true;
        self.manual = manual;
        self.has_archive = has_archive;
        if self.worker == WorkerPhase::Absent {
            if self.lazy {
                effects.push(Effect::WatchViewport);
            } else {
                self.worker = WorkerPhase::Booting;
                self.spawn(&mut effects);
            }
        }
        // Moving an element (disconnect + connect in one task) must not run its code again.
        if !manual && !self.has_run && self.current_run.is_none() {
            self.run_requested = true;
        }
        self.settle(&mut effects);
        effects
    }

    /// The code is known (read from the element, or set through the `code` property).
    /// A non-`manual` element runs new code when it is connected.
    pub fn code_changed(&mut self, code: String) -> Vec<Effect> {
        let mut effects = Vec::new();
        let changed = self.code.as_deref() != Some(code.as_str());
        self.code = Some(code);
        if changed && self.has_run && !self.manual {
            self.run_requested = true;
        }
        self.settle(&mut effects);
        effects
    }

    /// The reader edited the code (`editable`): the next run runs the new code; nothing runs now.
    pub fn code_edited(&mut self, code: String) {
        self.code = Some(code);
    }

    /// The `manual` attribute changed.
    pub fn set_manual(&mut self, manual: bool) {
        self.manual = manual;
    }

    /// Whether Python waits until the element comes near the viewport (`loading`, read when the
    /// element connects).
    pub fn set_lazy(&mut self, lazy: bool) {
        self.lazy = lazy;
    }

    /// The element came near the viewport: its Python starts (and its archive downloads), and
    /// its code runs once Python is ready unless it is `manual`.
    pub fn came_near(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.connected && self.worker == WorkerPhase::Absent {
            self.worker = WorkerPhase::Booting;
            self.spawn(&mut effects);
        }
        self.settle(&mut effects);
        effects
    }

    /// The worker that held this element's namespace was replaced to stop another element's
    /// program, or `retired` unused: the next run says that earlier variables are gone.
    pub fn session_lost(&mut self, retired: bool) {
        let notice = if retired {
            RETIRED_NOTICE
        } else {
            SESSION_LOST_NOTICE
        };
        self.session_lost = self.has_run.then_some(notice);
    }

    /// The run in progress went to another worker than the one holding this element's
    /// namespace (that one was busy with another element's program): it starts fresh, and says
    /// so if earlier runs left variables.
    pub fn moved(&mut self) -> Vec<Effect> {
        if self.has_run && self.current_run.is_some() {
            return vec![Effect::notice(MOVED_NOTICE)];
        }
        Vec::new()
    }

    /// The run in progress waits for a free Python (`true`), or got one (`false`).
    pub fn queued(&mut self, queued: bool) -> Vec<Effect> {
        if self.current_run.is_none() && queued {
            return Vec::new();
        }
        self.queued = queued && self.current_run.is_some();
        let mut effects = vec![Effect::ShowQueued(queued)];
        if !queued && self.current_run.is_some() && self.stopping == self.current_run {
            // Stop came while the run waited, but a worker took it before the cancel arrived:
            // stop it there.
            self.stopping = None;
            self.stop(&mut effects);
        }
        effects
    }

    /// Run was clicked (or `run()` called). A failed worker is replaced first; a run in
    /// progress is stopped first, and the code runs again once it has ended.
    pub fn run_requested(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.run_requested = true;
        self.archive_failed = false;
        if self.current_run.is_some() {
            self.stop(&mut effects);
            return effects;
        }
        if self.connected && matches!(self.worker, WorkerPhase::Absent | WorkerPhase::Failed) {
            self.worker = WorkerPhase::Booting;
            effects.push(Effect::ClearOutput);
            self.spawn(&mut effects);
        }
        self.settle(&mut effects);
        effects
    }

    /// The worker asked for by [`Effect::SpawnWorker`] exists; `booted` if it is a spare that has
    /// already loaded Python.
    pub fn worker_spawned(&mut self, booted: Option<Booted>) -> Vec<Effect> {
        match booted {
            Some(booted) => self.worker_ready(booted),
            None => Vec::new(),
        }
    }

    /// The page has the archive and delivered it to the worker: code running with it may now
    /// share the machine with a warming spare.
    pub fn archive_downloaded(&mut self) -> Vec<Effect> {
        let was_pending = std::mem::take(&mut self.archive_pending);
        if was_pending && self.status == Status::Running {
            return vec![Effect::WarmSpare];
        }
        Vec::new()
    }

    /// The author's archive could not be downloaded, verified or unpacked: the run waiting for it
    /// is dropped, and the element shows why and waits for Run (which runs without the archive).
    pub fn archive_failed(&mut self, message: String) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.archive_pending = false;
        self.current_run = None;
        self.run_requested = false;
        self.archive_failed = true;
        effects.push(Effect::ShowError(message.clone()));
        effects.push(Effect::Dispatch(ElementEvent::Error {
            kind: ErrorKind::Archive,
            message,
        }));
        self.settle(&mut effects);
        effects
    }

    /// Stop was clicked (or `stop()` called, or Ctrl+C pressed in the input field).
    pub fn stop_requested(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.stop(&mut effects);
        effects
    }

    /// [`STOP_GRACE_MS`] have passed since Stop asked run `run` to stop.
    pub fn stop_grace_over(&mut self, run: RunId) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.current_run == Some(run) && self.stopping == Some(run) {
            self.restart(STUCK_NOTICE, &mut effects);
        }
        effects
    }

    /// The element left the document: its worker is terminated.
    pub fn disconnected(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.connected = false;
        self.run_requested = false;
        self.current_run = None;
        self.stopping = None;
        self.end_waiting(&mut effects);
        if self.worker != WorkerPhase::Absent {
            self.worker = WorkerPhase::Absent;
            effects.push(Effect::TerminateWorker);
        }
        self.settle(&mut effects);
        effects
    }

    fn fail_worker(&mut self, kind: ErrorKind, message: String, effects: &mut Vec<Effect>) {
        self.worker = WorkerPhase::Failed;
        self.current_run = None;
        self.run_requested = false;
        self.stopping = None;
        self.end_waiting(effects);
        effects.push(Effect::TerminateWorker);
        effects.push(Effect::ShowError(message.clone()));
        effects.push(Effect::Dispatch(ElementEvent::Error { kind, message }));
        self.settle(effects);
    }

    /// Stops the run in progress the quickest way the transport allows: `KeyboardInterrupt`
    /// where Python can be interrupted (any time with Atomics; while waiting with JSPI), with a
    /// grace period before the worker is replaced; replacing the worker at once otherwise.
    fn stop(&mut self, effects: &mut Vec<Effect>) {
        let Some(run) = self.current_run else {
            return;
        };
        if self.stopping == Some(run) {
            return; // Already stopping; the grace timer escalates if needed.
        }
        let ready = self.worker == WorkerPhase::Ready;
        if self.worker == WorkerPhase::Booting || self.queued {
            // The run waits in the worker for Python, or for a free worker: drop it there; no
            // restart, no lost load.
            self.stopping = Some(run);
            effects.push(Effect::CancelRun { run });
            return;
        }
        match (self.transport, self.waiting) {
            (Transport::Atomics, _) if ready => {
                effects.push(Effect::Interrupt { run });
            }
            (Transport::Jspi | Transport::ServiceWorker, Some((seq, _))) if ready => {
                effects.push(Effect::SendReply {
                    seq,
                    reply: Reply::Interrupted,
                });
            }
            _ => {
                self.restart(RESTARTED_NOTICE, effects);
                return;
            }
        }
        self.stopping = Some(run);
        self.end_waiting(effects);
        effects.push(Effect::StartStopTimer { run });
    }

    /// Replaces the worker to end the run in progress, with `notice` in the output.
    fn restart(&mut self, notice_text: &str, effects: &mut Vec<Effect>) {
        let stopped = self.current_run.take().is_some();
        self.stopping = None;
        self.end_waiting(effects);
        effects.push(Effect::notice(notice_text));
        effects.push(Effect::TerminateWorker);
        self.worker = WorkerPhase::Booting;
        self.transport = Transport::None;
        self.spawn(effects);
        if stopped {
            self.has_run = true;
            effects.push(Effect::Dispatch(ElementEvent::Done {
                exception: None,
                stopped: true,
            }));
        }
        self.settle(effects);
    }

    /// Asks for a new worker. The archive is announced right after it, before any run reaches
    /// the worker, so the worker holds runs until the archive is unpacked.
    fn spawn(&mut self, effects: &mut Vec<Effect>) {
        effects.push(Effect::SpawnWorker);
        if self.has_archive {
            self.archive_pending = true;
            effects.push(Effect::AnnounceArchive);
        }
    }

    fn end_waiting(&mut self, effects: &mut Vec<Effect>) {
        if self.waiting.take().is_some() {
            effects.push(Effect::HideInput);
        }
    }

    /// Starts a requested run when everything is in place, and recomputes the status.
    fn settle(&mut self, effects: &mut Vec<Effect>) {
        if self.queued && self.current_run.is_none() {
            self.queued = false;
            effects.push(Effect::ShowQueued(false));
        }
        // A run is sent while the worker still boots: the worker queues it, so the code runs
        // the moment Python is ready, without a round trip through the page.
        if self.run_requested
            && self.connected
            && matches!(self.worker, WorkerPhase::Booting | WorkerPhase::Ready)
            && self.current_run.is_none()
        {
            if let Some(code) = self.code.clone() {
                let id = self.next_run_id;
                self.next_run_id += 1;
                self.current_run = Some(id);
                self.run_requested = false;
                effects.push(Effect::ClearOutput);
                if let Some(notice) = self.session_lost.take() {
                    effects.push(Effect::notice(notice));
                }
                effects.push(Effect::SendRun { id, code });
            }
        }
        let status = if !self.connected {
            Status::Idle
        } else if self.current_run.is_some() && self.worker == WorkerPhase::Ready {
            Status::Running
        } else {
            match self.worker {
                _ if self.archive_failed => Status::Error,
                // Connected without a worker: lazy, waiting to come near the viewport.
                WorkerPhase::Absent => Status::Idle,
                WorkerPhase::Booting => Status::Loading,
                WorkerPhase::Failed => Status::Error,
                WorkerPhase::Ready if self.run_requested => Status::Loading,
                WorkerPhase::Ready if self.has_run => Status::Done,
                WorkerPhase::Ready => Status::Ready,
            }
        };
        if status != self.status {
            self.status = status;
            effects.push(Effect::SetStatus(status));
            // Code runs in a ready worker: a spare warms up for the next Stop that needs a fresh
            // Python (so a page whose code never runs pays nothing, and the spare never competes
            // with the page's first Pyodide load). Code waiting for its archive would compete
            // with unpacking: the spare warms when the archive has been delivered.
            if status == Status::Running && !self.archive_pending {
                effects.push(Effect::WarmSpare);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use python_runner_protocol::sync::Layout;
    use python_runner_protocol::{
        ErrorPayload, OutputPart, PartKind, PythonException, PROTOCOL_VERSION,
    };

    /// A connected element whose worker is ready and whose run 1 of `code` is in flight.
    fn running(code: &str) -> Machine {
        let mut machine = Machine::default();
        machine.connected(false, false);
        machine.code_changed(code.into());
        machine.worker_ready(booted("v", Transport::Atomics));
        machine
    }

    fn exception(type_name: &str, message: &str) -> PythonException {
        PythonException {
            type_name: type_name.into(),
            message: message.into(),
        }
    }

    fn booted(version: &str, transport: Transport) -> Booted {
        Booted {
            protocol: PROTOCOL_VERSION,
            pyodide_version: version.into(),
            transport,
            warm: false,
        }
    }

    fn part(kind: PartKind, text: &str) -> OutputPart {
        OutputPart::new(kind, text)
    }

    fn lazy() -> Machine {
        let mut machine = Machine::default();
        machine.set_lazy(true);
        machine
    }

    #[test]
    fn a_lazy_element_starts_python_when_it_comes_near_the_viewport() {
        let mut machine = lazy();
        assert_eq!(machine.connected(false, true), vec![Effect::WatchViewport]);
        assert_eq!(machine.code_changed("print(1)".into()), vec![]);
        assert_eq!(machine.status(), Status::Idle);
        // Python starts, the archive downloads, and the code runs once Python is ready.
        assert_eq!(
            machine.came_near(),
            vec![
                Effect::SpawnWorker,
                Effect::AnnounceArchive,
                Effect::ClearOutput,
                Effect::SendRun {
                    id: 1,
                    code: "print(1)".into()
                },
                Effect::SetStatus(Status::Loading),
            ]
        );
        // Coming near again (scrolling back) starts nothing more.
        assert_eq!(machine.came_near(), vec![]);
    }

    #[test]
    fn a_lazy_element_asked_to_run_starts_at_once() {
        let mut machine = lazy();
        machine.connected(true, false);
        machine.code_changed("print(1)".into());
        assert_eq!(
            machine.run_requested(),
            vec![
                Effect::ClearOutput,
                Effect::SpawnWorker,
                Effect::ClearOutput,
                Effect::SendRun {
                    id: 1,
                    code: "print(1)".into()
                },
                Effect::SetStatus(Status::Loading),
            ]
        );
        assert_eq!(machine.came_near(), vec![]);
    }

    #[test]
    fn a_lazy_element_that_leaves_and_comes_back_waits_for_the_viewport_again() {
        let mut machine = lazy();
        machine.connected(false, false);
        machine.came_near();
        machine.disconnected();
        assert_eq!(machine.connected(false, false), vec![Effect::WatchViewport]);
        assert_eq!(machine.status(), Status::Idle);
    }

    #[test]
    fn a_manual_lazy_element_starts_python_near_the_viewport_but_runs_nothing() {
        let mut machine = lazy();
        machine.connected(true, false);
        machine.code_changed("print(1)".into());
        assert_eq!(
            machine.came_near(),
            vec![Effect::SpawnWorker, Effect::SetStatus(Status::Loading)]
        );
    }

    #[test]
    fn a_run_after_another_elements_restart_says_the_namespace_is_gone() {
        let mut machine = running("x = 1");
        machine.worker_done(1, None);
        machine.session_lost(false);
        assert_eq!(
            machine.run_requested(),
            vec![
                Effect::ClearOutput,
                Effect::notice(SESSION_LOST_NOTICE),
                Effect::SendRun {
                    id: 2,
                    code: "x = 1".into()
                },
                Effect::SetStatus(Status::Running),
                Effect::WarmSpare,
            ]
        );
        // Once.
        machine.worker_done(2, None);
        assert!(!machine
            .run_requested()
            .contains(&Effect::notice(SESSION_LOST_NOTICE)));
    }

    #[test]
    fn a_lost_namespace_says_why_in_the_next_run() {
        let mut machine = running("x = 1");
        machine.worker_done(1, None);
        machine.session_lost(true);
        assert!(machine
            .run_requested()
            .contains(&Effect::notice(RETIRED_NOTICE)));
    }

    #[test]
    fn stop_while_waiting_for_a_free_python_drops_the_run_without_a_restart() {
        for transport in [
            Transport::Atomics,
            Transport::Jspi,
            Transport::ServiceWorker,
        ] {
            let mut machine = Machine::default();
            machine.connected(false, false);
            machine.code_changed("print(1)".into());
            machine.worker_ready(booted("v", transport));
            machine.queued(true);
            assert_eq!(machine.stop_requested(), vec![Effect::CancelRun { run: 1 }]);
            let effects = machine.worker_done(1, None);
            assert_eq!(effects[0], Effect::notice(DEQUEUED_NOTICE), "{transport:?}");
            assert!(effects.contains(&Effect::ShowQueued(false)), "{effects:?}");
            assert!(!effects.contains(&Effect::TerminateWorker), "{effects:?}");
            // The next run is not said to wait.
            let effects = machine.run_requested();
            assert!(!effects.contains(&Effect::ShowQueued(true)), "{effects:?}");
            let effects = machine.worker_done(2, None);
            assert!(
                !effects.contains(&Effect::notice(DEQUEUED_NOTICE)),
                "{effects:?}"
            );
        }
    }

    #[test]
    fn a_run_that_got_a_worker_before_its_cancel_arrived_is_stopped_there() {
        let mut machine = running("while True: pass");
        machine.queued(true);
        assert_eq!(machine.stop_requested(), vec![Effect::CancelRun { run: 1 }]);
        let effects = machine.queued(false);
        assert!(
            effects.contains(&Effect::Interrupt { run: 1 }),
            "{effects:?}"
        );
        assert!(effects.contains(&Effect::StartStopTimer { run: 1 }));
        let effects = machine.worker_done(1, Some(exception("KeyboardInterrupt", "")));
        assert!(
            !effects.contains(&Effect::notice(DEQUEUED_NOTICE)),
            "{effects:?}"
        );
    }

    #[test]
    fn a_run_waiting_for_a_free_python_says_so_until_it_gets_one() {
        let mut machine = running("print(1)");
        assert_eq!(machine.queued(true), vec![Effect::ShowQueued(true)]);
        assert_eq!(machine.queued(false), vec![Effect::ShowQueued(false)]);
        machine.worker_done(1, None);
        assert_eq!(machine.queued(true), vec![]);
    }

    #[test]
    fn runs_once_code_and_worker_are_ready() {
        let mut machine = Machine::default();
        assert_eq!(
            machine.connected(false, false),
            vec![Effect::SpawnWorker, Effect::SetStatus(Status::Loading)]
        );
        // The run is sent at once; the booting worker queues it.
        assert_eq!(
            machine.code_changed("print(1)".into()),
            vec![
                Effect::ClearOutput,
                Effect::SendRun {
                    id: 1,
                    code: "print(1)".into()
                },
            ]
        );
        assert_eq!(machine.status(), Status::Loading);
        assert_eq!(
            machine.worker_ready(booted("314.0.7", Transport::Atomics)),
            vec![
                Effect::ShowDiagnostics(diagnostics("314.0.7", Transport::Atomics)),
                Effect::Dispatch(ElementEvent::Ready {
                    pyodide_version: "314.0.7".into(),
                    warm: false,
                }),
                Effect::SetStatus(Status::Running),
                Effect::WarmSpare,
            ]
        );
        let parts = vec![part(PartKind::Stdout, "1\n")];
        assert_eq!(
            machine.worker_output(1, parts.clone()),
            vec![
                Effect::AppendOutput(parts.clone()),
                Effect::Dispatch(ElementEvent::Output { parts })
            ]
        );
        assert_eq!(
            machine.worker_done(1, None),
            vec![
                Effect::Dispatch(ElementEvent::Done {
                    exception: None,
                    stopped: false
                }),
                Effect::SetStatus(Status::Done),
            ]
        );
    }

    #[test]
    fn worker_ready_before_code_waits_for_code() {
        let mut machine = Machine::default();
        machine.connected(false, false);
        machine.worker_ready(booted("v", Transport::Atomics));
        assert_eq!(machine.status(), Status::Loading);
        let effects = machine.code_changed("x = 1".into());
        assert_eq!(
            effects,
            vec![
                Effect::ClearOutput,
                Effect::SendRun {
                    id: 1,
                    code: "x = 1".into()
                },
                Effect::SetStatus(Status::Running),
                Effect::WarmSpare,
            ]
        );
    }

    #[test]
    fn manual_waits_for_run_and_run_again_uses_a_new_id() {
        let mut machine = Machine::default();
        machine.connected(true, false);
        machine.code_changed("print(2)".into());
        machine.worker_ready(booted("v", Transport::Atomics));
        assert_eq!(machine.status(), Status::Ready);
        let effects = machine.run_requested();
        assert!(effects.contains(&Effect::SendRun {
            id: 1,
            code: "print(2)".into()
        }));
        machine.worker_done(1, None);
        assert_eq!(machine.status(), Status::Done);
        let effects = machine.run_requested();
        assert_eq!(
            effects,
            vec![
                Effect::ClearOutput,
                Effect::SendRun {
                    id: 2,
                    code: "print(2)".into()
                },
                Effect::SetStatus(Status::Running),
                Effect::WarmSpare,
            ]
        );
        // Output of the old run is dropped.
        assert_eq!(
            machine.worker_output(1, vec![part(PartKind::Stdout, "x")]),
            vec![]
        );
    }

    #[test]
    fn exception_is_reported_with_its_traceback_line() {
        let mut machine = running("1/0");
        let effects =
            machine.worker_done(1, Some(exception("ZeroDivisionError", "division by zero")));
        let message = "ZeroDivisionError: division by zero".to_string();
        assert_eq!(
            effects,
            vec![
                Effect::Dispatch(ElementEvent::Done {
                    exception: Some(message.clone()),
                    stopped: false
                }),
                Effect::Dispatch(ElementEvent::Error {
                    kind: ErrorKind::Python,
                    message
                }),
                Effect::SetStatus(Status::Done),
            ]
        );
    }

    #[test]
    fn boot_failure_shows_error_and_run_retries_with_a_new_worker() {
        let mut machine = Machine::default();
        machine.connected(false, false);
        machine.code_changed("print(1)".into());
        let error = ErrorPayload::new(
            ErrorKind::PyodideLoad,
            "Could not load Pyodide from /x/: 404",
        );
        let effects = machine.worker_failed(None, error.clone());
        assert_eq!(
            effects,
            vec![
                Effect::TerminateWorker,
                Effect::ShowError(error.message.clone()),
                Effect::Dispatch(ElementEvent::Error {
                    kind: ErrorKind::PyodideLoad,
                    message: error.message.clone()
                }),
                Effect::SetStatus(Status::Error),
            ]
        );
        assert_eq!(
            machine.run_requested(),
            vec![
                Effect::ClearOutput,
                Effect::SpawnWorker,
                Effect::ClearOutput,
                Effect::SendRun {
                    id: 2,
                    code: "print(1)".into()
                },
                Effect::SetStatus(Status::Loading)
            ]
        );
    }

    #[test]
    fn disconnect_terminates_and_reconnect_restarts() {
        let mut machine = running("print(1)");
        assert_eq!(
            machine.disconnected(),
            vec![Effect::TerminateWorker, Effect::SetStatus(Status::Idle)]
        );
        // The interrupted run had not finished, so the new worker runs the code.
        assert_eq!(
            machine.connected(false, false),
            vec![
                Effect::SpawnWorker,
                Effect::ClearOutput,
                Effect::SendRun {
                    id: 2,
                    code: "print(1)".into()
                },
                Effect::SetStatus(Status::Loading)
            ]
        );
    }

    #[test]
    fn moving_a_running_element_does_not_run_it_twice() {
        let mut machine = running("print(1)");
        // A move: connected again while the worker still exists and the run is in flight.
        assert_eq!(machine.connected(false, false), vec![]);
        assert_eq!(
            machine.worker_done(1, None),
            vec![
                Effect::Dispatch(ElementEvent::Done {
                    exception: None,
                    stopped: false
                }),
                Effect::SetStatus(Status::Done),
            ]
        );
    }

    #[test]
    fn new_code_reruns_a_non_manual_element() {
        let mut machine = running("print(1)");
        machine.worker_done(1, None);
        let effects = machine.code_changed("print(2)".into());
        assert!(effects.contains(&Effect::SendRun {
            id: 2,
            code: "print(2)".into()
        }));
        // The same code again does not rerun.
        machine.worker_done(2, None);
        assert_eq!(machine.code_changed("print(2)".into()), vec![]);
    }

    #[test]
    fn an_edit_runs_nothing_until_run_then_runs_the_edited_code() {
        let mut machine = running("print(1)");
        machine.worker_done(1, None);
        machine.code_edited("print(3)".into());
        assert_eq!(machine.status(), Status::Done);
        assert_eq!(machine.code(), Some("print(3)"));
        assert!(machine.run_requested().contains(&Effect::SendRun {
            id: 2,
            code: "print(3)".into()
        }));
    }

    #[test]
    fn crash_while_running_fails_the_worker() {
        let mut machine = running("print(1)");
        let effects = machine.worker_crashed("RuntimeError: unreachable");
        assert_eq!(effects[0], Effect::TerminateWorker);
        assert_eq!(
            effects[1],
            Effect::ShowError(
                "The Python worker stopped unexpectedly: RuntimeError: unreachable".into()
            )
        );
        assert_eq!(machine.status(), Status::Error);
    }

    /// A running element whose worker uses `transport` and waits for input (wait 5) in run 1.
    fn waiting_for_input(transport: Transport) -> Machine {
        let mut machine = Machine::default();
        machine.connected(false, false);
        machine.code_changed("input()".into());
        machine.worker_ready(booted("v", transport));
        assert_eq!(
            machine.worker_waiting(1, 5, WaitReason::Input),
            vec![Effect::ShowInput { seq: 5 }]
        );
        machine
    }

    #[test]
    fn a_typed_line_answers_the_wait_it_was_typed_for() {
        let mut machine = waiting_for_input(Transport::Atomics);
        assert!(machine.awaiting_input());
        assert_eq!(
            machine.input_submitted("Zoë".into()),
            vec![
                Effect::SendReply {
                    seq: 5,
                    reply: Reply::Message(Some("Zoë".into()))
                },
                Effect::HideInput,
            ]
        );
        // Enter again before the next request: nothing to answer.
        assert_eq!(machine.input_submitted("again".into()), vec![]);
    }

    #[test]
    fn an_input_too_long_for_the_transport_is_refused_with_a_notice() {
        let mut machine = waiting_for_input(Transport::Atomics);
        let effects = machine.input_submitted("x".repeat(Layout::MAX_REPLY_BYTES));
        let [Effect::AppendOutput(parts)] = effects.as_slice() else {
            panic!("expected a notice, got {effects:?}");
        };
        assert_eq!(parts[0].kind, PartKind::Notice);
        assert!(parts[0].text.starts_with("This input is too long"));
        assert!(
            machine.awaiting_input(),
            "the field stays for a shorter line"
        );
    }

    #[test]
    fn stop_with_atomics_interrupts_then_escalates_after_the_grace_period() {
        let mut machine = running("while True: pass");
        assert_eq!(
            machine.stop_requested(),
            vec![
                Effect::Interrupt { run: 1 },
                Effect::StartStopTimer { run: 1 }
            ]
        );
        // A second Stop while the first is pending does nothing.
        assert_eq!(machine.stop_requested(), vec![]);
        let effects = machine.stop_grace_over(1);
        assert_eq!(
            effects,
            vec![
                Effect::notice(STUCK_NOTICE),
                Effect::TerminateWorker,
                Effect::SpawnWorker,
                Effect::Dispatch(ElementEvent::Done {
                    exception: None,
                    stopped: true
                }),
                Effect::SetStatus(Status::Loading),
            ]
        );
    }

    #[test]
    fn a_keyboard_interrupt_after_stop_ends_the_run_without_an_error_event() {
        let mut machine = running("while True: pass");
        machine.stop_requested();
        assert_eq!(
            machine.worker_done(1, Some(exception("KeyboardInterrupt", ""))),
            vec![
                Effect::Dispatch(ElementEvent::Done {
                    exception: Some("KeyboardInterrupt".into()),
                    stopped: true
                }),
                Effect::SetStatus(Status::Done),
            ]
        );
        // The grace timer of that run fires later and finds nothing to do.
        assert_eq!(machine.stop_grace_over(1), vec![]);
    }

    #[test]
    fn stop_while_waiting_replies_interrupted_on_jspi_and_the_service_worker() {
        for transport in [Transport::Jspi, Transport::ServiceWorker] {
            let mut machine = waiting_for_input(transport);
            assert_eq!(
                machine.stop_requested(),
                vec![
                    Effect::SendReply {
                        seq: 5,
                        reply: Reply::Interrupted
                    },
                    Effect::HideInput,
                    Effect::StartStopTimer { run: 1 },
                ],
                "{transport:?}"
            );
        }
    }

    #[test]
    fn stop_while_python_loads_cancels_the_run_without_a_restart() {
        let mut machine = Machine::default();
        machine.connected(false, false);
        machine.code_changed("while True: pass".into());
        assert_eq!(machine.stop_requested(), vec![Effect::CancelRun { run: 1 }]);
        assert_eq!(
            machine.stop_requested(),
            vec![],
            "a second Stop adds nothing"
        );
        let effects = machine.worker_done(1, None);
        assert_eq!(
            effects[..2],
            [
                Effect::notice(CANCELLED_NOTICE),
                Effect::Dispatch(ElementEvent::Done {
                    exception: None,
                    stopped: true,
                }),
            ]
        );
        assert!(!effects.contains(&Effect::TerminateWorker));
        let effects = machine.worker_ready(booted("v", Transport::Atomics));
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::Interrupt { .. })),
            "{effects:?}"
        );
        assert_eq!(machine.status(), Status::Done);
    }

    #[test]
    fn a_cancel_that_came_too_late_stops_through_the_transport_once_ready() {
        let mut machine = Machine::default();
        machine.connected(false, false);
        machine.code_changed("while True: pass".into());
        machine.stop_requested();
        // The worker had started the run: Ready comes, and no Done.
        let effects = machine.worker_ready(booted("v", Transport::Atomics));
        assert!(
            effects.contains(&Effect::Interrupt { run: 1 }),
            "{effects:?}"
        );
        assert!(effects.contains(&Effect::StartStopTimer { run: 1 }));
        let effects = machine.worker_done(1, None);
        assert!(!effects.contains(&Effect::notice(CANCELLED_NOTICE)));
    }

    #[test]
    fn stop_of_busy_code_without_interrupts_restarts_at_once() {
        for transport in [Transport::Jspi, Transport::ServiceWorker, Transport::None] {
            let mut machine = Machine::default();
            machine.connected(false, false);
            machine.code_changed("while True: pass".into());
            machine.worker_ready(booted("v", transport));
            let effects = machine.stop_requested();
            assert_eq!(
                effects[..3],
                [
                    Effect::notice(RESTARTED_NOTICE),
                    Effect::TerminateWorker,
                    Effect::SpawnWorker,
                ],
                "{transport:?}"
            );
            assert_eq!(machine.status(), Status::Loading);
            assert_eq!(
                machine.transport(),
                Transport::None,
                "until the new worker is ready"
            );
        }
    }

    #[test]
    fn run_while_running_stops_then_runs_again() {
        let mut machine = running("while True: pass");
        assert_eq!(
            machine.run_requested(),
            vec![
                Effect::Interrupt { run: 1 },
                Effect::StartStopTimer { run: 1 }
            ]
        );
        let effects = machine.worker_done(1, None);
        assert!(
            effects.contains(&Effect::SendRun {
                id: 2,
                code: "while True: pass".into()
            }),
            "{effects:?}"
        );
        assert_eq!(machine.status(), Status::Running);
    }

    #[test]
    fn a_drain_is_answered_at_once_and_stops_a_run_that_is_stopping_or_gone() {
        let mut machine = waiting_for_input(Transport::Atomics);
        let drain =
            |machine: &mut Machine, id, seq| machine.worker_waiting(id, seq, WaitReason::Drain);
        machine.input_submitted("x".into());
        assert_eq!(
            drain(&mut machine, 1, 6),
            vec![Effect::SendReply {
                seq: 6,
                reply: Reply::Message(None)
            }]
        );
        assert_eq!(
            drain(&mut machine, 0, 7),
            vec![Effect::SendReply {
                seq: 7,
                reply: Reply::Interrupted
            }]
        );
        machine.stop_requested();
        assert_eq!(
            drain(&mut machine, 1, 8),
            vec![Effect::SendReply {
                seq: 8,
                reply: Reply::Interrupted
            }]
        );
        // A drain is not a wait for the user: no field, and Stop still interrupts.
        assert!(!machine.awaiting_input());
    }

    #[test]
    fn waits_of_other_runs_and_waits_during_stop_show_no_field() {
        let mut machine = running("input()");
        assert_eq!(machine.worker_waiting(7, 1, WaitReason::Input), vec![]);
        machine.stop_requested();
        assert_eq!(machine.worker_waiting(1, 2, WaitReason::Input), vec![]);
        assert!(!machine.awaiting_input());
    }

    #[test]
    fn a_crash_while_waiting_removes_the_field() {
        let mut machine = waiting_for_input(Transport::Atomics);
        let effects = machine.worker_crashed("gone");
        assert!(effects.contains(&Effect::HideInput), "{effects:?}");
        assert!(!machine.awaiting_input());
    }

    #[test]
    fn a_failed_archive_shows_why_and_run_runs_without_it() {
        let mut machine = Machine::default();
        machine.connected(false, false);
        machine.code_changed("import pkg".into());
        let message = "Could not download the archive https://a.test/p.zip: HTTP 404 Not Found";
        assert_eq!(
            machine.archive_failed(message.into()),
            vec![
                Effect::ShowError(message.into()),
                Effect::Dispatch(ElementEvent::Error {
                    kind: ErrorKind::Archive,
                    message: message.into()
                }),
                Effect::SetStatus(Status::Error),
            ]
        );
        machine.worker_ready(booted("v", Transport::Atomics));
        assert_eq!(machine.status(), Status::Error);
        let effects = machine.run_requested();
        assert!(
            effects.contains(&Effect::SendRun {
                id: 2,
                code: "import pkg".into()
            }),
            "{effects:?}"
        );
    }

    #[test]
    fn the_archive_is_announced_to_each_new_worker_and_delays_the_spare() {
        let mut machine = Machine::default();
        assert_eq!(
            machine.connected(false, true),
            vec![
                Effect::SpawnWorker,
                Effect::AnnounceArchive,
                Effect::SetStatus(Status::Loading)
            ]
        );
        machine.code_changed("import pkg".into());
        assert_eq!(machine.worker_spawned(None), vec![]);
        let effects = machine.worker_ready(booted("v", Transport::Atomics));
        assert_eq!(machine.status(), Status::Running);
        assert!(
            !effects.contains(&Effect::WarmSpare),
            "the spare waits for the archive: {effects:?}"
        );
        assert_eq!(machine.archive_downloaded(), vec![Effect::WarmSpare]);
        assert_eq!(machine.archive_downloaded(), vec![], "only once");
        // A restart gets a new worker, which is told about the archive again.
        machine.stop_requested();
        let effects = machine.stop_grace_over(1);
        let spawn = effects.iter().position(|e| *e == Effect::SpawnWorker);
        let announce = effects.iter().position(|e| *e == Effect::AnnounceArchive);
        let run = effects
            .iter()
            .position(|e| matches!(e, Effect::SendRun { .. }));
        assert!(
            spawn.is_some() && announce == spawn.map(|i| i + 1),
            "{effects:?}"
        );
        assert!(run.is_none() || run > announce, "{effects:?}");
    }

    #[test]
    fn the_spare_warms_when_code_runs_in_a_ready_worker() {
        let mut machine = Machine::default();
        machine.connected(true, false);
        machine.code_changed("x = 1".into());
        let effects = machine.worker_spawned(Some(booted("v", Transport::Jspi)));
        assert_eq!(machine.status(), Status::Ready);
        assert!(!effects.contains(&Effect::WarmSpare), "{effects:?}");
        assert!(effects.contains(&Effect::ShowDiagnostics(diagnostics("v", Transport::Jspi))));
        let effects = machine.run_requested();
        assert_eq!(effects.last(), Some(&Effect::WarmSpare), "{effects:?}");
    }

    #[test]
    fn a_worker_speaking_another_protocol_fails() {
        let mut machine = Machine::default();
        machine.connected(false, false);
        let mut stale = booted("v", Transport::Atomics);
        stale.protocol = PROTOCOL_VERSION + 1;
        let message = format!(
            "The worker speaks protocol version {}, the element version {PROTOCOL_VERSION}",
            PROTOCOL_VERSION + 1
        );
        assert_eq!(
            machine.worker_ready(stale),
            vec![
                Effect::TerminateWorker,
                Effect::ShowError(message.clone()),
                Effect::Dispatch(ElementEvent::Error {
                    kind: ErrorKind::Protocol,
                    message
                }),
                Effect::SetStatus(Status::Error),
            ]
        );
    }
}
