//! End-to-end scenarios of the real bundle (`target/dist/python-runner.js`) in headless Chromium: each fixture page
//! `tests/fixtures/<scenario>/page.html` is loaded from a cross-origin isolated server and from a non-isolated one,
//! and the element's shadow DOM output, state, events and the console are checked against exact expectations.
//!
//! Element contract under test: host attribute/property `state` (`loading`, `running`, `done`, `error`); open
//! shadow root with `pre.source`, `button.run` (accessible name "Run"), `div.output[role=log]` holding `div.dropped`
//! ("N earlier lines not shown", hidden while none are) and blocks of lines (`div.block`), each holding one `span`
//! per output chunk with class `stdout`/`stderr`/`traceback`/`syntax_error`, and `div.error` for element errors;
//! events `ready`, `done`, `error` (`detail.message`) on the host. Pages record events and state changes in
//! `window.__events` / `window.__stateOld` with an inline script.
//!
//! The `library_*` scenarios test the module build (`target/dist/python-runner.mjs`) instead: the upstream browser
//! tests of comsync and pyodide-worker-runner, run by the page with a module worker and a module service worker,
//! each case's outcome recorded in `window.__results` and checked here.

use anyhow::{bail, ensure, Context, Result};
use libtest_mimic::{Arguments, Failed, Trial};
use python_runner_tests::{workspace_root, Browser, Server, Suite};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

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
        name: "two_elements",
        query: "",
        check: two_elements,
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
        name: "parsing_upgrade",
        query: "?pause_ms=700",
        check: parsing_upgrade,
        allowed_console_errors: &[],
        allowed_failed_requests: &[],
    },
];

