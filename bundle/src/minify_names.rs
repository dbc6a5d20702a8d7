//! Step 3a: shortens the names that the wasm and its glue share: wasm-bindgen names each import
//! `__wbg_<name>_<16 hex digits>` (module `./<stem>_bg.js`), each closure shim export
//! `wasm_bindgen__convert__closures_____invoke__h<16 hex digits>` and each snippet's module
//! `./snippets/<crate>-<hash>/<file>.js`. The names are written twice,
//! in the wasm (deflated apart) and in the glue, and their hashes do not compress: shortening
//! them takes about 7.5 KB off the gzip size of `python-runner.js`. Only names change; each is
//! renamed in both files, and a glue that does not name each one exactly as expected is an error.
//! The wasm is read with `wasmparser`; its import and export sections are written anew with
//! `wasm-encoder`, and every other section is copied byte for byte.
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use wasm_encoder::{EntityType, ExportKind, ExportSection, ImportSection, Module, RawSection};
use wasmparser::{Encoding, Parser, Payload};

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
    let mut import_names: HashMap<String, String> = HashMap::new();
    // The snippets' modules (`./snippets/<crate>-<hash>/<file>.js`): `b`, `c`, ...
    let mut modules: HashMap<String, String> = HashMap::new();
    let mut export_names: Vec<(String, String)> = Vec::new();
    let mut output = Module::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("parsing the wasm")? {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => bail!("a wasm component, not a module"),
            Payload::ImportSection(reader) => {
                let mut imports = ImportSection::new();
                for import in reader.into_imports() {
                    let import = import.context("parsing the wasm's imports")?;
                    let (mut import_module, mut name) = (import.module, import.name);
                    if import.module == module {
                        let next = short_name(import_names.len());
                        name = import_names.entry(import.name.to_owned()).or_insert(next);
                        import_module = GLUE_MODULE;
                    } else if import.module.starts_with("./snippets/") {
                        let next = short_name(modules.len() + 1);
                        import_module = modules.entry(import.module.to_owned()).or_insert(next);
                    }
                    let ty = EntityType::try_from(import.ty).with_context(|| {
                        format!("the import `{}` `{}`", import.module, import.name)
                    })?;
                    imports.import(import_module, name, ty);
                }
                output.section(&imports);
            }
            Payload::ExportSection(reader) => {
                let mut exports = ExportSection::new();
                for (index, export) in reader.into_iter().enumerate() {
                    let export = export.context("parsing the wasm's exports")?;
                    // `_` and letters: none of wasm-bindgen's own names.
                    let short = format!("_{}", short_name(index));
                    exports.export(&short, ExportKind::from(export.kind), export.index);
                    export_names.push((export.name.to_owned(), short));
                }
                output.section(&exports);
            }
            // Every other section as it is, byte for byte.
            other => {
                if let Some((id, range)) = other.as_section() {
                    let data = wasm.get(range).context("a section is out of the module")?;
                    output.section(&RawSection { id, data });
                }
            }
        }
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
        output.finish(),
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

#[cfg(test)]
mod tests {
    use super::*;

    use wasm_encoder::{
        CodeSection, CustomSection, Function, FunctionSection, Instruction, MemoryType, SectionId,
        TypeSection,
    };
    use wasmparser::{ExternalKind, TypeRef};

