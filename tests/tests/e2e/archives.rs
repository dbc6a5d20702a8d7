//! Archives (`src`: zip, tar.gz, integrity, `entry`, entries escaping the folder, download and unpack errors)
//! and packages installed from the code's imports: what the element loads besides its code.

use crate::element::{
    el, error_text, events, expect_events, expect_outputs, wait_done, wait_settled,
};
use crate::BOOT_TIMEOUT;
use anyhow::{ensure, Result};
use python_runner_tests::{workspace_root, Browser, Server};
use serde_json::json;

pub(crate) fn archive(b: &Browser, server: &Server) -> Result<()> {
    wait_done(b, "zip")?;
    // While Python loads, the text beside the bar shows how far the archive has come.
    let texts = b.eval("return window.__statusTexts")?;
    let size =
        std::fs::metadata(workspace_root().join("tests/fixtures/archive/project.zip"))?.len();
    let progress = format!(
        "project.zip: {} kB of {} kB",
        size.div_ceil(1000),
        size.div_ceil(1000)
    );
    ensure!(
        texts
            .as_array()
            .is_some_and(|texts| texts.contains(&json!(progress))),
        "#zip never showed {progress:?}; status texts: {texts}"
    );
    expect_outputs(
        b,
        "zip",
        &[("stdout", "hello from mypkg HELLO FROM MYPKG\ndata file ✓\n")],
    )?;
    wait_done(b, "targz")?;
    expect_outputs(
        b,
        "targz",
        &[("stdout", "/home/pyodide/proj/mypkg/util.py\nTrue\n")],
    )?;
    wait_done(b, "sri")?;
    expect_outputs(b, "sri", &[("stdout", "verified hello from mypkg\n")])?;
    // `entry` runs a module of the archive as __main__.
    wait_done(b, "entry")?;
    expect_outputs(
        b,
        "entry",
        &[("stdout", "entry __main__ HELLO FROM MYPKG\n")],
    )?;
    // Entries with `..` or an absolute path stay inside the folder: zip skips them...
    wait_done(b, "escape-zip")?;
    expect_outputs(
        b,
        "escape-zip",
        &[("stdout", "['inside.py'] False False\n")],
    )?;
    // ...and tar refuses the archive.
    ensure!(
        wait_settled(b, "escape-tar")? == "error",
        "#escape-tar did not fail"
    );
    let url = server.url("/fixtures/archive/escaping.tar.gz");
    let message = format!("Could not unpack the archive {url} as gztar: tarfile.OutsideDestinationError: '../escaped.py' would be extracted to '/tmp/escaped.py', which is outside the destination");
    ensure!(
        error_text(b, "escape-tar")?.as_deref() == Some(message.as_str()),
        "#escape-tar says {:?}",
        error_text(b, "escape-tar")?
    );
    // Three elements name project.zip: the page downloads it once.
    let fetched = server
        .requests()
        .into_iter()
        .filter(|r| r.url == "/fixtures/archive/project.zip")
        .count();
    ensure!(fetched == 1, "project.zip was requested {fetched} times");
    for id in ["zip", "targz", "sri", "entry", "escape-zip"] {
        expect_events(b, id, 1, None)?;
    }
    Ok(())
}

pub(crate) fn archive_errors(b: &Browser, server: &Server) -> Result<()> {
    let archive = |path: &str| server.url(&format!("/fixtures/archive/{path}"));
    let missing = server.url("/fixtures/archive_errors/missing.zip");
    let cases = [
        ("missing", format!("Could not download the archive {missing}: HTTP 404 Not Found")),
        (
            "corrupt",
            format!("Could not unpack the archive {} as zip: the downloaded file is not a zip file", archive("corrupt.zip")),
        ),
        (
            "wrong-format",
            format!("Could not unpack the archive {} as zip: the downloaded file is not a zip file", archive("project.tar.gz")),
        ),
        (
            "bad-sri",
            format!("The archive {} does not match its integrity attribute: expected sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=, got sha256-UF/gmL5EdflGLgW7yyhJiDp5EdEM7NTlalSUohZslTM=", archive("project.zip")),
        ),
        (
            "no-format",
            format!(
                "Could not load the archive {0}: cannot tell the format of {0} from its name; set format to one of zip, tar, gztar, bztar, xztar, wheel",
                archive("download?id=3")
            ),
        ),
    ];
    let no_cors = server
        .url("/fixtures/archive/project.zip?no_cors=1")
        .replace("127.0.0.1", "localhost");
    let cases = [
        cases.as_slice(),
        &[(
            "no-cors",
            format!(
                "Could not download the archive {no_cors}: {} (a network error, or the server does not allow this page to read it: CORS)",
                b.engine().fetch_failed()
            ),
        )],
    ]
    .concat();
    for (id, message) in &cases {
        ensure!(wait_settled(b, id)? == "error", "#{id} did not fail");
        ensure!(
            error_text(b, id)?.as_deref() == Some(message.as_str()),
            "#{id} says {:?}, expected {message:?}",
            error_text(b, id)?
        );
        let errors: Vec<_> = events(b, id)?
            .into_iter()
            .filter(|(kind, _)| kind == "error")
            .map(|(_, text)| text)
            .collect();
        ensure!(
            errors == [Some(message.clone())],
            "#{id}: error events {errors:?}"
        );
        let spans = b.eval(&format!(
            "return {}.shadowRoot.querySelectorAll('div.output span').length",
            el(id)
        ))?;
        ensure!(
            spans == json!(0),
            "#{id} ran its code after the archive failed"
        );
    }
    // The element stays usable: Run runs the inline code, without the archive.
    for id in ["missing", "corrupt"] {
        b.click_in_shadow(&format!("#{id}"), "button.run")?;
        b.wait_for(&format!("{}.state === 'done'", el(id)), BOOT_TIMEOUT)?;
    }
    expect_outputs(b, "missing", &[("stdout", "inline works\n")])?;
    expect_outputs(b, "corrupt", &[("stdout", "never\n")])
}

