//! Step 3a: shortens the names that the wasm and its glue share: wasm-bindgen names each import
//! `__wbg_<name>_<16 hex digits>` (module `./<stem>_bg.js`), each closure shim export
//! `wasm_bindgen__convert__closures_____invoke__h<16 hex digits>` and each snippet's module
//! `./snippets/<crate>-<hash>/<file>.js`. The names are written twice,
//! in the wasm (deflated apart) and in the glue, and their hashes do not compress: shortening
//! them takes about 7.5 KB off the gzip size of `python-runner.js`. Only names change; each is
//! renamed in both files, and a glue that does not name each one exactly as expected is an error.
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The prefix of wasm-bindgen's closure shim exports: the glue also names a local function so.
const CLOSURE_EXPORT_PREFIX: &str = "wasm_bindgen__convert__closures_____invoke__";

/// The import module of the glue's own functions, renamed to [`GLUE_MODULE`].
fn glue_module(stem: &str) -> String {
    format!("./{stem}_bg.js")
}

/// What the glue's own import module is called after renaming.
const GLUE_MODULE: &str = "a";

/// Renames, in `wasm_file` and `glue_file` (wasm-bindgen's output for `stem`), every import of
/// the glue's module, every export and every snippet module to a short name. Returns how many
/// names changed.
pub fn minify(wasm_file: &Path, glue_file: &Path, stem: &str) -> Result<usize> {
    let wasm = fs::read(wasm_file).with_context(|| format!("reading {}", wasm_file.display()))?;
    let glue = fs::read_to_string(glue_file)
        .with_context(|| format!("reading {}", glue_file.display()))?;
    let (wasm, glue, renamed) = minify_module(&wasm, &glue, &glue_module(stem))?;
    fs::write(wasm_file, wasm).with_context(|| format!("writing {}", wasm_file.display()))?;
    fs::write(glue_file, glue).with_context(|| format!("writing {}", glue_file.display()))?;
    Ok(renamed)
}

/// [`minify`] on the bytes of a module and the text of its glue.
fn minify_module(wasm: &[u8], glue: &str, module: &str) -> Result<(Vec<u8>, String, usize)> {
    let sections = sections(wasm)?;
    let mut import_names: HashMap<String, String> = HashMap::new();
    // The snippets' modules (`./snippets/<crate>-<hash>/<file>.js`): `b`, `c`, ...
    let mut modules: HashMap<String, String> = HashMap::new();
    let mut export_names: Vec<(String, String)> = Vec::new();
    let mut output = wasm[..8].to_vec();
    for (id, body) in sections {
        let body = match id {
            IMPORT_SECTION => {
                let mut imports = read_imports(body)?;
                for import in &mut imports {
                    if import.module == module {
                        let next = short_name(import_names.len());
                        let short = import_names.entry(import.name.clone()).or_insert(next);
                        import.name = short.clone();
                        import.module = GLUE_MODULE.to_owned();
                    } else if import.module.starts_with("./snippets/") {
                        let next = short_name(modules.len() + 1);
                        import.module =
                            modules.entry(import.module.clone()).or_insert(next).clone();
                    }
                }
                write_imports(&imports)
            }
            EXPORT_SECTION => {
                let mut exports = read_exports(body)?;
                for (index, export) in exports.iter_mut().enumerate() {
                    // `_` and letters: none of wasm-bindgen's own names.
                    let short = format!("_{}", short_name(index));
                    export_names.push((std::mem::replace(&mut export.name, short.clone()), short));
                }
                write_exports(&exports)
            }
            _ => body.to_vec(),
        };
        output.push(id);
        write_leb(&mut output, body.len());
        output.extend_from_slice(&body);
    }
    if import_names.is_empty() {
        bail!("no import of module `{module}`: is this wasm-bindgen's output?");
    }

    // The glue names each import once, as a key of its import object (`name: function(...`),
    // each export as `wasm.name` (a closure shim also as a same-named local function, renamed
    // along), and each module as a key of the imports object (`"module": import0`).
    let mut glue = glue.to_owned();
    for (old, new) in &import_names {
        let found;
        (glue, found) = replace_word(&glue, old, new, ":")
            .with_context(|| format!("renaming the import `{old}` in the glue"))?;
        if found != 1 {
            bail!("the glue names the import `{old}` {found} times, not once");
        }
    }
    for (old, new) in &export_names {
        let (old_word, new_word) = if old.starts_with(CLOSURE_EXPORT_PREFIX) {
            (old.clone(), new.clone())
        } else {
            (format!("wasm.{old}"), format!("wasm.{new}"))
        };
        (glue, _) = replace_word(&glue, &old_word, &new_word, "")
            .with_context(|| format!("renaming the export `{old}` in the glue"))?;
    }
    if glue.contains("wasm[") || glue.contains("exports[") {
        bail!("the glue reads an export by a computed name");
    }
    for (old, new) in std::iter::once((module, GLUE_MODULE)).chain(
        modules
            .iter()
            .map(|(old, new)| (old.as_str(), new.as_str())),
    ) {
        let quoted = format!("\"{old}\": import");
        if !glue.contains(&quoted) {
            bail!("the glue's imports object has no key `{old}`");
        }
        glue = glue.replace(&quoted, &format!("\"{new}\": import"));
    }
    Ok((
        output,
        glue,
        import_names.len() + export_names.len() + modules.len(),
    ))
}

