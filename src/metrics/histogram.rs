//! A fixed-bucket histogram of durations in seconds, as Prometheus histograms count them.

/// Bucket upper bounds (seconds): a poll or reconcile takes milliseconds on a small hub and
/// up to seconds at 65,278 peers, so the buckets run from 1 ms to 30 s.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Observations so far. Counts are per bucket (not cumulative); the exposition adds them up.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// `counts[i]` observations fell in `(bounds[i-1], bounds[i]]`; the last one past every bound.
    counts: [u64; DURATION_BUCKETS.len() + 1],
    sum: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [0; DURATION_BUCKETS.len() + 1],
            sum: 0.0,
        }
    }
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        let seconds = if seconds.is_finite() {
            seconds.max(0.0)
        } else {
            0.0
        };
        let slot = DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(DURATION_BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `(upper bound, cumulative count)` for every finite bound, as `_bucket` series need;
    /// the `+Inf` bucket is [`Histogram::count`].
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        DURATION_BUCKETS
            .iter()
            .zip(self.counts.iter())
            .scan(0u64, |total, (bound, count)| {
                *total += count;
                Some((*bound, *total))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let mut h = Histogram::default();
        h.observe(0.001); // on a bound: that bucket (le is "less or equal")
        h.observe(0.003);
        h.observe(0.2);
        h.observe(100.0); // past every bound: only +Inf
        h.observe(f64::NAN); // never poisons the sum
        let buckets: Vec<(f64, u64)> = h.cumulative().collect();
        assert_eq!(buckets[0], (0.001, 2));
        assert_eq!(buckets[1], (0.0025, 2));
        assert_eq!(buckets[2], (0.005, 3));
        assert_eq!(buckets[7], (0.25, 4));
        assert_eq!(buckets.last(), Some(&(30.0, 4)));
        assert_eq!(h.count(), 5);
        assert!((h.sum() - 100.204).abs() < 1e-9, "{}", h.sum());
    }
}
