//! Reading messages back from the wire without serde's `Deserialize`.
//!
//! Both sides encode with serde (`serde-wasm-bindgen` in the browser). Decoding goes through the
//! small [`WireObject`] trait instead: serde's derived `Deserialize` for tagged enums, together with
//! the error formatting it pulls in, was a quarter of the shipped wasm. `tests/wire_format.rs`
//! checks that `decode` reads back exactly what serde writes, for every variant.

use crate::{
    ArchiveSpec, ErrorKind, ErrorPayload, FromWorker, OutputPart, PartKind, PythonException, RunId,
    RunOptions, ServiceWorkerRoute, Snapshot, ToWorker, Transport, WaitReason,
};

/// Read access to one message object: a JS object in the browser (feature `js`), JSON in tests.
pub trait WireObject: Sized {
    /// The string at `key`, if it is one.
    fn string(&self, key: &str) -> Option<String>;
    /// The number at `key`, if it is one.
    fn number(&self, key: &str) -> Option<f64>;
    /// The boolean at `key`, if it is one.
    fn boolean(&self, key: &str) -> Option<bool>;
    /// The object at `key`, if it is one.
    fn object(&self, key: &str) -> Option<Self>;
    /// The array at `key`, if it is one.
    fn list(&self, key: &str) -> Option<Vec<Self>>;
}

/// Why a message could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl DecodeError {
    /// Field `field` is missing or has the wrong type.
    pub fn missing(field: &str) -> Self {
        DecodeError(["missing or invalid field `", field, "`"].concat())
    }
}

fn missing(field: &str) -> DecodeError {
    DecodeError::missing(field)
}

fn string(wire: &impl WireObject, key: &str) -> Result<String, DecodeError> {
    wire.string(key).ok_or_else(|| missing(key))
}

fn id(wire: &impl WireObject, key: &str) -> Result<u32, DecodeError> {
    let number = wire.number(key).ok_or_else(|| missing(key))?;
    if number.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&number) {
        Ok(number as u32)
    } else {
        Err(missing(key))
    }
}

fn transport(wire: &impl WireObject) -> Result<Transport, DecodeError> {
    Transport::from_wire(&string(wire, "transport")?).ok_or_else(|| missing("transport"))
}

fn optional_id(wire: &impl WireObject, key: &str) -> Result<Option<RunId>, DecodeError> {
    match wire.number(key) {
        None => Ok(None),
        Some(_) => id(wire, key).map(Some),
    }
}

impl ToWorker {
    /// Reads a message written by serde.
    pub fn decode(wire: &impl WireObject) -> Result<Self, DecodeError> {
        match string(wire, "type")?.as_str() {
            "init" => Ok(ToWorker::Init {
                protocol: id(wire, "protocol")?,
                pyodide_url: string(wire, "pyodide_url")?,
                transport: transport(wire)?,
                service_worker: match wire.object("service_worker") {
                    Some(route) => Some(ServiceWorkerRoute {
                        scope: string(&route, "scope")?,
                        channel: string(&route, "channel")?,
                    }),
                    None => None,
                },
                snapshot: match wire.string("snapshot").as_deref() {
                    Some("use") => Snapshot::Use,
                    Some("make") => Snapshot::Make,
                    Some("off") => Snapshot::Off,
                    _ => return Err(missing("snapshot")),
                },
            }),
            "run" => {
                let options = wire.object("options").ok_or_else(|| missing("options"))?;
                Ok(ToWorker::Run {
                    id: id(wire, "id")?,
                    code: string(wire, "code")?,
                    options: RunOptions {
                        entry: options.string("entry"),
                        install_imports: options.boolean("install_imports").unwrap_or(false),
                        package_index: options.string("package_index"),
                        session: options.string("session").unwrap_or_default(),
                        fresh_session: options.boolean("fresh_session").unwrap_or(false),
                    },
                })
            }
            "archive" => {
                let spec = wire.object("spec").ok_or_else(|| missing("spec"))?;
                Ok(ToWorker::Archive {
                    spec: ArchiveSpec {
                        url: string(&spec, "url")?,
                        format: string(&spec, "format")?,
                        extract_dir: string(&spec, "extract_dir")?,
                    },
                })
            }
            "archive_data" => Ok(ToWorker::ArchiveData {
                url: string(wire, "url")?,
                error: wire.string("error"),
            }),
            "cancel" => Ok(ToWorker::Cancel {
                id: id(wire, "id")?,
            }),
            "reply" => Ok(ToWorker::Reply {
                seq: id(wire, "seq")?,
                reply: string(wire, "reply")?,
            }),
            other => Err(DecodeError(["unknown message type `", other, "`"].concat())),
        }
    }
}