pub(crate) fn install_imports(b: &Browser, _server: &Server) -> Result<()> {
    // tabulate is not in Pyodide: micropip (itself loaded first) installs it from the local index.
    wait_done(b, "table")?;
    expect_outputs(
        b,
        "table",
        &[
            (
                "install",
                "Loading micropip…\nInstalling tabulate…\nInstalled tabulate\n",
            ),
            ("stdout", "name      n\n------  ---\na         1\n"),
        ],
    )?;
    expect_events(b, "table", 1, None)?;
    // A package nobody has: its name and micropip's reason, then the run fails at the import. Run once #table is
    // done, it runs in the Python #table ran in (one per page), where micropip is loaded already.
    b.click_in_shadow("#nope", "button.run")?;
    wait_done(b, "nope")?;
    expect_outputs(
        b,
        "nope",
        &[
            (
                "install",
                "Installing not_a_real_package_xyz…\nCould not install not_a_real_package_xyz: ValueError: Can't fetch metadata for 'not-a-real-package-xyz'. Please make sure you have entered a correct package name and correctly specified index_urls (if you changed them).\n",
            ),
            (
                "traceback",
                "Traceback (most recent call last):\n  File \"/home/pyodide/main.py\", line 2, in <module>\n    import not_a_real_package_xyz\nModuleNotFoundError: No module named 'not_a_real_package_xyz'\n",
            ),
        ],
    )?;
    expect_events(
        b,
        "nope",
        1,
        Some("ModuleNotFoundError: No module named 'not_a_real_package_xyz'"),
    )
}

/// While Python downloads (its files served in pieces), a `<progress>` bar shows the bytes received of every
/// download started, Pyodide's and the archive's together: it grows, never goes back, passes through values
/// between empty and full, ends full, and is hidden once Python is ready. The live status says "Loading Python…"
/// and nothing per percent.
pub(crate) fn progress(b: &Browser, _server: &Server) -> Result<()> {
    wait_done(b, "progress")?;
    expect_outputs(b, "progress", &[("stdout", "hello from mypkg\n")])?;
    let bar: Vec<(u64, u64, bool)> = serde_json::from_value(b.eval("return window.__bar")?)?;
    let shown: Vec<(u64, u64)> = bar
        .iter()
        .filter(|(_, _, hidden)| !hidden)
        .map(|(value, max, _)| (*value, *max))
        .collect();
    let size = |path: &str| std::fs::metadata(workspace_root().join(path)).map(|m| m.len());
    let wasm = size("node_modules/pyodide/pyodide.asm.wasm")?;
    let archive = size("tests/fixtures/archive/project.zip")?;
    let largest = shown.iter().map(|(_, max)| *max).max().unwrap_or_default();
    ensure!(
        largest >= wasm + archive,
        "the bar's largest total is {largest} bytes, less than Pyodide's wasm and the archive ({wasm} + {archive}): {bar:?}"
    );
    ensure!(
        shown.windows(2).all(|w| w[0].0 <= w[1].0) && shown.iter().all(|(value, max)| value <= max),
        "the bar went back or past its end: {bar:?}"
    );
    ensure!(
        shown.iter().any(|(value, max)| *value > 0 && value < max),
        "the bar never showed a download in progress: {bar:?}"
    );
    ensure!(
        shown.last().is_some_and(|(value, max)| value == max),
        "the bar did not end full: {bar:?}"
    );
    ensure!(
        bar.last().is_some_and(|(_, _, hidden)| *hidden),
        "the bar is still shown after Python is ready: {bar:?}"
    );
    let words = b.eval("return window.__words")?;
    let allowed = [json!(""), json!("Loading Python…"), json!("Running…")];
    ensure!(
        words
            .as_array()
            .is_some_and(|words| words.iter().all(|w| allowed.contains(w))),
        "the live status said more than its words: {words}"
    );
    expect_events(b, "progress", 1, None)
}
