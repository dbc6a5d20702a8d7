//! Lifecycle scenarios: when the element runs and when it stops: lazy start near the viewport, a `manual`
//! element, the `code` property and
//! properties set before the upgrade, the upgrade while the page still parses, removal while running, the
//! bundle loaded from another origin or by `import()`, leaving the page and coming back from the back/forward
//! cache.

use crate::element::{count_events, el, expect_events, expect_outputs, outputs, wait_done};
use crate::BOOT_TIMEOUT;
use anyhow::{ensure, Context, Result};
use python_runner_tests::{Browser, Engine, Server};
use serde_json::json;
use std::time::Duration;

/// Python starts near the viewport: the visible element and the `loading="eager"` one start at once, the
/// far ones only when scrolled to (with their archive) or asked to run; one never reached loads nothing.
pub(crate) fn lazy(b: &Browser, server: &Server) -> Result<()> {
    wait_done(b, "top")?;
    wait_done(b, "eager")?;
    expect_outputs(b, "top", &[("stdout", "top\n")])?;
    expect_outputs(b, "eager", &[("stdout", "eager\n")])?;
    let states = || {
        b.eval(
            "return ['scrolled', 'asked', 'never'].map((id) => document.getElementById(id).state)",
        )
    };
    ensure!(
        states()? == json!(["idle", "idle", "idle"]),
        "far elements started before they came near the viewport: {}",
        states()?
    );
    let archive_requested = || {
        server
            .requests()
            .iter()
            .any(|request| request.url.ends_with("project.zip?lazy"))
    };
    ensure!(
        !archive_requested(),
        "the far element's archive was downloaded before it came near the viewport"
    );
    // One Python for the two started elements, and at most the spare warmed after their runs.
    let workers = b.eval("return window.__workers.length")?;
    ensure!(
        workers
            .as_u64()
            .is_some_and(|count| (1..=2).contains(&count)),
        "{workers} workers started for 2 elements near the viewport (one shared, and the spare)"
    );
    b.eval(&format!("{}.scrollIntoView(); return null", el("scrolled")))?;
    wait_done(b, "scrolled")?;
    expect_outputs(b, "scrolled", &[("stdout", "scrolled hello from mypkg\n")])?;
    ensure!(
        archive_requested(),
        "the scrolled-to element's archive was never downloaded"
    );
    b.eval(&format!("{}.run(); return null", el("asked")))?;
    wait_done(b, "asked")?;
    expect_outputs(b, "asked", &[("stdout", "asked\n")])?;
    let never = b.eval(&format!("return {}.state", el("never")))?;
    ensure!(never == json!("idle"), "#never is {never}, not idle");
    Ok(())
}

