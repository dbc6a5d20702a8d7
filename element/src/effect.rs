//! What the state machine decides: the [`Effect`]s the glue carries out, the element's
//! [`Status`] and DOM events, and the texts it shows. Plain Rust.

use python_runner_protocol::{
    ErrorKind, FromWorker, OutputPart, PartKind, Reply, RunId, Transport, WaitSeq,
};

/// What a worker said when it had loaded Python (its `Ready` message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booted {
    /// The protocol version the worker speaks.
    pub protocol: u32,
    /// `pyodide.version`.
    pub pyodide_version: String,
    /// How the worker waits for the page.
    pub transport: Transport,
    /// Whether Python started from the cached memory snapshot.
    pub warm: bool,
}

impl Booted {
    /// What a worker's `Ready` message says, if `message` is one.
    pub fn of(message: &FromWorker) -> Option<Booted> {
        match message {
            FromWorker::Ready {
                protocol,
                pyodide_version,
                transport,
                warm,
            } => Some(Booted {
                protocol: *protocol,
                pyodide_version: pyodide_version.clone(),
                transport: *transport,
                warm: *warm,
            }),
            _ => None,
        }
    }

    /// The `Ready` message that said this.
    pub fn message(&self) -> FromWorker {
        FromWorker::Ready {
            protocol: self.protocol,
            pyodide_version: self.pyodide_version.clone(),
            transport: self.transport,
            warm: self.warm,
        }
    }
}

/// How long Stop waits for `KeyboardInterrupt` to end a run before it replaces the worker.
pub const STOP_GRACE_MS: u32 = 1000;

/// The notice shown when Stop had to replace Python because this page cannot interrupt it.
pub const RESTARTED_NOTICE: &str = "Python was restarted to stop the program (this page cannot interrupt running code). Variables and imports from earlier runs are gone.";

/// Shown in an element's next run when another element's Stop replaced the Python holding its
/// namespace.
pub const SESSION_LOST_NOTICE: &str = "Python was restarted to stop another program on this page. Variables and imports from earlier runs are gone.";

/// Shown in an element's next run when the extra Python holding its namespace was shut down after
/// [`crate::pool::RETIRE_AFTER_MS`] unused.
pub const RETIRED_NOTICE: &str = "This snippet's Python was shut down after a minute unused, to free memory. Variables and imports from earlier runs are gone.";

/// Shown when Stop came while the run waited for a free Python.
pub const DEQUEUED_NOTICE: &str =
    "Stopped while waiting for a free Python: the program did not run.";

/// Shown when a run started in another Python because its own was busy with another program.
pub const MOVED_NOTICE: &str = "Another program on this page was using this snippet's Python, so this run started in a fresh one: variables and imports from earlier runs are not here.";

/// The notice shown when Stop came while Python was still loading and the run was dropped.
pub const CANCELLED_NOTICE: &str = "Stopped before Python was ready: the program did not run.";

/// The notice shown when Python did not react to Stop within [`STOP_GRACE_MS`].
pub const STUCK_NOTICE: &str = "Python did not stop within 1 second, so it was restarted. Variables and imports from earlier runs are gone.";

/// What the element is doing, reflected in the host's `state` attribute and `state` property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not connected to a document.
    Idle,
    /// Python is loading (or the code is not known yet).
    Loading,
    /// Python is loaded and nothing has run yet (`manual` elements wait here for Run).
    Ready,
    /// Code is running.
    Running,
    /// The last run finished; Run runs again.
    Done,
    /// Python could not be started; Run tries again.
    Error,
}

impl Status {
    /// The value of the `state` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idle => "idle",
            Status::Loading => "loading",
            Status::Ready => "ready",
            Status::Running => "running",
            Status::Done => "done",
            Status::Error => "error",
        }
    }
}

