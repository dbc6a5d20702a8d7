//! The bench's output part: print floods in `<python-runner>` beside the same code in a bare Pyodide worker
//! that posts every batch of output to the page, on `tests/fixtures/bench/flood.html` (wall time run() → done,
//! the longest main-thread task and frame during the run, page memory growth), and Stop → `KeyboardInterrupt`
//! on screen while output floods.

use crate::first_output::Variant;
use crate::page::{console_errors, number, page_step, settle_warm};
use crate::stats::{max_of, median, p90, round3, Series, Stats};
use crate::text::{fine_ms, first_line, one_method, pass, with_target, write_failures};
use anyhow::{bail, Context, Result};
use python_runner_tests::{report, Browser, BrowserOptions, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The bench page of this part.
const PAGE: &str = "flood.html";
/// Element median / bare median for the 200,000 short lines.
const TARGET_RATIO_SHORT_LINES: f64 = 1.5;
/// Longest main-thread task (and frame) during a run or a flood, ms.
const TARGET_LONGEST: f64 = 50.0;
/// Page memory growth of the element for two million lines, MB (10^6 bytes); the log is bounded.
const TARGET_MEMORY_MB: f64 = 100.0;
/// Stop → `KeyboardInterrupt` on screen during a flood, median, ms.
const TARGET_STOP: f64 = 50.0;
/// Between preparing a page (Pyodide loaded, one warm-up run) and the measured run, for both variants: the
/// element starts its spare worker a moment after code first runs, and its Pyodide load (about 1.5 s of CPU)
/// must not compete with the measurement on a small machine.
const PREPARE_SETTLE: Duration = Duration::from_secs(3);
/// How long output flows before Stop, ms.
const STOP_FLOW_MS: u64 = 500;
/// Between Stop samples on the same element.
const STOP_SETTLE: Duration = Duration::from_millis(300);
/// The plausibility check of the memory measurement: the page keeps this many MB of strings.
const MEMORY_CHECK_MB: u64 = 50;
/// The check passes when the measured growth is within this fraction of what the page keeps.
const MEMORY_CHECK_TOLERANCE: f64 = 0.1;
/// Chromium switches of this part: `measureUserAgentSpecificMemory` resolves at once (after a GC) instead of
/// at the next GC (up to 20 s), and the fallback `performance.memory` is exact and measured after `gc()`.
const CHROMIUM_ARGS: [&str; 3] = [
    "--enable-blink-features=ForceEagerMeasureMemory",
    "--enable-precise-memory-info",
    "--js-flags=--expose-gc",
];

/// Sample counts of the output part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FloodCounts {
    /// Samples per case and variant.
    pub(crate) runs: usize,
    /// Stop samples.
    pub(crate) stop: usize,
}

impl FloodCounts {
    /// `runs`: `--flood-runs`, if given.
    pub(crate) fn new(quick: bool, runs: Option<usize>) -> FloodCounts {
        FloodCounts {
            runs: runs.unwrap_or(if quick { 1 } else { 3 }),
            stop: if quick { 2 } else { 5 },
        }
    }
}

/// The last line the element must show after a case.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LastLine {
    Exact(String),
    /// The line is cut in the display; what it starts with.
    Prefix(String),
}

/// One print flood: its code and what it must write.
#[derive(Clone, Debug)]
struct FloodCase {
    key: &'static str,
    label: &'static str,
    code: &'static str,
    /// Characters written to stdout and stderr, line breaks included.
    stdout: u64,
    stderr: u64,
    last_line: LastLine,
    target_ratio: Option<f64>,
    target_memory_mb: Option<f64>,
}

impl FloodCase {
    /// What the page checks after a run (`flood.html`'s `expected`).
    fn expected(&self) -> Value {
        json!({
            "stdout": self.stdout,
            "stderr": self.stderr,
            "last_line": match &self.last_line {
                LastLine::Exact(line) => json!({ "exact": line }),
                LastLine::Prefix(prefix) => json!({ "prefix": prefix }),
            },
        })
    }
}

/// Characters of `print(i)` for i in 0..n: the digits and a line break each.
fn numbered_lines_chars(n: u64) -> u64 {
    (0..n).map(|i| i.to_string().len() as u64 + 1).sum()
}

