//! `bench [--runs N] [--quick] ...`: time to first output of `<python-runner>` against bare Pyodide in a module
//! worker (cold and warm, in headless Chromium), the element's interaction latencies per transport (input, Stop,
//! restart with the spare worker), its time to first output with an archive (`src`) the server delays, the library
//! build `python-runner.mjs` against the upstream npm packages it replaces (same page, same Pyodide), print
//! floods in the element against a bare Pyodide worker (`bench/flood.rs`), and the size of
//! `target/dist/python-runner.js`; prints a table and writes JSON to `target/bench/`. Run through
//! `cargo bundle bench`, which builds the release bundle first.

// A crate root's modules resolve beside it (src/bin/flood.rs, which Cargo would take for a binary of its own),
// so the bench's parts in their own files live under src/bin/bench/, named by path.
#[path = "bench/flood.rs"]
mod flood;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use flood::{flood_table, run_flood, FloodCounts, FloodRun};
use python_runner_tests::{report, workspace_root, Browser, BrowserOptions, Server, ServerOptions};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: bench [--runs N] [--quick] [options]

Measures time to first output (print(\"hi\")) of <python-runner> against bare Pyodide in a module worker,
cold (a fresh Chromium profile per sample) and warm (one browser, HTTP and wasm code caches filled), on a
cross-origin isolated server and (warm only) a non-isolated one; and the size of target/dist/python-runner.js.
Prints a table; writes target/bench/bench-<unix time>.json and target/bench/latest.json.

  --runs N            samples per variant for both cold and warm (default: cold 5, warm 9)
  --cold-runs N       cold samples per variant
  --warm-runs N       warm samples per variant
  --warmup N          unmeasured loads of each page before the warm samples (default 1)
  --quick             cold 2, warm 3 (explicit counts still win)
  --skip-not-isolated no warm time-to-first-output run on the non-isolated server
  --no-trace          no traced samples (the breakdown of where the time goes)
  --skip-interaction  no interaction part (below)
  --only-interaction  only the interaction part (no time to first output); --only-* flags add up
  --skip-archive      no archive part (below)
  --only-archive      only the archive part
  --archive-runs N    archive samples per variant (default 5, --quick 2)
  --skip-library      no library part (below)
  --only-library      only the library part
  --skip-flood        no output flood part (below)
  --only-flood        only the output flood part
  --flood-runs N      flood samples per case and variant (default 3, --quick 1)

Interaction (one warm browser, fresh profile, per variant: isolated, transport atomics; isolated, transport
service-worker; not isolated, transport jspi; not isolated, transport service-worker: the page registers
/dist/python-runner.js as its service worker, creates the element with transport=\"service-worker\" once the
page is controlled, and unregisters it at the end), on tests/fixtures/bench/interact.html: input latency over a
loop of 200 input() calls (--quick: 50), page write -> Python has the line, and Enter -> next input field;
Stop -> KeyboardInterrupt on screen in a busy loop (atomics only), time.sleep(60) and input(), 10 samples each
(--quick: 3); Stop that replaces Python with the pre-warmed spare (busy loop without atomics,
sum(range(10**15)) after the 1 s grace with atomics): restart notice -> ready event, 5 samples (--quick: 2),
against a fresh element's created -> ready on a new page load.

Archive (one warm browser, isolated server, tests/fixtures/bench/archive.html, a fresh page load per sample): time
from element created to its first output line of `import mypkg; print(mypkg.GREETING)` with
src=\"/fixtures/archive/project.zip?delay_ms=D&n=<unique>\" (the server answers D ms late), for D = 0, 1000 and
3000 ms, against the baseline: a bare element (no src) printing \"hi\". Since the page downloads the archive while
the worker loads Pyodide, the ideal is max(baseline median, D); target: median / ideal <= 1.05.

Library (one warm browser, fresh profile, per server: isolated, Atomics channel; not isolated, service-worker
channel), on tests/fixtures/bench/library.html: python-runner.mjs (ours) against the npm packages it replaces,
pyodide-worker-runner 1.4.0 + comsync 0.0.9 + sync-message 0.0.12 + comlink 4.4.2 (upstream, served from
node_modules/ and loaded with a small CommonJS loader). One page holds a PyodideClient of each, whose module
worker loads the same Pyodide, runs its initPyodide and the same Python patch of input() and time.sleep (through
makeRunnerCallback). Samples of the two alternate, over 5 rounds (--quick: 2): input latency (client.writeMessage
-> Python has the line; 200 lines, --quick 50), call round trip (client.call(proxy.noop); 100, --quick 20),
client.interrupt() during input() -> the call settled with KeyboardInterrupt caught in Python (20, --quick 4),
time.sleep(0.1) overshoot measured in Python (20, --quick 6), and a new client's worker start -> ready (Pyodide
loaded + initPyodide; 5, --quick 2). Without isolation the page registers one module service worker for both
implementations, python-runner.mjs's serviceWorkerFetchListener (it speaks sync-message's wire), and unregisters
it at the end.

Output flood (one warm browser, fresh profile, isolated server, tests/fixtures/bench/flood.html, a fresh page
per sample): per case, <python-runner manual> (ready, one warm-up run, 3 s for its spare worker to boot) against
a bare module worker that loads Pyodide and posts every batch of stdout and stderr to the page: wall time
run() -> done event (bare: \"run\" posted -> \"done\" received), median; the element's longest main-thread
task and frame during the run (longtask and long-animation-frame entries; target <= 50 ms) and its page memory
growth, element created -> after done (measureUserAgentSpecificMemory, the Window's share only, else
performance.memory; checked first on a page keeping 50 MB of strings). Cases: 200,000 short lines (target:
element/bare <= 1.5), 20,000 lines alternating stdout and stderr, one 10 MB line, 2,000,000 lines (target:
memory growth < 100 MB). Every sample checks the characters received and the element's last line shown. Then
Stop during while True: print(\"flood\") after 500 ms of output -> KeyboardInterrupt on screen, 5 samples
(--quick: 2), target median <= 50 ms.

Exit status: 0 when every variant and every interaction measurement produced at least one sample (targets missed
or not), 1 otherwise.";

/// A sample that shows no output this long after navigation start counts as failed.
const SAMPLE_LIMIT: Duration = Duration::from_secs(60);
/// Gzip -9 size the bundle should not exceed.
const TARGET_GZIP: u64 = 55 * 1024;
/// Element median / bare median should not exceed this.
const TARGET_RATIO: f64 = 1.05;
/// Pause after a sample, so the previous page's worker teardown does not overlap the next measurement.
const SETTLE_WARM: Duration = Duration::from_millis(300);
/// Pause after quitting a browser (Chromium's exit and profile removal) before the next cold sample.
const SETTLE_COLD: Duration = Duration::from_millis(1000);

#[derive(Debug, Clone, PartialEq)]
struct Args {
    cold_runs: usize,
    warm_runs: usize,
    warmup: usize,
    quick: bool,
    not_isolated: bool,
    trace: bool,
    /// Time to first output (cold and warm); off with `--only-interaction`.
    ttfo: bool,
    /// The interaction part; off with `--skip-interaction`.
    interaction: bool,
    /// The archive part; off with `--skip-archive`.
    archive: bool,
    /// Archive samples per variant (baseline and each delay).
    archive_runs: usize,
    /// The library part (python-runner.mjs against the upstream npm packages); off with `--skip-library`.
    library: bool,
    /// The output flood part (print floods, element against bare Pyodide); off with `--skip-flood`.
    flood: bool,
    /// Flood samples per case and variant (`--flood-runs`); `None`: the default for `--quick` or not.
    flood_runs: Option<usize>,
    /// Some `--only-*` flag was given (for saying why a part did not run).
    only: bool,
}

fn parse_args(args: &[String]) -> Result<Option<Args>> {
    let (mut runs, mut cold, mut warm, mut warmup) = (None, None, None, 1);
    let mut quick = false;
    let mut not_isolated = true;
    let mut trace = true;
    let (mut skip_interaction, mut only_interaction) = (false, false);
    let (mut skip_archive, mut only_archive, mut archive_runs) = (false, false, None);
    let (mut skip_library, mut only_library) = (false, false);
    let (mut skip_flood, mut only_flood, mut flood_runs) = (false, false, None);
    let mut it = args.iter();
    let count = |flag: &str, value: Option<&String>| -> Result<usize> {
        let value = value.with_context(|| format!("{flag} needs a value"))?;
        value
            .parse()
            .with_context(|| format!("{flag}: bad count {value:?}"))
    };
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "--runs" => runs = Some(count(flag, value().as_ref())?),
            "--cold-runs" => cold = Some(count(flag, value().as_ref())?),
            "--warm-runs" => warm = Some(count(flag, value().as_ref())?),
            "--warmup" => warmup = count(flag, value().as_ref())?,
            "--quick" => quick = true,
            "--skip-not-isolated" => not_isolated = false,
            "--no-trace" => trace = false,
            "--skip-interaction" => skip_interaction = true,
            "--only-interaction" => only_interaction = true,
            "--skip-archive" => skip_archive = true,
            "--only-archive" => only_archive = true,
            "--archive-runs" => archive_runs = Some(count(flag, value().as_ref())?),
            "--skip-library" => skip_library = true,
            "--only-library" => only_library = true,
            "--skip-flood" => skip_flood = true,
            "--only-flood" => only_flood = true,
            "--flood-runs" => flood_runs = Some(count(flag, value().as_ref())?),
            "--help" | "-h" => return Ok(None),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let (cold_default, warm_default, archive_default) = if quick { (2, 3, 2) } else { (5, 9, 5) };
    // Without any --only-* flag every part runs; with some, exactly the named ones; --skip-* then removes parts.
    let only = only_interaction || only_archive || only_library || only_flood;
    let args = Args {
        cold_runs: cold.or(runs).unwrap_or(cold_default),
        warm_runs: warm.or(runs).unwrap_or(warm_default),
        warmup,
        quick,
        not_isolated,
        trace,
        ttfo: !only,
        interaction: (!only || only_interaction) && !skip_interaction,
        archive: (!only || only_archive) && !skip_archive,
        archive_runs: archive_runs.unwrap_or(archive_default),
        library: (!only || only_library) && !skip_library,
        flood: (!only || only_flood) && !skip_flood,
        flood_runs,
        only,
    };
    if skip_interaction && only_interaction {
        bail!("--skip-interaction and --only-interaction leave nothing to measure");
    }
    if skip_archive && only_archive {
        bail!("--skip-archive and --only-archive leave nothing to measure");
    }
    if skip_library && only_library {
        bail!("--skip-library and --only-library leave nothing to measure");
    }
    if skip_flood && only_flood {
        bail!("--skip-flood and --only-flood leave nothing to measure");
    }
    if args.flood && args.flood_runs == Some(0) {
        bail!("--flood-runs 0 leaves the flood part nothing to measure (use --skip-flood)");
    }
    if args.archive && args.archive_runs == 0 {
        bail!("--archive-runs 0 leaves the archive part nothing to measure (use --skip-archive)");
    }
    if args.ttfo
        && !args.interaction
        && !args.archive
        && !args.library
        && !args.flood
        && args.cold_runs == 0
        && args.warm_runs == 0
    {
        bail!("nothing to measure: both cold and warm runs are 0");
    }
    Ok(Some(args))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match parse_args(&args) {
        Ok(None) => {
            println!("{USAGE}");
            0
        }
        Ok(Some(args)) => match run(&args) {
            Ok(complete) => i32::from(!complete),
            Err(e) => {
                eprintln!("bench: {}", report(&e));
                2
            }
        },
        Err(e) => {
            eprintln!("bench: {}", report(&e));
            2
        }
    };
    std::process::exit(code);
}

// ---------------------------------------------------------------------------------------------------------------
// Samples

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    Element,
    Bare,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Element => "element",
            Variant::Bare => "bare",
        }
    }

    /// Element and bare alternate, and the pair's order flips every round (E B, B E, E B, ...), so neither
    /// variant always runs right after the other.
    fn pair(round: usize) -> [Variant; 2] {
        if round.is_multiple_of(2) {
            [Variant::Element, Variant::Bare]
        } else {
            [Variant::Bare, Variant::Element]
        }
    }
}

/// One page load, as `window.__bench` reported it (times in ms).
#[derive(Clone, Debug, Default)]
struct Sample {
    /// t1 − t0: element created (or `new Worker()`) to "hi" shown (or received).
    ttfo: Option<f64>,
    /// t1 since navigation start (for the element, includes loading and defining the bundle).
    from_navigation: Option<f64>,
    /// Element only: when `customElements.whenDefined` resolved, since navigation start.
    defined: Option<f64>,
    /// Element only: the `ready` event (Pyodide loaded), after t0.
    ready: Option<f64>,
    error: Option<String>,
    console_errors: Vec<String>,
    /// `window.__trace` plus the page's own resource timings, for traced samples.
    trace: Option<Value>,
    raw: Value,
}

impl Sample {
    fn failed(error: String) -> Sample {
        Sample {
            error: Some(error),
            ..Sample::default()
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "ok": self.error.is_none(),
            "ttfo_ms": self.ttfo.map(round1),
            "from_navigation_start_ms": self.from_navigation.map(round1),
            "defined_ms": self.defined.map(round1),
            "ready_ms": self.ready.map(round1),
            "error": self.error,
            "console_errors": self.console_errors,
        })
    }
}

/// Waits for `window.__bench` (a Promise) without polling, so the tool adds no load while the page works.
const RESULT_JS: &str = r#"
const done = arguments[arguments.length - 1];
const limit = Math.max(0, LIMIT_MS - performance.now());
const timer = setTimeout(() => done({ ok: false, error: `no output within ${LIMIT_MS / 1000} s of navigation start` }), limit);
const finish = (result) => { clearTimeout(timer); done(result); };
if (!window.__bench) {
  finish({ ok: false, error: "window.__bench is not set (did the page's script fail?)" });
} else {
  Promise.resolve(window.__bench).then(finish, (e) => finish({ ok: false, error: String((e && e.stack) || e) }));
}
"#;

/// The page's own resource timings (the bundle, the page) and its navigation timing, for traced samples.
const PAGE_TIMINGS_JS: &str = r#"
const nav = performance.getEntriesByType("navigation")[0];
return {
  trace: window.__trace ?? null,
  navigation: nav ? { response_end: nav.responseEnd, dom_content_loaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd } : null,
  page_resources: performance.getEntriesByType("resource").map((r) => ({
    name: r.name, start: r.startTime, end: r.responseEnd, transfer_size: r.transferSize, encoded_size: r.encodedBodySize,
  })),
};
"#;

fn page_url(server: &Server, variant: Variant, trace: bool) -> String {
    let query = if trace { "?trace=1" } else { "" };
    server.url(&format!("/fixtures/bench/{}.html{query}", variant.name()))
}

/// Loads the variant's page in `browser` and waits for its result; never fails, a problem is a failed sample.
fn measure(browser: &Browser, server: &Server, variant: Variant, trace: bool) -> Sample {
    let mut sample = match measure_inner(browser, server, variant, trace) {
        Ok(sample) => sample,
        Err(e) => Sample::failed(report(&e)),
    };
    sample.console_errors = console_errors(browser);
    sample
}

/// Launches a browser for a part of the bench; the error (also printed) skips that part.
fn launch_browser() -> Result<Browser, String> {
    Browser::launch().map_err(|e| {
        let error = format!("could not launch the browser: {}", report(&e));
        eprintln!("  {error}");
        error
    })
}

/// Leaves the page, so its workers are gone before the next sample, and waits for that.
fn settle_warm(browser: &Browser) {
    let _ = browser.goto("about:blank");
    std::thread::sleep(SETTLE_WARM);
}