fn main() {
    let args = Arguments::from_args();
    let suite = Arc::new(Suite::new());
    let mut trials = Vec::new();
    for scenario in SCENARIOS {
        for isolated in [true, false] {
            let suite = Arc::clone(&suite);
            let name = format!(
                "{}::{}",
                scenario.name,
                if isolated { "isolated" } else { "not_isolated" }
            );
            trials.push(Trial::test(name, move || {
                run_scenario(&suite, scenario, isolated)
                    .map_err(|e| Failed::from(python_runner_tests::report(&e)))
            }));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Quit the browser and stop the servers before exiting (exit() skips destructors).
    drop(suite);
    conclusion.exit();
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

fn run_scenario(suite: &Suite, scenario: &Scenario, isolated: bool) -> Result<()> {
    ensure_bundle()?;
    let server = suite.server(isolated)?;
    suite.with_browser(|b| {
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
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the element.

/// A JS expression for the element with this id.
fn el(id: &str) -> String {
    format!("document.getElementById({})", json!(id))
}

/// Waits until the element's `state` attribute is `done` or `error` and returns it.
fn wait_settled(b: &Browser, id: &str) -> Result<String> {
    let value = b.wait_for(
        &format!(
            "(s => (s === 'done' || s === 'error') && s)({}.getAttribute('state'))",
            el(id)
        ),
        BOOT_TIMEOUT,
    )?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

/// Waits for `state` `done`; on `error` fails with the element's error text.
fn wait_done(b: &Browser, id: &str) -> Result<()> {
    let state = wait_settled(b, id)?;
    if state != "done" {
        bail!(
            "#{id} ended in state {state:?}; its div.error says {:?}",
            error_text(b, id)?
        );
    }
    let property = b.eval(&format!("return {}.state", el(id)))?;
    ensure!(
        property == json!("done"),
        "#{id}: attribute state is done but property state is {property}"
    );
    Ok(())
}

/// The output chunks of the element as (class, text), consecutive chunks of the same class merged, so the
/// assertions do not depend on how output was split into chunks. Skips the input field; fails on any other
/// child that is not a `span`.
fn outputs(b: &Browser, id: &str) -> Result<Vec<(String, String)>> {
    let raw = b.eval_with_args(
        "const host = document.getElementById(arguments[0]);
         const root = host && host.shadowRoot;
         if (!root) return 'no open shadow root on #' + arguments[0];
         const out = root.querySelector('div.output');
         if (!out) return 'no div.output in the shadow root of #' + arguments[0];
         if (out.getAttribute('role') !== 'log') return 'div.output has role ' + out.getAttribute('role');
         const children = [];
         for (const c of out.children) {
           if (c.localName === 'div' && c.className === 'block') children.push(...c.children);
           else if (!c.hidden) children.push(c);
         }
         return children.map((c) => [c.localName, c.className, c.textContent]);",
        vec![json!(id)],
    )?;
    let Value::Array(children) = raw else {
        bail!("{}", raw.as_str().unwrap_or("unexpected output structure"));
    };
    let mut merged: Vec<(String, String)> = Vec::new();
    for child in children {
        let (tag, class, text) = (
            child[0].as_str().unwrap_or_default(),
            child[1].as_str().unwrap_or_default(),
            child[2].as_str().unwrap_or_default(),
        );
        if tag == "input" && class == "stdin" {
            continue; // the input field, while Python waits for a line
        }
        ensure!(
            tag == "span" || (tag == "div" && class == "dropped"),
            "#{id}: output child <{tag} class={class:?}> is not a span"
        );
        match merged.last_mut() {
            Some((last_class, last_text)) if last_class == class => last_text.push_str(text),
            _ => merged.push((class.to_owned(), text.to_owned())),
        }
    }
    Ok(merged)
}

fn expect_outputs(b: &Browser, id: &str, expected: &[(&str, &str)]) -> Result<()> {
    let got = outputs(b, id)?;
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(c, t)| ((*c).to_owned(), (*t).to_owned()))
        .collect();
    ensure!(
        got == want,
        "#{id}: output differs\n  expected: {want:?}\n  got:      {got:?}"
    );
    Ok(())
}

/// Text of `div.error` in the shadow root, if any.
fn error_text(b: &Browser, id: &str) -> Result<Option<String>> {
    let v = b.eval(&format!(
        "const e = {}.shadowRoot?.querySelector('div.error'); return e ? e.textContent : null;",
        el(id)
    ))?;
    Ok(v.as_str().map(str::to_owned))
}

/// The sequence of `state` values the element went through (from the page's MutationObserver record).
fn states(b: &Browser, id: &str) -> Result<Vec<String>> {
    let v = b.eval(&format!(
        "return [...(window.__stateOld[{0}] || []).slice(1), {1}.getAttribute('state')];",
        json!(id),
        el(id)
    ))?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or("(none)").to_owned())
                .collect()
        })
        .unwrap_or_default())
}

/// A successful run went through `running` and ended in `done`, never `error`.
fn expect_successful_states(b: &Browser, id: &str) -> Result<()> {
    let seq = states(b, id)?;
    let running = seq.iter().position(|s| s == "running");
    ensure!(
        running.is_some()
            && seq.last().map(String::as_str) == Some("done")
            && !seq.iter().any(|s| s == "error"),
        "#{id}: state went {seq:?}, expected … running … done"
    );
    Ok(())
}

/// Events recorded for the element: (type, detail.message).
fn events(b: &Browser, id: &str) -> Result<Vec<(String, Option<String>)>> {
    let v = b.eval_with_args(
        "return window.__events.filter((e) => e.id === arguments[0]).map((e) => [e.type, e.message]);",
        vec![json!(id)],
    )?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e[0].as_str().unwrap_or_default().to_owned(),
                        e[1].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

fn count_events(b: &Browser, id: &str, kind: &str) -> Result<usize> {
    Ok(events(b, id)?.iter().filter(|(t, _)| t == kind).count())
}

/// The element fired one `ready` and `runs` `done` events. `error` events are allowed only when the Python code
/// raised (`python_error`: text the message must contain), and then at most one per run: the contract does not
/// say whether a Python exception fires `error` (the element currently does, after `done`), only that a boot
/// failure must.
fn expect_events(b: &Browser, id: &str, runs: usize, python_error: Option<&str>) -> Result<()> {
    let evs = events(b, id)?;
    let ready = evs.iter().filter(|(t, _)| t == "ready").count();
    let done = evs.iter().filter(|(t, _)| t == "done").count();
    let errors: Vec<&str> = evs
        .iter()
        .filter(|(t, _)| t == "error")
        .map(|(_, m)| m.as_deref().unwrap_or_default())
        .collect();
    let errors_ok = match python_error {
        None => errors.is_empty(),
        // A run that raises fires exactly one `error` event naming the exception.
        Some(text) => errors.len() == runs && errors.iter().all(|m| *m == text),
    };
    ensure!(
        ready == 1 && done == runs && errors_ok,
        "#{id}: events {evs:?}, expected one ready, {runs} done and {}",
        python_error.map_or("no error".to_owned(), |t| format!(
            "exactly {runs} error(s) with message {t:?}"
        ))
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Scenarios.

fn snippet(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "snippet")?;
    expect_outputs(
        b,
        "snippet",
        &[
            ("stdout", "hello 0\nhello 1\nhello 2\n"),
            (
                "traceback",
                "Traceback (most recent call last):\n  File \"/home/pyodide/main.py\", line 3, in <module>\n    1/0\n    ~^~\nZeroDivisionError: division by zero\n",
            ),
        ],
    )?;
    let source = b.eval(&format!(
        "return {}.shadowRoot.querySelector('pre.source')?.textContent ?? null",
        el("snippet")
    ))?;
    ensure!(
        source.as_str().map(str::trim_end)
            == Some("for i in range(3):\n    print(\"hello\", i)\n1/0"),
        "pre.source shows {source}"
    );
    let name = b.accessible_name_in_shadow("#snippet", "button.run")?;
    ensure!(name == "Run", "button.run has accessible name {name:?}");
    expect_successful_states(b, "snippet")?;
    expect_events(b, "snippet", 1, Some("ZeroDivisionError: division by zero"))
}

/// A print loop longer than the log keeps: the log shows the last lines under an exact count of
/// the earlier ones, and `output` events carry every part. A page whose main thread is busy makes
/// Python wait (backpressure) instead of the worker queueing everything.
fn output_flood(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "flood")?;
    let shown: String = (12_346..14_345).map(|i| format!("{i}\n")).collect();
    expect_outputs(
        b,
        "flood",
        &[
            ("dropped", "12,346 earlier lines not shown"),
            ("stdout", &(shown + "last\n")),
        ],
    )?;
    expect_event_text(
        b,
        "flood",
        "Array.from({length: 14345}, (_, i) => i + '\\n').join('') + 'last\\n'",
    )?;
    expect_events(b, "flood", 1, None)?;
    wait_done(b, "behind")?;
    let outputs = outputs(b, "behind")?;
    let tail: Vec<(&str, &str)> = outputs
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(|(class, text)| (class.as_str(), text.as_str()))
        .collect();
    ensure!(
        tail == [
            (
                "elided",
                " … 55535 more characters on this line (not shown)"
            ),
            ("stdout", "\nPython waited for the page: True\n"),
        ],
        "#behind ends with {tail:?}"
    );
    expect_event_text(
        b,
        "behind",
        "('x'.repeat(65535) + '\\n').repeat(200) + 'Python waited for the page: True\\n'",
    )?;
    expect_events(b, "behind", 1, None)
}

/// The text the `output` events of `#id` carried (recorded by the page in `window.__outputText`) equals
/// `expected`, a JavaScript expression (compared in the page, so megabytes of text stay there).
fn expect_event_text(b: &Browser, id: &str, expected: &str) -> Result<()> {
    let complete = b.eval(&format!(
        "return window.__outputText[{}] === {expected}",
        json!(id)
    ))?;
    ensure!(
        complete == json!(true),
        "the output events of #{id} do not carry every line"
    );
    Ok(())
}

fn html_literal(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "literal")?;
    expect_outputs(b, "literal", &[("stdout", "<b>x</b>\nTrue\n")])?;
    let bold = b.eval(&format!(
        "return {}.shadowRoot.querySelectorAll('b').length",
        el("literal")
    ))?;
    ensure!(bold == json!(0), "{bold} <b> element(s) in the shadow root");
    expect_successful_states(b, "literal")
}

fn syntax_error(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "syntax")?;
    // CPython 3.14's message; the caret sits under the unclosed parenthesis.
    expect_outputs(
        b,
        "syntax",
        &[(
            "syntax_error",
            "  File \"/home/pyodide/main.py\", line 1\n    print(\"a\"\n         ^\nSyntaxError: '(' was never closed\n",
        )],
    )?;
    expect_events(b, "syntax", 1, Some("SyntaxError: '(' was never closed"))
}

fn bad_pyodide_url(b: &Browser, server: &Server) -> Result<()> {
    let state = wait_settled(b, "bad")?;
    ensure!(
        state == "error",
        "#bad ended in state {state:?}, expected error"
    );
    let property = b.eval(&format!("return {}.state", el("bad")))?;
    ensure!(
        property == json!("error"),
        "#bad: property state is {property}"
    );
    let base = &server.base_url;
    let expected_bad = format!(
        "Could not load Pyodide from {base}/nope/: TypeError: Failed to fetch dynamically imported module: {base}/nope/pyodide.mjs"
    );
    // A relative URL without a trailing slash is resolved against the page and given one.
    let not_pyodide = format!("{base}/fixtures/bad_pyodide_url/not-pyodide/");
    let expected_notpy = format!(
        "Could not load Pyodide from {not_pyodide}: {not_pyodide}pyodide.mjs has no loadPyodide export (is this a Pyodide distribution?)"
    );
    ensure!(
        wait_settled(b, "notpy")? == "error",
        "#notpy did not end in state error"
    );
    for (id, expected) in [("bad", &expected_bad), ("notpy", &expected_notpy)] {
        let text = error_text(b, id)?.with_context(|| format!("#{id} has no div.error"))?;
        ensure!(
            text == *expected,
            "#{id}: div.error is {text:?}, expected {expected:?}"
        );
        let evs = events(b, id)?;
        let messages: Vec<&str> = evs
            .iter()
            .filter(|(t, _)| t == "error")
            .filter_map(|(_, m)| m.as_deref())
            .collect();
        ensure!(
            messages == [expected.as_str()],
            "#{id}: expected one error event with the same message, got {evs:?}"
        );
    }
    // The other element on the page is not affected.
    wait_done(b, "good")?;
    expect_outputs(b, "good", &[("stdout", "ok\n")])?;
    expect_events(b, "good", 1, None)?;
    Ok(())
}

fn two_elements(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "one")?;
    wait_done(b, "two")?;
    expect_outputs(b, "one", &[("stdout", "one\n")])?;
    expect_outputs(b, "two", &[("stdout", "two\n")])?;
    expect_events(b, "one", 1, None)?;
    expect_events(b, "two", 1, None)?;
    // #two has hide-code: its pre.source is absent or hidden; #one shows its code.
    let shown = |id: &str| -> Result<Value> {
        b.eval(&format!(
            "const pre = {}.shadowRoot.querySelector('pre.source');
             return pre && !pre.hidden && getComputedStyle(pre).display !== 'none' ? pre.textContent : null;",
            el(id)
        ))
    };
    let one = shown("one")?;
    ensure!(
        one.as_str().map(str::trim) == Some("print(\"one\")"),
        "#one shows source {one}"
    );
    let two = shown("two")?;
    ensure!(two.is_null(), "#two has hide-code but shows source {two}");
    Ok(())
}

