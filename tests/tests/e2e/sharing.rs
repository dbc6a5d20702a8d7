//! Many runners on one page: elements share one Python by default, each with its own namespace;
//! nobody waits behind `input()` or a busy loop, even while Python boots; a run that waits says so
//! and Stop drops it; `runtime="own"` keeps a private Python and `runtime="name"` groups elements;
//! two archives never share a Python; a restart that took other elements' variables with it says
//! so in their next run.

use crate::element::{count_events, el, expect_outputs, wait_done, wait_done_after};
use crate::input_stop::answer;
use crate::BOOT_TIMEOUT;
use anyhow::{ensure, Result};
use python_runner_tests::{Browser, Server};

const SESSION_LOST: &str =
    "Python was restarted to stop another program on this page. Variables and imports from earlier runs are gone.";
const MOVED: &str = "Another program on this page was using this snippet's Python, so this run started in a fresh one: variables and imports from earlier runs are not here.";
const WAITING: &str = "Waiting for a free Python (the others are busy)…";
const DEQUEUED: &str = "Stopped while waiting for a free Python: the program did not run.";
const STUCK: &str = "Python did not stop within 1 second, so it was restarted. Variables and imports from earlier runs are gone.";

/// Clicks Run on `#id`, once the element is upgraded: the bundle defines the element when its wasm is ready,
/// which in Firefox can be after the page's `load`.
pub(crate) fn click_run(b: &Browser, id: &str) -> Result<()> {
    b.wait_for(
        &format!("!!{}.shadowRoot?.querySelector('button.run')", el(id)),
        BOOT_TIMEOUT,
    )?;
    b.click_in_shadow(&format!("#{id}"), "button.run")
}

/// Clicks element `id`'s Run, waits until that run is done, and checks its whole output.
fn rerun(b: &Browser, id: &str, expected: &[(&str, &str)]) -> Result<()> {
    let before = count_events(b, id, "done")?;
    click_run(b, id)?;
    wait_done_after(b, id, before)?;
    expect_outputs(b, id, expected)
}

fn status_text(id: &str) -> String {
    format!(
        "{}.shadowRoot.querySelector('span.status').textContent",
        el(id)
    )
}

/// Waits until `#id` shows its input field.
pub(crate) fn wait_input(b: &Browser, id: &str) -> Result<()> {
    b.wait_for(
        &format!(
            "{}.shadowRoot.querySelector('input.stdin') !== null",
            el(id)
        ),
        BOOT_TIMEOUT,
    )?;
    Ok(())
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
    wait_input(b, "ask")?;
    // Its namespace stayed in the Python that waits for #ask's line: this run says it starts fresh.
    rerun(
        b,
        "b",
        &[("notice", MOVED), ("stdout", "b sees x: False\n")],
    )?;
    ensure!(
        state(b, "ask")? == "running",
        "#ask stopped waiting while b ran"
    );
    answer(
        b,
        "ask",
        "\"Ada\"",
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
    rerun(b, "a", &[("notice", MOVED), ("stdout", "a sees ['x']\n")])?;
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
    click_run(b, "ask")?;
    answer(
        b,
        "ask",
        "\"Grace\"",
        &[
            ("notice", SESSION_LOST),
            ("input_prompt", "name? "),
            ("input", "Grace\n"),
            ("stdout", "Grace 1\n"),
        ],
    )?;
    Ok(())
}

/// tests/fixtures/queued: every Python of the page boots slowly (`/slow/pyodide/`).
pub(crate) fn queued(b: &Browser, _server: &Server) -> Result<()> {
    // `later` asks while the first Python boots, for `ask`: once `ask` waits in input(), `later`
    // gets a Python of its own instead of waiting for the answer.
    rerun(b, "later", &[("stdout", "later ran\n")])?;
    ensure!(state(b, "ask")? == "running", "#ask stopped waiting");
    wait_input(b, "ask")?;

    // `third` holds the second Python in input(); `fourth` gets a third one, which boots; `later`
    // waits for a Python and says so, and Stop drops its run: nothing ran, nothing restarted.
    click_run(b, "third")?;
    wait_input(b, "third")?;
    let fourth_before = count_events(b, "fourth", "done")?;
    click_run(b, "fourth")?;
    click_run(b, "later")?;
    b.wait_for(
        &format!("{} === {WAITING:?}", status_text("later")),
        BOOT_TIMEOUT,
    )?;
    let before = count_events(b, "later", "done")?;
    b.click_in_shadow("#later", "button.stop")?;
    wait_done_after(b, "later", before)?;
    expect_outputs(b, "later", &[("notice", DEQUEUED)])?;
    let status = b.eval(&format!("return {}", status_text("later")))?;
    ensure!(status == "", "#later's status says {status} after Stop");
    let terminated = b.eval("return window.__workers.filter((w) => w.__terminated).length")?;
    ensure!(
        terminated == 0,
        "{terminated} workers terminated by a Stop of a waiting run"
    );

    // Everybody else goes on.
    wait_done_after(b, "fourth", fourth_before)?;
    expect_outputs(b, "fourth", &[("stdout", "fourth ran\n")])?;
    for (id, line) in [("ask", "ask"), ("third", "third")] {
        answer(
            b,
            id,
            &format!("\"{line}\""),
            &[
                ("input_prompt", &format!("{line}? ")),
                ("input", &format!("{line}\n")),
                ("stdout", &format!("{line} !\n")),
            ],
        )?;
    }
    Ok(())
}

/// tests/fixtures/groups: `runtime="teach"` elements share one Python, apart from the page's;
/// the elements of two archives that both define `mypkg` each have their own.
pub(crate) fn groups(b: &Browser, _server: &Server) -> Result<()> {
    for id in ["t1", "zip", "tgz"] {
        wait_done(b, id)?;
    }
    expect_outputs(b, "t1", &[("stdout", "['t1'] False\n")])?;
    // The group's Python, and its own namespace in it.
    rerun(b, "t2", &[("stdout", "['t1', 't2'] False\n")])?;
    expect_outputs(
        b,
        "zip",
        &[("stdout", "['zip'] /home/pyodide/mypkg/__init__.py\n")],
    )?;
    expect_outputs(
        b,
        "tgz",
        &[("stdout", "['tgz'] /home/pyodide/proj/mypkg/__init__.py\n")],
    )?;
    Ok(())
}