/// The console's errors so far, or a note that the console could not be read.
fn console_errors(browser: &Browser) -> Vec<String> {
    browser
        .console_errors()
        .unwrap_or_else(|e| vec![format!("(console unavailable: {e:#})")])
}

fn measure_inner(
    browser: &Browser,
    server: &Server,
    variant: Variant,
    trace: bool,
) -> Result<Sample> {
    browser.goto(&page_url(server, variant, trace))?;
    let script = RESULT_JS.replace("LIMIT_MS", &SAMPLE_LIMIT.as_millis().to_string());
    let raw = browser.eval_async(&script)?;
    let num = |key: &str| raw.get(key).and_then(Value::as_f64);
    let mut sample = Sample {
        raw: raw.clone(),
        ..Sample::default()
    };
    if raw.get("ok") != Some(&Value::Bool(true)) {
        sample.error = Some(
            raw.get("error")
                .and_then(Value::as_str)
                .map_or_else(|| format!("unexpected result {raw}"), str::to_owned),
        );
        return Ok(sample);
    }
    sample.ttfo = num("ttfo");
    sample.from_navigation = num("t1");
    sample.defined = num("defined");
    sample.ready = num("ready").zip(num("t0")).map(|(ready, t0)| ready - t0);
    if sample.ttfo.is_none() {
        sample.error = Some(format!("result without ttfo: {raw}"));
    }
    if trace {
        // The worker side reports over a BroadcastChannel; the bare worker's report comes only after its
        // top-level await (after "hi"), so give it a moment.
        let _ = browser.wait_for(
            "window.__trace && window.__trace.worker_resources.some((r) => /\\/pyodide\\.mjs(\\?|$)/.test(r.name))",
            Duration::from_secs(5),
        );
        std::thread::sleep(Duration::from_millis(200));
        sample.trace = Some(browser.eval(PAGE_TIMINGS_JS)?);
    }
    Ok(sample)
}

fn describe(sample: &Sample) -> String {
    match (&sample.error, sample.ttfo) {
        (Some(error), _) => failure(error, sample),
        (None, Some(ttfo)) => {
            let mut out = format!("{ttfo:.0} ms");
            if let Some(nav) = sample.from_navigation {
                let _ = write!(out, " (from navigation start {nav:.0} ms)");
            }
            out
        }
        (None, None) => "no time".into(),
    }
}

/// `FAILED: <first line of the error>`, plus the first console error, which often says why.
fn failure(error: &str, sample: &Sample) -> String {
    failure_with(error, &sample.console_errors)
}

