//! Warm start: a first visit makes the memory snapshot and stores it, later visits start from it
//! (`ready`'s `detail.warm`) with their own random numbers, and archives, `input()`, sleep,
//! `install-imports` and Stop work there; `snapshot="off"`, another Pyodide URL and a damaged
//! cache entry start in full, without an error for the reader.

use crate::element::{count_events, el, expect_outputs, outputs, wait_done, wait_done_after};
use crate::input_stop::answer;
use anyhow::{ensure, Context, Result};
use python_runner_tests::{Browser, Server};
use serde_json::json;

/// The Cache API cache the worker keeps snapshots in.
const CACHE: &str = "python-runner-snapshots";

/// Opens the page with one element on `query`, waits until it is done, and returns whether it
/// started warm and the random number it printed. Each visit has its own URL (`&visit=N`): in
/// WebKitGTK 2.50, loading the URL the tab shows (a reload) empties the origin's Cache API, and
/// later puts there do not stick, so a reload loses the snapshot (see the README).
fn visit(b: &Browser, server: &Server, query: &str) -> Result<(bool, String)> {
    static VISITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let visit = VISITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    b.goto(&server.url(&format!("/fixtures/warm/page.html?{query}&visit={visit}")))?;
    wait_done(b, "w")?;
    let warm = b.eval("return window.__warm")?;
    ensure!(
        warm.as_array().is_some_and(|all| all.len() == 1),
        "ready events: {warm}"
    );
    let out = outputs(b, "w")?;
    let [(class, text)] = out.as_slice() else {
        anyhow::bail!("#w printed {out:?}");
    };
    let (number, paths) = text.trim_end().split_once(' ').unwrap_or_default();
    ensure!(
        class == "stdout" && paths == "1" && number.parse::<f64>().is_ok(),
        "#w printed {out:?} (a random number and how often '' is on sys.path)"
    );
    Ok((warm[0] == json!(true), number.to_owned()))
}

/// Waits until the page stored a snapshot for Pyodide at `path` (e.g. `/pyodide/`): its
/// `python-runner-snapshot` event, which comes once `cache.put` resolved. (Seeing the key in
/// `cache.keys()` is not enough: WebKitGTK lists an entry while its write goes on, and loses it
/// when the page is left then.)
pub(crate) fn wait_stored(b: &Browser, path: &str) -> Result<()> {
    b.wait_for(
        &format!(
            "window.__snapshots.some((s) => s.key.includes({:?}) && s.bytes > 0)",
            format!("{path}python-runner-snapshot/")
        ),
        std::time::Duration::from_secs(60),
    )
    .map(drop)
}

/// Runs `body` (async JS using `cache`) on the snapshot cache and waits for it.
fn on_cache(b: &Browser, body: &str) -> Result<serde_json::Value> {
    b.eval_async(&format!(
        "const done = arguments[arguments.length - 1];
         (async () => {{ const cache = await caches.open({CACHE:?}); {body} }})()
           .then(done, (e) => done('failed: ' + e));"
    ))
}

