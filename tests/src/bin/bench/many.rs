//! The bench's "many runners on one page" part (issue "Many runners on one page"): on
//! tests/fixtures/bench/many.html, the time until 1, 8 and 30 auto-run snippets, all in the viewport, printed and
//! the browser's memory growth meanwhile (ratios to one snippet), and how many workers (Pyodides) a page of 30
//! snippets with only the first in view boots; and its section of the table. The rows on nobody waiting behind
//! input() or a busy loop live in `many_wait`, the demo page's in `many_demo`; they run in this part's browser.

use crate::many_demo::{self, run_demo, DemoRun};
use crate::many_wait::{self, run_wait, WaitRun};
use crate::page::{console_errors, launch_browser, RESULT_JS};
use crate::stats::{median, round1, round3};
use crate::text::{first_line, one_method, pass, with_target, write_failures};
use anyhow::{bail, Context, Result};
use python_runner_tests::{report, Browser, BrowserMemory, Engine, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The bench page of this part.
const PAGE: &str = "many.html";
/// How long a sample may take from navigation start (the page gives up after 110 s from its t0; the browser's
/// script timeout is 120 s).
const LIMIT: Duration = Duration::from_secs(115);
/// On about:blank before each sample: the previous page's workers are gone and memory has settled.
const BLANK_SETTLE: Duration = Duration::from_secs(2);
/// After all snippets printed, before memory is read (the page and its workers still alive).
const AFTER_OUTPUT: Duration = Duration::from_secs(1);
/// Layout `far`: the page counts the workers this long after the first snippet printed.
const FAR_WAIT_MS: u64 = 3000;
/// Distance between the elements of layout `far`, px (many.html's style).
const FAR_GAP_PX: u64 = 3000;
/// Layout `far`: workers the page may create, the spare included.
const TARGET_FAR_WORKERS: usize = 2;
/// How the memory is measured, for the table and the JSON.
const MEMORY_METHOD: &str = "growth of the browser's processes (sum of Pss from /proc/<pid>/smaps_rollup, VmRSS where that is unreadable, over chromedriver's process group: chromedriver, Chromium and its helpers) from about:blank right before the page to 1 s after all snippets printed, page and workers alive";

/// The server a run of this part used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ManyServer {
    Isolated,
    NotIsolated,
}

impl ManyServer {
    fn key(self) -> &'static str {
        match self {
            ManyServer::Isolated => "isolated",
            ManyServer::NotIsolated => "not_isolated",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ManyServer::Isolated => "isolated",
            ManyServer::NotIsolated => "not isolated",
        }
    }
}

/// Where the page puts its elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// All in the viewport (compact, `hide-code`, in a grid).
    Visible,
    /// The first at the top, the others [`FAR_GAP_PX`] apart below.
    Far,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Visible => "visible",
            Layout::Far => "far",
        }
    }
}

/// One page of the part.
#[derive(Clone, Copy, Debug, PartialEq)]
struct ManyCase {
    key: &'static str,
    label: &'static str,
    n: usize,
    layout: Layout,
    /// Targets of this case's median / the one-snippet case's: (time, memory growth).
    target_ratios: Option<(f64, f64)>,
    /// Target of the workers the page created (the most over the samples).
    target_workers: Option<usize>,
}

impl ManyCase {
    fn query(self) -> String {
        match self.layout {
            Layout::Visible => format!("?n={}&layout=visible", self.n),
            Layout::Far => format!("?n={}&layout=far&wait_ms={FAR_WAIT_MS}", self.n),
        }
    }
}

/// The key of the case the ratios divide by.
const BASE_CASE: &str = "visible_1";

fn cases() -> [ManyCase; 4] {
    let visible = |key, label, n, target_ratios| ManyCase {
        key,
        label,
        n,
        layout: Layout::Visible,
        target_ratios,
        target_workers: None,
    };
    [
        visible(BASE_CASE, "1 snippet", 1, None),
        visible("visible_8", "8 snippets, all visible", 8, Some((1.2, 1.3))),
        visible(
            "visible_30",
            "30 snippets, all visible",
            30,
            Some((1.3, 1.5)),
        ),
        ManyCase {
            key: "far_30",
            label: "30 snippets, 1st visible",
            n: 30,
            layout: Layout::Far,
            target_ratios: None,
            target_workers: Some(TARGET_FAR_WORKERS),
        },
    ]
}

