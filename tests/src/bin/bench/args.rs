//! The bench's command line: the usage text, [`Args`] and [`parse_args`] (which parts run, how many samples each).

use anyhow::{bail, Context, Result};

pub(crate) const USAGE: &str = "usage: bench [--runs N] [--quick] [options]

Measures time to first output (print(\"hi\")) of <python-runner> against bare Pyodide in a module worker,
cold (a fresh Chromium profile per sample) and warm (one browser, HTTP and wasm code caches filled), on a
cross-origin isolated server and (warm only) a non-isolated one; and the size of target/dist/python-runner.js.
Prints a table; writes target/bench/bench-<unix time>.json and target/bench/latest.json.

  --runs N            samples per variant for both cold and warm (default: cold 5, warm 9)
  --cold-runs N       cold samples per variant
  --warm-runs N       warm samples per variant
  --warmup N          unmeasured loads of each page before the warm samples (default 1)
  --quick             cold 2, warm 3 (explicit counts still win)
  --skip-not-isolated no warm time-to-first-output run on the non-isolated server
  --no-trace          no traced samples (the breakdown of where the time goes)
  --skip-interaction  no interaction part (below)
  --only-interaction  only the interaction part (no time to first output); --only-* flags add up
  --skip-archive      no archive part (below)
  --only-archive      only the archive part
  --archive-runs N    archive samples per variant (default 5, --quick 2)
  --skip-library      no library part (below)
  --only-library      only the library part
  --skip-flood        no output flood part (below)
  --only-flood        only the output flood part
  --flood-runs N      flood samples per case and variant (default 3, --quick 1)
  --skip-many         no many-runners part (below)
  --only-many         only the many-runners part
  --many-runs N       many-runners samples per case and server (default 3, --quick 1)
  --skip-warm         no warm-start part (below)
  --only-warm         only the warm-start part
  --warm-start-runs N warm-start samples per server, a fresh browser each (default 3, --quick 1); --warm-runs
                      stays the time-to-first-output part's warm samples
  --skip-engines      no engines part (below)
  --only-engines      only the engines part

Interaction (one warm browser, fresh profile, per variant: isolated, transport atomics; isolated, transport
service-worker; not isolated, transport jspi; not isolated, transport service-worker: the page registers
/dist/python-runner.js as its service worker, creates the element with transport=\"service-worker\" once the
page is controlled, and unregisters it at the end), on tests/fixtures/bench/interact.html: input latency over a
loop of 200 input() calls (--quick: 50), page write -> Python has the line, and Enter -> next input field;
Stop -> KeyboardInterrupt on screen in a busy loop (atomics only), time.sleep(60) and input(), 10 samples each
(--quick: 3); Stop that replaces Python with the pre-warmed spare (busy loop without atomics,
sum(range(10**15)) after the 1 s grace with atomics): restart notice -> ready event, 5 samples (--quick: 2),
against a fresh element's created -> ready on a new page load.

Archive (one warm browser, isolated server, tests/fixtures/bench/archive.html, a fresh page load per sample): time
from element created to its first output line of `import mypkg; print(mypkg.GREETING)` with
src=\"/fixtures/archive/project.zip?delay_ms=D&n=<unique>\" (the server answers D ms late), for D = 0, 1000 and
3000 ms, against the baseline: a bare element (no src) printing \"hi\". Since the page downloads the archive while
the worker loads Pyodide, the ideal is max(baseline median, D); target: median / ideal <= 1.05.

Library (one warm browser, fresh profile, per server: isolated, Atomics channel; not isolated, service-worker
channel), on tests/fixtures/bench/library.html: python-runner.mjs (ours) against the npm packages it replaces,
pyodide-worker-runner 1.4.0 + comsync 0.0.9 + sync-message 0.0.12 + comlink 4.4.2 (upstream, served from
node_modules/ and loaded with a small CommonJS loader). One page holds a PyodideClient of each, whose module
worker loads the same Pyodide, runs its initPyodide and the same Python patch of input() and time.sleep (through
makeRunnerCallback). Samples of the two alternate, over 5 rounds (--quick: 2): input latency (client.writeMessage
-> Python has the line; 200 lines, --quick 50), call round trip (client.call(proxy.noop); 100, --quick 20),
client.interrupt() during input() -> the call settled with KeyboardInterrupt caught in Python (20, --quick 4),
time.sleep(0.1) overshoot measured in Python (20, --quick 6), and a new client's worker start -> ready (Pyodide
loaded + initPyodide; 5, --quick 2). Without isolation the page registers one module service worker for both
implementations, python-runner.mjs's serviceWorkerFetchListener (it speaks sync-message's wire), and unregisters
it at the end.

