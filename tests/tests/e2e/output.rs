//! Output scenarios: what a run shows and which events it fires (a snippet with a traceback, text that looks
//! like HTML, a syntax error, two elements on a page, an output flood the log cannot keep whole).

use crate::element::{
    el, expect_events, expect_outputs, expect_successful_states, outputs, wait_done,
};
use anyhow::{ensure, Result};
use python_runner_tests::{Browser, Server};
use serde_json::{json, Value};

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
