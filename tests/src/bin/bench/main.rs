//! `bench [--runs N] [--quick] ...`: time to first output of `<python-runner>` against bare Pyodide in a module
//! worker (cold and warm, in headless Chromium), the element's interaction latencies per transport (input, Stop,
//! restart with the spare worker), its time to first output with an archive (`src`) the server delays, the library
//! build `python-runner.mjs` against the upstream npm packages it replaces (same page, same Pyodide), print
//! floods in the element against a bare Pyodide worker, many runners on one page (time and browser memory for 1, 8
//! and 30 auto-run snippets in view, the workers a page of 30 snippets with one in view boots, how soon a snippet
//! runs while another waits in input() or spins, and the demo page until every auto-run element is done), the warm
//! start from the cached memory snapshot (second visit against the first and against `snapshot="off"`, new
//! workers, the snapshot's making), P1 and the interaction latencies on Firefox and WebKit, and the size of
//! `target/dist/python-runner.js`; prints a table and writes JSON to `target/bench/`. Run through
//! `cargo bundle bench`, which builds the release bundle first.
//!
//! This file holds the run of every part and the report's glue; `args` the command line; each part lives in its own
//! module (`first_output`, `interaction`, `archive`, `library`, `flood`, `many` with `many_wait` and `many_demo`,
//! `warm`, `engines`: its measurements, JSON and table section), beside the shared `page` (browser and page steps), `stats`,
//! `text` (table formatting) and `machine` (versions, load, the bundle snapshot).

mod archive;
mod args;
mod engines;
mod first_output;
mod flood;
mod interaction;
mod library;
mod machine;
mod many;
mod many_demo;
mod many_wait;
mod page;
mod stats;
mod text;
mod warm;

use anyhow::{bail, Context, Result};
use archive::{archive_table, run_archive, ArchiveRun, ARCHIVE_DELAYS};
use args::{parse_args, Args, USAGE};
use engines::{engines_table, p1_labels, run_engines, EngineRun};
use first_output::{first_output_table, run_cold, run_warm, Scenario, TARGET_RATIO};
use flood::{flood_table, run_flood, FloodCounts, FloodRun};
use interaction::{interaction_table, run_interaction, Interaction, InteractionCounts, Page};
use library::{
    library_table, run_library, upstream_missing, upstream_versions, LibraryCounts, LibraryRun,
    LibraryServer,
};
use machine::{
    chromium_version, cpu_model, gzip_size, load_average, pyodide_version, snapshot_root,
};
use many::{many_table, run_many, ManyRun, ManyServer};
use page::SAMPLE_LIMIT;
use python_runner_tests::{report, workspace_root, Engine, Server, ServerOptions};
use serde_json::{json, Value};
use stats::round1;
use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use text::{iso_utc, pass, thousands};
use warm::{run_warm_start, warm_start_table, WarmServer, WarmStartRun};

/// Gzip -9 size the bundle should not exceed: the goal (the hard cap, 100 KiB, is `cargo bundle test`'s).
const TARGET_GZIP: u64 = 80 * 1024;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match parse_args(&args) {
        Ok(None) => {
            println!("{USAGE}");
            0
        }
        Ok(Some(args)) => match run(&args) {
            Ok(complete) => i32::from(!complete),
            Err(e) => {
                eprintln!("bench: {}", report(&e));
                2
            }
        },
        Err(e) => {
            eprintln!("bench: {}", report(&e));
            2
        }
    };
    std::process::exit(code);
}

struct Report<'a> {
    date: String,
    chromium: &'a str,
    pyodide: &'a str,
    cores: usize,
    load: (Option<f64>, Option<f64>),
    took: Duration,
    raw: u64,
    gzip: u64,
    scenarios: &'a [Scenario],
    /// `None`: the interaction part was skipped.
    interaction: Option<(&'a [Interaction], InteractionCounts)>,
    /// `None`: the archive part was skipped.
    archive: Option<&'a ArchiveRun>,
    /// `None`: the library part was skipped; else its runs, counts and the upstream packages' versions.
    library: Option<(&'a [LibraryRun], LibraryCounts, &'a [String])>,
    /// `None`: the output flood part was skipped.
    flood: Option<&'a FloodRun>,
    /// `None`: the many-runners part was skipped.
    many: Option<&'a ManyRun>,
    /// `None`: the warm-start part was skipped.
    warm: Option<&'a WarmStartRun>,
    /// `None`: the engines part (Firefox and WebKit) was skipped.
    engines: Option<&'a [EngineRun]>,
    /// Why a part that did not run was left out (`--only-*`, or its `--skip-*`).
    only: bool,
}