fn manual(b: &Browser, _server: &Server) -> Result<()> {
    let id = "manual";
    // Give it time to (not) start, then wait out the boot, if it boots before the first click.
    std::thread::sleep(Duration::from_secs(1));
    b.wait_for(
        &format!("{}.getAttribute('state') !== 'loading'", el(id)),
        BOOT_TIMEOUT,
    )?;
    std::thread::sleep(Duration::from_millis(500));
    let state = b.eval(&format!("return {}.getAttribute('state')", el(id)))?;
    ensure!(
        state != json!("running") && state != json!("done"),
        "#manual ran without a click: state {state}"
    );
    let before = outputs(b, id)?;
    ensure!(
        before.is_empty(),
        "#manual has output before the click: {before:?}"
    );
    ensure!(
        count_events(b, id, "done")? == 0,
        "#manual fired done before the click"
    );

    b.click_in_shadow("#manual", "button.run")?;
    b.wait_for(
        &format!("window.__events.filter((e) => e.id === 'manual' && e.type === 'done').length >= 1 && {}.getAttribute('state') === 'done'", el(id)),
        BOOT_TIMEOUT,
    )?;
    expect_outputs(b, id, &[("stdout", "hi\n")])?;

    // Run again: output is replaced, not appended.
    b.click_in_shadow("#manual", "button.run")?;
    b.wait_for(
        &format!("window.__events.filter((e) => e.id === 'manual' && e.type === 'done').length >= 2 && {}.getAttribute('state') === 'done'", el(id)),
        BOOT_TIMEOUT,
    )?;
    expect_outputs(b, id, &[("stdout", "hi\n")])?;
    let done = count_events(b, id, "done")?;
    ensure!(done == 2, "#manual fired {done} done events for two clicks");
    Ok(())
}

fn code_property(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "made")?;
    expect_outputs(b, "made", &[("stdout", "42\n")])?;
    let code = b.eval(&format!("return {}.code", el("made")))?;
    ensure!(code == json!("print(6*7)"), "#made.code is {code}");
    expect_events(b, "made", 1, None)?;
    // Properties set before the class existed reach the accessors (and their attributes).
    let defined_before = b.eval("return window.__definedBeforeEarly")?;
    ensure!(
        defined_before == json!(false),
        "the fixture must set #early's properties before the element is defined"
    );
    wait_done(b, "early")?;
    expect_outputs(b, "early", &[("stdout", "early 2\n")])?;
    let reflected = b.eval(&format!(
        "const e = {}; return [e.getAttribute('pyodide-url'), e.hasAttribute('hide-code'), e.code, \
         e.shadowRoot.querySelector('pre.source').hidden]",
        el("early")
    ))?;
    ensure!(
        reflected == json!(["/pyodide/", true, "print('early', 1 + 1)", true]),
        "#early: attributes/properties after upgrade are {reflected}"
    );
    expect_events(b, "early", 1, None)
}

fn removed_while_running(b: &Browser, _server: &Server) -> Result<()> {
    // The code loops forever, posting a heartbeat; removing the element must terminate its worker.
    b.wait_for("window.__beats >= 5", BOOT_TIMEOUT)?;
    let state = b.eval(&format!("return {}.state", el("busy")))?;
    ensure!(
        state == json!("running"),
        "#busy.state is {state} while running"
    );
    b.eval(&format!(
        "window.__busy = {}; window.__busy.remove(); window.__removedAt = performance.now(); return null",
        el("busy")
    ))?;
    // Chromium lets a worker that is busy in a script run for up to 2 s after `terminate()`
    // (its forcible-termination delay), so look after 3 s.
    std::thread::sleep(Duration::from_secs(3));
    let report = b.eval(
        "return { sinceLastBeat: performance.now() - window.__lastBeat, \
                  beatAfterRemoval: window.__lastBeat - window.__removedAt, \
                  state: window.__busy.state, workers: window.__workers.map((w) => w.__terminated) }",
    )?;
    let since_last = report["sinceLastBeat"].as_f64().context("sinceLastBeat")?;
    ensure!(
        since_last >= 800.0,
        "a heartbeat arrived {since_last:.0} ms ago, 3 s after the element was removed: the worker still runs ({report})"
    );
    ensure!(
        report["state"] == json!("idle") && report["workers"] == json!([true]),
        "expected state idle and exactly one worker, terminated: {report}"
    );
    Ok(())
}

fn python_crash(b: &Browser, _server: &Server) -> Result<()> {
    let state = wait_settled(b, "crash")?;
    ensure!(
        state == "error",
        "#crash ended in state {state:?}, expected error"
    );
    let expected =
        "Python stopped working (RangeError: Maximum call stack size exceeded). Run starts a fresh Python.";
    let text = error_text(b, "crash")?.context("#crash has no div.error")?;
    ensure!(text == expected, "#crash: div.error is {text:?}");
    let evs = events(b, "crash")?;
    ensure!(
        evs.iter()
            .any(|(t, m)| t == "error" && m.as_deref() == Some(expected)),
        "#crash: no error event with the crash message: {evs:?}"
    );
    // The other element has its own Python and is not affected.
    wait_done(b, "neighbour")?;
    expect_outputs(b, "neighbour", &[("stdout", "neighbour\n")])?;
    // Run starts a fresh Python, which runs the (new) code.
    b.eval(&format!(
        "{}.code = \"print('fresh')\"; return null",
        el("crash")
    ))?;
    b.click_in_shadow("#crash", "button.run")?;
    b.wait_for(&format!("{}.state === 'done'", el("crash")), BOOT_TIMEOUT)?;
    expect_outputs(b, "crash", &[("stdout", "fresh\n")])
}

fn cross_origin_script(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "cross")?;
    expect_outputs(b, "cross", &[("stdout", "from another origin\n")])?;
    expect_events(b, "cross", 1, None)
}

fn module_import(b: &Browser, server: &Server) -> Result<()> {
    if let Err(error) = wait_done(b, "imported") {
        // What the worker said, and what reached the server, help diagnose a stuck boot.
        let worker_log = b.eval("return window.__workerLog")?;
        let requests: Vec<String> = server
            .requests()
            .iter()
            .map(|r| format!("{} {}", r.url, r.status))
            .collect();
        return Err(error.context(format!(
            "worker messages: {worker_log}; requests: {requests:?}"
        )));
    }
    expect_outputs(b, "imported", &[("stdout", "imported\n")])?;
    ensure!(
        b.eval("return window.__imported === true")? == json!(true),
        "import() did not resolve"
    );
    expect_events(b, "imported", 1, None)
}

fn parsing_upgrade(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "parsing")?;
    expect_outputs(b, "parsing", &[("stdout", "total 45\nparsed completely\n")])?;
    expect_events(b, "parsing", 1, None)
}

// ---------------------------------------------------------------------------------------------------------------
// input(), sleep and Stop.

/// The transport an element must report on this page: shared memory when cross-origin isolated, else JSPI
/// (on by default in the Chromium under test).
fn expected_transport(b: &Browser) -> Result<&'static str> {
    Ok(
        if b.eval("return self.crossOriginIsolated")? == json!(true) {
            "atomics"
        } else {
            "jspi"
        },
    )
}

/// Waits until `#id` shows its input field, and returns whether it has the focus.
fn wait_input_field(b: &Browser, id: &str) -> Result<bool> {
    let focused = b.wait_for(
        &format!(
            "(r => {{ const i = r && r.querySelector('input.stdin'); return i ? {{focused: r.activeElement === i}} : null; }})({}.shadowRoot)",
            el(id)
        ),
        BOOT_TIMEOUT,
    )?;
    Ok(focused["focused"] == json!(true))
}

/// Types `text` and Enter into the input field through WebDriver (real key events).
fn type_line(b: &Browser, id: &str, text: &str) -> Result<()> {
    wait_input_field(b, id)?;
    b.type_in_shadow(&format!("#{id}"), "input.stdin", &format!("{text}\u{E007}"))
}

/// Puts `text` into the input field and presses Enter with a synthetic event (for lines too long to type).
fn enter_line(b: &Browser, id: &str, text_js: &str) -> Result<()> {
    wait_input_field(b, id)?;
    b.eval(&format!(
        "const i = {}.shadowRoot.querySelector('input.stdin'); i.value = {text_js};
         i.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}}));",
        el(id)
    ))?;
    Ok(())
}

