//! Step 5: esbuild (the `esbuild-rs` crate, in process) bundles the element, the worker's start, the glue, the wasm and the Python package into one function, `python-runner.js`, whose own text is also the worker's code; then the library API.
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use esbuild_rs::{BuildOptionsBuilder, BuildResult, Format, Loader};

use crate::ledger::Part;

/// The worker's start (`startWorker`), imported by `main.js`; written into `target/bundle-work/` as [`WORKER_FILE`].
const WORKER_TEMPLATE: &str = include_str!("../templates/worker.js");
/// Where `main.js` imports the worker's start from.
pub const WORKER_FILE: &str = "worker.js";
/// Entry of `python-runner.js`; imports paths relative to `target/bundle-work/`.
const MAIN_TEMPLATE: &str = include_str!("../templates/main.js");

/// The function `python-runner.js` is wrapped in and calls at once. `main.js` reads its own source
/// through this name: the worker's code is that text, marked by [`WORKER_FLAG`].
pub const BUNDLE_FUNCTION: &str = "__pythonRunner";
/// Set on the worker's global object by the first statement of its code (see `main.js`).
pub const WORKER_FLAG: &str = "__pythonRunnerWorker";
/// Opens the wrapping function; strict, as the ES module esbuild wrote assumes.
const WRAPPER_START: &str = "(function __pythonRunner(){\"use strict\";";
/// Closes and calls it.
const WRAPPER_END: &str = "})();\n";

/// Entry of `python-runner.mjs` and `python-runner-library.js` (the library API).
pub const LIBRARY_TEMPLATE: &str = include_str!("../templates/library.js");
/// TypeScript declarations of the library API, copied next to it.
pub const LIBRARY_TYPES: &str = include_str!("../templates/python-runner.d.ts");
/// The global the classic-script build of the library sets.
pub const LIBRARY_GLOBAL: &str = "pythonRunner";

/// sync-message's service-worker listener, imported by `library.js` and `service_worker.js`.
pub const SYNC_MESSAGE_SW_TEMPLATE: &str = include_str!("../templates/sync_message_sw.js");
/// Where the templates import it from.
const SYNC_MESSAGE_SW_FILE: &str = "sync-message-sw.js";

/// The service-worker broker, imported by `main.js`.
const SERVICE_WORKER_TEMPLATE: &str = include_str!("../templates/service_worker.js");

/// The generated Python package module, imported by `worker.js`.
pub const PYTHON_FILES_FILE: &str = "python-files.js";

/// `python-runner.js` and where its parts lie in it.
pub struct MainBundle {
    /// The file's text.
    pub source: String,
    /// Consecutive (part, length in bytes) stretches covering `source`, for the ledger.
    pub regions: Vec<(Part, usize)>,
}

