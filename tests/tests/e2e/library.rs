//! The module build `python-runner.mjs` as a drop-in replacement for comsync, sync-message, comlink and
//! pyodide-worker-runner: their upstream browser tests (upstream spec §6.2 and §6.3), run by the fixture pages,
//! which record each case in `window.__results` as `{channel, test, actual, expected}` (`expected` is for a human
//! reading the page; the expectations checked are the ones below); the library's extras and its demo page.

use crate::element::unregister_service_workers;
use crate::BOOT_TIMEOUT;
use anyhow::{ensure, Context, Result};
use python_runner_tests::{workspace_root, Browser, Server};
use serde_json::{json, Value};
use std::time::Duration;

/// Time for a library page to run all its cases: the runner page loads Pyodide after two failed attempts and
/// their back-off, installs a package, and sleeps and waits a second at a time, on each channel.
const LIBRARY_TIMEOUT: Duration = Duration::from_secs(300);

/// What a case must have given.
enum Expect {
    /// Exactly this `actual`.
    Exact(Value),
    /// comsync's testSleep(ms): `{ok: {ms, slept, state}}` with state `running` and ms <= slept < 1.5 ms. Upstream
    /// asks ms < slept, but a page without isolation has a coarse clock (WebKit: whole milliseconds), on which a
    /// wait of at least 800 ms can read exactly 800.
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
                    actual["ok"]["state"] == json!("running") && *ms <= slept && slept < 1.5 * ms,
                    format!("{{\"ok\":{{\"state\":\"running\",\"slept\": from {ms} to below {}}}}}", 1.5 * ms),
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

pub(crate) fn library_comsync(b: &Browser, _server: &Server) -> Result<()> {
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
pub(crate) fn library_extras(b: &Browser, _server: &Server) -> Result<()> {
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
            // interrupt() of a worker still loading, on a controlled page: the old worker's function never runs,
            // and the new worker's reads reach the service worker (in WebKit it was left uncontrolled, and its
            // read failed with ServiceWorkerError).
            Case::new(
                None,
                "interruptWhileLoading",
                ok(json!({"error": "Worker terminated", "echoed": "new!", "ran": []})),
            ),
            Case::new(None, "seedRunCode", ok(json!(42))),
            Case::new(None, "seedInterruptBusy", ok(json!(interrupted))),
            Case::new(None, "seedAfterInterrupt", ok(json!(2))),
            Case::new(
                None,
                "interruptView",
                ok(if isolated {
                    json!([true, 1, true, 2, 0])
                } else {
                    json!(null)
                }),
            ),
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
        ]);
        if isolated {
            cases.push(Case::new(
                None,
                "runnerInterruptAtPrompt",
                run("input_prompt:now;stdout:KeyboardInterrupt\n;", "now;"),
            ));
        }
        cases.push(Case::new(None, "runnerSleep", run("stdout:True\n;", "")));
        check_cases(&results, &cases)
    })();
    unregister_service_workers(b)?;
    result
}

/// `demo/library.html` as a visitor uses it: the default program (an import from the archive, input(), sleeps),
/// then Stop on a busy loop: KeyboardInterrupt with shared memory, a restarted worker without.
pub(crate) fn demo_library(b: &Browser, server: &Server) -> Result<()> {
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

pub(crate) fn library_runner(b: &Browser, server: &Server) -> Result<()> {
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
        // The message without the error's name.
        let overflow = b
            .engine()
            .stack_overflow()
            .split_once(": ")
            .map_or("", |(_, m)| m);
        let mut cases = vec![
            // Pyodide's fatal error (a JS stack overflow) rejects the call; the reloader loads a new Pyodide.
            Case::new(
                None,
                "test_fatal_error",
                Expect::Rejected(overflow),
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
        if !b.console_readable() {
            println!(
                "{}: the loader's attempts are logged on the worker's console, which cannot be read here; \
                 not checked",
                b.engine()
            );
            return Ok(());
        }
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
