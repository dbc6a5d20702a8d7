//! End-to-end scenarios of the real bundle (`target/dist/python-runner.js`) in Chromium, Firefox ESR and WebKitGTK
//! (all three by default; `PYTHON_RUNNER_ENGINES=chromium,webkit` picks): each fixture page
//! `tests/fixtures/<scenario>/page.html` is loaded from a cross-origin isolated server and from a non-isolated one,
//! and the element's shadow DOM output, state, events and the console are checked against exact expectations.
//!
//! Element contract under test: host attribute/property `state` (`loading`, `running`, `done`, `error`); open
//! shadow root with `pre.source` (`textarea.source` with `editable`), `button.run` (accessible name "Run"), `div.output[role=log]` holding `div.dropped`
//! ("N earlier lines not shown", hidden while none are) and blocks of lines (`div.block`), each holding one `span`
//! per output chunk with class `stdout`/`stderr`/`traceback`/`syntax_error`, and `div.error` for element errors;
//! events `ready`, `done`, `error` (`detail.message`) on the host. Pages record events and state changes in
//! `window.__events` / `window.__stateOld` with an inline script.
//!
//! The `library_*` scenarios test the module build (`target/dist/python-runner.mjs`) instead: the upstream browser
//! tests of comsync and pyodide-worker-runner, run by the page with a module worker and a module service worker,
//! each case's outcome recorded in `window.__results` and checked here.
//!
//! One module per area (`output`, `lifecycle`, `errors`, `input_stop`, `archives`, `sharing`, `warm`, `library`,
//! `a11y`),
//! each holding its scenarios' checks; `element` reads the element for all of them. Test names are
//! `<engine>::<scenario>::isolated` and `<engine>::<scenario>::not_isolated`, whatever module the scenario lives
//! in; a scenario an engine cannot run is skipped with its reason printed (see `unsupported`), and a summary per
//! engine ends the run. One bundle and one pair of servers serve every engine.

mod a11y;
mod archives;
mod element;
mod errors;
mod input_stop;
mod library;
mod lifecycle;
mod output;
mod sharing;
mod warm;

use a11y::{a11y, keyboard};
use anyhow::{ensure, Context, Result};
use archives::{archive, archive_errors, install_imports, progress};
use errors::{bad_pyodide_url, python_crash};
use input_stop::{
    input, input_volume, no_transport, service_worker, sleep, stop, stop_while_loading,
};
use library::{demo_library, library_comsync, library_extras, library_runner};
use libtest_mimic::{Arguments, Failed, Trial};
use lifecycle::{
    back_forward, code_property, cross_origin_script, editable, lazy, manual, module_import,
    parsing_upgrade, removed_while_running,
};
use output::{html_literal, output_flood, pictures, snippet, syntax_error, theme, two_elements};
use python_runner_tests::engine::ConsoleSource;
use python_runner_tests::{workspace_root, Browser, Engine, Server, Suite};
use serde_json::json;
use sharing::{groups, queued, shared};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use std::time::Instant;
use warm::warm;

/// Pyodide boots in 2–6 s on an idle 2-core box, much slower while other builds use the cores.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// Time given to late console entries (worker ones arrive with a delay) before the console is checked.
const CONSOLE_SETTLE: Duration = Duration::from_millis(300);