fn failure_with(error: &str, console_errors: &[String]) -> String {
    let mut out = format!("FAILED: {}", first_line(error));
    if let Some(console) = console_errors.first() {
        let _ = write!(out, " (console: {})", first_line(console));
    }
    out
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn progress(label: &str, what: &str, sample: &Sample) {
    eprintln!("  {label:<28} {what:<16} {}", describe(sample));
    // A failed sample's description already shows the first console error.
    let shown = usize::from(sample.error.is_some());
    for error in sample.console_errors.iter().skip(shown) {
        eprintln!("      console: {}", first_line(error));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios

/// Element and bare samples of one scenario, plus the traced pair (measured separately, not in the stats).
#[derive(Debug, Default)]
struct Scenario {
    /// Key in the JSON.
    key: &'static str,
    /// Name in the table.
    label: &'static str,
    /// Column title prefix in the trace table.
    short: &'static str,
    element: Vec<Sample>,
    bare: Vec<Sample>,
    traced: Vec<(Variant, Sample)>,
    /// Why the scenario did not run at all (e.g. the browser could not be launched).
    skipped: Option<String>,
}

impl Scenario {
    fn new(key: &'static str, label: &'static str, short: &'static str) -> Scenario {
        Scenario {
            key,
            label,
            short,
            ..Scenario::default()
        }
    }

    fn push(&mut self, variant: Variant, sample: Sample) {
        match variant {
            Variant::Element => self.element.push(sample),
            Variant::Bare => self.bare.push(sample),
        }
    }

    fn ratio(&self, value: Metric) -> Option<f64> {
        let element = Stats::of(&values(&self.element, value))?;
        let bare = Stats::of(&values(&self.bare, value))?;
        (bare.median > 0.0).then(|| element.median / bare.median)
    }

    /// Median over rounds of element / bare of the same round (the two ran back to back, so a change of machine
    /// load between rounds cancels out); a round where either failed is left out.
    fn paired_ratio(&self, value: Metric) -> Option<f64> {
        let ok = |s: &Sample| if s.error.is_none() { value(s) } else { None };
        let ratios: Vec<f64> = self
            .element
            .iter()
            .zip(&self.bare)
            .filter_map(|(element, bare)| ok(element).zip(ok(bare)))
            .filter(|(_, bare)| *bare > 0.0)
            .map(|(element, bare)| element / bare)
            .collect();
        Stats::of(&ratios).map(|s| s.median)
    }

    /// Every variant that should have samples has at least one successful one.
    fn complete(&self, expected: usize) -> bool {
        expected == 0
            || [&self.element, &self.bare]
                .iter()
                .all(|samples| samples.iter().any(|s| s.error.is_none()))
    }

    fn to_json(&self) -> Value {
        let ratio = self.ratio(|s| s.ttfo);
        json!({
            "label": self.label,
            "skipped": self.skipped,
            "element": series_json(&self.element, Variant::Element),
            "bare": series_json(&self.bare, Variant::Bare),
            "ratio": ratio.map(round3),
            "target_ratio": TARGET_RATIO,
            "ratio_pass": ratio.map(|r| r <= TARGET_RATIO),
            "ratio_paired_median": self.paired_ratio(|s| s.ttfo).map(round3),
            "ratio_from_navigation_start": self.ratio(|s| s.from_navigation).map(round3),
            "traced": self.traced.iter().map(|(variant, sample)| json!({
                "variant": variant.name(),
                "sample": sample.to_json(),
                "milestones_after_t0_ms": milestones(sample)
                    .into_iter()
                    .map(|(name, at)| (name.to_owned(), json!(at.map(round1))))
                    .collect::<serde_json::Map<_, _>>(),
                "raw": sample.trace,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Cold: a fresh browser (empty profile: no HTTP cache, no wasm code cache) for every sample.
fn run_cold(server: &Server, args: &Args) -> Scenario {
    let mut scenario = Scenario::new("cold", "cold, isolated", "cold");
    eprintln!(
        "cold (a new browser per sample), {} per variant:",
        args.cold_runs
    );
    let fresh = |variant: Variant, trace: bool| -> Sample {
        let sample = match Browser::launch() {
            Ok(browser) => measure(&browser, server, variant, trace),
            Err(e) => Sample::failed(format!("could not launch the browser: {}", report(&e))),
        };
        std::thread::sleep(SETTLE_COLD);
        sample
    };
    for round in 0..args.cold_runs {
        for variant in Variant::pair(round) {
            let sample = fresh(variant, false);
            progress(
                &format!("cold {}/{}", round + 1, args.cold_runs),
                variant.name(),
                &sample,
            );
            scenario.push(variant, sample);
        }
    }
    if args.trace && args.cold_runs > 0 {
        for variant in [Variant::Element, Variant::Bare] {
            let sample = fresh(variant, true);
            progress("cold traced", variant.name(), &sample);
            scenario.traced.push((variant, sample));
        }
    }
    scenario
}

/// Warm: one browser; each page loaded `warmup` times first, then alternating fresh navigations.
fn run_warm(
    server: &Server,
    args: &Args,
    (key, label, short): (&'static str, &'static str, &'static str),
) -> Scenario {
    let mut scenario = Scenario::new(key, label, short);
    eprintln!(
        "{label} (one browser, {} warm-up load(s) of each page), {} per variant:",
        args.warmup, args.warm_runs
    );
    let browser = match launch_browser() {
        Ok(browser) => browser,
        Err(error) => {
            scenario.skipped = Some(error);
            return scenario;
        }
    };
    let settle = || settle_warm(&browser);
    for round in 0..args.warmup {
        for variant in [Variant::Element, Variant::Bare] {
            let sample = measure(&browser, server, variant, false);
            progress(&format!("warm-up {}", round + 1), variant.name(), &sample);
            settle();
        }
    }
    for round in 0..args.warm_runs {
        for variant in Variant::pair(round) {
            let sample = measure(&browser, server, variant, false);
            progress(
                &format!("{key} {}/{}", round + 1, args.warm_runs),
                variant.name(),
                &sample,
            );
            scenario.push(variant, sample);
            settle();
        }
    }
    if args.trace {
        for variant in [Variant::Element, Variant::Bare] {
            let sample = measure(&browser, server, variant, true);
            progress(&format!("{key} traced"), variant.name(), &sample);
            scenario.traced.push((variant, sample));
            settle();
        }
    }
    scenario
}

// ---------------------------------------------------------------------------------------------------------------
// Interaction: input latency, Stop and restart, on tests/fixtures/bench/interact.html

/// Input latency targets (median of page write → Python has the line), ms.
const TARGET_INPUT_ATOMICS: f64 = 1.0;
const TARGET_INPUT_JSPI: f64 = 5.0;
const TARGET_INPUT_SERVICE_WORKER: f64 = 10.0;
/// Stop → `KeyboardInterrupt` on screen, median, ms.
const TARGET_STOP: f64 = 20.0;
/// Restart notice → `ready` with the spare worker, median, ms.
const TARGET_RESTART: f64 = 100.0;
/// After a restart, before the next sample: the element's new spare boots (it starts 300 ms after the adopted
/// worker is ready and takes ~1.5 s) and the replaced worker, which Chromium may let run for 2 s after
/// `terminate()`, is gone.
const RESTART_SETTLE: Duration = Duration::from_secs(4);
/// After the measuring page's element is ready, before the first measurement: its spare boots meanwhile, so
/// that its loading does not compete with the measurements (and it is there for the restarts).
const SPARE_SETTLE: Duration = Duration::from_secs(3);
/// Unmeasured input() calls before the measured loop (first-call costs in Python, the worker and the page).
const INPUT_WARMUP_LINES: usize = 10;

/// Sample counts of the interaction part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InteractionCounts {
    /// input() calls in the measured loop.
    input_lines: usize,
    /// Stop → KeyboardInterrupt samples per kind of blocking code.
    stop: usize,
    /// Restarts with the spare.
    restart: usize,
    /// Fresh page loads for the baseline (a new element's created → ready, no spare).
    fresh: usize,
}

impl InteractionCounts {
    fn new(quick: bool) -> InteractionCounts {
        if quick {
            InteractionCounts {
                input_lines: 50,
                stop: 3,
                restart: 2,
                fresh: 3,
            }
        } else {
            InteractionCounts {
                input_lines: 200,
                stop: 10,
                restart: 5,
                fresh: 5,
            }
        }
    }
}

/// One measured quantity: its values (ms) and the errors of the attempts that failed.
#[derive(Debug, Default)]
struct Series {
    key: &'static str,
    label: &'static str,
    /// Target for the median, ms; `None`: reported without a target.
    target: Option<f64>,
    values: Vec<f64>,
    errors: Vec<String>,
}

impl Series {
    fn new(key: &'static str, label: &'static str, target: Option<f64>) -> Series {
        Series {
            key,
            label,
            target,
            ..Series::default()
        }
    }

    fn median(&self) -> Option<f64> {
        Stats::of(&self.values).map(|s| s.median)
    }

    fn pass(&self) -> Option<bool> {
        self.median()
            .zip(self.target)
            .map(|(median, target)| median <= target)
    }

    fn to_json(&self) -> Value {
        let stats = Stats::of(&self.values);
        json!({
            "label": self.label.trim_start(),
            "n": self.values.len(),
            "failed": self.errors.len(),
            "median_ms": stats.map(|s| round3(s.median)),
            "p90_ms": p90(&self.values).map(round3),
            "min_ms": stats.map(|s| round3(s.min)),
            "max_ms": stats.map(|s| round3(s.max)),
            "target_median_ms": self.target,
            "pass": self.pass(),
            "samples_ms": self.values.iter().copied().map(round3).collect::<Vec<_>>(),
            "errors": self.errors,
        })
    }
}

/// Which server an interaction run uses, which transport the element must use there, and what Stop does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Page {
    /// Cross-origin isolated: shared memory, Stop interrupts anything but C code.
    Isolated,
    /// Not isolated: JSPI, Stop interrupts only waits (input, sleep); busy code is restarted.
    NotIsolated,
    /// Not isolated, the bundle registered as the page's service worker and the element's
    /// `transport="service-worker"`: like JSPI, Stop interrupts only waits; busy code is restarted.
    ServiceWorker,
    /// The same on the cross-origin isolated server (the attribute wins over Atomics).
    IsolatedServiceWorker,
}

impl Page {
    /// Every interaction variant, in the order they run; the service-worker ones come last on their server, so
    /// that no variant runs on an origin with a registered service worker (each also has its own browser).
    const ALL: [Page; 4] = [
        Page::Isolated,
        Page::IsolatedServiceWorker,
        Page::NotIsolated,
        Page::ServiceWorker,
    ];

    fn key(self) -> &'static str {
        match self {
            Page::Isolated => "isolated",
            Page::NotIsolated => "not_isolated",
            Page::ServiceWorker => "not_isolated_service_worker",
            Page::IsolatedServiceWorker => "isolated_service_worker",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Page::Isolated => "isolated (transport atomics)",
            Page::NotIsolated => "not isolated (transport jspi)",
            Page::ServiceWorker => "not isolated (transport service-worker)",
            Page::IsolatedServiceWorker => "isolated (transport service-worker)",
        }
    }

    fn isolated(self) -> bool {
        matches!(self, Page::Isolated | Page::IsolatedServiceWorker)
    }

    fn transport(self) -> &'static str {
        match self {
            Page::Isolated => "atomics",
            Page::NotIsolated => "jspi",
            Page::ServiceWorker | Page::IsolatedServiceWorker => "service-worker",
        }
    }

    /// The element's `transport` attribute (`interact.html`'s `create(transport)`); `None`: the default.
    fn transport_attribute(self) -> Option<&'static str> {
        self.service_worker().then_some("service-worker")
    }

    /// The page registers the bundle as its service worker first (and unregisters it at the end).
    fn service_worker(self) -> bool {
        matches!(self, Page::ServiceWorker | Page::IsolatedServiceWorker)
    }

    fn input_target(self) -> f64 {
        match self {
            Page::Isolated => TARGET_INPUT_ATOMICS,
            Page::NotIsolated => TARGET_INPUT_JSPI,
            Page::ServiceWorker | Page::IsolatedServiceWorker => TARGET_INPUT_SERVICE_WORKER,
        }
    }

    /// Kinds of blocking code that Stop ends with a KeyboardInterrupt (`interact.html`'s `stop(kind)`).
    fn stop_kinds(self) -> &'static [&'static str] {
        match self {
            Page::Isolated => &["busy", "sleep", "input"],
            Page::NotIsolated | Page::ServiceWorker | Page::IsolatedServiceWorker => {
                &["sleep", "input"]
            }
        }
    }

    /// The code whose Stop replaces Python (`interact.html`'s `restart(kind)`).
    fn restart_kind(self) -> &'static str {
        match self {
            Page::Isolated => "stuck",
            Page::NotIsolated | Page::ServiceWorker | Page::IsolatedServiceWorker => "busy",
        }
    }
}

/// The interaction measurements on one server.
#[derive(Debug)]
struct Interaction {
    page: Page,
    /// `activeTransport` of the measuring page's element.
    transport: Option<String>,
    /// Why the run stopped early or did not start (the browser or the page failed).
    aborted: Option<String>,
    /// Service-worker pages: registering the bundle → it controls the page, on the first load, ms.
    service_worker_setup: Option<f64>,
    /// Service-worker pages: how unregistering at the end went (`None`: not tried).
    unregistered: Option<std::result::Result<u64, String>>,
    write_to_python: Series,
    enter_to_field: Series,
    /// Stop → KeyboardInterrupt, in the order of `Page::stop_kinds`.
    stops: Vec<Series>,
    restart: Series,
    restart_from_stop: Series,
    fresh_ready: Series,
}

impl Interaction {
    fn new(page: Page) -> Interaction {
        let input_target = page.input_target();
        let stop_label = |kind: &str| match kind {
            "busy" => "Stop -> KeyboardInterrupt shown: while True: pass",
            "sleep" => "Stop -> KeyboardInterrupt shown: time.sleep(60)",
            _ => "Stop -> KeyboardInterrupt shown: input()",
        };
        let stop_key = |kind: &str| match kind {
            "busy" => "stop_busy_loop",
            "sleep" => "stop_sleep",
            _ => "stop_input",
        };
        let (restart_label, restart_from_stop_label) = match page {
            Page::Isolated => (
                "restart (sum(range(10**15)), Stop, 1 s grace): notice -> ready",
                "  same, Stop -> ready (incl. the 1 s grace)",
            ),
            Page::NotIsolated | Page::ServiceWorker | Page::IsolatedServiceWorker => (
                "restart (while True: pass, Stop): notice -> ready",
                "  same, Stop -> ready",
            ),
        };
        Interaction {
            page,
            transport: None,
            aborted: None,
            service_worker_setup: None,
            unregistered: None,
            write_to_python: Series::new(
                "input_write_to_python",
                "input: page write -> Python has the line",
                Some(input_target),
            ),
            enter_to_field: Series::new(
                "input_enter_to_next_field",
                "input: Enter -> next input field shown",
                None,
            ),
            stops: page
                .stop_kinds()
                .iter()
                .map(|kind| Series::new(stop_key(kind), stop_label(kind), Some(TARGET_STOP)))
                .collect(),
            restart: Series::new(
                "restart_notice_to_ready",
                restart_label,
                Some(TARGET_RESTART),
            ),
            restart_from_stop: Series::new("restart_stop_to_ready", restart_from_stop_label, None),
            fresh_ready: Series::new(
                "fresh_element_ready",
                "baseline: fresh element on a new page, created -> ready",
                None,
            ),
        }
    }

    fn series(&self) -> Vec<&Series> {
        let mut all = vec![&self.write_to_python, &self.enter_to_field];
        all.extend(&self.stops);
        all.extend([&self.restart, &self.restart_from_stop, &self.fresh_ready]);
        all
    }

    /// Restart with the spare / fresh element without one (medians).
    fn restart_ratio(&self) -> Option<f64> {
        let fresh = self.fresh_ready.median()?;
        (fresh > 0.0).then_some(self.restart.median()? / fresh)
    }

    /// Every measurement produced at least one value, and the run was not cut short.
    fn complete(&self) -> bool {
        self.aborted.is_none() && self.series().iter().all(|s| !s.values.is_empty())
    }

    fn to_json(&self) -> Value {
        json!({
            "label": self.page.label(),
            "expected_transport": self.page.transport(),
            "transport": self.transport,
            "cross_origin_isolated": self.page.isolated(),
            "service_worker": self.page.service_worker().then(|| json!({
                "setup_ms": self.service_worker_setup.map(round3),
                "unregistered": match &self.unregistered {
                    Some(Ok(n)) => json!(n),
                    Some(Err(e)) => json!({ "error": e }),
                    None => Value::Null,
                },
            })),
            "aborted": self.aborted,
            "complete": self.complete(),
            "metrics": self
                .series()
                .iter()
                .map(|s| (s.key.to_owned(), s.to_json()))
                .collect::<serde_json::Map<_, _>>(),
            "restart_over_fresh_ratio": self.restart_ratio().map(|r| (r * 1e6).round() / 1e6),
        })
    }
}

/// Calls `window.__interact.<call>` on the current page (interact.html) and waits for its result; an
/// `{ ok: false }` result is an error.
fn interact(browser: &Browser, call: &str) -> Result<Value> {
    page_step(browser, "interact.html", call)
}

/// Calls `window.__interact.<call>` on the current page (`page`, its file name for errors) and waits for its
/// result; an `{ ok: false }` result is an error.
fn page_step(browser: &Browser, page: &str, call: &str) -> Result<Value> {
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

fn number(value: &Value, key: &str) -> Result<f64> {
    value[key]
        .as_f64()
        .with_context(|| format!("no number {key:?} in {value}"))
}

fn numbers(value: &Value, key: &str) -> Result<Vec<f64>> {
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

/// What `interact.html`'s `create()` reported.
struct Created {
    /// Created → ready event, ms.
    ready: f64,
    /// The element's `activeTransport`.
    transport: Option<String>,
    /// Service-worker pages: registering → controlled, ms (0 when the page was controlled from the start).
    service_worker_setup: Option<f64>,
}

impl Created {
    /// The element must use the page's transport.
    fn expect_transport(&self, page: Page) -> Result<()> {
        let expected = page.transport();
        if self.transport.as_deref() != Some(expected) {
            bail!(
                "the element's activeTransport is {:?}, expected {expected:?} on this page",
                self.transport
            );
        }
        Ok(())
    }
}

/// Loads interact.html afresh and creates its element with the page's transport attribute (for the service
/// worker, after registering it and waiting until it controls the page).
fn open_page(browser: &Browser, server: &Server, page: Page) -> Result<Created> {
    browser.goto(&server.url("/fixtures/bench/interact.html"))?;
    let argument = page
        .transport_attribute()
        .map_or_else(String::new, |t| json!(t).to_string());
    let created = interact(browser, &format!("create({argument})"))?;
    Ok(Created {
        ready: number(&created, "ready_ms")?,
        transport: created["transport"].as_str().map(str::to_owned),
        service_worker_setup: created["sw_ms"].as_f64(),
    })
}

/// Loads interact.html for measuring: the element must use the page's transport; then waits for the spare.
fn open_measuring_page(browser: &Browser, server: &Server, out: &mut Interaction) -> Result<()> {
    let created = open_page(browser, server, out.page)?;
    out.transport.clone_from(&created.transport);
    created.expect_transport(out.page)?;
    std::thread::sleep(SPARE_SETTLE);
    Ok(())
}

/// Service-worker pages: unregisters the origin's service workers from a fresh load of interact.html, so
/// nothing else on the origin runs under it. Returns how many registrations there were.
fn unregister_service_workers(browser: &Browser, server: &Server) -> Result<u64> {
    browser.goto(&server.url("/fixtures/bench/interact.html"))?;
    let result = interact(browser, "unregister()")?;
    result["unregistered"]
        .as_u64()
        .with_context(|| format!("no count \"unregistered\" in {result}"))
}

fn fine_ms(x: f64) -> String {
    if x.abs() < 1.0 {
        format!("{x:.3}")
    } else if x.abs() < 100.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.0}")
    }
}

/// A step failed: logs it, records it in `series`, and reloads the page so the next sample starts from a
/// fresh element (a failed Stop may leave code running). Returns false when even the reload failed.
fn record_failure(
    browser: &Browser,
    server: &Server,
    out: &mut Interaction,
    which: impl Fn(&mut Interaction) -> &mut Series,
    label: &str,
    error: &anyhow::Error,
) -> bool {
    let text = report(error);
    eprintln!("  {label:<40} FAILED: {}", first_line(&text));
    which(out).errors.push(text);
    settle_warm(browser);
    match open_measuring_page(browser, server, out) {
        Ok(()) => true,
        Err(e) => {
            let why = format!("reloading the page after a failure: {}", report(&e));
            eprintln!("  {why}");
            out.aborted = Some(why);
            false
        }
    }
}

/// The interaction part on one server, in one browser (a fresh profile): a warm-up load, the fresh-element
/// baseline, then on one page input latency, Stop → KeyboardInterrupt, and restarts with the spare; on
/// service-worker pages, unregistering it at the end. Never fails: problems are recorded in the result.
fn run_interaction(server: &Server, counts: InteractionCounts, page: Page) -> Interaction {
    let mut out = Interaction::new(page);
    eprintln!(
        "interaction, {} (one browser): {} input lines, {} Stop samples per kind, {} restarts, {} fresh loads",
        page.label(),
        counts.input_lines,
        counts.stop,
        counts.restart,
        counts.fresh
    );
    let browser = match launch_browser() {
        Ok(browser) => browser,
        Err(error) => {
            out.aborted = Some(error);
            return out;
        }
    };
    measure_interaction(&browser, server, counts, &mut out);
    if page.service_worker() {
        let unregistered = unregister_service_workers(&browser, server).map_err(|e| report(&e));
        match &unregistered {
            Ok(n) => eprintln!(
                "  {:<40} {n} registration(s)",
                format!("{} unregister", page.key())
            ),
            Err(e) => eprintln!("  {} unregister FAILED: {}", page.key(), first_line(e)),
        }
        out.unregistered = Some(unregistered);
    }
    out
}

/// The measurements of [`run_interaction`]; returns early when the measuring page cannot be (re)loaded.
fn measure_interaction(
    browser: &Browser,
    server: &Server,
    counts: InteractionCounts,
    out: &mut Interaction,
) {
    let page = out.page;
    let label = page.key();
    let settle = || settle_warm(browser);

    // Warm-up (HTTP and wasm code caches), then the baseline: a fresh element on a new page has no spare.
    match open_page(browser, server, page) {
        Ok(created) => {
            let setup = created.service_worker_setup.map_or_else(String::new, |ms| {
                format!(
                    ", service worker registered -> controlling {} ms",
                    fine_ms(ms)
                )
            });
            eprintln!(
                "  {:<40} {} ms (transport {}{setup})",
                format!("{label} warm-up load"),
                fine_ms(created.ready),
                created.transport.as_deref().unwrap_or("?")
            );
            out.service_worker_setup = created.service_worker_setup;
        }
        Err(e) => eprintln!("  {label} warm-up load FAILED: {}", first_line(&report(&e))),
    }
    settle();
    for i in 0..counts.fresh {
        let what = format!("{label} fresh element {}/{}", i + 1, counts.fresh);
        match open_page(browser, server, page).and_then(|created| {
            created.expect_transport(page)?;
            Ok(created.ready)
        }) {
            Ok(ms) => {
                eprintln!("  {what:<40} created -> ready {} ms", fine_ms(ms));
                out.fresh_ready.values.push(ms);
            }
            Err(e) => {
                let text = report(&e);
                eprintln!("  {what:<40} FAILED: {}", first_line(&text));
                out.fresh_ready.errors.push(text);
            }
        }
        settle();
    }

    if let Err(e) = open_measuring_page(browser, server, out) {
        let why = format!("opening the measuring page: {}", report(&e));
        eprintln!("  {why}");
        out.aborted = Some(why);
        return;
    }

    // Input latency.
    if let Err(e) = interact(browser, &format!("input({INPUT_WARMUP_LINES})")) {
        eprintln!(
            "  {label} input warm-up FAILED: {}",
            first_line(&report(&e))
        );
    }
    let what = format!("{label} input x{}", counts.input_lines);
    let measured = interact(browser, &format!("input({})", counts.input_lines))
        .and_then(|r| Ok((numbers(&r, "write_to_python")?, numbers(&r, "cycle")?)));
    match measured {
        Ok((write, cycle)) => {
            let median = |v: &[f64]| Stats::of(v).map_or_else(|| "-".into(), |s| fine_ms(s.median));
            eprintln!(
                "  {what:<40} write -> Python median {} ms, Enter -> next field median {} ms",
                median(&write),
                median(&cycle)
            );
            out.write_to_python.values = write;
            out.enter_to_field.values = cycle;
        }
        Err(e) => {
            if !record_failure(browser, server, out, |o| &mut o.write_to_python, &what, &e) {
                return;
            }
        }
    }

    // Stop → KeyboardInterrupt, the kinds interleaved.
    for round in 0..counts.stop {
        for (i, kind) in page.stop_kinds().iter().enumerate() {
            let what = format!("{label} stop {kind} {}/{}", round + 1, counts.stop);
            match interact(browser, &format!("stop({})", json!(kind)))
                .and_then(|r| number(&r, "ms"))
            {
                Ok(ms) => {
                    eprintln!("  {what:<40} {} ms", fine_ms(ms));
                    out.stops[i].values.push(ms);
                }
                Err(e) => {
                    if !record_failure(browser, server, out, |o| &mut o.stops[i], &what, &e) {
                        return;
                    }
                }
            }
        }
    }

    // Restarts with the spare; each one's replacement spare boots before the next.
    for round in 0..counts.restart {
        let what = format!("{label} restart {}/{}", round + 1, counts.restart);
        let sample = interact(browser, &format!("restart({})", json!(page.restart_kind())))
            .and_then(|r| {
                let transport = r["transport"].as_str().unwrap_or_default();
                if transport != page.transport() {
                    bail!("after the restart the element's activeTransport is {transport:?}");
                }
                Ok((number(&r, "notice_to_ready")?, number(&r, "stop_to_ready")?))
            });
        match sample {
            Ok((ms, from_stop)) => {
                eprintln!(
                    "  {what:<40} notice -> ready {} ms (Stop -> ready {} ms)",
                    fine_ms(ms),
                    fine_ms(from_stop)
                );
                out.restart.values.push(ms);
                out.restart_from_stop.values.push(from_stop);
                std::thread::sleep(RESTART_SETTLE);
            }
            Err(e) => {
                if !record_failure(browser, server, out, |o| &mut o.restart, &what, &e) {
                    return;
                }
            }
        }
    }
}

/// The interaction section of the table.
fn interaction_table(out: &mut String, runs: &[Interaction], counts: InteractionCounts) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Interaction, ms (one warm browser, fresh profile, per variant; {} input lines, {} Stop samples per kind, {} restarts, {} fresh loads)",
        counts.input_lines, counts.stop, counts.restart, counts.fresh
    );
    for run in runs {
        let _ = writeln!(
            out,
            "  {}: the element's activeTransport was {}",
            run.page.label(),
            run.transport.as_deref().unwrap_or("(not seen)")
        );
        let _ = writeln!(
            out,
            "    {:<66} {:>4} {:>6} {:>9} {:>9}   target (median)",
            "measurement", "n", "failed", "median", "p90"
        );
        for series in run.series() {
            let target = match (series.target, series.pass()) {
                (Some(target), Some(ok)) => format!("<= {}   {}", fine_ms(target), pass(ok)),
                (Some(target), None) => format!("<= {}   FAILED (no sample)", fine_ms(target)),
                (None, _) => String::new(),
            };
            let _ = writeln!(
                out,
                "    {:<66} {:>4} {:>6} {:>9} {:>9}   {}",
                series.label,
                series.values.len(),
                series.errors.len(),
                series.median().map_or_else(|| "-".into(), fine_ms),
                p90(&series.values).map_or_else(|| "-".into(), fine_ms),
                target
            );
        }
        match run.restart_ratio() {
            // A page that is not isolated has a coarse clock (0.1 ms): the restart can measure 0.
            Some(ratio) if ratio > 0.0 => {
                let _ = writeln!(
                    out,
                    "    restart with the spare / fresh element without one (medians): {ratio:.6} ({:.0}x faster)",
                    1.0 / ratio
                );
            }
            Some(_) => {
                let _ = writeln!(
                    out,
                    "    restart with the spare / fresh element without one (medians): the restart took less than the clock's resolution"
                );
            }
            None => {}
        }
        for series in run.series() {
            write_failures(out, series.key, &series.errors);
        }
        if run.page.service_worker() {
            let setup = run
                .service_worker_setup
                .map_or_else(|| "-".into(), |ms| format!("{} ms", fine_ms(ms)));
            let unregistered = match &run.unregistered {
                Some(Ok(n)) => format!("{n} registration(s) unregistered at the end"),
                Some(Err(e)) => format!("unregistering at the end FAILED: {}", first_line(e)),
                None => "not unregistered".into(),
            };
            let _ = writeln!(
                out,
                "    service worker: registered -> controlling the first page {setup}; {unregistered}"
            );
        }
        if let Some(why) = &run.aborted {
            let _ = writeln!(out, "    ABORTED: {}", first_line(why));
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Archive: time to first output with `src` (an archive the server delays), on tests/fixtures/bench/archive.html

/// Server-side delays of the archive, ms.
const ARCHIVE_DELAYS: [u64; 3] = [0, 1000, 3000];
/// Median with the archive / max(baseline median, delay) should not exceed this.
const TARGET_ARCHIVE_RATIO: f64 = 1.05;
/// The archive every delayed sample loads (archive.html builds the URL; checked in the server's log).
const ARCHIVE_PATH: &str = "/fixtures/archive/project.zip";

/// A sample of the archive part: the baseline (no `src`) or the archive delayed by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArchiveVariant {
    Baseline,
    Delayed(u64),
}

impl ArchiveVariant {
    /// Every variant, in the order of round 0 (later rounds rotate it, so no variant always follows another).
    fn all() -> Vec<ArchiveVariant> {
        std::iter::once(ArchiveVariant::Baseline)
            .chain(ARCHIVE_DELAYS.iter().map(|&d| ArchiveVariant::Delayed(d)))
            .collect()
    }

    fn round(round: usize) -> Vec<ArchiveVariant> {
        let mut all = ArchiveVariant::all();
        let len = all.len();
        all.rotate_left(round % len);
        all
    }

    fn name(self) -> String {
        match self {
            ArchiveVariant::Baseline => "baseline".into(),
            ArchiveVariant::Delayed(d) => format!("D = {d} ms"),
        }
    }

    /// The page's query; `tag` makes the archive's URL unique (no page-level or HTTP cache can serve it).
    fn query(self, tag: &str) -> String {
        match self {
            ArchiveVariant::Baseline => String::new(),
            ArchiveVariant::Delayed(d) => format!("?archive_delay={d}&tag={tag}"),
        }
    }

    /// The archive's path and query as the server sees them.
    fn archive_request(self, tag: &str) -> Option<String> {
        match self {
            ArchiveVariant::Baseline => None,
            ArchiveVariant::Delayed(d) => Some(format!("{ARCHIVE_PATH}?delay_ms={d}&n={tag}")),
        }
    }
}

/// One page load of archive.html (ms after t0, the element's creation).
#[derive(Clone, Debug, Default)]
struct ArchiveSample {
    /// t1 − t0: created → expected line shown.
    ttfo: Option<f64>,
    /// The `ready` event (Pyodide loaded).
    ready: Option<f64>,
    /// The archive download (page Resource Timing): fetch start, first byte and end.
    fetch_start: Option<f64>,
    first_byte: Option<f64>,
    arrived: Option<f64>,
    error: Option<String>,
    console_errors: Vec<String>,
}

impl ArchiveSample {
    fn failed(error: String) -> ArchiveSample {
        ArchiveSample {
            error: Some(error),
            ..ArchiveSample::default()
        }
    }

    /// t1 − max(ready, archive arrived): what remains once Pyodide and the archive are both there (unpacking,
    /// importing, running, showing the line); the baseline's is t1 − ready.
    fn after_both(&self) -> Option<f64> {
        let ready = self.ready?;
        Some(self.ttfo? - self.arrived.map_or(ready, |arrived| arrived.max(ready)))
    }

    fn ok(&self, value: fn(&ArchiveSample) -> Option<f64>) -> Option<f64> {
        if self.error.is_none() {
            value(self)
        } else {
            None
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "ok": self.error.is_none(),
            "ttfo_ms": self.ttfo.map(round1),
            "ready_ms": self.ready.map(round1),
            "archive_fetch_start_ms": self.fetch_start.map(round1),
            "archive_first_byte_ms": self.first_byte.map(round1),
            "archive_arrived_ms": self.arrived.map(round1),
            "first_output_after_ready_and_archive_ms": self.after_both().map(round1),
            "error": self.error,
            "console_errors": self.console_errors,
        })
    }
}

/// The archive part: the baseline's samples and each delay's, in the order they ran.
#[derive(Debug, Default)]
struct ArchiveRun {
    runs: usize,
    baseline: Vec<ArchiveSample>,
    /// Per delay of [`ARCHIVE_DELAYS`], in that order.
    delayed: Vec<(u64, Vec<ArchiveSample>)>,
    /// Why the part did not run (the browser could not be launched).
    skipped: Option<String>,
}

impl ArchiveRun {
    fn new(runs: usize) -> ArchiveRun {
        ArchiveRun {
            runs,
            delayed: ARCHIVE_DELAYS.iter().map(|&d| (d, Vec::new())).collect(),
            ..ArchiveRun::default()
        }
    }

    fn samples_mut(&mut self, variant: ArchiveVariant) -> Option<&mut Vec<ArchiveSample>> {
        match variant {
            ArchiveVariant::Baseline => Some(&mut self.baseline),
            ArchiveVariant::Delayed(d) => self
                .delayed
                .iter_mut()
                .find(|(delay, _)| *delay == d)
                .map(|(_, samples)| samples),
        }
    }

    fn baseline_median(&self) -> Option<f64> {
        archive_median(&self.baseline, |s| s.ttfo)
    }

    /// max(baseline median, D): what the element would take if the download were fully hidden behind
    /// Pyodide's load (or Pyodide's load behind the download) and unpacking cost nothing.
    fn ideal(&self, delay: u64) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        let delay = delay as f64;
        self.baseline_median().map(|b| b.max(delay))
    }

    fn ratio(&self, delay: u64, samples: &[ArchiveSample]) -> Option<f64> {
        let median = archive_median(samples, |s| s.ttfo)?;
        let ideal = self.ideal(delay)?;
        (ideal > 0.0).then(|| median / ideal)
    }

    /// Median over rounds of (sample with delay D) / max(baseline of the same round, D): the two ran in the
    /// same round, so a change of machine load between rounds mostly cancels out.
    fn paired_ratio(&self, delay: u64, samples: &[ArchiveSample]) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        let delay = delay as f64;
        let ratios: Vec<f64> = samples
            .iter()
            .zip(&self.baseline)
            .filter_map(|(with, base)| with.ok(|s| s.ttfo).zip(base.ok(|s| s.ttfo)))
            .map(|(with, base)| with / base.max(delay))
            .filter(|r| r.is_finite())
            .collect();
        Stats::of(&ratios).map(|s| s.median)
    }

    /// Every variant has at least one successful sample.
    fn complete(&self) -> bool {
        self.skipped.is_none()
            && std::iter::once(&self.baseline)
                .chain(self.delayed.iter().map(|(_, samples)| samples))
                .all(|samples| samples.iter().any(|s| s.error.is_none()))
    }

    fn to_json(&self) -> Value {
        let series = |samples: &[ArchiveSample]| {
            let mut out = stats_json(&archive_values(samples, |s| s.ttfo));
            out["failed"] = json!(samples.iter().filter(|s| s.error.is_some()).count());
            out["errors"] = json!(samples
                .iter()
                .filter_map(|s| s.error.as_deref())
                .collect::<Vec<_>>());
            out["ready_after_t0"] = stats_json(&archive_values(samples, |s| s.ready));
            out["first_output_after_ready_and_archive"] =
                stats_json(&archive_values(samples, ArchiveSample::after_both));
            out["details"] = json!(samples
                .iter()
                .map(ArchiveSample::to_json)
                .collect::<Vec<_>>());
            out
        };
        json!({
            "label": "time to first output with src (archive delayed by the server), isolated, warm",
            "page": "tests/fixtures/bench/archive.html",
            "archive": ARCHIVE_PATH,
            "runs": self.runs,
            "skipped": self.skipped,
            "target_ratio": TARGET_ARCHIVE_RATIO,
            "baseline": series(&self.baseline),
            "delays": self.delayed.iter().map(|(delay, samples)| {
                let ratio = self.ratio(*delay, samples);
                let mut out = series(samples);
                out["delay_ms"] = json!(delay);
                out["archive_fetch_start_after_t0"] =
                    stats_json(&archive_values(samples, |s| s.fetch_start));
                out["archive_first_byte_after_t0"] =
                    stats_json(&archive_values(samples, |s| s.first_byte));
                out["archive_arrived_after_t0"] = stats_json(&archive_values(samples, |s| s.arrived));
                out["first_output_after_archive_arrived"] = stats_json(&archive_values(samples, |s| {
                    s.ttfo.zip(s.arrived).map(|(t1, arrived)| t1 - arrived)
                }));
                out["ideal_ms"] = json!(self.ideal(*delay).map(round1));
                out["ratio"] = json!(ratio.map(round3));
                out["ratio_pass"] = json!(ratio.map(|r| r <= TARGET_ARCHIVE_RATIO));
                out["ratio_paired_median"] = json!(self.paired_ratio(*delay, samples).map(round3));
                out
            }).collect::<Vec<_>>(),
        })
    }
}

fn archive_values(samples: &[ArchiveSample], value: fn(&ArchiveSample) -> Option<f64>) -> Vec<f64> {
    samples.iter().filter_map(|s| s.ok(value)).collect()
}

fn archive_median(
    samples: &[ArchiveSample],
    value: fn(&ArchiveSample) -> Option<f64>,
) -> Option<f64> {
    Stats::of(&archive_values(samples, value)).map(|s| s.median)
}

/// Loads archive.html for `variant` and waits for its result; never fails, a problem is a failed sample.
fn measure_archive(
    browser: &Browser,
    server: &Server,
    variant: ArchiveVariant,
    tag: &str,
) -> ArchiveSample {
    let mut sample = match measure_archive_inner(browser, server, variant, tag) {
        Ok(sample) => sample,
        Err(e) => ArchiveSample::failed(report(&e)),
    };
    sample.console_errors = console_errors(browser);
    sample
}

fn measure_archive_inner(
    browser: &Browser,
    server: &Server,
    variant: ArchiveVariant,
    tag: &str,
) -> Result<ArchiveSample> {
    server.clear_requests();
    browser.goto(&server.url(&format!(
        "/fixtures/bench/archive.html{}",
        variant.query(tag)
    )))?;
    let script = RESULT_JS.replace("LIMIT_MS", &SAMPLE_LIMIT.as_millis().to_string());
    let raw = browser.eval_async(&script)?;
    if raw.get("ok") != Some(&Value::Bool(true)) {
        return Ok(ArchiveSample::failed(
            raw.get("error")
                .and_then(Value::as_str)
                .map_or_else(|| format!("unexpected result {raw}"), str::to_owned),
        ));
    }
    let num = |key: &str| raw.get(key).and_then(Value::as_f64);
    let t0 = num("t0").with_context(|| format!("result without t0: {raw}"))?;
    let after = |value: Option<f64>| value.map(|at| at - t0);
    let fetch = |key: &str| raw["archive"].get(key).and_then(Value::as_f64);
    let sample = ArchiveSample {
        ttfo: Some(num("ttfo").with_context(|| format!("result without ttfo: {raw}"))?),
        ready: after(num("ready")),
        fetch_start: after(fetch("start")),
        first_byte: after(fetch("response_start")),
        arrived: after(fetch("end")),
        ..ArchiveSample::default()
    };
    check_archive_fetch(server, variant, tag, &sample)?;
    Ok(sample)
}

/// A delayed sample must have fetched its own archive from the server (once, 200), and its first byte must
/// have come no sooner than the delay after the fetch started (so no cache served it).
fn check_archive_fetch(
    server: &Server,
    variant: ArchiveVariant,
    tag: &str,
    sample: &ArchiveSample,
) -> Result<()> {
    let ArchiveVariant::Delayed(delay) = variant else {
        return Ok(());
    };
    let Some(expected) = variant.archive_request(tag) else {
        return Ok(());
    };
    let requests = server.requests();
    let served: Vec<u16> = requests
        .iter()
        .filter(|r| r.url == expected)
        .map(|r| r.status)
        .collect();
    if served != [200] {
        bail!("the server answered {expected} with {served:?}, expected exactly one 200 (cached, or fetched twice?)");
    }
    let (Some(start), Some(first_byte)) = (sample.fetch_start, sample.first_byte) else {
        bail!("no Resource Timing entry for the archive download {expected}");
    };
    #[allow(clippy::cast_precision_loss)]
    let delay_ms = delay as f64;
    // Resource Timing is coarsened a little; 1 ms of slack.
    if first_byte - start < delay_ms - 1.0 {
        bail!(
            "the archive's first byte came {:.0} ms after its fetch started, sooner than the {delay} ms delay",
            first_byte - start
        );
    }
    Ok(())
}

fn archive_progress(label: &str, variant: ArchiveVariant, sample: &ArchiveSample) {
    let what = match (&sample.error, sample.ttfo) {
        (Some(error), _) => failure_with(error, &sample.console_errors),
        (None, Some(ttfo)) => {
            let mut out = format!("{ttfo:.0} ms (ready {} ms", ms(sample.ready));
            if let Some(arrived) = sample.arrived {
                let _ = write!(
                    out,
                    ", archive fetch {}..{arrived:.0} ms",
                    ms(sample.fetch_start)
                );
            }
            out.push(')');
            out
        }
        (None, None) => "no time".into(),
    };
    eprintln!("  {label:<20} {:<16} {what}", variant.name());
    let shown = usize::from(sample.error.is_some());
    for error in sample.console_errors.iter().skip(shown) {
        eprintln!("      console: {}", first_line(error));
    }
}

/// The archive part: one browser (fresh profile), a warm-up load of the baseline and of the archive, then
/// `runs` rounds of every variant (rotated per round), each a fresh page load. Never fails.
fn run_archive(server: &Server, runs: usize, unix: u64) -> ArchiveRun {
    let mut out = ArchiveRun::new(runs);
    eprintln!(
        "archive (one browser, isolated, a warm-up load of each kind), {runs} per variant: baseline, delays {ARCHIVE_DELAYS:?} ms"
    );
    let browser = match launch_browser() {
        Ok(browser) => browser,
        Err(error) => {
            out.skipped = Some(error);
            return out;
        }
    };
    let settle = || settle_warm(&browser);
    // Unique per run and sample: the same browser profile never sees an archive URL twice.
    let tag = |what: &str| format!("{unix}-{what}");
    for variant in [ArchiveVariant::Baseline, ArchiveVariant::Delayed(0)] {
        let sample = measure_archive(&browser, server, variant, &tag("warmup"));
        archive_progress("warm-up", variant, &sample);
        settle();
    }
    for round in 0..runs {
        for variant in ArchiveVariant::round(round) {
            let sample = measure_archive(&browser, server, variant, &tag(&format!("r{round}")));
            archive_progress(&format!("archive {}/{runs}", round + 1), variant, &sample);
            if let Some(samples) = out.samples_mut(variant) {
                samples.push(sample);
            }
            settle();
        }
    }
    out
}

/// The archive section of the table.
fn archive_table(out: &mut String, run: &ArchiveRun) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Archive, ms (one warm browser, isolated, a fresh page per sample; t0 = element created, t1 = first output line;"
    );
    let _ = writeln!(
        out,
        "  src=\"{ARCHIVE_PATH}?delay_ms=D\", code `import mypkg; print(mypkg.GREETING)`; baseline: no src, print(\"hi\"))"
    );
    if let Some(why) = &run.skipped {
        let _ = writeln!(out, "  skipped: {}", first_line(why));
        return;
    }
    let _ = writeln!(
        out,
        "  {:<26} {:>3} {:>6} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>7}   median/ideal",
        "variant", "n", "failed", "median", "min", "max", "ready", "archive", "t1-both", "ideal"
    );
    let row = |out: &mut String, label: &str, samples: &[ArchiveSample], tail: (String, String)| {
        let stats = Stats::of(&archive_values(samples, |s| s.ttfo));
        let _ = writeln!(
            out,
            "  {:<26} {:>3} {:>6} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>7}   {}",
            label,
            stats.map_or(0, |s| s.n),
            samples.iter().filter(|s| s.error.is_some()).count(),
            ms(stats.map(|s| s.median)),
            ms(stats.map(|s| s.min)),
            ms(stats.map(|s| s.max)),
            ms(archive_median(samples, |s| s.ready)),
            ms(archive_median(samples, |s| s.arrived)),
            ms(archive_median(samples, ArchiveSample::after_both)),
            tail.0,
            tail.1
        );
    };
    row(
        out,
        "baseline (no src)",
        &run.baseline,
        ("".into(), String::new()),
    );
    for (delay, samples) in &run.delayed {
        let verdict = match run.ratio(*delay, samples) {
            Some(ratio) => format!(
                "{ratio:.3}   target <= {TARGET_ARCHIVE_RATIO:.2}   {}{}",
                pass(ratio <= TARGET_ARCHIVE_RATIO),
                run.paired_ratio(*delay, samples)
                    .map_or_else(String::new, |p| format!("   (paired {p:.3})"))
            ),
            None => format!("-   target <= {TARGET_ARCHIVE_RATIO:.2}   FAILED (no sample)"),
        };
        row(
            out,
            &format!("src, archive D = {delay} ms"),
            samples,
            (ms(run.ideal(*delay)), verdict),
        );
    }
    let _ = writeln!(
        out,
        "  medians after t0 of: ready = the ready event (Pyodide loaded); archive = its download done (page Resource"
    );
    let _ = writeln!(
        out,
        "  Timing); t1-both = first output after max(ready, archive), i.e. unpack + import + run + show (baseline: t1 - ready)."
    );
    let _ = writeln!(
        out,
        "  ideal = max(baseline median, D); paired = median over rounds of t1 / max(that round's baseline, D)"
    );
    for (label, samples) in std::iter::once(("baseline".to_owned(), &run.baseline)).chain(
        run.delayed
            .iter()
            .map(|(delay, samples)| (format!("D = {delay} ms"), samples)),
    ) {
        for sample in samples.iter().filter(|s| s.error.is_some()) {
            let error = sample.error.as_deref().unwrap_or_default();
            let _ = writeln!(
                out,
                "  {label}: {}",
                failure_with(error, &sample.console_errors)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Library: python-runner.mjs against the upstream npm packages, on tests/fixtures/bench/library.html

/// The upstream packages' files that library.html loads (from `/node_modules/`), below the workspace root.
const UPSTREAM_FILES: [&str; 4] = [
    "node_modules/pyodide-worker-runner/dist/index.js",
    "node_modules/comsync/dist/index.js",
    "node_modules/sync-message/dist/index.js",
    "node_modules/comlink/dist/umd/comlink.js",
];
/// The npm packages of the upstream implementation (their versions go into the output).
const UPSTREAM_PACKAGES: [&str; 4] = [
    "pyodide-worker-runner",
    "comsync",
    "sync-message",
    "comlink",
];
/// Unmeasured input() lines per implementation before the measured rounds.
const LIBRARY_WARMUP_LINES: usize = 10;
/// After a start sample (its client terminated), before the next one.
const LIBRARY_START_SETTLE: Duration = Duration::from_secs(1);

/// Which library a client of library.html uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Implementation {
    /// `/dist/python-runner.mjs`.
    Ours,
    /// pyodide-worker-runner + comsync + sync-message + comlink from node_modules.
    Upstream,
}

impl Implementation {
    const ALL: [Implementation; 2] = [Implementation::Ours, Implementation::Upstream];

    /// The page's `impl` argument and the JSON key.
    fn name(self) -> &'static str {
        match self {
            Implementation::Ours => "ours",
            Implementation::Upstream => "upstream",
        }
    }

    /// Both, the order flipping every round (like [`Variant::pair`]).
    fn pair(round: usize) -> [Implementation; 2] {
        if round.is_multiple_of(2) {
            [Implementation::Ours, Implementation::Upstream]
        } else {
            [Implementation::Upstream, Implementation::Ours]
        }
    }
}

/// Sample counts of the library part: per round and implementation, except `starts` (per implementation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LibraryCounts {
    rounds: usize,
    input_lines: usize,
    calls: usize,
    interrupts: usize,
    sleeps: usize,
    starts: usize,
}

impl LibraryCounts {
    fn new(quick: bool) -> LibraryCounts {
        if quick {
            LibraryCounts {
                rounds: 2,
                input_lines: 25,
                calls: 10,
                interrupts: 2,
                sleeps: 3,
                starts: 2,
            }
        } else {
            LibraryCounts {
                rounds: 5,
                input_lines: 40,
                calls: 20,
                interrupts: 4,
                sleeps: 4,
                starts: 5,
            }
        }
    }

    /// Samples per implementation of a per-round count.
    fn total(self, per_round: usize) -> usize {
        per_round * self.rounds
    }

    fn to_json(self) -> Value {
        json!({
            "rounds": self.rounds,
            "input_lines": self.total(self.input_lines),
            "calls": self.total(self.calls),
            "interrupts": self.total(self.interrupts),
            "sleeps": self.total(self.sleeps),
            "starts": self.starts,
            "input_warmup_lines": LIBRARY_WARMUP_LINES,
        })
    }
}

/// The server of a library run, and the channel `makeChannel()` must give there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LibraryServer {
    Isolated,
    NotIsolated,
}

