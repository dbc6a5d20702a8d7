//! `input()`, `time.sleep` and Stop on each transport (shared memory when cross-origin isolated, else JSPI;
//! the service worker; none), and a million-character line with a hundred answers in a row.

use crate::element::{
    count_events, el, events, expect_events, expect_outputs, outputs, unregister_service_workers,
    wait_done, wait_done_after,
};
use crate::BOOT_TIMEOUT;
use anyhow::{ensure, Context, Result};
use python_runner_tests::{Browser, Server};
use serde_json::json;

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
pub(crate) fn enter_line(b: &Browser, id: &str, text_js: &str) -> Result<()> {
    wait_input_field(b, id)?;
    b.eval(&format!(
        "const i = {}.shadowRoot.querySelector('input.stdin'); i.value = {text_js};
         i.dispatchEvent(new KeyboardEvent('keydown', {{key: 'Enter', bubbles: true}}));",
        el(id)
    ))?;
    Ok(())
}

/// Enters the JavaScript string `line_js` as element `id`'s answer to `input()`, waits until that run is
/// done, and checks its whole output against `expected`.
pub(crate) fn answer(
    b: &Browser,
    id: &str,
    line_js: &str,
    expected: &[(&str, &str)],
) -> Result<()> {
    let before = count_events(b, id, "done")?;
    enter_line(b, id, line_js)?;
    wait_done_after(b, id, before)?;
    expect_outputs(b, id, expected)
}

/// Pastes the JavaScript string `text_js` into element `id`'s input field. Firefox ignores
/// `clipboardData` in a synthetic ClipboardEvent's init and takes its own `dataType`/`data`
/// members instead; a real paste carries the clipboard in both.
fn paste(b: &Browser, id: &str, text_js: &str) -> Result<()> {
    b.eval(&format!(
        "const text = {text_js}; const data = new DataTransfer(); data.setData('text/plain', text);
         {}.shadowRoot.querySelector('input.stdin').dispatchEvent(
           new ClipboardEvent('paste', {{clipboardData: data, dataType: 'text/plain', data: text, bubbles: true, cancelable: true}}));",
        el(id)
    ))
    .map(drop)
}

pub(crate) fn input(b: &Browser, _server: &Server) -> Result<()> {
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
    wait_done_after(b, id, done_before)?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    Ok(())
}

/// The traceback of a `KeyboardInterrupt` at `line` of the element's code, whose text (and carets) is `source`.
pub(crate) fn keyboard_interrupt(line: u32, source: &str) -> String {
    format!(
        "Traceback (most recent call last):\n  File \"/home/pyodide/main.py\", line {line}, in <module>\n    {source}\nKeyboardInterrupt\n"
    )
}

const RESTARTED: &str = "Python was restarted to stop the program (this page cannot interrupt running code). Variables and imports from earlier runs are gone.";

pub(crate) fn stop(b: &Browser, _server: &Server) -> Result<()> {
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
    b.click_in_shadow("#stopper", "button.stop")
        .context("clicking Stop during the sleep")?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)
        .context("Stop during the sleep")?;
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
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)
        .context("Ctrl+C in the input field")?;
    let tb = keyboard_interrupt(2, "answer = input('? ')");
    expect_outputs(b, id, &[("input_prompt", "? "), ("traceback", &tb)])?;
    start(b, id, "print(z, input('again? '))")?;
    type_line(b, id, "yes")?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)
        .context("stop: wait 1 for done")?;
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
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)
        .context("stop: wait 2 for done")?;
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
    paste(b, id, "'x\\r\\ny'")?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)
        .context("stop: wait 3 for done")?;
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

/// Stop while Python loads: the run waiting in the worker is dropped, with a notice; the Python that
/// was loading is kept (no second worker), and the next run uses it.
pub(crate) fn stop_while_loading(b: &Browser, _server: &Server) -> Result<()> {
    let id = "early";
    b.wait_for(
        &format!(
            "window.__events.some((e) => e.id === {} && e.type === 'done')",
            json!(id)
        ),
        BOOT_TIMEOUT,
    )?;
    let at_stop = b.eval("return [window.__stateAtStop, window.__workersAtFirstDone]")?;
    ensure!(
        at_stop == json!(["loading", 1]),
        "[state when stopped, workers when the run ended] were {at_stop}, expected [\"loading\", 1]"
    );
    expect_outputs(b, id, &[("notice", CANCELLED)])?;
    b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    run_expect(b, id, "print('after')", &[("stdout", "after\n")])?;
    let first_worker = b.eval("return window.__workers[0].__terminated")?;
    ensure!(
        first_worker == json!(false),
        "the loading worker was terminated"
    );
    expect_events(b, id, 2, None)
}

const CANCELLED: &str = "Stopped before Python was ready: the program did not run.";

const STUCK: &str = "Python did not stop within 1 second, so it was restarted. Variables and imports from earlier runs are gone.";

pub(crate) fn input_volume(b: &Browser, _server: &Server) -> Result<()> {
    let id = "big";
    // 1,050,000 characters, 2,800,000 bytes of UTF-8, pasted: more than a field holds (WebKit's
    // keep 524,288 characters), so it is sent at once.
    wait_input_field(b, id)?;
    paste(b, id, "'é✓日'.repeat(350000)")?;
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

pub(crate) fn sleep(b: &Browser, _server: &Server) -> Result<()> {
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

pub(crate) fn service_worker(b: &Browser, _server: &Server) -> Result<()> {
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

/// The element's words when `input()` has no transport to block on.
pub(crate) const NO_INPUT: &str = "input() is not available on this page: it needs cross-origin isolation (the headers \
     Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp) or a browser with \
     JavaScript Promise Integration\n";

pub(crate) fn no_transport(b: &Browser, _server: &Server) -> Result<()> {
    let id = "plain";
    wait_done(b, id)?;
    expect_outputs(
        b,
        id,
        &[
            ("stdout", "slept\n"),
            ("input_prompt", "Name? "),
            ("stdout", &format!("RuntimeError: {NO_INPUT}")),
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
