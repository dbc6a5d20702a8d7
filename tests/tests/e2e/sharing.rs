//! Many runners on one page: elements share one Python by default, each with its own namespace;
//! nobody waits behind `input()` or a busy loop; `runtime="own"` keeps a private Python; a restart
//! that took other elements' variables with it says so in their next run.

use crate::element::{count_events, el, expect_outputs, wait_done, wait_done_after};
use crate::input_stop::enter_line;
use crate::BOOT_TIMEOUT;
use anyhow::{ensure, Result};
use python_runner_tests::{Browser, Server};

const SESSION_LOST: &str =
    "Python was restarted to stop another program on this page. Variables and imports from earlier runs are gone.";
const MOVED: &str = "Another program on this page was using this snippet's Python, so this run started in a fresh one: variables and imports from earlier runs are not here.";
const STUCK: &str = "Python did not stop within 1 second, so it was restarted. Variables and imports from earlier runs are gone.";

/// Clicks Run on `#id`.
fn click_run(b: &Browser, id: &str) -> Result<()> {
    b.click_in_shadow(&format!("#{id}"), "button.run")
}

fn state(b: &Browser, id: &str) -> Result<String> {
    Ok(b.eval(&format!("return {}.state", el(id)))?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

pub(crate) fn shared(b: &Browser, _server: &Server) -> Result<()> {
    for id in ["a", "b", "own"] {
        wait_done(b, id)?;
    }
    // One namespace per element, in one shared Python.
    expect_outputs(b, "a", &[("stdout", "a sees ['x']\n")])?;
    expect_outputs(b, "b", &[("stdout", "b sees x: False\n")])?;
    expect_outputs(b, "own", &[("stdout", "own\n")])?;
    // The page's runtime and the private one, and at most the spare warmed after the runs.
    let workers = b.eval("return window.__workers.length")?;
    ensure!(
        workers
            .as_u64()
            .is_some_and(|count| (2..=3).contains(&count)),
        "{workers} workers for one shared runtime and one private one (and the spare)"
    );

    // `ask` waits in input(); `b` runs at once meanwhile, and `ask` still gets its line.
    click_run(b, "ask")?;
    b.wait_for(
        &format!(
            "{}.shadowRoot.querySelector('input.stdin') !== null",
            el("ask")
        ),
        BOOT_TIMEOUT,
    )?;
    let b_before = count_events(b, "b", "done")?;
    click_run(b, "b")?;
    wait_done_after(b, "b", b_before)?;
    // Its namespace stayed in the Python that waits for #ask's line: this run says it starts fresh.
    expect_outputs(
        b,
        "b",
        &[("notice", MOVED), ("stdout", "b sees x: False\n")],
    )?;
    ensure!(
        state(b, "ask")? == "running",
        "#ask stopped waiting while b ran"
    );
    let ask_before = count_events(b, "ask", "done")?;
    enter_line(b, "ask", "\"Ada\"")?;
    wait_done_after(b, "ask", ask_before)?;
    expect_outputs(
        b,
        "ask",
        &[
            ("input_prompt", "name? "),
            ("input", "Ada\n"),
            ("stdout", "Ada 1\n"),
        ],
    )?;

    // `busy` cannot be interrupted (a loop in C); `a` runs at once meanwhile.
    click_run(b, "busy")?;
    b.wait_for(
        &format!(
            "{}.shadowRoot.querySelector('div.output').textContent.includes('busy')",
            el("busy")
        ),
        BOOT_TIMEOUT,
    )?;
    let a_before = count_events(b, "a", "done")?;
    click_run(b, "a")?;
    wait_done_after(b, "a", a_before)?;
    expect_outputs(b, "a", &[("notice", MOVED), ("stdout", "a sees ['x']\n")])?;
    ensure!(state(b, "busy")? == "running", "#busy stopped while a ran");

    // Stopping `busy` replaces its Python, which held `ask`'s namespace: `ask` says so next time.
    let busy_before = count_events(b, "busy", "done")?;
    b.click_in_shadow("#busy", "button.stop")?;
    wait_done_after(b, "busy", busy_before)?;
    let restarted = b.eval(&format!(
        "return {}.shadowRoot.querySelector('div.output').textContent",
        el("busy")
    ))?;
    let restarted = restarted.as_str().unwrap_or_default();
    ensure!(
        restarted.contains(STUCK) || restarted.contains("Python was restarted to stop the program"),
        "#busy shows {restarted:?}, not a restart notice"
    );
    let ask_before = count_events(b, "ask", "done")?;
    click_run(b, "ask")?;
    enter_line(b, "ask", "\"Grace\"")?;
    wait_done_after(b, "ask", ask_before)?;
    expect_outputs(
        b,
        "ask",
        &[
            ("notice", SESSION_LOST),
            ("input_prompt", "name? "),
            ("input", "Grace\n"),
            ("stdout", "Grace 1\n"),
        ],
    )?;
    Ok(())
}
