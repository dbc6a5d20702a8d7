//! `cargo bundle build` and `cargo bundle dist`: runs steps 1 to 6 in order, writes `target/dist/python-runner.js` and the library, and prints their sizes and the ledger of `python-runner.js`.
use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};

use python_runner_sizes::{self as sizes, SizeRow};

use crate::ledger::Ledger;
use crate::wasm::{self, Profile, WASM_CRATES};
use crate::workspace::Workspace;
use crate::{assemble, minify_names, python_files};

/// The one file users load.
pub const BUNDLE_FILE: &str = "python-runner.js";
/// The library API as an ES module (page, module worker, module service worker).
pub const LIBRARY_MODULE_FILE: &str = "python-runner.mjs";
/// The library API as a classic script setting `pythonRunner` (script tag, `importScripts`).
pub const LIBRARY_SCRIPT_FILE: &str = "python-runner-library.js";
/// TypeScript declarations of the library API, next to the module: `.d.mts` is the name
/// TypeScript looks for beside `python-runner.mjs`, `.d.ts` serves `paths` and the classic script.
pub const LIBRARY_TYPES_FILES: [&str; 2] = ["python-runner.d.mts", "python-runner.d.ts"];

/// Builds the bundle for `profile`; release also cleans `target/dist` and runs wasm-opt.
pub fn build(workspace: &Workspace, profile: Profile) -> Result<PathBuf> {
    let started = Instant::now();
    let work_dir = workspace.bundle_work_dir();
    let dist_dir = workspace.dist_dir();
    if profile == Profile::Release && dist_dir.exists() {
        fs::remove_dir_all(&dist_dir)
            .with_context(|| format!("cleaning {}", dist_dir.display()))?;
    }
    fs::create_dir_all(&work_dir).with_context(|| format!("creating {}", work_dir.display()))?;
    // Per crate: the wasm-bindgen output, then (release) the same after wasm-opt.
    let mut wasm_size_rows: Vec<Vec<SizeRow>> = Vec::new();

    step("cargo build (wasm32)", || {
        wasm::cargo_build(workspace, profile)
    })?;

    step("wasm-bindgen", || {
        for wasm_crate in &WASM_CRATES {
            let input = wasm::cargo_output(workspace, profile, wasm_crate);
            wasm::bindgen(&input, &work_dir.join(wasm_crate.work_folder))?;
            let wasm_file = wasm::bindgen_wasm(&work_dir, wasm_crate);
            let bytes = read(&wasm_file)?;
            wasm_size_rows.push(vec![SizeRow::measure(
                format!("{}_bg.wasm", wasm_crate.stem),
                &bytes,
            )?]);
        }
        Ok(())
    })?;

    match (profile, workspace.wasm_opt()) {
        (Profile::Debug, _) => {}
        (Profile::Release, None) => eprintln!(
            "warning: {} is missing, so the wasm is not optimised; run `npm ci` (bundle/run.sh does)",
            workspace.root.join("node_modules/.bin/wasm-opt").display()
        ),
        (Profile::Release, Some(wasm_opt_program)) => step("wasm-opt -Oz", || {
            for (wasm_crate, rows) in WASM_CRATES.iter().zip(&mut wasm_size_rows) {
                let wasm_file = wasm::bindgen_wasm(&work_dir, wasm_crate);
                wasm::wasm_opt(&wasm_opt_program, &wasm_file)?;
                rows.push(SizeRow::measure(
                    format!("{}_bg.wasm after wasm-opt -Oz", wasm_crate.stem),
                    &read(&wasm_file)?,
                )?);
            }
            Ok(())
        })?,
    }

    step("minify wasm names", || {
        for wasm_crate in &WASM_CRATES {
            let wasm_file = wasm::bindgen_wasm(&work_dir, wasm_crate);
            let glue_file = wasm::bindgen_glue(&work_dir, wasm_crate);
            minify_names::minify(&wasm_file, &glue_file, wasm_crate.stem)?;
        }
        Ok(())
    })?;

    step("deflate wasm", || {
        for (wasm_crate, rows) in WASM_CRATES.iter().zip(&mut wasm_size_rows) {
            if !wasm_crate.deflate {
                continue;
            }
            let deflated = wasm::deflate(&wasm::bindgen_wasm(&work_dir, wasm_crate))?;
            rows.push(SizeRow::measure(
                format!("{}_bg.wasm.deflate (embedded)", wasm_crate.stem),
                &read(&deflated)?,
            )?);
        }
        Ok(())
    })?;

    step("python-files.js", || {
        let source_root = workspace.root.join("python/src");
        let mut files = python_files::collect(&source_root)?;
        if profile == Profile::Release {
            files = python_files::strip(&files)?;
        }
        if files.is_empty() {
            eprintln!(
                "warning: no .py files under {}; the worker gets an empty package",
                source_root.display()
            );
        }
        let output = work_dir.join(assemble::PYTHON_FILES_FILE);
        fs::write(&output, python_files::render(&files)?)
            .with_context(|| format!("writing {}", output.display()))
    })?;

    let bundle = step("esbuild main", || assemble::main_bundle(&work_dir))?;
    fs::create_dir_all(&dist_dir).with_context(|| format!("creating {}", dist_dir.display()))?;
    let bundle_path = dist_dir.join(BUNDLE_FILE);
    fs::write(&bundle_path, &bundle.source)
        .with_context(|| format!("writing {}", bundle_path.display()))?;
    let mut size_rows: Vec<SizeRow> = wasm_size_rows.into_iter().flatten().collect();
    size_rows.push(SizeRow::measure(BUNDLE_FILE, bundle.source.as_bytes())?);

    let library = step("esbuild library", || {
        assemble::library_bundles(&work_dir, &workspace.root.join("node_modules"))
    })?;
    let types = assemble::LIBRARY_TYPES.to_owned();
    for (file, text) in [
        (LIBRARY_MODULE_FILE, &library.module),
        (LIBRARY_SCRIPT_FILE, &library.script),
        (LIBRARY_TYPES_FILES[0], &types),
        (LIBRARY_TYPES_FILES[1], &types),
    ] {
        let path = dist_dir.join(file);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    size_rows.push(SizeRow::measure(
        LIBRARY_MODULE_FILE,
        library.module.as_bytes(),
    )?);

    println!("sizes:\n{}", sizes::render(&size_rows));
    let ledger = Ledger::measure(bundle.source.as_bytes(), &bundle.regions)?;
    print!("{}", ledger.render(BUNDLE_FILE));
    println!(
        "wrote {} ({:?} build) in {:.1}s",
        bundle_path.display(),
        profile,
        started.elapsed().as_secs_f64()
    );
    Ok(bundle_path)
}

/// Runs one named step and prints how long it took.
fn step<T>(name: &str, action: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let value = action().with_context(|| format!("step `{name}`"))?;
    println!("  {name:<24} {:>6.1}s", started.elapsed().as_secs_f64());
    Ok(value)
}

fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("reading {}", path.display()))
}