/// Events dispatched on the host element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementEvent {
    /// `ready`: Python is loaded.
    Ready {
        /// `pyodide.version`.
        pyodide_version: String,
        /// Whether Python started from the cached memory snapshot.
        warm: bool,
    },
    /// `done`: a run finished.
    Done {
        /// The last line of the traceback when the code raised, e.g. `ZeroDivisionError: division by zero`.
        exception: Option<String>,
        /// Whether Stop ended the run (by `KeyboardInterrupt` or by restarting Python).
        stopped: bool,
    },
    /// `output`: a batch of what the program wrote, in order, all of it (the log may show less).
    Output {
        /// The parts, as Python wrote them.
        parts: Vec<OutputPart>,
    },
    /// `error`: something went wrong (Python could not start, the worker crashed, or the code raised).
    Error {
        /// Broad category.
        kind: ErrorKind,
        /// The sentence shown in the element.
        message: String,
    },
}

/// Something the JS-facing layer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start a worker (or adopt the spare) and send it `Init`; report with [`Machine::worker_spawned`](crate::machine::Machine::worker_spawned).
    SpawnWorker,
    /// Show whether the run waits for a free Python (every worker of its runtime is busy).
    ShowQueued(bool),
    /// Tell the machine when the element comes near the viewport ([`Machine::came_near`](crate::machine::Machine::came_near)).
    WatchViewport,
    /// Tell the worker just spawned that an archive is coming, download it (once per page) and
    /// deliver it; report with [`Machine::archive_downloaded`](crate::machine::Machine::archive_downloaded) or [`Machine::archive_failed`](crate::machine::Machine::archive_failed).
    AnnounceArchive,
    /// Make sure a spare worker is warming up for the next Stop that needs a fresh Python.
    WarmSpare,
    /// Show how this worker reaches Python (version and transport) in the diagnostics line.
    ShowDiagnostics(String),
    /// Terminate the worker (if any).
    TerminateWorker,
    /// Send `Run` to the worker.
    SendRun {
        /// Id of the new run.
        id: RunId,
        /// The code.
        code: String,
    },
    /// Show the input field for input request `seq` (after the prompt, already in the output).
    ShowInput {
        /// The wait the typed line answers.
        seq: WaitSeq,
    },
    /// Remove the input field, if shown.
    HideInput,
    /// Send a reply to a wait (the typed line, or Stop).
    SendReply {
        /// The wait answered.
        seq: WaitSeq,
        /// The reply.
        reply: Reply,
    },
    /// Ask the worker to drop run `run` if it has not started (Stop while Python loads).
    CancelRun {
        /// The run to drop.
        run: RunId,
    },
    /// Ask the worker to raise `KeyboardInterrupt` in run `run` (Atomics transport).
    Interrupt {
        /// The run to stop.
        run: RunId,
    },
    /// Call [`Machine::stop_grace_over`](crate::machine::Machine::stop_grace_over) for `run` after [`STOP_GRACE_MS`].
    StartStopTimer {
        /// The run being stopped.
        run: RunId,
    },
    /// Empty the output region.
    ClearOutput,
    /// Append output parts, as text.
    AppendOutput(Vec<OutputPart>),
    /// Show an element-level error message in the output region.
    ShowError(String),
    /// Reflect a new status.
    SetStatus(Status),
    /// Dispatch an event on the host (after the current callback returns).
    Dispatch(ElementEvent),
}

impl Effect {
    /// Appends `text` to the output as a notice from the element (not from Python).
    pub fn notice(text: &str) -> Self {
        Effect::AppendOutput(vec![OutputPart::new(PartKind::Notice, text)])
    }
}

/// The diagnostics line: the Pyodide version and what `input()` and Stop do on this transport.
pub fn diagnostics(version: &str, transport: Transport) -> String {
    let how = match transport {
        Transport::Atomics => "input() and Stop through shared memory (Atomics; the page is cross-origin isolated)",
        Transport::Jspi => "input() through JavaScript Promise Integration; Stop restarts Python when code is busy (the page is not cross-origin isolated)",
        Transport::ServiceWorker => "input() through python-runner's service worker; Stop restarts Python when code is busy",
        Transport::None => "input() is not available here, and Stop restarts Python",
    };
    ["Pyodide ", version, ": ", how].concat()
}
