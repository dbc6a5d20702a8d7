//! Step 7: the size report (raw and gzip -9) printed at the end of a build.
use std::io::Write;

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

/// One line of the report.
pub struct SizeRow {
    pub label: String,
    pub raw: usize,
    pub gzip: usize,
}

impl SizeRow {
    /// Measures `bytes` under `label`.
    pub fn measure(label: impl Into<String>, bytes: &[u8]) -> Result<SizeRow> {
        Ok(SizeRow {
            label: label.into(),
            raw: bytes.len(),
            gzip: gzip_size(bytes)?,
        })
    }
}

/// The length of `bytes` after gzip at level 9.
pub fn gzip_size(bytes: &[u8]) -> Result<usize> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).context("gzip-compressing")?;
    Ok(encoder.finish().context("finishing gzip")?.len())
}

/// `1,234,567 B (1205.6 KiB)`; below 1 KiB just `999 B`.
pub fn format_size(bytes: usize) -> String {
    let digits = bytes.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if bytes < 1024 {
        format!("{grouped} B")
    } else {
        let kibibytes = bytes as f64 / 1024.0;
        format!("{grouped} B ({kibibytes:.1} KiB)")
    }
}

/// The report as aligned text, one row per line.
pub fn render(rows: &[SizeRow]) -> String {
    let label_width = rows.iter().map(|row| row.label.len()).max().unwrap_or(0);
    let raw_column: Vec<String> = rows.iter().map(|row| format_size(row.raw)).collect();
    let raw_width = raw_column.iter().map(String::len).max().unwrap_or(0);
    let mut text = String::new();
    for (row, raw) in rows.iter().zip(&raw_column) {
        text.push_str(&format!(
            "  {:<label_width$}  {:>raw_width$}  gzip -9 {}\n",
            row.label,
            raw,
            format_size(row.gzip)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_sizes() {
        let cases = [
            (0, "0 B"),
            (999, "999 B"),
            (1023, "1,023 B"),
            (1024, "1,024 B (1.0 KiB)"),
            (48_395, "48,395 B (47.3 KiB)"),
            (1_234_567, "1,234,567 B (1205.6 KiB)"),
        ];
        for (bytes, expected) in cases {
            assert_eq!(format_size(bytes), expected, "{bytes}");
        }
    }

    #[test]
    fn renders_aligned_rows() {
        let rows = [
            SizeRow {
                label: "a.js".into(),
                raw: 2048,
                gzip: 100,
            },
            SizeRow {
                label: "longer.wasm".into(),
                raw: 10,
                gzip: 30,
            },
        ];
        assert_eq!(
            render(&rows),
            "  a.js         2,048 B (2.0 KiB)  gzip -9 100 B\n  longer.wasm               10 B  gzip -9 30 B\n"
        );
    }

    #[test]
    fn gzip_shrinks_repetitive_input() -> Result<()> {
        let size = gzip_size(&[b'a'; 10_000])?;
        assert!(size > 18 && size < 100, "{size}");
        Ok(())
    }
}
