//! Messages between the `<python-runner>` element (page) and its worker, shared by both sides.
//!
//! The wire format is a plain structured-clone object per message, tagged by `type`
//! (`#[serde(tag = "type", rename_all = "snake_case")]`), so devtools, the demo and Python can
//! read it. Both sides encode with `serde-wasm-bindgen` in exactly one function per direction.
//! Changing any type here changes the wire format: bump [`PROTOCOL_VERSION`] and the snapshot
//! in `tests/wire_format.rs`.
#![deny(missing_docs)]

pub mod archive;
#[cfg(feature = "js")]
pub mod atomics;
#[cfg(feature = "js")]
pub mod js;
#[cfg(feature = "json")]
pub mod json;
#[cfg(feature = "js")]
pub mod snapshot;
pub mod sync;
pub mod wire;

use serde::{Deserialize, Serialize};

pub use archive::ArchiveSpec;
pub use sync::{Reply, TooLarge, Transport};
pub use wire::{DecodeError, WireObject};

/// Version of the wire format, exchanged in [`ToWorker::Init`] and [`FromWorker::Ready`].
pub const PROTOCOL_VERSION: u32 = 11;

/// The key under which a message carries its one object that serde cannot (a `SharedArrayBuffer`
/// or an `ArrayBuffer`), beside its typed fields: `Init`'s shared memory, `ArchiveData`'s bytes,
/// the bytes of an `Output`'s picture.
pub const ATTACHMENT: &str = "attachment";

/// Where the worker reaches python-runner's service worker ([`Transport::ServiceWorker`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceWorkerRoute {
    /// The service worker's scope, absolute (the worker's own URL is a Blob URL).
    pub scope: String,
    /// This element's channel ID: the page posts replies for it, the worker reads them.
    pub channel: String,
}

/// Numbers the blocking waits (`input()`, `time.sleep`) of one worker, in order; a reply names
/// the wait it answers, so a late reply can never be taken for the answer to a later wait.
pub type WaitSeq = u32;

/// Identifies one run of code, chosen by the element, echoed in every reply about that run.
pub type RunId = u32;

/// Messages from the element to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// First message: where to load Pyodide from.
    ///
    /// With [`Transport::Atomics`] the posted object carries the `SharedArrayBuffer` laid out as
    /// in [`sync`] under [`ATTACHMENT`].
    Init {
        /// The element's [`PROTOCOL_VERSION`]; the worker refuses a different one.
        protocol: u32,
        /// Base URL of a Pyodide distribution (the folder holding `pyodide.mjs`), ending in `/`.
        pyodide_url: String,
        /// How Python blocks on the page for `input()` and `time.sleep`, and how Stop reaches it.
        transport: Transport,
        /// Where the service worker answers, with [`Transport::ServiceWorker`].
        service_worker: Option<ServiceWorkerRoute>,
        /// Whether Python starts from a memory snapshot, or this worker makes one.
        snapshot: Snapshot,
    },
    /// Run code in the element's `__main__` namespace (it persists across runs while this
    /// worker's Python lives).
    Run {
        /// Chosen by the element; echoed in [`FromWorker::Output`] and [`FromWorker::Done`].
        id: RunId,
        /// Python source code.
        code: String,
        /// How to run it.
        options: RunOptions,
    },
    /// An archive of the author's code will follow ([`ToWorker::ArchiveData`]): runs wait for it,
    /// so the code can import from it.
    Archive {
        /// Where it comes from, how to unpack it, and where to.
        spec: ArchiveSpec,
    },
    /// The archive announced by [`ToWorker::Archive`]: on success the posted object carries its
    /// `ArrayBuffer` under [`ATTACHMENT`]; on failure, `error` says why the
    /// page could not get it (already shown by the element), and runs go on without it.
    ArchiveData {
        /// The archive's URL, as in the spec.
        url: String,
        /// Why the page could not get it, if it could not.
        error: Option<String>,
    },
    /// Stop before the code started (the page pressed Stop while Python was still loading): if
    /// run `id` is queued, the worker drops it and answers [`FromWorker::Done`]; a run that has
    /// started is not affected (the page stops it through its transport once it is ready).
    Cancel {
        /// The run to drop.
        id: RunId,
    },
    /// Answers a [`FromWorker::Waiting`] through `postMessage` (the JSPI transport; the Atomics
    /// transport writes the same reply into shared memory instead).
    Reply {
        /// The wait being answered.
        seq: WaitSeq,
        /// The reply as JSON text, see [`Reply::to_json`].
        reply: String,
    },
}

