//! How Python in the worker blocks on the page: the transports, the reply format, and the layout
//! of the shared memory that the Atomics transport reads and writes.
//!
//! The element writes replies (the line typed for `input()`, or "interrupted" when the user
//! presses Stop); the worker reads them while Python is blocked. With [`Transport::Atomics`] the
//! reply goes through one `SharedArrayBuffer` ([`Layout`]); with [`Transport::Jspi`] it travels
//! as a [`crate::ToWorker::Reply`] message; with [`Transport::ServiceWorker`] the page posts it to
//! python-runner's service worker, which answers the worker's synchronous request for it
//! (sync-message's wire, [`ServiceWorkerUrls`]). Either way the text is [`Reply::to_json`], which the
//! Python side (`pyodide_worker_runner.run_code`) reads: `{"message": …}`, `{"interrupted": true}`
//! or `{"error": …}`, the shapes comsync uses.

use serde::{Deserialize, Serialize};

/// How Python blocks for `input()` / `time.sleep` and how Stop reaches running code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Cross-origin isolated page: `Atomics.wait` on shared memory, and Pyodide's interrupt
    /// buffer for Stop in running code.
    Atomics,
    /// JavaScript Promise Integration: the run is entered with `callPromising`, and Python
    /// suspends on a promise the worker resolves when the page's reply arrives. Stop works while
    /// Python waits; code that is busy is stopped by replacing the worker.
    Jspi,
    /// The page is controlled by python-runner's service worker: the worker waits in a
    /// synchronous request that the service worker holds until the page's reply arrives. Stop
    /// works while Python waits; code that is busy is stopped by replacing the worker.
    #[serde(rename = "service-worker")]
    ServiceWorker,
    /// Nothing can block: `input()` raises a clear error and Stop replaces the worker.
    None,
}

impl Transport {
    /// The name on the wire, in the `transport` attribute and property.
    pub fn wire_name(self) -> &'static str {
        match self {
            Transport::Atomics => "atomics",
            Transport::Jspi => "jspi",
            Transport::ServiceWorker => "service-worker",
            Transport::None => "none",
        }
    }

    /// The transport named `name`, as in the `transport` attribute.
    pub fn from_wire(name: &str) -> Option<Self> {
        Some(match name {
            "atomics" => Transport::Atomics,
            "jspi" => Transport::Jspi,
            "service-worker" => Transport::ServiceWorker,
            "none" => Transport::None,
            _ => return None,
        })
    }

    /// Whether running Python code can be interrupted in place (without replacing the worker).
    pub fn interrupts_running_code(self) -> bool {
        self == Transport::Atomics
    }

    /// Whether Python can wait for the page at all (`input()`, sleeping without spinning).
    pub fn can_block(self) -> bool {
        self != Transport::None
    }
}

/// An answer to a blocked `input()` or `time.sleep`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The line typed (for `input()`), or `None` when a sleep is over.
    Message(Option<String>),
    /// The user pressed Stop: Python raises `KeyboardInterrupt` where it waited.
    Interrupted,
    /// Nothing can answer; Python raises `RuntimeError` with this sentence.
    Error(String),
}

impl Reply {
    /// The reply as the JSON text the Python side parses.
    pub fn to_json(&self) -> String {
        match self {
            Reply::Message(None) => r#"{"message":null}"#.to_string(),
            Reply::Message(Some(text)) => ["{\"message\":", &json_string(text), "}"].concat(),
            Reply::Interrupted => r#"{"interrupted":true}"#.to_string(),
            Reply::Error(text) => ["{\"error\":", &json_string(text), "}"].concat(),
        }
    }
}

