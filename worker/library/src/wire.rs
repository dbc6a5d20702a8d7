//! sync-message's wire, which python-runner.mjs speaks so existing pages, workers and service
//! workers interoperate: the service-worker URLs and version, the Atomics channel's two cells,
//! `readMessage`'s option defaults, and the retry schedule of `loadPyodideAndPackage`.
//!
//! Plain Rust, unit-tested natively.

use python_runner_protocol::sync::ServiceWorkerUrls;

/// The substring that marks a sync-message request to the service worker (the element's
/// service-worker transport uses the same wire).
pub const SERVICE_WORKER_MARKER: &str = ServiceWorkerUrls::MARKER;

/// The protocol version a sync-message service worker puts in every answer.
pub const SERVICE_WORKER_VERSION: &str = ServiceWorkerUrls::VERSION;

/// Default size of an Atomics channel's data buffer (128 KiB). `makeAtomicsChannel` in
/// `bundle/templates/library.js` has a copy, and the docs state it; `bundle/tests/templates.rs`
/// checks them, as it checks those of the other defaults here.
pub const DEFAULT_BUFFER_SIZE: u32 = 128 * 1024;

/// Default grace period (ms) of a service-worker channel while its service worker starts.
pub const DEFAULT_SERVICE_WORKER_TIMEOUT: f64 = 5000.0;

/// `readMessage`'s default `checkTimeout` (ms) without a `checkInterrupt`.
pub const DEFAULT_CHECK_TIMEOUT: f64 = 5000.0;

/// `readMessage`'s default `checkTimeout` (ms) with a `checkInterrupt`.
pub const DEFAULT_CHECK_TIMEOUT_WITH_INTERRUPT: f64 = 100.0;

/// The Atomics channel's `meta` cells: the payload's byte length and the "message ready" flag.
/// The payload is in a buffer of its own (`data`). The framing code (bytes, length cell,
/// `Atomics.wait`/`notify`) is the protocol crate's `atomics.rs`, shared with the element's
/// transport, whose layout differs on purpose (`atomics.rs` says why).
pub const META_LENGTH: u32 = 0;
/// See [`META_LENGTH`].
pub const META_READY: u32 = 1;

/// sync-message's error for a message larger than the channel's data buffer.
pub const TOO_BIG: &str = "Message is too big, increase bufferSize when making channel.";

/// `readMessage`'s options after sync-message's defaults: anything not `> 0` is the default.
#[derive(Debug, PartialEq)]
pub struct ReadOptions {
    /// Longest single wait (ms) between `checkInterrupt` calls.
    pub check_timeout: f64,
    /// Overall limit (ms); infinite by default.
    pub timeout: f64,
}

impl ReadOptions {
    /// `check_timeout` defaults to [`DEFAULT_CHECK_TIMEOUT_WITH_INTERRUPT`] with a `checkInterrupt`,
    /// [`DEFAULT_CHECK_TIMEOUT`] without.
    pub fn new(
        has_check_interrupt: bool,
        check_timeout: Option<f64>,
        timeout: Option<f64>,
    ) -> Self {
        let positive = |value: Option<f64>| value.filter(|value| *value > 0.0);
        Self {
            check_timeout: positive(check_timeout).unwrap_or(if has_check_interrupt {
                DEFAULT_CHECK_TIMEOUT_WITH_INTERRUPT
            } else {
                DEFAULT_CHECK_TIMEOUT
            }),
            timeout: positive(timeout).unwrap_or(f64::INFINITY),
        }
    }
}

/// p-retry 5's schedule as pyodide-worker-runner uses it (`retries: 3`, factor 2, 1 s first):
/// the wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed, or `None`
/// when there are no attempts left.
pub fn retry_delay(attempt: u32) -> Option<f64> {
    const RETRIES: u32 = 3;
    (1..=RETRIES)
        .contains(&attempt)
        .then(|| 1000.0 * f64::from(1u32 << (attempt - 1)))
}

/// Whether p-retry would retry after a `TypeError` with `message`: only network errors are
/// retried; other `TypeError`s are programming errors.
pub fn is_network_type_error(message: &str) -> bool {
    [
        "Failed to fetch",
        "NetworkError when attempting to fetch resource.",
        "The Internet connection appears to be offline.",
        "Load failed",
        "Network request failed",
        "fetch failed",
        "terminated",
    ]
    .iter()
    .any(|known| message == *known || message.starts_with(&format!("{known} ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_options_take_sync_messages_defaults() {
        assert_eq!(
            ReadOptions::new(false, None, None),
            ReadOptions {
                check_timeout: 5000.0,
                timeout: f64::INFINITY
            }
        );
        assert_eq!(
            ReadOptions::new(true, Some(-1.0), Some(0.0)).check_timeout,
            100.0
        );
        assert_eq!(
            ReadOptions::new(true, Some(10.0), Some(300.0)),
            ReadOptions {
                check_timeout: 10.0,
                timeout: 300.0
            }
        );
        assert_eq!(
            ReadOptions::new(false, Some(f64::NAN), None).check_timeout,
            5000.0
        );
    }

    #[test]
    fn retries_three_times_with_doubling_waits() {
        let delays: Vec<Option<f64>> = (1..=4).map(retry_delay).collect();
        assert_eq!(delays, vec![Some(1000.0), Some(2000.0), Some(4000.0), None]);
        assert_eq!(retry_delay(0), None);
    }

    #[test]
    fn only_network_type_errors_are_retried() {
        assert!(is_network_type_error("Failed to fetch"));
        assert!(is_network_type_error("Load failed"));
        assert!(!is_network_type_error("x is not a function"));
    }
}