fn input(b: &Browser, _server: &Server) -> Result<()> {
    let id = "ask";
    let focused = wait_input_field(b, id)?;
    ensure!(focused, "#ask: the input field does not have the focus");
    expect_outputs(b, id, &[("input_prompt", "Name? ")])?;
    let label = b.accessible_name_in_shadow("#ask", "input.stdin")?;
    ensure!(
        label == "Input for the program",
        "input field label is {label:?}"
    );
    let transport = b.eval(&format!("return {}.activeTransport", el(id)))?;
    ensure!(
        transport == json!(expected_transport(b)?),
        "activeTransport is {transport}"
    );
    type_line(b, id, "Zoë ✓ 日本")?;
    // An empty line, then one for the loop over sys.stdin.
    b.wait_for(
        &format!("{}.shadowRoot.textContent.includes('Hello')", el(id)),
        BOOT_TIMEOUT,
    )?;
    // The next field takes the focus from the one just answered.
    ensure!(
        wait_input_field(b, id)?,
        "#ask: the second input field does not have the focus"
    );
    type_line(b, id, "")?;
    b.wait_for(
        &format!("{}.shadowRoot.textContent.includes(\"'\\\\n'\")", el(id)),
        BOOT_TIMEOUT,
    )?;
    type_line(b, id, "last")?;
    wait_done(b, id)?;
    expect_outputs(
        b,
        id,
        &[
            ("input_prompt", "Name? "),
            ("input", "Zoë ✓ 日本\n"),
            ("stdout", "Hello, Zoë ✓ 日本!\n"),
            ("input", "\n"),
            ("stdout", "'\\n'\n"),
            ("input", "last\n"),
            ("stdout", "got 'last\\n'\n"),
        ],
    )?;
    // The program ended while the focus was in the element: it lands on Run.
    let focused = b.eval(&format!(
        "return {}.shadowRoot.activeElement?.className ?? null",
        el(id)
    ))?;
    ensure!(
        focused == json!("run"),
        "#ask: focus is on {focused} after the run"
    );
    expect_events(b, id, 1, None)
}

/// Sets the code of `#id` and runs it: new code runs by itself, except on a `manual` element, which needs
/// `run()` (`run()` on a running element would stop it and run again).
fn start(b: &Browser, id: &str, code: &str) -> Result<()> {
    b.eval_with_args(
        "const e = document.getElementById(arguments[0]); e.code = arguments[1]; if (e.manual) e.run();",
        vec![json!(id), json!(code)],
    )?;
    Ok(())
}

/// Waits until the output of `#id` contains `text` while it runs.
fn wait_output(b: &Browser, id: &str, text: &str) -> Result<()> {
    b.wait_for(
        &format!(
            "{}.shadowRoot.querySelector('div.output').textContent.includes({})",
            el(id),
            json!(text)
        ),
        BOOT_TIMEOUT,
    )?;
    Ok(())
}

/// Runs `code` to the end and checks its whole output.
fn run_expect(b: &Browser, id: &str, code: &str, expected: &[(&str, &str)]) -> Result<()> {
    let done_before = count_events(b, id, "done")?;
    start(b, id, code)?;
    b.wait_for(
        &format!(
            "window.__events.filter((e) => e.id === {} && e.type === 'done').length > {done_before} && {}.state === 'done'",
            json!(id),
            el(id)
        ),
        BOOT_TIMEOUT,
    )?;
    expect_outputs(b, id, expected)
}

/// Clicks Stop and waits for the run to end.
fn click_stop_and_wait(b: &Browser, id: &str) -> Result<()> {
    let done_before = count_events(b, id, "done")?;
    b.click_in_shadow(&format!("#{id}"), "button.stop")?;
    b.wait_for(
        &format!(
            "window.__events.filter((e) => e.id === {} && e.type === 'done').length > {done_before}",
            json!(id)
        ),
        BOOT_TIMEOUT,
    )?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    Ok(())
}

fn keyboard_interrupt(line: u32, source: &str) -> String {
    format!(
        "Traceback (most recent call last):\n  File \"/home/pyodide/main.py\", line {line}, in <module>\n    {source}\nKeyboardInterrupt\n"
    )
}

const RESTARTED: &str = "Python was restarted to stop the program (this page cannot interrupt running code). Variables and imports from earlier runs are gone.";

fn stop(b: &Browser, _server: &Server) -> Result<()> {
    let id = "stopper";
    let atomics = expected_transport(b)? == "atomics";
    b.wait_for(&format!("{}.state === 'ready'", el(id)), BOOT_TIMEOUT)?;
    let stop_name = b.accessible_name_in_shadow("#stopper", "button.stop")?;
    ensure!(stop_name == "Stop", "Stop button is named {stop_name:?}");
    let disabled = b.eval(&format!(
        "return {}.shadowRoot.querySelector('button.stop').disabled",
        el(id)
    ))?;
    ensure!(
        disabled == json!(true),
        "Stop is enabled while nothing runs"
    );

    // A busy loop: KeyboardInterrupt where shared memory allows it, else a restart.
    start(
        b,
        id,
        "x = 42\nprint('looping', flush=True)\nwhile True:\n    pass\n",
    )?;
    wait_output(b, id, "looping")?;
    click_stop_and_wait(b, id)?;
    if atomics {
        let tb = keyboard_interrupt(4, "pass");
        expect_outputs(b, id, &[("stdout", "looping\n"), ("traceback", &tb)])?;
        run_expect(b, id, "print(x)", &[("stdout", "42\n")])?;
    } else {
        expect_outputs(b, id, &[("stdout", "looping\n"), ("notice", RESTARTED)])?;
        run_expect(b, id, "print('x' in globals())", &[("stdout", "False\n")])?;
    }

    // Sleep: interrupted on both transports; clicks elsewhere on the page work meanwhile.
    start(
        b,
        id,
        "y = 7\nimport time\nprint('zzz', flush=True)\ntime.sleep(30)\n",
    )?;
    wait_output(b, id, "zzz")?;
    b.eval("document.getElementById('elsewhere').click()")?;
    b.click_in_shadow("#stopper", "button.stop").ok();
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    ensure!(
        b.eval("return window.__clicks")? == json!(1),
        "the page did not take a click during the sleep"
    );
    let tb = keyboard_interrupt(4, "time.sleep(30)\n    ~~~~~~~~~~^^^^");
    expect_outputs(b, id, &[("stdout", "zzz\n"), ("traceback", &tb)])?;
    run_expect(b, id, "print(y)", &[("stdout", "7\n")])?;

    // input(): Ctrl+C in the field stops; the state survives; the next input works.
    start(b, id, "z = 3\nanswer = input('? ')\n")?;
    wait_input_field(b, id)?;
    b.type_in_shadow("#stopper", "input.stdin", "\u{E009}c\u{E000}")?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    let tb = keyboard_interrupt(2, "answer = input('? ')");
    expect_outputs(b, id, &[("input_prompt", "? "), ("traceback", &tb)])?;
    start(b, id, "print(z, input('again? '))")?;
    type_line(b, id, "yes")?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    expect_outputs(
        b,
        id,
        &[
            ("input_prompt", "again? "),
            ("input", "yes\n"),
            ("stdout", "3 yes\n"),
        ],
    )?;

    // Stop twice quickly: one stop, the same outcome as a single Stop.
    start(b, id, "print('again', flush=True)\nwhile True:\n    pass\n")?;
    wait_output(b, id, "again")?;
    b.eval(&format!("{0}.stop(); {0}.stop();", el(id)))?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    if atomics {
        let tb = keyboard_interrupt(3, "pass");
        expect_outputs(b, id, &[("stdout", "again\n"), ("traceback", &tb)])?;
    } else {
        expect_outputs(b, id, &[("stdout", "again\n"), ("notice", RESTARTED)])?;
    }

    // Run right after Stop: the new run starts on its own, with fresh output.
    start(b, id, "print('round', flush=True)\nwhile True:\n    pass\n")?;
    wait_output(b, id, "round")?;
    b.click_in_shadow("#stopper", "button.stop")?;
    b.click_in_shadow("#stopper", "button.run")?;
    b.wait_for(
        &format!(
            "{}.state === 'running' && {0}.shadowRoot.querySelector('div.output').textContent === 'round\\n'",
            el(id)
        ),
        BOOT_TIMEOUT,
    )?;
    click_stop_and_wait(b, id)?;

    // Pasting several lines answers several input() calls at once.
    start(b, id, "a = input('a? ')\nb = input('b? ')\nprint(a + b)\n")?;
    wait_input_field(b, id)?;
    b.eval(&format!(
        "const data = new DataTransfer(); data.setData('text/plain', 'x\\r\\ny');
         {}.shadowRoot.querySelector('input.stdin').dispatchEvent(
           new ClipboardEvent('paste', {{clipboardData: data, bubbles: true, cancelable: true}}));",
        el(id)
    ))?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    expect_outputs(
        b,
        id,
        &[
            ("input_prompt", "a? "),
            ("input", "x\n"),
            ("input_prompt", "b? "),
            ("input", "y\n"),
            ("stdout", "xy\n"),
        ],
    )?;

    // Stuck in C (no KeyboardInterrupt possible): after the grace period Python is replaced.
    start(b, id, "print('summing', flush=True)\nsum(range(10**15))\n")?;
    wait_output(b, id, "summing")?;
    click_stop_and_wait(b, id)?;
    let notice = if atomics { STUCK } else { RESTARTED };
    expect_outputs(b, id, &[("stdout", "summing\n"), ("notice", notice)])?;
    run_expect(b, id, "print('z' in globals())", &[("stdout", "False\n")])?;

    let errors: Vec<_> = events(b, id)?
        .into_iter()
        .filter(|(kind, _)| kind == "error")
        .collect();
    ensure!(errors.is_empty(), "Stop caused error events: {errors:?}");
    Ok(())
}

