//! The simulator's one random source: SplitMix64, seeded, written out here so that the same
//! seed gives the same market and the same faults whatever crate versions are in the lockfile.

/// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, full period, passes BigCrush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (Lemire's multiply-shift; the bias is below 2^-32 for bounds
    /// under 2^32, which is all the simulator asks for). `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "an empty range has no element");
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    /// Uniform in `-bound..=bound`.
    pub fn symmetric(&mut self, bound: i64) -> i64 {
        let span = bound.unsigned_abs().saturating_mul(2).saturating_add(1);
        self.below(span) as i64 - bound.abs()
    }

    /// True with probability `pct`/100.
    pub fn percent(&mut self, pct: u8) -> bool {
        pct > 0 && self.below(100) < u64::from(pct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(7);
        assert!((0..10_000).all(|_| rng.below(3) < 3));
        assert!(!SplitMix64::new(1).percent(0));
        assert!(SplitMix64::new(1).percent(100));
        assert!((0..1000).all(|_| rng.symmetric(5).abs() <= 5));
    }
}
