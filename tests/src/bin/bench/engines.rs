//! The bench's engines part: on Firefox ESR and WebKitGTK, P1 (the element's time to first output against bare
//! Pyodide, warm, isolated and not) and the interaction measurements (input latency first) on each page where the
//! engine can block; Chromium keeps the full bench in the other parts.

use crate::args::Args;
use crate::first_output::{run_warm, Scenario};
use crate::interaction::{run_interaction, Interaction, InteractionCounts, Page};
use crate::stats::round1;
use crate::text::{ms, pass};
use python_runner_tests::{Engine, EnginePaths, Server};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The engines this part measures (Chromium is the rest of the bench).
pub(crate) const OTHER_ENGINES: [Engine; 2] = [Engine::Firefox, Engine::WebKit];

/// One engine's measurements.
#[derive(Debug)]
pub(crate) struct EngineRun {
    pub(crate) engine: Engine,
    /// Why the engine was not measured (its binaries are missing).
    skipped: Option<String>,
    /// Warm time to first output, isolated then not isolated.
    p1: Vec<Scenario>,
    /// Interaction per page the engine can block on.
    interaction: Vec<Interaction>,
}

impl EngineRun {
    pub(crate) fn complete(&self, warm_runs: usize) -> bool {
        self.skipped.is_some()
            || (self.p1.iter().all(|s| s.complete(warm_runs))
                && self.interaction.iter().all(Interaction::complete))
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "skipped": self.skipped,
            "time_to_first_output_ms": self.p1.iter()
                .map(|s| (s.key.to_owned(), s.to_json()))
                .collect::<serde_json::Map<_, _>>(),
            "interaction": self.interaction.iter()
                .map(|run| (run.page.key().to_owned(), run.to_json()))
                .collect::<serde_json::Map<_, _>>(),
        })
    }
}

/// The interaction pages `engine` can block on: shared memory when isolated; without isolation JSPI where the
/// engine has it (Firefox), else only the service worker (WebKit, as Safari).
fn pages(engine: Engine) -> [Page; 2] {
    match engine {
        Engine::WebKit => [Page::Isolated, Page::ServiceWorker],
        Engine::Chromium | Engine::Firefox => [Page::Isolated, Page::NotIsolated],
    }
}

/// The key, label and trace-column title of `engine`'s warm P1 scenario on an isolated or a plain page
/// (Chromium's are the first-output part's).
pub(crate) fn p1_labels(
    engine: Engine,
    isolated: bool,
) -> (&'static str, &'static str, &'static str) {
    match (engine, isolated) {
        (Engine::Firefox, true) => ("firefox_warm", "Firefox warm, isolated", "ff"),
        (Engine::Firefox, false) => (
            "firefox_warm_not_isolated",
            "Firefox warm, not isolated",
            "ff no-COI",
        ),
        (Engine::WebKit, true) => ("webkit_warm", "WebKit warm, isolated", "wk"),
        (Engine::WebKit, false) => (
            "webkit_warm_not_isolated",
            "WebKit warm, not isolated",
            "wk no-COI",
        ),
        (Engine::Chromium, true) => ("warm", "warm, isolated", "warm"),
        (Engine::Chromium, false) => ("warm_not_isolated", "warm, not isolated", "no-COI"),
    }
}

/// Measures every engine of [`OTHER_ENGINES`] on the two servers (untraced: the trace is Chromium's part).
pub(crate) fn run_engines(
    isolated: &Server,
    plain: &Server,
    args: &Args,
    counts: InteractionCounts,
) -> Vec<EngineRun> {
    let args = Args {
        trace: false,
        ..args.clone()
    };
    let paths = EnginePaths::default();
    OTHER_ENGINES
        .into_iter()
        .map(|engine| {
            let mut run = EngineRun {
                engine,
                skipped: paths.missing(engine),
                p1: Vec::new(),
                interaction: Vec::new(),
            };
            if let Some(why) = &run.skipped {
                eprintln!("engines: {engine} skipped: {why}");
                return run;
            }
            eprintln!("engines: {engine}");
            for (server, is_isolated) in [(isolated, true), (plain, false)] {
                if args.warm_runs > 0 {
                    run.p1.push(run_warm(
                        server,
                        &args,
                        p1_labels(engine, is_isolated),
                        engine,
                    ));
                }
            }
            for page in pages(engine) {
                let server = if page.isolated() { isolated } else { plain };
                run.interaction
                    .push(run_interaction(server, counts, page, engine));
            }
            run
        })
        .collect()
}

/// The engines part's section of the table: per engine, P1 (element / bare, medians) on each server and each
/// page's input latency (page write -> Python has the line, median).
pub(crate) fn engines_table(out: &mut String, runs: &[EngineRun], target_ratio: f64) {
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Engines (warm P1 = element first output / bare Pyodide, target <= {target_ratio}; input: page write -> Python has the line)"
    );
    for run in runs {
        if let Some(why) = &run.skipped {
            let _ = writeln!(out, "  {:<9} skipped: {why}", run.engine.name());
            continue;
        }
        for scenario in &run.p1 {
            let ratio = scenario.ttfo_ratio();
            let _ = writeln!(
                out,
                "  {:<9} {:<32} element {:>9}  bare {:>9}  ratio {:>6}  {}",
                run.engine.name(),
                scenario.label(),
                ms(scenario.element_median()),
                ms(scenario.bare_median()),
                ratio.map_or_else(|| "?".into(), |r| format!("{r:.3}")),
                ratio.map_or("?", |r| pass(r <= target_ratio)),
            );
        }
        for interaction in &run.interaction {
            let _ = writeln!(
                out,
                "  {:<9} input, {:<40} median {:>9} (transport {})",
                run.engine.name(),
                interaction.page.label(),
                interaction
                    .input_median()
                    .map_or_else(|| "?".into(), |m| format!("{} ms", round1(m))),
                interaction.transport().unwrap_or("?"),
            );
        }
    }
}
