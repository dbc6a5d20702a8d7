//! Headless Chromium driven through chromedriver (WebDriver, via fantoccini), behind a small blocking API:
//! navigate, run scripts, poll for conditions, click/type inside open shadow roots, press keys wherever the focus is,
//! collect console errors.
//!
//! The API is blocking on purpose (each `Browser` owns a private tokio runtime), so plain `#[test]`s and
//! libtest-mimic trials can use it. Do not call it from inside another tokio runtime.
//!
//! Process hygiene: chromedriver runs under a tiny `sh` watchdog that is the leader of a new process group.
//! Chromium (started by chromedriver) stays in that group. The watchdog kills the whole group as soon as its stdin
//! reaches EOF, which happens on [`Drop`] and also when the test process dies for any reason (panic, abort, ^C),
//! so no chromedriver/Chromium outlives the tests. A normal drop first quits the WebDriver session gracefully.

use crate::engine::{parse_firefox_console, ConsoleSource, Engine, EnginePaths};
use anyhow::{anyhow, bail, Context, Result};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::{Element, ElementRef};
use fantoccini::wd::{TimeoutConfiguration, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Key of a web element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Script timeout for [`Browser::eval_async`] (WebDriver default is 30 s; Pyodide boots can take longer on a busy box).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Page-load timeout for [`Browser::goto`].
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// How to launch the browser.
#[derive(Clone, Debug)]
pub struct BrowserOptions {
    /// Which engine (default Chromium).
    pub engine: Engine,
    /// The engines' and drivers' binaries (see [`EnginePaths`]).
    pub paths: EnginePaths,
    /// Run headless (default true; `NO_HEADLESS=1` turns it off, needs a display). WebKit always runs under Xvfb.
    pub headless: bool,
    /// Extra Chromium command-line switches, appended after the defaults (default: `$CHROMIUM_EXTRA_ARGS` split
    /// on whitespace, e.g. `--log-net-log=/tmp/net.json --net-log-capture-mode=Everything` to debug a hang).
    pub extra_args: Vec<String>,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            engine: Engine::Chromium,
            paths: EnginePaths::default(),
            headless: std::env::var_os("NO_HEADLESS").is_none(),
            extra_args: std::env::var("CHROMIUM_EXTRA_ARGS")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }
    }
}

impl BrowserOptions {
    /// The default options for `engine`.
    pub fn for_engine(engine: Engine) -> BrowserOptions {
        BrowserOptions {
            engine,
            ..BrowserOptions::default()
        }
    }
}

/// One entry of the browser console, as chromedriver reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleEntry {
    /// `SEVERE`, `WARNING`, `INFO`, `DEBUG`.
    pub level: String,
    /// `console-api` (page console.*), `javascript` (uncaught in the page), `worker` (console.* or uncaught in a
    /// dedicated worker), `network` (failed loads such as 404s), ...
    pub source: String,
    /// URL, position and text, e.g. `http://127.0.0.1:1234/x.html 3:8 "boom"`.
    pub message: String,
}

impl std::fmt::Display for ConsoleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} {}] {}", self.level, self.source, self.message)
    }
}

/// chromedriver's legacy log endpoint (`POST /session/{id}/se/log`, `{"type":"browser"}`): returns and clears
/// the entries gathered since the previous call.
#[derive(Debug)]
struct GetBrowserLog;

impl WebDriverCompatibleCommand for GetBrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> std::result::Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// `GET /session/{id}/element/{element}/{what}` for element properties fantoccini has no method for
/// (`computedlabel`, `computedrole`).
#[derive(Debug)]
struct GetElementProperty {
    element: String,
    what: &'static str,
}

impl WebDriverCompatibleCommand for GetElementProperty {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> std::result::Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/element/{}/{}",
            session_id.unwrap_or_default(),
            self.element,
            self.what
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::GET, None)
    }
}

