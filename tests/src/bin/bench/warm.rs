//! The bench's warm-start part (issue 13, the cached memory snapshot of Python): per server and sample, in a fresh
//! browser, on tests/fixtures/bench/warm.html, a first visit (cold HTTP cache, a full start), the wait until the
//! throwaway worker stored the snapshot (its size, how long it takes, the page's main thread meanwhile), a second
//! visit (restored from it), a visit with `snapshot="off"`, and new workers (`runtime="own"`, and the spare each
//! visit's element starts) from the snapshot against a full start; and its section of the table.

use crate::page::{console_errors, number, page_step, settle_warm, RESULT_JS, SAMPLE_LIMIT};
use crate::stats::{median, round1, round3, Series};
use crate::text::{first_line, ms, pass, thousands, with_target, write_failures};
use anyhow::{bail, ensure, Context, Result};
use python_runner_tests::{report, Browser, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The bench page of this part.
const PAGE: &str = "warm.html";
/// Target: the second visit's time to first output / the first visit's (fresh profile, cold HTTP cache), medians.
const TARGET_SECOND_OVER_FIRST: f64 = 0.4;
/// Target: the second visit's time to first output / a visit with `snapshot="off"` (HTTP cache warm), medians.
const TARGET_SECOND_OVER_OFF: f64 = 0.5;
/// Target: a new worker's time to ready from the snapshot / a full start's (today's), medians.
const TARGET_NEW_WORKER: f64 = 0.5;
/// Target: long tasks (the API's threshold: 50 ms) on the page's main thread from the first visit's ready until
/// the snapshot is stored, the most in one sample.
const TARGET_LONGTASKS: usize = 0;
/// The issue's bound on any main-thread task while the snapshot is made, ms: below what the longtask API reports
/// (50 ms), so the table shows the longest gap between animation frames instead (a frame is 16.7 ms).
const ISSUE_TASK_MS: f64 = 16.0;
/// How long after a full start the element starts the snapshot worker (element/src/snapshot.rs), ms: part of the
/// time from ready to stored.
const MAKE_AFTER_MS: f64 = 5000.0;
/// Pause after quitting a sample's browser (Chromium's exit and profile removal) before the next launch.
const SETTLE_COLD: Duration = Duration::from_secs(1);
/// What the part measures, for the table and the JSON.
const MEASURED: &str = "time to first output: element created -> \"hi\" in its output (one eager <python-runner> with print('hi')), and from navigation start (performance.timeOrigin); new worker: element created (runtime=\"own\", manual, on a page whose first element is manual, so no spare exists) -> its ready event; spare: the spare worker the visit's element starts 300 ms after its code runs, new Worker() -> its \"ready\" message";

/// The server a run of this part used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WarmServer {
    Isolated,
    NotIsolated,
}

impl WarmServer {
    fn key(self) -> &'static str {
        match self {
            WarmServer::Isolated => "isolated",
            WarmServer::NotIsolated => "not_isolated",
        }
    }

    fn label(self) -> &'static str {
        match self {
            WarmServer::Isolated => "isolated",
            WarmServer::NotIsolated => "not isolated",
        }
    }
}

