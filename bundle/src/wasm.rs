//! The wasm half of the pipeline: cargo builds the two wasm crates, wasm-bindgen (as a library) writes their glue, wasm-opt shrinks them.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use wasm_bindgen_cli_support::Bindgen;

use crate::workspace::{self, Workspace};

/// Debug for `cargo bundle build`, release for `cargo bundle dist`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    /// The directory cargo puts this profile's artifacts in.
    fn directory(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// One of the crates compiled to wasm and shipped in the bundle.
pub struct WasmCrate {
    /// The cargo package name.
    pub package: &'static str,
    /// The artifact stem: `<stem>.wasm` from cargo, `<stem>.js` and `<stem>_bg.wasm` from wasm-bindgen.
    pub stem: &'static str,
    /// The folder under `target/bundle-work/` that the templates import from.
    pub work_folder: &'static str,
    /// Embedded raw-deflated (inflated asynchronously) rather than plain (compiled synchronously).
    pub deflate: bool,
}

/// One wasm module for the page and the worker of `python-runner.js` (`bundle/runtime` links
/// both crates), so std, serde and the wasm-bindgen runtime are in that bundle once; and the
/// library's module for `python-runner.mjs`, kept apart so the element's bundle does not grow.
pub const WASM_CRATES: [WasmCrate; 2] = [
    WasmCrate {
        package: "python-runner-runtime",
        stem: "python_runner_runtime",
        work_folder: "wasm",
        deflate: true,
    },
    WasmCrate {
        package: "python-runner-library-runtime",
        stem: "python_runner_library_runtime",
        work_folder: "library-wasm",
        deflate: false,
    },
];

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The wasm features rustc 1.95 uses for wasm32-unknown-unknown, passed to wasm-opt explicitly.
///
/// binaryen 132 also reads them from the `target_features` section (rustc writes it, and
/// wasm-bindgen 0.2.130 keeps it): its output is byte-identical with and without these flags.
/// Naming them keeps wasm-opt correct should the section ever be stripped; without
/// reference-types it would mishandle the `__wbindgen_externrefs` table, the bug that makes
/// Debian's binaryen 108 output fail in the browser. `-all` is avoided: it lets wasm-opt use
/// features (GC, SIMD, ...) that the compiled code does not, so browsers could differ.
pub const WASM_OPT_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-multivalue",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// Step 1: `cargo build --target wasm32-unknown-unknown` for both crates in one cargo call.
pub fn cargo_build(workspace: &Workspace, profile: Profile) -> Result<()> {
    let mut command = workspace::cargo();
    command
        .args(["build", "--target", WASM_TARGET])
        .current_dir(&workspace.root);
    if profile == Profile::Release {
        command.arg("--release");
    }
    for wasm_crate in &WASM_CRATES {
        command.args(["-p", wasm_crate.package]);
    }
    workspace::run(&mut command).context("building the wasm crates")
}

/// Where cargo leaves `wasm_crate`'s `.wasm` for `profile`.
pub fn cargo_output(workspace: &Workspace, profile: Profile, wasm_crate: &WasmCrate) -> PathBuf {
    workspace
        .target_dir
        .join(WASM_TARGET)
        .join(profile.directory())
        .join(format!("{}.wasm", wasm_crate.stem))
}

/// Step 2: wasm-bindgen with the `web` target into a fresh `out_dir`.
///
/// `omit_default_module_path` drops the `new URL(.., import.meta.url)` fallback: the templates
/// always pass the bytes, and `import.meta` would be empty (and warned about) in the IIFE.
pub fn bindgen(input: &Path, out_dir: &Path) -> Result<()> {
    if out_dir.exists() {
        fs::remove_dir_all(out_dir)
            .with_context(|| format!("removing old wasm-bindgen output {}", out_dir.display()))?;
    }
    Bindgen::new()
        .input_path(input)
        .web(true)
        .context("selecting the wasm-bindgen web target")?
        .omit_default_module_path(true)
        .typescript(false)
        .generate(out_dir)
        .with_context(|| format!("running wasm-bindgen on {}", input.display()))
}

/// Step 3b: raw-deflate the final wasm next to it (`<stem>_bg.wasm.deflate`), the form the bundle
/// embeds. Base64 of compressed bytes gzips to about their own size, while base64 of the plain
/// wasm costs about a third more after gzip; the page inflates it with `DecompressionStream`.
pub fn deflate(wasm_file: &Path) -> Result<PathBuf> {
    let bytes = fs::read(wasm_file).with_context(|| format!("reading {}", wasm_file.display()))?;
    let mut compressed = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Deflate,
        bytes.as_slice(),
        &mut compressed,
    )
    .context("deflating the wasm")?;
    let output = deflated_path(wasm_file);
    fs::write(&output, compressed).with_context(|| format!("writing {}", output.display()))?;
    Ok(output)
}

/// Where [`deflate`] writes.
pub fn deflated_path(wasm_file: &Path) -> PathBuf {
    let mut name = wasm_file.as_os_str().to_owned();
    name.push(".deflate");
    PathBuf::from(name)
}

/// Step 3: `wasm-opt -Oz --converge` in place.
pub fn wasm_opt(wasm_opt_program: &Path, wasm_file: &Path) -> Result<()> {
    let optimised = wasm_file.with_extension("opt.wasm");
    let mut command = Command::new(wasm_opt_program);
    command
        .arg(wasm_file)
        // Measured on this module: a function with one caller is inlined only up to 20 bytes (not
        // 500), and -Oz is repeated until it shrinks no more; 470 B less after gzip.
        .arg("--one-caller-inline-max-function-size=20")
        // Rust's wasm32 stack grows down from 1 MiB and data and heap lie above it, so only a stack
        // 1023 KiB deep would reach addresses below 1024: constant offsets fold into loads and
        // stores; python-runner.js 360 B smaller after gzip (measured).
        .arg("--low-memory-unused")
        .arg("-Oz")
        .arg("--converge")
        .args(WASM_OPT_FEATURES)
        // Read by wasm-opt, needed by nobody after it.
        .args(["--strip-producers", "--strip-target-features"])
        .arg("-o")
        .arg(&optimised);
    workspace::run(&mut command).context("optimising with wasm-opt")?;
    fs::rename(&optimised, wasm_file).with_context(|| {
        format!(
            "replacing {} with the optimised module",
            wasm_file.display()
        )
    })
}

/// The `_bg.wasm` that wasm-bindgen writes for `wasm_crate` in `work_dir`.
pub fn bindgen_wasm(work_dir: &Path, wasm_crate: &WasmCrate) -> PathBuf {
    work_dir
        .join(wasm_crate.work_folder)
        .join(format!("{}_bg.wasm", wasm_crate.stem))
}

/// The JS glue that wasm-bindgen writes for `wasm_crate` in `work_dir`.
pub fn bindgen_glue(work_dir: &Path, wasm_crate: &WasmCrate) -> PathBuf {
    work_dir
        .join(wasm_crate.work_folder)
        .join(format!("{}.js", wasm_crate.stem))
}