fn cases() -> Vec<FloodCase> {
    vec![
        FloodCase {
            key: "short_lines_200k",
            label: "200,000 short lines",
            code: "for i in range(200000): print(i)",
            stdout: numbered_lines_chars(200_000),
            stderr: 0,
            last_line: LastLine::Exact("199999".into()),
            target_ratio: Some(TARGET_RATIO_SHORT_LINES),
            target_memory_mb: None,
        },
        FloodCase {
            key: "alternating_20k",
            label: "20,000 lines, stdout/stderr",
            code: "import sys\nfor i in range(10000):\n    print(i)\n    print(i, file=sys.stderr)",
            stdout: numbered_lines_chars(10_000),
            stderr: numbered_lines_chars(10_000),
            last_line: LastLine::Exact("9999".into()),
            target_ratio: None,
            target_memory_mb: None,
        },
        FloodCase {
            key: "one_10mb_line",
            label: "one 10 MB line",
            code: "print(\"x\" * 10_000_000)",
            stdout: 10_000_001,
            stderr: 0,
            // The display cuts lines at 10,000 characters and counts the rest.
            last_line: LastLine::Prefix(format!(
                "{} … 9990000 more characters",
                "x".repeat(10_000)
            )),
            target_ratio: None,
            target_memory_mb: None,
        },
        FloodCase {
            key: "lines_2m",
            label: "2,000,000 lines",
            code: "for i in range(2000000): print(i)",
            stdout: numbered_lines_chars(2_000_000),
            stderr: 0,
            last_line: LastLine::Exact("1999999".into()),
            target_ratio: None,
            target_memory_mb: Some(TARGET_MEMORY_MB),
        },
    ]
}

/// One measured run, as the page reported it (times in ms, memory in bytes).
#[derive(Clone, Debug, Default)]
struct FloodSample {
    /// run() → done event (element), "run" posted → "done" received (bare).
    ms: f64,
    /// The longest `longtask` entry overlapping the run (`None`: none of 50 ms or more).
    long_task: Option<f64>,
    /// The longest `long-animation-frame` entry overlapping the run, and its blocking duration.
    long_frame: Option<(f64, f64)>,
    /// The longest gap between two animation frames during the run.
    frame_gap: Option<f64>,
    /// Element only: page memory after done − before the element was created.
    memory_growth: Option<f64>,
    /// Element only: how the memory was measured.
    memory_method: Option<String>,
    console_errors: Vec<String>,
    raw: Value,
}

impl FloodSample {
    /// Reads the timing fields of a page result (`elementRun`, `bareRun`, `stop`).
    fn from_result(result: &Value) -> Result<FloodSample> {
        let blocking = result["long_animation_frame"]["blocking_ms"]
            .as_f64()
            .unwrap_or_default();
        let long_frame = result["long_animation_frame_ms"]
            .as_f64()
            .map(|ms| (ms, blocking));
        Ok(FloodSample {
            ms: number(result, "ms")?,
            long_task: result["long_task_ms"].as_f64(),
            long_frame,
            frame_gap: result["frame_gap_ms"].as_f64(),
            ..FloodSample::default()
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "ms": round3(self.ms),
            "long_task_ms": self.long_task.map(round3),
            "long_animation_frame_ms": self.long_frame.map(|(ms, _)| round3(ms)),
            "long_animation_frame_blocking_ms": self.long_frame.map(|(_, ms)| round3(ms)),
            "frame_gap_ms": self.frame_gap.map(round3),
            "memory_growth_bytes": self.memory_growth,
            "memory_method": self.memory_method,
            "console_errors": self.console_errors,
            "raw": self.raw,
        })
    }
}

/// The samples of one case.
#[derive(Debug)]
struct CaseRun {
    case: FloodCase,
    element: Vec<FloodSample>,
    bare: Vec<FloodSample>,
    element_errors: Vec<String>,
    bare_errors: Vec<String>,
}

impl CaseRun {
    fn new(case: FloodCase) -> CaseRun {
        CaseRun {
            case,
            element: Vec::new(),
            bare: Vec::new(),
            element_errors: Vec::new(),
            bare_errors: Vec::new(),
        }
    }