/// The WebDriver server (chromedriver, geckodriver or WebKitWebDriver under xvfb-run) under its watchdog.
struct Driver {
    /// `None` only during drop.
    watchdog: Option<Child>,
    /// Dropping (closing) this makes the watchdog kill the driver's whole process group.
    stdin: Option<ChildStdin>,
    url: String,
    /// chromedriver's own log (`--log-path`), or the driver's output for the others.
    log_path: PathBuf,
    /// The driver's (and, for geckodriver and WebKitWebDriver, the browser's) standard output and error.
    out_path: PathBuf,
    /// The watchdog's pid, which is also the id of the process group it leads (driver and browser).
    pgid: u32,
}

impl Driver {
    fn start(paths: &EnginePaths, engine: Engine, dir: &Path) -> Result<Driver> {
        let out_path = dir.join("driver.out");
        let log_path = match engine {
            Engine::Chromium => dir.join("driver.log"),
            Engine::Firefox | Engine::WebKit => out_path.clone(),
        };
        // A free port, released just before the driver takes it (WebKitWebDriver cannot pick one itself).
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .context("could not find a free port for the WebDriver server")?
            .port();
        let command = paths.driver(engine, port, dir);
        // $1 = temp dir to delete at the end, $2 = output file, rest = driver command. On EOF: `kill 0`
        // signals the whole process group (driver, browser and its helpers, Xvfb; the group was created for us by
        // `process_group(0)`), with TERM ignored by this shell only. If the test process died, nobody deletes the
        // profile, so the watchdog does it once the browser had time to exit (after a normal drop it is gone).
        let script = r#"dir="$1"; out="$2"; shift 2; "$@" >"$out" 2>&1 </dev/null &
read -r _; trap '' TERM; kill -TERM 0; wait; sleep 3; rm -rf -- "$dir""#;
        let mut watchdog = Command::new("/bin/sh");
        watchdog
            .arg("-c")
            .arg(script)
            .arg("python-runner-webdriver-watchdog")
            .arg(dir)
            .arg(&out_path)
            .args(&command.argv)
            .envs(command.env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        let mut watchdog = watchdog
            .spawn()
            .with_context(|| format!("could not start {} under /bin/sh", command.argv[0]))?;
        let stdin = watchdog.stdin.take();
        let pgid = watchdog.id();
        let mut driver = Driver {
            watchdog: Some(watchdog),
            stdin,
            url: format!("http://127.0.0.1:{port}/"),
            log_path,
            out_path,
            pgid,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            let out = || std::fs::read_to_string(&driver.out_path).unwrap_or_default();
            if Instant::now() > deadline {
                bail!(
                    "{} did not listen on port {port} within 20 s; its output:\n{}",
                    command.argv.join(" "),
                    out()
                );
            }
            if let Some(Ok(Some(status))) = driver.watchdog.as_mut().map(Child::try_wait) {
                bail!(
                    "{} exited early ({status}); its output:\n{}",
                    command.argv.join(" "),
                    out()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Ok(driver)
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // EOF on its stdin makes the watchdog kill chromedriver's process group.
        drop(self.stdin.take());
        // Reap the watchdog in the background: it lingers a few seconds to delete a leftover profile.
        if let Some(mut watchdog) = self.watchdog.take() {
            std::thread::spawn(move || watchdog.wait());
        }
    }
}

/// A headless Chromium session. Dropping it quits the session, stops chromedriver and deletes the profile.
pub struct Browser {
    // Field order matters for drop: the client (session) goes first, then the driver, then the profile dir.
    client: Option<Client>,
    rt: tokio::runtime::Runtime,
    driver: Driver,
    dir: tempfile::TempDir,
    /// Console entries fetched from chromedriver but not yet handed out by `console_entries`.
    pending_console: Mutex<Vec<ConsoleEntry>>,
    engine: Engine,
    /// Bytes of Firefox's output already parsed into console entries.
    console_read: Mutex<usize>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("webdriver", &self.driver.url)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

/// Chromium switches used for every session (besides `--headless=new` and `--user-data-dir`).
pub const CHROMIUM_ARGS: &[&str] = &[
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium with the default [`BrowserOptions`].
    pub fn launch() -> Result<Browser> {
        Browser::launch_with(BrowserOptions::default())
    }

    /// Starts the engine's WebDriver server and a fresh browser (new temporary profile).
    pub fn launch_with(options: BrowserOptions) -> Result<Browser> {
        let engine = options.engine;
        if let Some(missing) = options.paths.missing(engine) {
            bail!("{engine}: {missing}");
        }
        let dir = tempfile::Builder::new()
            .prefix("python-runner-browser-")
            .tempdir()
            .context("could not create a temporary directory for the browser profile")?;
        let profile = dir.path().join("profile");
        let driver = Driver::start(&options.paths, engine, dir.path())?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("could not build the tokio runtime for WebDriver")?;

        let mut switches: Vec<String> = CHROMIUM_ARGS.iter().map(|s| (*s).to_owned()).collect();
        switches.extend(options.extra_args.iter().cloned());
        let caps = options
            .paths
            .capabilities(engine, options.headless, &switches, &profile);

        let connect = async {
            let client =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&driver.url)
                    .await?;
            client
                .update_timeouts(TimeoutConfiguration::new(
                    Some(SCRIPT_TIMEOUT),
                    Some(PAGE_LOAD_TIMEOUT),
                    Some(Duration::ZERO),
                ))
                .await?;
            anyhow::Ok(client)
        };
        let client = match rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), connect).await }) {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => bail!(
                "could not create a {engine} WebDriver session on {}: {e:#}\ndriver log tail:\n{}",
                driver.url,
                driver.log_tail(30)
            ),
            Err(_) => bail!(
                "creating a {engine} WebDriver session on {} timed out after 60 s\ndriver log tail:\n{}",
                driver.url,
                driver.log_tail(30)
            ),
        };
        Ok(Browser {
            client: Some(client),
            rt,
            driver,
            dir,
            pending_console: Mutex::new(Vec::new()),
            engine,
            console_read: Mutex::new(0),
        })
    }