/// One fixture page and what must happen on it.
struct Scenario {
    /// Directory under tests/fixtures/ holding `page.html`.
    name: &'static str,
    /// Query string appended to the page URL (e.g. to make the server pause mid-document).
    query: &'static str,
    /// The assertions, run once the page has loaded.
    check: fn(&Browser, &Server) -> Result<()>,
    /// SEVERE console entries that are expected: an entry is allowed when it contains one of these strings.
    allowed_console_errors: &'static [&'static str],
    /// Request paths (with query) that may fail with a 4xx/5xx status. Checked in the server's request log,
    /// because Chromium does not report failed requests made by workers in the console.
    allowed_failed_requests: &'static [&'static str],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "python_crash",
        query: "",
        check: python_crash,
        // Pyodide reports its fatal error on the worker's console.
        allowed_console_errors: &[
            "Pyodide has suffered a fatal error",
            "The cause of the fatal error was",
            "RangeError: Maximum call stack size exceeded",
            "InternalError(\"too much recursion\"",
        ],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "cross_origin_script",
        query: "",
        check: cross_origin_script,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "module_import",
        query: "",
        check: module_import,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "removed_while_running",
        query: "",
        check: removed_while_running,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "snippet",
        query: "",
        check: snippet,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "html_literal",
        query: "",
        check: html_literal,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "syntax_error",
        query: "",
        check: syntax_error,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "bad_pyodide_url",
        query: "",
        check: bad_pyodide_url,
        allowed_console_errors: &[
            "/nope/pyodide.mjs - Failed to load resource: the server responded with a status of 404",
        ],
        allowed_failed_requests: &["/nope/pyodide.mjs"],
    },
    Scenario {
        name: "theme",
        query: "",
        check: theme,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "pictures",
        query: "",
        check: pictures,
        // The check fetches a released picture's Blob URL, which must fail.
        allowed_console_errors: &["Failed to load resource: net::ERR_FILE_NOT_FOUND"],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "two_elements",
        query: "",
        check: two_elements,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "shared",
        query: "",
        check: shared,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "warm",
        query: "",
        check: warm,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "queued",
        query: "",
        check: queued,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "groups",
        query: "",
        check: groups,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "lazy",
        query: "",
        check: lazy,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "back_forward",
        query: "",
        check: back_forward,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "manual",
        query: "",
        check: manual,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "editable",
        query: "",
        check: editable,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "code_property",
        query: "",
        check: code_property,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "input",
        query: "",
        check: input,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "stop",
        query: "",
        check: stop,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "stop_while_loading",
        query: "",
        check: stop_while_loading,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "input_volume",
        query: "",
        check: input_volume,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "sleep",
        query: "",
        check: sleep,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "service_worker",
        query: "",
        check: service_worker,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "no_transport",
        query: "",
        check: no_transport,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "archive",
        query: "",
        check: archive,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "archive_errors",
        query: "",
        check: archive_errors,
        allowed_console_errors: &[
            "missing.zip - Failed to load resource: the server responded with a status of 404",
            "has been blocked by CORS policy",
            "project.zip?no_cors=1 - Failed to load resource: net::ERR_FAILED",
        ],
        allowed_failed_requests: &["/fixtures/archive_errors/missing.zip"],
    },
    Scenario {
        name: "progress",
        query: "",
        check: progress,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "install_imports",
        query: "",
        check: install_imports,
        allowed_console_errors: &[],
        allowed_failed_requests: &["/pypi/simple/not-a-real-package-xyz/"],
    },
    Scenario {
        name: "library_comsync",
        query: "",
        check: library_comsync,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "library_runner",
        query: "",
        check: library_runner,
        // test_fatal_error: Pyodide reports its fatal error on the worker's console.
        allowed_console_errors: &[
            "Pyodide has suffered a fatal error",
            "The cause of the fatal error was",
            "RangeError: Maximum call stack size exceeded",
            "InternalError(\"too much recursion\"",
        ],
        // test_service_worker_error: the channel's baseUrl is the page, so its reads reach the server.
        allowed_failed_requests: &["/fixtures/library_runner/page.html/read"],
    },
    Scenario {
        name: "demo_library",
        query: "",
        check: demo_library,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "library_extras",
        query: "",
        check: library_extras,
        // writeWithoutServiceWorker: the page's writes reach the server, which has no such path.
        allowed_console_errors: &["/__SyncMessageServiceWorkerInput__/write"],
        allowed_failed_requests: &["/__SyncMessageServiceWorkerInput__/write"],
    },
    Scenario {
        name: "output_flood",
        query: "",
        check: output_flood,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "a11y",
        query: "",
        check: a11y,
        // The elements with `src="missing.zip"`, and the demo's element whose Pyodide URL is wrong.
        allowed_console_errors: &[
            "missing.zip - Failed to load resource: the server responded with a status of 404",
            "/no-pyodide-here/pyodide.mjs - Failed to load resource: the server responded with a status of 404",
        ],
        allowed_failed_requests: &["/fixtures/a11y/missing.zip", "/no-pyodide-here/pyodide.mjs"],
    },
    Scenario {
        name: "keyboard",
        query: "",
        check: keyboard,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
    Scenario {
        name: "parsing_upgrade",
        query: "?pause_ms=700",
        check: parsing_upgrade,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
];

/// Why `scenario` cannot apply to `engine` (on an isolated or a plain page), when the engine truly lacks what it
/// tests; `None` where it applies.
fn unsupported(scenario: &str, engine: Engine, isolated: bool) -> Option<&'static str> {
    // These block Python on the page's answer (input(), Stop of a sleep, a page that falls behind) with the
    // page's default transport; without cross-origin isolation that is JSPI, which WebKit lacks (as Safari), so
    // the element's transport there is `none` (checked by no_transport) unless the service worker controls the
    // page (checked by service_worker).
    const NEED_JSPI: [&str; 7] = [
        "input",
        "stop",
        "input_volume",
        "shared",
        "queued",
        "output_flood",
        "keyboard",
    ];
    (engine == Engine::WebKit && !isolated && NEED_JSPI.contains(&scenario)).then_some(
        "WebKit has no JavaScript Promise Integration, so a page without cross-origin isolation has no blocking \
         transport by default (no_transport and service_worker cover that page)",
    )
}