    fn median(&self, variant: Variant) -> Option<f64> {
        let samples = match variant {
            Variant::Element => &self.element,
            Variant::Bare => &self.bare,
        };
        median(samples.iter().map(|s| s.ms))
    }

    /// Element median / bare median.
    fn ratio(&self) -> Option<f64> {
        let bare = self.median(Variant::Bare)?;
        (bare > 0.0).then_some(self.median(Variant::Element)? / bare)
    }

    fn ratio_pass(&self) -> Option<bool> {
        self.ratio()
            .zip(self.case.target_ratio)
            .map(|(ratio, target)| ratio <= target)
    }

    /// The element's longest task over its samples; `Some(None)`: samples, none with a task of 50 ms or more.
    fn longest_task(&self) -> Option<Option<f64>> {
        (!self.element.is_empty()).then(|| max_of(self.element.iter().map(|s| s.long_task)))
    }

    /// The element's frame with the longest blocking duration over its samples: (duration, blocking duration).
    fn longest_frame(&self) -> Option<Option<(f64, f64)>> {
        (!self.element.is_empty()).then(|| {
            self.element
                .iter()
                .filter_map(|s| s.long_frame)
                .reduce(|a, b| if b.1 > a.1 { b } else { a })
        })
    }

    /// Median page memory growth of the element, bytes.
    fn memory_growth(&self) -> Option<f64> {
        median(self.element.iter().filter_map(|s| s.memory_growth))
    }

    fn memory_pass(&self) -> Option<bool> {
        self.memory_growth()
            .zip(self.case.target_memory_mb)
            .map(|(bytes, target)| bytes / 1e6 < target)
    }

    fn complete(&self) -> bool {
        !self.element.is_empty() && !self.bare.is_empty()
    }

    fn to_json(&self) -> Value {
        let series = |samples: &[FloodSample], errors: &[String]| {
            let times: Vec<f64> = samples.iter().map(|s| s.ms).collect();
            let stats = Stats::of(&times);
            json!({
                "n": samples.len(),
                "failed": errors.len(),
                "median_ms": stats.map(|s| round3(s.median)),
                "min_ms": stats.map(|s| round3(s.min)),
                "max_ms": stats.map(|s| round3(s.max)),
                "longest_task_ms": max_of(samples.iter().map(|s| s.long_task)).map(round3),
                "longest_animation_frame_ms": max_of(samples.iter().map(|s| s.long_frame.map(|f| f.0))).map(round3),
                "samples": samples.iter().map(FloodSample::to_json).collect::<Vec<_>>(),
                "errors": errors,
            })
        };
        json!({
            "label": self.case.label,
            "code": self.case.code,
            "expected": self.case.expected(),
            "element": series(&self.element, &self.element_errors),
            "bare": series(&self.bare, &self.bare_errors),
            "ratio": self.ratio().map(round3),
            "target_ratio": self.case.target_ratio,
            "ratio_pass": self.ratio_pass(),
            "target_longest_ms": TARGET_LONGEST,
            "longest_task_pass": self.longest_task().map(|t| t.is_none_or(|ms| ms <= TARGET_LONGEST)),
            "longest_frame_pass": self.longest_frame().map(|f| f.is_none_or(|(_, blocking)| blocking <= TARGET_LONGEST)),
            "memory_growth_median_bytes": self.memory_growth(),
            "target_memory_growth_mb": self.case.target_memory_mb,
            "memory_pass": self.memory_pass(),
        })
    }
}

/// The plausibility check of the memory measurement.
#[derive(Debug)]
struct MemoryCheck {
    method: String,
    expected: f64,
    growth: f64,
    raw: Value,
}

impl MemoryCheck {
    fn plausible(&self) -> bool {
        (self.growth - self.expected).abs() <= self.expected * MEMORY_CHECK_TOLERANCE
    }
}

/// The output part's results.
#[derive(Debug)]
pub(crate) struct FloodRun {
    counts: FloodCounts,
    memory_check: std::result::Result<MemoryCheck, String>,
    cases: Vec<CaseRun>,
    /// Stop → KeyboardInterrupt shown, during a flood.
    stop: Series,
    /// The longest task and frame during each Stop sample (from run() to KeyboardInterrupt shown).
    stop_samples: Vec<FloodSample>,
    /// Why the part stopped early or did not start (the browser or a page failed).
    aborted: Option<String>,
    took: Duration,
}