/// One page load.
#[derive(Clone, Debug, Default)]
struct ManySample {
    /// Elements created → the last snippet printed (layout `far`: the first).
    all_printed_ms: f64,
    /// Browser memory 1 s after all printed − on about:blank before; `None`: not measured (see `memory_error`).
    memory_growth: Option<f64>,
    memory_method: Option<&'static str>,
    memory_error: Option<String>,
    /// Workers the page had created when it reported (layout `far`: [`FAR_WAIT_MS`] after the first printed).
    workers: usize,
    /// Workers the page had created when the memory was read, [`AFTER_OUTPUT`] later (what the table shows).
    workers_later: Option<usize>,
    /// Elements that printed when the page reported.
    printed: usize,
    /// Elements entirely inside the viewport.
    in_viewport: usize,
    console_errors: Vec<String>,
    raw: Value,
}

impl ManySample {
    fn to_json(&self) -> Value {
        json!({
            "all_printed_ms": round3(self.all_printed_ms),
            "memory_growth_bytes": self.memory_growth,
            "memory_method": self.memory_method,
            "memory_error": self.memory_error,
            "workers": self.workers,
            "workers_later": self.workers_later,
            "printed": self.printed,
            "in_viewport": self.in_viewport,
            "console_errors": self.console_errors,
            "raw": self.raw,
        })
    }
}

/// The samples of one case.
#[derive(Debug)]
struct CaseRun {
    case: ManyCase,
    samples: Vec<ManySample>,
    errors: Vec<String>,
}

impl CaseRun {
    fn time(&self) -> Option<f64> {
        median(self.samples.iter().map(|s| s.all_printed_ms))
    }

    fn memory(&self) -> Option<f64> {
        median(self.samples.iter().filter_map(|s| s.memory_growth))
    }

    /// The most workers a sample's page created, counted when the memory was read (a second after all printed,
    /// so the spare is in) or, if that failed, when the page reported.
    fn workers(&self) -> Option<usize> {
        self.samples
            .iter()
            .map(|s| s.workers_later.unwrap_or(s.workers).max(s.workers))
            .max()
    }

    fn workers_pass(&self) -> Option<bool> {
        self.workers()
            .zip(self.case.target_workers)
            .map(|(workers, target)| workers <= target)
    }
}

/// A ratio of two medians; `None` without both or with a base of zero or less.
fn ratio(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    let (value, base) = (value?, base?);
    (base > 0.0).then_some(value / base)
}

/// The part's samples on one server.
#[derive(Debug)]
pub(crate) struct ServerRun {
    server: ManyServer,
    cases: Vec<CaseRun>,
    /// B's first output after Run while A waits in input() or is in a busy loop (`many_wait`).
    wait: WaitRun,
    /// The demo page's auto-run elements against one element (`many_demo`).
    demo: DemoRun,
    /// The warm-up load's error, if it failed.
    warmup_error: Option<String>,
    /// Why the run did not happen (the browser could not be launched).
    aborted: Option<String>,
    took: Duration,
}

impl ServerRun {
    fn new(server: ManyServer) -> ServerRun {
        ServerRun {
            server,
            cases: cases()
                .into_iter()
                .map(|case| CaseRun {
                    case,
                    samples: Vec::new(),
                    errors: Vec::new(),
                })
                .collect(),
            wait: WaitRun::new(),
            demo: DemoRun::new(),
            warmup_error: None,
            aborted: None,
            took: Duration::ZERO,
        }
    }

    fn base(&self) -> Option<&CaseRun> {
        self.cases.iter().find(|c| c.case.key == BASE_CASE)
    }

