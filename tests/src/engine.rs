//! The three browser engines the tests drive — Chromium (chromedriver), Firefox ESR (geckodriver) and WebKitGTK
//! (WebKitWebDriver with MiniBrowser under Xvfb) — and what differs between them: the driver command, the session
//! capabilities, and where the console can be read from.

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

use crate::browser::ConsoleEntry;

/// A browser engine under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// Debian's Chromium, driven by chromedriver.
    Chromium,
    /// Firefox ESR, driven by geckodriver.
    Firefox,
    /// WebKitGTK's MiniBrowser, driven by WebKitWebDriver, under `xvfb-run` (it has no headless mode).
    WebKit,
}

/// Where the browser's console (page and workers) can be read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleSource {
    /// chromedriver's log endpoint (`POST /session/{id}/se/log`), page and dedicated workers.
    ChromeLog,
    /// Firefox's standard output with `devtools.console.stdout.content` on (page and workers, `console.*` only).
    FirefoxStdout,
    /// None: WebKitWebDriver has no log endpoint and no BiDi, and MiniBrowser ignores
    /// `--enable-write-console-messages-to-stdout` for the views it makes for automation.
    Unavailable,
}

impl Engine {
    /// Every engine, in the order the tests run them.
    pub const ALL: [Engine; 3] = [Engine::Chromium, Engine::Firefox, Engine::WebKit];

