//! The archive part: the element's time to first output with `src`, an archive the server delays, against a
//! bare element, on tests/fixtures/bench/archive.html; and its section of the table.

use crate::page::{console_errors, launch_browser, settle_warm, RESULT_JS, SAMPLE_LIMIT};
use crate::stats::{round1, round3, stats_json, Stats};
use crate::text::{failure_with, first_line, ms, pass};
use anyhow::{bail, Context, Result};
use python_runner_tests::{report, Browser, Engine, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Server-side delays of the archive, ms.
pub(crate) const ARCHIVE_DELAYS: [u64; 3] = [0, 1000, 3000];
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
pub(crate) struct ArchiveRun {
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
    pub(crate) fn complete(&self) -> bool {
        self.skipped.is_none()
            && std::iter::once(&self.baseline)
                .chain(self.delayed.iter().map(|(_, samples)| samples))
                .all(|samples| samples.iter().any(|s| s.error.is_none()))
    }

    pub(crate) fn to_json(&self) -> Value {
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
pub(crate) fn run_archive(server: &Server, runs: usize, unix: u64) -> ArchiveRun {
    let mut out = ArchiveRun::new(runs);
    eprintln!(
        "archive (one browser, isolated, a warm-up load of each kind), {runs} per variant: baseline, delays {ARCHIVE_DELAYS:?} ms"
    );
    let browser = match launch_browser(Engine::Chromium) {
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
pub(crate) fn archive_table(out: &mut String, run: &ArchiveRun) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