impl LibraryServer {
    fn key(self) -> &'static str {
        match self {
            LibraryServer::Isolated => "isolated",
            LibraryServer::NotIsolated => "not_isolated",
        }
    }

    fn label(self) -> &'static str {
        match self {
            LibraryServer::Isolated => "isolated (Atomics channel)",
            LibraryServer::NotIsolated => "not isolated (service-worker channel)",
        }
    }

    /// `channel.type` of makeChannel() on this server.
    fn channel(self) -> &'static str {
        match self {
            LibraryServer::Isolated => "atomics",
            LibraryServer::NotIsolated => "serviceWorker",
        }
    }

    /// The page registers a service worker (and the bench unregisters it at the end).
    fn service_worker(self) -> bool {
        self == LibraryServer::NotIsolated
    }
}

/// One measured quantity of both implementations.
#[derive(Debug)]
struct LibraryMetric {
    ours: Series,
    upstream: Series,
}

impl LibraryMetric {
    fn new(key: &'static str, label: &'static str) -> LibraryMetric {
        LibraryMetric {
            ours: Series::new(key, label, None),
            upstream: Series::new(key, label, None),
        }
    }

    fn key(&self) -> &'static str {
        self.ours.key
    }

    fn label(&self) -> &'static str {
        self.ours.label
    }

    fn of(&mut self, implementation: Implementation) -> &mut Series {
        match implementation {
            Implementation::Ours => &mut self.ours,
            Implementation::Upstream => &mut self.upstream,
        }
    }

    /// Ours / upstream, medians; `None` without samples or when upstream's median is not above 0.
    fn ratio(&self) -> Option<f64> {
        let upstream = self.upstream.median()?;
        (upstream > 0.0).then_some(self.ours.median()? / upstream)
    }

    fn to_json(&self) -> Value {
        json!({
            "label": self.label().trim_start(),
            "ours": self.ours.to_json(),
            "upstream": self.upstream.to_json(),
            "ratio_ours_over_upstream": self.ratio().map(round3),
        })
    }
}