impl FloodRun {
    fn new(counts: FloodCounts) -> FloodRun {
        FloodRun {
            counts,
            memory_check: Err("not run".into()),
            cases: cases().into_iter().map(CaseRun::new).collect(),
            stop: Series::new(
                "stop_during_flood",
                "Stop -> KeyboardInterrupt shown, while True: print(\"flood\")",
                Some(TARGET_STOP),
            ),
            stop_samples: Vec::new(),
            aborted: None,
            took: Duration::ZERO,
        }
    }

    /// Every case has a sample of each variant, and Stop has one.
    pub(crate) fn complete(&self) -> bool {
        self.aborted.is_none()
            && self.cases.iter().all(CaseRun::complete)
            && !self.stop.values.is_empty()
    }

    /// The memory method of the element samples (they all use the same, else it says so).
    fn memory_method(&self) -> String {
        one_method(
            self.cases
                .iter()
                .flat_map(|c| &c.element)
                .filter_map(|s| s.memory_method.as_deref()),
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "page": format!("tests/fixtures/bench/{PAGE}"),
            "settings": {
                "runs_per_variant": self.counts.runs,
                "stop_samples": self.counts.stop,
                "stop_flow_ms": STOP_FLOW_MS,
                "prepare_settle_s": PREPARE_SETTLE.as_secs_f64(),
                "chromium_args": CHROMIUM_ARGS,
            },
            "memory_method": self.memory_method(),
            "memory_check": match &self.memory_check {
                Ok(check) => json!({
                    "method": check.method,
                    "kept_bytes": check.expected,
                    "measured_growth_bytes": check.growth,
                    "tolerance": MEMORY_CHECK_TOLERANCE,
                    "plausible": check.plausible(),
                    "raw": check.raw,
                }),
                Err(e) => json!({ "error": e }),
            },
            "cases": self
                .cases
                .iter()
                .map(|c| (c.case.key.to_owned(), c.to_json()))
                .collect::<serde_json::Map<_, _>>(),
            "stop": {
                "metric": self.stop.to_json(),
                "longest_task_ms": max_of(self.stop_samples.iter().map(|s| s.long_task)).map(round3),
                "longest_animation_frame_ms": max_of(self.stop_samples.iter().map(|s| s.long_frame.map(|f| f.0))).map(round3),
                "samples": self.stop_samples.iter().map(FloodSample::to_json).collect::<Vec<_>>(),
            },
            "aborted": self.aborted,
            "complete": self.complete(),
            "duration_s": (self.took.as_secs_f64() * 10.0).round() / 10.0,
        })
    }
}

/// Calls `window.__interact.<call>` on flood.html.
fn flood_step(browser: &Browser, call: &str) -> Result<Value> {
    page_step(browser, PAGE, call)
}

/// Loads flood.html afresh.
fn open(browser: &Browser, server: &Server) -> Result<()> {
    browser.goto(&server.url(&format!("/fixtures/bench/{PAGE}")))
}

fn memory_check(browser: &Browser, server: &Server) -> Result<MemoryCheck> {
    open(browser, server)?;
    let result = flood_step(browser, &format!("memoryCheck({MEMORY_CHECK_MB})"))?;
    Ok(MemoryCheck {
        method: result["method"]
            .as_str()
            .context("no memory method in the result")?
            .to_owned(),
        expected: number(&result, "expected_bytes")?,
        growth: number(&result, "growth_bytes")?,
        raw: result,
    })
}

/// One element sample on a fresh page: memory, element created and warmed up, settle, run, memory.
fn element_sample(browser: &Browser, server: &Server, case: &FloodCase) -> Result<FloodSample> {
    open(browser, server)?;
    let prepared = flood_step(browser, &format!("elementPrepare({})", json!(case.code)))?;
    std::thread::sleep(PREPARE_SETTLE);
    let ran = flood_step(browser, &format!("elementRun({})", case.expected()))?;
    let mut sample = FloodSample::from_result(&ran)?;
    let (before, after) = (&prepared["memory_before"], &ran["memory_after"]);
    if before["method"] != after["method"] {
        bail!("the memory was measured in two ways: {before} and {after}");
    }
    sample.memory_growth = Some(number(after, "bytes")? - number(before, "bytes")?);
    sample.memory_method = after["method"].as_str().map(str::to_owned);
    sample.raw = json!({ "prepare": prepared, "run": ran });
    Ok(sample)
}