/// The part's samples on one server.
#[derive(Debug)]
pub(crate) struct ServerRun {
    server: WarmServer,
    /// First visit, fresh profile: element created → "hi", and from navigation start.
    first: Series,
    first_nav: Series,
    /// Second visit, same browser (started from the snapshot).
    second: Series,
    second_nav: Series,
    /// A visit with `snapshot="off"`, same browser.
    off: Series,
    off_nav: Series,
    /// A `runtime="own"` element's new worker: created → ready, from the snapshot and with `snapshot="off"`.
    own_warm: Series,
    own_off: Series,
    /// The visit's spare worker: `new Worker()` → its ready message, second visit and `snapshot="off"` visit.
    spare_warm: Series,
    spare_off: Series,
    /// First visit's ready → the snapshot stored (the wait before the worker starts included).
    background: Series,
    /// The snapshot worker: created → its `snapshot_made` message (boot, make, store).
    making: Series,
    /// `makeMemorySnapshot()` alone, as the worker reports it.
    make_call: Series,
    /// The stored snapshot's size (the cached Response's bytes), per sample.
    sizes: Vec<f64>,
    /// Main thread from the first visit's ready to stored: the longest gap between animation frames.
    frame_gap: Series,
    /// The same while the worker made the snapshot (created → made).
    making_gap: Series,
    /// Frames per second of the frame loop, per sample (a check that frames run at all).
    fps: Vec<f64>,
    /// Long tasks from ready to stored, per sample, and the longest of each sample that had some.
    longtasks: Vec<usize>,
    longest_longtask: Vec<f64>,
    /// Long animation frames (50 ms or more) from ready to stored, per sample, and the longest frame's duration
    /// and blocking duration (the part of it long tasks took) of each sample that had some.
    long_frames: Vec<usize>,
    longest_frame: Vec<(f64, f64)>,
    /// The longtask entry type is supported (false in some sample: the count means nothing).
    longtask_unsupported: bool,
    /// Per sample, what the pages reported.
    samples: Vec<Value>,
    /// Samples that could not start (the browser did not launch).
    errors: Vec<String>,
    took: Duration,
}

impl ServerRun {
    fn new(server: WarmServer) -> ServerRun {
        let series = |key, label| Series::new(key, label, None);
        ServerRun {
            server,
            first: series(
                "first_visit",
                "first visit (fresh profile, cold HTTP cache)",
            ),
            first_nav: series(
                "first_visit_from_navigation",
                "first visit, from navigation start",
            ),
            second: series("second_visit", "second visit (from the snapshot)"),
            second_nav: series(
                "second_visit_from_navigation",
                "second visit, from navigation start",
            ),
            off: series("off_visit", "visit with snapshot=\"off\" (HTTP cache warm)"),
            off_nav: series(
                "off_visit_from_navigation",
                "visit with snapshot=\"off\", from navigation start",
            ),
            own_warm: series(
                "own_worker_warm",
                "new worker (runtime=\"own\"): from the snapshot",
            ),
            own_off: series(
                "own_worker_off",
                "new worker (runtime=\"own\"): snapshot=\"off\"",
            ),
            spare_warm: series("spare_warm", "spare of the second visit: from the snapshot"),
            spare_off: series(
                "spare_off",
                "spare of the snapshot=\"off\" visit: full start",
            ),
            background: series("ready_to_stored", "first visit's ready -> snapshot stored"),
            making: series(
                "snapshot_worker",
                "snapshot worker: created -> snapshot_made",
            ),
            make_call: series("make_memory_snapshot", "makeMemorySnapshot()"),
            sizes: Vec::new(),
            frame_gap: series(
                "longest_frame_gap",
                "longest gap between animation frames, ready -> stored",
            ),
            making_gap: series(
                "longest_frame_gap_making",
                "longest gap between animation frames while the worker made it",
            ),
            fps: Vec::new(),
            longtasks: Vec::new(),
            longest_longtask: Vec::new(),
            long_frames: Vec::new(),
            longest_frame: Vec::new(),
            longtask_unsupported: false,
            samples: Vec::new(),
            errors: Vec::new(),
            took: Duration::ZERO,
        }
    }

    /// The rows of the table with a ratio: (numerator, denominator, target).
    fn ratios(&self) -> [(&Series, &Series, f64); 4] {
        [
            (&self.second, &self.first, TARGET_SECOND_OVER_FIRST),
            (&self.second, &self.off, TARGET_SECOND_OVER_OFF),
            (&self.own_warm, &self.own_off, TARGET_NEW_WORKER),
            (&self.spare_warm, &self.spare_off, TARGET_NEW_WORKER),
        ]
    }