/// The library measurements on one server.
#[derive(Debug)]
struct LibraryRun {
    server: LibraryServer,
    /// `channel.type` of each implementation's client, as the page reported it.
    channels: Vec<(Implementation, Option<String>)>,
    /// Why the run stopped early or did not start.
    aborted: Option<String>,
    /// Not isolated: registering the service worker → it controls the page, on the first load, ms.
    service_worker_setup: Option<f64>,
    /// Not isolated: how unregistering at the end went (`None`: not tried).
    unregistered: Option<std::result::Result<u64, String>>,
    /// The browser's console errors during the run (page, workers, service worker).
    console_errors: Vec<String>,
    input: LibraryMetric,
    call: LibraryMetric,
    interrupt: LibraryMetric,
    sleep: LibraryMetric,
    start: LibraryMetric,
    init: LibraryMetric,
}

impl LibraryRun {
    fn new(server: LibraryServer) -> LibraryRun {
        LibraryRun {
            server,
            channels: Vec::new(),
            aborted: None,
            service_worker_setup: None,
            unregistered: None,
            console_errors: Vec::new(),
            input: LibraryMetric::new(
                "input_write_to_python",
                "input: client.writeMessage(line) -> Python has the line",
            ),
            call: LibraryMetric::new(
                "call_round_trip",
                "call: client.call(proxy.noop) -> resolved",
            ),
            interrupt: LibraryMetric::new(
                "interrupt_input",
                "interrupt during input() -> call settled, KeyboardInterrupt caught",
            ),
            sleep: LibraryMetric::new(
                "sleep_overshoot",
                "time.sleep(0.1): overshoot measured in Python",
            ),
            start: LibraryMetric::new(
                "start_to_ready",
                "worker start -> ready (Pyodide loaded + initPyodide)",
            ),
            init: LibraryMetric::new(
                "init_pyodide",
                "  of which initPyodide(pyodide), in the worker",
            ),
        }
    }

    fn metrics(&self) -> [&LibraryMetric; 6] {
        [
            &self.input,
            &self.call,
            &self.interrupt,
            &self.sleep,
            &self.start,
            &self.init,
        ]
    }

    /// Every measurement of both implementations produced at least one value, and the run was not cut short.
    fn complete(&self) -> bool {
        self.aborted.is_none()
            && self
                .metrics()
                .iter()
                .all(|m| !m.ours.values.is_empty() && !m.upstream.values.is_empty())
    }