/// The table's line for a part that did not run (see [`skipped_why`]), after a blank line.
fn write_skipped(out: &mut String, title: &str, only: bool, skip_flag: &'static str) {
    let _ = writeln!(out);
    let _ = writeln!(out, "{title}: skipped ({})", skipped_why(only, skip_flag));
}

/// Why a part did not run: not named by the `--only-*` flags given, or its own `--skip-*` flag (an `--only-*`
/// and a `--skip-*` flag of the same part are refused).
fn skipped_why(only: bool, skip_flag: &'static str) -> &'static str {
    if only {
        "not named by an --only-* flag"
    } else {
        skip_flag
    }
}

fn table(r: &Report<'_>) -> String {
    let mut out = String::new();
    let load = |x: Option<f64>| x.map_or_else(|| "?".into(), |x| format!("{x:.2}"));
    let _ = writeln!(out, "python-runner bench, {}", r.date);
    let _ = writeln!(
        out,
        "Chromium {}, Pyodide {}, {} cores, load average {} at start, {} at end, took {:.0} s",
        r.chromium,
        r.pyodide,
        r.cores,
        load(r.load.0),
        load(r.load.1),
        r.took.as_secs_f64()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Bundle target/dist/python-runner.js");
    let _ = writeln!(out, "  raw       {:>9} B", thousands(r.raw));
    let over = i128::from(r.gzip) - i128::from(TARGET_GZIP);
    let _ = writeln!(
        out,
        "  gzip -9   {:>9} B   target <= {} B   {} ({}{} B)",
        thousands(r.gzip),
        thousands(TARGET_GZIP),
        pass(r.gzip <= TARGET_GZIP),
        if over > 0 { "+" } else { "-" },
        thousands(u64::try_from(over.unsigned_abs()).unwrap_or(u64::MAX))
    );

    first_output_table(&mut out, r.scenarios, r.only);
    match r.interaction {
        Some((runs, counts)) => interaction_table(&mut out, runs, counts),
        None => write_skipped(&mut out, "Interaction", r.only, "--skip-interaction"),
    }
    match r.archive {
        Some(run) => archive_table(&mut out, run),
        None => write_skipped(&mut out, "Archive", r.only, "--skip-archive"),
    }
    match r.library {
        Some((runs, counts, upstream)) => library_table(&mut out, runs, counts, upstream),
        None => write_skipped(&mut out, "Library", r.only, "--skip-library"),
    }
    match r.flood {
        Some(run) => flood_table(&mut out, run),
        None => write_skipped(&mut out, "Output flood", r.only, "--skip-flood"),
    }
    match r.many {
        Some(run) => many_table(&mut out, run),
        None => write_skipped(&mut out, "Many runners on one page", r.only, "--skip-many"),
    }
    match r.warm {
        Some(run) => warm_start_table(&mut out, run),
        None => write_skipped(&mut out, "Warm start", r.only, "--skip-warm"),
    }
    match r.engines {
        Some(runs) => engines_table(&mut out, runs, TARGET_RATIO),
        None => write_skipped(&mut out, "Engines", r.only, "--skip-engines"),
    }
    out.lines()
        .map(|line| line.trim_end().to_owned() + "\n")
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------

/// Runs the whole bench; `Ok(false)` when some variant produced no sample at all.
fn run(args: &Args) -> Result<bool> {
    let started = Instant::now();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let root = workspace_root();
    if !root.join("node_modules/pyodide/pyodide.mjs").is_file() {
        bail!("node_modules/pyodide/pyodide.mjs is missing; run `npm ci` in the workspace root");
    }
    let (snapshot, bundle) = snapshot_root(&root)?;
    let bundle_modified = std::fs::metadata(root.join("target/dist/python-runner.js"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let raw = u64::try_from(bundle.len())?;
    let gzip = gzip_size(&bundle)?;
    let chromium = chromium_version();
    let pyodide = pyodide_version(&root);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let load_start = load_average();
    eprintln!(
        "bench: Chromium {chromium}, Pyodide {pyodide}, {cores} cores; parts:{}{}{}{}{}{}{}{}",
        if args.ttfo {
            format!(
                " time to first output (cold {}, warm {} per variant)",
                args.cold_runs, args.warm_runs
            )
        } else {
            String::new()
        },
        if args.interaction { " interaction" } else { "" },
        if args.archive {
            format!(" archive ({} per variant)", args.archive_runs)
        } else {
            String::new()
        },
        if args.library { " library" } else { "" },
        if args.flood { " flood" } else { "" },
        if args.many {
            format!(" many ({} per case and server)", args.many_runs)
        } else {
            String::new()
        },
        if args.warm {
            format!(" warm start ({} per server)", args.warm_start_runs)
        } else {
            String::new()
        },
        if args.engines { " engines" } else { "" },
    );

    let counts = InteractionCounts::new(args.quick);
    let isolated = Server::start(ServerOptions::isolated().with_root(snapshot.path()))?;
    let mut scenarios = Vec::new();
    let mut interaction = Vec::new();
    if args.ttfo && args.cold_runs > 0 {
        scenarios.push(run_cold(&isolated, args));
    }
    if args.ttfo && args.warm_runs > 0 {
        scenarios.push(run_warm(
            &isolated,
            args,
            p1_labels(Engine::Chromium, true),
            Engine::Chromium,
        ));
    }
    if args.interaction {
        for page in Page::ALL.into_iter().filter(|p| p.isolated()) {
            interaction.push(run_interaction(&isolated, counts, page, Engine::Chromium));
        }
    }
    let archive = args
        .archive
        .then(|| run_archive(&isolated, args.archive_runs, unix));
    let library_counts = LibraryCounts::new(args.quick);
    let upstream_missing = upstream_missing(&root);
    let upstream = upstream_versions(&root);
    let mut library = Vec::new();
    if args.library {
        library.push(run_library(
            &isolated,
            library_counts,
            LibraryServer::Isolated,
            upstream_missing.as_deref(),
        ));
    }
    let flood_counts = FloodCounts::new(args.quick, args.flood_runs);
    let flood = args.flood.then(|| run_flood(&isolated, flood_counts));
    let mut many = args.many.then(|| ManyRun::new(args.many_runs));
    if let Some(many) = &mut many {
        many.servers
            .push(run_many(&isolated, ManyServer::Isolated, args.many_runs));
    }
    let mut warm = args.warm.then(|| WarmStartRun::new(args.warm_start_runs));
    if let Some(warm) = &mut warm {
        warm.servers.push(run_warm_start(
            &isolated,
            WarmServer::Isolated,
            args.warm_start_runs,
        ));
    }
    drop(isolated);
    let ttfo_plain = args.ttfo && args.warm_runs > 0 && args.not_isolated;
    if ttfo_plain || args.interaction || args.library || args.many || args.warm {
        let plain = Server::start(ServerOptions::not_isolated().with_root(snapshot.path()))?;
        if ttfo_plain {
            scenarios.push(run_warm(
                &plain,
                args,
                p1_labels(Engine::Chromium, false),
                Engine::Chromium,
            ));
        }
        if args.interaction {
            for page in Page::ALL.into_iter().filter(|p| !p.isolated()) {
                interaction.push(run_interaction(&plain, counts, page, Engine::Chromium));
            }
        }
        if args.library {
            library.push(run_library(
                &plain,
                library_counts,
                LibraryServer::NotIsolated,
                upstream_missing.as_deref(),
            ));
        }
        if let Some(many) = &mut many {
            many.servers
                .push(run_many(&plain, ManyServer::NotIsolated, args.many_runs));
        }
        if let Some(warm) = &mut warm {
            warm.servers.push(run_warm_start(
                &plain,
                WarmServer::NotIsolated,
                args.warm_start_runs,
            ));
        }
    }
    let engines = if args.engines {
        let isolated = Server::start(ServerOptions::isolated().with_root(snapshot.path()))?;
        let plain = Server::start(ServerOptions::not_isolated().with_root(snapshot.path()))?;
        Some(run_engines(&isolated, &plain, args, counts))
    } else {
        None
    };
    let took = started.elapsed();
    let load_end = load_average();

    let complete = scenarios.iter().all(|s| {
        let expected = if s.key == "cold" {
            args.cold_runs
        } else {
            args.warm_runs
        };
        s.complete(expected)
    }) && interaction.iter().all(Interaction::complete)
        && archive.as_ref().is_none_or(ArchiveRun::complete)
        && library.iter().all(LibraryRun::complete)
        && flood.as_ref().is_none_or(FloodRun::complete)
        && many.as_ref().is_none_or(ManyRun::complete)
        && warm.as_ref().is_none_or(WarmStartRun::complete)
        && engines
            .iter()
            .flatten()
            .all(|run| run.complete(args.warm_runs));
    let report = Report {
        date: iso_utc(unix),
        chromium: &chromium,
        pyodide: &pyodide,
        cores,
        load: (load_start, load_end),
        took,
        raw,
        gzip,
        scenarios: &scenarios,
        interaction: args.interaction.then_some((&interaction[..], counts)),
        archive: archive.as_ref(),
        library: args
            .library
            .then_some((&library[..], library_counts, &upstream[..])),
        flood: flood.as_ref(),
        many: many.as_ref(),
        warm: warm.as_ref(),
        engines: engines.as_deref(),
        only: args.only,
    };
    let json = json!({
        "timestamp": unix,
        "date_utc": report.date,
        "chromium_version": chromium,
        "pyodide_version": pyodide,
        "machine": {
            "cores": cores,
            "cpu": cpu_model(),
            "load_average_start": load_start,
            "load_average_end": load_end,
        },
        "settings": {
            "cold_runs": args.cold_runs,
            "warm_runs": args.warm_runs,
            "warmup": args.warmup,
            "quick": args.quick,
            "time_to_first_output": args.ttfo,
            "interaction": args.interaction,
            "archive": args.archive,
            "archive_runs": args.archive_runs,
            "archive_delays_ms": ARCHIVE_DELAYS,
            "library": args.library,
            "flood": args.flood,
            "flood_runs": args.flood.then_some(flood_counts.runs),
            "many": args.many,
            "many_runs": args.many.then_some(args.many_runs),
            "warm_start": args.warm,
            "warm_start_runs": args.warm.then_some(args.warm_start_runs),
            "engines": args.engines,
            "sample_limit_s": SAMPLE_LIMIT.as_secs(),
        },
        "duration_s": round1(took.as_secs_f64()),
        "bundle": {
            "path": "target/dist/python-runner.js",
            "modified_unix": bundle_modified,
            "raw": raw,
            "gzip": gzip,
            "target_gzip": TARGET_GZIP,
            "gzip_pass": gzip <= TARGET_GZIP,
        },
        "time_to_first_output_ms": scenarios
            .iter()
            .map(|s| (s.key.to_owned(), s.to_json()))
            .collect::<serde_json::Map<_, _>>(),
        "interaction": if args.interaction {
            let mut runs = interaction
                .iter()
                .map(|run| (run.page.key().to_owned(), run.to_json()))
                .collect::<serde_json::Map<_, _>>();
            runs.insert("settings".into(), counts.to_json());
            Value::Object(runs)
        } else {
            json!({ "skipped": skipped_why(args.only, "--skip-interaction") })
        },
        "archive": archive.as_ref().map_or_else(
            || json!({ "skipped": skipped_why(args.only, "--skip-archive") }),
            ArchiveRun::to_json,
        ),
        "library": if args.library {
            let mut runs = library
                .iter()
                .map(|run| (run.server.key().to_owned(), run.to_json()))
                .collect::<serde_json::Map<_, _>>();
            runs.insert("page".into(), json!("tests/fixtures/bench/library.html"));
            runs.insert("ours".into(), json!("target/dist/python-runner.mjs"));
            runs.insert("upstream".into(), json!(upstream));
            runs.insert("settings".into(), library_counts.to_json());
            Value::Object(runs)
        } else {
            json!({ "skipped": skipped_why(args.only, "--skip-library") })
        },
        "flood": flood.as_ref().map_or_else(
            || json!({ "skipped": skipped_why(args.only, "--skip-flood") }),
            FloodRun::to_json,
        ),
        "many": many.as_ref().map_or_else(
            || json!({ "skipped": skipped_why(args.only, "--skip-many") }),
            ManyRun::to_json,
        ),
        "warm_start": warm.as_ref().map_or_else(
            || json!({ "skipped": skipped_why(args.only, "--skip-warm") }),
            WarmStartRun::to_json,
        ),
        "engines": engines.as_ref().map_or_else(
            || json!({ "skipped": skipped_why(args.only, "--skip-engines") }),
            |runs| Value::Object(
                runs.iter()
                    .map(|run| (run.engine.name().to_owned(), run.to_json()))
                    .collect(),
            ),
        ),
        "complete": complete,
    });

    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = serde_json::to_string_pretty(&json)? + "\n";
    let path = dir.join(format!("bench-{unix}.json"));
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let latest = dir.join("latest.json");
    std::fs::write(&latest, &text).with_context(|| format!("writing {}", latest.display()))?;

    println!();
    print!("{}", table(&report));
    println!();
    println!("JSON: {} (also {})", path.display(), latest.display());
    if !complete {
        println!("INCOMPLETE: some variant or interaction measurement produced no successful sample (see the errors above and in the JSON)");
    }
    Ok(complete)
}