    /// (time ratio, memory ratio) of a case to the one-snippet case.
    fn ratios(&self, case_run: &CaseRun) -> (Option<f64>, Option<f64>) {
        let base = self.base();
        (
            ratio(case_run.time(), base.and_then(CaseRun::time)),
            ratio(case_run.memory(), base.and_then(CaseRun::memory)),
        )
    }

    /// Whether the ratios meet their targets: (time, memory).
    fn ratio_passes(&self, case_run: &CaseRun) -> (Option<bool>, Option<bool>) {
        let (time, memory) = self.ratios(case_run);
        let targets = case_run.case.target_ratios;
        (
            time.zip(targets).map(|(r, (t, _))| r <= t),
            memory.zip(targets).map(|(r, (_, m))| r <= m),
        )
    }

    fn complete(&self) -> bool {
        self.aborted.is_none()
            && self.cases.iter().all(|c| !c.samples.is_empty())
            && self.wait.complete()
            && self.demo.complete()
    }

    fn to_json(&self) -> Value {
        let cases = self
            .cases
            .iter()
            .map(|c| {
                let (time_ratio, memory_ratio) = self.ratios(c);
                let (time_pass, memory_pass) = self.ratio_passes(c);
                let value = json!({
                    "label": c.case.label,
                    "n": c.case.n,
                    "layout": c.case.layout.name(),
                    "query": c.case.query(),
                    "samples_n": c.samples.len(),
                    "failed": c.errors.len(),
                    "all_printed_median_ms": c.time().map(round3),
                    "memory_growth_median_bytes": c.memory().map(f64::round),
                    "workers_max": c.workers(),
                    "time_ratio_to_1": time_ratio.map(round3),
                    "memory_ratio_to_1": memory_ratio.map(round3),
                    "target_time_ratio": c.case.target_ratios.map(|t| t.0),
                    "target_memory_ratio": c.case.target_ratios.map(|t| t.1),
                    "time_ratio_pass": time_pass,
                    "memory_ratio_pass": memory_pass,
                    "target_workers": c.case.target_workers,
                    "workers_pass": c.workers_pass(),
                    "samples": c.samples.iter().map(ManySample::to_json).collect::<Vec<_>>(),
                    "errors": c.errors,
                });
                (c.case.key.to_owned(), value)
            })
            .collect::<serde_json::Map<_, _>>();
        json!({
            "cases": cases,
            "wait": self.wait.to_json(),
            "demo": self.demo.to_json(),
            "warmup_error": self.warmup_error,
            "aborted": self.aborted,
            "complete": self.complete(),
            "duration_s": round1(self.took.as_secs_f64()),
        })
    }
}

/// The part's results, per server.
#[derive(Debug)]
pub(crate) struct ManyRun {
    runs: usize,
    pub(crate) servers: Vec<ServerRun>,
}

impl ManyRun {
    pub(crate) fn new(runs: usize) -> ManyRun {
        ManyRun {
            runs,
            servers: Vec::new(),
        }
    }

    /// Every case on every server has a sample.
    pub(crate) fn complete(&self) -> bool {
        !self.servers.is_empty() && self.servers.iter().all(ServerRun::complete)
    }

    /// How the memory was summed over the samples (`Pss` unless some process was unreadable).
    fn memory_method(&self) -> String {
        one_method(
            self.servers
                .iter()
                .flat_map(|s| &s.cases)
                .flat_map(|c| &c.samples)
                .filter_map(|s| s.memory_method),
        )
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "page": format!("tests/fixtures/bench/{PAGE}"),
            "settings": {
                "runs_per_case": self.runs,
                "cases": cases().iter().map(|c| json!({
                    "key": c.key,
                    "query": c.query(),
                    "target_time_ratio": c.target_ratios.map(|t| t.0),
                    "target_memory_ratio": c.target_ratios.map(|t| t.1),
                    "target_workers": c.target_workers,
                })).collect::<Vec<_>>(),
                "far_gap_px": FAR_GAP_PX,
                "far_wait_ms": FAR_WAIT_MS,
                "blank_settle_s": BLANK_SETTLE.as_secs_f64(),
                "after_output_s": AFTER_OUTPUT.as_secs_f64(),
                "memory": MEMORY_METHOD,
                "wait": many_wait::settings_json(),
                "demo": many_demo::settings_json(),
            },
            "memory_method": self.memory_method(),
            "servers": self
                .servers
                .iter()
                .map(|s| (s.server.key().to_owned(), s.to_json()))
                .collect::<serde_json::Map<_, _>>(),
            "complete": self.complete(),
        })
    }
}

