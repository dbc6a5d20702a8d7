//! `cargo bundle test`: everything CI runs, in order, stopping at the first failure, with a timed summary.
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::wasm::{Profile, WASM_TARGET};
use crate::workspace::{self, Workspace};
use crate::{ledger, pipeline};

/// What a step does.
#[derive(Debug)]
enum Action {
    /// `cargo <args>` in the workspace root.
    Cargo(&'static [&'static str]),
    /// `cargo doc --no-deps --workspace` with `RUSTDOCFLAGS=-D warnings`.
    Doc,
    /// `python3 <args>` in `python/` (pytest, ruff).
    Python(&'static [&'static str]),
    /// `cargo bundle dist`, in process.
    Dist,
    /// Fails when `target/dist/python-runner.js` exceeds [`ledger::BUDGET_GZIP`] after gzip -9.
    SizeBudget,
    /// The browser tier: `cargo <args>` with a Pyodide server running (see [`PyodideServer`]),
    /// in the browser whose WebDriver is named (`wasm-bindgen-test-runner` would otherwise take
    /// the first it finds on `PATH`, geckodriver before chromedriver).
    BrowserTests(&'static [&'static str], WasmDriver),
}

/// The WebDriver `wasm-bindgen-test-runner` drives: the variable it reads and the program.
/// WebKitGTK is not among them (the runner knows only Safari's safaridriver); the end-to-end
/// tier covers it.
#[derive(Debug, Clone, Copy)]
enum WasmDriver {
    Chromium,
    Firefox,
}

impl WasmDriver {
    fn variable_and_program(self) -> (&'static str, &'static str) {
        match self {
            WasmDriver::Chromium => ("CHROMEDRIVER", "chromedriver"),
            WasmDriver::Firefox => ("GECKODRIVER", "geckodriver"),
        }
    }
}

/// The packages with `wasm-bindgen-test` suites.
const WASM_TEST_ARGS: &[&str] = &[
    "test",
    "--target",
    WASM_TARGET,
    "-p",
    "python-runner-element",
    "-p",
    "python-runner-worker",
    "-p",
    "python-runner-library",
];

/// One CI step.
#[derive(Debug)]
struct Step {
    name: &'static str,
    action: Action,
}