/// What happened to one engine's scenarios.
#[derive(Default)]
struct Tally {
    passed: usize,
    /// Each failed scenario run's name and root cause.
    failed: Vec<String>,
    skipped: Vec<String>,
    took: Duration,
    /// Each scenario run's name and time, for the slowest.
    times: Vec<(String, Duration)>,
    /// Python starts (ready events) on the last page of each scenario run: in full, and from the snapshot.
    starts: Starts,
}

/// How many Pythons a page started in full and from the memory snapshot.
#[derive(Default, Clone, Copy)]
struct Starts {
    full: usize,
    warm: usize,
}

fn main() {
    let mut args = Arguments::from_args();
    // One scenario at a time: engines share the machine's two cores, and Pyodide's start is timing-sensitive.
    args.test_threads.get_or_insert(1);
    let engines = match Engine::from_env() {
        Ok(engines) => engines,
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(2);
        }
    };
    let suite = Arc::new(Suite::new());
    let tallies: Arc<Mutex<BTreeMap<Engine, Tally>>> = Arc::default();
    let mut trials = Vec::new();
    // Per engine, every scenario on one origin, then on the other: each origin's Python snapshot (left by
    // `leave_snapshot`) then serves all of its scenarios. WebKitGTK's WebDriver session keeps the Cache API of one
    // origin only (storing the 31 MB snapshot on a second origin empties the first's).
    for &engine in &engines {
        for isolated in [true, false] {
            for scenario in SCENARIOS {
                let suite = Arc::clone(&suite);
                let tallies = Arc::clone(&tallies);
                let name = format!(
                    "{engine}::{}::{}",
                    scenario.name,
                    if isolated { "isolated" } else { "not_isolated" }
                );
                trials.push(Trial::test(name.clone(), move || {
                    let started = Instant::now();
                    let outcome = match unsupported(scenario.name, engine, isolated) {
                        Some(reason) => {
                            println!("skipped {name}: {reason}");
                            Ok(Err(reason))
                        }
                        None => run_scenario(&suite, engine, scenario, isolated).map(Ok),
                    };
                    let mut tallies = tallies.lock().unwrap_or_else(PoisonError::into_inner);
                    let tally = tallies.entry(engine).or_default();
                    tally.took += started.elapsed();
                    tally.times.push((name.clone(), started.elapsed()));
                    match &outcome {
                        Ok(Ok(starts)) => {
                            tally.passed += 1;
                            tally.starts.full += starts.full;
                            tally.starts.warm += starts.warm;
                        }
                        Ok(Err(reason)) => tally.skipped.push(format!("{name}: {reason}")),
                        Err(e) => tally.failed.push(format!("{name}: {}", root_cause(e))),
                    }
                    outcome
                        .map(|_| ())
                        .map_err(|e| Failed::from(python_runner_tests::report(&e)))
                }));
            }
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Quit the browsers and stop the servers before exiting (exit() skips destructors).
    drop(suite);
    print_summary(&tallies.lock().unwrap_or_else(PoisonError::into_inner));
    conclusion.exit();
}

/// One line per engine (passed, failed, skipped, time), then the skipped scenarios with their reason and the failed
/// ones with their root cause.
fn print_summary(tallies: &BTreeMap<Engine, Tally>) {
    println!("\nend-to-end scenarios per engine:");
    for (engine, tally) in tallies {
        println!(
            "  {:<9} {:>3} passed  {:>3} failed  {:>3} skipped  {:>6.1} s",
            engine.name(),
            tally.passed,
            tally.failed.len(),
            tally.skipped.len(),
            tally.took.as_secs_f64()
        );
        let mut times = tally.times.clone();
        times.sort_by_key(|(_, took)| std::cmp::Reverse(*took));
        let slowest: Vec<String> = times
            .iter()
            .take(5)
            .map(|(name, took)| {
                format!(
                    "{} {:.1} s",
                    name.trim_start_matches(&format!("{engine}::")),
                    took.as_secs_f64()
                )
            })
            .collect();
        println!("            slowest: {}", slowest.join(", "));
        println!(
            "            Python starts on the scenarios' last pages: {} in full, {} from the snapshot",
            tally.starts.full, tally.starts.warm
        );
        if tally.passed + tally.failed.len() > 0 && engine.console() == ConsoleSource::Unavailable {
            println!("            console not checked: {engine} offers no way to read it (see ConsoleSource)");
        }
    }
    for tally in tallies.values() {
        for skipped in &tally.skipped {
            println!("  skipped {skipped}");
        }
        for failed in &tally.failed {
            println!("  FAILED {failed}");
        }
    }
}

/// The innermost cause of a failure, on one line and at most 200 characters, for the summary.
fn root_cause(error: &anyhow::Error) -> String {
    let line = error
        .root_cause()
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    match line.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None => line,
    }
}