fn page_url(server: &Server, case: ManyCase) -> String {
    server.url(&format!("/fixtures/bench/{PAGE}{}", case.query()))
}

/// The browser's memory, after `settle` on the current page.
fn memory_after(browser: &Browser, settle: Duration) -> Result<BrowserMemory> {
    std::thread::sleep(settle);
    browser.memory()
}

/// One sample on a fresh page: about:blank and its memory, the page until all printed (or, layout `far`, a
/// while after the first), a second, memory and workers again.
fn sample(browser: &Browser, server: &Server, case: ManyCase) -> Result<ManySample> {
    browser.goto("about:blank")?;
    let before = memory_after(browser, BLANK_SETTLE);
    browser.goto(&page_url(server, case))?;
    let script = RESULT_JS.replace("LIMIT_MS", &LIMIT.as_millis().to_string());
    let raw = browser.eval_async(&script)?;
    if raw["ok"] != json!(true) {
        let error = raw["error"]
            .as_str()
            .map_or_else(|| format!("unexpected result {raw}"), str::to_owned);
        bail!("{PAGE}{}: {error}", case.query());
    }
    let after = memory_after(browser, AFTER_OUTPUT);
    let workers_later = browser
        .eval("return window.__many.workers();")
        .ok()
        .and_then(|v| v.as_u64())
        .and_then(|v| usize::try_from(v).ok());
    let count = |key: &str| -> Result<usize> {
        let value = raw[key]
            .as_u64()
            .with_context(|| format!("no count {key:?} in {raw}"))?;
        Ok(usize::try_from(value)?)
    };
    let mut out = ManySample {
        all_printed_ms: raw["all_printed_ms"]
            .as_f64()
            .with_context(|| format!("no all_printed_ms in {raw}"))?,
        workers: count("workers")?,
        workers_later,
        printed: count("printed")?,
        in_viewport: count("in_viewport")?,
        ..ManySample::default()
    };
    match (before, after) {
        (Ok(before), Ok(after)) => {
            // Both sums are whole numbers of KiB, far below 2^53: exact as f64.
            out.memory_growth = Some(after.bytes as f64 - before.bytes as f64);
            out.memory_method = Some(if before.method() == after.method() {
                after.method()
            } else {
                "Pss+VmRSS"
            });
        }
        (Err(e), _) | (_, Err(e)) => out.memory_error = Some(report(&e)),
    }
    out.raw = raw;
    Ok(out)
}

fn megabytes(bytes: f64) -> String {
    format!("{:+.1} MB", bytes / 1e6)
}

fn describe(sample: &ManySample) -> String {
    let memory = match (&sample.memory_growth, &sample.memory_error) {
        (Some(growth), _) => megabytes(*growth),
        (None, Some(error)) => format!("memory FAILED: {}", first_line(error)),
        (None, None) => "-".into(),
    };
    format!(
        "{:.0} ms, memory {memory}, workers {} ({} a second later), printed {}, in viewport {}",
        sample.all_printed_ms,
        sample.workers,
        sample
            .workers_later
            .map_or_else(|| "?".into(), |w| w.to_string()),
        sample.printed,
        sample.in_viewport
    )
}

