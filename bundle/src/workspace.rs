//! Where things are: the workspace root, the target directory and the workspace's binaries, from `cargo metadata`.
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The paths every step works with.
#[derive(Debug)]
pub struct Workspace {
    /// The directory holding the root `Cargo.toml`.
    pub root: PathBuf,
    /// Cargo's target directory (honours `CARGO_TARGET_DIR` and `build.target-dir`).
    pub target_dir: PathBuf,
    /// `(package, bin)` pairs of every binary target in the workspace.
    binaries: BTreeSet<(String, String)>,
}

impl Workspace {
    /// Asks cargo where the workspace and its target directory are.
    pub fn load() -> Result<Workspace> {
        let mut command = cargo();
        command
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        let output = command.output().context("running cargo metadata")?;
        if !output.status.success() {
            bail!(
                "cargo metadata failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Workspace::from_metadata(&output.stdout)
    }

    /// Reads the output of `cargo metadata --format-version 1 --no-deps`.
    fn from_metadata(json: &[u8]) -> Result<Workspace> {
        let metadata: serde_json::Value =
            serde_json::from_slice(json).context("parsing cargo metadata output")?;
        let path_field = |name: &str| -> Result<PathBuf> {
            metadata[name]
                .as_str()
                .map(PathBuf::from)
                .with_context(|| format!("cargo metadata has no `{name}`"))
        };
        let mut binaries = BTreeSet::new();
        for package in metadata["packages"].as_array().into_iter().flatten() {
            let package_name = package["name"].as_str().unwrap_or_default();
            for target in package["targets"].as_array().into_iter().flatten() {
                let is_bin = target["kind"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|kind| kind == "bin"));
                if let (true, Some(bin_name)) = (is_bin, target["name"].as_str()) {
                    binaries.insert((package_name.to_owned(), bin_name.to_owned()));
                }
            }
        }
        Ok(Workspace {
            root: path_field("workspace_root")?,
            target_dir: path_field("target_directory")?,
            binaries,
        })
    }

    /// Whether the workspace package `package` has a binary target named `bin`.
    pub fn has_binary(&self, package: &str, bin: &str) -> bool {
        self.binaries
            .contains(&(package.to_owned(), bin.to_owned()))
    }

    /// Scratch space for wasm-bindgen output and the bundler's entry files.
    pub fn bundle_work_dir(&self) -> PathBuf {
        self.target_dir.join("bundle-work")
    }

    /// Where `python-runner.js` goes.
    pub fn dist_dir(&self) -> PathBuf {
        self.target_dir.join("dist")
    }

    /// `node_modules/.bin/wasm-opt` from the pinned npm `binaryen`, if installed.
    pub fn wasm_opt(&self) -> Option<PathBuf> {
        let path = self.root.join("node_modules/.bin/wasm-opt");
        path.is_file().then_some(path)
    }
}

/// The cargo that runs this tool (`CARGO` is set by `cargo run`), else the one on `PATH`.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Runs `command` to completion, inheriting stdio; fails unless it exits successfully.
pub fn run(command: &mut Command) -> Result<()> {
    let description = describe(command);
    let status = command
        .status()
        .with_context(|| format!("starting `{description}`"))?;
    if !status.success() {
        bail!("`{description}` failed ({status})");
    }
    Ok(())
}

/// `program arg arg` for messages, with the directory when one is set.
pub fn describe(command: &Command) -> String {
    let mut words = vec![Path::new(command.get_program())
        .file_name()
        .unwrap_or(command.get_program())
        .to_string_lossy()
        .into_owned()];
    words.extend(
        command
            .get_args()
            .map(|argument| argument.to_string_lossy().into_owned()),
    );
    let mut description = words.join(" ");
    if let Some(directory) = command.get_current_dir() {
        description.push_str(&format!(" (in {})", directory.display()));
    }
    description
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"{
        "packages": [
            {"name": "python-runner-tests", "targets": [
                {"kind": ["lib"], "name": "python_runner_tests"},
                {"kind": ["bin"], "name": "serve"}
            ]},
            {"name": "python-runner-bundle", "targets": [{"kind": ["bin"], "name": "python-runner-bundle"}]}
        ],
        "workspace_root": "/repo",
        "target_directory": "/repo/target"
    }"#;

    #[test]
    fn reads_paths_and_binaries_from_metadata() -> Result<()> {
        let workspace = Workspace::from_metadata(METADATA.as_bytes())?;
        assert_eq!(workspace.root, Path::new("/repo"));
        assert_eq!(
            workspace.bundle_work_dir(),
            Path::new("/repo/target/bundle-work")
        );
        assert_eq!(workspace.dist_dir(), Path::new("/repo/target/dist"));
        assert!(workspace.has_binary("python-runner-tests", "serve"));
        assert!(!workspace.has_binary("python-runner-tests", "bench"));
        assert!(!workspace.has_binary("python-runner-tests", "python_runner_tests"));
        Ok(())
    }

    #[test]
    fn missing_target_directory_is_an_error() {
        let error = Workspace::from_metadata(br#"{"workspace_root": "/repo"}"#)
            .err()
            .map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("cargo metadata has no `target_directory`")
        );
    }

    #[test]
    fn describes_commands() {
        let mut command = Command::new("/usr/bin/cargo");
        command.args(["build", "-p", "x"]).current_dir("/repo");
        assert_eq!(describe(&command), "cargo build -p x (in /repo)");
    }
}
