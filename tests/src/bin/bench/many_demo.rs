//! The many-runners part's demo row (issue "Many runners on one page"): on tests/fixtures/bench/many-demo.html,
//! the time until every auto-run element of the demo page (demo/index.html) has settled, against a page of one
//! auto-run element, in a window tall enough for the whole demo to be in view; and its row of the table.

use crate::many_wait::row;
use crate::page::{console_errors, number, RESULT_JS};
use crate::stats::{round3, Series};
use crate::text::{first_line, with_target, write_failures};
use anyhow::{bail, Result};
use python_runner_tests::{report, Browser, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

/// The bench page of this row (it loads the demo, or the one-element page, in a frame filling the window).
const PAGE: &str = "many-demo.html";
/// The window while this row's samples run: the whole demo (about 4,500 px tall at 1280 px wide) in the viewport,
/// so that lazy start (elements within 1.5 screens of the viewport) holds none back and every one starts at load.
const WINDOW: (u32, u32) = (1280, 6000);
/// The window the rest of the part uses (the browser's `--window-size`), restored afterwards.
const NORMAL_WINDOW: (u32, u32) = (1280, 900);
/// Loads of each page (demo, one element) per round of the part, alternating.
pub(crate) const LOADS_PER_ROUND: usize = 2;
/// On about:blank before each load: the previous page's workers are gone.
const BLANK_SETTLE: Duration = Duration::from_secs(1);
/// How long a load may take from navigation start (the page gives up after 110 s from its t0; the browser's
/// script timeout is 120 s).
const LIMIT: Duration = Duration::from_secs(115);
/// Target: the demo's time until every auto-run element settled / one element's (medians).
const TARGET_RATIO: f64 = 1.3;
/// What counts, for the table and the JSON.
const SETTLED: &str = "frame added -> every auto-run element (no manual attribute) settled: its done event (also after an exception), or an error event that is not a Python exception (the demo's element whose pyodide-url does not exist can never run); the demo's manual elements are not run, and none of its auto-run ones calls input()";

/// The two pages of the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loaded {
    /// demo/index.html.
    Demo,
    /// tests/fixtures/bench/many.html?n=1: one auto-run snippet.
    One,
}

impl Loaded {
    fn key(self) -> &'static str {
        match self {
            Loaded::Demo => "demo",
            Loaded::One => "one",
        }
    }
}

/// The samples of this row on one server.
#[derive(Debug)]
pub(crate) struct DemoRun {
    /// Frame added → the last auto-run element of the demo settled.
    demo: Series,
    /// The same for the page of one auto-run element.
    one: Series,
    /// Auto-run elements the demo had, per sample.
    auto_run: Vec<usize>,
    /// Each load's result as the page reported it (every element's times), with the console's errors.
    raw: Vec<Value>,
    warmup_error: Option<String>,
    /// The window could not be made tall (then nothing was measured).
    window_error: Option<String>,
}

impl DemoRun {
    pub(crate) fn new() -> DemoRun {
        DemoRun {
            demo: Series::new("demo", "demo page: every auto-run element settled", None),
            one: Series::new("one", "one auto-run element: settled", None),
            auto_run: Vec::new(),
            raw: Vec::new(),
            warmup_error: None,
            window_error: None,
        }
    }

    /// One sample of each page: the demo 3000 ms, one element 2000 ms.
    #[cfg(test)]
    pub(crate) fn sampled() -> DemoRun {
        let mut run = DemoRun::new();
        run.demo.values = vec![3000.0];
        run.one.values = vec![2000.0];
        run.auto_run = vec![9];
        run
    }

    fn series_mut(&mut self, loaded: Loaded) -> &mut Series {
        match loaded {
            Loaded::Demo => &mut self.demo,
            Loaded::One => &mut self.one,
        }
    }

    /// Demo / one element (medians).
    fn ratio(&self) -> Option<f64> {
        let one = self.one.median()?;
        (one > 0.0).then_some(self.demo.median()? / one)
    }

    fn pass(&self) -> Option<bool> {
        self.ratio().map(|r| r <= TARGET_RATIO)
    }