/// The `index`th short name: `a` to `z`, `A` to `Z`, then two letters and more.
fn short_name(mut index: usize) -> String {
    const LETTERS: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = String::new();
    loop {
        name.push(char::from(LETTERS[index % LETTERS.len()]));
        index /= LETTERS.len();
        if index == 0 {
            return name;
        }
        index -= 1;
    }
}

/// Replaces every occurrence of the identifier `old` (not part of a longer identifier) by `new`,
/// each of which must be followed by `followed_by`; returns the text and how many there were.
fn replace_word(text: &str, old: &str, new: &str, followed_by: &str) -> Result<(String, usize)> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut output = String::with_capacity(text.len());
    let mut rest = text;
    let mut found = 0;
    while let Some(at) = rest.find(old) {
        let before = rest[..at]
            .chars()
            .next_back()
            .or_else(|| output.chars().next_back());
        let after = &rest[at + old.len()..];
        let whole = !before.is_some_and(is_word) && !after.chars().next().is_some_and(is_word);
        output.push_str(&rest[..at]);
        if whole {
            if !after.starts_with(followed_by) {
                bail!("`{old}` is not followed by `{followed_by}`");
            }
            output.push_str(new);
            found += 1;
        } else {
            output.push_str(old);
        }
        rest = after;
    }
    output.push_str(rest);
    Ok((output, found))
}

const IMPORT_SECTION: u8 = 2;
const EXPORT_SECTION: u8 = 7;

/// The sections of a module as (id, body), after checking its header.
fn sections(wasm: &[u8]) -> Result<Vec<(u8, &[u8])>> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" || wasm[4..8] != [1, 0, 0, 0] {
        bail!("not a wasm module (version 1)");
    }
    let mut reader = Reader { bytes: wasm, at: 8 };
    let mut sections = Vec::new();
    while !reader.done() {
        let id = reader.byte()?;
        let length = reader.leb()?;
        sections.push((id, reader.take(length)?));
    }
    Ok(sections)
}

struct Import {
    module: String,
    name: String,
    /// The import's description (kind and type), copied as it is.
    description: Vec<u8>,
}

fn read_imports(body: &[u8]) -> Result<Vec<Import>> {
    let mut reader = Reader { bytes: body, at: 0 };
    let count = reader.leb()?;
    let mut imports = Vec::with_capacity(count);
    for _ in 0..count {
        let module = reader.name()?;
        let name = reader.name()?;
        let start = reader.at;
        match reader.byte()? {
            // Function: type index.
            0 => {
                reader.leb()?;
            }
            // Table: reference type, limits.
            1 => {
                reader.byte()?;
                reader.limits()?;
            }
            // Memory: limits.
            2 => reader.limits()?,
            // Global: value type, mutability.
            3 => {
                reader.take(2)?;
            }
            // Tag: attribute, type index.
            4 => {
                reader.byte()?;
                reader.leb()?;
            }
            kind => bail!("import `{module}` `{name}` has an unknown kind {kind}"),
        }
        imports.push(Import {
            module,
            name,
            description: body[start..reader.at].to_vec(),
        });
    }
    if !reader.done() {
        bail!("trailing bytes in the import section");
    }
    Ok(imports)
}

fn write_imports(imports: &[Import]) -> Vec<u8> {
    let mut body = Vec::new();
    write_leb(&mut body, imports.len());
    for import in imports {
        write_name(&mut body, &import.module);
        write_name(&mut body, &import.name);
        body.extend_from_slice(&import.description);
    }
    body
}

struct Export {
    name: String,
    kind: u8,
    index: usize,
}

fn read_exports(body: &[u8]) -> Result<Vec<Export>> {
    let mut reader = Reader { bytes: body, at: 0 };
    let count = reader.leb()?;
    let mut exports = Vec::with_capacity(count);
    for _ in 0..count {
        exports.push(Export {
            name: reader.name()?,
            kind: reader.byte()?,
            index: reader.leb()?,
        });
    }
    if !reader.done() {
        bail!("trailing bytes in the export section");
    }
    Ok(exports)
}

fn write_exports(exports: &[Export]) -> Vec<u8> {
    let mut body = Vec::new();
    write_leb(&mut body, exports.len());
    for export in exports {
        write_name(&mut body, &export.name);
        body.push(export.kind);
        write_leb(&mut body, export.index);
    }
    body
}

fn write_leb(output: &mut Vec<u8>, mut value: usize) {
    loop {
        // Truncation intended: the low seven bits.
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            output.push(low);
            return;
        }
        output.push(low | 0x80);
    }
}

