//! State shared by the tests of one test binary: one lazily launched [`Browser`] per engine (used by one test at a time) and
//! one isolated plus one non-isolated [`Server`], so each browser starts once and Pyodide stays in its HTTP cache;
//! a test that fails hands the next one a new browser.

use crate::browser::{Browser, BrowserOptions};
use crate::engine::Engine;
use crate::server::{Server, ServerOptions};
use anyhow::{anyhow, Context, Result};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::{Mutex, OnceLock, PoisonError};

/// A browser, not yet launched (`None`), launched, or failed to launch (the reason, so later tests fail fast).
type Launched = Option<std::result::Result<Browser, String>>;

/// Lazily created browsers and servers; drop it before the process exits so the browser quits cleanly.
#[derive(Default)]
pub struct Suite {
    /// `None` until first use; `Some(Err)` remembers a failed launch so later tests fail fast with the same reason.
    /// One per engine, each used by one test at a time.
    browsers: Mutex<HashMap<Engine, Arc<Mutex<Launched>>>>,
    isolated: OnceLock<std::result::Result<Server, String>>,
    not_isolated: OnceLock<std::result::Result<Server, String>>,
    /// The engines and servers (isolated or not) [`Suite::first_use`] has seen.
    used: Mutex<HashSet<(Engine, bool)>>,
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

    /// Runs `f` with exclusive use of the shared Chromium, launching it on first use (see [`Suite::with_engine`]).
    pub fn with_browser<T>(&self, f: impl FnOnce(&Browser) -> Result<T>) -> Result<T> {
        self.with_engine(Engine::Chromium, f)
    }

    /// Runs `f` with exclusive use of the shared browser of `engine`, launching it on first use. Before `f`, the
    /// browser is reset to `about:blank` with an empty console, so each test starts clean.
    pub fn with_engine<T>(
        &self,
        engine: Engine,
        f: impl FnOnce(&Browser) -> Result<T>,
    ) -> Result<T> {
        let cell = Arc::clone(
            self.browsers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(engine)
                .or_default(),
        );
        let mut slot = cell.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = slot.get_or_insert_with(|| {
            Browser::launch_with(BrowserOptions::for_engine(engine)).map_err(|e| crate::report(&e))
        });
        let browser = entry
            .as_ref()
            .map_err(|e| anyhow!("the browser could not be launched:\n{e}"))?;
        let result = browser
            .reset()
            .context("resetting the browser to about:blank (left stuck by an earlier test?)")
            .and_then(|()| f(browser));
        if result.is_err() {
            // A failed test may leave the browser wedged (a busy worker, a hung page load): the next test gets a
            // fresh one, which also has no origin's snapshot yet, so `first_use` holds again for this engine.
            println!("{engine}: the next test gets a new browser (this one failed)");
            *slot = None;
            self.used
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|(used, _)| *used != engine);
        }
        result
    }

    /// Whether this is the first call for `engine` on the `isolated` (or not) server: the first scenario of an
    /// origin in a browser (e.g. to leave the Python snapshot there that later scenarios start from).
    pub fn first_use(&self, engine: Engine, isolated: bool) -> bool {
        self.used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((engine, isolated))
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