/// Leaves the Python snapshot for `/pyodide/` on `server`'s origin in `b`, as a reader's earlier visit would, so
/// the scenarios there start warm, as a returning reader's page does (and WebKit's, which starts Pyodide in full
/// about five times slower, in a fraction of the time). Full starts stay covered: by `warm`, which deletes the
/// snapshot first, and by each page with another Pyodide URL. Opens a page with one element, waits until it is
/// done and, where it started in full, until the page stored the snapshot it made.
fn leave_snapshot(b: &Browser, server: &Server) -> Result<()> {
    b.goto(&server.url("/fixtures/warm/page.html?url=/pyodide/&visit=first"))?;
    element::wait_done(b, "w")?;
    if b.eval("return window.__warm[0]")? != json!(true) {
        warm::wait_stored(b, "/pyodide/")?;
    }
    Ok(())
}

fn ensure_bundle() -> Result<()> {
    let bundle = workspace_root().join("target/dist/python-runner.js");
    ensure!(
        bundle.is_file(),
        "{} is missing: run `cargo bundle dist` first",
        bundle.display()
    );
    Ok(())
}

fn run_scenario(
    suite: &Suite,
    engine: Engine,
    scenario: &Scenario,
    isolated: bool,
) -> Result<Starts> {
    ensure_bundle()?;
    let server = suite.server(isolated)?;
    suite.with_engine(engine, |b| {
        if suite.first_use(engine, isolated) {
            leave_snapshot(b, server).context("leaving a Python snapshot on the origin")?;
            b.reset()?;
        }
        server.clear_requests();
        let url = server.url(&format!(
            "/fixtures/{}/page.html{}",
            scenario.name, scenario.query
        ));
        b.goto(&url)?;
        let coi = b.eval("return self.crossOriginIsolated")?;
        ensure!(
            coi == json!(isolated),
            "crossOriginIsolated is {coi} on {url}"
        );
        (scenario.check)(b, server).with_context(|| {
            format!(
                "scenario {} failed on {url}\n{}",
                scenario.name,
                b.context_report()
            )
        })?;
        std::thread::sleep(CONSOLE_SETTLE);
        let unexpected: Vec<String> = b
            .console_errors()?
            .into_iter()
            .filter(|e| {
                !scenario
                    .allowed_console_errors
                    .iter()
                    .any(|a| e.contains(a))
            })
            .collect();
        ensure!(
            unexpected.is_empty(),
            "scenario {} on {url}: unexpected console errors:\n  {}",
            scenario.name,
            unexpected.join("\n  ")
        );
        let failed: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|r| {
                r.status >= 400 && !scenario.allowed_failed_requests.contains(&r.url.as_str())
            })
            .map(|r| format!("{} {} -> {}", r.method, r.url, r.status))
            .collect();
        ensure!(
            failed.is_empty(),
            "scenario {} on {url}: unexpected failed requests:\n  {}",
            scenario.name,
            failed.join("\n  ")
        );
        let warm = b.eval(
            "return (window.__events ?? []).filter((e) => e.type === 'ready').map((e) => e.warm === true)",
        )?;
        let warm: Vec<bool> = serde_json::from_value(warm).context("reading the ready events")?;
        let from_snapshot = warm.iter().filter(|w| **w).count();
        if from_snapshot < warm.len() {
            print!(
                "({} of {} Python starts in full, not from the snapshot) ",
                warm.len() - from_snapshot,
                warm.len()
            );
        }
        Ok(Starts {
            full: warm.len() - from_snapshot,
            warm: from_snapshot,
        })
    })
}
