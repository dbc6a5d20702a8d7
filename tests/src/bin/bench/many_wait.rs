//! The many-runners part's rows on nobody waiting (issue "Many runners on one page"): on
//! tests/fixtures/bench/many-wait.html, how soon element B shows its first output after Run while element A, in
//! the same runtime, waits in input() or spins in a busy loop, against B run alone on the idle page; and their rows
//! of the table (with the row formatting the demo row shares).

use crate::page::{number, page_step, record_failure, Reopens};
use crate::stats::{round3, Series};
use crate::text::{fine_ms, first_line, with_target, write_failures};
use anyhow::Result;
use python_runner_tests::{report, Browser, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The bench page of these rows.
const PAGE: &str = "many-wait.html";
/// Rounds on each page load, each one sample of every measurement: B alone, B while A waits in input(), B while
/// A is in a busy loop. A page load per round of the part (`--many-runs`).
pub(crate) const ROUNDS_PER_PAGE: usize = 3;
/// Target: B's first output after Run while A waits in input(), minus B's first output after Run alone (medians),
/// ms.
const TARGET_INPUT_OVER_ALONE_MS: f64 = 50.0;
/// Target: B's first output after Run while A is in a busy loop (median), ms.
const TARGET_BUSY_MS: f64 = 150.0;
/// How the page waits before each measured Run (many-wait.html's `settle()`), for the table and the JSON.
const SETTLED: &str = "every worker the page created (and did not terminate) has posted \"ready\" (loaded Python), none was created for 0.7 s and none terminated for 2.1 s: B's Python has booted before Run, its home worker or, when A holds that one, the pre-warmed spare, which then joins the runtime";

/// The samples of these rows on one server.
#[derive(Debug)]
pub(crate) struct WaitRun {
    /// Run → B's first output event, A idle.
    alone: Series,
    /// Run → B's first output event, A waiting in input().
    input: Series,
    /// Run → B's first output event, A in `while True: pass`.
    busy: Series,
    /// Per sample of `input` and `busy`: whether B took the spare (a worker was created right after B's run,
    /// the spare's replacement).
    input_spare: Vec<bool>,
    busy_spare: Vec<bool>,
    /// What each page load's `open()` reported (boot time, isolation, transport, workers).
    opened: Vec<Value>,
    /// Page loads (`open()`) that failed.
    open_errors: Vec<String>,
    /// Why the rounds stopped early (a page could not be reloaded after a failure).
    aborted: Option<String>,
}

impl WaitRun {
    pub(crate) fn new() -> WaitRun {
        WaitRun {
            alone: Series::new("b_alone", "B alone: Run -> B's first output", None),
            input: Series::new(
                "a_waits_in_input",
                "A waits in input(), run B: Run -> B's first output",
                None,
            ),
            busy: Series::new(
                "a_in_busy_loop",
                "A in a busy loop, run B: Run -> B's first output",
                Some(TARGET_BUSY_MS),
            ),
            input_spare: Vec::new(),
            busy_spare: Vec::new(),
            opened: Vec::new(),
            open_errors: Vec::new(),
            aborted: None,
        }
    }

    /// One sample of each measurement: B alone 5 ms, while A waits in input() 7 ms, while A is busy 7 ms.
    #[cfg(test)]
    pub(crate) fn sampled() -> WaitRun {
        let mut run = WaitRun::new();
        run.alone.values = vec![5.0];
        run.input.values = vec![7.0];
        run.busy.values = vec![7.0];
        run
    }

    /// B while A waits in input(), minus B alone (medians), ms.
    fn input_over_alone(&self) -> Option<f64> {
        Some(self.input.median()? - self.alone.median()?)
    }

    fn input_pass(&self) -> Option<bool> {
        self.input_over_alone()
            .map(|over| over <= TARGET_INPUT_OVER_ALONE_MS)
    }

    /// Every measurement has a sample and the rounds were not cut short.
    pub(crate) fn complete(&self) -> bool {
        self.aborted.is_none()
            && [&self.alone, &self.input, &self.busy]
                .iter()
                .all(|s| !s.values.is_empty())
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "b_alone": self.alone.to_json(),
            "a_waits_in_input": self.input.to_json(),
            "a_in_busy_loop": self.busy.to_json(),
            "input_minus_alone_ms": self.input_over_alone().map(round3),
            "target_input_minus_alone_ms": TARGET_INPUT_OVER_ALONE_MS,
            "input_pass": self.input_pass(),
            "target_busy_ms": TARGET_BUSY_MS,
            "busy_pass": self.busy.pass(),
            "input_b_took_spare": self.input_spare,
            "busy_b_took_spare": self.busy_spare,
            "pages": self.opened,
            "open_errors": self.open_errors,
            "aborted": self.aborted,
            "complete": self.complete(),
        })
    }
}

