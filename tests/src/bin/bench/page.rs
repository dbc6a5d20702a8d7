//! Browser and page helpers every part of the bench shares: launching a browser, waiting for a bench page's
//! result, calling a step of a page's `window.__interact`, leaving a page between samples.

use crate::stats::Series;
use crate::text::first_line;
use anyhow::{bail, Context, Result};
use python_runner_tests::{report, Browser, BrowserOptions, Engine, Server};
use serde_json::{json, Value};
use std::time::Duration;

/// A sample that shows no output this long after navigation start counts as failed.
pub(crate) const SAMPLE_LIMIT: Duration = Duration::from_secs(60);
/// Pause after a sample, so the previous page's worker teardown does not overlap the next measurement.
const SETTLE_WARM: Duration = Duration::from_millis(300);

/// Waits for `window.__bench` (a Promise) without polling, so the tool adds no load while the page works.
pub(crate) const RESULT_JS: &str = r#"
const done = arguments[arguments.length - 1];
const limit = Math.max(0, LIMIT_MS - performance.now());
const timer = setTimeout(() => done({ ok: false, error: `no output within ${LIMIT_MS / 1000} s of navigation start` }), limit);
const finish = (result) => { clearTimeout(timer); done(result); };
if (!window.__bench) {
  finish({ ok: false, error: "window.__bench is not set (did the page's script fail?)" });
} else {
  Promise.resolve(window.__bench).then(finish, (e) => finish({ ok: false, error: (e && e.stack && e.stack.startsWith(String(e)) ? e.stack : String(e) + (e && e.stack ? "\n" + e.stack : "")) }));
}
"#;

/// Launches a browser for a part of the bench; the error (also printed) skips that part.
pub(crate) fn launch_browser(engine: Engine) -> Result<Browser, String> {
    Browser::launch_with(BrowserOptions::for_engine(engine)).map_err(|e| {
        let error = format!("could not launch the browser: {}", report(&e));
        eprintln!("  {error}");
        error
    })
}

/// Leaves the page, so its workers are gone before the next sample, and waits for that.
pub(crate) fn settle_warm(browser: &Browser) {
    let _ = browser.goto("about:blank");
    std::thread::sleep(SETTLE_WARM);
}

/// The console's errors so far, or a note that the console could not be read.
pub(crate) fn console_errors(browser: &Browser) -> Vec<String> {
    browser
        .console_errors()
        .unwrap_or_else(|e| vec![format!("(console unavailable: {e:#})")])
}

/// Calls `window.__interact.<call>` on the current page (`page`, its file name for errors) and waits for its
/// result; an `{ ok: false }` result is an error.
pub(crate) fn page_step(browser: &Browser, page: &str, call: &str) -> Result<Value> {
    let script = format!(
        "const done = arguments[arguments.length - 1];
         if (!window.__interact) done({{ ok: false, error: 'window.__interact is not set (did the page script fail?)' }});
         else window.__interact.{call}.then(done);"
    );
    let value = browser
        .eval_async(&script)
        .with_context(|| format!("{page}: {call}"))?;
    if value["ok"] != json!(true) {
        let error = value["error"]
            .as_str()
            .map_or_else(|| format!("unexpected result {value}"), str::to_owned);
        bail!("{page}: {call}: {error}");
    }
    Ok(value)
}

/// The number `key` of a page result.
pub(crate) fn number(value: &Value, key: &str) -> Result<f64> {
    value[key]
        .as_f64()
        .with_context(|| format!("no number {key:?} in {value}"))
}

/// The list of numbers `key` of a page result (a batch of samples).
pub(crate) fn numbers(value: &Value, key: &str) -> Result<Vec<f64>> {
    value[key]
        .as_array()
        .with_context(|| format!("no list {key:?} in the result"))?
        .iter()
        .map(|x| {
            x.as_f64()
                .with_context(|| format!("{key}: {x} is not a number"))
        })
        .collect()
}

/// A part's run on one page, which a failed step makes reopen.
pub(crate) trait Reopens {
    /// Opens the part's page again, with fresh elements or clients.
    fn reopen(&mut self, browser: &Browser, server: &Server) -> Result<()>;
    /// Why the run was cut short, if it was.
    fn aborted(&mut self) -> &mut Option<String>;
}

/// A step failed: logs it, records it in the series `which` picks, and reopens the page so the
/// next sample starts fresh (a failed Stop or call may leave code running). Returns false when
/// even the reload failed, and records that the run was cut short.
pub(crate) fn record_failure<R: Reopens>(
    browser: &Browser,
    server: &Server,
    out: &mut R,
    which: impl Fn(&mut R) -> &mut Series,
    label: &str,
    error: &anyhow::Error,
) -> bool {
    let text = report(error);
    eprintln!("  {label:<40} FAILED: {}", first_line(&text));
    which(out).errors.push(text);
    settle_warm(browser);
    match out.reopen(browser, server) {
        Ok(()) => true,
        Err(e) => {
            let why = format!("reloading the page after a failure: {}", report(&e));
            eprintln!("  {why}");
            *out.aborted() = Some(why);
            false
        }
    }
}