    /// Every sample ran without a long task, `None` without a sample.
    fn longtasks_pass(&self) -> Option<bool> {
        let most = *self.longtasks.iter().max()?;
        Some(most.le(&TARGET_LONGTASKS) && !self.longtask_unsupported)
    }

    /// Every measurement has a sample.
    fn complete(&self) -> bool {
        [
            &self.first,
            &self.second,
            &self.off,
            &self.own_warm,
            &self.own_off,
            &self.spare_warm,
            &self.spare_off,
            &self.background,
        ]
        .iter()
        .all(|s| !s.values.is_empty())
    }

    fn to_json(&self) -> Value {
        let ratio_json = |(value, base, target): (&Series, &Series, f64)| {
            let r = ratio(value.median(), base.median());
            json!({
                "of": [value.key, base.key],
                "ratio": r.map(round3),
                "target": target,
                "pass": r.map(|r| r <= target),
            })
        };
        let [second_first, second_off, own, spare] = self.ratios();
        json!({
            "time_to_first_output_ms": {
                "first_visit": self.first.to_json(),
                "first_visit_from_navigation": self.first_nav.to_json(),
                "second_visit": self.second.to_json(),
                "second_visit_from_navigation": self.second_nav.to_json(),
                "off_visit": self.off.to_json(),
                "off_visit_from_navigation": self.off_nav.to_json(),
            },
            "second_over_first": ratio_json(second_first),
            "second_over_first_from_navigation": ratio(self.second_nav.median(), self.first_nav.median()).map(round3),
            "second_over_off": ratio_json(second_off),
            "second_over_off_from_navigation": ratio(self.second_nav.median(), self.off_nav.median()).map(round3),
            "new_worker_ready_ms": {
                "own_warm": self.own_warm.to_json(),
                "own_off": self.own_off.to_json(),
                "spare_warm": self.spare_warm.to_json(),
                "spare_off": self.spare_off.to_json(),
            },
            "own_warm_over_off": ratio_json(own),
            "spare_warm_over_off": ratio_json(spare),
            "snapshot": {
                "bytes": self.sizes,
                "median_bytes": median(self.sizes.iter().copied()),
                "ready_to_stored": self.background.to_json(),
                "of_it_the_element_waits_ms": MAKE_AFTER_MS,
                "snapshot_worker_created_to_made": self.making.to_json(),
                "make_memory_snapshot": self.make_call.to_json(),
            },
            "main_thread": {
                "longest_frame_gap_ready_to_stored": self.frame_gap.to_json(),
                "longest_frame_gap_while_making": self.making_gap.to_json(),
                "frames_per_second": self.fps.iter().copied().map(round1).collect::<Vec<_>>(),
                "longtasks": self.longtasks,
                "longtasks_max": self.longtasks.iter().max(),
                "longtask_unsupported": self.longtask_unsupported,
                "target_longtasks": TARGET_LONGTASKS,
                "longtasks_pass": self.longtasks_pass(),
                "longest_longtask_ms": self.longest_longtask.iter().copied().reduce(f64::max).map(round3),
                "long_animation_frames": self.long_frames,
                "longest_animation_frame_ms_and_blocking_ms": self.longest_frame
                    .iter()
                    .map(|(duration, blocking)| [round3(*duration), round3(*blocking)])
                    .collect::<Vec<_>>(),
                "issue_task_ms": ISSUE_TASK_MS,
                "issue_task_measurable": false,
            },
            "samples": self.samples,
            "errors": self.errors,
            "complete": self.complete(),
            "duration_s": round1(self.took.as_secs_f64()),
        })
    }
}

/// A ratio of two medians; `None` without both or with a base of zero or less.
fn ratio(value: Option<f64>, base: Option<f64>) -> Option<f64> {
    let (value, base) = (value?, base?);
    (base > 0.0).then_some(value / base)
}

/// The part's results, per server.
#[derive(Debug)]
pub(crate) struct WarmStartRun {
    runs: usize,
    pub(crate) servers: Vec<ServerRun>,
}

