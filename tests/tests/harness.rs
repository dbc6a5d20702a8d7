//! Self-tests of the test harness itself: the static server (headers, MIME types, mounts, isolation, escapes,
//! delays), the browser helpers (shadow-DOM clicks and typing, console capture of page and worker errors) and
//! Pyodide loading from our server with and without cross-origin isolation. Independent of the product bundle.

use anyhow::{bail, ensure, Context, Result};
use libtest_mimic::{Arguments, Failed, Trial};
use python_runner_tests::server::{http_get, mime_type, HttpResponse};
use python_runner_tests::{Browser, Server, ServerOptions, Suite};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pyodide boots in 2–6 s on an idle 2-core box; far longer when the cores are busy compiling.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

type Check = fn(&Suite) -> Result<()>;

fn main() {
    let args = Arguments::from_args();
    let suite = Arc::new(Suite::new());
    let checks: &[(&str, Check)] = &[
        ("server::isolated_headers", server_isolated_headers),
        ("server::not_isolated_headers", server_not_isolated_headers),
        ("server::mime_types", server_mime_types),
        (
            "server::mounts_redirects_and_404",
            server_mounts_redirects_and_404,
        ),
        ("server::rejects_path_escapes", server_rejects_path_escapes),
        ("server::delays", server_delays),
        ("server::records_requests", server_records_requests),
        ("server::stops_on_drop", server_stops_on_drop),
        (
            "server::answers_parallel_keep_alive_connections",
            server_parallel_keep_alive,
        ),
        (
            "browser::shadow_click_and_type",
            browser_shadow_click_and_type,
        ),
        (
            "browser::console_captures_page_and_worker_errors",
            browser_console_capture,
        ),
        (
            "browser::console_shows_worker_import_404",
            browser_worker_import_404,
        ),
        (
            "browser::wait_for_timeout_reports_context",
            browser_wait_for_timeout,
        ),
        ("browser::paused_document_streams", browser_paused_document),
        ("pyodide::loads_isolated", pyodide_isolated),
        ("pyodide::loads_not_isolated", pyodide_not_isolated),
        (
            "pyodide::loads_from_other_origin_under_coep",
            pyodide_cross_origin,
        ),
    ];
    let trials = checks
        .iter()
        .map(|&(name, check)| {
            let suite = Arc::clone(&suite);
            Trial::test(name, move || {
                check(&suite).map_err(|e| Failed::from(python_runner_tests::report(&e)))
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // Quit the browser and stop the servers before exiting (exit() skips destructors).
    drop(suite);
    conclusion.exit();
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn expect_header(headers: &[(String, String)], name: &str, want: &str, url: &str) -> Result<()> {
    let got = header(headers, name);
    ensure!(
        got == Some(want),
        "{url}: header {name} is {got:?}, expected {want:?}"
    );
    Ok(())
}

fn server_isolated_headers(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    for path in [
        "/pyodide/pyodide.mjs",
        "/fixtures/harness/shadow.html",
        "/fixtures/nope.html",
    ] {
        let url = server.url(path);
        let HttpResponse { headers, .. } = http_get(&url)?;
        expect_header(&headers, "cross-origin-opener-policy", "same-origin", &url)?;
        expect_header(
            &headers,
            "cross-origin-embedder-policy",
            "require-corp",
            &url,
        )?;
        expect_header(
            &headers,
            "cross-origin-resource-policy",
            "cross-origin",
            &url,
        )?;
        expect_header(&headers, "access-control-allow-origin", "*", &url)?;
    }
    let url = server.url("/pyodide/pyodide.mjs");
    let HttpResponse {
        status,
        headers,
        body,
    } = http_get(&url)?;
    ensure!(status == 200, "{url}: status {status}");
    expect_header(
        &headers,
        "content-type",
        "text/javascript; charset=utf-8",
        &url,
    )?;
    expect_header(&headers, "cache-control", "public, max-age=86400", &url)?;
    let on_disk = std::fs::read(
        python_runner_tests::workspace_root().join("node_modules/pyodide/pyodide.mjs"),
    )
    .context("node_modules/pyodide is missing: run `npm ci` in the workspace root")?;
    ensure!(body == on_disk, "{url}: body differs from the file");
    expect_header(&headers, "content-length", &on_disk.len().to_string(), &url)?;
    Ok(())
}

fn server_not_isolated_headers(suite: &Suite) -> Result<()> {
    let server = suite.server(false)?;
    for path in ["/pyodide/pyodide.mjs", "/fixtures/harness/shadow.html"] {
        let url = server.url(path);
        let HttpResponse {
            status, headers, ..
        } = http_get(&url)?;
        ensure!(status == 200, "{url}: status {status}");
        for name in ["cross-origin-opener-policy", "cross-origin-embedder-policy"] {
            ensure!(
                header(&headers, name).is_none(),
                "{url}: unexpected header {name}"
            );
        }
        expect_header(
            &headers,
            "cross-origin-resource-policy",
            "cross-origin",
            &url,
        )?;
        expect_header(&headers, "access-control-allow-origin", "*", &url)?;
    }
    Ok(())
}

fn server_mime_types(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    let served = [
        (
            "/pyodide/pyodide.asm.wasm",
            "application/wasm",
            "public, max-age=86400",
        ),
        (
            "/pyodide/pyodide.asm.mjs",
            "text/javascript; charset=utf-8",
            "public, max-age=86400",
        ),
        (
            "/pyodide/python_stdlib.zip",
            "application/zip",
            "public, max-age=86400",
        ),
        (
            "/pyodide/pyodide-lock.json",
            "application/json",
            "public, max-age=86400",
        ),
        (
            "/fixtures/harness/shadow.html",
            "text/html; charset=utf-8",
            "no-cache",
        ),
        (
            "/fixtures/harness/console-worker.mjs",
            "text/javascript; charset=utf-8",
            "no-cache",
        ),
        (
            "/fixtures/harness/sample.py",
            "text/plain; charset=utf-8",
            "no-cache",
        ),
    ];
    for (path, mime, cache) in served {
        let url = server.url(path);
        let HttpResponse {
            status, headers, ..
        } = http_get(&url)?;
        ensure!(status == 200, "{url}: status {status}");
        expect_header(&headers, "content-type", mime, &url)?;
        expect_header(&headers, "cache-control", cache, &url)?;
    }
    let by_name = [
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.whl", "application/zip"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.data", "application/octet-stream"),
        ("a.json", "application/json"),
        ("a.HTML", "text/html; charset=utf-8"),
        ("noext", "application/octet-stream"),
    ];
    for (name, mime) in by_name {
        let got = mime_type(Path::new(name));
        ensure!(got == mime, "mime_type({name}) = {got}, expected {mime}");
    }
    Ok(())
}

fn server_mounts_redirects_and_404(suite: &Suite) -> Result<()> {
    let server = suite.server(false)?;
    let HttpResponse {
        status, headers, ..
    } = http_get(&server.url("/fixtures/harness/dir"))?;
    ensure!(status == 301, "directory without slash: status {status}");
    ensure!(
        header(&headers, "location") == Some("/fixtures/harness/dir/"),
        "redirect location {:?}",
        header(&headers, "location")
    );
    let HttpResponse { status, body, .. } = http_get(&server.url("/fixtures/harness/dir/"))?;
    ensure!(
        status == 200 && String::from_utf8_lossy(&body).contains("index of dir"),
        "index.html not served"
    );
    let HttpResponse { status, body, .. } = http_get(&server.url("/pyodide/"))?;
    ensure!(
        status == 200 && String::from_utf8_lossy(&body).contains("pyodide.mjs"),
        "no listing of /pyodide/"
    );
    // The bench's library part loads the upstream npm packages from /node_modules/.
    let HttpResponse {
        status, headers, ..
    } = http_get(&server.url("/node_modules/comsync/dist/index.js"))?;
    ensure!(
        status == 200 && header(&headers, "content-type") == Some("text/javascript; charset=utf-8"),
        "/node_modules/comsync/dist/index.js: status {status}, type {:?}",
        header(&headers, "content-type")
    );
    for missing in [
        "/fixtures/nope.html",
        "/pyodide/nope.whl",
        "/dist/nope.js",
        "/nope/pyodide.mjs",
    ] {
        let HttpResponse { status, .. } = http_get(&server.url(missing))?;
        ensure!(status == 404, "{missing}: status {status}, expected 404");
    }
    if !python_runner_tests::workspace_root()
        .join("demo/favicon.ico")
        .exists()
    {
        let HttpResponse { status, .. } = http_get(&server.url("/favicon.ico"))?;
        ensure!(status == 204, "/favicon.ico: status {status}, expected 204");
    }
    Ok(())
}

fn server_rejects_path_escapes(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    for path in [
        "/fixtures/../Cargo.toml",
        "/fixtures/%2e%2e/Cargo.toml",
        "/fixtures/harness/..%2f..%2f..%2fCargo.toml",
        "/pyodide/..%5c..%5cCargo.toml",
        "/..%2fCargo.toml",
        "//etc/passwd",
        "/fixtures/%00",
        "/fixtures/%zz",
    ] {
        let HttpResponse { status, body, .. } = http_get(&server.url(path))?;
        ensure!(
            matches!(status, 400 | 404),
            "{path}: status {status}, expected 400/404"
        );
        ensure!(
            !String::from_utf8_lossy(&body).contains("[workspace]"),
            "{path} escaped its mount"
        );
    }
    Ok(())
}

fn server_delays(_suite: &Suite) -> Result<()> {
    let server = Server::start(
        ServerOptions::not_isolated()
            .with_delay("/fixtures/harness/dir/", Duration::from_millis(500)),
    )?;
    let start = Instant::now();
    let HttpResponse { status, .. } =
        http_get(&server.url("/fixtures/harness/sample.py?delay_ms=500"))?;
    let took = start.elapsed();
    ensure!(
        status == 200 && took >= Duration::from_millis(500),
        "delay_ms: status {status} after {took:?}"
    );
    let start = Instant::now();
    http_get(&server.url("/fixtures/harness/dir/index.html"))?;
    let took = start.elapsed();
    ensure!(
        took >= Duration::from_millis(500),
        "prefix delay: answered after {took:?}"
    );
    let start = Instant::now();
    http_get(&server.url("/fixtures/harness/sample.py"))?;
    let took = start.elapsed();
    ensure!(
        took < Duration::from_millis(400),
        "undelayed request took {took:?}"
    );
    Ok(())
}

fn server_records_requests(_suite: &Suite) -> Result<()> {
    let server = Server::start(ServerOptions::isolated())?;
    http_get(&server.url("/fixtures/harness/sample.py"))?;
    http_get(&server.url("/nope/pyodide.mjs?x=1"))?;
    let log: Vec<(String, u16)> = server
        .requests()
        .into_iter()
        .map(|r| (r.url, r.status))
        .collect();
    ensure!(
        log == [
            ("/fixtures/harness/sample.py".to_owned(), 200),
            ("/nope/pyodide.mjs?x=1".to_owned(), 404)
        ],
        "request log {log:?}"
    );
    server.clear_requests();
    ensure!(server.requests().is_empty(), "clear_requests left entries");
    Ok(())
}

fn server_stops_on_drop(_suite: &Suite) -> Result<()> {
    let server = Server::start(ServerOptions::isolated())?;
    let port = server.port();
    ensure!(
        server.base_url == format!("http://127.0.0.1:{port}"),
        "base_url {}",
        server.base_url
    );
    drop(server);
    ensure!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still accepts connections after drop"
    );
    // And the port can be bound again.
    let again = Server::start(ServerOptions::isolated().with_port(port))?;
    ensure!(again.port() == port, "rebinding gave port {}", again.port());
    Ok(())
}

/// A browser opens up to six connections per host at once and keeps them open. Each burst here opens six new
/// connections together, sends one keep-alive request on each, and keeps them all open; every request must be
/// answered. (tiny_http's thread pool, used before, lost two of the first six: the CI hang of issue 10, where
/// Pyodide's `import()` of pyodide.asm.mjs was sent but never answered.)
fn server_parallel_keep_alive(_suite: &Suite) -> Result<()> {
    use std::io::{Read, Write};
    const BURSTS: usize = 20;
    const PER_BURST: usize = 6;
    let server = Server::start(ServerOptions::isolated())?;
    let port = server.port();
    let mut open = Vec::new();
    for burst in 0..BURSTS {
        let threads: Vec<_> = (0..PER_BURST)
            .map(|_| {
                std::thread::spawn(move || -> Result<std::net::TcpStream> {
                    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
                    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                    write!(
                        stream,
                        "GET /fixtures/harness/sample.py HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
                    )?;
                    let mut head = [0u8; 12];
                    stream
                        .read_exact(&mut head)
                        .context("no answer within 5 s")?;
                    ensure!(&head == b"HTTP/1.1 200", "answer {:?}", String::from_utf8_lossy(&head));
                    Ok(stream)
                })
            })
            .collect();
        for (i, thread) in threads.into_iter().enumerate() {
            let stream = thread
                .join()
                .map_err(|_| anyhow::anyhow!("connection thread panicked"))?
                .with_context(|| {
                    format!(
                        "burst {burst}, connection {i} (with {} kept open)",
                        open.len()
                    )
                })?;
            open.push(stream);
        }
    }
    Ok(())
}

/// Fails if the page reported any SEVERE console entry.
fn expect_clean_console(browser: &Browser) -> Result<()> {
    let errors = browser.console_errors()?;
    ensure!(
        errors.is_empty(),
        "unexpected console errors:\n  {}",
        errors.join("\n  ")
    );
    Ok(())
}

fn browser_shadow_click_and_type(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    suite.with_browser(|b| {
        b.goto(&server.url("/fixtures/harness/shadow.html"))?;
        b.type_in_shadow("test-widget", "input.name", "Ada")?;
        b.click_in_shadow("test-widget", "button.go")?;
        b.wait_for(
            "document.querySelector('test-widget').shadowRoot.querySelector('.out').textContent === 'echo: Ada #1'",
            Duration::from_secs(10),
        )?;
        ensure!(b.eval("return window.__trusted")? == json!(true), "the click was not a trusted event");
        let name = b.accessible_name_in_shadow("test-widget", "button.go")?;
        let role = b.accessible_role_in_shadow("test-widget", "button.go")?;
        ensure!(name == "Go" && role == "button", "accessible name {name:?}, role {role:?}");
        b.click_in_shadow("test-widget", "button.go")?;
        b.wait_for(
            "document.querySelector('test-widget').shadowRoot.querySelector('.out').textContent === 'echo: Ada #2'",
            Duration::from_secs(10),
        )?;
        let missing = b.click_in_shadow("test-widget", "button.nope");
        let message = python_runner_tests::report(&missing.err().context("clicking a missing element succeeded")?);
        ensure!(message.contains("nothing matches button.nope"), "unhelpful error: {message}");
        let no_host = b.click_in_shadow("no-such-host", "button");
        let message = python_runner_tests::report(&no_host.err().context("clicking in a missing host succeeded")?);
        ensure!(message.contains("no element matches no-such-host"), "unhelpful error: {message}");
        // Async scripts work and wait.
        let v = b.eval_async("const done = arguments[arguments.length - 1]; setTimeout(() => done(6 * 7), 50);")?;
        ensure!(v == json!(42), "eval_async returned {v}");
        expect_clean_console(b)
    })
}

fn browser_console_capture(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    suite.with_browser(|b| {
        b.goto(&server.url("/fixtures/harness/console.html"))?;
        b.wait_for("window.__done === true", Duration::from_secs(10))?;
        // (source, text) pairs that must show up as SEVERE entries.
        let expected = [
            ("console-api", "deliberate page console.error"),
            ("worker", "Uncaught Error: deliberate blob worker error"),
            ("worker", "deliberate file worker console.error"),
            ("worker", "Uncaught Error: deliberate file worker error"),
            ("worker", "Uncaught (in promise) Error: deliberate file worker rejection"),
            ("network", "does-not-exist.js - Failed to load resource: the server responded with a status of 404"),
        ];
        for (source, text) in expected {
            b.wait_for_console(
                &format!("[SEVERE {source}] …{text}…"),
                |e| e.level == "SEVERE" && e.source == source && e.message.contains(text),
                Duration::from_secs(10),
            )?;
        }
        let entries = b.console_entries()?;
        ensure!(
            entries.iter().any(|e| e.level == "INFO" && e.message.contains("harmless page info")),
            "console.info not captured: {entries:#?}"
        );
        let severe = entries.iter().filter(|e| e.level == "SEVERE").count();
        ensure!(severe == expected.len(), "expected {} SEVERE entries, got {entries:#?}", expected.len());
        // Entries are handed out once.
        ensure!(b.console_errors()?.is_empty(), "console_errors did not drain");
        Ok(())
    })
}

fn browser_worker_import_404(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    suite.with_browser(|b| {
        b.goto(&server.url("/fixtures/harness/import404.html"))?;
        let message = b.wait_for("window.__message", Duration::from_secs(10))?;
        ensure!(
            message
                .as_str()
                .is_some_and(|m| m.contains("Failed to fetch dynamically imported module")),
            "worker got {message}"
        );
        b.wait_for("window.__fetchStatus === 404", Duration::from_secs(10))?;
        std::thread::sleep(Duration::from_millis(500));
        // Chromium does not report 404s of requests made by a worker (nor the handled import failure): the
        // console stays clean, and only the server's request log shows them.
        let errors = b.console_errors()?;
        ensure!(errors.is_empty(), "console errors {errors:#?}");
        let not_found: Vec<String> = server
            .requests()
            .into_iter()
            .filter(|r| r.status == 404)
            .map(|r| r.url)
            .collect();
        ensure!(
            not_found.contains(&"/nope/pyodide.mjs".to_owned())
                && not_found.contains(&"/nope/data.json".to_owned()),
            "server saw 404s {not_found:?}"
        );
        Ok(())
    })
}

fn browser_wait_for_timeout(suite: &Suite) -> Result<()> {
    let server = suite.server(false)?;
    suite.with_browser(|b| {
        b.goto(&server.url("/fixtures/harness/shadow.html"))?;
        b.eval("console.error('context marker'); return null;")?;
        let Err(e) = b.wait_for("document.title === 'never'", Duration::from_millis(300)) else {
            bail!("wait_for did not time out");
        };
        let message = python_runner_tests::report(&e);
        for part in [
            "timed out after",
            "document.title === 'never'",
            "shadow.html",
            "context marker",
        ] {
            ensure!(
                message.contains(part),
                "timeout message lacks {part:?}:\n{message}"
            );
        }
        // Exceptions in the predicate mean "not yet", and are shown.
        let Err(e) = b.wait_for("window.nope.deeper", Duration::from_millis(200)) else {
            bail!("wait_for on a throwing predicate did not time out");
        };
        let message = python_runner_tests::report(&e);
        ensure!(
            message.contains("TypeError"),
            "timeout message lacks the exception:\n{message}"
        );
        // The context report peeks, so the entry is still there to collect.
        let errors = b.console_errors()?;
        ensure!(
            errors.len() == 1 && errors[0].contains("context marker"),
            "errors {errors:?}"
        );
        Ok(())
    })
}

fn browser_paused_document(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    suite.with_browser(|b| {
        b.goto(&server.url("/fixtures/harness/pause.html?pause_ms=500"))?;
        let gap = b.eval("return window.__t1 - window.__t0")?;
        let gap = gap.as_f64().context("no timing recorded")?;
        ensure!(
            gap >= 400.0,
            "the tail of the document arrived only {gap} ms after the head"
        );
        ensure!(
            b.eval("return window.__afterSeenEarly")? == json!(false),
            "the tail was already parsed when the first script ran"
        );
        expect_clean_console(b)
    })
}

/// Loads pyodide.html from `page_server` (Pyodide from `index`, default same origin) and returns `__result`.
fn load_pyodide(b: &Browser, page_url: &str) -> Result<Value> {
    b.goto(page_url)?;
    let result = b.wait_for("window.__result", BOOT_TIMEOUT)?;
    if let Some(error) = result.get("error") {
        bail!(
            "Pyodide failed in the worker: {error}\n{}",
            b.context_report()
        );
    }
    ensure!(
        result["out"] == json!(["hello from Python (3, 14)"]),
        "unexpected Python output {}",
        result["out"]
    );
    Ok(result)
}

fn pyodide_isolated(suite: &Suite) -> Result<()> {
    let server = suite.server(true)?;
    suite.with_browser(|b| {
        let r = load_pyodide(b, &server.url("/fixtures/harness/pyodide.html"))?;
        ensure!(
            r["pageCoi"] == json!(true) && r["coi"] == json!(true),
            "not cross-origin isolated: {r}"
        );
        ensure!(
            r["sab"] == json!("function"),
            "no SharedArrayBuffer in the worker: {r}"
        );
        expect_clean_console(b)
    })
}

fn pyodide_not_isolated(suite: &Suite) -> Result<()> {
    let server = suite.server(false)?;
    suite.with_browser(|b| {
        let r = load_pyodide(b, &server.url("/fixtures/harness/pyodide.html"))?;
        ensure!(
            r["pageCoi"] == json!(false) && r["coi"] == json!(false),
            "unexpectedly isolated: {r}"
        );
        ensure!(
            r["sab"] == json!("undefined"),
            "SharedArrayBuffer without isolation: {r}"
        );
        expect_clean_console(b)
    })
}

fn pyodide_cross_origin(suite: &Suite) -> Result<()> {
    let page = suite.server(true)?;
    let other = suite.server(false)?;
    suite.with_browser(|b| {
        let url = page.url(&format!(
            "/fixtures/harness/pyodide.html?index={}/pyodide/",
            other.base_url
        ));
        let r = load_pyodide(b, &url)?;
        ensure!(r["coi"] == json!(true), "page not isolated: {r}");
        expect_clean_console(b)
    })
}
