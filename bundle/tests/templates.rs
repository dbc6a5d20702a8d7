//! Copies that live outside Rust, pinned to their one definition: the library's
//! `makeRunnerCallback` to the Python contract (`python/tests/contract.json`), the message the
//! worker's entry writes by hand to the protocol crate's encoding, and the JS, TypeScript and
//! Markdown copies of the library's defaults and of the Pyodide version (package.json's pin).

use std::fs;
use std::path::{Path, PathBuf};

use python_runner_library::wire;
use python_runner_protocol::{ErrorKind, ErrorPayload, FromWorker};
use serde_json::Value;

const LIBRARY: &str = include_str!("../templates/library.js");
const LIBRARY_TYPES: &str = include_str!("../templates/python-runner.d.ts");
const WORKER_ENTRY: &str = include_str!("../templates/worker.js");
const CONTRACT: &str = include_str!("../../python/tests/contract.json");
const PACKAGE_JSON: &str = include_str!("../../package.json");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    fs::read_to_string(root().join(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// The text from `start` up to and including the first `end` after it.
fn section<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("`{start}` not found"));
    let length = text[from..]
        .find(end)
        .unwrap_or_else(|| panic!("no `{end}` after `{start}`"));
    &text[from..from + length + end.len()]
}

#[test]
fn make_runner_callback_handles_exactly_the_contracts_events() {
    let contract: Value = serde_json::from_str(CONTRACT).expect("contract.json is JSON");
    let function = section(LIBRARY, "export function makeRunnerCallback(", "\n}\n");
    let mut branches: Vec<(&str, &str)> = function
        .split("if (type === \"")
        .skip(1)
        .map(|branch| branch.split_once('"').expect("a closing quote"))
        .collect();
    branches.sort();
    let mut events: Vec<&Value> = contract["events"]
        .as_array()
        .expect("events")
        .iter()
        .collect();
    events.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let contract_names: Vec<&str> = events
        .iter()
        .map(|event| event["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        branches.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        contract_names,
        "makeRunnerCallback in library.js must handle exactly the events of python/tests/contract.json"
    );
    for ((name, branch), event) in branches.iter().zip(&events) {
        for field in event["data"].as_object().expect("data").keys() {
            assert!(
                branch.contains(&format!("data.{field}")),
                "makeRunnerCallback's \"{name}\" branch must read data.{field}"
            );
        }
    }
    assert!(function.contains("return other(type, data);"));

    // Its declaration and its documentation list the same events.
    let declaration = section(
        LIBRARY_TYPES,
        "Makes the callback of a python_runner-style runner",
        "export declare function makeRunnerCallback(",
    );
    let docs = read("docs/library.md");
    let table = section(&docs, "### `makeRunnerCallback(", "| anything else |");
    let rows: Vec<&str> = table
        .lines()
        .filter(|line| line.starts_with("| `\""))
        .collect();
    assert_eq!(rows.len(), events.len(), "docs/library.md: {rows:?}");
    for event in &events {
        let name = event["name"].as_str().expect("name");
        let row = rows
            .iter()
            .find(|row| row.starts_with(&format!("| `\"{name}\"` |")))
            .unwrap_or_else(|| panic!("docs/library.md's makeRunnerCallback table lacks {name}"));
        assert!(declaration.contains(&format!("\"{name}\"")), "d.ts: {name}");
        for field in event["data"].as_object().expect("data").keys() {
            assert!(
                row.contains(&format!("data.{field}")),
                "docs: {name}: {field}"
            );
            assert!(
                declaration.contains(field.as_str()),
                "d.ts: {name}: {field}"
            );
        }
    }
}

/// A JS object literal written as JSON: keys quoted, trailing commas dropped, and a string
/// concatenated with a variable (`"text: " + error`) reduced to the string.
fn object_literal_as_json(literal: &str) -> String {
    let mut json = String::new();
    let mut chars = literal.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                json.push(c);
                while let Some(c) = chars.next() {
                    json.push(c);
                    match c {
                        '\\' => json.extend(chars.next()),
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '+' => {
                // `+ name`: the variable part of a concatenation.
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                while chars
                    .next_if(|c| c.is_alphanumeric() || *c == '_')
                    .is_some()
                {}
            }
            ',' => {
                let rest: String = chars.clone().collect();
                if !rest.trim_start().starts_with(['}', ']']) {
                    json.push(c);
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_') {
                    word.push(c);
                }
                while chars.next_if(|c| c.is_whitespace()).is_some() {}
                if chars.peek() == Some(&':') {
                    json.push_str(&format!("\"{word}\""));
                } else {
                    json.push_str(&word);
                }
            }
            c => json.push(c),
        }
    }
    json
}

#[test]
fn the_worker_entrys_own_failed_message_is_what_the_encoder_writes() {
    // The worker's wasm encodes every message (serde), except this one: it is posted when the
    // wasm itself failed to start, so no encoder is there to write it.
    assert_eq!(
        WORKER_ENTRY.matches("postMessage(").count(),
        1,
        "worker.js must write no message but the one checked here"
    );
    let call = section(WORKER_ENTRY, "self.postMessage(", "});");
    let literal = &call["self.postMessage(".len()..call.len() - ");".len()];
    let json = object_literal_as_json(literal);
    let written: Value = serde_json::from_str(&json)
        .unwrap_or_else(|error| panic!("worker.js's message {json} is not plain data: {error}"));
    let message = written["error"]["message"]
        .as_str()
        .expect("error.message is a string");
    assert!(message.starts_with("python-runner worker failed to start"));
    let encoded = serde_json::to_value(FromWorker::Failed {
        id: None,
        error: ErrorPayload::new(ErrorKind::Worker, message),
    })
    .expect("the message serializes");
    assert_eq!(written, encoded, "worker.js's Failed message");
}

#[test]
fn the_library_defaults_are_the_library_crates() {
    let size = wire::DEFAULT_BUFFER_SIZE;
    let timeout = wire::DEFAULT_SERVICE_WORKER_TIMEOUT;
    let check = wire::DEFAULT_CHECK_TIMEOUT;
    let check_with_interrupt = wire::DEFAULT_CHECK_TIMEOUT_WITH_INTERRUPT;
    let docs = read("docs/library.md");
    let copies = [
        (
            "library.js",
            LIBRARY,
            format!("const DEFAULT_BUFFER_SIZE = {size};"),
        ),
        (
            "library.js",
            LIBRARY,
            format!("const DEFAULT_SERVICE_WORKER_TIMEOUT = {timeout};"),
        ),
        (
            "python-runner.d.ts",
            LIBRARY_TYPES,
            format!("Default {} KiB ({size}).", size / 1024),
        ),
        (
            "python-runner.d.ts",
            LIBRARY_TYPES,
            format!("retried this long. Default {timeout}."),
        ),
        (
            "python-runner.d.ts",
            LIBRARY_TYPES,
            format!("default {check_with_interrupt} with `checkInterrupt`, else {check}."),
        ),
        (
            "docs/library.md",
            docs.as_str(),
            format!("(default {size}, {} KiB)", size / 1024),
        ),
        (
            "docs/library.md",
            docs.as_str(),
            format!("`timeout` (default {timeout} ms)"),
        ),
        (
            "docs/library.md",
            docs.as_str(),
            format!("default {check_with_interrupt} with `checkInterrupt`, else {check} |"),
        ),
    ];
    for (file, text, line) in &copies {
        assert!(text.contains(line.as_str()), "{file} must say {line}");
    }
    // The named constants are the library's only copies.
    for value in [size.to_string(), timeout.to_string()] {
        assert_eq!(LIBRARY.matches(value.as_str()).count(), 1, "{value}");
    }
    assert!(!LIBRARY.contains("128 * 1024"));
}

/// The Pyodide version python-runner is built and tested with: the npm pin in package.json.
fn pinned_pyodide_version() -> String {
    let package: Value = serde_json::from_str(PACKAGE_JSON).expect("package.json is JSON");
    package["dependencies"]["pyodide"]
        .as_str()
        .expect("package.json pins pyodide")
        .to_string()
}

/// Every file under `folder` (a path relative to the root), skipping build output, npm's
/// folder and hidden entries.
fn files_under(folder: &str, found: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(root().join(folder)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.')
            || ["target", "node_modules", "__pycache__"].contains(&name.as_str())
        {
            continue;
        }
        let path = if folder.is_empty() {
            name
        } else {
            format!("{folder}/{name}")
        };
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(&path, found),
            Ok(_) => found.push(path),
            Err(_) => {}
        }
    }
}

