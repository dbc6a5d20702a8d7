//! Step 4: turns the Python helper package (`python/src/**/*.py`) into `python-files.js`, a module `worker.js` (in `python-runner.js`) and the library import.
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// Relative path (`/`-separated, from `python/src`) to file contents, sorted for stable output.
pub type PythonFiles = BTreeMap<String, String>;

/// Reads every `.py` file under `source_root`; an absent directory gives no files.
pub fn collect(source_root: &Path) -> Result<PythonFiles> {
    let mut files = PythonFiles::new();
    if source_root.is_dir() {
        collect_into(source_root, "", &mut files)?;
    }
    Ok(files)
}

fn collect_into(directory: &Path, prefix: &str, files: &mut PythonFiles) -> Result<()> {
    let entries =
        fs::read_dir(directory).with_context(|| format!("listing {}", directory.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", directory.display()))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            bail!("non-UTF-8 file name {}", path.display());
        };
        let file_type = entry
            .file_type()
            .with_context(|| format!("reading the type of {}", path.display()))?;
        let key = format!("{prefix}{name}");
        if file_type.is_dir() {
            collect_into(&path, &format!("{key}/"), files)?;
        } else if name.ends_with(".py") {
            let contents =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            files.insert(key, contents);
        }
    }
    Ok(())
}

/// Python program that prints its stdin shrunk (via `ast.unparse`): without comments, docstrings
/// and attribute docstrings (every statement that is only a string), without the annotations of
/// function parameters and results, `x: T = v` as `x = v` (a bare `x: T` stays: a `TypedDict`
/// needs it), indented by one space per level; the result parses to the same tree as the
/// unparsed code, or the program fails.
const STRIP_PROGRAM: &str = r#"
import ast, sys
tree = ast.parse(sys.stdin.read())
def is_doc(s):
    return isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)
for node in ast.walk(tree):
    for field in ("body", "orelse", "finalbody"):
        body = getattr(node, field, None)
        if not (isinstance(body, list) and body and isinstance(body[0], ast.stmt)):
            continue
        body = [s for s in body if not is_doc(s)] or ([ast.Pass()] if field == "body" else [])
        for i, s in enumerate(body):
            if isinstance(s, ast.AnnAssign) and s.value is not None:
                body[i] = ast.copy_location(ast.Assign(targets=[s.target], value=s.value), s)
        setattr(node, field, body)
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        node.returns = None
        a = node.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
            if arg is not None:
                arg.annotation = None
ast.fix_missing_locations(tree)
text = ast.unparse(tree)
lines = []
for line in text.split("\n"):
    code = line.lstrip(" ")
    indent = len(line) - len(code)
    lines.append(" " * (indent // 4) + code if indent % 4 == 0 else line)
short = "\n".join(lines)
if ast.dump(ast.parse(short)) != ast.dump(ast.parse(text)):
    sys.exit("re-indenting changed the code")
sys.stdout.write(short + "\n")
"#;

/// Shrinks the sources for shipping (about 60% off the gzip size): see [`STRIP_PROGRAM`]; the
/// code is re-printed by Python's own `ast.unparse`, so it stays equivalent. Release builds only;
/// the helper's tracebacks never show its own frames, so its line numbers do not matter.
pub fn strip(files: &PythonFiles) -> Result<PythonFiles> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut stripped = PythonFiles::new();
    for (path, contents) in files {
        let mut child = Command::new("python3")
            .args(["-c", STRIP_PROGRAM])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running python3 to strip the Python sources")?;
        child
            .stdin
            .take()
            .context("python3 stdin")?
            .write_all(contents.as_bytes())
            .with_context(|| format!("sending {path} to python3"))?;
        let output = child.wait_with_output().context("waiting for python3")?;
        if !output.status.success() {
            bail!(
                "python3 could not strip {path}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text = String::from_utf8(output.stdout).context("python3 printed non-UTF-8")?;
        stripped.insert(path.clone(), text);
    }
    Ok(stripped)
}

/// `export default {"pkg/__init__.py": "...", ...};` with JSON-escaped keys and values.
pub fn render(files: &PythonFiles) -> Result<String> {
    let mut module = String::from(
        "// Generated by `cargo bundle` from python/src: the Python helper package, path -> source.\nexport default {\n",
    );
    for (path, contents) in files {
        let key = serde_json::to_string(path).context("escaping a Python file name")?;
        let value = serde_json::to_string(contents).context("escaping a Python file")?;
        module.push_str(&format!("  {key}: {value},\n"));
    }
    module.push_str("};\n");
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_drops_comments_and_docstrings_but_keeps_code() -> Result<()> {
        let files = PythonFiles::from([(
            "m.py".to_string(),
            "\"\"\"Module doc.\"\"\"\n# comment\ndef f(x: int) -> int:\n    \"\"\"Doc.\"\"\"\n    y: int = x  # why\n    z: int\n    return y\n\nclass C:\n    \"\"\"Only a doc.\"\"\"\n    a = 1\n    \"\"\"Of a.\"\"\"\n".to_string(),
        )]);
        let stripped = strip(&files)?;
        assert_eq!(
            stripped["m.py"],
            "def f(x):\n y = x\n z: int\n return y\n\nclass C:\n a = 1\n"
        );
        Ok(())
    }

    fn check(files: &[(&str, &str)], expected: &str) -> Result<()> {
        let files = files
            .iter()
            .map(|(path, contents)| (path.to_string(), contents.to_string()))
            .collect();
        let rendered = render(&files)?;
        let body = rendered
            .split_once('\n')
            .map(|(_comment, body)| body)
            .context("no comment line")?;
        assert_eq!(body, expected);
        Ok(())
    }

    #[test]
    fn renders_an_empty_package() -> Result<()> {
        check(&[], "export default {\n};\n")
    }

    #[test]
    fn renders_sorted_paths() -> Result<()> {
        check(
            &[("pkg/z.py", "z = 1\n"), ("pkg/__init__.py", "")],
            "export default {\n  \"pkg/__init__.py\": \"\",\n  \"pkg/z.py\": \"z = 1\\n\",\n};\n",
        )
    }

    #[test]
    fn escapes_quotes_backslashes_and_control_characters() -> Result<()> {
        check(
            &[("p.py", "s = \"a\\tb\"\r\n\t\u{1}é</script>")],
            "export default {\n  \"p.py\": \"s = \\\"a\\\\tb\\\"\\r\\n\\t\\u0001é</script>\",\n};\n",
        )
    }

    #[test]
    fn collects_nested_python_files_only() -> Result<()> {
        let root =
            std::env::temp_dir().join(format!("python-runner-bundle-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("pkg/sub/__pycache__"))?;
        fs::write(root.join("pkg/__init__.py"), "x = 1\n")?;
        fs::write(root.join("pkg/sub/mod.py"), "y = 2\n")?;
        fs::write(root.join("pkg/py.typed"), "")?;
        fs::write(root.join("pkg/_host.pyi"), "def f() -> None: ...\n")?;
        fs::write(root.join("pkg/sub/__pycache__/mod.cpython-311.pyc"), "")?;
        let files = collect(&root)?;
        fs::remove_dir_all(&root)?;
        let keys: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(keys, ["pkg/__init__.py", "pkg/sub/mod.py"]);
        assert_eq!(files["pkg/sub/mod.py"], "y = 2\n");
        Ok(())
    }

    #[test]
    fn missing_directory_gives_no_files() -> Result<()> {
        assert!(collect(Path::new("/nonexistent/python/src"))?.is_empty());
        Ok(())
    }
}