    fn to_json(&self) -> Value {
        json!({
            "label": self.server.label(),
            "cross_origin_isolated": self.server == LibraryServer::Isolated,
            "expected_channel": self.server.channel(),
            "channels": self
                .channels
                .iter()
                .map(|(implementation, channel)| (implementation.name().to_owned(), json!(channel)))
                .collect::<serde_json::Map<_, _>>(),
            "service_worker": self.server.service_worker().then(|| json!({
                "script": "tests/fixtures/bench/library-sw.js",
                "note": "both implementations use python-runner.mjs's serviceWorkerFetchListener: the upstream run is upstream's page and worker with our service worker",
                "setup_ms": self.service_worker_setup.map(round3),
                "unregistered": match &self.unregistered {
                    Some(Ok(n)) => json!(n),
                    Some(Err(e)) => json!({ "error": e }),
                    None => Value::Null,
                },
            })),
            "aborted": self.aborted,
            "console_errors": self.console_errors,
            "complete": self.complete(),
            "metrics": self
                .metrics()
                .iter()
                .map(|m| (m.key().to_owned(), m.to_json()))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// Calls `window.__interact.<call>` on library.html.
fn library_step(browser: &Browser, call: &str) -> Result<Value> {
    page_step(browser, "library.html", call)
}

/// The call of a step for one implementation, e.g. `input("ours", 40)`.
fn library_call(step: &str, implementation: Implementation, extra: Option<usize>) -> String {
    let name = json!(implementation.name());
    match extra {
        Some(n) => format!("{step}({name}, {n})"),
        None => format!("{step}({name})"),
    }
}

/// Loads library.html afresh and sets it up (both clients ready); checks that both got the server's channel.
fn open_library_page(browser: &Browser, server: &Server, out: &mut LibraryRun) -> Result<Value> {
    browser.goto(&server.url("/fixtures/bench/library.html"))?;
    let setup = library_step(browser, "setup()")?;
    out.channels = Implementation::ALL
        .iter()
        .map(|&i| (i, setup["channels"][i.name()].as_str().map(str::to_owned)))
        .collect();
    for (implementation, channel) in &out.channels {
        if channel.as_deref() != Some(out.server.channel()) {
            bail!(
                "the {} client's channel is {channel:?}, expected {:?} on this server",
                implementation.name(),
                out.server.channel()
            );
        }
    }
    Ok(setup)
}

/// A step failed: logs it, records it in `series`, and reloads the page so that the next sample starts with
/// fresh clients (a failed call may leave one busy). Returns false when even the reload failed.
fn library_failure(
    browser: &Browser,
    server: &Server,
    out: &mut LibraryRun,
    which: impl Fn(&mut LibraryRun) -> &mut Series,
    label: &str,
    error: &anyhow::Error,
) -> bool {
    let text = report(error);
    eprintln!("  {label:<40} FAILED: {}", first_line(&text));
    which(out).errors.push(text);
    settle_warm(browser);
    match open_library_page(browser, server, out) {
        Ok(_) => true,
        Err(e) => {
            let why = format!("reloading the page after a failure: {}", report(&e));
            eprintln!("  {why}");
            out.aborted = Some(why);
            false
        }
    }
}

/// The upstream packages' files that are missing (run `npm ci`), as one message.
fn upstream_missing(root: &Path) -> Option<String> {
    let missing: Vec<&str> = UPSTREAM_FILES
        .iter()
        .copied()
        .filter(|file| !root.join(file).is_file())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "missing {} (run `npm ci` in the workspace root)",
            missing.join(", ")
        )
    })
}

/// `name@version` of each upstream package, from its package.json.
fn upstream_versions(root: &Path) -> Vec<String> {
    UPSTREAM_PACKAGES
        .iter()
        .map(|name| {
            let version = std::fs::read(root.join("node_modules").join(name).join("package.json"))
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .and_then(|package| package["version"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "?".into());
            format!("{name} {version}")
        })
        .collect()
}

/// The library part on one server, in one browser (a fresh profile). Never fails: problems are recorded in the
/// result. `missing`: why it cannot run at all (the upstream packages are not installed).
fn run_library(
    server: &Server,
    counts: LibraryCounts,
    which: LibraryServer,
    missing: Option<&str>,
) -> LibraryRun {
    let mut out = LibraryRun::new(which);
    eprintln!(
        "library, {} (one browser): ours vs upstream, {} rounds of {} input lines, {} calls, {} interrupts, {} sleeps; {} starts",
        which.label(),
        counts.rounds,
        counts.input_lines,
        counts.calls,
        counts.interrupts,
        counts.sleeps,
        counts.starts
    );
    if let Some(why) = missing {
        eprintln!("  skipped: {why}");
        out.aborted = Some(why.to_owned());
        return out;
    }
    let browser = match launch_browser() {
        Ok(browser) => browser,
        Err(error) => {
            out.aborted = Some(error);
            return out;
        }
    };
    measure_library(&browser, server, counts, &mut out);
    out.console_errors = console_errors(&browser);
    for error in &out.console_errors {
        eprintln!("      console: {}", first_line(error));
    }
    if which.service_worker() {
        let unregistered = browser
            .goto(&server.url("/fixtures/bench/library.html"))
            .and_then(|()| library_step(&browser, "unregister()"))
            .and_then(|r| {
                r["unregistered"]
                    .as_u64()
                    .with_context(|| format!("no count \"unregistered\" in {r}"))
            })
            .map_err(|e| report(&e));
        match &unregistered {
            Ok(n) => eprintln!("  {:<40} {n} registration(s)", "library unregister"),
            Err(e) => eprintln!("  library unregister FAILED: {}", first_line(e)),
        }
        out.unregistered = Some(unregistered);
    }
    out
}

/// The measurements of [`run_library`]; returns early when the page cannot be (re)loaded.
fn measure_library(
    browser: &Browser,
    server: &Server,
    counts: LibraryCounts,
    out: &mut LibraryRun,
) {
    let label = out.server.key();
    match open_library_page(browser, server, out) {
        Ok(setup) => {
            out.service_worker_setup = setup["sw_ms"].as_f64();
            let ready = |i: Implementation| {
                setup["ready_ms"][i.name()]
                    .as_f64()
                    .map_or_else(|| "-".into(), fine_ms)
            };
            let sw = out.service_worker_setup.map_or_else(String::new, |ms| {
                format!(
                    ", service worker registered -> controlling {} ms",
                    fine_ms(ms)
                )
            });
            eprintln!(
                "  {:<40} clients ready: ours {} ms, upstream {} ms (channel {}{sw})",
                format!("library {label} setup"),
                ready(Implementation::Ours),
                ready(Implementation::Upstream),
                out.server.channel()
            );
        }
        Err(e) => {
            let why = format!("setting up library.html: {}", report(&e));
            eprintln!("  {why}");
            out.aborted = Some(why);
            return;
        }
    }

    // Warm-up: first-call costs in Python, the workers, the page and the service worker.
    for implementation in Implementation::ALL {
        let name = implementation.name();
        for call in [
            library_call("input", implementation, Some(LIBRARY_WARMUP_LINES)),
            library_call("calls", implementation, Some(5)),
            library_call("interrupt", implementation, None),
            library_call("sleep", implementation, Some(1)),
        ] {
            if let Err(e) = library_step(browser, &call) {
                eprintln!(
                    "  library {label} {name} warm-up FAILED: {}",
                    first_line(&report(&e))
                );
            }
        }
    }

    for round in 0..counts.rounds {
        for implementation in Implementation::pair(round) {
            if !library_round(browser, server, counts, out, implementation, round) {
                return;
            }
        }
    }

    for i in 0..counts.starts {
        for implementation in Implementation::pair(i) {
            let what = format!(
                "{label} {} start {}/{}",
                implementation.name(),
                i + 1,
                counts.starts
            );
            let sample = library_step(browser, &library_call("start", implementation, None))
                .and_then(|r| Ok((number(&r, "ms")?, number(&r, "init_pyodide_ms")?)));
            match sample {
                Ok((ms, init)) => {
                    eprintln!(
                        "  {what:<40} start -> ready {} ms (initPyodide {} ms)",
                        fine_ms(ms),
                        fine_ms(init)
                    );
                    out.start.of(implementation).values.push(ms);
                    out.init.of(implementation).values.push(init);
                }
                Err(e) => {
                    let reloaded = library_failure(
                        browser,
                        server,
                        out,
                        |o| o.start.of(implementation),
                        &what,
                        &e,
                    );
                    if !reloaded {
                        return;
                    }
                }
            }
            std::thread::sleep(LIBRARY_START_SETTLE);
        }
    }
}

/// One round of one implementation: input lines, calls, interrupts, sleeps. Returns false when the run had
/// to stop (the page could not be reloaded after a failure).
fn library_round(
    browser: &Browser,
    server: &Server,
    counts: LibraryCounts,
    out: &mut LibraryRun,
    implementation: Implementation,
    round: usize,
) -> bool {
    let server_key = out.server.key();
    let what = |step: &str| {
        format!(
            "{server_key} {} {step} {}/{}",
            implementation.name(),
            round + 1,
            counts.rounds
        )
    };
    let mut step =
        |label: String, call: String, field: &str, says: &str, metric: LibraryMetricOf| {
            library_sample(
                browser,
                server,
                out,
                LibrarySample {
                    label: &label,
                    call: &call,
                    field,
                    says,
                    series: |o| metric(o).of(implementation),
                },
            )
        };
    let input: LibraryMetricOf = |o| &mut o.input;
    let call: LibraryMetricOf = |o| &mut o.call;
    let interrupt: LibraryMetricOf = |o| &mut o.interrupt;
    let sleep: LibraryMetricOf = |o| &mut o.sleep;
    let batch = |name: &str, n: usize| library_call(name, implementation, Some(n));
    step(
        what(&format!("input x{}", counts.input_lines)),
        batch("input", counts.input_lines),
        "write_to_python",
        "writeMessage -> Python median",
        input,
    ) && step(
        what(&format!("calls x{}", counts.calls)),
        batch("calls", counts.calls),
        "ms",
        "round trip median",
        call,
    ) && (0..counts.interrupts).all(|k| {
        step(
            what(&format!("interrupt {}", k + 1)),
            library_call("interrupt", implementation, None),
            "ms",
            "",
            interrupt,
        )
    }) && step(
        what(&format!("sleep x{}", counts.sleeps)),
        batch("sleep", counts.sleeps),
        "overshoot",
        "overshoot median",
        sleep,
    )
}

/// Which metric of a [`LibraryRun`] a step feeds.
type LibraryMetricOf = fn(&mut LibraryRun) -> &mut LibraryMetric;

/// One step of a round: a page call answering `{field: ms}` (one sample) or `{field: [ms, ...]}` (a batch).
struct LibrarySample<'a, F: Fn(&mut LibraryRun) -> &mut Series> {
    label: &'a str,
    call: &'a str,
    field: &'a str,
    /// Printed before the median of a batch (nothing for a single sample).
    says: &'a str,
    series: F,
}

/// Runs `sample` and records its values, or its failure (reloading the page); false when the run had to stop.
fn library_sample<F: Fn(&mut LibraryRun) -> &mut Series>(
    browser: &Browser,
    server: &Server,
    out: &mut LibraryRun,
    sample: LibrarySample<'_, F>,
) -> bool {
    let values = library_step(browser, sample.call).and_then(|result| {
        if result[sample.field].is_array() {
            numbers(&result, sample.field)
        } else {
            number(&result, sample.field).map(|ms| vec![ms])
        }
    });
    match values {
        Ok(values) => {
            let median = Stats::of(&values).map_or_else(|| "-".into(), |s| fine_ms(s.median));
            let label = sample.label;
            if sample.says.is_empty() {
                eprintln!("  {label:<40} {median} ms");
            } else {
                eprintln!("  {label:<40} {} {median} ms", sample.says);
            }
            (sample.series)(out).values.extend(values);
            true
        }
        Err(e) => library_failure(browser, server, out, sample.series, sample.label, &e),
    }
}

/// Writes `errors` of the series `key` as table lines, the same failure once with a count.
fn write_failures(out: &mut String, key: &str, errors: &[String]) {
    let mut shown: Vec<(&str, usize)> = Vec::new();
    for error in errors {
        match shown
            .iter_mut()
            .find(|(line, _)| *line == first_line(error))
        {
            Some((_, count)) => *count += 1,
            None => shown.push((first_line(error), 1)),
        }
    }
    for (line, count) in shown {
        let times = if count > 1 {
            format!(" ({count} times)")
        } else {
            String::new()
        };
        let _ = writeln!(out, "    {key}: FAILED{times}: {line}");
    }
}

/// The library section of the table.
fn library_table(
    out: &mut String,
    runs: &[LibraryRun],
    counts: LibraryCounts,
    upstream: &[String],
) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Library, ms: python-runner.mjs (ours) against {} (upstream), same page, same Pyodide",
        upstream.join(" + ")
    );
    let _ = writeln!(
        out,
        "  (one warm browser per server, fresh profile; samples of the two alternate over {} rounds; per implementation {} input lines, {} calls, {} interrupts, {} sleeps, {} starts)",
        counts.rounds,
        counts.total(counts.input_lines),
        counts.total(counts.calls),
        counts.total(counts.interrupts),
        counts.total(counts.sleeps),
        counts.starts
    );
    for run in runs {
        let channels = run
            .channels
            .iter()
            .map(|(i, channel)| format!("{} {}", i.name(), channel.as_deref().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "  {}: channels {}",
            run.server.label(),
            if channels.is_empty() {
                "(not seen)".into()
            } else {
                channels
            }
        );
        if run.server.service_worker() {
            let _ = writeln!(
                out,
                "    note: both use one service worker, python-runner.mjs's serviceWorkerFetchListener (library-sw.js): the upstream run is upstream's page and worker with our service worker"
            );
        }
        let _ = writeln!(
            out,
            "    {:<66} {:>4} {:>11} {:>9}  {:>4} {:>15} {:>9}  {:>13}",
            "measurement",
            "n",
            "ours median",
            "p90",
            "n",
            "upstream median",
            "p90",
            "ours/upstream"
        );
        for metric in run.metrics() {
            let cell = |x: Option<f64>| x.map_or_else(|| "-".into(), fine_ms);
            let _ = writeln!(
                out,
                "    {:<66} {:>4} {:>11} {:>9}  {:>4} {:>15} {:>9}  {:>13}",
                metric.label(),
                metric.ours.values.len(),
                cell(metric.ours.median()),
                cell(p90(&metric.ours.values)),
                metric.upstream.values.len(),
                cell(metric.upstream.median()),
                cell(p90(&metric.upstream.values)),
                metric
                    .ratio()
                    .map_or_else(|| "-".into(), |r| format!("{r:.3}"))
            );
        }
        for metric in run.metrics() {
            for (name, series) in [("ours", &metric.ours), ("upstream", &metric.upstream)] {
                write_failures(out, &format!("{} {name}", metric.key()), &series.errors);
            }
        }
        if run.server.service_worker() {
            let setup = run
                .service_worker_setup
                .map_or_else(|| "-".into(), |ms| format!("{} ms", fine_ms(ms)));
            let unregistered = match &run.unregistered {
                Some(Ok(n)) => format!("{n} registration(s) unregistered at the end"),
                Some(Err(e)) => format!("unregistering at the end FAILED: {}", first_line(e)),
                None => "not unregistered".into(),
            };
            let _ = writeln!(
                out,
                "    service worker: registered -> controlling the first page {setup}; {unregistered}"
            );
        }
        if !run.console_errors.is_empty() {
            let _ = writeln!(
                out,
                "    console errors: {} (see the JSON), the first: {}",
                run.console_errors.len(),
                first_line(&run.console_errors[0])
            );
        }
        if let Some(why) = &run.aborted {
            let _ = writeln!(out, "    ABORTED: {}", first_line(why));
        }
    }
    let _ = writeln!(
        out,
        "  ours/upstream < 1: ours is faster (sleep: overshoots less). Medians of all samples; p90 nearest rank."
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Statistics

#[derive(Clone, Copy, Debug, PartialEq)]
struct Stats {
    n: usize,
    median: f64,
    min: f64,
    max: f64,
}

impl Stats {
    fn of(values: &[f64]) -> Option<Stats> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stats {
            n,
            median,
            min,
            max,
        })
    }
}

/// The 90th percentile (nearest rank): the smallest value at least 90 % of the values do not exceed.
fn p90(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (sorted.len() * 9).div_ceil(10);
    sorted.get(rank.checked_sub(1)?).copied()
}

/// Picks one measurement out of a sample.
type Metric = fn(&Sample) -> Option<f64>;

fn values(samples: &[Sample], value: Metric) -> Vec<f64> {
    samples
        .iter()
        .filter(|s| s.error.is_none())
        .filter_map(value)
        .collect()
}

fn stats_json(values: &[f64]) -> Value {
    let stats = Stats::of(values);
    json!({
        "samples": values.iter().copied().map(round1).collect::<Vec<_>>(),
        "median": stats.map(|s| round1(s.median)),
        "min": stats.map(|s| round1(s.min)),
        "max": stats.map(|s| round1(s.max)),
    })
}

fn series_json(samples: &[Sample], variant: Variant) -> Value {
    let mut out = stats_json(&values(samples, |s| s.ttfo));
    out["failed"] = json!(samples.iter().filter(|s| s.error.is_some()).count());
    out["errors"] = json!(samples
        .iter()
        .filter_map(|s| s.error.as_deref())
        .collect::<Vec<_>>());
    out["from_navigation_start"] = stats_json(&values(samples, |s| s.from_navigation));
    if variant == Variant::Element {
        out["defined_after_navigation_start"] = stats_json(&values(samples, |s| s.defined));
        out["ready_after_t0"] = stats_json(&values(samples, |s| s.ready));
    }
    out["details"] = json!(samples.iter().map(Sample::to_json).collect::<Vec<_>>());
    out
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---------------------------------------------------------------------------------------------------------------
// Traces

/// Milestones of a traced sample, in ms after t0 (element created / `new Worker()`).
fn milestones(sample: &Sample) -> Vec<(&'static str, Option<f64>)> {
    let t0 = sample.raw.get("t0").and_then(Value::as_f64);
    let trace = sample.trace.as_ref().and_then(|t| t.get("trace"));
    let after = |at: Option<f64>| at.zip(t0).map(|(at, t0)| at - t0);
    let list = |key: &str| -> Vec<Value> {
        trace
            .and_then(|t| t.get(key))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let resource = |needle: &str, field: &str| {
        list("worker_resources")
            .iter()
            .filter(|r| {
                r["name"]
                    .as_str()
                    .and_then(|n| n.rsplit('/').next())
                    .is_some_and(|file| file.split('?').next() == Some(needle))
            })
            .filter_map(|r| r[field].as_f64())
            .reduce(f64::min)
    };
    let mark = |name: &str| {
        list("worker_marks")
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m["at"].as_f64())
    };
    let worker_created = list("workers").first().and_then(|w| w["created"].as_f64());
    let first_message = list("messages").first().and_then(|m| m["at"].as_f64());
    vec![
        ("new Worker()", after(worker_created)),
        (
            "worker started (its timeOrigin)",
            after(mark("worker time origin")),
        ),
        (
            "pyodide.mjs requested",
            after(resource("pyodide.mjs", "start")),
        ),
        (
            "pyodide.mjs received",
            after(resource("pyodide.mjs", "end")),
        ),
        (
            "pyodide.asm.mjs requested",
            after(resource("pyodide.asm.mjs", "start")),
        ),
        (
            "pyodide.asm.wasm requested",
            after(resource("pyodide.asm.wasm", "start")),
        ),
        (
            "pyodide.asm.wasm received",
            after(resource("pyodide.asm.wasm", "end")),
        ),
        (
            "python_stdlib.zip requested",
            after(resource("python_stdlib.zip", "start")),
        ),
        ("first message from the worker", after(first_message)),
        ("ready event", sample.ready),
        ("first output (t1)", sample.ttfo),
    ]
}

// ---------------------------------------------------------------------------------------------------------------
// Environment and bundle

/// A private server root, so a concurrent `cargo bundle dist` (which empties target/dist/ and takes minutes)
/// cannot remove or swap the bundle halfway through the bench: a copy of target/dist/ taken now, and symlinks
/// to node_modules/pyodide/, tests/fixtures/, demo/ and the upstream npm packages of the library part. Returns the directory (deleted on drop) and the bundle.
fn snapshot_root(root: &Path) -> Result<(tempfile::TempDir, Vec<u8>)> {
    let dist = root.join("target/dist");
    let bundle_path = dist.join("python-runner.js");
    let bundle = std::fs::read(&bundle_path).with_context(|| {
        format!(
            "reading {} (build it with `cargo bundle dist`, or run `cargo bundle bench`)",
            bundle_path.display()
        )
    })?;
    let snapshot = tempfile::Builder::new()
        .prefix("python-runner-bench-")
        .tempdir()
        .context("creating a temporary server root")?;
    let copy = snapshot.path().join("target/dist");
    std::fs::create_dir_all(&copy)?;
    for entry in std::fs::read_dir(&dist).with_context(|| format!("listing {}", dist.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() && entry.file_name() != "python-runner.js" {
            // Whatever else dist/ holds (e.g. a source map); a file that vanishes meanwhile is simply left out.
            let _ = std::fs::copy(entry.path(), copy.join(entry.file_name()));
        }
    }
    std::fs::write(copy.join("python-runner.js"), &bundle)?;
    let upstream = UPSTREAM_PACKAGES.map(|name| format!("node_modules/{name}"));
    for link in ["node_modules/pyodide", "tests/fixtures", "demo"]
        .into_iter()
        .chain(upstream.iter().map(String::as_str))
    {
        let at = snapshot.path().join(link);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(root.join(link), &at)
            .with_context(|| format!("linking {}", at.display()))?;
    }
    Ok((snapshot, bundle))
}

fn gzip_size(bytes: &[u8]) -> Result<u64> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes)?;
    Ok(u64::try_from(encoder.finish()?.len())?)
}