/// What a worker does with the memory snapshot of a started Python (cached in the browser's
/// Cache API, keyed by Pyodide URL and version, bundle version and helper package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Snapshot {
    /// Start Python in full (`snapshot="off"`).
    Off,
    /// Start from the cached snapshot if there is a good one, else in full.
    Use,
    /// A throwaway worker: start Python in full, make the snapshot, store it, report
    /// [`FromWorker::SnapshotMade`]; it runs no code.
    Make,
}

/// How a [`ToWorker::Run`] runs its code (the element's attributes).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunOptions {
    /// A module to run as `__main__` instead of the code (`entry`, e.g. `mypkg.main`), usually
    /// from the author's archive.
    pub entry: Option<String>,
    /// Install what the code imports but is missing, with micropip, first (`install-imports`).
    pub install_imports: bool,
    /// The package index micropip uses instead of PyPI (`package-index`).
    pub package_index: Option<String>,
    /// Whose `__main__` the code runs in: one namespace per session, so elements that share a
    /// worker never see each other's variables.
    pub session: String,
    /// Forget the session's namespace first (the element last ran in another worker, so what
    /// this worker remembers of it is stale).
    pub fresh_session: bool,
}

/// Messages from the worker to the element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// Pyodide is loaded and the helper package installed; runs are accepted.
    Ready {
        /// The worker's [`PROTOCOL_VERSION`]; the element refuses a different one.
        protocol: u32,
        /// `pyodide.version` as reported by the loaded runtime.
        pyodide_version: String,
        /// The transport in use: the one asked for, or [`Transport::None`] if the worker
        /// found it unusable.
        transport: Transport,
        /// Whether Python started from the cached memory snapshot.
        warm: bool,
    },
    /// The snapshot worker ([`Snapshot::Make`]) made the snapshot: its bytes (a `Uint8Array`)
    /// travel, transferred, under [`ATTACHMENT`], and the page stores them under `key` (WebKit
    /// drops a Cache API entry that a dedicated worker wrote once that worker ends).
    SnapshotMade {
        /// Its size.
        bytes: f64,
        /// How long `makeMemorySnapshot` took, ms.
        make_ms: f64,
        /// Where it belongs in the cache (see `snapshot::key`).
        key: String,
    },
    /// How far Python's own downloads have come while it starts (Pyodide's wasm and standard
    /// library, fetched by the worker), for the element's progress bar; sent at most every
    /// 100 ms, and once more when they are complete.
    Loading {
        /// Bytes received so far.
        received: f64,
        /// Bytes announced so far (`Content-Length` of every download started).
        total: f64,
    },
    /// A batch of output from a run, in order.
    Output {
        /// The run that produced it.
        id: RunId,
        /// Consecutive parts; a part's type differs from its neighbour's.
        parts: Vec<OutputPart>,
    },
    /// Python is blocked until the page replies (input) or the time is up (sleep).
    Waiting {
        /// The run that waits.
        id: RunId,
        /// Names this wait; the reply must carry it.
        seq: WaitSeq,
        /// What Python waits for.
        reason: WaitReason,
    },
    /// The archive could not be unpacked; queued runs were dropped, later runs go on without it.
    ArchiveFailed {
        /// What went wrong (kind [`ErrorKind::Archive`]).
        error: ErrorPayload,
    },
    /// A run ended (normally or with a Python exception, which came as output before).
    Done {
        /// The run that ended.
        id: RunId,
        /// The exception that ended it; `None` when it ran to the end (or was cancelled).
        exception: Option<PythonException>,
    },
    /// Something failed outside Python code: loading Pyodide, a protocol mismatch, an internal error.
    Failed {
        /// The run it concerns, if any; `None` for boot failures.
        id: Option<RunId>,
        /// What went wrong.
        error: ErrorPayload,
    },
}