    /// Both pages have a sample.
    pub(crate) fn complete(&self) -> bool {
        self.window_error.is_none() && !self.demo.values.is_empty() && !self.one.values.is_empty()
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "demo": self.demo.to_json(),
            "one": self.one.to_json(),
            "ratio": self.ratio().map(round3),
            "target_ratio": TARGET_RATIO,
            "pass": self.pass(),
            "auto_run_elements": self.auto_run,
            "loads": self.raw,
            "warmup_error": self.warmup_error,
            "window_error": self.window_error,
            "complete": self.complete(),
        })
    }
}

/// This row's settings in the JSON.
pub(crate) fn settings_json() -> Value {
    json!({
        "page": format!("tests/fixtures/bench/{PAGE}"),
        "demo": "demo/index.html (served at /index.html)",
        "one": "tests/fixtures/bench/many.html?n=1&layout=visible",
        "window": format!("{}x{}", WINDOW.0, WINDOW.1),
        "loads_per_round": LOADS_PER_ROUND,
        "blank_settle_s": BLANK_SETTLE.as_secs_f64(),
        "measured": SETTLED,
        "target_ratio": TARGET_RATIO,
    })
}

/// One load of `loaded` in the frame on a fresh page: frame added → every auto-run element settled, ms, and the
/// page's report.
fn sample(browser: &Browser, server: &Server, loaded: Loaded) -> Result<(f64, Value)> {
    browser.goto("about:blank")?;
    std::thread::sleep(BLANK_SETTLE);
    let query = format!("?page={}", loaded.key());
    browser.goto(&server.url(&format!("/fixtures/bench/{PAGE}{query}")))?;
    let script = RESULT_JS.replace("LIMIT_MS", &LIMIT.as_millis().to_string());
    let raw = browser.eval_async(&script)?;
    if raw["ok"] != json!(true) {
        let error = raw["error"]
            .as_str()
            .map_or_else(|| format!("unexpected result {raw}"), str::to_owned);
        let unsettled = raw["elements"].as_array().map_or(0, |elements| {
            elements
                .iter()
                .filter(|e| e["manual"] == json!(false) && e["settled_ms"].is_null())
                .count()
        });
        bail!("{PAGE}{query}: {error} ({unsettled} auto-run elements not settled)");
    }
    Ok((number(&raw, "all_settled_ms")?, raw))
}

/// Which auto-run element settled last, for the log: its index among the page's elements and how.
fn last_settled(raw: &Value) -> String {
    let elements = raw["elements"].as_array().map_or(&[][..], Vec::as_slice);
    elements
        .iter()
        .enumerate()
        .filter(|(_, e)| e["manual"] == json!(false))
        .max_by(|(_, a), (_, b)| {
            let at = |e: &Value| e["settled_ms"].as_f64().unwrap_or(f64::NAN);
            at(a).total_cmp(&at(b))
        })
        .map_or_else(String::new, |(i, e)| {
            format!(
                "last: element {} of {} ({}, top {} px)",
                i + 1,
                elements.len(),
                e["how"].as_str().unwrap_or("?"),
                e["top"]
            )
        })
}

/// This row on one server, in the part's browser: the window made tall, a warm-up load of the demo, then per
/// round of the part [`LOADS_PER_ROUND`] loads of each page, alternating (one element first), and the window
/// restored. Never fails: problems are recorded in `out`.
pub(crate) fn run_demo(browser: &Browser, server: &Server, runs: usize, out: &mut DemoRun) {
    if let Err(e) = browser.set_window_size(WINDOW.0, WINDOW.1) {
        let text = report(&e);
        eprintln!("  {:<36} FAILED: {}", "many demo window", first_line(&text));
        out.window_error = Some(text);
        return;
    }
    // Warm-up (the demo's own files: its stylesheet, archive and HTML), unmeasured.
    let warm = sample(browser, server, Loaded::Demo);
    let _ = console_errors(browser);
    match warm {
        Ok((ms, _)) => eprintln!("  {:<36} {ms:.0} ms", "many demo warm-up"),
        Err(e) => {
            let text = report(&e);
            eprintln!(
                "  {:<36} FAILED: {}",
                "many demo warm-up",
                first_line(&text)
            );
            out.warmup_error = Some(text);
        }
    }
    let total = runs * LOADS_PER_ROUND;
    for n in 1..=total {
        for loaded in [Loaded::One, Loaded::Demo] {
            let what = format!("many demo {} {n}/{total}", loaded.key());
            let result = sample(browser, server, loaded);
            let errors = console_errors(browser);
            match result {
                Ok((ms, mut raw)) => {
                    eprintln!("  {what:<36} {ms:.0} ms, {}", last_settled(&raw));
                    if loaded == Loaded::Demo {
                        out.auto_run.push(
                            raw["auto_run"]
                                .as_u64()
                                .and_then(|n| usize::try_from(n).ok())
                                .unwrap_or(0),
                        );
                    }
                    raw["console_errors"] = json!(errors);
                    out.series_mut(loaded).values.push(ms);
                    out.raw.push(raw);
                }
                Err(e) => {
                    let text = report(&e);
                    eprintln!("  {what:<36} FAILED: {}", first_line(&text));
                    out.series_mut(loaded).errors.push(text);
                }
            }
        }
    }
    let _ = browser.goto("about:blank");
    if let Err(e) = browser.set_window_size(NORMAL_WINDOW.0, NORMAL_WINDOW.1) {
        eprintln!(
            "  many demo: restoring the window failed: {}",
            first_line(&report(&e))
        );
    }
}

