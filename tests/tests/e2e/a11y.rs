//! Accessibility: axe-core (the npm package, served at `/node_modules/`) finds no serious or critical violation on
//! a page of elements in every state, light and dark, nor on the demo page once its elements are done; and a
//! reader with only a keyboard edits, runs, answers `input()`, stops and runs again, with the focus where the next
//! key needs it at every step.

use crate::element::{
    count_events, el, events, expect_outputs, outputs, wait_done, wait_done_after, wait_settled,
};
use crate::input_stop::keyboard_interrupt;
use crate::BOOT_TIMEOUT;
use anyhow::{bail, ensure, Context, Result};
use python_runner_tests::{Browser, Engine, Key, Server};
use serde_json::{json, Value};
use std::time::Duration;

/// axe-core as npm installs it (`package.json` pins the version).
const AXE: &str = "/node_modules/axe-core/axe.min.js";

/// How long the focus may take to land where a key sent it (the element moves it when Python answers).
const FOCUS_TIMEOUT: Duration = Duration::from_secs(10);

/// tests/fixtures/a11y: every state of the element (loading, a traceback, a missing archive, editing, done with
/// scrolling source and output, dark, a picture, waiting for input), then the demo page: axe finds nothing
/// serious or critical on either.
pub(crate) fn a11y(b: &Browser, server: &Server) -> Result<()> {
    let isolated = b.eval("return self.crossOriginIsolated")? == json!(true);
    b.wait_for(
        &format!("{}.state === 'loading'", el("loading")),
        BOOT_TIMEOUT,
    )?;
    wait_done(b, "traceback")?;
    expect_outputs(
        b,
        "traceback",
        &[
            ("stdout", "checking\n"),
            (
                "traceback",
                "Traceback (most recent call last):\n  File \"/home/pyodide/main.py\", line 5, in <module>\n    check(42)\n    ~~~~~^^^^\n  File \"/home/pyodide/main.py\", line 2, in check\n    raise ValueError(f\"bad value: {value!r}\")\nValueError: bad value: 42\n",
            ),
        ],
    )?;
    for id in ["missing", "dark-missing"] {
        ensure!(wait_settled(b, id)? == "error", "#{id} did not fail");
    }
    b.wait_for(
        &format!("{}.state === 'ready'", el("editing")),
        BOOT_TIMEOUT,
    )?;
    wait_done(b, "done")?;
    // 61 lines of stdout, one of stderr, then the cut line: its start, the count of the rest, its end.
    let done = outputs(b, "done")?;
    let classes: Vec<&str> = done.iter().map(|(class, _)| class.as_str()).collect();
    ensure!(
        classes == ["stdout", "stderr", "stdout", "elided", "stdout"]
            && done[0].1.lines().count() == 61
            && done[1].1 == "to stderr\n",
        "#done shows {done:?}"
    );
    wait_done(b, "dark")?;
    expect_outputs(
        b,
        "dark",
        &[
            ("stdout", "dark stdout\n"),
            ("stderr", "dark stderr\n"),
            (
                "traceback",
                "Traceback (most recent call last):\n  File \"/home/pyodide/main.py\", line 4, in <module>\n    1/0\n    ~^~\nZeroDivisionError: division by zero\n",
            ),
        ],
    )?;
    // The picture (`display()` of an object with `_repr_png_`) is an <img> with alt text, for axe to check.
    wait_done(b, "picture")?;
    let picture = outputs(b, "picture")?;
    ensure!(
        matches!(picture.as_slice(), [(img, alt), (stdout, after)]
            if img == "picture" && !alt.is_empty() && stdout == "stdout" && after == "after the picture\n"),
        "#picture shows {picture:?}"
    );
    // Without isolation WebKit has no blocking transport: input() raises there (see `unsupported`).
    let input_blocks = isolated || b.engine() != Engine::WebKit;
    let waiting_input = format!(
        "!!{}.shadowRoot.querySelector('input.stdin')",
        el("waiting")
    );
    if input_blocks {
        b.wait_for(&waiting_input, BOOT_TIMEOUT)?;
    } else {
        wait_settled(b, "waiting")?;
    }

    let found = axe(b).context("axe on the page of every state")?;
    // The states held while axe looked.
    let states = b.eval(&format!(
        "return [{}.state, {}]",
        el("loading"),
        waiting_input
    ))?;
    ensure!(
        states == json!(["loading", input_blocks]),
        "#loading's state and whether #waiting waits changed while axe ran: {states}"
    );

    b.goto(&server.url("/index.html"))?;
    settle_demo(b)?;
    let demo = axe(b).context("axe on the demo page")?;
    ensure!(
        found.is_empty() && demo.is_empty(),
        "axe found serious or critical violations\n  on the page of every state:\n    {}\n  on the demo page:\n    {}",
        listed(&found),
        listed(&demo)
    );
    Ok(())
}