/// Step 5: everything as one minified ES module (esbuild), wrapped in [`BUNDLE_FUNCTION`], so it
/// runs as a classic script and as an ES module, and its own text can start the worker.
pub fn main_bundle(work_dir: &Path) -> Result<MainBundle> {
    for (name, text) in [
        (WORKER_FILE, WORKER_TEMPLATE),
        ("service-worker.js", SERVICE_WORKER_TEMPLATE),
    ] {
        let file = work_dir.join(name);
        fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    write_sync_message_sw(work_dir)?;
    let entry = Entry {
        name: "main.entry.js",
        template: MAIN_TEMPLATE,
        node_modules: None,
    };
    let output =
        bundle_entry(work_dir, &entry, Format::ESModule, "").context("bundling the element")?;
    // The worker's code is this text: it must read itself through the wrapper's name and mark
    // the worker's copy, or every element would fail to start its worker.
    for name in [BUNDLE_FUNCTION, WORKER_FLAG] {
        if !output.text.contains(name) {
            bail!("main.js must use `{name}` (the worker runs the bundle's own text)");
        }
    }
    let regions = layout(&output.text, &output.metafile)
        .context("reading esbuild's metafile for the ledger")?;
    Ok(MainBundle {
        source: [WRAPPER_START, &output.text, WRAPPER_END].concat(),
        regions,
    })
}

/// Where each input of the bundle lies in `python-runner.js`. esbuild writes its helpers first,
/// then every input's code in one piece, in the order its metafile lists them for the output,
/// with `bytesInOutput` bytes each; the wrapper and the final newline are templates.
fn layout(code: &str, metafile: &str) -> Result<Vec<(Part, usize)>> {
    let meta: serde_json::Value = serde_json::from_str(metafile).context("parsing the metafile")?;
    let outputs: Vec<&serde_json::Value> = meta["outputs"]
        .as_object()
        .context("no `outputs`")?
        .values()
        .collect();
    let [output] = outputs.as_slice() else {
        bail!("{} outputs, expected 1", outputs.len());
    };
    let inputs = output["inputs"].as_object().context("no output `inputs`")?;
    // serde_json's map is sorted by path: order the inputs by where the output's listing names them.
    let outputs_at = metafile.rfind("\"outputs\"").context("no `outputs`")?;
    let listing = metafile[outputs_at..]
        .find("\"inputs\"")
        .map(|at| outputs_at + at)
        .context("no output `inputs`")?;
    let mut files = Vec::with_capacity(inputs.len());
    for (path, input) in inputs {
        let quoted = serde_json::to_string(path).context("quoting a path")?;
        let at = metafile[listing..]
            .find(&quoted)
            .with_context(|| format!("{quoted} is not in the output's listing"))?;
        let bytes = input["bytesInOutput"]
            .as_u64()
            .with_context(|| format!("no `bytesInOutput` for {quoted}"))?;
        files.push((at, Part::of_input(path), usize::try_from(bytes)?));
    }
    files.sort_by_key(|(at, ..)| *at);
    let in_files: usize = files.iter().map(|(_, _, bytes)| bytes).sum();
    let without_newline = code.trim_end_matches('\n').len();
    let helpers = without_newline.checked_sub(in_files).with_context(|| {
        format!("the inputs hold {in_files} bytes, the output only {without_newline}")
    })?;
    let mut regions = vec![(Part::Templates, WRAPPER_START.len() + helpers)];
    regions.extend(files.into_iter().map(|(_, part, bytes)| (part, bytes)));
    regions.push((
        Part::Templates,
        code.len() - without_newline + WRAPPER_END.len(),
    ));
    Ok(regions)
}

/// The library API, bundled twice from one entry.
pub struct LibraryBundles {
    /// ES module (`python-runner.mjs`).
    pub module: String,
    /// Classic script setting [`LIBRARY_GLOBAL`] (`python-runner-library.js`).
    pub script: String,
}

/// Step 6: the library API as an ES module and as a classic script; needs the library wasm and
/// `python-files.js` in `work_dir`, and Comlink in `node_modules` (the npm folder of the workspace).
pub fn library_bundles(work_dir: &Path, node_modules: &Path) -> Result<LibraryBundles> {
    write_sync_message_sw(work_dir)?;
    let entry = Entry {
        name: "library.entry.js",
        template: LIBRARY_TEMPLATE,
        node_modules: Some(node_modules),
    };
    let module = bundle_entry(work_dir, &entry, Format::ESModule, "")
        .context("bundling the library module")?
        .text;
    let script = bundle_entry(work_dir, &entry, Format::IIFE, LIBRARY_GLOBAL)
        .context("bundling the library script")?
        .text;
    Ok(LibraryBundles { module, script })
}

fn write_sync_message_sw(work_dir: &Path) -> Result<()> {
    let file = work_dir.join(SYNC_MESSAGE_SW_FILE);
    fs::write(&file, SYNC_MESSAGE_SW_TEMPLATE)
        .with_context(|| format!("writing {}", file.display()))
}

/// A template to bundle: written as `work_dir/name`; `node_modules` resolves bare imports.
struct Entry<'a> {
    name: &'a str,
    template: &'a str,
    node_modules: Option<&'a Path>,
}

/// One output file of esbuild.
struct Output {
    text: String,
    /// esbuild's metafile (JSON): which inputs the output holds, and how many bytes of each.
    metafile: String,
}

/// Writes `entry` into `work_dir` and bundles it, with the exports assigned to `global_name`
/// (IIFE only; empty for none).
fn bundle_entry(
    work_dir: &Path,
    entry: &Entry<'_>,
    format: Format,
    global_name: &str,
) -> Result<Output> {
    let template = entry.template;
    let node_modules = entry.node_modules;
    let entry = work_dir.join(entry.name);
    fs::write(&entry, template).with_context(|| format!("writing {}", entry.display()))?;
    let entry = entry
        .to_str()
        .with_context(|| format!("non-UTF-8 path {}", entry.display()))?;
    let work_dir = work_dir
        .to_str()
        .with_context(|| format!("non-UTF-8 path {}", work_dir.display()))?;

    let mut options = BuildOptionsBuilder::new();
    options.entry_points.push(entry.to_owned());
    options.abs_working_dir = work_dir.to_owned();
    options.bundle = true;
    options.format = format;
    options.global_name = global_name.to_owned();
    if let Some(node_modules) = node_modules {
        let node_modules = node_modules
            .to_str()
            .with_context(|| format!("non-UTF-8 path {}", node_modules.display()))?;
        options.node_paths = vec![node_modules.to_owned()];
        options.main_fields = ["module", "main"].map(str::to_owned).to_vec();
    }
    options.minify_whitespace = true;
    options.minify_identifiers = true;
    options.minify_syntax = true;
    options.loader = HashMap::from([
        (".wasm".to_owned(), Loader::Binary),
        // A string; `main.js` decodes it only on the page, not in the workers that run this file.
        (".deflate".to_owned(), Loader::Base64),
    ]);
    options.metafile = true;
    // Nothing touches the disk: the single output file comes back in the result.
    options.write = false;

    // esbuild-rs runs the build on a goroutine and calls back from another thread.
    let (sender, receiver) = mpsc::channel();
    esbuild_rs::build_direct(options.build(), move |result| {
        // The receiver waits below, so a send error cannot happen; ignoring it is harmless.
        let _ = sender.send(BuildOutcome::from(result));
    });
    let outcome = receiver.recv().context("esbuild ended without a result")?;
    for warning in &outcome.warnings {
        eprintln!("warning: esbuild: {warning}");
    }
    if !outcome.errors.is_empty() {
        bail!("esbuild failed:\n  {}", outcome.errors.join("\n  "));
    }
    match <[String; 1]>::try_from(outcome.outputs) {
        Ok([text]) => Ok(Output {
            text,
            metafile: outcome.metafile,
        }),
        Err(outputs) => bail!(
            "esbuild produced {} output files, expected 1",
            outputs.len()
        ),
    }
}

