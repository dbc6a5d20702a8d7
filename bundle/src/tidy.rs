//! Tidiness checks, run as native tests: every source file says what it is for in its first
//! line, ARCHITECTURE.md names only files that exist, untyped JS (`Reflect`) is read only in
//! binding modules, and the modules of the element and the worker stay under 500 lines of code
//! each and use each other without a cycle.
#![cfg(test)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The repository root (this crate is `bundle/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Source files under `dir` (relative to the root), skipping build output, installed
/// packages and test fixtures (pages and programs written as a user would).
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(root().join(dir)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = dir.join(&name);
        let skipped = name.starts_with('.')
            || ["target", "node_modules", "__pycache__"].contains(&name.as_str())
            || relative == Path::new("tests/fixtures");
        if skipped {
            continue;
        }
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            sources(&relative, out);
        } else {
            out.push(relative);
        }
    }
}

fn all_sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    sources(Path::new(""), &mut out);
    out
}

/// What the first line of a file with this extension must start with, if it is source.
fn header_for(path: &Path) -> Option<&'static [&'static str]> {
    match path.extension()?.to_str()? {
        "rs" => Some(&["//!"]),
        "js" | "mjs" | "ts" => Some(&["//", "/*"]),
        "py" => Some(&["\"\"\"", "#"]),
        _ => None,
    }
}

#[test]
fn every_source_file_starts_with_what_it_is_for() {
    let mut missing = Vec::new();
    let mut checked = 0;
    for path in all_sources() {
        let Some(prefixes) = header_for(&path) else {
            continue;
        };
        let text = fs::read_to_string(root().join(&path)).unwrap_or_default();
        let first = text.lines().next().unwrap_or_default();
        checked += 1;
        if !prefixes.iter().any(|prefix| first.starts_with(prefix)) {
            missing.push(path.display().to_string());
        }
    }
    assert!(checked > 50, "found only {checked} source files");
    assert!(
        missing.is_empty(),
        "files whose first line does not say what they are for (Rust: `//!`): {missing:?}"
    );
}

/// Words in backticks in `text` that look like file names (`name.ext` or `dir/name.ext`).
fn named_files(text: &str) -> BTreeSet<String> {
    const EXTENSIONS: [&str; 11] = [
        "rs", "js", "mjs", "py", "toml", "md", "css", "json", "html", "sh", "ts",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        // Not placeholders (`<name>`), globs or URL paths (`/dist/…`).
        .filter(|word| !word.contains([' ', '\t', '*', '<']) && !word.starts_with('/'))
        .map(|word| word.trim_end_matches('/'))
        .filter(|word| {
            word.rsplit_once('.')
                .is_some_and(|(stem, ext)| !stem.is_empty() && EXTENSIONS.contains(&ext))
        })
        .map(str::to_string)
        .collect()
}

/// Files ARCHITECTURE.md may name that are not in the repository: what the build writes and
/// what the Pyodide distribution holds.
const BUILT_OR_EXTERNAL: [&str; 8] = [
    "python-runner.js",
    "python-runner.mjs",
    "python-runner-library.js",
    "python-runner.d.mts",
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "pyodide-lock.json",
];

#[test]
fn architecture_names_only_files_that_exist() {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap_or_default();
    let sources = all_sources();
    let exists = |name: &str| {
        // By file name, so `target/dist/python-runner.js` counts too: it exists only after a build
        // (on a clean clone, native tests run before `dist`).
        let file_name = name.rsplit('/').next().unwrap_or(name);
        if BUILT_OR_EXTERNAL.contains(&file_name) {
            true
        } else if name.contains('/') {
            // A path: relative to the root, or to some folder (`src/lib.rs` of a crate).
            root().join(name).exists()
                || sources
                    .iter()
                    .any(|path| path.to_string_lossy().ends_with(&["/", name].concat()))
        } else {
            sources.iter().any(|path| {
                path.file_name()
                    .is_some_and(|file| file.to_string_lossy() == name)
            })
        }
    };
    let named = named_files(&text);
    assert!(named.len() > 20, "ARCHITECTURE.md names only {named:?}");
    let missing: Vec<&String> = named.iter().filter(|name| !exists(name)).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names files that do not exist: {missing:?}"
    );
}

