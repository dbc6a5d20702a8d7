//! Gzip sizes and how they are printed: the one definition, for `cargo bundle` (its size report, the ledger of `python-runner.js` and the size budget) and for the bench.
use std::io::Write;

use anyhow::{bail, Context, Result};
use flate2::write::GzEncoder;
use flate2::Compression;

/// The length of `bytes` after gzip at level 9.
pub fn gzip_size(bytes: &[u8]) -> Result<u64> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).context("gzip-compressing")?;
    let compressed = encoder.finish().context("finishing gzip")?;
    u64::try_from(compressed.len()).context("gzip size beyond u64")
}

/// What each consecutive region of `bytes` adds to its gzip size, in order: region `i` ends at
/// `ends[i]` and starts where region `i - 1` ended (the first at 0). Each is measured after
/// everything before it, as it goes into the file, so the values add up to the gzip size of
/// `bytes[..last end]` (the first region carries gzip's own 20 bytes of framing). A region that
/// compresses to nothing beside what precedes it can come out slightly negative.
pub fn gzip_increments(bytes: &[u8], ends: &[usize]) -> Result<Vec<i64>> {
    let mut increments = Vec::with_capacity(ends.len());
    let mut previous_end = 0;
    let mut previous_size = 0;
    for &end in ends {
        let prefix = bytes
            .get(..end)
            .with_context(|| format!("region end {end} is beyond {} bytes", bytes.len()))?;
        if end < previous_end {
            bail!("region ends out of order: {end} after {previous_end}");
        }
        let size = i64::try_from(gzip_size(prefix)?).context("gzip size beyond i64")?;
        increments.push(size - previous_size);
        previous_end = end;
        previous_size = size;
    }
    Ok(increments)
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// `1,234,567 B (1205.6 KiB)`; below 1 KiB just `999 B`.
pub fn format_size(bytes: u64) -> String {
    let grouped = thousands(bytes);
    if bytes < 1024 {
        format!("{grouped} B")
    } else {
        let kibibytes = bytes as f64 / 1024.0;
        format!("{grouped} B ({kibibytes:.1} KiB)")
    }
}

/// One line of the size report.
pub struct SizeRow {
    pub label: String,
    pub raw: u64,
    pub gzip: u64,
}

impl SizeRow {
    /// Measures `bytes` under `label`.
    pub fn measure(label: impl Into<String>, bytes: &[u8]) -> Result<SizeRow> {
        Ok(SizeRow {
            label: label.into(),
            raw: u64::try_from(bytes.len()).context("size beyond u64")?,
            gzip: gzip_size(bytes)?,
        })
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
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(56_320), "56,320");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

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

    #[test]
    fn increments_add_up_to_the_whole_and_charge_repeats_little() -> Result<()> {
        // Pseudo-random bytes (incompressible), then the same bytes again (nearly free).
        let mut state = 12_345_u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                state.to_be_bytes()[0]
            })
            .collect();
        let bytes = [noise.as_slice(), noise.as_slice()].concat();
        let increments = gzip_increments(&bytes, &[4096, 8192])?;
        assert_eq!(
            increments.iter().sum::<i64>(),
            i64::try_from(gzip_size(&bytes)?)?
        );
        assert!(increments[0] > 4000, "{increments:?}");
        assert!(increments[1] < 100, "{increments:?}");
        Ok(())
    }

    #[test]
    fn increments_reject_bad_regions() {
        assert!(gzip_increments(b"abc", &[4]).is_err());
        assert!(gzip_increments(b"abc", &[2, 1]).is_err());
    }
}
