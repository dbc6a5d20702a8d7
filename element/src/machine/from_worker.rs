//! The state machine's answers to its worker: waits, readiness, output, the end of a run, and
//! failures (the rest of [`Machine`] is in `machine.rs`).

use python_runner_protocol::sync::Layout;
use python_runner_protocol::{
    ErrorKind, ErrorPayload, OutputPart, PythonException, Reply, RunId, WaitReason, WaitSeq,
    PROTOCOL_VERSION,
};

use super::{
    diagnostics, Booted, Effect, ElementEvent, Machine, WorkerPhase, CANCELLED_NOTICE,
    DEQUEUED_NOTICE,
};

impl Machine {
    /// The worker waits: for a line of input (the input field appears) or for a sleep to end.
    pub fn worker_waiting(&mut self, id: RunId, seq: WaitSeq, reason: WaitReason) -> Vec<Effect> {
        let mut effects = Vec::new();
        if reason == WaitReason::Drain {
            // The page has read every message before this one: the worker may post more. A
            // run that is being stopped, or is no longer current, stops here instead.
            let reply = if self.current_run == Some(id) && self.stopping.is_none() {
                Reply::Message(None)
            } else {
                Reply::Interrupted
            };
            return vec![Effect::SendReply { seq, reply }];
        }
        if self.current_run != Some(id) || self.stopping.is_some() {
            return effects;
        }
        self.waiting = Some((seq, reason));
        if reason == WaitReason::Input {
            effects.push(Effect::ShowInput { seq });
        }
        effects
    }

    /// The user entered a line in the input field. A line too long for the transport is
    /// refused with a notice, and the field stays.
    pub fn input_submitted(&mut self, line: String) -> Vec<Effect> {
        let Some((seq, WaitReason::Input)) = self.waiting else {
            return Vec::new();
        };
        let reply = Reply::Message(Some(line));
        if let Err(too_large) = Layout::check_fits(reply.to_json().len()) {
            return vec![Effect::notice(&too_large.to_string())];
        }
        self.waiting = None;
        // The reply first: Python goes on while the page removes the field (a layout pass).
        vec![Effect::SendReply { seq, reply }, Effect::HideInput]
    }

    /// The worker loaded Python. A worker speaking another protocol version (a stale cached
    /// copy of the bundle, say) fails instead.
    pub fn worker_ready(&mut self, booted: Booted) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.worker != WorkerPhase::Booting {
            return effects;
        }
        if booted.protocol != PROTOCOL_VERSION {
            let message = format!(
                "The worker speaks protocol version {}, the element version {PROTOCOL_VERSION}",
                booted.protocol
            );
            self.fail_worker(ErrorKind::Protocol, message, &mut effects);
            return effects;
        }
        self.worker = WorkerPhase::Ready;
        self.transport = booted.transport;
        effects.push(Effect::ShowDiagnostics(diagnostics(
            &booted.pyodide_version,
            booted.transport,
        )));
        effects.push(Effect::Dispatch(ElementEvent::Ready {
            pyodide_version: booted.pyodide_version,
            warm: booted.warm,
        }));
        // Stop came while Python loaded, and the worker started the run before it read the
        // cancel: stop it the way this transport can.
        if self.current_run.is_some() && self.stopping == self.current_run {
            self.stopping = None;
            self.stop(&mut effects);
        }
        self.settle(&mut effects);
        effects
    }

    /// Output from the worker; output of an older run is dropped.
    pub fn worker_output(&mut self, id: RunId, parts: Vec<OutputPart>) -> Vec<Effect> {
        if self.current_run != Some(id) {
            return Vec::new();
        }
        vec![
            Effect::AppendOutput(parts.clone()),
            Effect::Dispatch(ElementEvent::Output { parts }),
        ]
    }

    /// A run ended, by `exception` if it did not run to the end.
    pub fn worker_done(&mut self, id: RunId, exception: Option<PythonException>) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.current_run != Some(id) {
            return effects;
        }
        self.current_run = None;
        self.has_run = true;
        let stopped = self.stopping.take() == Some(id);
        if stopped && self.worker == WorkerPhase::Booting {
            // Only a cancelled run ends before its worker is ready.
            effects.push(Effect::notice(CANCELLED_NOTICE));
        } else if stopped && self.queued {
            effects.push(Effect::notice(DEQUEUED_NOTICE));
        }
        self.end_waiting(&mut effects);
        effects.push(Effect::Dispatch(ElementEvent::Done {
            exception: exception.as_ref().map(PythonException::line),
            stopped,
        }));
        match exception {
            // A KeyboardInterrupt the user asked for is not an error.
            Some(exception) if !(stopped && exception.is_keyboard_interrupt()) => {
                effects.push(Effect::Dispatch(ElementEvent::Error {
                    kind: ErrorKind::Python,
                    message: exception.line(),
                }));
            }
            _ => {}
        }
        self.settle(&mut effects);
        effects
    }

    /// The worker reported a failure: `id` is `None` when Python could not start at all.
    pub fn worker_failed(&mut self, id: Option<RunId>, error: ErrorPayload) -> Vec<Effect> {
        let mut effects = Vec::new();
        match id {
            None => self.fail_worker(error.kind, error.message, &mut effects),
            Some(id) if self.current_run == Some(id) => {
                self.end_waiting(&mut effects);
                effects.push(Effect::ShowError(error.message.clone()));
                effects.push(Effect::Dispatch(ElementEvent::Error {
                    kind: error.kind,
                    message: error.message,
                }));
            }
            Some(_) => {}
        }
        effects
    }

    /// The worker died (script error, crash): it is terminated; Run starts a new one.
    pub fn worker_crashed(&mut self, reason: &str) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.worker == WorkerPhase::Absent {
            return effects;
        }
        self.fail_worker(
            ErrorKind::Worker,
            format!("The Python worker stopped unexpectedly: {reason}"),
            &mut effects,
        );
        effects
    }
}
