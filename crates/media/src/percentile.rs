//! Percentiles of measured samples (latencies, times), for the call's statistics and
//! the benchmarks alike.
//!
//! Why here: the call engine (`call`) reports latency percentiles, and the benchmarks of
//! `app` and `signaling-server` report distributions through `testkit`. `media` is the
//! one crate all of them already reach with the arrows pointing down (`call -> media`,
//! `testkit -> media`), and `signaling-server` must not depend on `call`; so the helper
//! lives in `media`, measurements of media being what it is mostly used for, and
//! `testkit` re-exports it for the benchmarks.
//!
//! The rule is nearest rank with rounding: quantile `q` of `n` sorted samples is the one
//! at index `round((n - 1) * q)`, so `q = 0.5` is the median, `q = 1` the largest, and
//! every figure is a value that was measured.

/// Quantile `q` (0 to 1) of `sorted` samples, ascending; `None` when there are none.
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let index = (last as f64 * q.clamp(0.0, 1.0)).round() as usize;
    sorted.get(index.min(last)).copied()
}

/// `samples` sorted ascending (NaN last), ready for [`percentile`].
pub fn sorted(mut samples: Vec<f64>) -> Vec<f64> {
    samples.sort_by(f64::total_cmp);
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_ranks_of_the_sorted_samples() {
        let samples = sorted((1..=100).rev().map(f64::from).collect());
        assert_eq!(percentile(&samples, 0.5), Some(51.0));
        assert_eq!(percentile(&samples, 0.95), Some(95.0));
        assert_eq!(percentile(&samples, 0.99), Some(99.0));
        assert_eq!(percentile(&samples, 1.0), Some(100.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0));
    }

    #[test]
    fn no_samples_give_no_quantile_and_one_sample_is_every_quantile() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7.5], 0.0), Some(7.5));
        assert_eq!(percentile(&[7.5], 0.99), Some(7.5));
    }

    #[test]
    fn quantiles_outside_zero_to_one_are_clamped() {
        let samples = [1.0, 2.0, 3.0];
        assert_eq!(percentile(&samples, -1.0), Some(1.0));
        assert_eq!(percentile(&samples, 2.0), Some(3.0));
    }
}
