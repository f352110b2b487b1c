//! Statistics for tuning: the anchor's trimmed mean, and what should replace it as the
//! headline — mean, median, percentiles where estimable, bootstrap confidence intervals,
//! coefficient of variation, Tukey outliers, and a split-half drift check.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Resamples per bootstrap interval.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// The power-tuning anchor's `computeAverageDuration`: drop `floor(n·d)` values from each
/// end of the sorted list, average the rest (`d` clamped to 0..=0.4).
pub fn trimmed_mean(values: &[f64], discard_top_bottom: f64) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let d = discard_top_bottom.clamp(0.0, 0.4);
    let k = (n as f64 * d).floor() as usize;
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let kept = &sorted[k..n - k];
    kept.iter().sum::<f64>() / kept.len() as f64
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (n − 1).
pub fn std_dev(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(values);
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
}

/// Coefficient of variation: standard deviation over mean.
pub fn cv(values: &[f64]) -> f64 {
    let m = mean(values);
    if m == 0.0 || m.is_nan() {
        return 0.0;
    }
    std_dev(values) / m
}

/// The `p`-quantile by linear interpolation between order statistics (type 7, as R's
/// default and numpy's `linear`).
pub fn quantile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    quantile_sorted(&s, p)
}

fn quantile_sorted(s: &[f64], p: f64) -> f64 {
    let h = (s.len() - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    s[lo] + (h - lo as f64) * (s[hi] - s[lo])
}

pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

/// Whether the `p`-quantile can be estimated from `n` samples: an order-statistic
/// confidence interval needs about `n ≥ 10/(1−p)` (p90 ≥ 100, p99 ≥ 1000).
pub fn quantile_estimable(n: usize, p: f64) -> bool {
    n as f64 >= 10.0 / (1.0 - p) - 1e-9
}

/// A point estimate with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    /// Half the interval's width relative to the value.
    pub fn relative_half_width(&self) -> f64 {
        if self.value == 0.0 {
            return 0.0;
        }
        (self.high - self.low) / 2.0 / self.value.abs()
    }
}

/// A 95% bootstrap percentile interval of `stat` over `values`.
pub fn bootstrap(values: &[f64], stat: impl Fn(&[f64]) -> f64, rng: &mut StdRng) -> Estimate {
    let value = stat(values);
    if values.len() < 2 {
        return Estimate {
            value,
            low: value,
            high: value,
        };
    }
    let mut buf = vec![0.0; values.len()];
    let mut stats = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for b in buf.iter_mut() {
            *b = values[rng.random_range(0..values.len())];
        }
        stats.push(stat(&buf));
    }
    stats.sort_by(f64::total_cmp);
    Estimate {
        value,
        low: quantile_sorted(&stats, 0.025),
        high: quantile_sorted(&stats, 0.975),
    }
}

/// The weighted mean of class means (stratified), with a stratified bootstrap interval:
/// each class is resampled within itself, so a heavy class can never be trimmed away.
pub fn stratified_mean(classes: &[(f64, Vec<f64>)], rng: &mut StdRng) -> Estimate {
    let point = |cls: &[(f64, Vec<f64>)]| {
        let (mut num, mut den) = (0.0, 0.0);
        for (w, v) in cls {
            if !v.is_empty() {
                num += w * mean(v);
                den += w;
            }
        }
        if den == 0.0 {
            f64::NAN
        } else {
            num / den
        }
    };
    let value = point(classes);
    if classes.iter().all(|(_, v)| v.len() < 2) {
        return Estimate {
            value,
            low: value,
            high: value,
        };
    }
    let mut stats = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    let mut re: Vec<(f64, Vec<f64>)> = classes.iter().map(|(w, v)| (*w, v.clone())).collect();
    for _ in 0..BOOTSTRAP_RESAMPLES {
        for ((_, src), (_, dst)) in classes.iter().zip(re.iter_mut()) {
            for d in dst.iter_mut() {
                *d = src[rng.random_range(0..src.len())];
            }
        }
        stats.push(point(&re));
    }
    stats.sort_by(f64::total_cmp);
    Estimate {
        value,
        low: quantile_sorted(&stats, 0.025),
        high: quantile_sorted(&stats, 0.975),
    }
}

/// A 95% bootstrap interval of `mean(a) / mean(b)`, resampling both independently.
pub fn ratio_of_means(a: &[f64], b: &[f64], rng: &mut StdRng) -> Estimate {
    let value = mean(a) / mean(b);
    if a.len() < 2 || b.len() < 2 {
        return Estimate {
            value,
            low: value,
            high: value,
        };
    }
    let mut stats = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        let ra: f64 = (0..a.len())
            .map(|_| a[rng.random_range(0..a.len())])
            .sum::<f64>()
            / a.len() as f64;
        let rb: f64 = (0..b.len())
            .map(|_| b[rng.random_range(0..b.len())])
            .sum::<f64>()
            / b.len() as f64;
        stats.push(ra / rb);
    }
    stats.sort_by(f64::total_cmp);
    Estimate {
        value,
        low: quantile_sorted(&stats, 0.025),
        high: quantile_sorted(&stats, 0.975),
    }
}