impl FromWorker {
    /// Reads a message written by serde.
    pub fn decode(wire: &impl WireObject) -> Result<Self, DecodeError> {
        match string(wire, "type")?.as_str() {
            "ready" => Ok(FromWorker::Ready {
                protocol: id(wire, "protocol")?,
                pyodide_version: string(wire, "pyodide_version")?,
                transport: transport(wire)?,
                warm: wire.boolean("warm").ok_or_else(|| missing("warm"))?,
            }),
            "snapshot_made" => Ok(FromWorker::SnapshotMade {
                bytes: wire.number("bytes").ok_or_else(|| missing("bytes"))?,
                make_ms: wire.number("make_ms").ok_or_else(|| missing("make_ms"))?,
                key: string(wire, "key")?,
            }),
            "loading" => Ok(FromWorker::Loading {
                received: wire.number("received").ok_or_else(|| missing("received"))?,
                total: wire.number("total").ok_or_else(|| missing("total"))?,
            }),
            "waiting" => Ok(FromWorker::Waiting {
                id: id(wire, "id")?,
                seq: id(wire, "seq")?,
                reason: match string(wire, "reason")?.as_str() {
                    "input" => WaitReason::Input,
                    "sleep" => WaitReason::Sleep,
                    "drain" => WaitReason::Drain,
                    _ => return Err(missing("reason")),
                },
            }),
            "output" => Ok(FromWorker::Output {
                id: id(wire, "id")?,
                parts: OutputPart::decode_list(wire)?,
            }),
            "archive_failed" => Ok(FromWorker::ArchiveFailed {
                error: ErrorPayload::decode(
                    &wire.object("error").ok_or_else(|| missing("error"))?,
                )?,
            }),
            "done" => Ok(FromWorker::Done {
                id: id(wire, "id")?,
                exception: wire
                    .object("exception")
                    .map(|exception| PythonException::decode(&exception))
                    .transpose()?,
            }),
            "failed" => Ok(FromWorker::Failed {
                id: optional_id(wire, "id")?,
                error: ErrorPayload::decode(
                    &wire.object("error").ok_or_else(|| missing("error"))?,
                )?,
            }),
            other => Err(DecodeError(["unknown message type `", other, "`"].concat())),
        }
    }
}

impl OutputPart {
    /// Reads one part.
    pub fn decode(wire: &impl WireObject) -> Result<Self, DecodeError> {
        Ok(OutputPart {
            kind: PartKind::from_wire(&string(wire, "type")?),
            text: string(wire, "text")?,
            mime: wire.string("mime"),
        })
    }

    /// Reads the `parts` array of an object (an `Output` message, or Python's output event).
    pub fn decode_list(wire: &impl WireObject) -> Result<Vec<Self>, DecodeError> {
        wire.list("parts")
            .ok_or_else(|| missing("parts"))?
            .iter()
            .map(OutputPart::decode)
            .collect()
    }
}

impl PythonException {
    /// Reads `{type, message}`, as Python's `describe_exception` writes it.
    pub fn decode(wire: &impl WireObject) -> Result<Self, DecodeError> {
        Ok(Self {
            type_name: string(wire, "type")?,
            message: string(wire, "message")?,
        })
    }
}

impl ErrorPayload {
    /// Reads an error payload.
    pub fn decode(wire: &impl WireObject) -> Result<Self, DecodeError> {
        let kind = string(wire, "kind")?;
        Ok(ErrorPayload {
            kind: ErrorKind::from_wire(&kind).ok_or_else(|| missing("kind"))?,
            message: string(wire, "message")?,
            detail: wire.string("detail"),
        })
    }
}

impl PartKind {
    /// The kind named `name` on the wire; unknown names are [`PartKind::Other`].
    pub fn from_wire(name: &str) -> Self {
        match name {
            "stdout" => PartKind::Stdout,
            "stderr" => PartKind::Stderr,
            "traceback" => PartKind::Traceback,
            "syntax_error" => PartKind::SyntaxError,
            "input_prompt" => PartKind::InputPrompt,
            "input" => PartKind::Input,
            "notice" => PartKind::Notice,
            "install" => PartKind::Install,
            "image" => PartKind::Image,
            _ => PartKind::Other,
        }
    }
}

impl ErrorKind {
    /// The kind named `name` on the wire.
    pub fn from_wire(name: &str) -> Option<Self> {
        Some(match name {
            "pyodide_load" => ErrorKind::PyodideLoad,
            "protocol" => ErrorKind::Protocol,
            "worker" => ErrorKind::Worker,
            "internal" => ErrorKind::Internal,
            "python" => ErrorKind::Python,
            "archive" => ErrorKind::Archive,
            _ => return None,
        })
    }

    /// The name of this kind on the wire (and in `error` events' `detail.kind`).
    pub fn wire_name(self) -> &'static str {
        match self {
            ErrorKind::PyodideLoad => "pyodide_load",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Worker => "worker",
            ErrorKind::Internal => "internal",
            ErrorKind::Python => "python",
            ErrorKind::Archive => "archive",
        }
    }
}
