//! `cargo bundle <build|dist|serve|test|bench>`: builds `target/dist/python-runner.js` and runs the workspace's chores (see `USAGE`).
mod assemble;
mod ci;
mod ledger;
mod minify_names;
mod pipeline;
mod python_files;
mod tidy;
mod wasm;
mod workspace;

use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::wasm::Profile;
use crate::workspace::Workspace;

const USAGE: &str = "\
usage: cargo bundle <command> [args]
       bundle/run.sh <command> [args]   (installs missing tools first)

commands:
  build          debug build of target/dist/python-runner.js
  dist           release build (wasm-opt -Oz when node_modules/.bin/wasm-opt exists); cleans target/dist
  serve [args]   dist, then `cargo run --release -p python-runner-tests --bin serve -- [args]`
  test           everything CI runs, in order, stopping at the first failure
  bench [args]   dist, then `cargo run --release -p python-runner-tests --bin bench -- [args]`
";

/// A parsed command line.
#[derive(Debug, PartialEq)]
enum Command {
    Build,
    Dist,
    Serve(Vec<String>),
    Test,
    Bench(Vec<String>),
    Help,
}

fn parse_args(args: &[String]) -> Result<Command> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    // `cargo bundle serve -- --port 1` passes the `--` through; the child cargo adds its own.
    let forwarded = match rest.split_first() {
        Some((first, tail)) if first == "--" => tail.to_vec(),
        _ => rest.to_vec(),
    };
    let parsed = match command.as_str() {
        "serve" => return Ok(Command::Serve(forwarded)),
        "bench" => return Ok(Command::Bench(forwarded)),
        "build" => Command::Build,
        "dist" => Command::Dist,
        "test" => Command::Test,
        "help" | "-h" | "--help" => Command::Help,
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    };
    if let Some(extra) = rest.first() {
        bail!("`{command}` takes no arguments, got `{extra}`\n\n{USAGE}");
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args).and_then(dispatch) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode> {
    if command == Command::Help {
        print!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    }
    let workspace = Workspace::load().context("locating the workspace")?;
    match command {
        Command::Help => {}
        Command::Build => {
            pipeline::build(&workspace, Profile::Debug)?;
        }
        Command::Dist => {
            pipeline::build(&workspace, Profile::Release)?;
        }
        Command::Test => ci::run(&workspace)?,
        Command::Serve(args) => return run_tests_bin(&workspace, "serve", &args),
        Command::Bench(args) => return run_tests_bin(&workspace, "bench", &args),
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the release bundle, then runs a binary of `python-runner-tests` with `args`, passing on its exit code.
fn run_tests_bin(workspace: &Workspace, bin: &str, args: &[String]) -> Result<ExitCode> {
    const PACKAGE: &str = "python-runner-tests";
    if !workspace.has_binary(PACKAGE, bin) {
        bail!("{PACKAGE} has no `{bin}` binary yet (expected tests/src/bin/{bin}.rs)");
    }
    pipeline::build(workspace, Profile::Release)?;
    let mut command = workspace::cargo();
    command
        .args(["run", "--release", "-p", PACKAGE, "--bin", bin, "--"])
        .args(args)
        .current_dir(&workspace.root);
    let description = workspace::describe(&command);
    let status = command
        .status()
        .with_context(|| format!("starting `{description}`"))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        // Killed by a signal (e.g. Ctrl-C on the server).
        None => ExitCode::FAILURE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse_args(&args)
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn parses_commands() -> Result<()> {
        let cases = [
            ("", Command::Help),
            ("--help", Command::Help),
            ("build", Command::Build),
            ("dist", Command::Dist),
            ("test", Command::Test),
            ("serve", Command::Serve(vec![])),
            (
                "serve --port 9000",
                Command::Serve(strings(&["--port", "9000"])),
            ),
            (
                "bench -- --runs 3",
                Command::Bench(strings(&["--runs", "3"])),
            ),
            ("bench -- -- x", Command::Bench(strings(&["--", "x"]))),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line)?, expected, "{line:?}");
        }
        Ok(())
    }

    #[test]
    fn rejects_unknown_commands_and_extra_arguments() {
        let first_line = |line: &str| {
            parse(line)
                .err()
                .map(|error| error.to_string().lines().next().unwrap_or("").to_owned())
        };
        assert_eq!(first_line("ci").as_deref(), Some("unknown command `ci`"));
        assert_eq!(
            first_line("dist --release").as_deref(),
            Some("`dist` takes no arguments, got `--release`")
        );
    }
}