/// The CI steps, cheapest first; the browser tiers need `dist` (the end-to-end tests load it).
fn steps() -> Vec<Step> {
    vec![
        Step {
            name: "fmt",
            action: Action::Cargo(&["fmt", "--all", "--", "--check"]),
        },
        Step {
            name: "clippy (host)",
            action: Action::Cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        },
        Step {
            name: "clippy (wasm32)",
            action: Action::Cargo(&[
                "clippy",
                "--target",
                WASM_TARGET,
                "-p",
                "python-runner-element",
                "-p",
                "python-runner-worker",
                "-p",
                "python-runner-protocol",
                "-p",
                "python-runner-runtime",
                "-p",
                "python-runner-library",
                "-p",
                "python-runner-library-runtime",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        },
        Step {
            name: "doc",
            action: Action::Doc,
        },
        Step {
            name: "native tests",
            action: Action::Cargo(&["test", "--workspace", "--exclude", "python-runner-tests"]),
        },
        Step {
            name: "pytest",
            action: Action::Python(&["-m", "pytest", "-q"]),
        },
        Step {
            name: "ruff",
            action: Action::Python(&["-m", "ruff", "check", "."]),
        },
        Step {
            name: "ruff format",
            action: Action::Python(&["-m", "ruff", "format", "--check", "."]),
        },
        Step {
            name: "dist",
            action: Action::Dist,
        },
        Step {
            name: "size budget",
            action: Action::SizeBudget,
        },
        Step {
            name: "browser tests (wasm32, chromium)",
            action: Action::BrowserTests(WASM_TEST_ARGS, WasmDriver::Chromium),
        },
        Step {
            name: "browser tests (wasm32, firefox)",
            action: Action::BrowserTests(WASM_TEST_ARGS, WasmDriver::Firefox),
        },
        Step {
            name: "end-to-end tests",
            action: Action::Cargo(&["test", "-p", "python-runner-tests"]),
        },
    ]
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Passed(Duration),
    Failed(Duration),
    NotRun,
}

/// Runs every step; prints the summary whether or not one failed.
pub fn run(workspace: &Workspace) -> Result<()> {
    let started = Instant::now();
    let steps = steps();
    let mut outcomes = Vec::with_capacity(steps.len());
    let mut failure = None;
    for step in &steps {
        if failure.is_some() {
            outcomes.push((step.name, Outcome::NotRun));
            continue;
        }
        println!("==> {}", step.name);
        let step_started = Instant::now();
        let result = run_step(workspace, &step.action);
        let elapsed = step_started.elapsed();
        match result {
            Ok(()) => outcomes.push((step.name, Outcome::Passed(elapsed))),
            Err(error) => {
                outcomes.push((step.name, Outcome::Failed(elapsed)));
                failure = Some((step.name, error));
            }
        }
    }
    println!("\n{}", summary(&outcomes, started.elapsed()));
    match failure {
        Some((name, error)) => Err(error.context(format!("ci step `{name}` failed"))),
        None => Ok(()),
    }
}

fn run_step(workspace: &Workspace, action: &Action) -> Result<()> {
    match action {
        Action::Cargo(args) => {
            let mut command = workspace::cargo();
            command.args(*args).current_dir(&workspace.root);
            workspace::run(&mut command)
        }
        Action::Doc => {
            let mut command = workspace::cargo();
            command
                .args(["doc", "--no-deps", "--workspace"])
                .env("RUSTDOCFLAGS", "-D warnings")
                .current_dir(&workspace.root);
            workspace::run(&mut command)
        }
        Action::Python(args) => {
            let python_dir = workspace.root.join("python");
            if !python_dir.is_dir() {
                bail!("{} does not exist", python_dir.display());
            }
            let mut command = Command::new("python3");
            command.args(*args).current_dir(python_dir);
            workspace::run(&mut command)
        }
        Action::Dist => pipeline::build(workspace, Profile::Release).map(|_| ()),
        Action::SizeBudget => {
            let bundle = workspace.dist_dir().join(pipeline::BUNDLE_FILE);
            let bytes =
                std::fs::read(&bundle).with_context(|| format!("reading {}", bundle.display()))?;
            let gzip = python_runner_sizes::gzip_size(&bytes)?;
            ledger::check_budget(gzip)?;
            println!(
                "{} after gzip -9: {} of {}",
                pipeline::BUNDLE_FILE,
                python_runner_sizes::format_size(gzip),
                python_runner_sizes::format_size(ledger::BUDGET_GZIP)
            );
            Ok(())
        }
        Action::BrowserTests(args, driver) => {
            // A URL from the environment means someone serves Pyodide already.
            let (_server, pyodide_url) = match std::env::var(PYODIDE_URL_VARIABLE) {
                Ok(url) => (None, url),
                Err(_) => {
                    let server = PyodideServer::start(workspace)?;
                    let url = server.pyodide_url();
                    (Some(server), url)
                }
            };
            let (variable, program) = driver.variable_and_program();
            let mut command = workspace::cargo();
            command
                .args(*args)
                .env_remove("CHROMEDRIVER")
                .env_remove("GECKODRIVER")
                .env_remove("SAFARIDRIVER")
                .env(variable, program)
                // Pyodide boots slowly on 2 shared cores; the runner's default is 20 s.
                .env("WASM_BINDGEN_TEST_TIMEOUT", "120")
                .env(PYODIDE_URL_VARIABLE, pyodide_url)
                .current_dir(&workspace.root);
            workspace::run(&mut command)
        }
    }
}

/// Read at compile time by `worker/tests/in_worker.rs`: where a CORS-enabled Pyodide is served.
const PYODIDE_URL_VARIABLE: &str = "PYTHON_RUNNER_TEST_PYODIDE_URL";

/// Preferred port of the Pyodide server. A fixed port keeps the URL, and so the compiled worker
/// tests (the URL is a compile-time value), the same from run to run.
const PYODIDE_SERVER_PORT: u16 = 8790;

/// `serve --no-isolation` from `python-runner-tests` (it serves `node_modules/pyodide` at
/// `/pyodide/` with `Access-Control-Allow-Origin: *`), stopped on drop.
struct PyodideServer {
    child: Child,
    port: u16,
}

impl PyodideServer {
    fn start(workspace: &Workspace) -> Result<PyodideServer> {
        // Build first, so the readiness wait below does not include compiling.
        let mut build = workspace::cargo();
        build
            .args(["build", "-p", "python-runner-tests", "--bin", "serve"])
            .current_dir(&workspace.root);
        workspace::run(&mut build).context("building the pyodide server")?;

        let port = free_port()?;
        let mut command = workspace::cargo();
        command
            .args([
                "run",
                "--quiet",
                "-p",
                "python-runner-tests",
                "--bin",
                "serve",
                "--",
            ])
            .args(["--no-isolation", "--port", &port.to_string()])
            .current_dir(&workspace.root)
            .stdout(Stdio::null());
        let description = workspace::describe(&command);
        let child = command
            .spawn()
            .with_context(|| format!("starting `{description}`"))?;
        let mut server = PyodideServer { child, port };
        server
            .wait_until_listening(Duration::from_secs(60))
            .with_context(|| format!("waiting for `{description}`"))?;
        println!("serving Pyodide at {}", server.pyodide_url());
        Ok(server)
    }

    fn pyodide_url(&self) -> String {
        format!("http://127.0.0.1:{}/pyodide/", self.port)
    }

    fn wait_until_listening(&mut self, timeout: Duration) -> Result<()> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let started = Instant::now();
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .try_wait()
                .context("checking the server process")?
            {
                bail!("the server exited ({status})");
            }
            if started.elapsed() > timeout {
                bail!("nothing listens on {address} after {timeout:?}");
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PyodideServer {
    fn drop(&mut self) {
        // `cargo run` replaces itself with the server on Unix, so this stops the server itself.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// [`PYODIDE_SERVER_PORT`] when nothing listens there, else any free port.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, PYODIDE_SERVER_PORT))
        .or_else(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .context("finding a free port on 127.0.0.1")?;
    Ok(listener
        .local_addr()
        .context("reading the bound port")?
        .port())
}

/// The table printed at the end, e.g. `  ok      12.3s  fmt`.
fn summary(outcomes: &[(&str, Outcome)], total: Duration) -> String {
    let mut text = String::from("summary:\n");
    for (name, outcome) in outcomes {
        let line = match outcome {
            Outcome::Passed(elapsed) => {
                format!("  ok      {:>6.1}s  {name}\n", elapsed.as_secs_f64())
            }
            Outcome::Failed(elapsed) => {
                format!("  FAILED  {:>6.1}s  {name}\n", elapsed.as_secs_f64())
            }
            Outcome::NotRun => format!("  -       {:>7}  {name}\n", ""),
        };
        text.push_str(&line);
    }
    let verdict = if outcomes
        .iter()
        .any(|(_, outcome)| matches!(outcome, Outcome::Failed(_)))
    {
        "FAILED"
    } else {
        "ok"
    };
    text.push_str(&format!("  {verdict} in {:.1}s", total.as_secs_f64()));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_marks_failed_and_skipped_steps() {
        let outcomes = [
            ("fmt", Outcome::Passed(Duration::from_millis(1200))),
            ("clippy (host)", Outcome::Failed(Duration::from_secs(75))),
            ("dist", Outcome::NotRun),
        ];
        assert_eq!(
            summary(&outcomes, Duration::from_millis(76_300)),
            "summary:\n  ok         1.2s  fmt\n  FAILED    75.0s  clippy (host)\n  -                dist\n  FAILED in 76.3s"
        );
    }

    #[test]
    fn summary_of_a_clean_run_says_ok() {
        let outcomes = [("fmt", Outcome::Passed(Duration::from_secs(2)))];
        assert_eq!(
            summary(&outcomes, Duration::from_secs(2)),
            "summary:\n  ok         2.0s  fmt\n  ok in 2.0s"
        );
    }

    #[test]
    fn steps_run_dist_before_the_browser_tiers() {
        let names: Vec<&str> = steps().iter().map(|step| step.name).collect();
        assert_eq!(
            names,
            [
                "fmt",
                "clippy (host)",
                "clippy (wasm32)",
                "doc",
                "native tests",
                "pytest",
                "ruff",
                "ruff format",
                "dist",
                "size budget",
                "browser tests (wasm32, chromium)",
                "browser tests (wasm32, firefox)",
                "end-to-end tests",
            ]
        );
    }
}
