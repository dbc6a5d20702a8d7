//! The worker's message state machine: which effect each message from the element causes.
//!
//! Plain Rust with no JS types, so it is unit-tested natively. `entry.rs` feeds it
//! decoded messages and carries out the [`Effect`]s it returns.

use std::collections::VecDeque;

use python_runner_protocol::{
    ArchiveSpec, ErrorKind, ErrorPayload, FromWorker, RunId, RunOptions, ServiceWorkerRoute,
    Snapshot, ToWorker, Transport, WaitSeq, PROTOCOL_VERSION,
};

/// Something the JS-facing layer must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Start loading Pyodide from this base URL; report with [`Dispatcher::on_booted`] or
    /// [`Dispatcher::on_failed`].
    StartBoot {
        /// Base URL ending in `/`.
        pyodide_url: String,
        /// The transport the element asked for.
        transport: Transport,
        /// Where the service worker answers, if that is the transport.
        service_worker: Option<ServiceWorkerRoute>,
        /// Start from the cached memory snapshot if there is a good one.
        snapshot: bool,
    },
    /// This worker only makes the memory snapshot: start Python in full, make it, store it,
    /// post [`FromWorker::SnapshotMade`] (or a failure); no runs.
    MakeSnapshot {
        /// Base URL ending in `/`.
        pyodide_url: String,
    },
    /// Run code now (Pyodide is ready and idle); post its output, then [`FromWorker::Done`],
    /// then report [`Dispatcher::on_run_finished`].
    Run {
        /// The element's id for this run.
        id: RunId,
        /// Python source.
        code: String,
        /// How to run it.
        options: RunOptions,
    },
    /// Unpack the archive whose bytes arrived, put its folder on `sys.path`, and report with
    /// [`Dispatcher::on_unpacked`].
    Unpack {
        /// The archive.
        spec: ArchiveSpec,
    },
    /// Hand the page's reply to the wait it answers (JSPI), if Python still waits for it.
    Resolve {
        /// The wait.
        seq: WaitSeq,
        /// JSON text for the Python side.
        reply: String,
    },
    /// Send a message to the element.
    Post(FromWorker),
}

/// Where the author's archive is; runs wait unless it is [`ArchiveState::None`].
#[derive(Debug, Clone, PartialEq)]
enum ArchiveState {
    /// No archive, or it is unpacked, or it failed: runs go ahead.
    None,
    /// Announced; its bytes have not arrived.
    Awaiting(ArchiveSpec),
    /// Its bytes arrived; Pyodide is not ready yet.
    Received(ArchiveSpec),
    /// Being unpacked.
    Unpacking,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    AwaitingInit,
    Booting,
    Ready,
    Failed(ErrorPayload),
}

/// Tracks the worker's phase and the runs that arrive before Pyodide is ready or while another
/// run is in progress (with JSPI a run yields to the event loop while it waits).
#[derive(Debug)]
pub struct Dispatcher {
    phase: Phase,
    pending_runs: VecDeque<(RunId, String, RunOptions)>,
    running: Option<RunId>,
    archive: ArchiveState,
}