const STUCK: &str = "Python did not stop within 1 second, so it was restarted. Variables and imports from earlier runs are gone.";

fn input_volume(b: &Browser, _server: &Server) -> Result<()> {
    let id = "big";
    // 1,050,000 characters, 2,800,000 bytes of UTF-8.
    enter_line(b, id, "'é✓日'.repeat(350000)")?;
    wait_output(b, id, "1050000 True")?;
    // The 100 answers are typed by a script in the page, as fast as the fields appear.
    let answered = b.eval_async(&format!(
        "const done = arguments[arguments.length - 1];
         const root = {}.shadowRoot;
         let next = 0;
         const answer = () => {{
           const field = root.querySelector('input.stdin');
           if (field && !field.dataset.answered) {{
             field.dataset.answered = '1';
             field.value = String(next++);
             field.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}}));
           }}
           if (next < 100) setTimeout(answer, 0); else done(next);
         }};
         answer();",
        el(id)
    ))?;
    ensure!(answered == json!(100), "answered {answered} inputs");
    wait_done(b, id)?;
    let got = outputs(b, id)?;
    let numbers: String = (0..100).map(|i| format!("{i}\n")).collect();
    // The echo shows the first 10,000 characters of the line (laying out a million takes Chromium
    // 20–40 s) and counts the rest.
    ensure!(got.len() == 6, "#big: {} output chunks", got.len());
    ensure!(
        got[0].0 == "input"
            && got[0].1
                == "é✓日".repeat(3334)[..]
                    .chars()
                    .take(10_000)
                    .collect::<String>(),
        "#big: the long line's echo does not start with its first 10,000 characters"
    );
    ensure!(
        got[1..]
            == [
                (
                    "elided".to_owned(),
                    " … 1040000 more characters on this line (not shown)".to_owned()
                ),
                ("input".to_owned(), "\n".to_owned()),
                ("stdout".to_owned(), "1050000 True\n".to_owned()),
                ("input".to_owned(), numbers),
                ("stdout".to_owned(), "4950\n".to_owned()),
            ],
        "#big: output differs: {:?}",
        &got[1..]
    );
    expect_events(b, id, 1, None)
}

fn sleep(b: &Browser, _server: &Server) -> Result<()> {
    let id = "sleeper";
    wait_output(b, id, "before")?;
    ensure!(
        b.eval(&format!("return {}.state", el(id)))? == json!("running"),
        "#sleeper is not running while it sleeps"
    );
    b.eval("document.getElementById('elsewhere').click()")?;
    ensure!(
        b.eval("return window.__clicks")? == json!(1),
        "the page did not take a click during the sleep"
    );
    expect_outputs(b, id, &[("stdout", "before\n")])?;
    wait_done(b, id)?;
    expect_outputs(b, id, &[("stdout", "before\nafter 1.5\n")])?;
    expect_events(b, id, 1, None)
}

fn service_worker(b: &Browser, _server: &Server) -> Result<()> {
    let id = "sw";
    b.wait_for("document.getElementById('sw')", BOOT_TIMEOUT)?;
    let result = (|| {
        type_line(b, id, "Zoë")?;
        wait_done(b, id)?;
        expect_outputs(
            b,
            id,
            &[
                ("input_prompt", "Name? "),
                ("input", "Zoë\n"),
                ("stdout", "Hi Zoë\nslept\n"),
            ],
        )?;
        let transport = b.eval(&format!("return {}.activeTransport", el(id)))?;
        ensure!(
            transport == json!("service-worker"),
            "activeTransport is {transport}"
        );
        // Stop while Python waits for input: KeyboardInterrupt, and the state survives.
        start(b, id, "w = 5\nanswer = input('? ')\n")?;
        wait_input_field(b, id)?;
        click_stop_and_wait(b, id)?;
        let tb = keyboard_interrupt(2, "answer = input('? ')");
        expect_outputs(b, id, &[("input_prompt", "? "), ("traceback", &tb)])?;
        run_expect(b, id, "print(w)", &[("stdout", "5\n")])
    })();
    unregister_service_workers(b)?;
    result
}

/// Leaves the origin without a service worker for the other scenarios.
fn unregister_service_workers(b: &Browser) -> Result<()> {
    b.eval_async(
        "const done = arguments[arguments.length - 1];
         navigator.serviceWorker.getRegistrations()
           .then((all) => Promise.all(all.map((r) => r.unregister()))).then(() => done(true), () => done(false));",
    )?;
    Ok(())
}

fn no_transport(b: &Browser, _server: &Server) -> Result<()> {
    let id = "plain";
    wait_done(b, id)?;
    expect_outputs(
        b,
        id,
        &[
            ("stdout", "slept\n"),
            ("input_prompt", "Name? "),
            ("stdout", "RuntimeError: input() is not available on this page: it needs cross-origin isolation (the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp) or a browser with JavaScript Promise Integration\n"),
        ],
    )?;
    let transport = b.eval(&format!("return {}.activeTransport", el(id)))?;
    ensure!(transport == json!("none"), "activeTransport is {transport}");
    // Stop still works, by restarting Python.
    start(
        b,
        id,
        "v = 1\nprint('spin', flush=True)\nwhile True:\n    pass\n",
    )?;
    wait_output(b, id, "spin")?;
    click_stop_and_wait(b, id)?;
    expect_outputs(b, id, &[("stdout", "spin\n"), ("notice", RESTARTED)])?;
    run_expect(b, id, "print('v' in globals())", &[("stdout", "False\n")])?;
    // Three runs; the restart brings a second `ready`; Stop is not an error.
    let evs = events(b, id)?;
    let count = |kind: &str| evs.iter().filter(|(t, _)| t == kind).count();
    ensure!(
        count("ready") == 2 && count("done") == 3 && count("error") == 0,
        "#plain: events {evs:?}"
    );
    Ok(())
}

