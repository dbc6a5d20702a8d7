//! State shared by the tests of one test binary: one lazily launched [`Browser`] (used by one test at a time) and
//! one isolated plus one non-isolated [`Server`], so Chromium starts once and Pyodide stays in its HTTP cache.

use crate::browser::Browser;
use crate::server::{Server, ServerOptions};
use anyhow::{anyhow, Result};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Lazily created browser and servers; drop it before the process exits so the browser quits cleanly.
#[derive(Default)]
pub struct Suite {
    /// `None` until first use; `Some(Err)` remembers a failed launch so later tests fail fast with the same reason.
    browser: Mutex<Option<std::result::Result<Browser, String>>>,
    isolated: OnceLock<std::result::Result<Server, String>>,
    not_isolated: OnceLock<std::result::Result<Server, String>>,
}

impl std::fmt::Debug for Suite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Suite").finish_non_exhaustive()
    }
}

impl Suite {
    /// Nothing is started until first use.
    pub fn new() -> Suite {
        Suite::default()
    }

    /// Runs `f` with exclusive use of the shared browser, launching it on first use. Before `f`, the browser is
    /// reset to `about:blank` with an empty console, so each test starts clean.
    pub fn with_browser<T>(&self, f: impl FnOnce(&Browser) -> Result<T>) -> Result<T> {
        let mut slot = self.browser.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = slot.get_or_insert_with(|| Browser::launch().map_err(|e| crate::report(&e)));
        let browser = entry
            .as_ref()
            .map_err(|e| anyhow!("the browser could not be launched:\n{e}"))?;
        browser.reset()?;
        f(browser)
    }

    /// The shared cross-origin isolated (`true`) or non-isolated (`false`) server on an ephemeral port.
    pub fn server(&self, isolated: bool) -> Result<&Server> {
        let (cell, options) = if isolated {
            (&self.isolated, ServerOptions::isolated())
        } else {
            (&self.not_isolated, ServerOptions::not_isolated())
        };
        cell.get_or_init(|| Server::start(options).map_err(|e| crate::report(&e)))
            .as_ref()
            .map_err(|e| anyhow!("the test server could not start:\n{e}"))
    }
}