impl Default for Dispatcher {
    fn default() -> Self {
        Self {
            phase: Phase::AwaitingInit,
            pending_runs: VecDeque::new(),
            running: None,
            archive: ArchiveState::None,
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
                transport,
                service_worker,
                snapshot,
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
                if snapshot == Snapshot::Make {
                    return vec![Effect::MakeSnapshot { pyodide_url }];
                }
                vec![Effect::StartBoot {
                    pyodide_url,
                    transport,
                    service_worker,
                    snapshot: snapshot == Snapshot::Use,
                }]
            }
            ToWorker::Run { id, code, options } => match &self.phase {
                Phase::AwaitingInit | Phase::Booting | Phase::Ready => {
                    self.pending_runs.push_back((id, code, options));
                    self.next_run()
                }
                Phase::Failed(error) => vec![Effect::Post(FromWorker::Failed {
                    id: Some(id),
                    error: error.clone(),
                })],
            },
            ToWorker::Reply { seq, reply } => vec![Effect::Resolve { seq, reply }],
            ToWorker::Cancel { id } => {
                let Some(index) = self.pending_runs.iter().position(|(run, ..)| *run == id) else {
                    return Vec::new();
                };
                self.pending_runs.remove(index);
                vec![Effect::Post(FromWorker::Done {
                    id,
                    exception: None,
                })]
            }
            ToWorker::Archive { spec } => {
                self.archive = ArchiveState::Awaiting(spec);
                Vec::new()
            }
            ToWorker::ArchiveData { url, error } => {
                let spec = match &self.archive {
                    ArchiveState::Awaiting(spec) if spec.url == url => spec.clone(),
                    _ => return Vec::new(),
                };
                if error.is_some() {
                    // The page showed why; the runs queued for this archive are over.
                    self.archive = ArchiveState::None;
                    self.pending_runs.clear();
                    return Vec::new();
                }
                self.archive = ArchiveState::Received(spec);
                self.start_unpack()
            }
        }
    }

    /// The archive is unpacked (`Ok`) or could not be: runs go on (without it, after a failure,
    /// which drops the runs queued for it).
    pub fn on_unpacked(&mut self, result: Result<(), ErrorPayload>) -> Vec<Effect> {
        self.archive = ArchiveState::None;
        match result {
            Ok(()) => self.next_run(),
            Err(error) => {
                self.pending_runs.clear();
                vec![Effect::Post(FromWorker::ArchiveFailed { error })]
            }
        }
    }

    fn start_unpack(&mut self) -> Vec<Effect> {
        if self.phase != Phase::Ready {
            return Vec::new();
        }
        match std::mem::replace(&mut self.archive, ArchiveState::Unpacking) {
            ArchiveState::Received(spec) => vec![Effect::Unpack { spec }],
            other => {
                self.archive = other;
                Vec::new()
            }
        }
    }

    /// The run started by [`Effect::Run`] ended: start the next queued one.
    pub fn on_run_finished(&mut self, id: RunId) -> Vec<Effect> {
        if self.running == Some(id) {
            self.running = None;
        }
        self.next_run()
    }

    /// The run in progress, if any.
    pub fn running(&self) -> Option<RunId> {
        self.running
    }

    fn next_run(&mut self) -> Vec<Effect> {
        if self.phase != Phase::Ready
            || self.running.is_some()
            || self.archive != ArchiveState::None
        {
            return Vec::new();
        }
        match self.pending_runs.pop_front() {
            Some((id, code, options)) => {
                self.running = Some(id);
                vec![Effect::Run { id, code, options }]
            }
            None => Vec::new(),
        }
    }

    /// Pyodide finished loading: announce readiness (and the transport in use) and start the
    /// first queued run.
    pub fn on_booted(
        &mut self,
        pyodide_version: String,
        transport: Transport,
        warm: bool,
    ) -> Vec<Effect> {
        self.phase = Phase::Ready;
        let mut effects = vec![Effect::Post(FromWorker::Ready {
            protocol: PROTOCOL_VERSION,
            pyodide_version,
            transport,
            warm,
        })];
        effects.extend(self.start_unpack());
        effects.extend(self.next_run());
        effects
    }

    /// Pyodide could not be loaded, or stopped working: report it once, and fail every queued
    /// and later run with it.
    pub fn on_failed(&mut self, error: ErrorPayload) -> Vec<Effect> {
        self.phase = Phase::Failed(error.clone());
        self.pending_runs.clear();
        self.running = None;
        self.archive = ArchiveState::None;
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
            transport: Transport::Atomics,
            service_worker: None,
            snapshot: Snapshot::Use,
        }
    }

    fn run(id: RunId) -> ToWorker {
        ToWorker::Run {
            id,
            code: format!("print({id})"),
            options: RunOptions::default(),
        }
    }

    fn effect_run(id: RunId) -> Effect {
        Effect::Run {
            id,
            code: format!("print({id})"),
            options: RunOptions::default(),
        }
    }

    #[test]
    fn runs_wait_for_boot_then_run_one_at_a_time_in_order() {
        let mut dispatcher = Dispatcher::default();
        assert_eq!(
            dispatcher.on_message(init()),
            vec![Effect::StartBoot {
                pyodide_url: "/pyodide/".into(),
                transport: Transport::Atomics,
                service_worker: None,
                snapshot: true,
            }]
        );
        assert_eq!(dispatcher.on_message(run(1)), vec![]);
        assert_eq!(dispatcher.on_message(run(2)), vec![]);
        let effects = dispatcher.on_booted("314.0.7".into(), Transport::Atomics, false);
        assert_eq!(
            effects,
            vec![
                Effect::Post(FromWorker::Ready {
                    protocol: PROTOCOL_VERSION,
                    pyodide_version: "314.0.7".into(),
                    transport: Transport::Atomics,
                    warm: false,
                }),
                effect_run(1),
            ]
        );
        assert_eq!(dispatcher.running(), Some(1));
        // A run that arrives while another is in progress (JSPI yields while it waits) queues.
        assert_eq!(dispatcher.on_message(run(3)), vec![]);
        assert_eq!(dispatcher.on_run_finished(1), vec![effect_run(2)]);
        assert_eq!(dispatcher.on_run_finished(2), vec![effect_run(3)]);
        assert_eq!(dispatcher.on_run_finished(3), vec![]);
        assert_eq!(dispatcher.running(), None);
        assert_eq!(dispatcher.on_message(run(4)), vec![effect_run(4)]);
    }

    #[test]
    fn cancel_drops_a_queued_run_and_leaves_a_started_one() {
        let mut dispatcher = Dispatcher::default();
        dispatcher.on_message(init());
        dispatcher.on_message(run(1));
        dispatcher.on_message(run(2));
        assert_eq!(
            dispatcher.on_message(ToWorker::Cancel { id: 1 }),
            vec![Effect::Post(FromWorker::Done {
                id: 1,
                exception: None
            })]
        );
        // Unknown or already cancelled: nothing.
        assert_eq!(dispatcher.on_message(ToWorker::Cancel { id: 1 }), vec![]);
        let effects = dispatcher.on_booted("314.0.7".into(), Transport::Atomics, false);
        assert_eq!(effects.last(), Some(&effect_run(2)));
        // Started: the page stops it through its transport.
        assert_eq!(dispatcher.on_message(ToWorker::Cancel { id: 2 }), vec![]);
        assert_eq!(dispatcher.running(), Some(2));
    }

    #[test]
    fn replies_are_handed_to_the_wait() {
        let mut dispatcher = Dispatcher::default();
        let reply = ToWorker::Reply {
            seq: 5,
            reply: "{}".into(),
        };
        assert_eq!(
            dispatcher.on_message(reply),
            vec![Effect::Resolve {
                seq: 5,
                reply: "{}".into()
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
            transport: Transport::None,
            service_worker: None,
            snapshot: Snapshot::Off,
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

    fn archive(url: &str) -> ArchiveSpec {
        ArchiveSpec {
            url: url.into(),
            format: "zip".into(),
            extract_dir: "/home/pyodide".into(),
        }
    }

    #[test]
    fn runs_wait_for_the_archive_which_is_unpacked_once_python_is_ready() {
        let mut dispatcher = Dispatcher::default();
        dispatcher.on_message(init());
        let spec = archive("https://a.test/p.zip");
        assert_eq!(
            dispatcher.on_message(ToWorker::Archive { spec: spec.clone() }),
            vec![]
        );
        assert_eq!(dispatcher.on_message(run(1)), vec![]);
        // Python is ready first: still no run without the archive.
        let effects = dispatcher.on_booted("v".into(), Transport::Atomics, false);
        assert_eq!(effects.len(), 1, "{effects:?}");
        let data = ToWorker::ArchiveData {
            url: spec.url.clone(),
            error: None,
        };
        assert_eq!(
            dispatcher.on_message(data),
            vec![Effect::Unpack { spec: spec.clone() }]
        );
        assert_eq!(dispatcher.on_unpacked(Ok(())), vec![effect_run(1)]);
    }

    #[test]
    fn archive_bytes_before_python_unpack_when_it_is_ready() {
        let mut dispatcher = Dispatcher::default();
        dispatcher.on_message(init());
        let spec = archive("https://a.test/p.zip");
        dispatcher.on_message(ToWorker::Archive { spec: spec.clone() });
        dispatcher.on_message(run(1));
        let data = ToWorker::ArchiveData {
            url: spec.url.clone(),
            error: None,
        };
        assert_eq!(dispatcher.on_message(data), vec![]);
        let effects = dispatcher.on_booted("v".into(), Transport::Atomics, false);
        assert_eq!(effects.last(), Some(&Effect::Unpack { spec }));
    }

    #[test]
    fn a_failed_archive_drops_its_runs_and_later_runs_go_ahead() {
        let mut dispatcher = Dispatcher::default();
        dispatcher.on_message(init());
        dispatcher.on_booted("v".into(), Transport::Atomics, false);
        let spec = archive("https://a.test/p.zip");
        dispatcher.on_message(ToWorker::Archive { spec: spec.clone() });
        dispatcher.on_message(run(1));
        dispatcher.on_message(ToWorker::ArchiveData {
            url: spec.url.clone(),
            error: None,
        });
        let error = ErrorPayload::new(ErrorKind::Archive, "bad zip");
        assert_eq!(
            dispatcher.on_unpacked(Err(error.clone())),
            vec![Effect::Post(FromWorker::ArchiveFailed { error })]
        );
        assert_eq!(dispatcher.on_message(run(2)), vec![effect_run(2)]);

        // The page could not download it: same, without an unpack.
        let mut dispatcher = Dispatcher::default();
        dispatcher.on_message(init());
        dispatcher.on_booted("v".into(), Transport::Atomics, false);
        dispatcher.on_message(ToWorker::Archive { spec: spec.clone() });
        dispatcher.on_message(run(1));
        let failed = ToWorker::ArchiveData {
            url: spec.url,
            error: Some("HTTP 404".into()),
        };
        assert_eq!(dispatcher.on_message(failed), vec![]);
        assert_eq!(dispatcher.on_message(run(2)), vec![effect_run(2)]);
    }
}