/// `text` as a JSON string literal (RFC 8259: quote, backslash and control characters escaped).
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let code = u32::from(c) as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[code >> 4]));
                out.push(char::from(HEX[code & 15]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The requests of the service-worker transport: sync-message's wire, so one service worker
/// (`bundle/templates/sync_message_sw.js`) serves the element and the library. The worker reads
/// reply `<channel>-<seq>` with a synchronous `POST <origin>/__SyncMessageServiceWorkerInput__/read`
/// of `{"messageId": id, "timeout": ms}`; the service worker answers 200 with
/// `{"message": <the reply's JSON text>, "version": "__sync-message-v2__"}` as soon as the page has
/// posted `{__SyncMessageServiceWorkerInput__: {messageId, message}}` to it, or 408 after `timeout`
/// ms (the worker then asks again, or, for a sleep, takes it as the end of the sleep). Any other
/// answer means the page is not controlled by a sync-message service worker.
pub struct ServiceWorkerUrls;

impl ServiceWorkerUrls {
    /// The path segment (and message key) that marks sync-message requests.
    pub const MARKER: &'static str = "__SyncMessageServiceWorkerInput__";
    /// The protocol version in every answer: a 200 without it is not the broker (another
    /// service worker, or none, let the request through to the server).
    pub const VERSION: &'static str = "__sync-message-v2__";
    /// The longest single wait for a reply, in ms; longer waits ask again.
    pub const POLL_MS: u32 = 10_000;

    /// The id of wait `seq` on channel `channel`.
    pub fn id(channel: &str, seq: crate::WaitSeq) -> String {
        format!("{channel}-{seq}")
    }

    /// The base URL of the channels under `scope` (a URL or path ending in `/`; empty means `/`).
    pub fn base_url(scope: &str) -> String {
        let scope = if scope.is_empty() { "/" } else { scope };
        [scope, Self::MARKER].concat()
    }

    /// The URL a reader POSTs to, for channels under `base_url`.
    pub fn read_url(base_url: &str) -> String {
        [base_url, "/read"].concat()
    }

    /// The body of a read of `id` that waits at most `timeout_ms`.
    pub fn read_body(id: &str, timeout_ms: u32) -> String {
        format!(
            "{{\"messageId\":{},\"timeout\":{timeout_ms}}}",
            json_string(id)
        )
    }
}

/// A reply too large for the shared buffer: refused with a clear error, never truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// Size of the encoded reply in bytes.
    pub bytes: usize,
    /// The most one reply may hold, [`Layout::MAX_REPLY_BYTES`].
    pub limit: usize,
}

impl std::fmt::Display for TooLarge {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "This input is too long ({} bytes); one input can hold at most {} bytes ({} MiB).",
            self.bytes,
            self.limit,
            self.limit >> 20
        )
    }
}

/// The Atomics transport's `SharedArrayBuffer`: a header of [`Layout::HEADER_INTS`] 32-bit cells,
/// then the reply bytes (UTF-8 JSON).
///
/// One reply slot. The writer (page) stores the bytes, then `LENGTH` and `SEQ`, then sets `FULL`
/// to 1, and rings the bell: adds 1 to `BELL` and notifies it. The reader (worker) reads `BELL`,
/// checks `INTERRUPT` and `FULL`, then waits for `BELL` to change, so nothing written after its
/// checks can be missed. It takes the reply only if `SEQ` names the wait it is in, and clears
/// `FULL` either way, so a late reply is dropped, not delivered to the next wait (an upstream
/// sync-message bug). Stop stores the run id in `STOP_RUN`, 2 (SIGINT) in `INTERRUPT` (the cell
/// Pyodide's `setInterruptBuffer` watches, so busy code stops too), and rings the bell to wake a
/// blocked read or sleep.
///
/// Both halves are in `atomics.rs` (feature `js`), which also says why this layout is not
/// sync-message's (the library's Atomics channel), although the two share their framing code.
pub struct Layout;