    /// A module importing `f` and `g` from `./x_bg.js`, `h` from a snippet, a memory from
    /// `./x_bg.js`, and exporting `run` and a closure shim, with a custom section at the end.
    fn module() -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut imports = ImportSection::new();
        imports
            .import("./x_bg.js", "__wbg_f_0123", EntityType::Function(0))
            .import("./x_bg.js", "__wbg_g_4567", EntityType::Function(0))
            .import("./snippets/s.js", "h", EntityType::Function(0))
            .import(
                "./x_bg.js",
                "mem",
                MemoryType {
                    minimum: 1,
                    maximum: Some(2),
                    memory64: false,
                    shared: false,
                    page_size_log2: None,
                },
            );
        let mut functions = FunctionSection::new();
        functions.function(0).function(0);
        let mut exports = ExportSection::new();
        exports.export("run", ExportKind::Func, 3).export(
            "wasm_bindgen__convert__closures_____invoke__h99",
            ExportKind::Func,
            4,
        );
        let mut code = CodeSection::new();
        for callee in [0, 2] {
            let mut body = Function::new([]);
            body.instruction(&Instruction::Call(callee))
                .instruction(&Instruction::End);
            code.function(&body);
        }
        let mut wasm = Module::new();
        wasm.section(&types)
            .section(&imports)
            .section(&functions)
            .section(&exports)
            .section(&code)
            .section(&CustomSection {
                name: "x".into(),
                data: [1, 2, 3].as_slice().into(),
            });
        wasm.finish()
    }

    /// Every section but the imports and exports, as (id, contents).
    fn other_sections(wasm: &[u8]) -> Result<Vec<(u8, &[u8])>> {
        let mut sections = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            if let Some((id, range)) = payload?.as_section() {
                if ![SectionId::Import, SectionId::Export]
                    .map(u8::from)
                    .contains(&id)
                {
                    sections.push((id, wasm.get(range).context("out of the module")?));
                }
            }
        }
        Ok(sections)
    }

    fn imports(wasm: &[u8]) -> Result<Vec<(String, String, TypeRef)>> {
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::ImportSection(reader) = payload? {
                let mut imports = Vec::new();
                for import in reader.into_imports() {
                    let import = import?;
                    imports.push((import.module.to_owned(), import.name.to_owned(), import.ty));
                }
                return Ok(imports);
            }
        }
        bail!("no imports")
    }

    fn exports(wasm: &[u8]) -> Result<Vec<(String, ExternalKind, u32)>> {
        for payload in Parser::new(0).parse_all(wasm) {
            if let Payload::ExportSection(reader) = payload? {
                let mut exports = Vec::new();
                for export in reader {
                    let export = export?;
                    exports.push((export.name.to_owned(), export.kind, export.index));
                }
                return Ok(exports);
            }
        }
        bail!("no exports")
    }

    const GLUE: &str = "const import0 = {\n  __wbg_f_0123: function() {},\n  __wbg_g_4567: function() { x__wbg_f_0123; },\n  mem: m,\n};\n\
        function wasm_bindgen__convert__closures_____invoke__h99(a) { wasm.wasm_bindgen__convert__closures_____invoke__h99(a); }\n\
        export function run() { wasm.run(); wasm.runner(); }\n\
        return { \"./x_bg.js\": import0, \"./snippets/s.js\": import1 };\n";

    #[test]
    fn renames_glue_imports_and_closure_exports_in_both_files() -> Result<()> {
        let input = module();
        wasmparser::validate(&input)?;
        let (wasm, glue, renamed) = minify_module(&input, GLUE, "./x_bg.js")?;
        assert_eq!(renamed, 6);
        wasmparser::validate(&wasm)?;
        let memory = imports(&input)?[3].2;
        assert!(matches!(memory, TypeRef::Memory(m) if m.initial == 1 && m.maximum == Some(2)));
        let function = TypeRef::Func(0);
        assert_eq!(
            imports(&wasm)?,
            [
                ("a".to_owned(), "a".to_owned(), function),
                ("a".to_owned(), "b".to_owned(), function),
                ("b".to_owned(), "h".to_owned(), function),
                ("a".to_owned(), "c".to_owned(), memory),
            ]
        );
        assert_eq!(
            exports(&wasm)?,
            [
                ("_a".to_owned(), ExternalKind::Func, 3),
                ("_b".to_owned(), ExternalKind::Func, 4),
            ]
        );
        assert_eq!(
            glue,
            "const import0 = {\n  a: function() {},\n  b: function() { x__wbg_f_0123; },\n  c: m,\n};\n\
             function _b(a) { wasm._b(a); }\n\
             export function run() { wasm._a(); wasm.runner(); }\n\
             return { \"a\": import0, \"b\": import1 };\n"
        );
        // Everything but the names is unchanged: the other sections byte for byte, in order.
        assert_eq!(other_sections(&wasm)?, other_sections(&input)?);
        assert_eq!(other_sections(&wasm)?.len(), 4);
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
    fn fails_on_what_is_not_a_wasm_module() {
        for bytes in [&b"\0asm"[..], b"\0asm\x0d\0\x01\0", &module()[..30]] {
            assert!(minify_module(bytes, GLUE, "./x_bg.js").is_err());
        }
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