/// The explanation of this row in the section's header.
pub(crate) fn header(out: &mut String, runs: usize) {
    let _ = writeln!(
        out,
        "  Demo page (tests/fixtures/bench/{PAGE}: demo/index.html, or many.html?n=1 for one element, in a frame filling a {}x{} window, so the whole demo is in view and lazy start holds nothing back; a fresh page per load, {} loads each, alternating, after a warm-up load): {SETTLED}; median ms",
        WINDOW.0,
        WINDOW.1,
        runs * LOADS_PER_ROUND
    );
}

/// This server's row.
pub(crate) fn rows(out: &mut String, server: &str, run: &DemoRun) {
    let mut counts: Vec<usize> = run.auto_run.clone();
    counts.sort_unstable();
    counts.dedup();
    let elements = match counts.as_slice() {
        [] => String::new(),
        [one] => format!(" ({one} elements)"),
        several => format!(
            " ({} elements)",
            several
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("/")
        ),
    };
    row(
        out,
        server,
        &format!("demo: every auto-run element done{elements}"),
        (run.demo.values.len(), run.demo.errors.len()),
        run.demo.median(),
        &format!(
            "one {} ({}/{})",
            run.one
                .median()
                .map_or_else(|| "-".into(), |m| format!("{m:.0}")),
            run.one.values.len(),
            run.one.errors.len()
        ),
        &with_target(
            run.ratio()
                .map_or_else(|| "-".into(), |r| format!("{r:.3} x one")),
            Some(format!("<= {TARGET_RATIO:.1}")),
            run.pass(),
        ),
    );
}

/// This server's failures of this row.
pub(crate) fn failures(out: &mut String, server_key: &str, run: &DemoRun) {
    if let Some(error) = &run.window_error {
        let _ = writeln!(out, "    {server_key} demo: FAILED: {}", first_line(error));
    }
    if let Some(error) = &run.warmup_error {
        let _ = writeln!(
            out,
            "    {server_key} demo warm-up load FAILED: {}",
            first_line(error)
        );
    }
    for series in [&run.demo, &run.one] {
        write_failures(
            out,
            &format!("{server_key} demo {}", series.key),
            &series.errors,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_target_and_row() {
        let mut run = DemoRun::new();
        assert!(!run.complete());
        run.demo.values = vec![2600.0, 2000.0];
        run.one.values = vec![1700.0, 1900.0, 1800.0];
        run.auto_run = vec![9, 9];
        assert!(run.complete());
        assert_eq!(run.ratio().map(round3), Some(1.278));
        assert_eq!(run.pass(), Some(true));
        let mut table = String::new();
        rows(&mut table, "isolated", &run);
        assert!(
            table.contains("every auto-run element done (9 elements)"),
            "{table}"
        );
        assert!(table.contains("one 1800 (3/0)"), "{table}");
        assert!(table.contains("1.278 x one <= 1.3 PASS"), "{table}");
        let raw = json!({ "elements": [
            { "manual": false, "settled_ms": 10.0, "how": "error", "top": 900 },
            { "manual": true, "settled_ms": null, "how": null, "top": 50 },
            { "manual": false, "settled_ms": 2000.0, "how": "done", "top": 40 },
        ]});
        assert_eq!(last_settled(&raw), "last: element 3 of 3 (done, top 40 px)");
        run.demo.values = vec![4000.0];
        assert_eq!(run.pass(), Some(false));
        assert_eq!(run.to_json()["pass"], json!(false));
    }
}
