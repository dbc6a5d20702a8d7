//! Failure scenarios: a Pyodide URL that does not load and Python crashing; the element says so in `div.error`
//! and an `error` event, its neighbours go on, and Run starts a fresh Python.

use crate::element::{
    el, error_text, events, expect_events, expect_outputs, wait_done, wait_settled,
};
use crate::BOOT_TIMEOUT;
use anyhow::{ensure, Context, Result};
use python_runner_tests::{Browser, Engine, Server};
use serde_json::json;

pub(crate) fn bad_pyodide_url(b: &Browser, server: &Server) -> Result<()> {
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
    // The browser's own reason follows ours, in its words.
    let reason = match b.engine() {
        Engine::Chromium => "TypeError: Failed to fetch dynamically imported module",
        Engine::Firefox => "TypeError: error loading dynamically imported module",
        Engine::WebKit => "TypeError: Importing a module script failed.",
    };
    let expected_bad = match b.engine() {
        Engine::WebKit => format!("Could not load Pyodide from {base}/nope/: {reason}"),
        _ => format!("Could not load Pyodide from {base}/nope/: {reason}: {base}/nope/pyodide.mjs"),
    };
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

pub(crate) fn python_crash(b: &Browser, _server: &Server) -> Result<()> {
    let state = wait_settled(b, "crash")?;
    ensure!(
        state == "error",
        "#crash ended in state {state:?}, expected error"
    );
    let expected = format!(
        "Python stopped working ({}). Run starts a fresh Python.",
        b.engine().stack_overflow()
    );
    let expected = expected.as_str();
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