#[test]
fn architecture_is_a_short_read() {
    let text = fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap_or_default();
    let words = text.split_whitespace().count();
    assert!(
        (500..=1_250).contains(&words),
        "ARCHITECTURE.md has {words} words; keep it to about 1,200 (a map, not a manual)"
    );
    let long: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| line.chars().count() > 120)
        .map(|(number, _)| number + 1)
        .collect();
    assert!(
        long.is_empty(),
        "ARCHITECTURE.md lines over 120 characters: {long:?}"
    );
}

#[test]
fn file_names_are_found_in_backticks_only() {
    let named =
        named_files("`a.rs` b.rs `c/d.js` `not a.rs` `e.js/` `*.rs` `x.y` `<n>/p.html` `/d/p.js`");
    assert_eq!(
        named.into_iter().collect::<Vec<_>>(),
        ["a.rs", "c/d.js", "e.js"]
    );
}

/// Whether `path` is a binding module: the only files allowed to read untyped JS.
fn is_binding_module(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name == "js.rs" || name == "bindings.rs")
}

#[test]
fn untyped_js_is_read_only_in_binding_modules() {
    let offenders: Vec<String> = all_sources()
        .into_iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        // Tests may poke at objects as they like; the native tools have no JS.
        .filter(|path| !path.components().any(|part| part.as_os_str() == "tests"))
        .filter(|path| !path.starts_with("bundle/src"))
        .filter(|path| !is_binding_module(path))
        .filter(|path| {
            fs::read_to_string(root().join(path)).is_ok_and(|text| text.contains("Reflect::"))
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "`Reflect::` outside the binding modules (`js.rs`, `bindings.rs`): {offenders:?}; \
         declare the shape as a typed `#[wasm_bindgen] extern` there instead"
    );
}

/// Lines of `text` before its `#[cfg(test)]` module (or all of them).
fn lines_before_tests(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

#[test]
fn no_element_or_worker_module_is_over_500_lines_of_code() {
    const LIMIT: usize = 500;
    let too_long: Vec<(String, usize)> = all_sources()
        .into_iter()
        .filter(|path| path.starts_with("element/src") || path.starts_with("worker"))
        .filter(|path| !path.components().any(|part| part.as_os_str() == "tests"))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .filter_map(|path| {
            let lines = lines_before_tests(&fs::read_to_string(root().join(&path)).ok()?);
            (lines > LIMIT).then(|| (path.display().to_string(), lines))
        })
        .collect();
    assert!(
        too_long.is_empty(),
        "modules over {LIMIT} lines of non-test code (split them by job): {too_long:?}"
    );
}

#[test]
fn test_modules_do_not_count_toward_a_modules_length() {
    assert_eq!(
        lines_before_tests("a\nb\n#[cfg(test)]\nmod tests {\n}\n"),
        2
    );
    assert_eq!(lines_before_tests("a\nb\n"), 2);
}

/// The modules of `crate_src` (e.g. `element/src`) each module's code names through `crate::`,
/// outside comments and its test module.
fn module_uses(crate_src: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    let Ok(entries) = fs::read_dir(root().join(crate_src)) else {
        return graph;
    };
    let files: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
    let modules: BTreeSet<String> = files
        .iter()
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .filter_map(|path| Some(path.file_stem()?.to_string_lossy().into_owned()))
        .filter(|name| name != "lib")
        .collect();
    for module in &modules {
        let text = fs::read_to_string(root().join(crate_src).join(format!("{module}.rs")))
            .unwrap_or_default();
        let code: Vec<&str> = text
            .lines()
            .take_while(|line| !line.starts_with("#[cfg(test)]"))
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect();
        let code = code.join("\n");
        let mut uses = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            // `use crate::{a, b::C}` names several.
            let named: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .collect(),
                None => vec![rest],
            };
            for name in named {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if modules.contains(&name) && &name != module {
                    uses.insert(name);
                }
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// A cycle in `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|seen| seen == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn element_and_worker_modules_use_each_other_without_a_cycle() {
    for crate_src in ["element/src", "worker/src"] {
        let graph = module_uses(crate_src);
        assert!(graph.len() > 5, "found only {graph:?} in {crate_src}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "modules of {crate_src} use each other in a circle: {}",
                cycle.join(" → ")
            );
        }
    }
}

#[test]
fn a_cycle_is_found_and_named() {
    let graph = |edges: &[(&str, &str)]| {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            graph.entry(to.to_string()).or_default();
        }
        graph
    };
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}
