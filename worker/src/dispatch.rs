//! The worker's message state machine: which effect each message from the element causes.
//!
//! Plain Rust with no JS types, so it is unit-tested natively. `bindings.rs` feeds it
//! decoded messages and carries out the [`Effect`]s it returns.

use std::collections::VecDeque;

use python_runner_protocol::{
    ErrorKind, ErrorPayload, FromWorker, RunId, ToWorker, PROTOCOL_VERSION,
};

/// Something the JS-facing layer must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start loading Pyodide from this base URL; report with [`Dispatcher::on_booted`] or
    /// [`Dispatcher::on_failed`].
    StartBoot {
        /// Base URL ending in `/`.
        pyodide_url: String,
    },
    /// Run code now (Pyodide is ready); post its output, then [`FromWorker::Done`].
    Run {
        /// The element's id for this run.
        id: RunId,
        /// Python source.
        code: String,
    },
    /// Send a message to the element.
    Post(FromWorker),
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    AwaitingInit,
    Booting,
    Ready,
    Failed(ErrorPayload),
}

/// Tracks the worker's phase and the runs that arrive before Pyodide is ready.
#[derive(Debug)]
pub struct Dispatcher {
    phase: Phase,
    pending_runs: VecDeque<(RunId, String)>,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self {
            phase: Phase::AwaitingInit,
            pending_runs: VecDeque::new(),
        }
    }
}

impl Dispatcher {
    /// Handles one message from the element.
    pub fn on_message(&mut self, message: ToWorker) -> Vec<Effect> {
        match message {
            ToWorker::Init {
                protocol,
                pyodide_url,
            } => {
                if self.phase != Phase::AwaitingInit {
                    return vec![Effect::Post(FromWorker::Failed {
                        id: None,
                        error: ErrorPayload::new(
                            ErrorKind::Protocol,
                            "the worker was initialised twice",
                        ),
                    })];
                }
                if protocol != PROTOCOL_VERSION {
                    let error = ErrorPayload::new(
                        ErrorKind::Protocol,
                        format!(
                            "protocol mismatch: the element speaks version {protocol}, the worker version {PROTOCOL_VERSION}"
                        ),
                    );
                    self.phase = Phase::Failed(error.clone());
                    return vec![Effect::Post(FromWorker::Failed { id: None, error })];
                }
                self.phase = Phase::Booting;
                vec![Effect::StartBoot { pyodide_url }]
            }
            ToWorker::Run { id, code } => match &self.phase {
                Phase::Ready => vec![Effect::Run { id, code }],
                Phase::AwaitingInit | Phase::Booting => {
                    self.pending_runs.push_back((id, code));
                    Vec::new()
                }
                Phase::Failed(error) => vec![Effect::Post(FromWorker::Failed {
                    id: Some(id),
                    error: error.clone(),
                })],
            },
        }
    }

    /// Pyodide finished loading: announce readiness and run what was queued.
    pub fn on_booted(&mut self, pyodide_version: String) -> Vec<Effect> {
        self.phase = Phase::Ready;
        let mut effects = vec![Effect::Post(FromWorker::Ready {
            protocol: PROTOCOL_VERSION,
            pyodide_version,
        })];
        effects.extend(
            self.pending_runs
                .drain(..)
                .map(|(id, code)| Effect::Run { id, code }),
        );
        effects
    }

    /// Pyodide could not be loaded, or stopped working: report it once, and fail every queued
    /// and later run with it.
    pub fn on_failed(&mut self, error: ErrorPayload) -> Vec<Effect> {
        self.phase = Phase::Failed(error.clone());
        self.pending_runs.clear();
        vec![Effect::Post(FromWorker::Failed { id: None, error })]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init() -> ToWorker {
        ToWorker::Init {
            protocol: PROTOCOL_VERSION,
            pyodide_url: "/pyodide/".into(),
        }
    }

    fn run(id: RunId) -> ToWorker {
        ToWorker::Run {
            id,
            code: format!("print({id})"),
        }
    }

    #[test]
    fn runs_wait_for_boot_then_run_in_order() {
        let mut dispatcher = Dispatcher::default();
        assert_eq!(
            dispatcher.on_message(init()),
            vec![Effect::StartBoot {
                pyodide_url: "/pyodide/".into()
            }]
        );
        assert_eq!(dispatcher.on_message(run(1)), vec![]);
        assert_eq!(dispatcher.on_message(run(2)), vec![]);
        let effects = dispatcher.on_booted("314.0.7".into());
        assert_eq!(
            effects,
            vec![
                Effect::Post(FromWorker::Ready {
                    protocol: PROTOCOL_VERSION,
                    pyodide_version: "314.0.7".into()
                }),
                Effect::Run {
                    id: 1,
                    code: "print(1)".into()
                },
                Effect::Run {
                    id: 2,
                    code: "print(2)".into()
                },
            ]
        );
        assert_eq!(
            dispatcher.on_message(run(3)),
            vec![Effect::Run {
                id: 3,
                code: "print(3)".into()
            }]
        );
    }

    #[test]
    fn boot_failure_fails_later_runs_with_the_same_error() {
        let mut dispatcher = Dispatcher::default();
        dispatcher.on_message(init());
        dispatcher.on_message(run(1));
        let error = ErrorPayload::new(ErrorKind::PyodideLoad, "Could not load Pyodide");
        assert_eq!(
            dispatcher.on_failed(error.clone()),
            vec![Effect::Post(FromWorker::Failed {
                id: None,
                error: error.clone()
            })]
        );
        assert_eq!(
            dispatcher.on_message(run(2)),
            vec![Effect::Post(FromWorker::Failed { id: Some(2), error })]
        );
    }

    #[test]
    fn protocol_mismatch_is_refused() {
        let mut dispatcher = Dispatcher::default();
        let effects = dispatcher.on_message(ToWorker::Init {
            protocol: PROTOCOL_VERSION + 1,
            pyodide_url: "/".into(),
        });
        let [Effect::Post(FromWorker::Failed { id: None, error })] = effects.as_slice() else {
            panic!("expected one failure, got {effects:?}");
        };
        assert_eq!(error.kind, ErrorKind::Protocol);
        assert!(error.message.starts_with("protocol mismatch"));
    }

    #[test]
    fn second_init_is_an_error() {
        let mut dispatcher = Dispatcher::default();
        dispatcher.on_message(init());
        let effects = dispatcher.on_message(init());
        assert!(matches!(
            effects.as_slice(),
            [Effect::Post(FromWorker::Failed { id: None, .. })]
        ));
    }
}