impl WarmStartRun {
    pub(crate) fn new(runs: usize) -> WarmStartRun {
        WarmStartRun {
            runs,
            servers: Vec::new(),
        }
    }

    /// Every measurement on every server has a sample.
    pub(crate) fn complete(&self) -> bool {
        !self.servers.is_empty() && self.servers.iter().all(ServerRun::complete)
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "page": format!("tests/fixtures/bench/{PAGE}"),
            "settings": {
                "runs_per_server": self.runs,
                "measured": MEASURED,
                "target_second_over_first": TARGET_SECOND_OVER_FIRST,
                "target_second_over_off": TARGET_SECOND_OVER_OFF,
                "target_new_worker_warm_over_off": TARGET_NEW_WORKER,
                "target_longtasks": TARGET_LONGTASKS,
            },
            "servers": self
                .servers
                .iter()
                .map(|s| (s.server.key().to_owned(), s.to_json()))
                .collect::<serde_json::Map<_, _>>(),
            "complete": self.complete(),
        })
    }
}

/// One visit's first output, as the page reported it.
struct Visit {
    /// Element created → "hi" shown, ms.
    ttfo: f64,
    /// Navigation start → "hi" shown, ms.
    from_navigation: f64,
    raw: Value,
}

/// The page's `window.__bench` for `query`, an error unless `{ ok: true }`.
fn load(browser: &Browser, server: &Server, query: &str) -> Result<Value> {
    browser.goto(&server.url(&format!("/fixtures/bench/{PAGE}{query}")))?;
    let script = RESULT_JS.replace("LIMIT_MS", &SAMPLE_LIMIT.as_millis().to_string());
    let raw = browser.eval_async(&script)?;
    if raw["ok"] != json!(true) {
        let error = raw["error"]
            .as_str()
            .map_or_else(|| format!("unexpected result {raw}"), str::to_owned);
        bail!("{PAGE}{query}: {error}");
    }
    Ok(raw)
}

/// A visit with one element printing "hi", whose ready event must say `warm`.
fn visit(browser: &Browser, server: &Server, query: &str, warm: bool) -> Result<Visit> {
    let raw = load(browser, server, query)?;
    let started_warm = raw["warm"].as_bool();
    ensure!(
        started_warm == Some(warm),
        "the ready event's detail.warm is {}, expected {warm}",
        raw["warm"]
    );
    Ok(Visit {
        ttfo: number(&raw, "ttfo")?,
        from_navigation: number(&raw, "t1")?,
        raw,
    })
}

/// The page's spare worker: created → ready, which must say `warm`.
fn spare(browser: &Browser, warm: bool) -> Result<(f64, Value)> {
    let raw = page_step(browser, PAGE, "spare()")?;
    ensure!(
        raw["warm"].as_bool() == Some(warm),
        "the spare's ready message says warm {}, expected {warm}",
        raw["warm"]
    );
    Ok((number(&raw, "boot_ms")?, raw))
}

/// A failed step: logged, and recorded in `series` with the page's first console error.
fn failed(browser: &Browser, series: &mut Series, what: &str, error: &anyhow::Error) {
    let mut text = report(error);
    if let Some(console) = console_errors(browser).first() {
        let _ = write!(text, " (console: {})", first_line(console));
    }
    eprintln!("  {what:<36} FAILED: {}", first_line(&text));
    series.errors.push(text);
}

