//! Messages in shared memory (feature `js`): the framing both Atomics wires share, and the two
//! halves of the element's Atomics transport, so the element and the worker use one implementation.
//!
//! The framing: a message is UTF-8 text copied into a shared byte region ([`write_text`],
//! [`read_text`]), its byte length stored in an `Int32Array` cell, and the reader sleeps in
//! `Atomics.wait` on a cell the writer notifies ([`Cells`]).
//!
//! Two layouts use it, and they stay apart on purpose:
//!
//! - [`crate::sync::Layout`], the element's transport: one `SharedArrayBuffer` holding a header of
//!   cells and the reply bytes. [`AtomicsWriter`] (the page) writes, [`AtomicsReader`] (the worker)
//!   reads. A reply names the wait it answers (`SEQ`), so a late reply is dropped instead of
//!   answering the next `input()`; Stop shares the buffer (`INTERRUPT` is the cell Pyodide's
//!   `setInterruptBuffer` watches, `STOP_RUN` tells a fresh Stop from a stale one); the reader waits
//!   on a bell cell that every write changes, so nothing written after its checks is missed.
//! - sync-message's Atomics channel (the library, `worker/library/src/wire.rs`): two buffers, the
//!   bytes (`data`) and two `meta` cells (length and "ready"). Pages, workers and service workers
//!   built on the npm packages write and read it, so it keeps sync-message's layout exactly, with
//!   no sequence number and no interrupt cell.