/// The owned parts of an esbuild [`BuildResult`].
struct BuildOutcome {
    outputs: Vec<String>,
    metafile: String,
    errors: Vec<String>,
    warnings: Vec<String>,
}

impl From<BuildResult> for BuildOutcome {
    fn from(result: BuildResult) -> BuildOutcome {
        BuildOutcome {
            outputs: result
                .output_files
                .as_slice()
                .iter()
                .map(|file| file.data.as_str().to_owned())
                .collect(),
            metafile: result.metafile.as_str().to_owned(),
            errors: result
                .errors
                .as_slice()
                .iter()
                .map(ToString::to_string)
                .collect(),
            warnings: result
                .warnings
                .as_slice()
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway `bundle-work` with stub wasm-bindgen output and a deflated wasm.
    fn stub_work_dir(name: &str) -> Result<std::path::PathBuf> {
        let work_dir = std::env::temp_dir().join(format!(
            "python-runner-bundle-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&work_dir);
        fs::create_dir_all(work_dir.join("wasm"))?;
        fs::write(
            work_dir.join("wasm/python_runner_runtime.js"),
            "export function boot(...args) { globalThis.booted = args; }\n\
             export function worker_boot(...args) { globalThis.booted = args; }\n\
             export function pageHidden() {}\n\
             export function pageShown() {}\n\
             export function initSync(options) { return options; }\n\
             export default async function init(options) { return options.module_or_path; }\n",
        )?;
        fs::write(
            work_dir.join("wasm/python_runner_runtime_bg.wasm.deflate"),
            b"\x03\x00",
        )?;
        fs::write(
            work_dir.join(PYTHON_FILES_FILE),
            "export default {\"a.py\": \"x = 1\\n\"};\n",
        )?;
        Ok(work_dir)
    }

    /// The text of each part in `bundle`, concatenated per part.
    fn part_texts(bundle: &MainBundle) -> Result<HashMap<String, String>> {
        let mut texts: HashMap<String, String> = HashMap::new();
        let mut at = 0;
        for (part, length) in &bundle.regions {
            let text = bundle
                .source
                .get(at..at + length)
                .with_context(|| format!("region {part:?} at {at}+{length}"))?;
            texts.entry(format!("{part:?}")).or_default().push_str(text);
            at += length;
        }
        assert_eq!(at, bundle.source.len());
        Ok(texts)
    }

    #[test]
    fn bundles_everything_once_into_one_function_whose_text_is_also_the_worker() -> Result<()> {
        let work_dir = stub_work_dir("assemble")?;
        let bundle = main_bundle(&work_dir)?;
        fs::remove_dir_all(&work_dir)?;
        let source = &bundle.source;

        assert!(source.starts_with(WRAPPER_START), "{source}");
        assert!(source.ends_with(WRAPPER_END), "{source}");
        assert!(WRAPPER_START.contains(&format!("function {BUNDLE_FUNCTION}(")));
        // main.js reads its own text through the wrapper's name and marks the worker's copy.
        assert!(MAIN_TEMPLATE.contains(&format!("+ {BUNDLE_FUNCTION} +")));
        assert!(MAIN_TEMPLATE.contains(&format!("self.{WORKER_FLAG}")));
        assert!(source.contains(&format!("self.{WORKER_FLAG}")), "{source}");
        // The wrapper's name and main.js's reference to it (the flag's name contains it too).
        let names = source.matches(BUNDLE_FUNCTION).count();
        assert_eq!(names - source.matches(WORKER_FLAG).count(), 2, "{source}");
        // Page and worker halves, the glue and the Python package are there once each.
        for once in [
            "python-runner failed to start:",
            "python-runner worker failed to start: ",
            "self.onmessage=",
            "\"a.py\":`x = 1\n`",
        ] {
            assert_eq!(source.matches(once).count(), 1, "{once} in {source}");
        }
        assert_eq!(source.matches("globalThis.booted=").count(), 2, "{source}");
        assert!(!source.contains("import "), "{source}");
        assert!(!source.contains("export"), "{source}");

        let texts = part_texts(&bundle)?;
        let text = |part: Part| texts.get(&format!("{part:?}")).cloned().unwrap_or_default();
        // The deflated stub wasm, 03 00, in base64.
        assert!(text(Part::Wasm).contains("\"AwA=\""), "{texts:?}");
        assert!(text(Part::Glue).contains("globalThis.booted="), "{texts:?}");
        assert!(text(Part::Worker).contains("self.onmessage="), "{texts:?}");
        assert!(text(Part::Python).contains("a.py"), "{texts:?}");
        assert!(text(Part::Templates).contains("python-runner failed to start:"));
        assert!(text(Part::Templates).starts_with(WRAPPER_START));
        Ok(())
    }

    #[test]
    fn the_service_worker_brokers_sync_messages_wire_for_element_and_library() {
        use python_runner_protocol::sync::ServiceWorkerUrls;
        assert!(SERVICE_WORKER_TEMPLATE.contains("from \"./sync-message-sw.js\""));
        for line in [
            format!("const MARKER = \"{}\";", ServiceWorkerUrls::MARKER),
            format!("const VERSION = \"{}\";", ServiceWorkerUrls::VERSION),
        ] {
            assert!(
                SYNC_MESSAGE_SW_TEMPLATE.contains(&line),
                "bundle/templates/sync_message_sw.js must say {line}"
            );
        }
    }

    #[test]
    fn the_library_names_the_client_machines_message() {
        let line = format!(
            "const CALL_ENDED = \"{}\";",
            python_runner_library::client::messages::CALL_ENDED
        );
        assert!(
            LIBRARY_TEMPLATE.contains(&line),
            "bundle/templates/library.js must say {line}"
        );
    }

    /// Names the library exports itself (Comlink's come from `export *`), from its templates.
    fn library_exports() -> Vec<&'static str> {
        let service_worker = ["isServiceWorkerRequest", "serviceWorkerFetchListener"];
        for name in service_worker {
            assert!(SYNC_MESSAGE_SW_TEMPLATE.contains(&format!("export function {name}")));
        }
        LIBRARY_TEMPLATE
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix("export ")?;
                let rest = rest.strip_prefix("async ").unwrap_or(rest);
                let (kind, rest) = rest.split_once(' ')?;
                if !matches!(kind, "function" | "class" | "const") {
                    return None; // `export *` and `export { .. }`: Comlink
                }
                rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
            })
            .filter(|name| !name.is_empty())
            .chain(service_worker)
            .collect()
    }

    #[test]
    fn the_type_declarations_cover_every_export() {
        let exports = library_exports();
        assert!(exports.contains(&"PyodideClient"), "{exports:?}");
        assert!(exports.contains(&"loadPyodideAndPackage"), "{exports:?}");
        let comlink = [
            "expose",
            "wrap",
            "proxy",
            "transfer",
            "windowEndpoint",
            "transferHandlers",
            "proxyMarker",
            "releaseProxy",
            "createEndpoint",
            "finalizer",
        ];
        for name in exports.iter().chain(&comlink) {
            let declared = ["function", "class", "const"]
                .iter()
                .any(|kind| LIBRARY_TYPES.contains(&format!("export declare {kind} {name}")));
            assert!(declared, "python-runner.d.ts does not declare `{name}`");
        }
        assert!(LIBRARY_TYPES.contains("export declare namespace Comlink"));
    }

    #[test]
    fn reports_unresolved_imports() -> Result<()> {
        let work_dir = std::env::temp_dir().join(format!(
            "python-runner-bundle-unresolved-{}",
            std::process::id()
        ));
        fs::create_dir_all(&work_dir)?;
        let error = main_bundle(&work_dir)
            .err()
            .map(|error| format!("{error:#}"));
        fs::remove_dir_all(&work_dir)?;
        let error = error.context("bundling without wasm-bindgen output must fail")?;
        assert!(
            error.starts_with("bundling the element: esbuild failed:"),
            "{error}"
        );
        assert!(
            error.contains("Could not resolve \"./wasm/python_runner_runtime.js\""),
            "{error}"
        );
        Ok(())
    }
}