    /// `chromium`, `firefox` or `webkit` (the names `PYTHON_RUNNER_ENGINES` takes and test names start with).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
            Engine::WebKit => "webkit",
        }
    }

    /// The engine called `name` (see [`Engine::name`]).
    pub fn parse(name: &str) -> Result<Engine> {
        match Engine::ALL.into_iter().find(|e| e.name() == name.trim()) {
            Some(engine) => Ok(engine),
            None => bail!("unknown engine {name:?}: expected chromium, firefox or webkit"),
        }
    }

    /// The engines run when `PYTHON_RUNNER_ENGINES` names none: all three.
    pub const DEFAULT: [Engine; 3] = Engine::ALL;

    /// The engines named in `$PYTHON_RUNNER_ENGINES` (comma-separated), or [`Engine::DEFAULT`] when it is
    /// unset or empty.
    pub fn from_env() -> Result<Vec<Engine>> {
        let list = std::env::var("PYTHON_RUNNER_ENGINES").unwrap_or_default();
        if list.trim().is_empty() {
            return Ok(Engine::DEFAULT.to_vec());
        }
        list.split(',').map(Engine::parse).collect()
    }

    /// The engine's own words for a JavaScript stack overflow (`name: message`), as Pyodide's fatal error
    /// carries them.
    pub fn stack_overflow(self) -> &'static str {
        match self {
            Engine::Chromium => "RangeError: Maximum call stack size exceeded",
            Engine::Firefox => "InternalError: too much recursion",
            Engine::WebKit => "RangeError: Maximum call stack size exceeded.",
        }
    }

    /// The engine's own words for a `fetch` that failed on the network or on CORS.
    pub fn fetch_failed(self) -> &'static str {
        match self {
            Engine::Chromium => "TypeError: Failed to fetch",
            Engine::Firefox => "TypeError: NetworkError when attempting to fetch resource.",
            Engine::WebKit => "TypeError: Load failed",
        }
    }

    /// How many times longer than Chromium's and Firefox's the tests wait for this engine: WebKitGTK starts
    /// Pyodide about five times slower here (5 s idle on 2 cores, against Chromium's 1 s), so a page that
    /// starts four at once needs about 50 s.
    pub fn slowness(self) -> u32 {
        match self {
            Engine::Chromium | Engine::Firefox => 1,
            Engine::WebKit => 3,
        }
    }

    /// Where this engine's console can be read from.
    pub fn console(self) -> ConsoleSource {
        match self {
            Engine::Chromium => ConsoleSource::ChromeLog,
            Engine::Firefox => ConsoleSource::FirefoxStdout,
            Engine::WebKit => ConsoleSource::Unavailable,
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Binaries of the engines and their drivers, from the environment or Debian's (and `cargo install`'s) places.
#[derive(Clone, Debug)]
pub struct EnginePaths {
    /// `$CHROMIUM` or `/usr/bin/chromium`.
    pub chromium: PathBuf,
    /// `$CHROMEDRIVER` or `/usr/bin/chromedriver`.
    pub chromedriver: PathBuf,
    /// `$FIREFOX` or `/usr/bin/firefox-esr`.
    pub firefox: PathBuf,
    /// `$GECKODRIVER`, else `geckodriver` in `~/.cargo/bin` (where `cargo install` puts it) or on `PATH`.
    pub geckodriver: PathBuf,
    /// `$WEBKIT_WEBDRIVER` or `/usr/bin/WebKitWebDriver` (Debian's `webkit2gtk-driver`).
    pub webkit_driver: PathBuf,
    /// `$MINIBROWSER` or WebKitGTK 4.1's MiniBrowser.
    pub minibrowser: PathBuf,
}

impl Default for EnginePaths {
    fn default() -> Self {
        let env_path = |var: &str, default: &str| {
            std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        let cargo_geckodriver = std::env::var_os("HOME")
            .map(|home| Path::new(&home).join(".cargo/bin/geckodriver"))
            .filter(|path| path.exists());
        EnginePaths {
            chromium: env_path("CHROMIUM", "/usr/bin/chromium"),
            chromedriver: env_path("CHROMEDRIVER", "/usr/bin/chromedriver"),
            firefox: env_path("FIREFOX", "/usr/bin/firefox-esr"),
            geckodriver: std::env::var_os("GECKODRIVER")
                .map(PathBuf::from)
                .or(cargo_geckodriver)
                .unwrap_or_else(|| PathBuf::from("geckodriver")),
            webkit_driver: env_path("WEBKIT_WEBDRIVER", "/usr/bin/WebKitWebDriver"),
            minibrowser: env_path(
                "MINIBROWSER",
                "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
            ),
        }
    }
}

/// How to start an engine's WebDriver server.
#[derive(Debug)]
pub(crate) struct DriverCommand {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(&'static str, &'static str)>,
}

impl EnginePaths {
    /// The binaries `engine` needs that are missing, with the hint to install them.
    pub fn missing(&self, engine: Engine) -> Option<String> {
        let (bins, hint): (Vec<&Path>, &str) = match engine {
            Engine::Chromium => (
                vec![&self.chromium, &self.chromedriver],
                "Debian's `chromium` and `chromium-driver`, or set CHROMIUM / CHROMEDRIVER",
            ),
            Engine::Firefox => (
                vec![&self.firefox, &self.geckodriver],
                "Debian's `firefox-esr` and `cargo install geckodriver`, or set FIREFOX / GECKODRIVER",
            ),
            Engine::WebKit => (
                vec![&self.webkit_driver, &self.minibrowser, Path::new("/usr/bin/xvfb-run")],
                "Debian's `webkit2gtk-driver` and `xvfb`, or set WEBKIT_WEBDRIVER / MINIBROWSER",
            ),
        };
        let missing: Vec<String> = bins
            .into_iter()
            .filter(|bin| !is_runnable(bin))
            .map(|bin| bin.display().to_string())
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "{} not found (install {hint}; `bundle/run.sh` installs all three engines)",
                missing.join(", ")
            )
        })
    }

    /// The command that starts `engine`'s WebDriver server on `port`; `dir` holds the browser's profile.
    pub(crate) fn driver(&self, engine: Engine, port: u16, dir: &Path) -> DriverCommand {
        let display = |p: &Path| p.display().to_string();
        match engine {
            Engine::Chromium => DriverCommand {
                argv: vec![
                    display(&self.chromedriver),
                    format!("--port={port}"),
                    format!("--log-path={}", display(&dir.join("driver.log"))),
                ],
                env: Vec::new(),
            },
            Engine::Firefox => DriverCommand {
                argv: vec![
                    display(&self.geckodriver),
                    "--port".into(),
                    port.to_string(),
                    "--profile-root".into(),
                    display(dir),
                ],
                env: Vec::new(),
            },
            Engine::WebKit => DriverCommand {
                argv: vec![
                    "xvfb-run".into(),
                    "-a".into(),
                    display(&self.webkit_driver),
                    format!("--port={port}"),
                ],
                env: vec![
                    // Root has no user namespace sandbox here; the browser refuses to start without this.
                    ("WEBKIT_DISABLE_SANDBOX_THIS_IS_DANGEROUS", "1"),
                    // WebKitGTK 2.50 reports crossOriginIsolated on COOP/COEP pages but leaves SharedArrayBuffer
                    // undefined unless JavaScriptCore is told to enable it, as Safari does on isolated pages.
                    ("JSC_useSharedArrayBuffer", "1"),
                ],
            },
        }
    }

    /// The capabilities of a new session of `engine`: `headless` (Chromium and Firefox; WebKit runs under Xvfb),
    /// Chromium's `switches` and its `profile` directory.
    pub(crate) fn capabilities(
        &self,
        engine: Engine,
        headless: bool,
        switches: &[String],
        profile: &Path,
    ) -> Map<String, Value> {
        let mut caps = Map::new();
        match engine {
            Engine::Chromium => {
                let mut args: Vec<String> = Vec::new();
                if headless {
                    args.push("--headless=new".into());
                }
                args.extend(switches.iter().cloned());
                args.push(format!("--user-data-dir={}", profile.display()));
                caps.insert("browserName".into(), json!("chrome"));
                caps.insert(
                    "goog:chromeOptions".into(),
                    json!({ "binary": self.chromium, "args": args }),
                );
                caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
            }
            Engine::Firefox => {
                let args: Vec<&str> = if headless { vec!["-headless"] } else { vec![] };
                caps.insert("browserName".into(), json!("firefox"));
                caps.insert(
                    "moz:firefoxOptions".into(),
                    json!({
                        "binary": self.firefox,
                        "args": args,
                        "prefs": {
                            // console.* of pages and workers on stdout, where `Browser` reads the console.
                            "devtools.console.stdout.content": true,
                            // No experiments or remote settings: nothing to fetch on a closed network.
                            "messaging-system.rsexperimentloader.enabled": false,
                            "app.normandy.enabled": false,
                        }
                    }),
                );
            }
            Engine::WebKit => {
                caps.insert("browserName".into(), json!("MiniBrowser"));
                caps.insert(
                    "webkitgtk:browserOptions".into(),
                    json!({ "binary": self.minibrowser, "args": ["--automation"] }),
                );
            }
        }
        caps
    }
}