/// The part on one server, in one browser (fresh profile): a warm-up load, then `runs` rounds of every case, a
/// fresh page per sample. Never fails: problems are recorded in the result.
pub(crate) fn run_many(server: &Server, which: ManyServer, runs: usize) -> ServerRun {
    let started = Instant::now();
    let mut out = ServerRun::new(which);
    eprintln!(
        "many runners on one page, {} (one browser, a fresh page per sample): {} cases x {runs}, then nobody waits ({runs} pages x {} rounds) and the demo page ({} loads and as many of one element)",
        which.label(),
        out.cases.len(),
        many_wait::ROUNDS_PER_PAGE,
        runs * many_demo::LOADS_PER_ROUND
    );
    let browser = match launch_browser(Engine::Chromium) {
        Ok(browser) => browser,
        Err(error) => {
            out.aborted = Some(error);
            return out;
        }
    };
    // Warm-up (HTTP and wasm code caches): one snippet, unmeasured.
    let warm = sample(&browser, server, cases()[0]);
    let _ = console_errors(&browser);
    match warm {
        Ok(s) => eprintln!("  {:<36} {}", "many warm-up", describe(&s)),
        Err(e) => {
            let text = report(&e);
            eprintln!("  {:<36} FAILED: {}", "many warm-up", first_line(&text));
            out.warmup_error = Some(text);
        }
    }
    for round in 0..runs {
        for case_run in &mut out.cases {
            let what = format!("many {} {}/{runs}", case_run.case.key, round + 1);
            let result = sample(&browser, server, case_run.case);
            let errors = console_errors(&browser);
            match result {
                Ok(mut s) => {
                    eprintln!("  {what:<36} {}", describe(&s));
                    for error in &errors {
                        eprintln!("      console: {}", first_line(error));
                    }
                    s.console_errors = errors;
                    case_run.samples.push(s);
                }
                Err(e) => {
                    let mut text = report(&e);
                    if let Some(console) = errors.first() {
                        let _ = write!(text, " (console: {})", first_line(console));
                    }
                    eprintln!("  {what:<36} FAILED: {}", first_line(&text));
                    case_run.errors.push(text);
                }
            }
        }
    }
    run_wait(&browser, server, runs, &mut out.wait);
    run_demo(&browser, server, runs, &mut out.demo);
    let _ = browser.goto("about:blank");
    out.took = started.elapsed();
    out
}

