//! Text and paths the worker uses to load Pyodide and install the Python helper package.
//!
//! Plain Rust, unit-tested natively; `boot.rs` and `entry.rs` make the calls.

/// The helper package the worker installs and imports (sources in `python/src/`).
pub const HELPER_MODULE: &str = "pyodide_worker_runner";

/// The file name inline code runs as (relative to Python's working directory).
pub const FILENAME: &str = "main.py";

/// Its module holding `install_for_run`.
pub const IMPORTS_MODULE: &str = "pyodide_worker_runner.imports";

/// Its module holding `run_code` and `add_to_path`.
pub const RUNNER_MODULE: &str = "pyodide_worker_runner.runner";

/// Where the helper package is installed if `/lib` holds no `python3.N` folder: the working
/// directory, which is on `sys.path` too.
pub const FALLBACK_INSTALL_FOLDER: &str = "/home/pyodide";

/// `/lib/<entry>/site-packages` when `entry` (a name in Pyodide's `/lib`) is the `python3.N`
/// folder: where the helper package is installed.
pub fn site_packages_in(entry: &str) -> Option<String> {
    entry
        .starts_with("python3.")
        .then(|| ["/lib/", entry, "/site-packages"].concat())
}

/// The ES module to import from a Pyodide base URL (which ends in `/`).
pub fn module_url(pyodide_url: &str) -> String {
    format!("{pyodide_url}pyodide.mjs")
}

/// Run after Python is restored from a memory snapshot: every restore would otherwise draw the
/// same random numbers, and Pyodide puts `""` on `sys.path` a second time.
pub const AFTER_RESTORE: &str =
    "import sys\nr=sys.modules.get('random')\nr and r.seed()\nsys.path[:]=dict.fromkeys(sys.path)";

/// The sentence shown in the element when Pyodide cannot be loaded.
pub fn load_error_message(pyodide_url: &str, reason: &str) -> String {
    format!("Could not load Pyodide from {pyodide_url}: {reason}")
}

/// The reason given when the module loads but is not Pyodide.
pub fn not_pyodide_reason(module_url: &str) -> String {
    format!("{module_url} has no loadPyodide export (is this a Pyodide distribution?)")
}

/// The sentence shown when the author's archive cannot be unpacked. `shutil`'s "`/tmp/tmpXXXX`
/// is not a zip file" becomes "the downloaded file is not a zip file".
pub fn unpack_error_message(url: &str, format: &str, reason: &str) -> String {
    const NOT_A: &str = " is not a ";
    // Found bytewise: `split_once` with a string pattern brings in a panic path with 1 KB of
    // formatting code.
    let what = reason.strip_prefix("shutil.ReadError: ").and_then(|rest| {
        let at = rest
            .as_bytes()
            .windows(NOT_A.len())
            .position(|window| window == NOT_A.as_bytes())?;
        rest.get(at + NOT_A.len()..)
    });
    let reason = match what {
        Some(what) => ["the downloaded file is not a ", what].concat(),
        None => reason.to_string(),
    };
    format!("Could not unpack the archive {url} as {format}: {reason}")
}

/// The last non-empty line of an error text (a Python traceback's exception line).
pub fn last_line(text: &str) -> String {
    // `rsplit`, not `lines`: nothing here may slice a string (each slice is a panic path, and
    // the panic path's formatting is 1 KB of the bundle).
    text.rsplit('\n')
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or(text)
        .to_string()
}

/// The sentence shown when Python stops working in the middle of a run.
pub fn crash_message(reason: &str) -> String {
    [
        "Python stopped working (",
        reason,
        "). Run starts a fresh Python.",
    ]
    .concat()
}

/// `(directory, file path)` for a helper file given relative to `python/src/`.
pub fn install_paths(site_packages: &str, relative_path: &str) -> (String, String) {
    let site_packages = site_packages.trim_end_matches('/');
    let path = format!("{site_packages}/{}", relative_path.trim_start_matches('/'));
    let directory = match path.rfind('/').and_then(|slash| path.get(..slash)) {
        Some(directory) => directory.to_string(),
        None => site_packages.to_string(),
    };
    (directory, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_paths_nest_under_site_packages() {
        assert_eq!(
            install_paths(
                "/lib/python3.14/site-packages/",
                "pyodide_worker_runner/__init__.py"
            ),
            (
                "/lib/python3.14/site-packages/pyodide_worker_runner".to_string(),
                "/lib/python3.14/site-packages/pyodide_worker_runner/__init__.py".to_string()
            )
        );
    }

    #[test]
    fn site_packages_comes_from_the_python_folder_in_lib() {
        let lib = [".", "..", "python314.zip", "python3.14", "pyodide"];
        let found: Vec<String> = lib.iter().filter_map(|e| site_packages_in(e)).collect();
        assert_eq!(found, ["/lib/python3.14/site-packages"]);
    }

    #[test]
    fn messages_name_the_url() {
        assert_eq!(module_url("http://x/p/"), "http://x/p/pyodide.mjs");
        assert_eq!(
            load_error_message("http://x/p/", "TypeError: Failed to fetch"),
            "Could not load Pyodide from http://x/p/: TypeError: Failed to fetch"
        );
    }

    #[test]
    fn last_line_of_a_traceback() {
        assert_eq!(
            last_line("Traceback (most recent call last):\n  File \"x\"\nBadZipFile: File is not a zip file\n\n"),
            "BadZipFile: File is not a zip file"
        );
        assert_eq!(last_line("plain"), "plain");
    }

    #[test]
    fn unpack_errors_do_not_name_temporary_files() {
        assert_eq!(
            unpack_error_message(
                "u",
                "zip",
                "shutil.ReadError: /tmp/tmp3ws5ny27 is not a zip file"
            ),
            "Could not unpack the archive u as zip: the downloaded file is not a zip file"
        );
        assert_eq!(
            unpack_error_message("u", "gztar", "tarfile.ReadError: bad"),
            "Could not unpack the archive u as gztar: tarfile.ReadError: bad"
        );
    }
}
