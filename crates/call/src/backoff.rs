//! Reconnect delays: exponential, capped, with a little deterministic spread.
//!
//! Pure: the caller says which attempt this is; nothing here sleeps.

use std::time::Duration;

/// Exponential backoff between `initial` and `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// Delay before retry number `attempt` (0-based): doubling from `initial`, capped at
    /// `max`, less up to 20% varied by `salt` so that many clients do not retry in step.
    pub fn delay(&self, attempt: u32, salt: u64) -> Duration {
        let doubled = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX));
        let capped = doubled.min(self.max);
        let spread = (salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 59) as u32; // 0..31
        capped - capped * spread / 160
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_then_stay_at_the_cap() {
        let b = Backoff::default();
        let d: Vec<_> = (0..8).map(|a| b.delay(a, 0)).collect();
        assert_eq!(d[0], Duration::from_millis(250));
        assert_eq!(d[1], Duration::from_millis(500));
        assert_eq!(d[4], Duration::from_secs(4));
        assert!(d[5..].iter().all(|&x| x == Duration::from_secs(5)));
        assert_eq!(b.delay(u32::MAX, 0), Duration::from_secs(5));
    }

    #[test]
    fn the_spread_stays_within_twenty_percent() {
        let b = Backoff::default();
        for salt in 0..1000 {
            let d = b.delay(3, salt);
            assert!(
                d <= Duration::from_secs(2) && d >= Duration::from_millis(1600),
                "{d:?}"
            );
        }
    }
}