/// Records the stored step's result: the snapshot's size and times, the main thread meanwhile.
fn record_stored(out: &mut ServerRun, stored: &Value) -> Result<String> {
    let background = number(stored, "stored")? - number(stored, "ready")?;
    let bytes = number(stored, "bytes")?;
    ensure!(bytes > 0.0, "the stored snapshot is empty");
    let whole = &stored["main_thread"]["whole"];
    let frames = number(whole, "frames")?;
    let window = number(whole, "to")? - number(whole, "from")?;
    let longtasks = whole["longtasks"]
        .as_u64()
        .with_context(|| format!("no longtask count in {whole}"))?;
    let longtasks = usize::try_from(longtasks)?;
    let long_frames = whole["long_animation_frames"]
        .as_u64()
        .map(usize::try_from)
        .transpose()?;
    out.background.values.push(background);
    out.sizes.push(bytes);
    if let Some(gap) = whole["longest_gap_ms"].as_f64() {
        out.frame_gap.values.push(gap);
    }
    if window > 0.0 {
        out.fps.push(frames * 1000.0 / window);
    }
    out.longtasks.push(longtasks);
    if let Some(longest) = whole["longest_longtask_ms"].as_f64() {
        out.longest_longtask.push(longest);
    }
    out.longtask_unsupported |= stored["longtask_supported"] != json!(true);
    out.long_frames.extend(long_frames);
    let frame = &whole["longest_animation_frame"];
    if let Some(duration) = frame["duration_ms"].as_f64() {
        out.longest_frame
            .push((duration, frame["blocking_ms"].as_f64().unwrap_or(0.0)));
    }
    let maker = &stored["maker"];
    if let (Some(created), Some(made)) = (maker["created"].as_f64(), maker["made"].as_f64()) {
        out.making.values.push(made - created);
    }
    if let Some(make_ms) = maker["make_ms"].as_f64() {
        out.make_call.values.push(make_ms);
    }
    if let Some(gap) = stored["main_thread"]["making"]["longest_gap_ms"].as_f64() {
        out.making_gap.values.push(gap);
    }
    Ok(format!(
        "ready -> stored {background:.0} ms, {} B, longest frame gap {}, {longtasks} longtasks",
        thousands(bytes as u64),
        ms(whole["longest_gap_ms"].as_f64())
    ))
}

/// One sample in a fresh browser; problems are recorded in `out`.
fn sample(server: &Server, out: &mut ServerRun, n: usize, runs: usize) {
    let key = out.server.key();
    let what = |step: &str| format!("warm {key} {step} {n}/{runs}");
    let browser = match Browser::launch() {
        Ok(browser) => browser,
        Err(e) => {
            let text = format!("could not launch the browser: {}", report(&e));
            eprintln!("  {:<36} FAILED: {}", what("launch"), first_line(&text));
            out.errors.push(text);
            return;
        }
    };
    let mut raw = serde_json::Map::new();
    // 1. The first visit (cold) and 2. the snapshot stored.
    match visit(&browser, server, "", false) {
        Ok(v) => {
            eprintln!(
                "  {:<36} {:.0} ms (from navigation start {:.0} ms)",
                what("first visit"),
                v.ttfo,
                v.from_navigation
            );
            out.first.values.push(v.ttfo);
            out.first_nav.values.push(v.from_navigation);
            raw.insert("first_visit".into(), v.raw);
        }
        Err(e) => return failed(&browser, &mut out.first, &what("first visit"), &e),
    }
    let stored = page_step(&browser, PAGE, "stored()")
        .and_then(|stored| Ok((record_stored(out, &stored)?, stored)));
    match stored {
        Ok((line, stored)) => {
            eprintln!("  {:<36} {line}", what("stored"));
            raw.insert("stored".into(), stored);
        }
        Err(e) => return failed(&browser, &mut out.background, &what("stored"), &e),
    }
    settle_warm(&browser);
    // 3. The second visit and 4. one with snapshot="off", each with its spare.
    for (query, warm) in [("", true), ("?snapshot=off", false)] {
        let name = if warm { "second visit" } else { "off visit" };
        let (series, nav, spare_series) = if warm {
            (&mut out.second, &mut out.second_nav, &mut out.spare_warm)
        } else {
            (&mut out.off, &mut out.off_nav, &mut out.spare_off)
        };
        match visit(&browser, server, query, warm) {
            Ok(v) => {
                eprintln!(
                    "  {:<36} {:.0} ms (from navigation start {:.0} ms)",
                    what(name),
                    v.ttfo,
                    v.from_navigation
                );
                series.values.push(v.ttfo);
                nav.values.push(v.from_navigation);
                raw.insert(name.replace(' ', "_"), v.raw);
                match spare(&browser, warm) {
                    Ok((boot, spare_raw)) => {
                        eprintln!("  {:<36} {boot:.0} ms", what(&format!("{name} spare")));
                        spare_series.values.push(boot);
                        raw.insert(format!("{name} spare").replace(' ', "_"), spare_raw);
                    }
                    Err(e) => failed(&browser, spare_series, &what(&format!("{name} spare")), &e),
                }
            }
            Err(e) => failed(&browser, series, &what(name), &e),
        }
        settle_warm(&browser);
    }
    // 5. New workers of an own runtime, from the snapshot and not; the order flips every sample.
    let order = if n % 2 == 1 { "on,off" } else { "off,on" };
    match load(&browser, server, &format!("?mode=restart&order={order}")) {
        Ok(restart) => {
            for own in restart["own"].as_array().into_iter().flatten() {
                let warm = own["snapshot"] == json!("on");
                let series = if warm {
                    &mut out.own_warm
                } else {
                    &mut out.own_off
                };
                let name = format!("own worker {}", if warm { "warm" } else { "off" });
                let checked = number(own, "ready_ms").and_then(|ready| {
                    ensure!(
                        own["warm"].as_bool() == Some(warm),
                        "the ready event's detail.warm is {}, expected {warm}",
                        own["warm"]
                    );
                    Ok(ready)
                });
                match checked {
                    Ok(ready) => {
                        eprintln!("  {:<36} {ready:.0} ms", what(&name));
                        series.values.push(ready);
                    }
                    Err(e) => failed(&browser, series, &what(&name), &e),
                }
            }
            raw.insert("restart".into(), restart);
        }
        Err(e) => {
            failed(&browser, &mut out.own_warm, &what("own workers"), &e);
            out.own_off.errors.push(report(&e));
        }
    }
    let _ = browser.goto("about:blank");
    out.samples.push(Value::Object(raw));
}