fn write_name(output: &mut Vec<u8>, name: &str) {
    write_leb(output, name.len());
    output.extend_from_slice(name.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn byte(&mut self) -> Result<u8> {
        let byte = *self.bytes.get(self.at).context("the module ends early")?;
        self.at += 1;
        Ok(byte)
    }

    fn take(&mut self, length: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(length)
            .filter(|end| *end <= self.bytes.len())
            .context("the module ends early")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    /// An unsigned LEB128 number of at most 32 bits.
    fn leb(&mut self) -> Result<usize> {
        let mut value = 0usize;
        for shift in (0..35).step_by(7) {
            let byte = self.byte()?;
            value |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        bail!("a LEB128 number is too long")
    }

    fn name(&mut self) -> Result<String> {
        let length = self.leb()?;
        let bytes = self.take(length)?;
        String::from_utf8(bytes.to_vec()).context("a name is not UTF-8")
    }

    /// Table or memory limits: flags, minimum, maximum if flagged (32-bit indices only).
    fn limits(&mut self) -> Result<()> {
        let flags = self.byte()?;
        if flags & !0x03 != 0 {
            bail!("unsupported limits flags {flags:#x}");
        }
        self.leb()?;
        if flags & 1 != 0 {
            self.leb()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `f` and `g` from `./x_bg.js`, `h` from a snippet, a memory from
    /// `./x_bg.js`, and exporting `run` and a closure shim.
    fn module() -> Vec<u8> {
        let mut imports = Vec::new();
        write_leb(&mut imports, 4);
        for (module, name) in [("./x_bg.js", "__wbg_f_0123"), ("./x_bg.js", "__wbg_g_4567")] {
            write_name(&mut imports, module);
            write_name(&mut imports, name);
            imports.extend_from_slice(&[0, 0]);
        }
        write_name(&mut imports, "./snippets/s.js");
        write_name(&mut imports, "h");
        imports.extend_from_slice(&[0, 0]);
        write_name(&mut imports, "./x_bg.js");
        write_name(&mut imports, "mem");
        imports.extend_from_slice(&[2, 1, 1, 2]);
        let mut exports = Vec::new();
        write_leb(&mut exports, 2);
        write_name(&mut exports, "run");
        exports.extend_from_slice(&[0, 3]);
        write_name(
            &mut exports,
            "wasm_bindgen__convert__closures_____invoke__h99",
        );
        exports.extend_from_slice(&[0, 4]);
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        for (id, body) in [(1u8, vec![1, 0x60, 0, 0]), (2, imports), (7, exports)] {
            wasm.push(id);
            write_leb(&mut wasm, body.len());
            wasm.extend(body);
        }
        wasm
    }

    const GLUE: &str = "const import0 = {\n  __wbg_f_0123: function() {},\n  __wbg_g_4567: function() { x__wbg_f_0123; },\n  mem: m,\n};\n\
        function wasm_bindgen__convert__closures_____invoke__h99(a) { wasm.wasm_bindgen__convert__closures_____invoke__h99(a); }\n\
        export function run() { wasm.run(); wasm.runner(); }\n\
        return { \"./x_bg.js\": import0, \"./snippets/s.js\": import1 };\n";

    #[test]
    fn renames_glue_imports_and_closure_exports_in_both_files() -> Result<()> {
        let (wasm, glue, renamed) = minify_module(&module(), GLUE, "./x_bg.js")?;
        assert_eq!(renamed, 6);
        let imports = read_imports(
            sections(&wasm)?
                .iter()
                .find(|(id, _)| *id == IMPORT_SECTION)
                .context("no imports")?
                .1,
        )?;
        let names: Vec<(&str, &str)> = imports
            .iter()
            .map(|i| (i.module.as_str(), i.name.as_str()))
            .collect();
        assert_eq!(names, [("a", "a"), ("a", "b"), ("b", "h"), ("a", "c")]);
        let exports = read_exports(
            sections(&wasm)?
                .iter()
                .find(|(id, _)| *id == EXPORT_SECTION)
                .context("no exports")?
                .1,
        )?;
        let names: Vec<&str> = exports.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["_a", "_b"]);
        assert_eq!(
            glue,
            "const import0 = {\n  a: function() {},\n  b: function() { x__wbg_f_0123; },\n  c: m,\n};\n\
             function _b(a) { wasm._b(a); }\n\
             export function run() { wasm._a(); wasm.runner(); }\n\
             return { \"a\": import0, \"b\": import1 };\n"
        );
        // Everything but the names is unchanged: same sections, same descriptions.
        assert_eq!(sections(&wasm)?.len(), 3);
        assert_eq!(imports[3].description, [2, 1, 1, 2]);
        Ok(())
    }

    #[test]
    fn fails_when_the_glue_does_not_name_an_import_as_a_key() {
        let glue = GLUE.replace("__wbg_g_4567: function()", "__wbg_g_4567 = function()");
        assert!(minify_module(&module(), &glue, "./x_bg.js").is_err());
    }

    #[test]
    fn fails_without_imports_of_the_glue_module() {
        assert!(minify_module(&module(), GLUE, "./y_bg.js").is_err());
    }

    #[test]
    fn short_names_are_distinct() {
        let names: Vec<String> = (0..3000).map(short_name).collect();
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert_eq!(&names[..3], ["a", "b", "c"]);
        assert_eq!(names[52], "aa");
    }
}