/// Brings each element of the demo page near the viewport in turn (they start lazily), and waits until every
/// element that runs by itself is done (or failed, as the one with a wrong Pyodide URL does) and every
/// `manual` one is ready.
fn settle_demo(b: &Browser) -> Result<()> {
    let count = b.eval("return document.querySelectorAll('python-runner').length")?;
    let count = count.as_u64().context("counting the demo's elements")?;
    ensure!(count > 5, "the demo page has {count} elements");
    for n in 0..count {
        let element = format!("document.querySelectorAll('python-runner')[{n}]");
        b.eval(&format!("{element}.scrollIntoView({{block: 'center'}})"))?;
        // (Before the bundle has defined the element, `state` is undefined: WebKit may define it after `load`.)
        b.wait_for(
            &format!("['loading', 'ready', 'running', 'done', 'error'].includes({element}.state)"),
            BOOT_TIMEOUT,
        )
        .with_context(|| format!("starting the demo's element {n}"))?;
    }
    b.wait_for(
        "[...document.querySelectorAll('python-runner')].every((e) =>
           e.manual ? e.state === 'ready' : e.state === 'done' || e.state === 'error')",
        BOOT_TIMEOUT,
    )
    .with_context(|| {
        let states = b.eval(
            "return [...document.querySelectorAll('python-runner')].map((e) =>
               `${e.manual ? 'manual ' : ''}${e.state}: ${e.shadowRoot.textContent.slice(-200)}`)",
        );
        format!(
            "waiting for the demo's elements: {:#}",
            states.unwrap_or_default()
        )
    })?;
    b.eval("window.scrollTo(0, 0)")?;
    Ok(())
}

/// Loads axe-core into the page (once) and runs it over the document and its open shadow roots; returns each
/// serious or critical violation, one per element: rule, impact, target, help and axe's summary.
fn axe(b: &Browser) -> Result<Vec<String>> {
    let result = b.eval_async(&format!(
        "const done = arguments[arguments.length - 1];
         const report = (v) => v.nodes
           .filter((n) => n.impact === 'serious' || n.impact === 'critical')
           .map((n) => `${{v.id}} (${{n.impact}}) at ${{JSON.stringify(n.target)}}: ${{v.help}}; ${{n.failureSummary}}`);
         const run = () => axe.run(document, {{ resultTypes: ['violations'] }})
           .then((r) => done({{ found: r.violations.flatMap(report) }}), (e) => done({{ error: String(e && e.stack || e) }}));
         if (window.axe) {{
           run();
         }} else {{
           const script = document.createElement('script');
           script.src = {};
           script.onload = run;
           script.onerror = () => done({{ error: 'could not load ' + script.src }});
           document.head.append(script);
         }}",
        json!(AXE)
    ))?;
    if let Some(error) = result.get("error") {
        bail!("axe failed: {}", error.as_str().unwrap_or_default());
    }
    let found = result
        .get("found")
        .and_then(Value::as_array)
        .with_context(|| format!("axe answered {result}"))?;
    Ok(found
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect())
}

fn listed(found: &[String]) -> String {
    if found.is_empty() {
        "(none)".to_owned()
    } else {
        found.join("\n    ")
    }
}

/// Where the page's focus is: `tag#id`, and inside an open shadow root ` tag.class` of its active element.
fn focus(b: &Browser) -> Result<Value> {
    b.eval(FOCUS_JS)
}

const FOCUS_JS: &str = "const name = (e) => e.localName + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className.trim().split(/\\s+/).join('.') : '');
     const outer = document.activeElement;
     if (!outer) return 'nothing';
     const inner = outer.shadowRoot?.activeElement;
     return inner ? name(outer) + ' ' + name(inner) : name(outer);";

/// Waits until the focus is on `expected` (as [`focus`] names it).
fn wait_focus(b: &Browser, expected: &str, after: &str) -> Result<()> {
    b.wait_for(
        &format!("(() => {{ {FOCUS_JS} }})() === {}", json!(expected)),
        FOCUS_TIMEOUT,
    )
    .map(drop)
    .with_context(|| {
        format!(
            "after {after}, the focus should be on {expected}; it is on {}",
            focus(b).unwrap_or_default()
        )
    })
}