/// The part on one server: `runs` samples, each in a fresh browser. Never fails: problems are recorded.
pub(crate) fn run_warm_start(server: &Server, which: WarmServer, runs: usize) -> ServerRun {
    let started = Instant::now();
    let mut out = ServerRun::new(which);
    eprintln!(
        "warm start, {} (samples: {runs}, a fresh browser each: first visit, snapshot stored, second visit, snapshot=\"off\" visit, new workers):",
        which.label()
    );
    for n in 1..=runs {
        sample(server, &mut out, n, runs);
        std::thread::sleep(SETTLE_COLD);
    }
    out.took = started.elapsed();
    out
}

// ---------------------------------------------------------------------------------------------------------------
// Table

/// `<median> (<n>/<errors>)` of a series.
fn cell(series: &Series) -> String {
    format!(
        "{:>7} {:>5}",
        ms(series.median()),
        format!("{}/{}", series.values.len(), series.errors.len())
    )
}

/// A ratio of two series' medians against its target.
fn ratio_text(label: &str, (value, base, target): (&Series, &Series, f64)) -> String {
    let r = ratio(value.median(), base.median());
    with_target(
        format!(
            "{label} {}",
            r.map_or_else(|| "-".into(), |r| format!("{r:.2}"))
        ),
        Some(format!("<= {target}")),
        r.map(|r| r <= target),
    )
}

fn row(
    out: &mut String,
    server: &str,
    case: &str,
    series: &Series,
    nav: Option<&Series>,
    result: &str,
) {
    let _ = writeln!(
        out,
        "  {server:<13} {case:<50} {} {:>9}   {result}",
        cell(series),
        nav.map_or_else(String::new, |nav| format!("({})", ms(nav.median())))
    );
}