/// One bare sample on a fresh page: worker with Pyodide loaded and warmed up, settle, run.
fn bare_sample(browser: &Browser, server: &Server, case: &FloodCase) -> Result<FloodSample> {
    open(browser, server)?;
    let prepared = flood_step(browser, "barePrepare()")?;
    std::thread::sleep(PREPARE_SETTLE);
    let ran = flood_step(
        browser,
        &format!("bareRun({}, {})", json!(case.code), case.expected()),
    )?;
    let mut sample = FloodSample::from_result(&ran)?;
    sample.raw = json!({ "prepare": prepared, "run": ran });
    Ok(sample)
}

/// `<50` when no entry of 50 ms or more was seen (the APIs report none shorter).
fn longest_ms(value: Option<f64>) -> String {
    value.map_or_else(|| "<50".into(), |ms| format!("{ms:.0}"))
}

fn frame_text(frame: Option<(f64, f64)>) -> String {
    frame.map_or_else(
        || "<50".into(),
        |(ms, blocking)| format!("{ms:.0} (blocking {blocking:.0})"),
    )
}

fn megabytes(bytes: f64) -> String {
    format!("{:+.1} MB", bytes / 1e6)
}

fn describe(sample: &FloodSample) -> String {
    let mut out = format!(
        "{} ms, longest task {}, longest frame {}, frame gap {}",
        fine_ms(sample.ms),
        longest_ms(sample.long_task),
        frame_text(sample.long_frame),
        sample.frame_gap.map_or_else(|| "-".into(), fine_ms)
    );
    if let Some(growth) = sample.memory_growth {
        let _ = write!(out, ", memory {}", megabytes(growth));
    }
    out
}

/// The output part, in one browser (fresh profile) on the cross-origin isolated `server`. Never fails:
/// problems are recorded in the result.
pub(crate) fn run_flood(server: &Server, counts: FloodCounts) -> FloodRun {
    let started = Instant::now();
    let mut out = FloodRun::new(counts);
    eprintln!(
        "output flood (one browser, a fresh page per sample): {} cases x {} per variant, {} Stop samples",
        out.cases.len(),
        counts.runs,
        counts.stop
    );
    let options = BrowserOptions {
        extra_args: CHROMIUM_ARGS.iter().map(|s| (*s).to_owned()).collect(),
        ..BrowserOptions::default()
    };
    match Browser::launch_with(options) {
        Ok(browser) => measure_flood(&browser, server, &mut out),
        Err(e) => {
            let error = format!("could not launch the browser: {}", report(&e));
            eprintln!("  {error}");
            out.aborted = Some(error);
        }
    }
    out.took = started.elapsed();
    out
}