Output flood (one warm browser, fresh profile, isolated server, tests/fixtures/bench/flood.html, a fresh page
per sample): per case, <python-runner manual> (ready, one warm-up run, 3 s for its spare worker to boot) against
a bare module worker that loads Pyodide and posts every batch of stdout and stderr to the page: wall time
run() -> done event (bare: \"run\" posted -> \"done\" received), median; the element's longest main-thread
task and frame during the run (longtask and long-animation-frame entries; target <= 50 ms) and its page memory
growth, element created -> after done (measureUserAgentSpecificMemory, the Window's share only, else
performance.memory; checked first on a page keeping 50 MB of strings). Cases: 200,000 short lines (target:
element/bare <= 1.5), 20,000 lines alternating stdout and stderr, one 10 MB line, 2,000,000 lines (target:
memory growth < 100 MB). Every sample checks the characters received and the element's last line shown. Then
Stop during while True: print(\"flood\") after 500 ms of output -> KeyboardInterrupt on screen, 5 samples
(--quick: 2), target median <= 50 ms.

Many runners on one page (issue \"Many runners on one page\"; per server, isolated and not isolated, one warm
browser, fresh profile, window 1280x900, tests/fixtures/bench/many.html, a warm-up load, then a fresh page per
sample): auto-run elements (hide-code, code print('snippet', i), lazy start: each starts within 1.5 screens of the
viewport) created by a script that wraps window.Worker first. Time from the elements created until every one's
output event holds its line, and browser memory growth: the sum of the Pss (/proc/<pid>/smaps_rollup; VmRSS of
/proc/<pid>/status where unreadable) of the processes in chromedriver's process group (chromedriver, Chromium and
all its helpers), 1 s after all printed with the page and its workers alive, minus the same sum on about:blank
right before the page (2 s after leaving the previous one). Cases: 1, 8 and 30 snippets, all in the viewport (a
grid); ratios to 1 snippet, targets: 8: time <= 1.2, memory <= 1.3; 30: time <= 1.3, memory <= 1.5. And 30
snippets 3000 px apart, only the first in view: the workers the page created 4 s after the first snippet printed,
target <= 2 (one Pyodide, plus the spare the element pre-warms 300 ms after code first runs). Linux only (/proc).
Then, in the same browser: nobody waits (tests/fixtures/bench/many-wait.html, a fresh page per round of the part,
3 rounds on each): elements A and B, manual, in one runtime; b.run() -> B's first output event with A idle (B
alone), with A waiting in input() (target: median - B alone's median <= 50 ms; A still gets its line afterwards)
and with A in while True: pass (target: median <= 150 ms; then Stop); before each Run the page settles: every
worker it created has loaded Python, none created for 0.7 s, none terminated for 2.1 s (so B's Python, its home
worker or the pre-warmed spare, has booted). And the demo page (tests/fixtures/bench/many-demo.html: demo/index.html
in a frame filling a 1280x6000 window, so every element is in view and starts at load; 2 loads per round, after a
warm-up load): frame added -> every auto-run element (no manual attribute) settled, i.e. its done event, or for
the one whose pyodide-url does not exist, its error event; against one auto-run element (many.html?n=1 in the
same frame), target: ratio of the medians <= 1.3.

Warm start from the cached memory snapshot (issue 13; per server, isolated and not, and per sample a fresh browser
profile; tests/fixtures/bench/warm.html, whose script creates the elements from its query): a first visit (cold
HTTP cache): one eager element print('hi'), element created -> \"hi\" in its output and from navigation start
(performance.timeOrigin), its ready event's detail.warm must be false; then the wait until the page's throwaway
\"python-runner-snapshot\" worker (started 5 s after the full start) stored the snapshot in the Cache API: its size
(the cached Response's bytes), the first visit's ready -> stored, the worker's created -> stored, and the page's
main thread meanwhile (a requestAnimationFrame loop's longest gap between frames; longtask entries, target 0;
long-animation-frame entries; the issue's \"task <= 16 ms\" is below the 50 ms these APIs report); a second visit
(must start warm; target second / first <= 0.4); a visit with snapshot=\"off\" (target second / off <= 0.5);
the spare worker each of these two visits starts, new Worker() -> its ready message (target from the snapshot /
off <= 0.5); and, on a page whose first element is manual (no code runs, so no spare), a runtime=\"own\" element's
created -> ready event with the snapshot and with snapshot=\"off\" (target <= 0.5).

Engines (Firefox ESR through geckodriver, WebKitGTK's MiniBrowser through WebKitWebDriver under xvfb-run; an
engine whose binaries are missing is skipped with the reason): per engine, the warm time to first output above
(element against bare Pyodide, --warm-runs per variant, isolated and not isolated, untraced) and the interaction
measurements above on the isolated page (transport atomics) and, without isolation, the JSPI page (Firefox) or,
where the engine has no JSPI (WebKit, as Safari), the service-worker page. Chromium's numbers are the other parts.

Exit status: 0 when every variant and every interaction measurement produced at least one sample (targets missed
or not), 1 otherwise.";

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Args {
    pub(crate) cold_runs: usize,
    pub(crate) warm_runs: usize,
    pub(crate) warmup: usize,
    pub(crate) quick: bool,
    pub(crate) not_isolated: bool,
    pub(crate) trace: bool,
    /// Time to first output (cold and warm); off with `--only-interaction`.
    pub(crate) ttfo: bool,
    /// The interaction part; off with `--skip-interaction`.
    pub(crate) interaction: bool,
    /// The archive part; off with `--skip-archive`.
    pub(crate) archive: bool,
    /// Archive samples per variant (baseline and each delay).
    pub(crate) archive_runs: usize,
    /// The library part (python-runner.mjs against the upstream npm packages); off with `--skip-library`.
    pub(crate) library: bool,
    /// The output flood part (print floods, element against bare Pyodide); off with `--skip-flood`.
    pub(crate) flood: bool,
    /// Flood samples per case and variant (`--flood-runs`); `None`: the default for `--quick` or not.
    pub(crate) flood_runs: Option<usize>,
    /// The many-runners part (many snippets on one page); off with `--skip-many`.
    pub(crate) many: bool,
    /// Many-runners samples per case and server.
    pub(crate) many_runs: usize,
    /// The warm-start part (the cached memory snapshot); off with `--skip-warm`.
    pub(crate) warm: bool,
    /// Warm-start samples per server (`--warm-start-runs`; `--warm-runs` is the first-output part's), each in a
    /// fresh browser.
    pub(crate) warm_start_runs: usize,
    /// The engines part (P1 and interaction on Firefox and WebKit); off with `--skip-engines`.
    pub(crate) engines: bool,
    /// Some `--only-*` flag was given (for saying why a part did not run).
    pub(crate) only: bool,
}

pub(crate) fn parse_args(args: &[String]) -> Result<Option<Args>> {
    let (mut runs, mut cold, mut warm, mut warmup) = (None, None, None, 1);
    let mut quick = false;
    let mut not_isolated = true;
    let mut trace = true;
    let (mut skip_interaction, mut only_interaction) = (false, false);
    let (mut skip_archive, mut only_archive, mut archive_runs) = (false, false, None);
    let (mut skip_library, mut only_library) = (false, false);
    let (mut skip_flood, mut only_flood, mut flood_runs) = (false, false, None);
    let (mut skip_many, mut only_many, mut many_runs) = (false, false, None);
    let (mut skip_warm, mut only_warm, mut warm_start_runs) = (false, false, None);
    let (mut skip_engines, mut only_engines) = (false, false);
    let mut it = args.iter();
    let count = |flag: &str, value: Option<&String>| -> Result<usize> {
        let value = value.with_context(|| format!("{flag} needs a value"))?;
        value
            .parse()
            .with_context(|| format!("{flag}: bad count {value:?}"))
    };
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "--runs" => runs = Some(count(flag, value().as_ref())?),
            "--cold-runs" => cold = Some(count(flag, value().as_ref())?),
            "--warm-runs" => warm = Some(count(flag, value().as_ref())?),
            "--warmup" => warmup = count(flag, value().as_ref())?,
            "--quick" => quick = true,
            "--skip-not-isolated" => not_isolated = false,
            "--no-trace" => trace = false,
            "--skip-interaction" => skip_interaction = true,
            "--only-interaction" => only_interaction = true,
            "--skip-archive" => skip_archive = true,
            "--only-archive" => only_archive = true,
            "--archive-runs" => archive_runs = Some(count(flag, value().as_ref())?),
            "--skip-library" => skip_library = true,
            "--only-library" => only_library = true,
            "--skip-flood" => skip_flood = true,
            "--only-flood" => only_flood = true,
            "--flood-runs" => flood_runs = Some(count(flag, value().as_ref())?),
            "--skip-many" => skip_many = true,
            "--only-many" => only_many = true,
            "--many-runs" => many_runs = Some(count(flag, value().as_ref())?),
            "--skip-warm" => skip_warm = true,
            "--only-warm" => only_warm = true,
            "--warm-start-runs" => warm_start_runs = Some(count(flag, value().as_ref())?),
            "--skip-engines" => skip_engines = true,
            "--only-engines" => only_engines = true,
            "--help" | "-h" => return Ok(None),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    let (cold_default, warm_default, archive_default) = if quick { (2, 3, 2) } else { (5, 9, 5) };
    // Without any --only-* flag every part runs; with some, exactly the named ones; --skip-* then removes parts.
    let only = only_interaction
        || only_archive
        || only_library
        || only_flood
        || only_many
        || only_warm
        || only_engines;
    let args = Args {
        cold_runs: cold.or(runs).unwrap_or(cold_default),
        warm_runs: warm.or(runs).unwrap_or(warm_default),
        warmup,
        quick,
        not_isolated,
        trace,
        ttfo: !only,
        interaction: (!only || only_interaction) && !skip_interaction,
        archive: (!only || only_archive) && !skip_archive,
        archive_runs: archive_runs.unwrap_or(archive_default),
        library: (!only || only_library) && !skip_library,
        flood: (!only || only_flood) && !skip_flood,
        flood_runs,
        many: (!only || only_many) && !skip_many,
        many_runs: many_runs.unwrap_or(if quick { 1 } else { 3 }),
        warm: (!only || only_warm) && !skip_warm,
        warm_start_runs: warm_start_runs.unwrap_or(if quick { 1 } else { 3 }),
        engines: (!only || only_engines) && !skip_engines,
        only,
    };
    if skip_interaction && only_interaction {
        bail!("--skip-interaction and --only-interaction leave nothing to measure");
    }
    if skip_archive && only_archive {
        bail!("--skip-archive and --only-archive leave nothing to measure");
    }
    if skip_library && only_library {
        bail!("--skip-library and --only-library leave nothing to measure");
    }
    if skip_flood && only_flood {
        bail!("--skip-flood and --only-flood leave nothing to measure");
    }
    if skip_many && only_many {
        bail!("--skip-many and --only-many leave nothing to measure");
    }
    if skip_engines && only_engines {
        bail!("--skip-engines and --only-engines leave nothing to measure");
    }
    if only_engines && warm.or(runs) == Some(0) {
        bail!("--only-engines with --warm-runs 0 leaves only its interaction part; drop the count");
    }
    if skip_warm && only_warm {
        bail!("--skip-warm and --only-warm leave nothing to measure");
    }
    if args.warm && args.warm_start_runs == 0 {
        bail!(
            "--warm-start-runs 0 leaves the warm-start part nothing to measure (use --skip-warm)"
        );
    }
    if args.many && args.many_runs == 0 {
        bail!("--many-runs 0 leaves the many-runners part nothing to measure (use --skip-many)");
    }
    if args.flood && args.flood_runs == Some(0) {
        bail!("--flood-runs 0 leaves the flood part nothing to measure (use --skip-flood)");
    }
    if args.archive && args.archive_runs == 0 {
        bail!("--archive-runs 0 leaves the archive part nothing to measure (use --skip-archive)");
    }
    if args.ttfo
        && !args.interaction
        && !args.archive
        && !args.library
        && !args.flood
        && !args.many
        && !args.warm
        && !args.engines
        && args.cold_runs == 0
        && args.warm_runs == 0
    {
        bail!("nothing to measure: both cold and warm runs are 0");
    }
    Ok(Some(args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Option<Args> {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse_args(&args).expect("valid arguments")
    }

    #[test]
    fn parses_run_counts() {
        let full = parse("").expect("args");
        assert_eq!((full.cold_runs, full.warm_runs, full.warmup), (5, 9, 1));
        let quick = parse("--quick").expect("args");
        assert_eq!((quick.cold_runs, quick.warm_runs), (2, 3));
        let runs = parse("--runs 4 --quick").expect("args");
        assert_eq!((runs.cold_runs, runs.warm_runs), (4, 4));
        let split = parse("--runs=4 --cold-runs 1 --no-trace --skip-not-isolated").expect("args");
        assert_eq!((split.cold_runs, split.warm_runs), (1, 4));
        assert!(!split.trace && !split.not_isolated);
        assert!(parse("--help").is_none());
        assert!(parse_args(&["--runs".to_owned()]).is_err());
        assert!(parse_args(&["--bogus".to_owned()]).is_err());
    }

    #[test]
    fn parses_interaction_flags() {
        let full = parse("").expect("args");
        assert!(full.ttfo && full.interaction);
        let skip = parse("--skip-interaction").expect("args");
        assert!(skip.ttfo && !skip.interaction);
        let only = parse("--only-interaction --quick").expect("args");
        assert!(!only.ttfo && only.interaction && only.quick);
        assert!(parse("--only-interaction --runs 0").is_some());
        // With the archive part still on, there is something to measure.
        assert!(parse("--runs=0 --skip-interaction").is_some());
        assert!(parse_args(&[
            "--runs=0".to_owned(),
            "--skip-interaction".to_owned(),
            "--skip-archive".to_owned(),
            "--skip-library".to_owned(),
            "--skip-flood".to_owned(),
            "--skip-many".to_owned(),
            "--skip-warm".to_owned(),
            "--skip-engines".to_owned()
        ])
        .is_err());
        assert!(parse_args(&[
            "--only-interaction".to_owned(),
            "--skip-interaction".to_owned()
        ])
        .is_err());
    }

    #[test]
    fn parses_archive_flags() {
        let full = parse("").expect("args");
        assert!(full.ttfo && full.interaction && full.archive);
        assert_eq!(full.archive_runs, 5);
        assert_eq!(parse("--quick").expect("args").archive_runs, 2);
        let only = parse("--only-archive --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && only.archive && only.only);
        let both = parse("--only-archive --only-interaction").expect("args");
        assert!(!both.ttfo && both.interaction && both.archive);
        let only_interaction = parse("--only-interaction").expect("args");
        assert!(!only_interaction.archive);
        let skip = parse("--skip-archive --archive-runs 0").expect("args");
        assert!(skip.ttfo && skip.interaction && !skip.archive);
        assert_eq!(parse("--archive-runs=3").expect("args").archive_runs, 3);
        assert!(parse_args(&["--only-archive".to_owned(), "--skip-archive".to_owned()]).is_err());
        assert!(parse_args(&["--archive-runs".to_owned(), "0".to_owned()]).is_err());
        assert!(parse("--only-archive --runs 0").is_some());
    }

    #[test]
    fn parses_library_flags() {
        let full = parse("").expect("args");
        assert!(full.library);
        let only = parse("--only-library --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && !only.archive && only.library && only.only);
        let both = parse("--only-library --only-archive").expect("args");
        assert!(!both.ttfo && !both.interaction && both.archive && both.library);
        assert!(!parse("--only-interaction").expect("args").library);
        assert!(!parse("--only-archive").expect("args").library);
        let skip = parse("--skip-library").expect("args");
        assert!(skip.ttfo && skip.interaction && skip.archive && !skip.library);
        assert!(parse_args(&["--only-library".to_owned(), "--skip-library".to_owned()]).is_err());
        assert!(parse("--only-library --runs 0").is_some());
        // With the library part still on, there is something to measure.
        assert!(parse("--runs=0 --skip-interaction --skip-archive").is_some());
    }

    #[test]
    fn parses_flood_flags() {
        let full = parse("").expect("args");
        assert!(full.flood && full.flood_runs.is_none());
        let only = parse("--only-flood --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && !only.archive && !only.library && only.flood);
        assert!(only.only && only.quick);
        let both = parse("--only-flood --only-library").expect("args");
        assert!(!both.ttfo && both.library && both.flood && !both.archive);
        for other in ["--only-interaction", "--only-archive", "--only-library"] {
            assert!(!parse(other).expect("args").flood, "{other}");
        }
        let skip = parse("--skip-flood").expect("args");
        assert!(skip.ttfo && skip.interaction && skip.archive && skip.library && !skip.flood);
        assert_eq!(parse("--flood-runs=5").expect("args").flood_runs, Some(5));
        assert_eq!(
            parse("--flood-runs 2 --quick").expect("args").flood_runs,
            Some(2)
        );
        assert!(parse("--skip-flood --flood-runs 0").is_some());
        assert!(parse_args(&["--flood-runs".to_owned(), "0".to_owned()]).is_err());
        assert!(parse_args(&["--flood-runs".to_owned()]).is_err());
        assert!(parse_args(&["--only-flood".to_owned(), "--skip-flood".to_owned()]).is_err());
        assert!(parse("--only-flood --runs 0").is_some());
        // With the flood part still on, there is something to measure.
        assert!(parse("--runs=0 --skip-interaction --skip-archive --skip-library").is_some());
    }

    #[test]
    fn parses_many_flags() {
        let full = parse("").expect("args");
        assert!(full.many && full.many_runs == 3);
        assert_eq!(parse("--quick").expect("args").many_runs, 1);
        let only = parse("--only-many --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && !only.archive && !only.library && !only.flood);
        assert!(only.many && only.only && only.many_runs == 1);
        for other in [
            "--only-interaction",
            "--only-archive",
            "--only-library",
            "--only-flood",
        ] {
            assert!(!parse(other).expect("args").many, "{other}");
        }
        let both = parse("--only-many --only-flood").expect("args");
        assert!(both.many && both.flood && !both.library);
        let skip = parse("--skip-many").expect("args");
        assert!(skip.ttfo && skip.flood && !skip.many);
        assert_eq!(parse("--many-runs=5 --quick").expect("args").many_runs, 5);
        assert!(parse("--skip-many --many-runs 0").is_some());
        assert!(parse_args(&["--many-runs".to_owned(), "0".to_owned()]).is_err());
        assert!(parse_args(&["--only-many".to_owned(), "--skip-many".to_owned()]).is_err());
        assert!(parse("--only-many --runs 0").is_some());
        // With the many part still on, there is something to measure.
        assert!(
            parse("--runs=0 --skip-interaction --skip-archive --skip-library --skip-flood")
                .is_some()
        );
    }

    #[test]
    fn parses_warm_flags() {
        let full = parse("").expect("args");
        assert!(full.warm && full.warm_start_runs == 3);
        assert_eq!(parse("--quick").expect("args").warm_start_runs, 1);
        let only = parse("--only-warm --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && !only.archive && !only.library);
        assert!(!only.flood && !only.many && only.warm && only.only);
        assert_eq!((only.warm_start_runs, only.warm_runs), (1, 3));
        for other in ["--only-interaction", "--only-many", "--only-flood"] {
            assert!(!parse(other).expect("args").warm, "{other}");
        }
        let both = parse("--only-warm --only-many").expect("args");
        assert!(both.warm && both.many && !both.flood);
        let skip = parse("--skip-warm").expect("args");
        assert!(skip.ttfo && skip.many && !skip.warm);
        // --warm-runs stays the first-output part's warm samples.
        let counts = parse("--warm-runs 4 --warm-start-runs=2").expect("args");
        assert_eq!((counts.warm_runs, counts.warm_start_runs), (4, 2));
        assert!(parse("--skip-warm --warm-start-runs 0").is_some());
        assert!(parse_args(&["--warm-start-runs".to_owned(), "0".to_owned()]).is_err());
        assert!(parse_args(&["--only-warm".to_owned(), "--skip-warm".to_owned()]).is_err());
        assert!(parse("--only-warm --runs 0").is_some());
        // With the warm part still on, there is something to measure.
        assert!(parse(
            "--runs=0 --skip-interaction --skip-archive --skip-library --skip-flood --skip-many"
        )
        .is_some());
    }

    #[test]
    fn parses_engines_flags() {
        let full = parse("").expect("args");
        assert!(full.engines);
        let only = parse("--only-engines --quick").expect("args");
        assert!(!only.ttfo && !only.interaction && !only.archive && !only.library);
        assert!(!only.flood && !only.many && !only.warm && only.engines && only.only);
        assert_eq!(only.warm_runs, 3);
        for other in ["--only-interaction", "--only-many", "--only-warm"] {
            assert!(!parse(other).expect("args").engines, "{other}");
        }
        let skip = parse("--skip-engines").expect("args");
        assert!(skip.ttfo && skip.warm && !skip.engines);
        assert!(parse_args(&["--only-engines".to_owned(), "--skip-engines".to_owned()]).is_err());
        assert!(parse_args(&[
            "--only-engines".to_owned(),
            "--warm-runs".to_owned(),
            "0".to_owned()
        ])
        .is_err());
    }
}
