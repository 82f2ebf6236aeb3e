//! The crate's one seeded random generator: `rand`'s named [`Xoshiro256PlusPlus`] (Blackman &
//! Vigna 2018), whose output is reproducible across platforms and rand versions, unlike `StdRng`.
//!
//! A stream is keyed by several integers (`seed, purpose, epoch, index`, …): the key's
//! little-endian bytes are hashed with SHA-256 into the generator's 32-byte seed, so any key
//! gives an independent stream and a resumed run draws the same numbers. Integer ranges use
//! `rand`'s `random_range` (Canon's widening-multiply method, no modulo bias).
//!
//! Users: training (data order, augmentation, `cxr-train bench` data), the bootstrap of
//! `evaluate` (key `seed, "boot", replicate`; `scripts/gen_stats_fixtures.py` re-implements this
//! generator and `random_range` exactly, and `tests/it/evaluate.rs` checks the draws against it),
//! the synthetic corpus (`synth::truth`, one stream per dataset, patient and image) and the fuzz
//! tests. The crate has no other generator.

use rand::distr::uniform::SampleUniform;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng as _, RngExt, SeedableRng};
use sha2::{Digest, Sha256};

/// A seeded stream; see the module doc.
#[derive(Debug, Clone)]
pub struct Rng(Xoshiro256PlusPlus);

impl Rng {
    /// A stream keyed by several integers (seed, purpose, epoch, …).
    pub fn keyed(keys: &[u64]) -> Rng {
        let mut h = Sha256::new();
        for k in keys {
            h.update(k.to_le_bytes());
        }
        Rng(Xoshiro256PlusPlus::from_seed(h.finalize().into()))
    }

    /// The stream of one seed (`keyed(&[seed])`).
    pub fn new(seed: u64) -> Rng {
        Rng::keyed(&[seed])
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform integer in `0..n`; `n <= 0` gives 0.
    pub fn below<T: SampleUniform + PartialOrd + Default + Copy>(&mut self, n: T) -> T {
        if n > T::default() { self.0.random_range(T::default()..n) } else { T::default() }
    }

    /// Uniform in `[0, 1)` (53 random bits).
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Uniform in `[0, 1)` (24 random bits, rand's `f32` standard distribution).
    pub fn unit_f32(&mut self) -> f32 {
        self.0.random::<f32>()
    }

    /// Fisher–Yates shuffle (`rand::seq::SliceRandom`).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        rand::seq::SliceRandom::shuffle(v, &mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_keyed_reproducible_and_independent() {
        assert_eq!(Rng::keyed(&[1, 2]).next_u64(), Rng::keyed(&[1, 2]).next_u64());
        assert_ne!(Rng::keyed(&[1, 2]).next_u64(), Rng::keyed(&[1, 3]).next_u64());
        assert_ne!(Rng::keyed(&[1, 2]).next_u64(), Rng::keyed(&[2, 1]).next_u64());
        assert_eq!(Rng::new(5).next_u64(), Rng::keyed(&[5]).next_u64());
    }

    #[test]
    fn below_is_in_range_and_unbiased_enough() {
        let mut r = Rng::new(3);
        assert_eq!(r.below(0u64), 0);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[r.below(3usize)] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
        let u: Vec<f64> = (0..1000).map(|_| r.unit()).collect();
        assert!(u.iter().all(|x| (0.0..1.0).contains(x)));
    }
}