pub(crate) fn warm(b: &Browser, server: &Server) -> Result<()> {
    // Earlier scenarios on this origin may have stored a snapshot: start from none.
    b.eval_async(&format!(
        "const done = arguments[arguments.length - 1]; caches.delete({CACHE:?}).then(done, done);"
    ))?;
    let (warm, _) = visit(b, server, "url=/pyodide/")?;
    ensure!(!warm, "the first visit started warm");
    wait_stored(b, "/pyodide/").context("the first visit made no snapshot")?;

    // Later visits start warm, each with its own random numbers.
    let (first_warm, first) = visit(b, server, "url=/pyodide/")?;
    let (second_warm, second) = visit(b, server, "url=/pyodide/")?;
    ensure!(
        first_warm && second_warm,
        "a later visit did not start warm"
    );
    ensure!(
        first != second,
        "two warm starts printed the same random number {first}"
    );

    warm_python_works(b, server)?;

    // Opted out, or another Pyodide: a full start.
    let (warm, _) = visit(b, server, "url=/pyodide/&off=1")?;
    ensure!(!warm, "snapshot=\"off\" started warm");
    let (warm, _) = visit(b, server, "url=/slow/pyodide/")?;
    ensure!(
        !warm,
        "another Pyodide URL started from /pyodide/'s snapshot"
    );

    // A damaged entry (bytes changed, checksum kept) is noticed: a full start, and it is gone.
    let damaged = on_cache(
        b,
        "for (const key of await cache.keys()) {
           if (!key.url.includes('/pyodide/python-runner-snapshot/') || key.url.includes('/slow/')) continue;
           const response = await cache.match(key);
           const bytes = new Uint8Array(await response.arrayBuffer());
           for (let i = bytes.length >> 1; i < (bytes.length >> 1) + 4096; i++) bytes[i] ^= 0xff;
           await cache.put(key, new Response(bytes, { headers: response.headers }));
           return true;
         }
         return false;",
    )?;
    ensure!(damaged == json!(true), "no snapshot to damage: {damaged}");
    let (warm, _) = visit(b, server, "url=/pyodide/")?;
    ensure!(!warm, "a damaged snapshot was restored");
    let status = b.eval(&format!(
        "return {}.shadowRoot.querySelector('div.error')?.textContent ?? ''",
        el("w")
    ))?;
    ensure!(status == json!(""), "the reader saw an error: {status}");
    // That full start makes a sound snapshot in its place (later scenarios on this origin start from it).
    wait_stored(b, "/pyodide/").context("no snapshot replaced the damaged one")
}

/// On warm starts: an archive, `time.sleep` and `input()`; `install-imports` (micropip loads
/// after the restore); Stop of a busy loop (`KeyboardInterrupt`, or a restart that is warm too).
fn warm_python_works(b: &Browser, server: &Server) -> Result<()> {
    b.goto(&server.url("/fixtures/warm/page.html?full=1"))?;
    b.wait_for(&format!("{}.activeTransport", el("a")), crate::BOOT_TIMEOUT)?;
    if b.eval(&format!("return {}.activeTransport", el("a")))? == json!("none") {
        // Nothing can block here (WebKit without isolation): the archive imports, input() explains.
        wait_done(b, "a")?;
        let out = outputs(b, "a")?;
        ensure!(
            matches!(out.as_slice(), [(prompt, asked), (traceback, text)]
                if prompt == "input_prompt" && asked == "name? " && traceback == "traceback"
                    && text.ends_with(crate::input_stop::NO_INPUT)),
            "#a without a blocking transport: {out:?}"
        );
    } else {
        crate::sharing::wait_input(b, "a")?;
        answer(
            b,
            "a",
            "\"Ada\"",
            &[
                ("input_prompt", "name? "),
                ("input", "Ada\n"),
                ("stdout", "hello from mypkg Ada\n"),
            ],
        )?;
    }
    wait_done(b, "i")?;
    expect_outputs(
        b,
        "i",
        &[
            (
                "install",
                "Loading micropip…\nInstalling tabulate…\nInstalled tabulate\n",
            ),
            ("stdout", "tabulate\n"),
        ],
    )?;
    let before = count_events(b, "busy", "done")?;
    b.click_in_shadow("#busy", "button.run")?;
    b.wait_for(
        &format!(
            "{}.shadowRoot.querySelector('div.output').textContent.includes('busy')",
            el("busy")
        ),
        crate::BOOT_TIMEOUT,
    )?;
    let starts = b.eval("return window.__warm.length")?;
    b.click_in_shadow("#busy", "button.stop")?;
    wait_done_after(b, "busy", before)?;
    let isolated = b.eval("return self.crossOriginIsolated")? == json!(true);
    if isolated {
        let out = outputs(b, "busy")?;
        ensure!(
            out.last().is_some_and(
                |(class, text)| class == "traceback" && text.ends_with("KeyboardInterrupt\n")
            ),
            "#busy after Stop: {out:?}"
        );
    } else {
        // JSPI cannot interrupt a loop: Stop restarts the worker, which starts warm too.
        b.wait_for(
            &format!("window.__warm.length > {starts}"),
            crate::BOOT_TIMEOUT,
        )?;
    }
    let warm = b.eval("return window.__warm")?;
    ensure!(
        warm.as_array()
            .is_some_and(|all| all.len() >= 3 && all.iter().all(|w| *w == json!(true))),
        "not every start of the page was warm: {warm}"
    );
    Ok(())
}
