//! RTP's wrapping counters made monotonic: the crate's one unwrapper.
//!
//! Sequence numbers wrap at 2^16 and timestamps at 2^32. An [`Unwrapper`] turns each
//! value into the extended (64-bit) value nearest to the highest one seen so far, so a
//! wrap reads as a step forward and a reordered packet as a step back. [`Arrival`]
//! places a packet against the highest one before it (next after some lost, or late).
//!
//! Invariants: extended values of a stream never wrap; the first value is placed one
//! cycle up, so values reordered before it still extend to positive numbers.

/// Unwraps a counter of `BITS` bits (16 for sequence numbers, 32 for timestamps).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwrapper<const BITS: u32> {
    /// The highest extended value so far.
    highest: Option<u64>,
}

/// Unwraps RTP sequence numbers.
pub type SequenceUnwrapper = Unwrapper<16>;

/// Unwraps RTP timestamps.
pub type TimestampUnwrapper = Unwrapper<32>;

/// Where a packet falls against the packets before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Newer than any before it, after `lost` missing ones.
    InOrder {
        /// Packets missing just before this one.
        lost: u64,
    },
    /// Not newer than one already seen (late or duplicate).
    Late,
}

impl<const BITS: u32> Unwrapper<BITS> {
    const MODULUS: u64 = 1 << BITS;

    /// The highest extended value so far, if any came.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// The extended value of `value` (only its low `BITS` bits count): the one nearest
    /// to the highest so far (on a tie, the older one).
    pub fn unwrap(&mut self, value: u64) -> u64 {
        let value = value & (Self::MODULUS - 1);
        let extended = match self.highest {
            // Start one cycle up, so earlier (reordered) values stay positive.
            None => value + Self::MODULUS,
            Some(highest) => {
                let base = highest & !(Self::MODULUS - 1);
                [base.wrapping_sub(Self::MODULUS), base, base + Self::MODULUS]
                    .map(|b| b.wrapping_add(value))
                    .into_iter()
                    .min_by_key(|c| c.abs_diff(highest))
                    .unwrap_or(value)
            }
        };
        self.highest = Some(self.highest.map_or(extended, |h| h.max(extended)));
        extended
    }

    /// Places `value` against the values before it: in order (counting the ones skipped)
    /// or late.
    pub fn arrive(&mut self, value: u64) -> Arrival {
        let before = self.highest;
        let extended = self.unwrap(value);
        match before {
            None => Arrival::InOrder { lost: 0 },
            Some(highest) if extended > highest => Arrival::InOrder {
                lost: extended - highest - 1,
            },
            Some(_) => Arrival::Late,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrapping_follows_the_nearest_value() {
        let mut u = SequenceUnwrapper::default();
        let a = u.unwrap(65_535);
        assert_eq!(u.unwrap(0), a + 1);
        assert_eq!(u.unwrap(65_534), a - 1);
        assert_eq!(u.unwrap(5), a + 6);
    }

    #[test]
    fn timestamps_unwrap_across_their_32_bit_wrap() {
        let mut u = TimestampUnwrapper::default();
        let a = u.unwrap(u64::from(u32::MAX - 1_499));
        assert_eq!(u.unwrap(1_500), a + 3_000);
        assert_eq!(u.unwrap(u64::from(u32::MAX)), a + 1_499);
    }

    #[test]
    fn losses_are_counted_across_the_wrap() {
        let mut t = SequenceUnwrapper::default();
        assert_eq!(t.arrive(65_533), Arrival::InOrder { lost: 0 });
        assert_eq!(t.arrive(65_534), Arrival::InOrder { lost: 0 });
        assert_eq!(t.arrive(1), Arrival::InOrder { lost: 2 }); // 65535 and 0 lost
        assert_eq!(t.arrive(0), Arrival::Late);
        assert_eq!(t.arrive(1), Arrival::Late);
        assert_eq!(t.arrive(2), Arrival::InOrder { lost: 0 });
    }

    #[test]
    fn half_a_cycle_ahead_is_late_and_less_is_a_gap() {
        let mut t = SequenceUnwrapper::default();
        t.arrive(40_000);
        assert_eq!(t.arrive(40_000 + 32_768 - 65_536), Arrival::Late);
        assert_eq!(
            t.arrive(40_000 + 32_767 - 65_536),
            Arrival::InOrder { lost: 32_766 }
        );
    }
}