fn archive(b: &Browser, server: &Server) -> Result<()> {
    wait_done(b, "zip")?;
    // While Python loads, the status shows how far the archive has come.
    let texts = b.eval("return window.__statusTexts")?;
    let size =
        std::fs::metadata(workspace_root().join("tests/fixtures/archive/project.zip"))?.len();
    let progress = format!(
        "Loading Python… (project.zip: {} kB of {} kB)",
        size.div_ceil(1000),
        size.div_ceil(1000)
    );
    ensure!(
        texts
            .as_array()
            .is_some_and(|texts| texts.contains(&json!(progress))),
        "#zip never showed {progress:?}; status texts: {texts}"
    );
    expect_outputs(
        b,
        "zip",
        &[("stdout", "hello from mypkg HELLO FROM MYPKG\ndata file ✓\n")],
    )?;
    wait_done(b, "targz")?;
    expect_outputs(
        b,
        "targz",
        &[("stdout", "/home/pyodide/proj/mypkg/util.py\nTrue\n")],
    )?;
    wait_done(b, "sri")?;
    expect_outputs(b, "sri", &[("stdout", "verified hello from mypkg\n")])?;
    // `entry` runs a module of the archive as __main__.
    wait_done(b, "entry")?;
    expect_outputs(
        b,
        "entry",
        &[("stdout", "entry __main__ HELLO FROM MYPKG\n")],
    )?;
    // Entries with `..` or an absolute path stay inside the folder: zip skips them...
    wait_done(b, "escape-zip")?;
    expect_outputs(
        b,
        "escape-zip",
        &[("stdout", "['inside.py'] False False\n")],
    )?;
    // ...and tar refuses the archive.
    ensure!(
        wait_settled(b, "escape-tar")? == "error",
        "#escape-tar did not fail"
    );
    let url = server.url("/fixtures/archive/escaping.tar.gz");
    let message = format!("Could not unpack the archive {url} as gztar: tarfile.OutsideDestinationError: '../escaped.py' would be extracted to '/tmp/escaped.py', which is outside the destination");
    ensure!(
        error_text(b, "escape-tar")?.as_deref() == Some(message.as_str()),
        "#escape-tar says {:?}",
        error_text(b, "escape-tar")?
    );
    // Three elements name project.zip: the page downloads it once.
    let fetched = server
        .requests()
        .into_iter()
        .filter(|r| r.url == "/fixtures/archive/project.zip")
        .count();
    ensure!(fetched == 1, "project.zip was requested {fetched} times");
    for id in ["zip", "targz", "sri", "entry", "escape-zip"] {
        expect_events(b, id, 1, None)?;
    }
    Ok(())
}

fn archive_errors(b: &Browser, server: &Server) -> Result<()> {
    let archive = |path: &str| server.url(&format!("/fixtures/archive/{path}"));
    let missing = server.url("/fixtures/archive_errors/missing.zip");
    let cases = [
        ("missing", format!("Could not download the archive {missing}: HTTP 404 Not Found")),
        (
            "corrupt",
            format!("Could not unpack the archive {} as zip: the downloaded file is not a zip file", archive("corrupt.zip")),
        ),
        (
            "wrong-format",
            format!("Could not unpack the archive {} as zip: the downloaded file is not a zip file", archive("project.tar.gz")),
        ),
        (
            "bad-sri",
            format!("The archive {} does not match its integrity attribute: expected sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, got sha256-UF/gmL5EdflGLgW7yyhJiDp5EdEM7NTlalSUohZslTM=", archive("project.zip")),
        ),
        (
            "no-format",
            format!(
                "Could not load the archive {0}: cannot tell the format of {0} from its name; set format to one of zip, tar, gztar, bztar, xztar, wheel",
                archive("download?id=3")
            ),
        ),
    ];
    let no_cors = server
        .url("/fixtures/archive/project.zip?no_cors=1")
        .replace("127.0.0.1", "localhost");
    let cases = [
        cases.as_slice(),
        &[(
            "no-cors",
            format!("Could not download the archive {no_cors}: TypeError: Failed to fetch (a network error, or the server does not allow this page to read it: CORS)"),
        )],
    ]
    .concat();
    for (id, message) in &cases {
        ensure!(wait_settled(b, id)? == "error", "#{id} did not fail");
        ensure!(
            error_text(b, id)?.as_deref() == Some(message.as_str()),
            "#{id} says {:?}, expected {message:?}",
            error_text(b, id)?
        );
        let errors: Vec<_> = events(b, id)?
            .into_iter()
            .filter(|(kind, _)| kind == "error")
            .map(|(_, text)| text)
            .collect();
        ensure!(
            errors == [Some(message.clone())],
            "#{id}: error events {errors:?}"
        );
        let spans = b.eval(&format!(
            "return {}.shadowRoot.querySelectorAll('div.output span').length",
            el(id)
        ))?;
        ensure!(
            spans == json!(0),
            "#{id} ran its code after the archive failed"
        );
    }
    // The element stays usable: Run runs the inline code, without the archive.
    for id in ["missing", "corrupt"] {
        b.click_in_shadow(&format!("#{id}"), "button.run")?;
        b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    }
    expect_outputs(b, "missing", &[("stdout", "inline works\n")])?;
    expect_outputs(b, "corrupt", &[("stdout", "never\n")])
}