/// This server's rows and notes.
fn server_rows(out: &mut String, run: &ServerRun) {
    let [second_first, second_off, own, spare] = run.ratios();
    let nav_ratio = |value: &Series, base: &Series| {
        ratio(value.median(), base.median())
            .map_or_else(String::new, |r| format!(" (from nav. {r:.2})"))
    };
    let label = run.server.label();
    row(
        out,
        label,
        "first visit (fresh profile, cold HTTP cache)",
        &run.first,
        Some(&run.first_nav),
        "",
    );
    row(
        out,
        "",
        "second visit (from the snapshot)",
        &run.second,
        Some(&run.second_nav),
        &format!(
            "{}{}",
            ratio_text("/ first", second_first),
            nav_ratio(&run.second_nav, &run.first_nav)
        ),
    );
    row(
        out,
        "",
        "snapshot=\"off\" visit (HTTP cache warm)",
        &run.off,
        Some(&run.off_nav),
        &format!(
            "{}{}",
            ratio_text("second /", second_off),
            nav_ratio(&run.second_nav, &run.off_nav)
        ),
    );
    row(
        out,
        "",
        "new worker (runtime=\"own\"): from the snapshot",
        &run.own_warm,
        None,
        "",
    );
    row(
        out,
        "",
        "new worker (runtime=\"own\"): snapshot=\"off\" (today)",
        &run.own_off,
        None,
        &ratio_text("snapshot / off", own),
    );
    row(
        out,
        "",
        "spare refill, second visit: from the snapshot",
        &run.spare_warm,
        None,
        "",
    );
    row(
        out,
        "",
        "spare refill, snapshot=\"off\" visit (today)",
        &run.spare_off,
        None,
        &ratio_text("snapshot / off", spare),
    );
    let bytes = median(run.sizes.iter().copied());
    let _ = writeln!(
        out,
        "    {} snapshot: {}; first visit's ready -> stored {} ms (n {}; {MAKE_AFTER_MS:.0} ms of it the element's wait before it starts the worker); the worker, created -> stored {} ms, of it makeMemorySnapshot() {} ms",
        run.server.key(),
        bytes.map_or_else(|| "-".into(), |b| format!("{:.1} MiB ({} B)", b / 1_048_576.0, thousands(b as u64))),
        ms(run.background.median()),
        run.background.values.len(),
        ms(run.making.median()),
        ms(run.make_call.median()),
    );
    let most = run.longtasks.iter().max();
    let longtasks = match run.longtasks_pass() {
        Some(ok) => format!(
            "longtasks {} (the most in a sample; target {TARGET_LONGTASKS}) {}{}",
            most.map_or(0, |m| *m),
            pass(ok),
            if run.longtask_unsupported {
                " (longtask entries unsupported)"
            } else {
                ""
            }
        ),
        None => "longtasks - (no sample)".into(),
    };
    let _ = writeln!(
        out,
        "    {} main thread, first visit's ready -> stored: longest gap between animation frames {} ms (while the worker made it: {} ms; {} frames/s); {longtasks}, longest {} ms; long animation frames {} (the most in a sample), longest {}",
        run.server.key(),
        ms(run.frame_gap.median()),
        ms(run.making_gap.median()),
        median(run.fps.iter().copied()).map_or_else(|| "-".into(), |f| format!("{f:.0}")),
        ms(run.longest_longtask.iter().copied().reduce(f64::max)),
        run.long_frames.iter().max().map_or_else(|| "-".into(), usize::to_string),
        run.longest_frame
            .iter()
            .copied()
            .reduce(|a, b| if b.0 > a.0 { b } else { a })
            .map_or_else(
                || "-".into(),
                |(duration, blocking)| format!("{duration:.0} ms (blocking {blocking:.0} ms)")
            ),
    );
    for series in [
        &run.first,
        &run.background,
        &run.second,
        &run.spare_warm,
        &run.off,
        &run.spare_off,
        &run.own_warm,
        &run.own_off,
    ] {
        write_failures(
            out,
            &format!("{} {}", run.server.key(), series.key),
            &series.errors,
        );
    }
    write_failures(out, &format!("{} sample", run.server.key()), &run.errors);
}