/// Why Python is blocked in a [`FromWorker::Waiting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// `input()` or a read from `sys.stdin`: the page shows an input field.
    Input,
    /// `time.sleep`: nothing to answer, but Stop may cut it short.
    Sleep,
    /// Backpressure: the worker has posted [`DRAIN_MESSAGES`] output messages or
    /// [`DRAIN_BYTES`] of output text since the last drain, and Python waits until the page has
    /// taken them (the page answers as soon as it reads this, having read everything before it),
    /// so a program printing faster than the page can take it never queues more than that.
    Drain,
}

/// Output messages the worker posts before Python waits for the page ([`WaitReason::Drain`]).
/// Also what a Stop during a flood waits behind: the page reads them before the traceback
/// (1,024 took it past 50 ms on a loaded 2-core machine; each drain costs about a round trip).
pub const DRAIN_MESSAGES: u32 = 256;

/// Bytes of output text (UTF-8) the worker posts before Python waits for the page.
pub const DRAIN_BYTES: usize = 1 << 20;

/// One piece of output, as produced by the Python side's output buffer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputPart {
    /// What kind of text this is; decides how it is shown.
    #[serde(rename = "type")]
    pub kind: PartKind,
    /// The text, shown literally (never parsed as HTML); a picture's alt text.
    pub text: String,
    /// A picture's MIME type (`image/png`, `image/svg+xml`, …); its bytes travel as the
    /// message's [`ATTACHMENT`], moved, not copied. `None` for text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
}

impl OutputPart {
    /// A part of text.
    pub fn new(kind: PartKind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
            mime: None,
        }
    }
}

/// Kinds of output part (python_runner's part types, plus ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartKind {
    /// `sys.stdout`.
    Stdout,
    /// `sys.stderr`.
    Stderr,
    /// A formatted uncaught exception.
    Traceback,
    /// A formatted `SyntaxError` raised while compiling the code.
    SyntaxError,
    /// The prompt passed to `input()`.
    InputPrompt,
    /// A line the user entered, including its newline.
    Input,
    /// A message from python-runner itself (e.g. "Python was restarted"), never from Python.
    Notice,
    /// Progress of installing the code's imports (`install-imports`).
    Install,
    /// A picture (Python's `display()`, matplotlib's `show()`): `text` is its alt text.
    Image,
    /// A custom part type from user code; shown like stdout.
    #[serde(other)]
    Other,
}

/// The exception that ended a run, named as the last line of its traceback names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonException {
    /// Its type, qualified by its module unless builtin (`ValueError`, `json.decoder.JSONDecodeError`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// `str()` of it (a `SyntaxError`'s `msg`); may be empty.
    pub message: String,
}

impl PythonException {
    /// `type` or `type: message`: the last line of the traceback.
    pub fn line(&self) -> String {
        if self.message.is_empty() {
            self.type_name.clone()
        } else {
            [self.type_name.as_str(), ": ", self.message.as_str()].concat()
        }
    }

    /// Whether it is the `KeyboardInterrupt` that Stop raises.
    pub fn is_keyboard_interrupt(&self) -> bool {
        self.type_name == "KeyboardInterrupt"
    }
}

/// An error as data: it crosses the worker boundary without live references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorPayload {
    /// Broad category, for programs reacting to the error.
    pub kind: ErrorKind,
    /// One human-readable sentence.
    pub message: String,
    /// Optional longer detail (a JS stack, a Python traceback).
    pub detail: Option<String>,
}

/// Broad categories of [`ErrorPayload`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Pyodide could not be loaded from the given URL.
    PyodideLoad,
    /// The two sides speak different protocol versions.
    Protocol,
    /// The worker itself failed (panic, script error, crash).
    Worker,
    /// An internal error while running code (not a Python exception in user code).
    Internal,
    /// User code raised an exception (shown as a traceback in the output).
    Python,
    /// The author's archive (`src`) could not be downloaded, verified or unpacked.
    Archive,
}

impl ErrorPayload {
    /// An error without detail.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            detail: None,
        }
    }
}
