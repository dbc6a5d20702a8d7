//! The interaction part: the element's input latency, Stop → `KeyboardInterrupt` and restart with the spare
//! worker, per transport (atomics, JSPI, service worker), on tests/fixtures/bench/interact.html; and its section
//! of the table.

use crate::page::{
    launch_browser, number, numbers, page_step, record_failure, settle_warm, Reopens,
};
use crate::stats::{p90, round3, Series, Stats};
use crate::text::{fine_ms, first_line, pass, write_failures};
use anyhow::{bail, Context, Result};
use python_runner_tests::{report, Browser, Engine, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

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
pub(crate) struct InteractionCounts {
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
    pub(crate) fn new(quick: bool) -> InteractionCounts {
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

    /// The part's settings in the JSON.
    pub(crate) fn to_json(self) -> Value {
        json!({
            "input_lines": self.input_lines,
            "input_warmup_lines": INPUT_WARMUP_LINES,
            "stop_samples_per_kind": self.stop,
            "restart_samples": self.restart,
            "fresh_samples": self.fresh,
            "restart_settle_s": RESTART_SETTLE.as_secs_f64(),
            "spare_settle_s": SPARE_SETTLE.as_secs_f64(),
        })
    }
}

/// Which server an interaction run uses, which transport the element must use there, and what Stop does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Page {
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
    pub(crate) const ALL: [Page; 4] = [
        Page::Isolated,
        Page::IsolatedServiceWorker,
        Page::NotIsolated,
        Page::ServiceWorker,
    ];

    pub(crate) fn key(self) -> &'static str {
        match self {
            Page::Isolated => "isolated",
            Page::NotIsolated => "not_isolated",
            Page::ServiceWorker => "not_isolated_service_worker",
            Page::IsolatedServiceWorker => "isolated_service_worker",
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Page::Isolated => "isolated (transport atomics)",
            Page::NotIsolated => "not isolated (transport jspi)",
            Page::ServiceWorker => "not isolated (transport service-worker)",
            Page::IsolatedServiceWorker => "isolated (transport service-worker)",
        }
    }

    pub(crate) fn isolated(self) -> bool {
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
pub(crate) struct Interaction {
    pub(crate) page: Page,
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

    /// Input latency (page write -> Python has the line), median, ms.
    pub(crate) fn input_median(&self) -> Option<f64> {
        self.write_to_python.median()
    }

    /// The measuring element's `activeTransport`.
    pub(crate) fn transport(&self) -> Option<&str> {
        self.transport.as_deref()
    }

    /// Restart with the spare / fresh element without one (medians).
    fn restart_ratio(&self) -> Option<f64> {
        let fresh = self.fresh_ready.median()?;
        (fresh > 0.0).then_some(self.restart.median()? / fresh)
    }

    /// Every measurement produced at least one value, and the run was not cut short.
    pub(crate) fn complete(&self) -> bool {
        self.aborted.is_none() && self.series().iter().all(|s| !s.values.is_empty())
    }

    pub(crate) fn to_json(&self) -> Value {
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

impl Reopens for Interaction {
    fn reopen(&mut self, browser: &Browser, server: &Server) -> Result<()> {
        open_measuring_page(browser, server, self)
    }
    fn aborted(&mut self) -> &mut Option<String> {
        &mut self.aborted
    }
}

/// The interaction part on one server, in one browser (a fresh profile): a warm-up load, the fresh-element
/// baseline, then on one page input latency, Stop → KeyboardInterrupt, and restarts with the spare; on
/// service-worker pages, unregistering it at the end. Never fails: problems are recorded in the result.
pub(crate) fn run_interaction(
    server: &Server,
    counts: InteractionCounts,
    page: Page,
    engine: Engine,
) -> Interaction {
    let mut out = Interaction::new(page);
    eprintln!(
        "interaction, {} (one browser): {} input lines, {} Stop samples per kind, {} restarts, {} fresh loads",
        page.label(),
        counts.input_lines,
        counts.stop,
        counts.restart,
        counts.fresh
    );
    let browser = match launch_browser(engine) {
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
pub(crate) fn interaction_table(out: &mut String, runs: &[Interaction], counts: InteractionCounts) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn counts_follow_quick() {
        assert_eq!(InteractionCounts::new(false).input_lines, 200);
        assert_eq!(InteractionCounts::new(true).input_lines, 50);
    }
}
