//! The ledger of `python-runner.js`: what each part (wasm, glue, worker, Python, templates) adds to its gzip size, and the budget `cargo bundle test` holds the file to.
use anyhow::{bail, Result};
use python_runner_sizes::{format_size, gzip_increments, thousands};

/// The most `python-runner.js` may weigh after gzip -9; `cargo bundle test` fails above it.
pub const BUDGET_GZIP: u64 = 100 * 1024;

/// What a stretch of `python-runner.js` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The wasm module (base64 of the raw-deflated bytes).
    Wasm,
    /// wasm-bindgen's JS glue and the crates' JS snippets.
    Glue,
    /// The worker's own start (`templates/worker.js`).
    Worker,
    /// The Python helper package (`python-files.js`).
    Python,
    /// Everything else: `main.js`, the service worker, esbuild's helpers, the wrapping function.
    Templates,
}

impl Part {
    /// The rows of the ledger, in this order.
    pub const ALL: [Part; 5] = [
        Part::Wasm,
        Part::Glue,
        Part::Worker,
        Part::Python,
        Part::Templates,
    ];

    fn label(self) -> &'static str {
        match self {
            Part::Wasm => "wasm",
            Part::Glue => "glue",
            Part::Worker => "worker",
            Part::Python => "Python",
            Part::Templates => "templates",
        }
    }

    /// The part an esbuild input belongs to, by its path relative to `target/bundle-work/`.
    pub fn of_input(path: &str) -> Part {
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.ends_with(".deflate") {
            Part::Wasm
        } else if name == crate::assemble::WORKER_FILE {
            Part::Worker
        } else if name == crate::assemble::PYTHON_FILES_FILE {
            Part::Python
        } else if path.starts_with("wasm/") || path.contains("/wasm/") {
            Part::Glue
        } else {
            Part::Templates
        }
    }
}

/// One row: a part's bytes in the file and what they add to its gzip size.
#[derive(Debug, PartialEq)]
pub struct Row {
    pub part: Part,
    pub raw: u64,
    pub gzip: i64,
}

/// The parts of one file, with its totals.
#[derive(Debug)]
pub struct Ledger {
    pub rows: Vec<Row>,
    pub raw: u64,
    pub gzip: u64,
}

impl Ledger {
    /// Measures `bytes`, laid out as consecutive `regions` of (part, length) that cover it.
    /// Each region is charged what it adds to the gzip size after everything before it, so the
    /// rows add up to the file's gzip size; adjacent regions of one part are measured together.
    pub fn measure(bytes: &[u8], regions: &[(Part, usize)]) -> Result<Ledger> {
        let mut merged: Vec<(Part, usize)> = Vec::new();
        for &(part, length) in regions {
            match merged.last_mut() {
                Some((last, last_length)) if *last == part => *last_length += length,
                _ => merged.push((part, length)),
            }
        }
        let covered: usize = merged.iter().map(|(_, length)| length).sum();
        if covered != bytes.len() {
            bail!(
                "the ledger's regions cover {covered} bytes of {}",
                bytes.len()
            );
        }
        let ends: Vec<usize> = merged
            .iter()
            .scan(0, |end, (_, length)| {
                *end += length;
                Some(*end)
            })
            .collect();
        let increments = gzip_increments(bytes, &ends)?;
        let mut rows: Vec<Row> = Part::ALL
            .iter()
            .map(|&part| Row {
                part,
                raw: 0,
                gzip: 0,
            })
            .collect();
        for ((part, length), increment) in merged.iter().zip(increments) {
            if let Some(row) = rows.iter_mut().find(|row| row.part == *part) {
                row.raw += u64::try_from(*length)?;
                row.gzip += increment;
            }
        }
        let gzip = rows.iter().map(|row| row.gzip).sum::<i64>();
        Ok(Ledger {
            rows,
            raw: u64::try_from(bytes.len())?,
            gzip: u64::try_from(gzip)?,
        })
    }

