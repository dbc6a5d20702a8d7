//! The time-to-first-output part: `<python-runner>` against bare Pyodide in a module worker, cold (a fresh
//! browser per sample) and warm (one browser), on tests/fixtures/bench/element.html and bare.html, with one
//! traced sample each (where the time goes); and its sections of the table.

use crate::args::Args;
use crate::page::{console_errors, launch_browser, settle_warm, RESULT_JS, SAMPLE_LIMIT};
use crate::stats::{round1, round3, stats_json, Stats};
use crate::text::{failure_with, first_line, ms, pass};
use anyhow::Result;
use python_runner_tests::{report, Browser, Engine, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

/// Element median / bare median should not exceed this.
pub(crate) const TARGET_RATIO: f64 = 1.05;
/// Pause after quitting a browser (Chromium's exit and profile removal) before the next cold sample.
const SETTLE_COLD: Duration = Duration::from_millis(1000);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    Element,
    Bare,
}

impl Variant {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Variant::Element => "element",
            Variant::Bare => "bare",
        }
    }

    /// Element and bare alternate, and the pair's order flips every round (E B, B E, E B, ...), so neither
    /// variant always runs right after the other.
    pub(crate) fn pair(round: usize) -> [Variant; 2] {
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
    /// Element only: the `ready` event's `detail.warm` (Python restored from the cached memory snapshot).
    warm: Option<bool>,
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
            "warm": self.warm,
            "error": self.error,
            "console_errors": self.console_errors,
        })
    }
}

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
    sample.warm = raw.get("warm").and_then(Value::as_bool);
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

fn progress(label: &str, what: &str, sample: &Sample) {
    eprintln!("  {label:<28} {what:<16} {}", describe(sample));
    // A failed sample's description already shows the first console error.
    let shown = usize::from(sample.error.is_some());
    for error in sample.console_errors.iter().skip(shown) {
        eprintln!("      console: {}", first_line(error));
    }
}

/// Element and bare samples of one scenario, plus the traced pair (measured separately, not in the stats).
#[derive(Debug, Default)]
pub(crate) struct Scenario {
    /// Key in the JSON.
    pub(crate) key: &'static str,
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

    /// Element / bare of the time-to-first-output medians.
    pub(crate) fn ttfo_ratio(&self) -> Option<f64> {
        self.ratio(|s| s.ttfo)
    }

    /// The element's time-to-first-output median, ms.
    pub(crate) fn element_median(&self) -> Option<f64> {
        median(&self.element, |s| s.ttfo)
    }

    /// Bare Pyodide's time-to-first-output median, ms.
    pub(crate) fn bare_median(&self) -> Option<f64> {
        median(&self.bare, |s| s.ttfo)
    }

    /// The scenario's name in the table.
    pub(crate) fn label(&self) -> &'static str {
        self.label
    }

    fn ratio(&self, value: Metric) -> Option<f64> {
        let element = median(&self.element, value)?;
        let bare = median(&self.bare, value)?;
        (bare > 0.0).then(|| element / bare)
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
    pub(crate) fn complete(&self, expected: usize) -> bool {
        expected == 0
            || [&self.element, &self.bare]
                .iter()
                .all(|samples| samples.iter().any(|s| s.error.is_none()))
    }

    pub(crate) fn to_json(&self) -> Value {
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
pub(crate) fn run_cold(server: &Server, args: &Args) -> Scenario {
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
pub(crate) fn run_warm(
    server: &Server,
    args: &Args,
    (key, label, short): (&'static str, &'static str, &'static str),
    engine: Engine,
) -> Scenario {
    let mut scenario = Scenario::new(key, label, short);
    eprintln!(
        "{label} (one browser, {} warm-up load(s) of each page), {} per variant:",
        args.warmup, args.warm_runs
    );
    let browser = match launch_browser(engine) {
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

/// Picks one measurement out of a sample.
type Metric = fn(&Sample) -> Option<f64>;

fn values(samples: &[Sample], value: Metric) -> Vec<f64> {
    samples
        .iter()
        .filter(|s| s.error.is_none())
        .filter_map(value)
        .collect()
}

/// The median of `value` over the samples that did not fail.
fn median(samples: &[Sample], value: Metric) -> Option<f64> {
    Stats::of(&values(samples, value)).map(|s| s.median)
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
// Table

/// Element only: when the bundle was defined and the `ready` event came, per scenario.
fn element_only_table(out: &mut String, scenarios: &[Scenario]) {
    let _ = writeln!(out);
    let _ = writeln!(out, "Element only, medians, ms");
    let _ = writeln!(
        out,
        "  {:<22} {:>22} {:>24} {:>20}",
        "scenario", "defined (from nav.)", "ready event (after t0)", "from the snapshot"
    );
    for scenario in scenarios.iter().filter(|s| s.skipped.is_none()) {
        let median =
            |value: Metric| ms(Stats::of(&values(&scenario.element, value)).map(|s| s.median));
        let ok = scenario.element.iter().filter(|s| s.error.is_none());
        let warm = ok.clone().filter(|s| s.warm == Some(true)).count();
        let _ = writeln!(
            out,
            "  {:<22} {:>22} {:>24} {:>20}",
            scenario.label,
            median(|s| s.defined),
            median(|s| s.ready),
            format!("{warm} of {} {}", ok.count(), pass(warm == 0))
        );
    }
    let _ = writeln!(
        out,
        "  from the snapshot: samples whose ready event says detail.warm (Python restored from the cached memory snapshot); must be 0, since the target compares a full start with bare loadPyodide; the element is left at snapshot on (a full start includes the cache lookup), and no page here lives the 5 s after ready at which the element starts making a snapshot"
    );
}

/// The time-to-first-output sections of the table: per view, element against bare; the element only; the traces.
pub(crate) fn first_output_table(out: &mut String, scenarios: &[Scenario], only: bool) {
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
    if scenarios.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Time to first output: skipped ({})",
            if only {
                "not named by an --only-* flag"
            } else {
                "cold and warm runs are 0"
            }
        );
    }
    for (title, value, with_target) in views.into_iter().filter(|_| !scenarios.is_empty()) {
        let _ = writeln!(out);
        let _ = writeln!(out, "{title}");
        let _ = writeln!(
            out,
            "  {:<22} {:<8} {:>3} {:>6} {:>8} {:>8} {:>8}   element/bare (medians)",
            "scenario", "variant", "n", "failed", "median", "min", "max"
        );
        for scenario in scenarios {
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

    if !scenarios.is_empty() {
        element_only_table(out, scenarios);
    }
    let traced: Vec<(String, &Sample)> = scenarios
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