fn measure_flood(browser: &Browser, server: &Server, out: &mut FloodRun) {
    // Is the memory measurement plausible? The page keeps MEMORY_CHECK_MB of strings.
    out.memory_check = memory_check(browser, server).map_err(|e| report(&e));
    match &out.memory_check {
        Ok(check) => eprintln!(
            "  {:<40} {} kept -> {} measured ({}; {})",
            "flood memory check",
            megabytes(check.expected),
            megabytes(check.growth),
            check.method,
            if check.plausible() {
                "plausible"
            } else {
                "NOT plausible"
            }
        ),
        Err(e) => eprintln!("  flood memory check FAILED: {}", first_line(e)),
    }
    settle_warm(browser);

    // Warm-up (HTTP and wasm code caches): an element on a page, unmeasured.
    let warm = open(browser, server).and_then(|()| flood_step(browser, "elementPrepare(\"pass\")"));
    match warm {
        Ok(result) => eprintln!(
            "  {:<40} created -> ready {} ms",
            "flood warm-up load",
            result["ready_ms"]
                .as_f64()
                .map_or_else(|| "?".into(), fine_ms)
        ),
        Err(e) => eprintln!("  flood warm-up load FAILED: {}", first_line(&report(&e))),
    }
    settle_warm(browser);

    let runs = out.counts.runs;
    for case_run in &mut out.cases {
        for round in 0..runs {
            for variant in Variant::pair(round) {
                let what = format!(
                    "flood {} {} {}/{runs}",
                    case_run.case.key,
                    variant.name(),
                    round + 1
                );
                let result = match variant {
                    Variant::Element => element_sample(browser, server, &case_run.case),
                    Variant::Bare => bare_sample(browser, server, &case_run.case),
                };
                let errors = console_errors(browser);
                match result {
                    Ok(mut sample) => {
                        eprintln!("  {what:<40} {}", describe(&sample));
                        for error in &errors {
                            eprintln!("      console: {}", first_line(error));
                        }
                        sample.console_errors = errors;
                        match variant {
                            Variant::Element => case_run.element.push(sample),
                            Variant::Bare => case_run.bare.push(sample),
                        }
                    }
                    Err(e) => {
                        let mut text = report(&e);
                        if let Some(console) = errors.first() {
                            let _ = write!(text, " (console: {})", first_line(console));
                        }
                        eprintln!("  {what:<40} FAILED: {}", first_line(&text));
                        match variant {
                            Variant::Element => case_run.element_errors.push(text),
                            Variant::Bare => case_run.bare_errors.push(text),
                        }
                    }
                }
                settle_warm(browser);
            }
        }
    }

    measure_stops(browser, server, out);
}

/// Loads flood.html and prepares its element for the Stop samples.
fn open_stop_page(browser: &Browser, server: &Server) -> Result<()> {
    open(browser, server)?;
    flood_step(browser, "stopPrepare()")?;
    std::thread::sleep(PREPARE_SETTLE);
    Ok(())
}

/// Stop during a flood, on one element; a failed sample reloads the page (a failed Stop may leave code running).
fn measure_stops(browser: &Browser, server: &Server, out: &mut FloodRun) {
    if let Err(e) = open_stop_page(browser, server) {
        let why = format!("opening the Stop page: {}", report(&e));
        eprintln!("  {why}");
        out.aborted = Some(why);
        return;
    }
    let total = out.counts.stop;
    for i in 0..total {
        let what = format!("flood stop {}/{total}", i + 1);
        let result = flood_step(browser, &format!("stop({STOP_FLOW_MS})")).and_then(|r| {
            let mut sample = FloodSample::from_result(&r)?;
            sample.raw = r;
            Ok(sample)
        });
        match result {
            Ok(sample) => {
                eprintln!(
                    "  {what:<40} {} ms (flowing {} ms; longest task {}, longest frame {})",
                    fine_ms(sample.ms),
                    sample.raw["flowing_ms"]
                        .as_f64()
                        .map_or_else(|| "?".into(), fine_ms),
                    longest_ms(sample.long_task),
                    frame_text(sample.long_frame)
                );
                out.stop.values.push(sample.ms);
                out.stop_samples.push(sample);
                std::thread::sleep(STOP_SETTLE);
            }
            Err(e) => {
                let text = report(&e);
                eprintln!("  {what:<40} FAILED: {}", first_line(&text));
                out.stop.errors.push(text);
                settle_warm(browser);
                if let Err(e) = open_stop_page(browser, server) {
                    let why = format!("reloading the Stop page after a failure: {}", report(&e));
                    eprintln!("  {why}");
                    out.aborted = Some(why);
                    return;
                }
            }
        }
    }
}

