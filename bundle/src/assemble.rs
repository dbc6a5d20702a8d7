//! Steps 5 and 6: esbuild (the `esbuild-rs` crate, in process) bundles the worker into an ES module string, then the element, its wasm and that string into one IIFE.
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::mpsc;

use anyhow::{bail, Context, Result};
use esbuild_rs::{BuildOptionsBuilder, BuildResult, Format, Loader};

/// Entry of the worker bundle; imports paths relative to `target/bundle-work/`.
const WORKER_TEMPLATE: &str = include_str!("../templates/worker.js");
/// Entry of `python-runner.js`; imports paths relative to `target/bundle-work/`.
const MAIN_TEMPLATE: &str = include_str!("../templates/main.js");

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

/// The worker bundle, written where `main.js` imports it with the text loader.
pub const WORKER_BUNDLE_FILE: &str = "worker.bundle.txt";
/// The generated Python package module, imported by `worker.js`.
pub const PYTHON_FILES_FILE: &str = "python-files.js";

/// Step 5: the worker as one minified ES module (returned as source text).
pub fn worker_bundle(work_dir: &Path) -> Result<String> {
    bundle(
        work_dir,
        "worker.entry.js",
        WORKER_TEMPLATE,
        Format::ESModule,
    )
    .context("bundling the worker")
}

/// Step 6: everything as one minified IIFE; `worker_source` is the output of [`worker_bundle`].
pub fn main_bundle(work_dir: &Path, worker_source: &str) -> Result<String> {
    let worker_file = work_dir.join(WORKER_BUNDLE_FILE);
    fs::write(&worker_file, worker_source)
        .with_context(|| format!("writing {}", worker_file.display()))?;
    let service_worker_file = work_dir.join("service-worker.js");
    fs::write(&service_worker_file, SERVICE_WORKER_TEMPLATE)
        .with_context(|| format!("writing {}", service_worker_file.display()))?;
    write_sync_message_sw(work_dir)?;
    bundle(work_dir, "main.entry.js", MAIN_TEMPLATE, Format::IIFE).context("bundling the element")
}

/// The library API, bundled twice from one entry.
pub struct LibraryBundles {
    /// ES module (`python-runner.mjs`).
    pub module: String,
    /// Classic script setting [`LIBRARY_GLOBAL`] (`python-runner-library.js`).
    pub script: String,
}

/// Step 7: the library API as an ES module and as a classic script; needs the library wasm and
/// `python-files.js` in `work_dir`, and Comlink in `node_modules` (the npm folder of the workspace).
pub fn library_bundles(work_dir: &Path, node_modules: &Path) -> Result<LibraryBundles> {
    write_sync_message_sw(work_dir)?;
    let entry = Entry {
        name: "library.entry.js",
        template: LIBRARY_TEMPLATE,
        node_modules: Some(node_modules),
    };
    let module = bundle_entry(work_dir, &entry, Format::ESModule, "")
        .context("bundling the library module")?;
    let script = bundle_entry(work_dir, &entry, Format::IIFE, LIBRARY_GLOBAL)
        .context("bundling the library script")?;
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

/// Writes `template` as `work_dir/entry_name` and bundles it.
fn bundle(work_dir: &Path, entry_name: &str, template: &str, format: Format) -> Result<String> {
    let entry = Entry {
        name: entry_name,
        template,
        node_modules: None,
    };
    bundle_entry(work_dir, &entry, format, "")
}

/// Bundles `entry`, with the exports assigned to `global_name` (IIFE only; empty for none).
fn bundle_entry(
    work_dir: &Path,
    entry: &Entry<'_>,
    format: Format,
    global_name: &str,
) -> Result<String> {
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
        (".deflate".to_owned(), Loader::Binary),
        (".txt".to_owned(), Loader::Text),
    ]);
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
        Ok([output]) => Ok(output),
        Err(outputs) => bail!(
            "esbuild produced {} output files, expected 1",
            outputs.len()
        ),
    }
}

/// The owned parts of an esbuild [`BuildResult`].
struct BuildOutcome {
    outputs: Vec<String>,
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

    #[test]
    fn bundles_the_worker_as_a_module_and_the_main_file_as_an_iife() -> Result<()> {
        let work_dir = stub_work_dir("assemble")?;
        let worker_source = worker_bundle(&work_dir)?;
        let main_source = main_bundle(&work_dir, &worker_source)?;
        fs::remove_dir_all(&work_dir)?;

        assert!(worker_source.contains("self.onmessage="), "{worker_source}");
        assert!(
            worker_source.contains("\"a.py\":`x = 1\n`"),
            "{worker_source}"
        );
        assert!(!worker_source.contains("import "), "{worker_source}");
        assert!(!worker_source.contains("export"), "{worker_source}");

        assert!(main_source.starts_with("(()=>{"), "{main_source}");
        assert!(
            main_source.contains("python-runner failed to start:"),
            "{main_source}"
        );
        // The worker's own entry text is inside, as a string literal.
        assert!(
            main_source.contains("python-runner worker failed to start: "),
            "{main_source}"
        );
        assert!(!main_source.contains("import "), "{main_source}");
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
        let error = main_bundle(&work_dir, "")
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