pub(crate) fn manual(b: &Browser, _server: &Server) -> Result<()> {
    let id = "manual";
    // Give it time to (not) start, then wait out the boot, if it boots before the first click. The element is
    // upgraded once the bundle's wasm is ready, which a loaded WebKit reaches after this second.
    std::thread::sleep(Duration::from_secs(1));
    b.wait_for(
        &format!(
            "!!{0}.shadowRoot && {0}.getAttribute('state') !== 'loading'",
            el(id)
        ),
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

pub(crate) fn code_property(b: &Browser, _server: &Server) -> Result<()> {
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

pub(crate) fn removed_while_running(b: &Browser, _server: &Server) -> Result<()> {
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
    // The element's worker, and the spare if it had started (300 ms after the code began
    // running: on a loaded machine the removal can come later than that): all terminated.
    let workers = report["workers"].as_array().context("workers")?;
    ensure!(
        report["state"] == json!("idle")
            && (1..=2).contains(&workers.len())
            && workers.iter().all(|terminated| terminated == &json!(true)),
        "expected state idle and the element's worker (and any spare) terminated: {report}"
    );
    Ok(())
}

pub(crate) fn cross_origin_script(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "cross")?;
    expect_outputs(b, "cross", &[("stdout", "from another origin\n")])?;
    expect_events(b, "cross", 1, None)
}

pub(crate) fn module_import(b: &Browser, server: &Server) -> Result<()> {
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

pub(crate) fn parsing_upgrade(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "parsing")?;
    expect_outputs(b, "parsing", &[("stdout", "total 45\nparsed completely\n")])?;
    expect_events(b, "parsing", 1, None)
}

/// tests/fixtures/editable: the reader edits the code with real keys (Enter keeps the indentation and
/// indents after `:`, Shift+Tab dedents, Tab indents one line or every selected one), Ctrl+Enter runs the
/// edit, Ctrl+Z undoes the last edit, Reset restores the element's code, and Esc then Tab leaves the editor;
/// the `code` property follows, and the host hears `input` and `change`.
pub(crate) fn editable(b: &Browser, _server: &Server) -> Result<()> {
    const ORIGINAL: &str = "for i in range(2):\n    print(i)";
    let area = format!("{}.shadowRoot.querySelector('textarea.source')", el("ed"));
    let value = || -> Result<String> {
        let got = b.eval(&format!("return {area}.value"))?;
        Ok(got.as_str().unwrap_or_default().to_owned())
    };
    let code = || b.eval(&format!("return {}.code", el("ed")));
    let reset_disabled = || {
        b.eval(&format!(
            "return {}.shadowRoot.querySelector('button.reset').disabled",
            el("ed")
        ))
    };
    b.wait_for(&format!("{area}?.value === {ORIGINAL:?}"), BOOT_TIMEOUT)?;
    ensure!(
        reset_disabled()? == json!(true),
        "Reset is on before any edit"
    );

    // Enter keeps the indentation, Shift+Tab dedents the line, Enter after `:` indents.
    // (WebDriver keys: a modifier stays down until it is sent again.)
    let keys = "\u{E007}print('end')\u{E008}\u{E004}\u{E008}\u{E007}if True:\u{E007}print('ok')";
    b.type_in_shadow("#ed", "textarea.source", keys)?;
    let edited = format!("{ORIGINAL}\nprint('end')\nif True:\n    print('ok')");
    ensure!(
        value()? == edited,
        "after typing, the editor holds {:?}",
        value()?
    );
    ensure!(code()? == json!(edited), "the code property is {}", code()?);
    ensure!(
        reset_disabled()? == json!(false),
        "Reset is off after an edit"
    );

    // Ctrl+Enter runs the edited code.
    b.type_in_shadow("#ed", "textarea.source", "\u{E009}\u{E007}\u{E009}")?;
    wait_done(b, "ed")?;
    expect_outputs(b, "ed", &[("stdout", "0\n1\nend\nok\n")])?;
    ensure!(
        value()? == edited,
        "running changed the text: {:?}",
        value()?
    );

    // Undo takes back the last edit (typing after the automatic indentation), not more than what was typed.
    if b.engine() == Engine::WebKit {
        // WebKitGTK's WebDriver keys never reach its undo (Ctrl+Z undoes nothing even in a plain
        // textarea there): the test gives the same command the key does.
        b.eval(&format!("{area}.focus(); document.execCommand('undo');"))?;
    } else {
        b.type_in_shadow("#ed", "textarea.source", "\u{E009}z\u{E009}")?;
    }
    let undone = value()?;
    ensure!(
        undone.len() < edited.len() && edited.starts_with(&undone) && undone.starts_with(ORIGINAL),
        "after Ctrl+Z the editor holds {undone:?}"
    );

    // Reset restores the element's code; Tab indents the caret's line to the next stop.
    b.click_in_shadow("#ed", "button.reset")?;
    ensure!(
        value()? == ORIGINAL,
        "after Reset the editor holds {:?}",
        value()?
    );
    ensure!(
        code()? == json!(ORIGINAL),
        "after Reset the code property is {}",
        code()?
    );
    ensure!(reset_disabled()? == json!(true), "Reset is on after Reset");
    b.type_in_shadow("#ed", "textarea.source", "\u{E004}")?;
    ensure!(
        value()? == format!("{ORIGINAL}    "),
        "Tab at the end gave {:?}",
        value()?
    );

    // A selection (Ctrl+A): Tab indents each of its lines, Shift+Tab takes that back.
    b.type_in_shadow("#ed", "textarea.source", "\u{E009}a\u{E009}\u{E004}")?;
    let indented = "    for i in range(2):\n        print(i)    ";
    ensure!(
        value()? == indented,
        "Tab over two lines gave {:?}",
        value()?
    );
    b.type_in_shadow(
        "#ed",
        "textarea.source",
        "\u{E009}a\u{E009}\u{E008}\u{E004}\u{E008}",
    )?;
    ensure!(
        value()? == format!("{ORIGINAL}    "),
        "Shift+Tab over two lines gave {:?}",
        value()?
    );

    // Esc then Tab leaves the editor (keyboard users are not trapped) and changes nothing.
    b.type_in_shadow("#ed", "textarea.source", "\u{E00C}\u{E004}")?;
    let left = b.eval(&format!(
        "return {}.shadowRoot.activeElement !== {area}",
        el("ed")
    ))?;
    ensure!(
        left == json!(true),
        "the focus stayed in the editor after Esc, Tab"
    );
    ensure!(
        value()? == format!("{ORIGINAL}    "),
        "Esc, Tab changed the text to {:?}",
        value()?
    );
    let heard = b.eval("return window.__edits")?;
    ensure!(
        heard["input"].as_u64().is_some_and(|n| n > 0)
            && heard["change"].as_u64().is_some_and(|n| n > 0),
        "the host heard {heard} (input and change events)"
    );
    Ok(())
}

/// Leaving the page lets go of every worker it made (at `pagehide`, before the page is frozen in the back/forward
/// cache: Firefox otherwise stalled the next page's WebAssembly compilation behind the frozen workers); coming back
/// from that cache starts the elements over, as a reload would. An engine that does not keep the page in its cache
/// reloads it instead, which is checked as such and said.
pub(crate) fn back_forward(b: &Browser, _server: &Server) -> Result<()> {
    let id = "first";
    wait_done(b, id)?;
    expect_outputs(b, id, &[("stdout", "first\n")])?;
    b.eval("sessionStorage.clear(); location.href = 'next.html'; return 1")?;
    b.wait_for(
        "location.pathname.endsWith('/next.html') && document.readyState === 'complete'",
        BOOT_TIMEOUT,
    )?;
    b.eval("history.back(); return 1")?;
    b.wait_for(
        "location.pathname.endsWith('/page.html') && document.readyState === 'complete' && \
         JSON.parse(sessionStorage.getItem('shown') ?? '[]').length > 0",
        BOOT_TIMEOUT,
    )?;
    let hidden = b.eval("return JSON.parse(sessionStorage.getItem('hidden'))")?;
    let made = hidden["workers"].as_u64().unwrap_or(0);
    ensure!(
        made >= 1 && hidden["live"] == json!(0),
        "at pagehide every worker should have been terminated: {hidden}"
    );
    let restored =
        b.eval("return JSON.parse(sessionStorage.getItem('shown')).at(-1)")? == json!(true);
    wait_done(b, id)?;
    expect_outputs(b, id, &[("stdout", "first\n")])?;
    if restored {
        ensure!(
            b.eval("return window.__liveSinceHidden()")?.as_u64() >= Some(1),
            "back from the back/forward cache, #first ran again without a new worker"
        );
        ensure!(
            count_events(b, id, "done")? == 2,
            "back from the back/forward cache, #first should have run once more: {:?}",
            b.eval("return window.__events")?
        );
    } else {
        println!(
            "{}: the page was not kept in the back/forward cache (a reload came back); the restore is not \
             exercised here",
            b.engine()
        );
    }
    Ok(())
}