/// The output section of the table.
pub(crate) fn flood_table(out: &mut String, run: &FloodRun) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Output flood, ms (one warm browser, isolated server, tests/fixtures/bench/{PAGE}, a fresh page per sample; {} per variant, element and bare alternating; took {:.0} s)",
        run.counts.runs,
        run.took.as_secs_f64()
    );
    let check = match &run.memory_check {
        Ok(check) => format!(
            "check: the page keeping {} of strings measured {} ({})",
            megabytes(check.expected),
            megabytes(check.growth),
            if check.plausible() {
                "plausible"
            } else {
                "NOT plausible"
            }
        ),
        Err(e) => format!("check FAILED: {}", first_line(e)),
    };
    let _ = writeln!(out, "  memory: {}; {check}", run.memory_method());
    let _ = writeln!(
        out,
        "  {:<28} {:>7} {:>8} {:>8}   {:<22} {:<20} {:<30} memory growth (median)",
        "case",
        "n el/b",
        "bare",
        "element",
        "element/bare",
        "longest task (max)",
        "most blocking frame",
    );
    let target_longest = format!("<= {TARGET_LONGEST:.0}");
    for case_run in &run.cases {
        let ratio = with_target(
            case_run
                .ratio()
                .map_or_else(|| "-".into(), |r| format!("{r:.2}")),
            case_run.case.target_ratio.map(|t| format!("<= {t:.2}")),
            case_run.ratio_pass(),
        );
        let task = match case_run.longest_task() {
            Some(task) => format!(
                "{} {target_longest} {}",
                longest_ms(task),
                pass(task.is_none_or(|ms| ms <= TARGET_LONGEST))
            ),
            None => "-".into(),
        };
        let frame = match case_run.longest_frame() {
            Some(frame) => format!(
                "{} {target_longest} {}",
                frame_text(frame),
                pass(frame.is_none_or(|(_, blocking)| blocking <= TARGET_LONGEST))
            ),
            None => "-".into(),
        };
        let memory = with_target(
            case_run
                .memory_growth()
                .map_or_else(|| "-".into(), megabytes),
            case_run
                .case
                .target_memory_mb
                .map(|t| format!("< {t:.0} MB")),
            case_run.memory_pass(),
        );
        let _ = writeln!(
            out,
            "  {:<28} {:>7} {:>8} {:>8}   {:<22} {:<20} {:<30} {}",
            case_run.case.label,
            format!("{}/{}", case_run.element.len(), case_run.bare.len()),
            case_run
                .median(Variant::Bare)
                .map_or_else(|| "-".into(), fine_ms),
            case_run
                .median(Variant::Element)
                .map_or_else(|| "-".into(), fine_ms),
            ratio,
            task,
            frame,
            memory
        );
        if !case_run.bare.is_empty() {
            let _ = writeln!(
                out,
                "  {:<28} {:>7} {:>8} {:>8}   {:<22} {:<20} {}",
                "  same, bare worker's page",
                "",
                "",
                "",
                "",
                longest_ms(max_of(case_run.bare.iter().map(|s| s.long_task))),
                frame_text(
                    case_run
                        .bare
                        .iter()
                        .filter_map(|s| s.long_frame)
                        .reduce(|a, b| if b.1 > a.1 { b } else { a })
                )
            );
        }
    }
    let stop = &run.stop;
    let target = match stop.pass() {
        Some(ok) => format!("<= {TARGET_STOP:.0} {}", pass(ok)),
        None => format!("<= {TARGET_STOP:.0} FAILED (no sample)"),
    };
    let _ = writeln!(
        out,
        "  {} (after {STOP_FLOW_MS} ms of output): n {}, failed {}, median {}, p90 {}, target {target}",
        stop.label,
        stop.values.len(),
        stop.errors.len(),
        stop.median().map_or_else(|| "-".into(), fine_ms),
        p90(&stop.values).map_or_else(|| "-".into(), fine_ms),
    );
    if !run.stop_samples.is_empty() {
        let task = max_of(run.stop_samples.iter().map(|s| s.long_task));
        let frame = run
            .stop_samples
            .iter()
            .filter_map(|s| s.long_frame)
            .reduce(|a, b| if b.1 > a.1 { b } else { a });
        let _ = writeln!(
            out,
            "    during the flood and Stop (max): longest task {} {target_longest} {}, most blocking frame {} {target_longest} {}",
            longest_ms(task),
            pass(task.is_none_or(|ms| ms <= TARGET_LONGEST)),
            frame_text(frame),
            pass(frame.is_none_or(|(_, blocking)| blocking <= TARGET_LONGEST)),
        );
    }
    let _ = writeln!(
        out,
        "  longest task: longtask entries overlapping the run; most blocking frame: the long-animation-frame entry with the longest blockingDuration (the target applies to that; a frame's duration also counts time Chromium holds rendering back while worker messages keep arriving, which the bare page shows as well); both APIs report only entries of 50 ms or more (\"<50\": none)"
    );
    for case_run in &run.cases {
        write_failures(
            out,
            &format!("{} element", case_run.case.key),
            &case_run.element_errors,
        );
        write_failures(
            out,
            &format!("{} bare", case_run.case.key),
            &case_run.bare_errors,
        );
    }
    write_failures(out, stop.key, &stop.errors);
    if let Some(why) = &run.aborted {
        let _ = writeln!(out, "  ABORTED: {}", first_line(why));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_expect_the_characters_python_writes() {
        assert_eq!(numbered_lines_chars(0), 0);
        // "0\n" … "9\n", then "10\n" … "11\n".
        assert_eq!(numbered_lines_chars(12), 10 * 2 + 2 * 3);
        let all = cases();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].stdout, 1_288_890);
        assert_eq!(all[1].stdout, all[1].stderr);
        assert_eq!(all[3].stdout, 14_888_890);
        assert_eq!(
            all[0].expected(),
            json!({ "stdout": 1_288_890, "stderr": 0, "last_line": { "exact": "199999" } })
        );
        assert!(all[2].expected()["last_line"]["prefix"]
            .as_str()
            .is_some_and(|p| p.starts_with("xxx") && p.ends_with(" … 9990000 more characters")));
        assert_eq!(
            FloodCounts::new(true, None),
            FloodCounts { runs: 1, stop: 2 }
        );
        assert_eq!(FloodCounts::new(false, Some(7)).runs, 7);
    }

    #[test]
    fn case_targets_and_completeness() {
        let sample = |ms: f64, task: Option<f64>, memory: Option<f64>| FloodSample {
            ms,
            long_task: task,
            long_frame: Some((ms / 10.0, ms / 20.0)),
            memory_growth: memory,
            memory_method: Some("m".into()),
            ..FloodSample::default()
        };
        let mut run = FloodRun::new(FloodCounts::new(false, None));
        assert!(!run.complete());
        let short = &mut run.cases[0];
        short.element = vec![
            sample(1200.0, None, Some(2e6)),
            sample(1400.0, Some(60.0), Some(4e6)),
        ];
        short.bare = vec![sample(1000.0, None, None)];
        assert_eq!(short.ratio().map(round3), Some(1.3));
        assert_eq!(short.ratio_pass(), Some(true));
        assert_eq!(short.longest_task(), Some(Some(60.0)));
        assert_eq!(short.longest_frame(), Some(Some((140.0, 70.0))));
        assert_eq!(short.memory_growth(), Some(3e6));
        assert_eq!(short.memory_pass(), None, "no memory target for this case");
        let two_million = &mut run.cases[3];
        two_million.element = vec![sample(9000.0, None, Some(120e6))];
        assert_eq!(two_million.memory_pass(), Some(false));
        assert_eq!(two_million.longest_task(), Some(None));
        assert!(!run.complete(), "cases without bare samples");
        for case_run in &mut run.cases {
            if case_run.element.is_empty() {
                case_run.element.push(sample(1.0, None, Some(0.0)));
            }
            if case_run.bare.is_empty() {
                case_run.bare.push(sample(1.0, None, None));
            }
        }
        assert!(!run.complete(), "no Stop sample");
        run.stop.values.push(20.0);
        assert!(run.complete());
        assert_eq!(run.memory_method(), "m");
        let json = run.to_json();
        assert_eq!(json["cases"]["lines_2m"]["memory_pass"], json!(false));
        assert_eq!(
            json["cases"]["short_lines_200k"]["longest_task_pass"],
            json!(false)
        );
        assert_eq!(json["stop"]["metric"]["pass"], json!(true));
        let mut table = String::new();
        flood_table(&mut table, &run);
        assert!(table.contains("200,000 short lines"));
        assert!(table.contains("1.30 <= 1.50 PASS"));
        assert!(table.contains("+120.0 MB < 100 MB MISS"));
        assert!(table.contains("check FAILED: not run"));
    }
}
