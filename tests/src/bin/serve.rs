//! `serve [--port 8000] [--no-isolation]`: serves the demo, target/dist, Pyodide and the test fixtures on
//! 127.0.0.1 for a person to try in a browser; by default an isolated (COOP/COEP) server on PORT and a
//! non-isolated one on PORT+1, to compare. Run through `cargo bundle serve`.

use anyhow::{bail, Context, Result};
use python_runner_tests::{report, workspace_root, Server, ServerOptions};

const USAGE: &str = "usage: serve [--port PORT] [--no-isolation]

Serves on 127.0.0.1 (Ctrl-C to stop):
  /            demo/
  /dist/       target/dist/          (build it with `cargo bundle dist`)
  /pyodide/    node_modules/pyodide/ (npm ci)
  /fixtures/   tests/fixtures/

  --port PORT      port of the cross-origin isolated server (default 8000); a second, non-isolated
                   server listens on PORT+1 (0 = pick free ports)
  --no-isolation   only one server, on PORT, without COOP/COEP";

struct Args {
    port: u16,
    isolation: bool,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        port: 8000,
        isolation: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" | "-p" => {
                let value = it.next().context("--port needs a value")?;
                args.port = value
                    .parse()
                    .with_context(|| format!("bad port {value:?}"))?;
            }
            s if s.starts_with("--port=") => {
                let value = &s["--port=".len()..];
                args.port = value
                    .parse()
                    .with_context(|| format!("bad port {value:?}"))?;
            }
            "--no-isolation" => args.isolation = false,
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(args)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("serve: {}", report(&e));
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let args = parse_args()?;
    let root = workspace_root();
    let mut servers = Vec::new();
    if args.isolation {
        let isolated = Server::start(ServerOptions::isolated().with_port(args.port))?;
        let second_port = if args.port == 0 {
            0
        } else {
            args.port.checked_add(1).context("no port after 65535")?
        };
        let plain = Server::start(ServerOptions::not_isolated().with_port(second_port))?;
        println!("{}/  cross-origin isolated (COOP/COEP)", isolated.base_url);
        println!("{}/  not isolated (no COOP/COEP)", plain.base_url);
        servers.push(isolated);
        servers.push(plain);
    } else {
        let plain = Server::start(ServerOptions::not_isolated().with_port(args.port))?;
        println!("{}/  not isolated (no COOP/COEP)", plain.base_url);
        servers.push(plain);
    }
    println!(
        "serving {} (demo at /, fixtures at /fixtures/; Ctrl-C to stop)",
        root.display()
    );
    for (dir, hint) in [
        (
            "target/dist/python-runner.js",
            "run `cargo bundle dist` to build it",
        ),
        (
            "node_modules/pyodide/pyodide.mjs",
            "run `npm ci` in the workspace root",
        ),
    ] {
        if !root.join(dir).is_file() {
            println!("warning: {dir} is missing; {hint}");
        }
    }
    loop {
        std::thread::park();
    }
}