    /// The ledger as aligned text, with the budget on the total's line.
    pub fn render(&self, file: &str) -> String {
        let mut text =
            format!("{file} by part (raw bytes; gzip -9 bytes each part adds, in file order):\n");
        for row in &self.rows {
            let sign = if row.gzip < 0 { "-" } else { "" };
            text.push_str(&format!(
                "  {:<9}  {:>9} B  {:>9} B\n",
                row.part.label(),
                thousands(row.raw),
                format!("{sign}{}", thousands(row.gzip.unsigned_abs()))
            ));
        }
        let verdict = if self.gzip <= BUDGET_GZIP {
            "within"
        } else {
            "OVER"
        };
        text.push_str(&format!(
            "  {:<9}  {:>9} B  {:>9} B  = {}, {verdict} the budget of {}\n",
            "total",
            thousands(self.raw),
            thousands(self.gzip),
            format_size(self.gzip),
            format_size(BUDGET_GZIP)
        ));
        text
    }
}

/// Fails when a `python-runner.js` of `gzip` bytes after gzip -9 exceeds [`BUDGET_GZIP`].
pub fn check_budget(gzip: u64) -> Result<()> {
    if gzip > BUDGET_GZIP {
        bail!(
            "python-runner.js is {} after gzip -9, over its budget of {} by {} B; \
             `cargo bundle dist` prints what each part weighs",
            format_size(gzip),
            format_size(BUDGET_GZIP),
            thousands(gzip - BUDGET_GZIP)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_map_to_parts() {
        let cases = [
            ("wasm/python_runner_runtime_bg.wasm.deflate", Part::Wasm),
            ("wasm/python_runner_runtime.js", Part::Glue),
            (
                "wasm/snippets/python-runner-element-1a2b/js/properties.js",
                Part::Glue,
            ),
            ("worker.js", Part::Worker),
            ("python-files.js", Part::Python),
            ("main.entry.js", Part::Templates),
            ("service-worker.js", Part::Templates),
            ("sync-message-sw.js", Part::Templates),
        ];
        for (path, part) in cases {
            assert_eq!(Part::of_input(path), part, "{path}");
        }
    }

    #[test]
    fn rows_add_up_to_the_files_gzip_size() -> Result<()> {
        let bytes = b"(function(){var a=1;var b=\"AAAA\";print(\"x = 1\");})();\n".repeat(20);
        let third = bytes.len() / 3;
        let regions = [
            (Part::Templates, 10),
            (Part::Glue, third - 10),
            (Part::Wasm, third),
            (Part::Templates, bytes.len() - 2 * third),
        ];
        let ledger = Ledger::measure(&bytes, &regions)?;
        assert_eq!(ledger.gzip, python_runner_sizes::gzip_size(&bytes)?);
        assert_eq!(ledger.raw, u64::try_from(bytes.len())?);
        let parts: Vec<Part> = ledger.rows.iter().map(|row| row.part).collect();
        assert_eq!(parts, Part::ALL);
        let templates = &ledger.rows[4];
        assert_eq!(templates.raw, u64::try_from(10 + bytes.len() - 2 * third)?);
        assert_eq!(ledger.rows[2].raw, 0); // no worker region
        assert_eq!(ledger.rows[2].gzip, 0);
        let text = ledger.render("x.js");
        assert!(text.starts_with("x.js by part"), "{text}");
        assert!(
            text.contains("  Python             0 B          0 B\n"),
            "{text}"
        );
        assert!(
            text.contains("within the budget of 102,400 B (100.0 KiB)"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn regions_must_cover_the_file() {
        let error = Ledger::measure(b"abcdef", &[(Part::Wasm, 4)])
            .err()
            .map(|error| error.to_string());
        assert_eq!(
            error.as_deref(),
            Some("the ledger's regions cover 4 bytes of 6")
        );
    }

    #[test]
    fn the_budget_is_100_kib_of_gzip() {
        assert!(check_budget(100 * 1024).is_ok());
        let error = check_budget(100 * 1024 + 1)
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.starts_with(
                "python-runner.js is 102,401 B (100.0 KiB) after gzip -9, over its budget of 102,400 B (100.0 KiB) by 1 B"
            ),
            "{error}"
        );
    }
}