    /// The engine of this browser.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether this engine's console can be read (see [`ConsoleSource`]); where not, [`Browser::console_entries`]
    /// is always empty.
    pub fn console_readable(&self) -> bool {
        self.engine.console() != ConsoleSource::Unavailable
    }

    fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the client is only taken in Drop")
    }

    /// Temporary directory holding the profile and `chromedriver.log`.
    pub fn temp_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Navigates and waits for the load event (WebDriver "normal" page-load strategy).
    pub fn goto(&self, url: &str) -> Result<()> {
        self.rt
            .block_on(self.client().goto(url))
            .with_context(|| format!("navigating to {url}"))
    }

    /// Resizes the browser window (WebDriver "set window rect"; the viewport is the window, headless). Sessions
    /// start at 1280x900 (`--window-size`).
    pub fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        self.rt
            .block_on(self.client().set_window_size(width, height))
            .with_context(|| format!("resizing the window to {width}x{height}"))
    }

    /// The URL of the current page.
    pub fn current_url(&self) -> Result<String> {
        Ok(self.rt.block_on(self.client().current_url())?.to_string())
    }

    /// Runs `js` as the body of a function in the page (WebDriver "execute script"): use `return` to return a
    /// JSON-serialisable value (DOM elements come back as WebDriver element references).
    pub fn eval(&self, js: &str) -> Result<Value> {
        self.eval_with_args(js, Vec::new())
    }

    /// Like [`Browser::eval`], with `arguments[0..]` set to `args`.
    pub fn eval_with_args(&self, js: &str, args: Vec<Value>) -> Result<Value> {
        self.rt
            .block_on(self.client().execute(js, args))
            .with_context(|| format!("script failed:\n{}", indent(js)))
    }

    /// Runs `js` as the body of an async function: the result is what it passes to the callback
    /// `arguments[arguments.length - 1]`. Times out after 120 s.
    ///
    /// Example: `const done = arguments[arguments.length - 1]; setTimeout(() => done(42), 100);`
    pub fn eval_async(&self, js: &str) -> Result<Value> {
        self.rt
            .block_on(self.client().execute_async(js, Vec::new()))
            .with_context(|| format!("async script failed:\n{}", indent(js)))
    }

    /// Polls the JavaScript *expression* `js_predicate` (every 50 ms) until it is truthy; returns its value.
    /// Exceptions thrown by the expression count as "not yet" (the page may still be loading).
    /// On timeout the error shows the last value or exception, the URL and the console so far. `timeout` is
    /// for Chromium and Firefox; it is stretched by the engine's [`Engine::slowness`].
    pub fn wait_for(&self, js_predicate: &str, timeout: Duration) -> Result<Value> {
        let timeout = timeout * self.engine().slowness();
        let script = format!(
            "try {{ const v = ({js_predicate}); return {{ ok: !!v, value: v === undefined ? null : v }}; }} \
             catch (e) {{ return {{ ok: false, error: String(e && e.stack || e) }}; }}"
        );
        let start = Instant::now();
        let mut last;
        loop {
            last = self.eval(&script)?;
            if last["ok"] == Value::Bool(true) {
                return Ok(last["value"].clone());
            }
            if start.elapsed() >= timeout {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let last_text = match last.get("error") {
            Some(error) => format!("threw {}", error.as_str().unwrap_or_default()),
            None => format!("was {}", last["value"]),
        };
        bail!(
            "timed out after {:.1} s waiting for `{js_predicate}` (last it {last_text})\n{}",
            start.elapsed().as_secs_f64(),
            self.context_report()
        )
    }

    /// A description of the current page for failure messages: URL and the console entries not yet collected.
    pub fn context_report(&self) -> String {
        let mut out = String::new();
        match self.current_url() {
            Ok(url) => {
                let _ = writeln!(out, "page: {url}");
            }
            Err(e) => {
                let _ = writeln!(out, "page: (unknown: {e:#})");
            }
        }
        // Each element's state, status words and progress bar: where a boot that never ended stopped.
        if let Ok(Value::Array(elements)) = self.eval(
            "return [...document.querySelectorAll('python-runner')].map((e) => {
               const r = e.shadowRoot, bar = r?.querySelector('progress');
               return `#${e.id || '?'} state=${e.getAttribute('state')} status=${JSON.stringify(r?.querySelector('.status')?.textContent ?? null)}`
                 + (bar && !bar.hidden ? ` progress=${bar.value}/${bar.max}` : '');
             })",
        ) {
            for element in elements {
                let _ = writeln!(out, "element: {}", element.as_str().unwrap_or_default());
            }
        }
        match self.peek_console() {
            Ok(entries) if entries.is_empty() => out.push_str("console: (empty)\n"),
            Ok(entries) => {
                out.push_str("console:\n");
                for entry in entries {
                    let _ = writeln!(out, "  {entry}");
                }
            }
            Err(e) => {
                let _ = writeln!(out, "console: (unavailable: {e:#})");
            }
        }
        out
    }

    /// Resolves `inner_selector` inside the open shadow root of the first element matching `host_selector` and
    /// returns it as a WebDriver element (so clicks and keys go through real input events).
    pub fn shadow_element(&self, host_selector: &str, inner_selector: &str) -> Result<Element> {
        let found = self.eval_with_args(
            "const host = document.querySelector(arguments[0]);
             if (!host) return 'no element matches ' + arguments[0];
             if (!host.shadowRoot) return arguments[0] + ' has no open shadow root';
             const el = host.shadowRoot.querySelector(arguments[1]);
             return el || 'nothing matches ' + arguments[1] + ' in the shadow root of ' + arguments[0];",
            vec![json!(host_selector), json!(inner_selector)],
        )?;
        let id = found
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| {
                anyhow!(
                    "{}\n{}",
                    found.as_str().unwrap_or("no element"),
                    self.context_report()
                )
            })?;
        Ok(Element::from_element_id(
            self.client().clone(),
            ElementRef::from(id.to_owned()),
        ))
    }

    /// Clicks an element inside an open shadow root through WebDriver (scrolls it into view, real mouse events).
    pub fn click_in_shadow(&self, host_selector: &str, inner_selector: &str) -> Result<()> {
        let element = self.shadow_element(host_selector, inner_selector)?;
        self.rt
            .block_on(element.click())
            .with_context(|| format!("clicking {inner_selector} in {host_selector}"))
    }

    /// Types `text` into an element inside an open shadow root through WebDriver (real key events).
    pub fn type_in_shadow(
        &self,
        host_selector: &str,
        inner_selector: &str,
        text: &str,
    ) -> Result<()> {
        let element = self.shadow_element(host_selector, inner_selector)?;
        self.rt
            .block_on(element.send_keys(text))
            .with_context(|| format!("typing into {inner_selector} in {host_selector}"))
    }

    /// Presses `chord` on whatever has the focus, as a reader's keyboard does (WebDriver actions, no element
    /// targeted, so the keys go where the page's focus is): its keys go down in order and come up in reverse,
    /// e.g. `&[Key::Control.into(), 'c']` for Ctrl+C or `&[Key::Tab.into()]`; then every key is released.
    pub fn press(&self, chord: &[char]) -> Result<()> {
        let mut keys = KeyActions::new("keyboard".to_owned());
        for &value in chord {
            keys = keys.then(KeyAction::Down { value });
        }
        for &value in chord.iter().rev() {
            keys = keys.then(KeyAction::Up { value });
        }
        self.perform_keys(keys)
            .with_context(|| format!("pressing {}", describe_keys(chord)))
    }

    /// Types `text` on whatever has the focus, one key press (down, up) per character; characters of
    /// [`fantoccini::key::Key`] (`Key::Enter` …) press that key.
    pub fn type_keys(&self, text: &str) -> Result<()> {
        let mut keys = KeyActions::new("keyboard".to_owned());
        for value in text.chars() {
            keys = keys
                .then(KeyAction::Down { value })
                .then(KeyAction::Up { value });
        }
        let chars: Vec<char> = text.chars().collect();
        self.perform_keys(keys)
            .with_context(|| format!("typing {}", describe_keys(&chars)))
    }

    /// Performs `keys` (WebDriver "perform actions"), then "release actions", so no key stays down.
    fn perform_keys(&self, keys: KeyActions) -> Result<()> {
        self.rt.block_on(async {
            self.client().perform_actions(keys).await?;
            self.client().release_actions().await
        })?;
        Ok(())
    }

    /// The accessible name (WebDriver "computed label") of an element inside an open shadow root, e.g. `Run`.
    pub fn accessible_name_in_shadow(
        &self,
        host_selector: &str,
        inner_selector: &str,
    ) -> Result<String> {
        self.element_property_in_shadow(host_selector, inner_selector, "computedlabel")
    }

    /// The ARIA role (WebDriver "computed role") of an element inside an open shadow root, e.g. `button`.
    pub fn accessible_role_in_shadow(
        &self,
        host_selector: &str,
        inner_selector: &str,
    ) -> Result<String> {
        self.element_property_in_shadow(host_selector, inner_selector, "computedrole")
    }

    fn element_property_in_shadow(
        &self,
        host: &str,
        inner: &str,
        what: &'static str,
    ) -> Result<String> {
        let element = self.shadow_element(host, inner)?;
        let value = self
            .rt
            .block_on(self.client().issue_cmd(GetElementProperty {
                element: element.element_id().to_string(),
                what,
            }))
            .with_context(|| format!("reading {what} of {inner} in {host}"))?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("{what} of {inner} in {host} is not a string: {value}"))
    }

    /// Saves a PNG screenshot of the viewport.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.rt.block_on(self.client().screenshot())?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    fn fetch_console(&self) -> Result<Vec<ConsoleEntry>> {
        match self.engine.console() {
            ConsoleSource::ChromeLog => self.fetch_chrome_log(),
            ConsoleSource::FirefoxStdout => {
                // Only whole lines: an entry may still be being written.
                let out = std::fs::read(&self.driver.out_path).unwrap_or_default();
                let mut read = self
                    .console_read
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let start = (*read).min(out.len());
                let end = out[start..]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(start, |i| start + i + 1);
                *read = end;
                Ok(parse_firefox_console(&String::from_utf8_lossy(
                    &out[start..end],
                )))
            }
            ConsoleSource::Unavailable => Ok(Vec::new()),
        }
    }

    fn fetch_chrome_log(&self) -> Result<Vec<ConsoleEntry>> {
        let raw = self
            .rt
            .block_on(self.client().issue_cmd(GetBrowserLog))
            .context("reading the browser log (POST /session/{id}/se/log)")?;
        let list = raw
            .as_array()
            .ok_or_else(|| anyhow!("browser log is not an array: {raw}"))?;
        Ok(list
            .iter()
            .map(|e| ConsoleEntry {
                level: e["level"].as_str().unwrap_or_default().to_owned(),
                source: e["source"].as_str().unwrap_or_default().to_owned(),
                message: e["message"].as_str().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<ConsoleEntry>> {
        self.pending_console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// All console entries since the previous `console_entries`/`console_errors` call, without consuming them.
    pub fn peek_console(&self) -> Result<Vec<ConsoleEntry>> {
        let fresh = self.fetch_console()?;
        let mut pending = self.pending();
        pending.extend(fresh);
        Ok(pending.clone())
    }

    /// Waits (polling, without consuming anything) until a console entry for which `matches` is true has been
    /// reported, and returns it. `what` describes the entry for the timeout message.
    pub fn wait_for_console(
        &self,
        what: &str,
        matches: impl Fn(&ConsoleEntry) -> bool,
        timeout: Duration,
    ) -> Result<ConsoleEntry> {
        let start = Instant::now();
        loop {
            if let Some(entry) = self.peek_console()?.into_iter().find(|e| matches(e)) {
                return Ok(entry);
            }
            if start.elapsed() >= timeout {
                bail!(
                    "timed out after {:.1} s waiting for a console entry: {what}\n{}",
                    start.elapsed().as_secs_f64(),
                    self.context_report()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// All console entries (every level) since the previous call of this or [`Browser::console_errors`].
    ///
    /// Chromium reports page `console.*` calls, uncaught page exceptions, failed loads (404s...) and — with source
    /// `worker` — `console.*` calls and uncaught exceptions of dedicated workers (module and Blob workers too).
    /// Entries can arrive with a small delay after the event (worker ones especially).
    pub fn console_entries(&self) -> Result<Vec<ConsoleEntry>> {
        let fresh = self.fetch_console()?;
        let mut pending = self.pending();
        pending.extend(fresh);
        Ok(std::mem::take(&mut *pending))
    }

    /// The `SEVERE` console entries (formatted as `[SEVERE source] message`) since the previous call of this or
    /// [`Browser::console_entries`]; see there for what is captured.
    pub fn console_errors(&self) -> Result<Vec<String>> {
        Ok(self
            .console_entries()?
            .into_iter()
            .filter(|e| e.level == "SEVERE")
            .map(|e| e.to_string())
            .collect())
    }

    /// Loads `about:blank` and discards all console entries, so the next page starts with an empty console.
    pub fn reset(&self) -> Result<()> {
        self.goto("about:blank")?;
        self.console_entries()?;
        Ok(())
    }

    /// The last lines of the driver's log (for diagnosing driver trouble).
    pub fn chromedriver_log_tail(&self, lines: usize) -> String {
        self.driver.log_tail(lines)
    }

    /// The memory of the browser's processes (Linux only): over every process of chromedriver's process group
    /// (the watchdog shell, chromedriver, Chromium and all its helpers: renderers, workers' renderer, GPU,
    /// network, zygotes), the sum of each one's proportional set size (Pss, `/proc/<pid>/smaps_rollup`: shared
    /// pages split among the processes sharing them), or its resident set size (`VmRSS` of `/proc/<pid>/status`)
    /// where smaps_rollup cannot be read. Chromium's crashpad handlers run in a session of their own and are not
    /// counted. Processes that exit during the scan are skipped.
    pub fn memory(&self) -> Result<BrowserMemory> {
        let mut memory = BrowserMemory::default();
        let entries = std::fs::read_dir("/proc").context("listing /proc")?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_str().is_none_or(|n| n.parse::<u32>().is_err()) {
                continue;
            }
            let dir = entry.path();
            let in_group = std::fs::read_to_string(dir.join("stat"))
                .ok()
                .and_then(|stat| proc_stat_pgrp(&stat))
                .is_some_and(|pgrp| pgrp == self.driver.pgid);
            if !in_group {
                continue;
            }
            let pss = std::fs::read_to_string(dir.join("smaps_rollup"))
                .ok()
                .and_then(|text| proc_kib_field(&text, "Pss:"));
            if let Some(bytes) = pss {
                memory.bytes += bytes;
                memory.pss += 1;
            } else if let Some(bytes) = std::fs::read_to_string(dir.join("status"))
                .ok()
                .and_then(|text| proc_kib_field(&text, "VmRSS:"))
            {
                memory.bytes += bytes;
                memory.rss += 1;
            }
            // Else it exited meanwhile, or is a zombie (no memory left).
        }
        if memory.pss + memory.rss == 0 {
            bail!(
                "no process of the browser's process group {} found in /proc",
                self.driver.pgid
            );
        }
        Ok(memory)
    }
}

/// What [`Browser::memory`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrowserMemory {
    /// Sum over the processes, bytes.
    pub bytes: u64,
    /// Processes counted by their Pss.
    pub pss: usize,
    /// Processes counted by their `VmRSS` (smaps_rollup could not be read).
    pub rss: usize,
}

impl BrowserMemory {
    /// How the sum was made: `Pss`, `VmRSS` or `Pss+VmRSS` (some processes each way).
    pub fn method(&self) -> &'static str {
        match (self.pss > 0, self.rss > 0) {
            (true, false) => "Pss",
            (false, true) => "VmRSS",
            _ => "Pss+VmRSS",
        }
    }
}

/// The process group (`pgrp`, the 5th field) of a `/proc/<pid>/stat` line. The 2nd field, `(comm)`, may hold
/// spaces and parentheses, so the fields are read after its last `)`: state, ppid, pgrp.
pub fn proc_stat_pgrp(stat: &str) -> Option<u32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// A `Name:   1234 kB` line of `/proc/<pid>/smaps_rollup` or `/proc/<pid>/status`, in bytes.
pub fn proc_kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|line| line.starts_with(name))?;
    let mut words = line[name.len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next() == Some("kB")).then_some(kib * 1024)
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Quit the session so chromedriver shuts Chromium down cleanly; the watchdog kills leftovers anyway.
            let quit = self.rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(15), client.close()).await
            });
            if !matches!(quit, Ok(Ok(()))) {
                eprintln!("browser: quitting the WebDriver session failed or timed out; killing chromedriver");
            }
        }
    }
}

/// Keys for messages: printable characters as they are, WebDriver's special keys (U+E000…U+F8FF) as `U+E009`.
fn describe_keys(keys: &[char]) -> String {
    keys.iter()
        .map(|&key| match key {
            '\u{E000}'..='\u{F8FF}' => format!("<U+{:04X}>", u32::from(key)),
            _ => key.to_string(),
        })
        .collect()
}

fn indent(js: &str) -> String {
    js.lines().map(|l| format!("    {l}\n")).collect()
}