fn chromium_version() -> String {
    let chromium = BrowserOptions::default().chromium;
    std::process::Command::new(&chromium)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .find(|word| {
                    word.contains('.') && word.chars().all(|c| c.is_ascii_digit() || c == '.')
                })
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}

fn pyodide_version(root: &Path) -> String {
    std::fs::read(root.join("node_modules/pyodide/package.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|package| package["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()?
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (proleptic Gregorian, UTC).
fn iso_utc(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or_default();
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `1234567` → `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Report

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn ms(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.0}"))
}

struct Report<'a> {
    date: String,
    chromium: &'a str,
    pyodide: &'a str,
    cores: usize,
    load: (Option<f64>, Option<f64>),
    took: Duration,
    raw: u64,
    gzip: u64,
    scenarios: &'a [Scenario],
    /// `None`: the interaction part was skipped.
    interaction: Option<(&'a [Interaction], InteractionCounts)>,
    /// `None`: the archive part was skipped.
    archive: Option<&'a ArchiveRun>,
    /// `None`: the library part was skipped; else its runs, counts and the upstream packages' versions.
    library: Option<(&'a [LibraryRun], LibraryCounts, &'a [String])>,
    /// `None`: the output flood part was skipped.
    flood: Option<&'a FloodRun>,
    /// Why a part that did not run was left out (`--only-*`, or its `--skip-*`).
    only: bool,
}

fn element_only_table(out: &mut String, r: &Report<'_>) {
    let _ = writeln!(out);
    let _ = writeln!(out, "Element only, medians, ms");
    let _ = writeln!(
        out,
        "  {:<22} {:>22} {:>24}",
        "scenario", "defined (from nav.)", "ready event (after t0)"
    );
    for scenario in r.scenarios.iter().filter(|s| s.skipped.is_none()) {
        let median =
            |value: Metric| ms(Stats::of(&values(&scenario.element, value)).map(|s| s.median));
        let _ = writeln!(
            out,
            "  {:<22} {:>22} {:>24}",
            scenario.label,
            median(|s| s.defined),
            median(|s| s.ready)
        );
    }
}

/// Why a part did not run: not named by the `--only-*` flags given, or its own `--skip-*` flag (an `--only-*`
/// and a `--skip-*` flag of the same part are refused).
fn skipped_why(only: bool, skip_flag: &'static str) -> &'static str {
    if only {
        "not named by an --only-* flag"
    } else {
        skip_flag
    }
}

fn table(r: &Report<'_>) -> String {
    let mut out = String::new();
    let load = |x: Option<f64>| x.map_or_else(|| "?".into(), |x| format!("{x:.2}"));
    let _ = writeln!(out, "python-runner bench, {}", r.date);
    let _ = writeln!(
        out,
        "Chromium {}, Pyodide {}, {} cores, load average {} at start, {} at end, took {:.0} s",
        r.chromium,
        r.pyodide,
        r.cores,
        load(r.load.0),
        load(r.load.1),
        r.took.as_secs_f64()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Bundle target/dist/python-runner.js");
    let _ = writeln!(out, "  raw       {:>9} B", thousands(r.raw));
    let over = i128::from(r.gzip) - i128::from(TARGET_GZIP);
    let _ = writeln!(
        out,
        "  gzip -9   {:>9} B   target <= {} B   {} ({}{} B)",
        thousands(r.gzip),
        thousands(TARGET_GZIP),
        pass(r.gzip <= TARGET_GZIP),
        if over > 0 { "+" } else { "-" },
        thousands(u64::try_from(over.unsigned_abs()).unwrap_or(u64::MAX))
    );

    let views: [(&str, Metric, bool); 2] = [
        (
            "Time to first output, ms (t0 = element created / new Worker(), t1 = \"hi\" shown / received)",
            |s| s.ttfo,
            true,
        ),
        (
            "From navigation start to first output, ms (element: includes fetching and defining the bundle)",
            |s| s.from_navigation,
            false,
        ),
    ];
    if r.scenarios.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Time to first output: skipped ({})",
            if r.only {
                "not named by an --only-* flag"
            } else {
                "cold and warm runs are 0"
            }
        );
    }
    for (title, value, with_target) in views.into_iter().filter(|_| !r.scenarios.is_empty()) {
        let _ = writeln!(out);
        let _ = writeln!(out, "{title}");
        let _ = writeln!(
            out,
            "  {:<22} {:<8} {:>3} {:>6} {:>8} {:>8} {:>8}   element/bare (medians)",
            "scenario", "variant", "n", "failed", "median", "min", "max"
        );
        for scenario in r.scenarios {
            if let Some(why) = &scenario.skipped {
                let _ = writeln!(out, "  {:<22} skipped: {}", scenario.label, first_line(why));
                continue;
            }
            for (i, (variant, samples)) in
                [("element", &scenario.element), ("bare", &scenario.bare)]
                    .into_iter()
                    .enumerate()
            {
                let stats = Stats::of(&values(samples, value));
                let failed = samples.iter().filter(|s| s.error.is_some()).count();
                let ratio = if i == 0 {
                    match scenario.ratio(value) {
                        Some(ratio) if with_target => format!(
                            "{ratio:.3}   target <= {TARGET_RATIO:.2}   {}",
                            pass(ratio <= TARGET_RATIO)
                        ),
                        Some(ratio) => format!("{ratio:.3}"),
                        None => "-".into(),
                    }
                } else {
                    scenario.paired_ratio(value).map_or_else(String::new, |r| {
                        format!("{r:.3}   (median of per-round ratios)")
                    })
                };
                let _ = writeln!(
                    out,
                    "  {:<22} {:<8} {:>3} {:>6} {:>8} {:>8} {:>8}   {}",
                    if i == 0 { scenario.label } else { "" },
                    variant,
                    stats.map_or(0, |s| s.n),
                    failed,
                    ms(stats.map(|s| s.median)),
                    ms(stats.map(|s| s.min)),
                    ms(stats.map(|s| s.max)),
                    ratio
                );
            }
        }
    }

    if !r.scenarios.is_empty() {
        element_only_table(&mut out, r);
    }
    let traced: Vec<(String, &Sample)> = r
        .scenarios
        .iter()
        .flat_map(|scenario| {
            scenario.traced.iter().map(move |(variant, sample)| {
                (format!("{} {}", scenario.short, variant.name()), sample)
            })
        })
        .collect();
    if !traced.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Where the time goes: one traced sample each (not in the stats above), ms after t0"
        );
        let _ = write!(out, "  {:<33}", "");
        for (name, _) in &traced {
            let _ = write!(out, "  {name:>w$}", w = name.len().max(6));
        }
        let _ = writeln!(out);
        let columns: Vec<Vec<(&str, Option<f64>)>> =
            traced.iter().map(|(_, s)| milestones(s)).collect();
        let rows = columns.first().map_or(0, Vec::len);
        for row in 0..rows {
            let _ = write!(out, "  {:<33}", columns[0][row].0);
            for ((name, _), column) in traced.iter().zip(&columns) {
                let _ = write!(out, "  {:>w$}", ms(column[row].1), w = name.len().max(6));
            }
            let _ = writeln!(out);
        }
        for (name, sample) in &traced {
            if let Some(error) = &sample.error {
                let _ = writeln!(out, "  {name}: {}", failure(error, sample));
            }
        }
    }
    match r.interaction {
        Some((runs, counts)) => interaction_table(&mut out, runs, counts),
        None => {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "Interaction: skipped ({})",
                skipped_why(r.only, "--skip-interaction")
            );
        }
    }
    match r.archive {
        Some(run) => archive_table(&mut out, run),
        None => {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "Archive: skipped ({})",
                skipped_why(r.only, "--skip-archive")
            );
        }
    }
    match r.library {
        Some((runs, counts, upstream)) => library_table(&mut out, runs, counts, upstream),
        None => {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "Library: skipped ({})",
                skipped_why(r.only, "--skip-library")
            );
        }
    }
    match r.flood {
        Some(run) => flood_table(&mut out, run),
        None => {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "Output flood: skipped ({})",
                skipped_why(r.only, "--skip-flood")
            );
        }
    }
    out.lines()
        .map(|line| line.trim_end().to_owned() + "\n")
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------

/// Runs the whole bench; `Ok(false)` when some variant produced no sample at all.
fn run(args: &Args) -> Result<bool> {
    let started = Instant::now();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let root = workspace_root();
    if !root.join("node_modules/pyodide/pyodide.mjs").is_file() {
        bail!("node_modules/pyodide/pyodide.mjs is missing; run `npm ci` in the workspace root");
    }
    let (snapshot, bundle) = snapshot_root(&root)?;
    let bundle_modified = std::fs::metadata(root.join("target/dist/python-runner.js"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let raw = u64::try_from(bundle.len())?;
    let gzip = gzip_size(&bundle)?;
    let chromium = chromium_version();
    let pyodide = pyodide_version(&root);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let load_start = load_average();
    eprintln!(
        "bench: Chromium {chromium}, Pyodide {pyodide}, {cores} cores; parts:{}{}{}{}{}",
        if args.ttfo {
            format!(
                " time to first output (cold {}, warm {} per variant)",
                args.cold_runs, args.warm_runs
            )
        } else {
            String::new()
        },
        if args.interaction { " interaction" } else { "" },
        if args.archive {
            format!(" archive ({} per variant)", args.archive_runs)
        } else {
            String::new()
        },
        if args.library { " library" } else { "" },
        if args.flood { " flood" } else { "" },
    );

    let counts = InteractionCounts::new(args.quick);
    let isolated = Server::start(ServerOptions::isolated().with_root(snapshot.path()))?;
    let mut scenarios = Vec::new();
    let mut interaction = Vec::new();
    if args.ttfo && args.cold_runs > 0 {
        scenarios.push(run_cold(&isolated, args));
    }
    if args.ttfo && args.warm_runs > 0 {
        scenarios.push(run_warm(
            &isolated,
            args,
            ("warm", "warm, isolated", "warm"),
        ));
    }
    if args.interaction {
        for page in Page::ALL.into_iter().filter(|p| p.isolated()) {
            interaction.push(run_interaction(&isolated, counts, page));
        }
    }
    let archive = args
        .archive
        .then(|| run_archive(&isolated, args.archive_runs, unix));
    let library_counts = LibraryCounts::new(args.quick);
    let upstream_missing = upstream_missing(&root);
    let upstream = upstream_versions(&root);
    let mut library = Vec::new();
    if args.library {
        library.push(run_library(
            &isolated,
            library_counts,
            LibraryServer::Isolated,
            upstream_missing.as_deref(),
        ));
    }
    let flood_counts = FloodCounts::new(args.quick, args.flood_runs);
    let flood = args.flood.then(|| run_flood(&isolated, flood_counts));
    drop(isolated);
    let ttfo_plain = args.ttfo && args.warm_runs > 0 && args.not_isolated;
    if ttfo_plain || args.interaction || args.library {
        let plain = Server::start(ServerOptions::not_isolated().with_root(snapshot.path()))?;
        if ttfo_plain {
            scenarios.push(run_warm(
                &plain,
                args,
                ("warm_not_isolated", "warm, not isolated", "no-COI"),
            ));
        }
        if args.interaction {
            for page in Page::ALL.into_iter().filter(|p| !p.isolated()) {
                interaction.push(run_interaction(&plain, counts, page));
            }
        }
        if args.library {
            library.push(run_library(
                &plain,
                library_counts,
                LibraryServer::NotIsolated,
                upstream_missing.as_deref(),
            ));
        }
    }
    let took = started.elapsed();
    let load_end = load_average();

    let complete = scenarios.iter().all(|s| {
        let expected = if s.key == "cold" {
            args.cold_runs
        } else {
            args.warm_runs
        };
        s.complete(expected)
    }) && interaction.iter().all(Interaction::complete)
        && archive.as_ref().is_none_or(ArchiveRun::complete)
        && library.iter().all(LibraryRun::complete)
        && flood.as_ref().is_none_or(FloodRun::complete);
    let report = Report {
        date: iso_utc(unix),
        chromium: &chromium,
        pyodide: &pyodide,
        cores,
        load: (load_start, load_end),
        took,
        raw,
        gzip,
        scenarios: &scenarios,
        interaction: args.interaction.then_some((&interaction[..], counts)),
        archive: archive.as_ref(),
        library: args
            .library
            .then_some((&library[..], library_counts, &upstream[..])),
        flood: flood.as_ref(),
        only: args.only,
    };
    let json = json!({
        "timestamp": unix,
        "date_utc": report.date,
        "chromium_version": chromium,
        "pyodide_version": pyodide,
        "machine": {
            "cores": cores,
            "cpu": cpu_model(),
            "load_average_start": load_start,
            "load_average_end": load_end,
        },
        "settings": {
            "cold_runs": args.cold_runs,
            "warm_runs": args.warm_runs,
            "warmup": args.warmup,
            "quick": args.quick,
            "time_to_first_output": args.ttfo,
            "interaction": args.interaction,
            "archive": args.archive,
            "archive_runs": args.archive_runs,
            "archive_delays_ms": ARCHIVE_DELAYS,
            "library": args.library,
            "flood": args.flood,
            "flood_runs": args.flood.then_some(flood_counts.runs),
            "sample_limit_s": SAMPLE_LIMIT.as_secs(),
        },
        "duration_s": round1(took.as_secs_f64()),
        "bundle": {
            "path": "target/dist/python-runner.js",
            "modified_unix": bundle_modified,
            "raw": raw,
            "gzip": gzip,
            "target_gzip": TARGET_GZIP,
            "gzip_pass": gzip <= TARGET_GZIP,
        },
        "time_to_first_output_ms": scenarios
            .iter()
            .map(|s| (s.key.to_owned(), s.to_json()))
            .collect::<serde_json::Map<_, _>>(),
        "interaction": if args.interaction {
            let mut runs = interaction
                .iter()
                .map(|run| (run.page.key().to_owned(), run.to_json()))
                .collect::<serde_json::Map<_, _>>();
            runs.insert("settings".into(), json!({
                "input_lines": counts.input_lines,
                "input_warmup_lines": INPUT_WARMUP_LINES,
                "stop_samples_per_kind": counts.stop,
                "restart_samples": counts.restart,
                "fresh_samples": counts.fresh,
                "restart_settle_s": RESTART_SETTLE.as_secs_f64(),
                "spare_settle_s": SPARE_SETTLE.as_secs_f64(),
            }));
            Value::Object(runs)
        } else {
            json!({ "skipped": skipped_why(args.only, "--skip-interaction") })
        },
        "archive": archive.as_ref().map_or_else(
            || json!({ "skipped": skipped_why(args.only, "--skip-archive") }),
            ArchiveRun::to_json,
        ),
        "library": if args.library {
            let mut runs = library
                .iter()
                .map(|run| (run.server.key().to_owned(), run.to_json()))
                .collect::<serde_json::Map<_, _>>();
            runs.insert("page".into(), json!("tests/fixtures/bench/library.html"));
            runs.insert("ours".into(), json!("target/dist/python-runner.mjs"));
            runs.insert("upstream".into(), json!(upstream));
            runs.insert("settings".into(), library_counts.to_json());
            Value::Object(runs)
        } else {
            json!({ "skipped": skipped_why(args.only, "--skip-library") })
        },
        "flood": flood.as_ref().map_or_else(
            || json!({ "skipped": skipped_why(args.only, "--skip-flood") }),
            FloodRun::to_json,
        ),
        "complete": complete,
    });

    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = serde_json::to_string_pretty(&json)? + "\n";
    let path = dir.join(format!("bench-{unix}.json"));
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let latest = dir.join("latest.json");
    std::fs::write(&latest, &text).with_context(|| format!("writing {}", latest.display()))?;

    println!();
    print!("{}", table(&report));
    println!();
    println!("JSON: {} (also {})", path.display(), latest.display());
    if !complete {
        println!("INCOMPLETE: some variant or interaction measurement produced no successful sample (see the errors above and in the JSON)");
    }
    Ok(complete)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Option<Args> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse_args(&args).expect("valid arguments")
    }

    #[test]
    fn parses_run_counts() {
        let full = parse("").expect("args");
        assert_eq!((full.cold_runs, full.warm_runs, full.warmup), (5, 9, 1));
        let quick = parse("--quick").expect("args");
        assert_eq!((quick.cold_runs, quick.warm_runs), (2, 3));
        let runs = parse("--runs 4 --quick").expect("args");
        assert_eq!((runs.cold_runs, runs.warm_runs), (4, 4));
        let split = parse("--runs=4 --cold-runs 1 --no-trace --skip-not-isolated").expect("args");
        assert_eq!((split.cold_runs, split.warm_runs), (1, 4));
        assert!(!split.trace && !split.not_isolated);
        assert!(parse("--help").is_none());
        assert!(parse_args(&["--runs".to_owned()]).is_err());
        assert!(parse_args(&["--bogus".to_owned()]).is_err());
    }

    #[test]
    fn parses_interaction_flags() {
        let full = parse("").expect("args");
        assert!(full.ttfo && full.interaction);
        let skip = parse("--skip-interaction").expect("args");
        assert!(skip.ttfo && !skip.interaction);
        let only = parse("--only-interaction --quick").expect("args");
        assert!(!only.ttfo && only.interaction && only.quick);
        assert!(parse("--only-interaction --runs 0").is_some());
        // With the archive part still on, there is something to measure.
        assert!(parse("--runs=0 --skip-interaction").is_some());
        assert!(parse_args(&[
            "--runs=0".to_owned(),
            "--skip-interaction".to_owned(),
            "--skip-archive".to_owned(),
            "--skip-library".to_owned(),
            "--skip-flood".to_owned()
        ])
        .is_err());
        assert!(parse_args(&[
            "--only-interaction".to_owned(),
            "--skip-interaction".to_owned()
        ])
        .is_err());
        assert_eq!(InteractionCounts::new(false).input_lines, 200);
        assert_eq!(InteractionCounts::new(true).input_lines, 50);
    }

    #[test]
    fn parses_archive_flags() {
        let full = parse("").expect("args");
        assert!(full.ttfo && full.interaction && full.archive);
        assert_eq!(full.archive_runs, 5);
        assert_eq!(parse("--quick").expect("args").archive_runs, 2);
        let only = parse("--only-archive --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && only.archive && only.only);
        let both = parse("--only-archive --only-interaction").expect("args");
        assert!(!both.ttfo && both.interaction && both.archive);
        let only_interaction = parse("--only-interaction").expect("args");
        assert!(!only_interaction.archive);
        let skip = parse("--skip-archive --archive-runs 0").expect("args");
        assert!(skip.ttfo && skip.interaction && !skip.archive);
        assert_eq!(parse("--archive-runs=3").expect("args").archive_runs, 3);
        assert!(parse_args(&["--only-archive".to_owned(), "--skip-archive".to_owned()]).is_err());
        assert!(parse_args(&["--archive-runs".to_owned(), "0".to_owned()]).is_err());
        assert!(parse("--only-archive --runs 0").is_some());
    }

    #[test]
    fn parses_library_flags() {
        let full = parse("").expect("args");
        assert!(full.library);
        let only = parse("--only-library --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && !only.archive && only.library && only.only);
        let both = parse("--only-library --only-archive").expect("args");
        assert!(!both.ttfo && !both.interaction && both.archive && both.library);
        assert!(!parse("--only-interaction").expect("args").library);
        assert!(!parse("--only-archive").expect("args").library);
        let skip = parse("--skip-library").expect("args");
        assert!(skip.ttfo && skip.interaction && skip.archive && !skip.library);
        assert!(parse_args(&["--only-library".to_owned(), "--skip-library".to_owned()]).is_err());
        assert!(parse("--only-library --runs 0").is_some());
        // With the library part still on, there is something to measure.
        assert!(parse("--runs=0 --skip-interaction --skip-archive").is_some());
        let (full, quick) = (LibraryCounts::new(false), LibraryCounts::new(true));
        assert_eq!(full.total(full.input_lines), 200);
        assert_eq!(quick.total(quick.input_lines), 50);
        assert_eq!(
            Implementation::pair(1),
            [Implementation::Upstream, Implementation::Ours]
        );
        assert_eq!(
            library_call("input", Implementation::Ours, Some(40)),
            r#"input("ours", 40)"#
        );
        assert_eq!(
            library_call("start", Implementation::Upstream, None),
            r#"start("upstream")"#
        );
    }

    #[test]
    fn parses_flood_flags() {
        let full = parse("").expect("args");
        assert!(full.flood && full.flood_runs.is_none());
        let only = parse("--only-flood --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && !only.archive && !only.library && only.flood);
        assert!(only.only && only.quick);
        let both = parse("--only-flood --only-library").expect("args");
        assert!(!both.ttfo && both.library && both.flood && !both.archive);
        for other in ["--only-interaction", "--only-archive", "--only-library"] {
            assert!(!parse(other).expect("args").flood, "{other}");
        }
        let skip = parse("--skip-flood").expect("args");
        assert!(skip.ttfo && skip.interaction && skip.archive && skip.library && !skip.flood);
        assert_eq!(parse("--flood-runs=5").expect("args").flood_runs, Some(5));
        assert_eq!(
            parse("--flood-runs 2 --quick").expect("args").flood_runs,
            Some(2)
        );
        assert!(parse("--skip-flood --flood-runs 0").is_some());
        assert!(parse_args(&["--flood-runs".to_owned(), "0".to_owned()]).is_err());
        assert!(parse_args(&["--flood-runs".to_owned()]).is_err());
        assert!(parse_args(&["--only-flood".to_owned(), "--skip-flood".to_owned()]).is_err());
        assert!(parse("--only-flood --runs 0").is_some());
        // With the flood part still on, there is something to measure.
        assert!(parse("--runs=0 --skip-interaction --skip-archive --skip-library").is_some());
    }

    #[test]
    fn library_run_ratios_and_completeness() {
        let mut run = LibraryRun::new(LibraryServer::NotIsolated);
        assert!(!run.complete());
        assert_eq!(run.input.ratio(), None);
        run.input.ours.values = vec![2.0, 4.0, 3.0];
        run.input.upstream.values = vec![6.0];
        assert_eq!(run.input.ratio(), Some(0.5));
        run.sleep.ours.values = vec![0.2];
        run.sleep.upstream.values = vec![0.0];
        assert_eq!(run.sleep.ratio(), None, "no ratio over a median of 0");
        for metric in [
            &mut run.call,
            &mut run.interrupt,
            &mut run.start,
            &mut run.init,
        ] {
            metric.ours.values.push(1.0);
            metric.upstream.values.push(1.0);
        }
        assert!(run.complete());
        run.interrupt.upstream.values.clear();
        run.interrupt.upstream.errors.push("timed out".into());
        assert!(!run.complete());
        let json = run.to_json();
        assert_eq!(json["expected_channel"], json!("serviceWorker"));
        assert_eq!(
            json["metrics"]["input_write_to_python"]["ratio_ours_over_upstream"],
            json!(0.5)
        );
        assert_eq!(
            json["metrics"]["interrupt_input"]["upstream"]["failed"],
            json!(1)
        );
        assert_eq!(json["service_worker"]["unregistered"], Value::Null);
        assert!(json["service_worker"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("our service worker")));
        assert_eq!(
            LibraryRun::new(LibraryServer::Isolated).to_json()["service_worker"],
            Value::Null
        );
        let mut table = String::new();
        library_table(
            &mut table,
            &[run],
            LibraryCounts::new(true),
            &["comsync 0.0.9".into()],
        );
        assert!(table.contains("not isolated (service-worker channel)"));
        assert!(table.contains("interrupt_input upstream: FAILED: timed out"));
        assert!(table.contains("with our service worker"));
    }

    #[test]
    fn archive_ratio_is_over_max_of_baseline_and_delay() {
        let ok = |ttfo: f64| ArchiveSample {
            ttfo: Some(ttfo),
            ..ArchiveSample::default()
        };
        let mut run = ArchiveRun::new(3);
        assert!(!run.complete());
        run.baseline = vec![ok(1000.0), ok(1200.0), ArchiveSample::failed("boom".into())];
        assert_eq!(run.baseline_median(), Some(1100.0));
        assert_eq!(run.ideal(0), Some(1100.0));
        assert_eq!(run.ideal(3000), Some(3000.0));
        let delayed = vec![ok(1155.0), ok(1210.0)];
        assert_eq!(run.ratio(0, &delayed).map(round3), Some(1.075));
        assert_eq!(run.ratio(3000, &[ok(3090.0)]).map(round3), Some(1.03));
        // Round by round: 1155 / 1000 and 1210 / 1200.
        assert_eq!(run.paired_ratio(0, &delayed).map(round3), Some(1.082));
        for (_, samples) in &mut run.delayed {
            samples.push(ok(3100.0));
        }
        assert!(run.complete());
        let json = run.to_json();
        assert_eq!(json["delays"][2]["delay_ms"], json!(3000));
        assert_eq!(json["delays"][2]["ideal_ms"], json!(3000.0));
        assert_eq!(json["baseline"]["failed"], json!(1));
        assert_eq!(
            ArchiveVariant::round(1),
            [
                ArchiveVariant::Delayed(0),
                ArchiveVariant::Delayed(1000),
                ArchiveVariant::Delayed(3000),
                ArchiveVariant::Baseline
            ]
        );
        assert_eq!(
            ArchiveVariant::Delayed(1000)
                .archive_request("7-r2")
                .as_deref(),
            Some("/fixtures/archive/project.zip?delay_ms=1000&n=7-r2")
        );
        assert_eq!(ArchiveVariant::Baseline.query("x"), "");
        let late = ArchiveSample {
            ttfo: Some(3060.0),
            ready: Some(1200.0),
            arrived: Some(3010.0),
            ..ArchiveSample::default()
        };
        assert_eq!(late.after_both(), Some(50.0));
        let bare = ArchiveSample {
            ttfo: Some(1206.0),
            ready: Some(1200.0),
            ..ArchiveSample::default()
        };
        assert_eq!(bare.after_both(), Some(6.0));
    }

    #[test]
    fn service_worker_variants_run_last_on_their_server() {
        let keys: Vec<&str> = Page::ALL.iter().map(|p| p.key()).collect();
        assert_eq!(
            keys,
            [
                "isolated",
                "isolated_service_worker",
                "not_isolated",
                "not_isolated_service_worker"
            ]
        );
        for isolated in [true, false] {
            let on_server: Vec<Page> = Page::ALL
                .into_iter()
                .filter(|p| p.isolated() == isolated)
                .collect();
            assert_eq!(on_server.last().map(|p| p.service_worker()), Some(true));
        }
        let run = Interaction::new(Page::ServiceWorker);
        assert_eq!(run.write_to_python.target, Some(10.0));
        assert_eq!(run.stops.len(), 2);
        assert_eq!(Page::ServiceWorker.restart_kind(), "busy");
        assert_eq!(
            Page::ServiceWorker.transport_attribute(),
            Some("service-worker")
        );
        assert_eq!(Page::NotIsolated.transport_attribute(), None);
        let json = run.to_json();
        assert_eq!(json["expected_transport"], json!("service-worker"));
        assert_eq!(json["service_worker"]["unregistered"], Value::Null);
        assert_eq!(
            Interaction::new(Page::Isolated).to_json()["service_worker"],
            Value::Null
        );
    }

    #[test]
    fn p90_is_nearest_rank() {
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[5.0]), Some(5.0));
        let ten: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(p90(&ten), Some(9.0));
        let many: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(p90(&many), Some(180.0));
    }

    #[test]
    fn interaction_is_complete_only_with_every_measurement() {
        let mut run = Interaction::new(Page::NotIsolated);
        assert_eq!(run.stops.len(), 2);
        assert!(!run.complete());
        for series in [
            &mut run.write_to_python,
            &mut run.enter_to_field,
            &mut run.restart,
            &mut run.restart_from_stop,
        ] {
            series.values.push(2.0);
        }
        run.fresh_ready.values.push(1000.0);
        for series in &mut run.stops {
            series.values.push(3.0);
        }
        assert!(run.complete());
        assert_eq!(run.restart_ratio(), Some(0.002));
        assert_eq!(run.write_to_python.pass(), Some(true));
        run.stops[1].values.clear();
        run.stops[1].errors.push("timed out".into());
        assert!(!run.complete());
        assert_eq!(run.stops[1].pass(), None);
        let json = run.to_json();
        assert_eq!(json["metrics"]["stop_input"]["failed"], json!(1));
        assert_eq!(json["complete"], json!(false));
        assert_eq!(fine_ms(0.12345), "0.123");
        assert_eq!(fine_ms(12.345), "12.35");
        assert_eq!(fine_ms(1234.5), "1234");
    }

    #[test]
    fn stats_median_min_max() {
        assert_eq!(Stats::of(&[]), None);
        let odd = Stats::of(&[3.0, 1.0, 2.0]).expect("stats");
        assert_eq!((odd.n, odd.median, odd.min, odd.max), (3, 2.0, 1.0, 3.0));
        let even = Stats::of(&[4.0, 1.0, 3.0, 2.0]).expect("stats");
        assert_eq!(even.median, 2.5);
    }

    #[test]
    fn failed_samples_are_left_out_of_the_stats() {
        let ok = |ms: f64| Sample {
            ttfo: Some(ms),
            ..Sample::default()
        };
        let mut scenario = Scenario::new("x", "x", "x");
        scenario.element = vec![ok(110.0), Sample::failed("boom".into())];
        scenario.bare = vec![ok(100.0)];
        assert_eq!(values(&scenario.element, |s| s.ttfo), vec![110.0]);
        assert_eq!(scenario.ratio(|s| s.ttfo).map(round3), Some(1.1));
        assert!(scenario.complete(1));
        scenario.element = vec![ok(110.0), ok(300.0), Sample::failed("boom".into())];
        scenario.bare = vec![ok(100.0), ok(200.0), ok(100.0)];
        assert_eq!(scenario.paired_ratio(|s| s.ttfo).map(round3), Some(1.3));
        scenario.bare = vec![Sample::failed("boom".into())];
        assert!(!scenario.complete(1));
    }

    #[test]
    fn formats_dates_and_numbers() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_764_164_705), "2025-11-26T13:45:05Z");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(56_320), "56,320");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
