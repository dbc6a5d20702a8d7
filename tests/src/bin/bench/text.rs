//! Text formatting shared by the table sections of the bench's report: PASS/MISS, milliseconds, thousands,
//! dates, first lines of errors and failure lines.

use std::fmt::Write as _;

/// A target met or missed, as the table says it.
pub(crate) fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// Whole milliseconds, or `-` for none.
pub(crate) fn ms(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.0}"))
}

/// Milliseconds with more decimals the smaller they are (three below 1 ms, two below 100 ms).
pub(crate) fn fine_ms(x: f64) -> String {
    if x.abs() < 1.0 {
        format!("{x:.3}")
    } else if x.abs() < 100.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.0}")
    }
}

/// `<value>  <= <target> PASS|MISS`, or the value alone when there is no target.
pub(crate) fn with_target(value: String, target: Option<String>, ok: Option<bool>) -> String {
    match (target, ok) {
        (Some(target), Some(ok)) => format!("{value} {target} {}", pass(ok)),
        (Some(target), None) => format!("{value} {target} FAILED (no sample)"),
        (None, _) => value,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch (proleptic Gregorian, UTC).
pub(crate) fn iso_utc(unix: u64) -> String {
    let days = i64::try_from(unix / 86_400).unwrap_or_default();
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub(crate) use python_runner_sizes::thousands;

/// `FAILED: <first line of the error>`, plus the first console error, which often says why.
pub(crate) fn failure_with(error: &str, console_errors: &[String]) -> String {
    let mut out = format!("FAILED: {}", first_line(error));
    if let Some(console) = console_errors.first() {
        let _ = write!(out, " (console: {})", first_line(console));
    }
    out
}

/// The one method the samples' memory was measured with, "(no sample)", or "MIXED: a, b".
pub(crate) fn one_method<'a>(methods: impl Iterator<Item = &'a str>) -> String {
    let mut methods: Vec<&str> = methods.collect();
    methods.sort_unstable();
    methods.dedup();
    match methods.as_slice() {
        [] => "(no sample)".into(),
        [one] => (*one).to_owned(),
        several => format!("MIXED: {}", several.join(", ")),
    }
}

/// The first line of a text (of an error: its message; the causes follow on the next lines).
pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Writes `errors` of the series `key` as table lines, the same failure once with a count.
pub(crate) fn write_failures(out: &mut String, key: &str, errors: &[String]) {
    let mut shown: Vec<(&str, usize)> = Vec::new();
    for error in errors {
        match shown
            .iter_mut()
            .find(|(line, _)| *line == first_line(error))
        {
            Some((_, count)) => *count += 1,
            None => shown.push((first_line(error), 1)),
        }
    }
    for (line, count) in shown {
        let times = if count > 1 {
            format!(" ({count} times)")
        } else {
            String::new()
        };
        let _ = writeln!(out, "    {key}: FAILED{times}: {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_and_numbers() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso_utc(1_764_164_705), "2025-11-26T13:45:05Z");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(56_320), "56,320");
        assert_eq!(one_method(["b", "a", "b"].into_iter()), "MIXED: a, b");
        assert_eq!(one_method(["Pss", "Pss"].into_iter()), "Pss");
        assert_eq!(one_method(std::iter::empty()), "(no sample)");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(fine_ms(0.12345), "0.123");
        assert_eq!(fine_ms(12.345), "12.35");
        assert_eq!(fine_ms(1234.5), "1234");
    }
}