/// These rows' settings in the JSON.
pub(crate) fn settings_json() -> Value {
    json!({
        "page": format!("tests/fixtures/bench/{PAGE}"),
        "rounds_per_page": ROUNDS_PER_PAGE,
        "measured": "b.run() called -> B's first output event (it holds B's line), performance.now() of the page",
        "settled_before_run": SETTLED,
        "target_input_minus_alone_ms": TARGET_INPUT_OVER_ALONE_MS,
        "target_busy_ms": TARGET_BUSY_MS,
    })
}

impl Reopens for WaitRun {
    fn reopen(&mut self, browser: &Browser, server: &Server) -> Result<()> {
        open(browser, server, self)
    }

    fn aborted(&mut self) -> &mut Option<String> {
        &mut self.aborted
    }
}

/// Loads the page afresh: its three elements ready, B run once (unmeasured) and the spare booted.
fn open(browser: &Browser, server: &Server, out: &mut WaitRun) -> Result<()> {
    browser.goto(&server.url(&format!("/fixtures/bench/{PAGE}")))?;
    let opened = page_step(browser, PAGE, "open()")?;
    out.opened.push(opened);
    Ok(())
}

/// One measured step of the page (`alone`, `input` or `busy`): B's Run → first output, ms, and whether B took
/// the spare.
fn step(browser: &Browser, call: &str) -> Result<(f64, bool)> {
    let result = page_step(browser, PAGE, call)?;
    Ok((
        number(&result, "ms")?,
        result["spare_taken"].as_bool().unwrap_or(false),
    ))
}

/// The series a step of the page (`alone()`, `input()`, `busy()`) measures.
fn series_of<'a>(out: &'a mut WaitRun, call: &str) -> &'a mut Series {
    match call {
        "alone()" => &mut out.alone,
        "input()" => &mut out.input,
        _ => &mut out.busy,
    }
}