/// tests/fixtures/keyboard, by key presses only (after the test puts the focus on the button before the
/// element): Tab into the editor, edit, Ctrl+Enter; the input field has the focus while `input()` waits; Enter
/// sends the line and leaves the focus on Stop; Enter there stops the sleep and leaves it on Run; Enter on Run
/// runs again, and Ctrl+C in the input field stops that run.
pub(crate) fn keyboard(b: &Browser, _server: &Server) -> Result<()> {
    const CODE: &str = "name = input(\"Name? \")\nprint(\"Hi\", name)\nimport time\ntime.sleep(60)";
    let id = "kb";
    let host = "python-runner#kb";
    b.wait_for(
        &format!(
            "{0}.state === 'ready' && {0}.shadowRoot.querySelector('textarea.source').value === {1}",
            el(id),
            json!(CODE)
        ),
        BOOT_TIMEOUT,
    )?;
    b.eval("document.getElementById('start').focus()")?;
    wait_focus(b, "button#start", "focusing #start")?;
    b.press(&[Key::Tab.into()])?;
    wait_focus(b, &format!("{host} textarea.source"), "Tab")?;

    // To the end, two lines up (the print), to the end of that line, one left (inside its parenthesis).
    b.press(&[Key::Control.into(), Key::End.into()])?;
    b.press(&[Key::Up.into()])?;
    b.press(&[Key::Up.into()])?;
    b.press(&[Key::End.into()])?;
    b.press(&[Key::Left.into()])?;
    b.type_keys(" + \"!\"")?;
    let edited = CODE.replace("name)", "name + \"!\")");
    let code = b.eval(&format!("return {}.code", el(id)))?;
    ensure!(
        code == json!(edited),
        "after Ctrl+End, Up, Up, End, Left and typing, the code is {code}"
    );

    // Ctrl+Enter runs; input() takes the focus into its field.
    b.press(&[Key::Control.into(), Key::Enter.into()])?;
    wait_focus(b, &format!("{host} input.stdin"), "Ctrl+Enter")?;
    expect_outputs(b, id, &[("input_prompt", "Name? ")])?;
    b.type_keys(&format!("Ada{}", char::from(Key::Enter)))?;
    b.wait_for(
        &format!(
            "{}.shadowRoot.querySelector('div.output').textContent.includes('Hi Ada!')",
            el(id)
        ),
        BOOT_TIMEOUT,
    )?;
    let answered = [
        ("input_prompt", "Name? "),
        ("input", "Ada\n"),
        ("stdout", "Hi Ada!\n"),
    ];
    expect_outputs(b, id, &answered)?;
    // The field is gone while the program sleeps: Stop holds the focus.
    wait_focus(
        b,
        &format!("{host} button.stop"),
        "Enter in the input field",
    )?;

    // Enter on Stop: KeyboardInterrupt in the sleep; the focus moves to Run.
    let before = count_events(b, id, "done")?;
    b.press(&[Key::Enter.into()])?;
    wait_done_after(b, id, before)?;
    let stopped = keyboard_interrupt(4, "time.sleep(60)\n    ~~~~~~~~~~^^^^");
    expect_outputs(
        b,
        id,
        &[answered.as_slice(), &[("traceback", &stopped)]].concat(),
    )?;
    wait_focus(b, &format!("{host} button.run"), "Enter on Stop")?;

    // Enter on Run runs again; Ctrl+C in the input field stops it; the focus goes back to Run.
    b.press(&[Key::Enter.into()])?;
    wait_focus(b, &format!("{host} input.stdin"), "Enter on Run")?;
    expect_outputs(b, id, &[("input_prompt", "Name? ")])?;
    let before = count_events(b, id, "done")?;
    b.press(&[Key::Control.into(), 'c'])?;
    wait_done_after(b, id, before)?;
    let interrupted = keyboard_interrupt(1, "name = input(\"Name? \")");
    expect_outputs(
        b,
        id,
        &[("input_prompt", "Name? "), ("traceback", &interrupted)],
    )?;
    wait_focus(
        b,
        &format!("{host} button.run"),
        "Ctrl+C in the input field",
    )?;
    let errors: Vec<_> = events(b, id)?
        .into_iter()
        .filter(|(kind, _)| kind == "error")
        .collect();
    ensure!(
        errors.is_empty(),
        "the keyboard's Stops caused error events: {errors:?}"
    );
    Ok(())
}