fn install_imports(b: &Browser, _server: &Server) -> Result<()> {
    // tabulate is not in Pyodide: micropip (itself loaded first) installs it from the local index.
    wait_done(b, "table")?;
    expect_outputs(
        b,
        "table",
        &[
            (
                "install",
                "Loading micropip…\nInstalling tabulate…\nInstalled tabulate\n",
            ),
            ("stdout", "name      n\n------  ---\na         1\n"),
        ],
    )?;
    expect_events(b, "table", 1, None)?;
    // A package nobody has: its name and micropip's reason, then the run fails at the import.
    wait_done(b, "nope")?;
    expect_outputs(
        b,
        "nope",
        &[
            (
                "install",
                "Loading micropip…\nInstalling not_a_real_package_xyz…\nCould not install not_a_real_package_xyz: ValueError: Can't fetch metadata for 'not-a-real-package-xyz'. Please make sure you have entered a correct package name and correctly specified index_urls (if you changed them).\n",
            ),
            (
                "traceback",
                "Traceback (most recent call last):\n  File \"/home/pyodide/main.py\", line 2, in <module>\n    import not_a_real_package_xyz\nModuleNotFoundError: No module named 'not_a_real_package_xyz'\n",
            ),
        ],
    )?;
    expect_events(
        b,
        "nope",
        1,
        Some("ModuleNotFoundError: No module named 'not_a_real_package_xyz'"),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// The module build `python-runner.mjs` as a drop-in replacement for comsync, sync-message, comlink and
// pyodide-worker-runner: their upstream browser tests (upstream spec §6.2 and §6.3), run by the fixture pages,
// which record each case in `window.__results` as `{channel, test, actual, expected}` (`expected` is for a human
// reading the page; the expectations checked are the ones below).

/// Time for a library page to run all its cases: the runner page loads Pyodide after two failed attempts and
/// their back-off, installs a package, and sleeps and waits a second at a time, on each channel.
const LIBRARY_TIMEOUT: Duration = Duration::from_secs(300);

/// What a case must have given.
enum Expect {
    /// Exactly this `actual`.
    Exact(Value),
    /// comsync's testSleep(ms): `{ok: {ms, slept, state}}` with state `running` and ms < slept < 1.5 ms.
    Slept(f64),
    /// The call rejected with this error message, without output or prompt.
    Rejected(&'static str),
}

/// One case: the channel type it runs on (`None` outside the per-channel loop), its name and outcome.
struct Case {
    channel: Option<&'static str>,
    test: String,
    expect: Expect,
}

impl Case {
    fn new(channel: Option<&'static str>, test: &str, expect: Expect) -> Case {
        Case {
            channel,
            test: test.to_owned(),
            expect,
        }
    }
}

/// Waits until the page has run all its cases and returns them; fails with the page's own error, if any.
fn library_results(b: &Browser) -> Result<Vec<Value>> {
    let module = workspace_root().join("target/dist/python-runner.mjs");
    ensure!(
        module.is_file(),
        "{} is missing: run `cargo bundle dist` first",
        module.display()
    );
    let so_far = || {
        b.eval("return window.__results")
            .map_or_else(|e| format!("(unreadable: {e})"), |v| v.to_string())
    };
    b.wait_for("window.__finished === true", LIBRARY_TIMEOUT)
        .with_context(|| format!("results so far: {}", so_far()))?;
    let error = b.eval("return window.__error")?;
    ensure!(
        error.is_null(),
        "the page failed: {}\nresults so far: {}",
        error.as_str().unwrap_or_default(),
        so_far()
    );
    b.eval("return window.__results")?
        .as_array()
        .cloned()
        .context("window.__results is not an array")
}

/// Checks the page's results against `cases`, in order; reports every failing case at once.
fn check_cases(results: &[Value], cases: &[Case]) -> Result<()> {
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let label = match case.channel {
            Some(channel) => format!("{} [{channel}]", case.test),
            None => case.test.clone(),
        };
        let Some(result) = results.get(i) else {
            failures.push(format!("{label}: not run"));
            continue;
        };
        if result["test"] != json!(case.test) || result["channel"] != json!(case.channel) {
            failures.push(format!(
                "case {i} should be {label}, the page ran {} [{}]",
                result["test"], result["channel"]
            ));
            continue;
        }
        let actual = &result["actual"];
        let (passed, expected) = match &case.expect {
            Expect::Exact(value) => (actual == value, value.to_string()),
            Expect::Slept(ms) => {
                let slept = actual["ok"]["slept"].as_f64().unwrap_or(f64::NAN);
                (
                    actual["ok"]["state"] == json!("running") && *ms < slept && slept < 1.5 * ms,
                    format!("{{\"ok\":{{\"state\":\"running\",\"slept\": between {ms} and {}}}}}", 1.5 * ms),
                )
            }
            Expect::Rejected(message) => (
                actual["result"]["error"]["message"] == json!(message)
                    && actual["output"] == json!("")
                    && actual["prompt"].is_null(),
                format!("{{\"result\":{{\"error\":{{\"message\":{}, …}}}},\"output\":\"\",\"prompt\":null}}", json!(message)),
            ),
        };
        if !passed {
            failures.push(format!(
                "{label}:\n      expected {expected}\n      actual   {actual}"
            ));
        }
    }
    for extra in results.iter().skip(cases.len()) {
        failures.push(format!("unexpected case {extra}"));
    }
    ensure!(
        failures.is_empty(),
        "{} of {} cases failed:\n  {}",
        failures.len(),
        cases.len(),
        failures.join("\n  ")
    );
    Ok(())
}

/// The channel types a page tests: the service worker's always, shared memory where the page is isolated.
fn library_channels(b: &Browser) -> Result<Vec<&'static str>> {
    let mut channels = vec!["serviceWorker"];
    if b.eval("return typeof SharedArrayBuffer !== 'undefined'")? == json!(true) {
        channels.push("atomics");
    }
    Ok(channels)
}

fn library_comsync(b: &Browser, _server: &Server) -> Result<()> {
    let result = (|| {
        let results = library_results(b)?;
        let terminated = json!({"error": {
            "type": "InterruptError",
            "name": "InterruptError",
            "message": "Worker terminated",
            "interruptError": true,
        }});
        let mut cases = Vec::new();
        for channel in library_channels(b)? {
            let on = Some(channel);
            let ok = |value: Value| Expect::Exact(json!({ "ok": value }));
            cases.extend([
                // interrupt() while idle does nothing.
                Case::new(on, "interruptWhileIdle", ok(Value::Null)),
                Case::new(on, "testBasic", ok(json!(20))),
                Case::new(on, "testRead", ok(json!(30))),
                Case::new(
                    on,
                    "testReadInterrupt",
                    ok(json!("InterruptError message2")),
                ),
                Case::new(
                    on,
                    "testInterruptSyncSleepExtras",
                    ok(json!("InterruptError message2")),
                ),
                Case::new(
                    on,
                    "testInterruptAsyncSleep",
                    Expect::Exact(terminated.clone()),
                ),
                Case::new(
                    on,
                    "testInterruptSyncSleepDirect",
                    Expect::Exact(terminated.clone()),
                ),
                Case::new(on, "testInterruptLoop", Expect::Exact(terminated.clone())),
                Case::new(on, "testSleep(500)", Expect::Slept(500.0)),
                Case::new(on, "testSleep(800)", Expect::Slept(800.0)),
                // The worker's Comlink.proxy reaches the page and works as client.interrupter.
                Case::new(on, "testInterrupter", ok(json!("successfully interrupted"))),
                Case::new(on, "interrupterDeleted", ok(json!(true))),
                // The page's Comlink.proxy argument reaches the worker through client.call(...).
                Case::new(on, "testPageProxy", ok(json!("page proxy answered 42"))),
            ]);
        }
        check_cases(&results, &cases)
    })();
    unregister_service_workers(b)?;
    result
}

/// The library beyond the upstream cases: the classic-script build on the page and in a classic worker,
/// python-runner.js as the library's service worker, worker-side functions called on the page, a write queued
/// when its call ends, the seed README's worker example, and our Python package's PyodideRunner.
fn library_extras(b: &Browser, _server: &Server) -> Result<()> {
    let result = (|| {
        let results = library_results(b)?;
        let ok = |value: Value| Expect::Exact(json!({ "ok": value }));
        let error = |message: &str| {
            Expect::Exact(json!({"error": {"type": null, "name": "Error", "message": message}}))
        };
        let mut cases = vec![
            Case::new(
                None,
                "readMessageOnPage",
                error("readMessage blocks until a message arrives, so it works only in a worker, not on the page's main thread."),
            ),
            Case::new(
                None,
                "syncSleepOnPage",
                error("syncSleep blocks until a message arrives, so it works only in a worker, not on the page's main thread."),
            ),
            Case::new(
                None,
                "writeWithoutServiceWorker",
                ok(json!({
                    "type": "ServiceWorkerError",
                    "name": "ServiceWorkerError",
                    "message": "Received status 405 from /__SyncMessageServiceWorkerInput__/write. Ensure the service worker is registered and active.",
                    "status": 405,
                    "afterTimeout": true,
                })),
            ),
        ];
        let channels = library_channels(b)?;
        let isolated = channels.contains(&"atomics");
        for channel in channels {
            let on = Some(channel);
            cases.extend([
                Case::new(on, "echo", ok(json!("héllo ☃!"))),
                // Upstream leaves this write pending forever.
                Case::new(
                    on,
                    "queuedWriteWhenTheCallEnds",
                    error(
                        "The call ended before the worker read this message, so it was not sent.",
                    ),
                ),
                Case::new(on, "interruptSleep", ok(json!("InterruptError"))),
                Case::new(on, "stateAfter", ok(json!("idle"))),
            ]);
        }
        let interrupted = if isolated {
            "KeyboardInterrupt"
        } else {
            "InterruptError: Worker terminated"
        };
        let run = |output: &str, prompts: &str| {
            ok(json!({"result": "success", "output": output, "prompts": prompts}))
        };
        cases.extend([
            Case::new(
                None,
                "writeWithoutCall",
                error("No active call to send a message to."),
            ),
            Case::new(None, "seedRunCode", ok(json!(42))),
            Case::new(None, "seedInterruptBusy", ok(json!(interrupted))),
            Case::new(None, "seedAfterInterrupt", ok(json!(2))),
            Case::new(
                None,
                "runnerInput",
                run("input_prompt:Name? ;input:Zoë\n;stdout:Zoë!\n;", "Name? ;"),
            ),
            Case::new(
                None,
                "runnerInterruptInput",
                run("input_prompt:wait;stdout:KeyboardInterrupt\n;", "wait;"),
            ),
            Case::new(None, "runnerSleep", run("stdout:True\n;", "")),
        ]);
        check_cases(&results, &cases)
    })();
    unregister_service_workers(b)?;
    result
}

/// `demo/library.html` as a visitor uses it: the default program (an import from the archive, input(), sleeps),
/// then Stop on a busy loop: KeyboardInterrupt with shared memory, a restarted worker without.
fn demo_library(b: &Browser, server: &Server) -> Result<()> {
    let result = (|| {
        b.goto(&server.url("/library.html"))?;
        let status = "(document.getElementById('status')?.textContent ?? '')";
        b.wait_for(&format!("{status}.startsWith('Pyodide ')"), BOOT_TIMEOUT)
            .with_context(|| {
                format!(
                    "status: {}",
                    b.eval(&format!("return {status}")).unwrap_or_default()
                )
            })?;
        let isolated = b.eval("return typeof SharedArrayBuffer !== 'undefined'")? == json!(true);
        let channel = if isolated { "atomics" } else { "serviceWorker" };
        let status_text = b.eval(&format!("return {status}"))?;
        ensure!(
            status_text
                .as_str()
                .is_some_and(|s| s.ends_with(&format!("Channel: {channel}."))),
            "status {status_text}"
        );
        let parts = "return [...document.getElementById('output').children].map((s) => [s.className, s.textContent])";
        b.eval("document.getElementById('run').click()")?;
        b.wait_for(
            "!document.getElementById('input-form').hidden",
            BOOT_TIMEOUT,
        )?;
        b.eval(
            "document.getElementById('input-line').value = 'Ada <b>';
             document.getElementById('input-form').requestSubmit();",
        )?;
        b.wait_for("!document.getElementById('run').disabled", BOOT_TIMEOUT)?;
        let output = b.eval(parts)?;
        let text: String = output
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|part| part[1].as_str())
            .collect();
        ensure!(
            text == "hello from mypkg\nWhat is your name? Ada <b>\nHello, Ada <b>!\ntick 0\ntick 1\ntick 2\n",
            "output {output}"
        );
        ensure!(
            b.eval("return document.getElementById('output').querySelector('b')")?
                .is_null(),
            "printed HTML became an element"
        );

        b.eval(
            "document.getElementById('code').value = 'while True: pass';
             document.getElementById('run').click();",
        )?;
        b.wait_for("!document.getElementById('stop').disabled", BOOT_TIMEOUT)?;
        std::thread::sleep(Duration::from_millis(300));
        b.eval("document.getElementById('stop').click()")?;
        b.wait_for("document.getElementById('stop').disabled", BOOT_TIMEOUT)?;
        let output = b.eval(parts)?;
        let last = output
            .as_array()
            .and_then(|parts| parts.last())
            .cloned()
            .unwrap_or_default();
        if isolated {
            ensure!(
                last[0] == json!("traceback")
                    && last[1]
                        .as_str()
                        .is_some_and(|t| t.ends_with("KeyboardInterrupt\n")),
                "output {output}"
            );
        } else {
            ensure!(
                last[0] == json!("note")
                    && last[1]
                        .as_str()
                        .is_some_and(|t| t.contains("Python was restarted")),
                "output {output}"
            );
            // The new worker loads Python again.
            b.wait_for(&format!("{status}.startsWith('Pyodide ')"), BOOT_TIMEOUT)?;
        }
        Ok(())
    })();
    unregister_service_workers(b)?;
    result
}