/// Whether `bin` exists, as a path or (for a bare name) on `PATH`.
fn is_runnable(bin: &Path) -> bool {
    if bin.components().count() > 1 {
        return bin.exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(bin).exists()))
}

/// Console entries in Firefox's standard output (`devtools.console.stdout.content`): each entry starts with a line
/// `console.<level>: <message>`, and lines that start otherwise continue the entry before them (multi-line
/// messages, stacks) until a line of Firefox's own logging. Entries from Firefox's own code (their text names a
/// `resource://` or `chrome://` URL) are left out. `error` is `SEVERE`, `warn` `WARNING`, the rest `INFO`.
pub fn parse_firefox_console(text: &str) -> Vec<ConsoleEntry> {
    let mut entries: Vec<ConsoleEntry> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if let Some((level, message)) = line
            .strip_prefix("console.")
            .and_then(|rest| rest.split_once(": "))
            .filter(|(level, _)| level.chars().all(|c| c.is_ascii_alphabetic()))
        {
            entries.push(ConsoleEntry {
                level: match level {
                    "error" => "SEVERE",
                    "warn" => "WARNING",
                    _ => "INFO",
                }
                .to_owned(),
                source: "console-api".to_owned(),
                message: message.to_owned(),
            });
            open = true;
        } else if open && is_continuation(line) {
            if let Some(last) = entries.last_mut() {
                last.message.push('\n');
                last.message.push_str(line);
            }
        } else {
            open = false;
        }
    }
    entries.retain(|e| !e.message.contains("resource://") && !e.message.contains("chrome://"));
    entries
}

/// Whether a line of Firefox's output continues a console entry rather than being Firefox's or geckodriver's own
/// logging (`1796544417851\tgeckodriver\tINFO\t…`, `[GFX1-]: …`, `*** You are running…`, `JavaScript warning: …`).
fn is_continuation(line: &str) -> bool {
    let first = line.split('\t').next().unwrap_or_default();
    let timestamped = !first.is_empty() && first.chars().all(|c| c.is_ascii_digit());
    !(timestamped
        || line.starts_with("[GFX")
        || line.starts_with("*** ")
        || line.starts_with("JavaScript ")
        || line.starts_with("Read port: "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firefox_console_lines_become_entries_without_firefoxs_own() {
        let text = "1796544426037\tMarionette\tINFO\tListening on port 43619\n\
                    console.error: RSLoader: \n  Failed to retrieve recipes\n  Stack:\n\
                    RemoteSettingsSyncError@resource://nimbus/lib/X.sys.mjs:1570:5\n\
                    console.error: \"boom-page\"\n\
                    console.log: \"log-page\"\n\
                    console.warn: two\nlines\n\
                    [GFX1-]: RenderCompositorSWGL failed\n\
                    console.error: \"boom-worker\"\n";
        let entries = parse_firefox_console(text);
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.level.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("SEVERE", "\"boom-page\""),
                ("INFO", "\"log-page\""),
                ("WARNING", "two\nlines"),
                ("SEVERE", "\"boom-worker\""),
            ]
        );
    }

    #[test]
    fn engines_parse_by_name() {
        for engine in Engine::ALL {
            assert_eq!(Engine::parse(engine.name()).ok(), Some(engine));
        }
        assert!(Engine::parse("safari").is_err());
    }
}
