//! Output scenarios: what a run shows and which events it fires (a snippet with a traceback, text that looks
//! like HTML, a syntax error, two elements on a page, an output flood the log cannot keep whole, pictures).

use crate::element::{
    count_events, el, expect_events, expect_outputs, expect_successful_states, outputs, wait_done,
    wait_done_after,
};
use crate::sharing::click_run;
use anyhow::{ensure, Result};
use python_runner_tests::{Browser, Server};
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) fn snippet(b: &Browser, _server: &Server) -> Result<()> {
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
pub(crate) fn output_flood(b: &Browser, _server: &Server) -> Result<()> {
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

pub(crate) fn html_literal(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "literal")?;
    expect_outputs(b, "literal", &[("stdout", "<b>x</b>\nTrue\n")])?;
    let bold = b.eval(&format!(
        "return {}.shadowRoot.querySelectorAll('b').length",
        el("literal")
    ))?;
    ensure!(bold == json!(0), "{bold} <b> element(s) in the shadow root");
    expect_successful_states(b, "literal")
}

pub(crate) fn syntax_error(b: &Browser, _server: &Server) -> Result<()> {
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

pub(crate) fn two_elements(b: &Browser, _server: &Server) -> Result<()> {
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

/// tests/fixtures/theme: the light and dark colours (`theme`, else the reader's colour scheme), and a site's
/// `--python-runner-*` custom properties, set on the element or inherited, over either.
pub(crate) fn theme(b: &Browser, _server: &Server) -> Result<()> {
    // (host background, host colour, Run's background, source background, Run's corner radius)
    const LIGHT: [&str; 5] = [
        "rgb(255, 255, 255)",
        "rgb(31, 35, 40)",
        "rgb(31, 136, 61)",
        "rgb(246, 248, 250)",
        "4px",
    ];
    const DARK: [&str; 5] = [
        "rgb(13, 17, 23)",
        "rgb(230, 237, 243)",
        "rgb(35, 134, 54)",
        "rgb(22, 27, 34)",
        "4px",
    ];
    let dark_scheme =
        b.eval("return matchMedia('(prefers-color-scheme: dark)').matches")? == json!(true);
    let custom = [
        "rgb(18, 52, 86)",
        "rgb(254, 220, 186)",
        "rgb(171, 205, 239)",
        DARK[3],
        "0px",
    ];
    for (id, want) in [
        ("auto", if dark_scheme { DARK } else { LIGHT }),
        ("light", LIGHT),
        ("dark", DARK),
        ("custom", custom),
    ] {
        b.wait_for(
            &format!("!!{}.shadowRoot?.querySelector('button.run')", el(id)),
            crate::BOOT_TIMEOUT,
        )?;
        let got = b.eval(&format!(
            "const host = {}; const style = (e) => getComputedStyle(e);
             const run = host.shadowRoot.querySelector('button.run');
             return [style(host).backgroundColor, style(host).color, style(run).backgroundColor,
                     style(host.shadowRoot.querySelector('pre.source')).backgroundColor, style(run).borderTopLeftRadius];",
            el(id)
        ))?;
        ensure!(
            got == json!(want),
            "#{id} (reader's scheme dark: {dark_scheme}): colours {got}, want {want:?}"
        );
    }
    Ok(())
}

/// Pictures from `display()`: a PNG made in pure Python and an SVG holding a script, in order with the text
/// around them, as `<img>`s of Blob URLs that decode to their real size; the SVG's script never runs, alt text
/// stays text, the `output` event names each picture's type, and a new run releases the last run's pictures.
pub(crate) fn pictures(b: &Browser, _server: &Server) -> Result<()> {
    let expected = [
        ("stdout", "before\n"),
        ("picture", "Figure 1"),
        ("stdout", "between\n"),
        ("picture", "A green <b>badge</b>"),
        ("stdout", "plain text\n42\n<b>after</b>\n"),
    ];
    wait_done(b, "pictures")?;
    expect_outputs(b, "pictures", &expected)?;
    let images = format!(
        "[...{}.shadowRoot.querySelectorAll('img.picture')]",
        el("pictures")
    );
    b.wait_for(
        &format!("{images}.every((img) => img.complete && img.naturalWidth > 0)"),
        Duration::from_secs(10),
    )?;
    let sizes = b.eval(&format!(
        "return {images}.map((img) => [img.naturalWidth, img.naturalHeight, img.src.slice(0, 5), img.getAttribute('part')])"
    ))?;
    ensure!(
        sizes == json!([[30, 20, "blob:", "picture"], [40, 24, "blob:", "picture"]]),
        "the pictures are {sizes}"
    );
    let parts = b.eval("return window.__pictureParts")?;
    ensure!(
        parts
            == json!([
                ["Figure 1", "image/png"],
                ["A green <b>badge</b>", "image/svg+xml"]
            ]),
        "output events carried the pictures {parts}"
    );
    ensure!(
        b.eval("return window.__svgRan === undefined")? == json!(true),
        "the SVG's script ran"
    );
    let first_url = b.eval(&format!("return {images}[0].src"))?;
    let before = count_events(b, "pictures", "done")?;
    click_run(b, "pictures")?;
    wait_done_after(b, "pictures", before)?;
    expect_outputs(b, "pictures", &expected)?;
    // The first run's picture was released: its Blob URL no longer loads.
    let released = b.eval_async(&format!(
        "const done = arguments[arguments.length - 1];
         fetch({first_url}).then(() => done('still loads'), () => done('released'));"
    ))?;
    ensure!(
        released == json!("released"),
        "the first run's picture {released}"
    );
    expect_successful_states(b, "pictures")?;
    expect_events(b, "pictures", 2, None)
}