/// Values outside Tukey's fences (1.5 × IQR beyond the quartiles).
pub fn tukey_outliers(values: &[f64]) -> usize {
    if values.len() < 4 {
        return 0;
    }
    let q1 = quantile(values, 0.25);
    let q3 = quantile(values, 0.75);
    let iqr = q3 - q1;
    let (lo, hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    values.iter().filter(|v| **v < lo || **v > hi).count()
}

/// Relative change of the median from the first half of a series (in time order) to the
/// second: a cheap drift check.
pub fn split_half_drift(in_time_order: &[f64]) -> f64 {
    let n = in_time_order.len();
    if n < 6 {
        return 0.0;
    }
    let a = median(&in_time_order[..n / 2]);
    let b = median(&in_time_order[n / 2..]);
    if a == 0.0 {
        0.0
    } else {
        (b - a) / a
    }
}

/// A seeded generator: every random choice of a run comes from its seed.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A sample of size `n` needed for a mean within `±e` (relative) at 95%: `(1.96·CV/e)²`.
pub fn needed_samples(cv: f64, e: f64) -> f64 {
    (1.96 * cv / e).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_mean_follows_the_anchor() {
        // n=10, d=0.2 drops 2 each side.
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 100.0];
        assert_eq!(
            trimmed_mean(&v, 0.2),
            (3.0 + 4.0 + 5.0 + 6.0 + 7.0 + 8.0) / 6.0
        );
        // n=5 drops 1 each side; n=4 drops none.
        assert_eq!(trimmed_mean(&[10.0, 1.0, 2.0, 3.0, 0.0], 0.2), 2.0);
        assert_eq!(trimmed_mean(&[1.0, 2.0, 3.0, 10.0], 0.2), 4.0);
        // d is clamped to 0.4 (n=10 drops 4 each side).
        assert_eq!(trimmed_mean(&v, 0.9), 5.5);
        assert_eq!(trimmed_mean(&v, 0.0), mean(&v));
    }

    #[test]
    fn known_values() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&v), 5.0);
        assert!((std_dev(&v) - 2.138_089_935).abs() < 1e-8);
        assert!((cv(&v) - 0.427_617_987).abs() < 1e-8);
        assert_eq!(median(&v), 4.5);
        // numpy.percentile([1..10], 90) = 9.1
        let w: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((quantile(&w, 0.9) - 9.1).abs() < 1e-12);
        assert!((quantile(&w, 0.25) - 3.25).abs() < 1e-12);
        assert!(quantile_estimable(100, 0.9));
        assert!(!quantile_estimable(99, 0.9));
        assert!(!quantile_estimable(999, 0.99));
        assert!(quantile_estimable(1000, 0.99));
        assert_eq!(tukey_outliers(&[1.0, 2.0, 3.0, 4.0, 5.0, 50.0]), 1);
        // The reference's sample-size examples: CV 10% ±2% → 96; CV 30% ±5% → 139.
        assert_eq!(needed_samples(0.10, 0.02).round(), 96.0);
        assert_eq!(needed_samples(0.30, 0.05).round(), 138.0);
    }

    #[test]
    fn bootstrap_intervals_cover_and_shrink() {
        let mut r = rng(7);
        let small: Vec<f64> = (0..10).map(|i| 100.0 + f64::from(i % 5)).collect();
        let big: Vec<f64> = (0..400).map(|i| 100.0 + f64::from(i % 5)).collect();
        let a = bootstrap(&small, mean, &mut r);
        let b = bootstrap(&big, mean, &mut r);
        assert!(a.low <= 102.0 && a.high >= 102.0);
        assert!(b.high - b.low < a.high - a.low);
        // Deterministic for a seed.
        let c = bootstrap(&small, mean, &mut rng(7));
        assert_eq!(c, bootstrap(&small, mean, &mut rng(7)));
        let one = bootstrap(&[5.0], mean, &mut r);
        assert_eq!((one.low, one.high), (5.0, 5.0));
    }

    #[test]
    fn stratified_mean_weights_class_means() {
        let mut r = rng(1);
        // A heavy class with weight 1 and a light class with weight 3.
        let classes = vec![(1.0, vec![100.0, 100.0, 100.0]), (3.0, vec![10.0; 9])];
        let e = stratified_mean(&classes, &mut r);
        assert!((e.value - (100.0 + 30.0) / 4.0).abs() < 1e-12);
        assert_eq!((e.low, e.high), (e.value, e.value));
    }

    #[test]
    fn ratio_of_means_interval() {
        let mut r = rng(3);
        let a: Vec<f64> = (0..30).map(|i| 200.0 + f64::from(i % 3)).collect();
        let b: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 3)).collect();
        let e = ratio_of_means(&a, &b, &mut r);
        assert!(e.low > 1.9 && e.high < 2.1 && e.low <= e.value && e.value <= e.high);
    }

    #[test]
    fn drift_is_the_change_between_halves() {
        let v = [10.0, 10.0, 10.0, 12.0, 12.0, 12.0];
        assert!((split_half_drift(&v) - 0.2).abs() < 1e-12);
    }
}
