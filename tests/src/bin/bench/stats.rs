//! Statistics of the bench's samples: median, min and max ([`Stats`]), the 90th percentile, rounding for the
//! JSON, and [`Series`], one measured quantity with its target.

use serde_json::{json, Value};

/// Median, min and max of some values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Stats {
    pub(crate) n: usize,
    pub(crate) median: f64,
    pub(crate) min: f64,
    pub(crate) max: f64,
}

impl Stats {
    pub(crate) fn of(values: &[f64]) -> Option<Stats> {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Stats {
            n,
            median,
            min,
            max,
        })
    }
}

/// The 90th percentile (nearest rank): the smallest value at least 90 % of the values do not exceed.
pub(crate) fn p90(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (sorted.len() * 9).div_ceil(10);
    sorted.get(rank.checked_sub(1)?).copied()
}

/// Samples, median, min and max for the JSON, rounded to 0.1 ms.
pub(crate) fn stats_json(values: &[f64]) -> Value {
    let stats = Stats::of(values);
    json!({
        "samples": values.iter().copied().map(round1).collect::<Vec<_>>(),
        "median": stats.map(|s| round1(s.median)),
        "min": stats.map(|s| round1(s.min)),
        "max": stats.map(|s| round1(s.max)),
    })
}

pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The largest of some optional values; `None` when there are none.
pub(crate) fn max_of(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values.flatten().reduce(f64::max)
}

/// The median of some values; `None` when there are none.
pub(crate) fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    Stats::of(&values.collect::<Vec<_>>()).map(|s| s.median)
}

/// One measured quantity: its values (ms) and the errors of the attempts that failed.
#[derive(Debug, Default)]
pub(crate) struct Series {
    pub(crate) key: &'static str,
    pub(crate) label: &'static str,
    /// Target for the median, ms; `None`: reported without a target.
    pub(crate) target: Option<f64>,
    pub(crate) values: Vec<f64>,
    pub(crate) errors: Vec<String>,
}

impl Series {
    pub(crate) fn new(key: &'static str, label: &'static str, target: Option<f64>) -> Series {
        Series {
            key,
            label,
            target,
            ..Series::default()
        }
    }

    pub(crate) fn median(&self) -> Option<f64> {
        Stats::of(&self.values).map(|s| s.median)
    }

    pub(crate) fn pass(&self) -> Option<bool> {
        self.median()
            .zip(self.target)
            .map(|(median, target)| median <= target)
    }

    pub(crate) fn to_json(&self) -> Value {
        let stats = Stats::of(&self.values);
        json!({
            "label": self.label.trim_start(),
            "n": self.values.len(),
            "failed": self.errors.len(),
            "median_ms": stats.map(|s| round3(s.median)),
            "p90_ms": p90(&self.values).map(round3),
            "min_ms": stats.map(|s| round3(s.min)),
            "max_ms": stats.map(|s| round3(s.max)),
            "target_median_ms": self.target,
            "pass": self.pass(),
            "samples_ms": self.values.iter().copied().map(round3).collect::<Vec<_>>(),
            "errors": self.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p90_is_nearest_rank() {
        assert_eq!(p90(&[]), None);
        assert_eq!(p90(&[5.0]), Some(5.0));
        let ten: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(p90(&ten), Some(9.0));
        let many: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(p90(&many), Some(180.0));
    }

    #[test]
    fn stats_median_min_max() {
        assert_eq!(Stats::of(&[]), None);
        let odd = Stats::of(&[3.0, 1.0, 2.0]).expect("stats");
        assert_eq!((odd.n, odd.median, odd.min, odd.max), (3, 2.0, 1.0, 3.0));
        let even = Stats::of(&[4.0, 1.0, 3.0, 2.0]).expect("stats");
        assert_eq!(even.median, 2.5);
    }
}
