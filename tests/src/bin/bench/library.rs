//! The library part: python-runner.mjs against the upstream npm packages it replaces (pyodide-worker-runner,
//! comsync, sync-message, comlink), same page, same Pyodide, on tests/fixtures/bench/library.html; and its
//! section of the table.

use crate::page::{
    console_errors, launch_browser, number, numbers, page_step, record_failure, Reopens,
};
use crate::stats::{p90, round3, Series, Stats};
use crate::text::{fine_ms, first_line, write_failures};
use anyhow::{bail, Context, Result};
use python_runner_tests::{report, Browser, Engine, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// The upstream packages' files that library.html loads (from `/node_modules/`), below the workspace root.
const UPSTREAM_FILES: [&str; 4] = [
    "node_modules/pyodide-worker-runner/dist/index.js",
    "node_modules/comsync/dist/index.js",
    "node_modules/sync-message/dist/index.js",
    "node_modules/comlink/dist/umd/comlink.js",
];
/// The npm packages of the upstream implementation (their versions go into the output).
pub(crate) const UPSTREAM_PACKAGES: [&str; 4] = [
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

    /// Both, the order flipping every round (like [`Variant::pair`](crate::first_output::Variant::pair)).
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
pub(crate) struct LibraryCounts {
    rounds: usize,
    input_lines: usize,
    calls: usize,
    interrupts: usize,
    sleeps: usize,
    starts: usize,
}

impl LibraryCounts {
    pub(crate) fn new(quick: bool) -> LibraryCounts {
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

    pub(crate) fn to_json(self) -> Value {
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
pub(crate) enum LibraryServer {
    Isolated,
    NotIsolated,
}

impl LibraryServer {
    pub(crate) fn key(self) -> &'static str {
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
pub(crate) struct LibraryRun {
    pub(crate) server: LibraryServer,
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
    pub(crate) fn complete(&self) -> bool {
        self.aborted.is_none()
            && self
                .metrics()
                .iter()
                .all(|m| !m.ours.values.is_empty() && !m.upstream.values.is_empty())
    }

    pub(crate) fn to_json(&self) -> Value {
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

impl Reopens for LibraryRun {
    fn reopen(&mut self, browser: &Browser, server: &Server) -> Result<()> {
        open_library_page(browser, server, self).map(drop)
    }
    fn aborted(&mut self) -> &mut Option<String> {
        &mut self.aborted
    }
}

/// The upstream packages' files that are missing (run `npm ci`), as one message.
pub(crate) fn upstream_missing(root: &Path) -> Option<String> {
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
pub(crate) fn upstream_versions(root: &Path) -> Vec<String> {
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
pub(crate) fn run_library(
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
    let browser = match launch_browser(Engine::Chromium) {
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
                    let reloaded = record_failure(
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
        Err(e) => record_failure(browser, server, out, sample.series, sample.label, &e),
    }
}

/// The library section of the table.
pub(crate) fn library_table(
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn counts_alternation_and_calls() {
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
}