impl Layout {
    /// 1 while a reply is in the slot, 0 when it is empty.
    pub const FULL: u32 = 0;
    /// The [`crate::WaitSeq`] the reply in the slot answers.
    pub const SEQ: u32 = 1;
    /// Byte length of the reply in the slot.
    pub const LENGTH: u32 = 2;
    /// Pyodide's interrupt buffer: 2 (SIGINT) asks running Python to raise `KeyboardInterrupt`.
    pub const INTERRUPT: u32 = 3;
    /// The run the page asked to stop; lets the worker tell a fresh Stop from a stale one.
    pub const STOP_RUN: u32 = 4;
    /// Changes whenever the page writes anything; the reader waits on it.
    pub const BELL: u32 = 5;
    /// Number of 32-bit header cells.
    pub const HEADER_INTS: u32 = 8;
    /// Byte offset of the reply bytes.
    pub const DATA_OFFSET: u32 = Self::HEADER_INTS * 4;
    /// The most one reply may hold: 4 MiB, so a 1 MB line fits even in 3-byte characters.
    pub const MAX_REPLY_BYTES: usize = 4 << 20;
    /// Size of the whole buffer.
    pub const BUFFER_BYTES: u32 = Self::DATA_OFFSET + Self::MAX_REPLY_BYTES as u32;
    /// The value for [`Layout::INTERRUPT`] that raises `KeyboardInterrupt` (SIGINT).
    pub const SIGINT: i32 = 2;

    /// Checks that an encoded reply of `bytes` bytes fits the slot.
    pub fn check_fits(bytes: usize) -> Result<(), TooLarge> {
        if bytes > Self::MAX_REPLY_BYTES {
            Err(TooLarge {
                bytes,
                limit: Self::MAX_REPLY_BYTES,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_encode_as_the_python_side_expects() {
        assert_eq!(
            Reply::Message(Some("Bob".into())).to_json(),
            r#"{"message":"Bob"}"#
        );
        assert_eq!(Reply::Message(None).to_json(), r#"{"message":null}"#);
        assert_eq!(Reply::Interrupted.to_json(), r#"{"interrupted":true}"#);
        assert_eq!(
            Reply::Error("no \"input\"".into()).to_json(),
            r#"{"error":"no \"input\""}"#
        );
    }

    #[test]
    fn transport_names_round_trip() {
        for transport in [
            Transport::Atomics,
            Transport::Jspi,
            Transport::ServiceWorker,
            Transport::None,
        ] {
            assert_eq!(Transport::from_wire(transport.wire_name()), Some(transport));
        }
        assert_eq!(Transport::from_wire("carrier pigeon"), None);
    }

    #[test]
    fn service_worker_urls_are_sync_messages() {
        let id = ServiceWorkerUrls::id("c4f", 3);
        assert_eq!(id, "c4f-3");
        let base = ServiceWorkerUrls::base_url("http://a.test/");
        assert_eq!(base, "http://a.test/__SyncMessageServiceWorkerInput__");
        assert_eq!(
            ServiceWorkerUrls::read_url(&base),
            "http://a.test/__SyncMessageServiceWorkerInput__/read"
        );
        assert_eq!(
            ServiceWorkerUrls::base_url(""),
            "/__SyncMessageServiceWorkerInput__"
        );
        assert_eq!(
            ServiceWorkerUrls::read_body("a\"b-1", 250),
            r#"{"messageId":"a\"b-1","timeout":250}"#
        );
    }

    #[test]
    fn size_limit_is_a_clear_error() {
        assert_eq!(Layout::check_fits(Layout::MAX_REPLY_BYTES), Ok(()));
        let error = Layout::check_fits(Layout::MAX_REPLY_BYTES + 1).expect_err("too large");
        assert_eq!(
            error.to_string(),
            "This input is too long (4194305 bytes); one input can hold at most 4194304 bytes (4 MiB)."
        );
    }

    #[test]
    fn header_cells_are_distinct_and_inside_the_header() {
        let cells = [
            Layout::FULL,
            Layout::SEQ,
            Layout::LENGTH,
            Layout::INTERRUPT,
            Layout::STOP_RUN,
            Layout::BELL,
        ];
        for (index, cell) in cells.iter().enumerate() {
            assert!(*cell < Layout::HEADER_INTS);
            assert!(!cells[..index].contains(cell));
        }
        assert_eq!(Layout::DATA_OFFSET % 8, 0);
    }
}