/// This part's section of the table.
pub(crate) fn warm_start_table(out: &mut String, run: &WarmStartRun) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Warm start from the cached memory snapshot (tests/fixtures/bench/{PAGE}; samples per server: {}, each in a fresh browser: first visit, snapshot stored, second visit, snapshot=\"off\" visit, new workers; medians, ms)",
        run.runs
    );
    let _ = writeln!(out, "  {MEASURED}");
    let _ = writeln!(
        out,
        "  main thread: in the first visit's page from its ready event until the snapshot is stored, a requestAnimationFrame loop, longtask and long-animation-frame entries; the issue's \"longest main-thread task <= {ISSUE_TASK_MS:.0} ms\" is not measurable (both APIs report only entries of 50 ms or more): the longest gap between frames stands in (a frame is 16.7 ms), and the longtask count has the target {TARGET_LONGTASKS}"
    );
    let _ = writeln!(
        out,
        "  {:<13} {:<50} {:>7} {:>5} {:>9}   result",
        "server", "case", "median", "n/err", "(nav.)"
    );
    for server_run in &run.servers {
        server_rows(out, server_run);
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

    #[test]
    fn ratios_targets_and_table() {
        let mut server = ServerRun::new(WarmServer::Isolated);
        assert!(!server.complete());
        server.first.values = vec![2000.0, 1800.0];
        server.first_nav.values = vec![2200.0];
        server.second.values = vec![500.0, 700.0];
        server.second_nav.values = vec![600.0];
        server.off.values = vec![1000.0];
        server.off_nav.values = vec![1100.0];
        server.own_warm.values = vec![400.0];
        server.own_off.values = vec![1000.0];
        server.spare_warm.values = vec![600.0];
        server.spare_off.values = vec![1000.0];
        assert!(!server.complete(), "no snapshot stored");
        server.background.values = vec![9000.0];
        server.sizes = vec![31_457_280.0];
        server.longtasks = vec![0, 1];
        server.longest_longtask = vec![70.0];
        server.frame_gap.values = vec![33.4];
        server.fps = vec![59.9];
        server.long_frames = vec![2, 0];
        server.longest_frame = vec![(117.0, 0.0), (60.0, 55.0)];
        assert!(server.complete());
        assert_eq!(server.longtasks_pass(), Some(false));
        let json = server.to_json();
        assert_eq!(json["second_over_first"]["ratio"], json!(0.316));
        assert_eq!(json["second_over_first"]["pass"], json!(true));
        assert_eq!(json["second_over_off"]["pass"], json!(false));
        assert_eq!(json["spare_warm_over_off"]["pass"], json!(false));
        assert_eq!(json["main_thread"]["longtasks_max"], json!(1));
        let mut run = WarmStartRun::new(2);
        assert!(!run.complete());
        run.servers.push(server);
        assert!(run.complete());
        let mut table = String::new();
        warm_start_table(&mut table, &run);
        assert!(
            table.contains("/ first 0.32 <= 0.4 PASS (from nav. 0.27)"),
            "{table}"
        );
        assert!(table.contains("second / 0.60 <= 0.5 MISS"), "{table}");
        assert!(table.contains("snapshot / off 0.40 <= 0.5 PASS"), "{table}");
        assert!(table.contains("snapshot / off 0.60 <= 0.5 MISS"), "{table}");
        assert!(table.contains("30.0 MiB (31,457,280 B)"), "{table}");
        assert!(
            table.contains("longtasks 1 (the most in a sample; target 0) MISS, longest 70 ms"),
            "{table}"
        );
        assert!(table.contains("   1900   2/0"), "{table}");
        assert!(
            table.contains(
                "long animation frames 2 (the most in a sample), longest 117 ms (blocking 0 ms)"
            ),
            "{table}"
        );
    }
}