/// These rows on one server, in the part's browser: per round of the part a fresh page load, then
/// [`ROUNDS_PER_PAGE`] rounds of B alone, B while A waits in input() and B while A is in a busy loop. Never
/// fails: problems are recorded in `out`.
pub(crate) fn run_wait(browser: &Browser, server: &Server, runs: usize, out: &mut WaitRun) {
    let total = runs * ROUNDS_PER_PAGE;
    for page in 0..runs {
        if out.aborted.is_some() {
            return;
        }
        if let Err(e) = open(browser, server, out) {
            let text = report(&e);
            eprintln!(
                "  {:<36} FAILED: {}",
                format!("many wait page {}/{runs}", page + 1),
                first_line(&text)
            );
            out.open_errors.push(text);
            continue;
        }
        for round in 0..ROUNDS_PER_PAGE {
            let n = page * ROUNDS_PER_PAGE + round + 1;
            for call in ["alone()", "input()", "busy()"] {
                let what = format!("many wait {} {n}/{total}", call.trim_end_matches("()"));
                match step(browser, call) {
                    Ok((ms, spare)) => {
                        eprintln!(
                            "  {what:<36} {} ms{}",
                            fine_ms(ms),
                            if spare { " (B took the spare)" } else { "" }
                        );
                        series_of(out, call).values.push(ms);
                        match call {
                            "input()" => out.input_spare.push(spare),
                            "busy()" => out.busy_spare.push(spare),
                            _ => {}
                        }
                    }
                    Err(e) => {
                        if !record_failure(browser, server, out, |o| series_of(o, call), &what, &e)
                        {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// One row of the part's section on nobody waiting and the demo page.
pub(crate) fn row(
    out: &mut String,
    server: &str,
    case: &str,
    counts: (usize, usize),
    median: Option<f64>,
    baseline: &str,
    result: &str,
) {
    let _ = writeln!(
        out,
        "  {server:<13} {case:<46} {:>5} {:>9} {baseline:>19}   {result}",
        format!("{}/{}", counts.0, counts.1),
        median.map_or_else(|| "-".into(), fine_ms),
    );
}

/// The section's first explanation (nobody waits); `many_demo::header` and [`columns`] follow.
pub(crate) fn header(out: &mut String, runs: usize) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  Nobody waits (tests/fixtures/bench/{PAGE}, a fresh page per round, {} samples each: {runs} x {ROUNDS_PER_PAGE}): elements A and B, manual, one runtime (no runtime attribute); B's code print('b runs'); Run = b.run() -> B's first output event, median ms; settled before each Run: {SETTLED}",
        runs * ROUNDS_PER_PAGE
    );
}

/// The column header of the section (after both explanations).
pub(crate) fn columns(out: &mut String) {
    let _ = writeln!(
        out,
        "  {:<13} {:<46} {:>5} {:>9} {:>19}   result",
        "server", "case", "n/err", "median ms", "baseline"
    );
}

/// This server's rows: B while A waits in input() (against B alone) and while A is in a busy loop.
pub(crate) fn rows(out: &mut String, server: &str, run: &WaitRun) {
    let alone = run.alone.median();
    let over = run.input_over_alone();
    row(
        out,
        server,
        "A waits in input(), run B: B's first output",
        (run.input.values.len(), run.input.errors.len()),
        run.input.median(),
        &format!(
            "B alone {} ({}/{})",
            alone.map_or_else(|| "-".into(), fine_ms),
            run.alone.values.len(),
            run.alone.errors.len()
        ),
        &with_target(
            over.map_or_else(|| "-".into(), |o| format!("{o:+.1} ms over B alone")),
            Some(format!("<= {TARGET_INPUT_OVER_ALONE_MS:.0}")),
            run.input_pass(),
        ),
    );
    row(
        out,
        "",
        "A in a busy loop, run B: B's first output",
        (run.busy.values.len(), run.busy.errors.len()),
        run.busy.median(),
        "",
        &with_target(
            run.busy
                .median()
                .map_or_else(|| "-".into(), |m| format!("{} ms", fine_ms(m))),
            Some(format!("<= {TARGET_BUSY_MS:.0}")),
            run.busy.pass(),
        ),
    );
}

/// This server's note on where B ran (after the section's rows of the server).
pub(crate) fn notes(out: &mut String, server_key: &str, run: &WaitRun) {
    let took = |spare: &[bool]| spare.iter().filter(|taken| **taken).count();
    let _ = writeln!(
        out,
        "    {server_key} wait: B's Python at Run: the spare, taken then, in {} of {} input() samples and {} of {} busy-loop samples; else an idle worker of the runtime",
        took(&run.input_spare),
        run.input_spare.len(),
        took(&run.busy_spare),
        run.busy_spare.len()
    );
}

/// This server's failures of these rows.
pub(crate) fn failures(out: &mut String, server_key: &str, run: &WaitRun) {
    write_failures(out, &format!("{server_key} wait page"), &run.open_errors);
    for series in [&run.alone, &run.input, &run.busy] {
        write_failures(
            out,
            &format!("{server_key} wait {}", series.key),
            &series.errors,
        );
    }
    if let Some(why) = &run.aborted {
        let _ = writeln!(out, "    {server_key} wait: cut short: {}", first_line(why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_rows() {
        let mut run = WaitRun::new();
        assert!(!run.complete());
        run.alone.values = vec![5.0, 7.0, 6.0];
        run.input.values = vec![70.0, 60.0, 9.0];
        run.busy.values = vec![200.0];
        run.input_spare = vec![true, false, false];
        run.busy_spare = vec![false];
        assert!(run.complete());
        assert_eq!(run.input_over_alone(), Some(54.0));
        assert_eq!(run.input_pass(), Some(false));
        assert_eq!(run.busy.pass(), Some(false));
        let json = run.to_json();
        assert_eq!(json["input_pass"], json!(false));
        assert_eq!(json["a_in_busy_loop"]["median_ms"], json!(200.0));
        let mut table = String::new();
        columns(&mut table);
        rows(&mut table, "isolated", &run);
        notes(&mut table, "isolated", &run);
        assert!(table.contains("n/err median ms"), "{table}");
        assert!(!table.contains("0/0"), "{table}");
        assert!(
            table.contains("+54.0 ms over B alone <= 50 MISS"),
            "{table}"
        );
        assert!(table.contains("B alone 6.00 (3/0)"), "{table}");
        assert!(table.contains("200 ms <= 150 MISS"), "{table}");
        assert!(table.contains("in 1 of 3 input() samples"), "{table}");
        run.input.values = vec![9.0];
        assert_eq!(run.input_pass(), Some(true));
    }
}