use js_sys::{Atomics, Int32Array, SharedArrayBuffer, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::js::now;
use crate::sync::{Layout, TooLarge};
use crate::{Reply, RunId, WaitSeq};

/// Copies `text` as UTF-8 to the start of `region` (one copy, straight from wasm memory) and
/// returns its byte length; a text longer than the region is refused, never truncated.
pub fn write_text(region: &Uint8Array, text: &str) -> Result<u32, TooLarge> {
    let bytes = text.as_bytes();
    let limit = region.length();
    let length = u32::try_from(bytes.len())
        .ok()
        .filter(|length| *length <= limit)
        .ok_or(TooLarge {
            bytes: bytes.len(),
            limit: limit as usize,
        })?;
    region.subarray(0, length).copy_from(bytes);
    Ok(length)
}

/// The text in the first `length` bytes of `region` (clamped to it), copied out of shared memory:
/// `TextDecoder` refuses shared views; Rust does not.
pub fn read_text(region: &Uint8Array, length: i32) -> String {
    let length = u32::try_from(length).unwrap_or(0).min(region.length());
    String::from_utf8_lossy(&region.subarray(0, length).to_vec()).into_owned()
}

/// 32-bit cells of shared memory, read and written with `Atomics`.
pub struct Cells(Int32Array);

impl Cells {
    /// Wraps `cells`, an `Int32Array` over a `SharedArrayBuffer`.
    pub fn new(cells: Int32Array) -> Self {
        Cells(cells)
    }

    /// The cells as an `Int32Array`.
    pub fn array(&self) -> &Int32Array {
        &self.0
    }

    /// `Atomics.load`; 0 if the cell does not exist.
    pub fn load(&self, cell: u32) -> i32 {
        Atomics::load(&self.0, cell).unwrap_or_default()
    }

    /// `Atomics.store`.
    pub fn store(&self, cell: u32, value: i32) -> Result<(), JsValue> {
        Atomics::store(&self.0, cell, value).map(drop)
    }

    /// `Atomics.exchange`: stores `value`, returns what the cell held.
    pub fn exchange(&self, cell: u32, value: i32) -> Result<i32, JsValue> {
        Atomics::exchange(&self.0, cell, value)
    }

    /// Wakes every thread waiting on `cell`.
    pub fn notify(&self, cell: u32) -> Result<(), JsValue> {
        Atomics::notify(&self.0, cell).map(drop)
    }

    /// Rings the bell `cell`: adds 1 to it and wakes its waiters. A reader that loaded the bell
    /// before looking at the other cells cannot miss a write made after its look.
    pub fn ring(&self, cell: u32) -> Result<(), JsValue> {
        Atomics::add(&self.0, cell, 1)?;
        self.notify(cell)
    }

    /// Blocks while `cell` holds `expected`, at most `timeout_ms` (infinity waits for ever);
    /// `Ok(false)` when the time ran out. Throws where blocking is not allowed (a page's main
    /// thread).
    pub fn wait(&self, cell: u32, expected: i32, timeout_ms: f64) -> Result<bool, JsValue> {
        Ok(Atomics::wait_with_timeout(&self.0, cell, expected, timeout_ms)? != "timed-out")
    }
}

/// The cells of a [`Layout`] header over `buffer`.
fn header(buffer: &SharedArrayBuffer) -> Cells {
    Cells::new(Int32Array::new_with_byte_offset_and_length(
        buffer,
        0,
        Layout::HEADER_INTS,
    ))
}

/// The reply bytes of a [`Layout`] buffer.
fn reply_region(buffer: &SharedArrayBuffer) -> Uint8Array {
    Uint8Array::new_with_byte_offset_and_length(
        buffer,
        Layout::DATA_OFFSET,
        Layout::MAX_REPLY_BYTES as u32,
    )
}

/// The page's half of the Atomics transport: writes replies and Stop into the [`Layout`] buffer.
pub struct AtomicsWriter {
    buffer: SharedArrayBuffer,
    header: Cells,
    replies: Uint8Array,
}

impl AtomicsWriter {
    /// A new buffer (needs `SharedArrayBuffer`: a cross-origin isolated page).
    pub fn new() -> Result<Self, JsValue> {
        let buffer = SharedArrayBuffer::new(Layout::BUFFER_BYTES);
        Ok(Self {
            header: header(&buffer),
            replies: reply_region(&buffer),
            buffer,
        })
    }

    /// The shared buffer, for the worker's `Init` (its attachment).
    pub fn buffer(&self) -> &SharedArrayBuffer {
        &self.buffer
    }

    /// Writes `json` as the reply to wait `seq`, and wakes the reader. A reply larger than
    /// [`Layout::MAX_REPLY_BYTES`] is refused with [`TooLarge`]'s sentence.
    pub fn write(&self, seq: WaitSeq, json: &str) -> Result<(), JsValue> {
        let length =
            write_text(&self.replies, json).map_err(|error| JsValue::from(error.to_string()))?;
        self.header.store(Layout::LENGTH, length as i32)?;
        self.header.store(Layout::SEQ, seq as i32)?;
        self.header.store(Layout::FULL, 1)?;
        self.header.ring(Layout::BELL)
    }

    /// Asks Python to raise `KeyboardInterrupt` in run `run`, and wakes the reader.
    pub fn interrupt(&self, run: RunId) {
        let _ = self.header.store(Layout::STOP_RUN, run as i32);
        let _ = self.header.store(Layout::INTERRUPT, Layout::SIGINT);
        let _ = self.header.ring(Layout::BELL);
    }
}

/// The worker's half of the Atomics transport: blocks on the [`Layout`] buffer for replies.
pub struct AtomicsReader {
    header: Cells,
    replies: Uint8Array,
}

impl AtomicsReader {
    /// Wraps the shared buffer `Init` carries if it is a `SharedArrayBuffer` of the expected size.
    pub fn new(shared: &JsValue) -> Option<Self> {
        let buffer: SharedArrayBuffer = shared.clone().dyn_into().ok()?;
        if buffer.byte_length() != Layout::BUFFER_BYTES {
            return None;
        }
        Some(Self {
            header: header(&buffer),
            replies: reply_region(&buffer),
        })
    }

    /// The cell Pyodide watches for interrupts (`pyodide.setInterruptBuffer`).
    pub fn interrupt_buffer(&self) -> Int32Array {
        self.header
            .array()
            .subarray(Layout::INTERRUPT, Layout::INTERRUPT + 1)
    }

    /// Prepares for run `id`: a Stop meant for an earlier run must not interrupt this one.
    pub fn begin_run(&self, id: RunId) {
        if self.header.load(Layout::STOP_RUN) != id as i32 {
            let _ = self.header.store(Layout::INTERRUPT, 0);
        }
    }

    /// Blocks until the reply to wait `seq` arrives (its JSON text), Stop is pressed (an
    /// interrupted reply), or `timeout` milliseconds pass (`None`).
    pub fn wait(&self, seq: WaitSeq, timeout: Option<f64>) -> Option<String> {
        let deadline = timeout.map(|timeout| now() + timeout);
        loop {
            let bell = self.header.load(Layout::BELL);
            if self.header.load(Layout::INTERRUPT) != 0 {
                // Python raises KeyboardInterrupt itself; Pyodide must not raise a second one.
                let _ = self.header.store(Layout::INTERRUPT, 0);
                return Some(Reply::Interrupted.to_json());
            }
            if self.header.load(Layout::FULL) != 0 {
                let reply = (self.header.load(Layout::SEQ) as u32 == seq)
                    .then(|| read_text(&self.replies, self.header.load(Layout::LENGTH)));
                let _ = self.header.store(Layout::FULL, 0);
                match reply {
                    Some(reply) => return Some(reply),
                    None => continue, // a late reply to an earlier wait
                }
            }
            let remaining = match deadline {
                Some(deadline) => deadline - now(),
                None => f64::INFINITY,
            };
            if remaining <= 0.0 {
                return None;
            }
            let _ = self.header.wait(Layout::BELL, bell, remaining);
        }
    }
}
