//! Reading the element under test (its shadow DOM output, `state`, `div.error`, the events the page recorded)
//! and waiting for it; shared by the scenarios of every area. Also leaving the origin without a service worker.

use crate::BOOT_TIMEOUT;
use anyhow::{bail, ensure, Result};
use python_runner_tests::Browser;
use serde_json::{json, Value};

/// A JS expression for the element with this id.
pub(crate) fn el(id: &str) -> String {
    format!("document.getElementById({})", json!(id))
}

/// Waits until the element's `state` attribute is `done` or `error` and returns it.
pub(crate) fn wait_settled(b: &Browser, id: &str) -> Result<String> {
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
pub(crate) fn wait_done(b: &Browser, id: &str) -> Result<()> {
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

/// Waits until `#id` has fired more than `before` `done` events.
pub(crate) fn wait_done_after(b: &Browser, id: &str, before: usize) -> Result<()> {
    b.wait_for(
        &format!(
            "window.__events.filter((e) => e.id === {} && e.type === 'done').length > {before}",
            json!(id)
        ),
        BOOT_TIMEOUT,
    )?;
    Ok(())
}

/// The output chunks of the element as (class, text), consecutive chunks of the same class merged, so the
/// assertions do not depend on how output was split into chunks; a picture is ("picture", its alt text). Skips the
/// input field; fails on any other child that is not a `span`.
pub(crate) fn outputs(b: &Browser, id: &str) -> Result<Vec<(String, String)>> {
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
         return children.map((c) => [c.localName, c.className, c.localName === 'img' ? c.alt : c.textContent]);",
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
            tag == "span"
                || (tag == "div" && class == "dropped")
                || (tag == "img" && class == "picture"),
            "#{id}: output child <{tag} class={class:?}> is not a span"
        );
        match merged.last_mut() {
            Some((last_class, last_text)) if last_class == class => last_text.push_str(text),
            _ => merged.push((class.to_owned(), text.to_owned())),
        }
    }
    Ok(merged)
}

pub(crate) fn expect_outputs(b: &Browser, id: &str, expected: &[(&str, &str)]) -> Result<()> {
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
pub(crate) fn error_text(b: &Browser, id: &str) -> Result<Option<String>> {
    let v = b.eval(&format!(
        "const e = {}.shadowRoot?.querySelector('div.error'); return e ? e.textContent : null;",
        el(id)
    ))?;
    Ok(v.as_str().map(str::to_owned))
}

/// The sequence of `state` values the element went through (from the page's MutationObserver record).
pub(crate) fn states(b: &Browser, id: &str) -> Result<Vec<String>> {
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
pub(crate) fn expect_successful_states(b: &Browser, id: &str) -> Result<()> {
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
pub(crate) fn events(b: &Browser, id: &str) -> Result<Vec<(String, Option<String>)>> {
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

pub(crate) fn count_events(b: &Browser, id: &str, kind: &str) -> Result<usize> {
    Ok(events(b, id)?.iter().filter(|(t, _)| t == kind).count())
}

/// The element fired one `ready` and `runs` `done` events. `error` events are allowed only when the Python code
/// raised (`python_error`: text the message must contain), and then at most one per run: the contract does not
/// say whether a Python exception fires `error` (the element currently does, after `done`), only that a boot
/// failure must.
pub(crate) fn expect_events(
    b: &Browser,
    id: &str,
    runs: usize,
    python_error: Option<&str>,
) -> Result<()> {
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

/// Leaves the origin without a service worker for the other scenarios.
pub(crate) fn unregister_service_workers(b: &Browser) -> Result<()> {
    b.eval_async(
        "const done = arguments[arguments.length - 1];
         navigator.serviceWorker.getRegistrations()
           .then((all) => Promise.all(all.map((r) => r.unregister()))).then(() => done(true), () => done(false));",
    )?;
    Ok(())
}