#[test]
fn every_copy_of_the_pyodide_version_is_package_jsons() {
    let version = pinned_pyodide_version();
    // (where, what it must say): a folder stands for any file in it.
    let copies = [
        (
            "bundle/templates/library.js",
            format!("const PYODIDE_VERSION = \"{version}\";"),
        ),
        (
            "bundle/templates/python-runner.d.ts",
            format!("(default: {version}, "),
        ),
        ("docs/library.md", format!("(default `\"{version}\"`, ")),
        (
            "docs/library.md",
            format!("loads Pyodide {version} by default"),
        ),
        ("docs/library.md", format!("now loads Pyodide {version};")),
        (
            "README.md",
            format!("https://cdn.jsdelivr.net/pyodide/v{version}/full/"),
        ),
        (
            "element/src",
            format!("\"https://cdn.jsdelivr.net/pyodide/v{version}/full/\""),
        ),
        (
            "worker/tests/in_worker.rs",
            format!("assert_eq!(version, \"{version}\");"),
        ),
        (
            "tests/fixtures/bench/upstream.js",
            format!("{{ version: \"{version}\" }}"),
        ),
    ];
    // Files that use the version as sample data, which need not follow the pin.
    let samples = [
        "package-lock.json",
        "worker/src/dispatch.rs",
        "element/src/machine.rs",
        "worker/protocol/tests/wire_format.rs",
        "worker/protocol/tests/wire_format.json",
    ];
    let mut files = Vec::new();
    files_under("", &mut files);
    let under = |file: &str, place: &str| file == place || file.starts_with(&format!("{place}/"));
    for (place, line) in &copies {
        let found = files
            .iter()
            .filter(|file| under(file, place))
            .any(|file| read(file).contains(line.as_str()));
        assert!(
            found,
            "{place} must say {line} (package.json pins Pyodide {version})"
        );
    }
    for file in &files {
        let Ok(text) = fs::read_to_string(root().join(file)) else {
            continue; // not text
        };
        let known = file == "package.json"
            || samples.contains(&file.as_str())
            || copies.iter().any(|(place, _)| under(file, place));
        assert!(
            known || !text.contains(&version),
            "{file} names Pyodide {version}: add it to the copies checked here"
        );
    }
}