/// PyodideRunner's messages for a failed input channel (upstream spec §4.9).
const NO_CHANNEL_TEXT: &str = "This browser doesn't support reading input. Try upgrading to the most recent version or switching to a different browser, e.g. Chrome or Firefox.";
const SERVICE_WORKER_TEXT: &str = "The service worker for reading input isn't working. Try closing all this site's tabs, then reopening. If that doesn't work, try using a different browser.";

fn library_runner(b: &Browser, server: &Server) -> Result<()> {
    let result = (|| {
        let package = workspace_root().join("target/pypi/package.tar");
        ensure!(
            package.is_file(),
            "{} is missing: run `bundle/run.sh` (it writes the local package index and package.tar)",
            package.display()
        );
        let results = library_results(b)?;
        let channels = library_channels(b)?;
        let success = |output: &str, prompt: Option<&str>| {
            Expect::Exact(json!({"result": {"ok": "success"}, "output": output, "prompt": prompt}))
        };
        let entry = r#"{"module":"cheap_repr","package":"cheap_repr"}"#;
        let micropip = r#"{"module":"micropip","package":"micropip"}"#;
        let cheap = "stdout:[0, 1, 2, ..., 997, 998, 999]\n;";
        let mut cases = vec![
            // Pyodide's fatal error (a JS stack overflow) rejects the call; the reloader loads a new Pyodide.
            Case::new(
                None,
                "test_fatal_error",
                Expect::Rejected("Maximum call stack size exceeded"),
            ),
            Case::new(
                None,
                "test_import_install",
                success(
                    &format!(
                        "loading_all:[{entry}];loading_micropip:{micropip};loaded_micropip:{micropip};\
                         loading_one:{entry};loaded_one:{entry};loaded_all:[{entry}];{cheap}"
                    ),
                    None,
                ),
            ),
            Case::new(None, "test_import_install2", success(cheap, None)),
        ];
        for &channel in &channels {
            let on = Some(channel);
            cases.extend([
                Case::new(on, "test_print", success("stdout:123\n;", None)),
                Case::new(
                    on,
                    "test_input",
                    success(
                        "input_prompt:hi;input:456\n;stdout:456;stdout:\n;",
                        Some("hi"),
                    ),
                ),
                Case::new(
                    on,
                    "test_interrupt_input",
                    success(
                        "input_prompt:hi2;input:789\n;stdout:789;stdout:\n;input_prompt:interrupt me;stdout:KeyboardInterrupt\n;",
                        Some("interrupt me"),
                    ),
                ),
                Case::new(on, "test_sleep", success("stdout:True;stdout:\n;", None)),
                Case::new(
                    on,
                    "test_interrupt_sleep",
                    success("stdout:KeyboardInterrupt\nTrue\n;", None),
                ),
                Case::new(
                    on,
                    "test_other_callback",
                    success("stdout:foo-{\"bar\":\"spam\"}\n;", None),
                ),
            ]);
        }
        let page_url = Some("serviceWorker (page URL)");
        cases.extend([
            Case::new(
                None,
                "test_no_channel",
                success(
                    &format!("input_prompt:no channel;stdout:{NO_CHANNEL_TEXT}\n;"),
                    Some("no channel"),
                ),
            ),
            Case::new(
                page_url,
                "test_service_worker_error",
                success(
                    &format!(
                        "input_prompt:no service worker;stdout:{SERVICE_WORKER_TEXT};stdout:\n;"
                    ),
                    Some("no service worker"),
                ),
            ),
            // Relies on initPyodide's recursion limit of 400.
            Case::new(
                page_url,
                "recursion_error",
                success("stdout:RecursionError\n;", None),
            ),
        ]);
        // Only where the page has shared memory (an interrupt buffer).
        if channels.contains(&"atomics") {
            cases.push(Case::new(
                page_url,
                "test_interrupt",
                success("stdout:KeyboardInterrupt\n;", None),
            ));
        }
        check_cases(&results, &cases)?;
        // The loader ran four times: two failures retried by loadPyodideAndPackage, the load, and the reload
        // after the fatal error, which took the package from loadPyodideAndPackage's cache.
        let console: Vec<String> = b.peek_console()?.into_iter().map(|e| e.message).collect();
        let attempts: Vec<&str> = console
            .iter()
            .filter_map(|m| m.split("pyodide load attempt ").nth(1))
            .map(|rest| rest.trim_end_matches('"'))
            .collect();
        ensure!(
            attempts == ["0", "1", "2", "2"],
            "the worker's loader logged attempts {attempts:?}"
        );
        let from_cache = console
            .iter()
            .filter(|m| m.contains("Loaded package from cache"))
            .count();
        let fetched = server
            .requests()
            .into_iter()
            .filter(|r| r.url == "/pypi/package.tar")
            .count();
        ensure!(
            fetched == 1 && from_cache == 1,
            "package.tar was requested {fetched} times and loaded from the cache {from_cache} times"
        );
        Ok(())
    })();
    unregister_service_workers(b)?;
    result
}