/// This part's section of the table.
pub(crate) fn many_table(out: &mut String, run: &ManyRun) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Many runners on one page (one warm browser per server, tests/fixtures/bench/{PAGE}, window 1280x900, a fresh page per sample after a warm-up load; {} per case)",
        run.runs
    );
    let _ = writeln!(
        out,
        "  all printed: elements created -> the last one's output event holds its line (code print('snippet', i); 30, 1st visible: the first), median ms"
    );
    let _ = writeln!(
        out,
        "  memory ({}): {MEMORY_METHOD}; median",
        run.memory_method()
    );
    let _ = writeln!(
        out,
        "  workers: created by the page (window.Worker wrapped before the bundle), the most over the samples, counted 1 s after all printed, when the memory is read (30, 1st visible: {FAR_WAIT_MS} ms + 1 s after the first printed, the others {FAR_GAP_PX} px apart); the spare worker the element pre-warms 300 ms after code first runs is included"
    );
    let _ = writeln!(
        out,
        "  {:<13} {:<25} {:>5} {:>11} {:>13} {:>15}   {:<20} {:<20}",
        "server",
        "case",
        "n/err",
        "all printed",
        "memory growth",
        "workers",
        "time / 1 snippet",
        "memory / 1 snippet"
    );
    for server_run in &run.servers {
        if let Some(why) = &server_run.aborted {
            let _ = writeln!(
                out,
                "  {:<13} skipped: {}",
                server_run.server.label(),
                first_line(why)
            );
            continue;
        }
        for (i, case_run) in server_run.cases.iter().enumerate() {
            let (time_ratio, memory_ratio) = server_run.ratios(case_run);
            let (time_pass, memory_pass) = server_run.ratio_passes(case_run);
            let targets = case_run.case.target_ratios;
            let ratio_text = |value: Option<f64>, target: Option<f64>, ok: Option<bool>| {
                if target.is_none() {
                    return String::new();
                }
                with_target(
                    value.map_or_else(|| "-".into(), |r| format!("{r:.2}")),
                    target.map(|t| format!("<= {t:.1}")),
                    ok,
                )
            };
            let workers = match (case_run.workers(), case_run.case.target_workers) {
                (Some(w), Some(t)) => format!("{w} <= {t} {}", pass(w <= t)),
                (None, Some(t)) => format!("- <= {t} FAILED"),
                (w, None) => w.map_or_else(|| "-".into(), |w| w.to_string()),
            };
            let _ = writeln!(
                out,
                "  {:<13} {:<25} {:>5} {:>11} {:>13} {:>15}   {:<20} {:<20}",
                if i == 0 {
                    server_run.server.label()
                } else {
                    ""
                },
                case_run.case.label,
                format!("{}/{}", case_run.samples.len(), case_run.errors.len()),
                case_run
                    .time()
                    .map_or_else(|| "-".into(), |t| format!("{t:.0}")),
                case_run.memory().map_or_else(|| "-".into(), megabytes),
                workers,
                ratio_text(time_ratio, targets.map(|t| t.0), time_pass),
                ratio_text(memory_ratio, targets.map(|t| t.1), memory_pass),
            );
        }
        let in_viewport: Vec<String> = server_run
            .cases
            .iter()
            .filter(|c| c.case.layout == Layout::Visible)
            .filter_map(|c| {
                let least = c.samples.iter().map(|s| s.in_viewport).min()?;
                (least < c.case.n).then(|| format!("{}: only {least} of {}", c.case.key, c.case.n))
            })
            .collect();
        if !in_viewport.is_empty() {
            let _ = writeln!(
                out,
                "    NOT all in the viewport: {}",
                in_viewport.join(", ")
            );
        }
        if let Some(error) = &server_run.warmup_error {
            let _ = writeln!(out, "    warm-up load FAILED: {}", first_line(error));
        }
        for case_run in &server_run.cases {
            write_failures(
                out,
                &format!("{} {}", server_run.server.key(), case_run.case.key),
                &case_run.errors,
            );
        }
    }
    many_wait::header(out, run.runs);
    many_demo::header(out, run.runs);
    many_wait::columns(out);
    for server_run in run.servers.iter().filter(|s| s.aborted.is_none()) {
        many_wait::rows(out, server_run.server.label(), &server_run.wait);
        many_demo::rows(out, "", &server_run.demo);
        many_wait::notes(out, server_run.server.key(), &server_run.wait);
        many_wait::failures(out, server_run.server.key(), &server_run.wait);
        many_demo::failures(out, server_run.server.key(), &server_run.demo);
    }
    let _ = writeln!(
        out,
        "  took {:.0} s",
        run.servers
            .iter()
            .map(|s| s.took.as_secs_f64())
            .sum::<f64>()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use python_runner_tests::{proc_kib_field, proc_stat_pgrp};

    #[test]
    fn reads_proc_stat_and_memory_fields() {
        assert_eq!(
            proc_stat_pgrp("26951 (chromium) S 26933 26923 31245 0 -1 4194560 1234"),
            Some(26923)
        );
        // comm may hold spaces and parentheses: the fields are read after the last ')'.
        assert_eq!(proc_stat_pgrp("42 (a) b (c) d) R 1 7 7 0 -1 0"), Some(7));
        assert_eq!(proc_stat_pgrp("42 (no closing paren R 1 7"), None);
        assert_eq!(proc_stat_pgrp("42 (x) R 1"), None);
        let rollup = "55d0-7ffc ---p 00000000 00:00 0 [rollup]\nRss:              123456 kB\nPss:               65432 kB\nPss_Anon:          10000 kB\n";
        assert_eq!(proc_kib_field(rollup, "Pss:"), Some(65_432 * 1024));
        assert_eq!(proc_kib_field(rollup, "Rss:"), Some(123_456 * 1024));
        let status = "Name:\tchromium\nVmPeak:\t  900 kB\nVmRSS:\t   2048 kB\n";
        assert_eq!(proc_kib_field(status, "VmRSS:"), Some(2048 * 1024));
        assert_eq!(proc_kib_field(status, "VmSwap:"), None);
        assert_eq!(proc_kib_field("Pss: lots kB\n", "Pss:"), None);
        let memory = BrowserMemory {
            bytes: 1,
            pss: 3,
            rss: 0,
        };
        assert_eq!(memory.method(), "Pss");
        assert_eq!(BrowserMemory { rss: 1, ..memory }.method(), "Pss+VmRSS");
    }

    #[test]
    fn ratios_targets_and_table() {
        assert_eq!(
            cases().map(|c| c.query()),
            [
                "?n=1&layout=visible".to_owned(),
                "?n=8&layout=visible".to_owned(),
                "?n=30&layout=visible".to_owned(),
                format!("?n=30&layout=far&wait_ms={FAR_WAIT_MS}"),
            ]
        );
        let sample = |ms: f64, mb: f64, workers: usize| ManySample {
            all_printed_ms: ms,
            memory_growth: Some(mb * 1e6),
            memory_method: Some("Pss"),
            workers,
            printed: 1,
            in_viewport: 1,
            ..ManySample::default()
        };
        let mut server = ServerRun::new(ManyServer::Isolated);
        assert!(!server.complete());
        server.cases[0].samples = vec![sample(2000.0, 100.0, 2), sample(2200.0, 120.0, 2)];
        server.cases[1].samples = vec![sample(9800.0, 440.0, 9)];
        server.cases[2].samples = vec![sample(2500.0, 140.0, 31)];
        assert_eq!(server.cases[0].time(), Some(2100.0));
        let (time, memory) = server.ratios(&server.cases[1]);
        assert_eq!(time.map(round3), Some(4.667));
        assert_eq!(memory.map(round3), Some(4.0));
        assert_eq!(
            server.ratio_passes(&server.cases[1]),
            (Some(false), Some(false))
        );
        assert_eq!(
            server.ratio_passes(&server.cases[2]),
            (Some(true), Some(true))
        );
        assert_eq!(server.ratio_passes(&server.cases[0]), (None, None));
        assert!(!server.complete(), "no far sample");
        server.cases[3].samples = vec![
            sample(2100.0, 110.0, 2),
            // The spare came after the page reported: the count a second later is the one that counts.
            ManySample {
                workers_later: Some(3),
                ..sample(2000.0, 100.0, 2)
            },
        ];
        assert_eq!(server.cases[3].workers(), Some(3));
        assert_eq!(server.cases[3].workers_pass(), Some(false));
        assert!(!server.complete(), "no wait or demo sample");
        server.wait = WaitRun::sampled();
        server.demo = DemoRun::sampled();
        assert!(server.complete());
        let mut run = ManyRun::new(1);
        assert!(!run.complete());
        run.servers.push(server);
        assert!(run.complete());
        assert_eq!(run.memory_method(), "Pss");
        let json = run.to_json();
        let cases = &json["servers"]["isolated"]["cases"];
        assert_eq!(cases["visible_8"]["time_ratio_pass"], json!(false));
        assert_eq!(cases["visible_30"]["memory_ratio_to_1"], json!(1.273));
        assert_eq!(cases["far_30"]["workers_pass"], json!(false));
        let mut table = String::new();
        many_table(&mut table, &run);
        assert!(table.contains("4.67 <= 1.2 MISS"), "{table}");
        assert!(table.contains("1.19 <= 1.3 PASS"), "{table}");
        assert!(table.contains("3 <= 2 MISS"), "{table}");
        assert!(
            table.contains("NOT all in the viewport: visible_8: only 1 of 8"),
            "{table}"
        );
        assert!(table.contains("+2.0 ms over B alone <= 50 PASS"), "{table}");
        assert!(table.contains("7.00 ms <= 150 PASS"), "{table}");
        assert!(table.contains("1.500 x one <= 1.3 MISS"), "{table}");
        assert_eq!(
            json["servers"]["isolated"]["wait"]["input_pass"],
            json!(true)
        );
        assert_eq!(json["servers"]["isolated"]["demo"]["pass"], json!(false));
    }
}
