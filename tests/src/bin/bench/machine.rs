//! The machine and what the bench measures with: Chromium's and Pyodide's versions, CPU and load, and a private
//! snapshot of the bundle (`target/dist/`) to serve, with its gzip size.

use crate::library::UPSTREAM_PACKAGES;
use anyhow::{Context, Result};
use python_runner_tests::BrowserOptions;
use serde_json::Value;
use std::path::Path;

/// A private server root, so a concurrent `cargo bundle dist` (which empties target/dist/ and takes minutes)
/// cannot remove or swap the bundle halfway through the bench: a copy of target/dist/ taken now, and symlinks
/// to node_modules/pyodide/, tests/fixtures/, demo/ and the upstream npm packages of the library part. Returns the directory (deleted on drop) and the bundle.
pub(crate) fn snapshot_root(root: &Path) -> Result<(tempfile::TempDir, Vec<u8>)> {
    let dist = root.join("target/dist");
    let bundle_path = dist.join("python-runner.js");
    let bundle = std::fs::read(&bundle_path).with_context(|| {
        format!(
            "reading {} (build it with `cargo bundle dist`, or run `cargo bundle bench`)",
            bundle_path.display()
        )
    })?;
    let snapshot = tempfile::Builder::new()
        .prefix("python-runner-bench-")
        .tempdir()
        .context("creating a temporary server root")?;
    let copy = snapshot.path().join("target/dist");
    std::fs::create_dir_all(&copy)?;
    for entry in std::fs::read_dir(&dist).with_context(|| format!("listing {}", dist.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() && entry.file_name() != "python-runner.js" {
            // Whatever else dist/ holds (e.g. a source map); a file that vanishes meanwhile is simply left out.
            let _ = std::fs::copy(entry.path(), copy.join(entry.file_name()));
        }
    }
    std::fs::write(copy.join("python-runner.js"), &bundle)?;
    let upstream = UPSTREAM_PACKAGES.map(|name| format!("node_modules/{name}"));
    for link in ["node_modules/pyodide", "tests/fixtures", "demo"]
        .into_iter()
        .chain(upstream.iter().map(String::as_str))
    {
        let at = snapshot.path().join(link);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(root.join(link), &at)
            .with_context(|| format!("linking {}", at.display()))?;
    }
    Ok((snapshot, bundle))
}

pub(crate) use python_runner_sizes::gzip_size;

pub(crate) fn chromium_version() -> String {
    let chromium = BrowserOptions::default().paths.chromium;
    std::process::Command::new(&chromium)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .find(|word| {
                    word.contains('.') && word.chars().all(|c| c.is_ascii_digit() || c == '.')
                })
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn pyodide_version(root: &Path) -> String {
    std::fs::read(root.join("node_modules/pyodide/package.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|package| package["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub(crate) fn cpu_model() -> Option<String> {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()?
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}
