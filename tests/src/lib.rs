//! Host-side test harness for `<python-runner>`: a static COOP/COEP test server ([`server`]) and headless
//! Chromium, Firefox ESR and WebKitGTK over WebDriver ([`browser`], [`engine`]), used by `tests/harness.rs`, `tests/e2e/` and the `serve` binary.

pub mod browser;
pub mod engine;
pub mod server;
pub mod suite;

pub use browser::{
    proc_kib_field, proc_stat_pgrp, Browser, BrowserMemory, BrowserOptions, ConsoleEntry,
};
pub use engine::{Engine, EnginePaths};
/// WebDriver's special keys, for [`Browser::press`] and [`Browser::type_keys`].
pub use fantoccini::key::Key;
pub use server::{workspace_root, RequestRecord, Server, ServerOptions};
pub use suite::Suite;

/// An error with its chain of causes, one per line, without the backtrace that `{:?}` adds when
/// `RUST_BACKTRACE` is set (the causes carry the useful context: page URL, console, server log).
pub fn report(error: &anyhow::Error) -> String {
    let mut out = error.to_string();
    for cause in error.chain().skip(1) {
        out.push_str("\ncaused by: ");
        out.push_str(&cause.to_string());
    }
    out
}
