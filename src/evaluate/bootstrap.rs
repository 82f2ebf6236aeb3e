//! Seeded, machine-independent bootstrap resampling.
//!
//! A replicate is a vector of per-image *multiplicities* (`weights[i]` = how many times image `i`
//! was drawn), which every statistic in `metrics`/`threshold` consumes directly, so a paired
//! comparison simply hands the same weights to every model.
//!
//! Randomness: xoshiro256** seeded through SplitMix64 from `(seed, replicate)`, so replicate `r`
//! is the same on every machine, thread count and rayon schedule. Draws in `[0, n)` use
//! Lemire's unbiased multiply-and-reject method.
//!
//! Units: with [`Resample::Images`] the `n` images are drawn `n` times with replacement (the
//! study's `np.random.choice(len(test), len(test))`); with [`Resample::Patients`] the `m`
//! distinct patients are drawn `m` times and each draw adds one to every image of that patient,
//! which keeps a patient's correlated images together.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

/// SplitMix64 step (Steele, Lea & Flood 2014): used only to expand seeds.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** 1.0 (Blackman & Vigna 2018).
#[derive(Debug, Clone)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// Generator for `stream` (e.g. a replicate number) under `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut seed_state = seed;
        let mut sm = splitmix64(&mut seed_state) ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Xoshiro256 { s }
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform integer in `[0, n)`, `n > 0` (Lemire 2019, unbiased).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }
}

/// What one bootstrap draw picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    /// Images, independently (the study's scheme).
    Images,
    /// Patients, with all their images (accounts for within-patient correlation).
    Patients,
}

/// Turns `(seed, replicate)` into per-image multiplicities.
#[derive(Debug, Clone)]
pub struct Resampler {
    n_images: usize,
    /// Images of each unit; `None` when every image is its own unit.
    units: Option<Vec<Vec<u32>>>,
    seed: u64,
}

impl Resampler {
    /// Resampler over images whose patients are `patient_id` (one entry per image).
    pub fn new(patient_id: &[String], mode: Resample, seed: u64) -> Self {
        let units = match mode {
            Resample::Images => None,
            Resample::Patients => {
                let mut index: HashMap<&str, usize> = HashMap::new();
                let mut units: Vec<Vec<u32>> = Vec::new();
                for (i, p) in patient_id.iter().enumerate() {
                    let k = *index.entry(p.as_str()).or_insert_with(|| {
                        units.push(Vec::new());
                        units.len() - 1
                    });
                    units[k].push(i as u32);
                }
                Some(units)
            }
        };
        Resampler { n_images: patient_id.len(), units, seed }
    }

    /// Number of resampling units (images or distinct patients).
    pub fn n_units(&self) -> usize {
        self.units.as_ref().map_or(self.n_images, Vec::len)
    }

    pub fn n_images(&self) -> usize {
        self.n_images
    }

    /// Fills `weights` (length `n_images`) with the multiplicities of replicate `r`.
    pub fn weights(&self, r: u64, weights: &mut [u32]) {
        debug_assert_eq!(weights.len(), self.n_images);
        weights.fill(0);
        let mut rng = Xoshiro256::new(self.seed, r);
        match &self.units {
            None => {
                let n = self.n_images as u64;
                for _ in 0..n {
                    weights[rng.below(n) as usize] += 1;
                }
            }
            Some(units) => {
                let m = units.len() as u64;
                for _ in 0..m {
                    for &i in &units[rng.below(m) as usize] {
                        weights[i as usize] += 1;
                    }
                }
            }
        }
    }

    /// Runs `stat` on replicates `0..n` in parallel; the result is in replicate order and does
    /// not depend on the thread count.
    pub fn replicates<T: Send>(&self, n: usize, stat: impl Fn(&[u32]) -> T + Sync) -> Vec<T> {
        (0..n as u64)
            .into_par_iter()
            .map_init(
                || vec![0u32; self.n_images],
                |w, r| {
                    self.weights(r, w);
                    stat(w)
                },
            )
            .collect()
    }
}

/// A percentile confidence interval and how many bootstrap replicates it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ci {
    pub lo: f64,
    pub hi: f64,
    /// Replicates in which the statistic was defined (the others were skipped).
    pub replicates: usize,
}

/// `q`-quantile (`0 ≤ q ≤ 1`) of ascending `sorted` with linear interpolation between order
/// statistics — numpy's default `percentile(method="linear")`. `None` when empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Percentile interval at `level` (e.g. 0.95 → 2.5th and 97.5th percentiles) over the defined
/// replicate values; `None` when no replicate was defined. Non-finite values are skipped.
pub fn percentile_ci(values: impl IntoIterator<Item = Option<f64>>, level: f64) -> Option<Ci> {
    let mut v: Vec<f64> = values.into_iter().flatten().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let a = (1.0 - level) / 2.0;
    Some(Ci { lo: quantile_sorted(&v, a)?, hi: quantile_sorted(&v, 1.0 - a)?, replicates: v.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_reference_stream() {
        // xoshiro256** reference: state {1, 2, 3, 4} gives 11520, 0, 1509978240, 1215971899390074240.
        let mut g = Xoshiro256 { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..4).map(|_| g.next_u64()).collect();
        assert_eq!(got, vec![11520, 0, 1509978240, 1215971899390074240]);
    }

    #[test]
    fn below_stays_in_range() {
        let mut g = Xoshiro256::new(7, 0);
        for n in [1u64, 2, 3, 10, 1000] {
            for _ in 0..1000 {
                assert!(g.below(n) < n);
            }
        }
    }

    #[test]
    fn quantile_matches_numpy_linear() {
        // numpy.percentile([1, 2, 4, 8], [2.5, 50, 97.5]) == [1.075, 3.0, 7.7]
        let v = [1.0, 2.0, 4.0, 8.0];
        assert!((quantile_sorted(&v, 0.025).unwrap() - 1.075).abs() < 1e-12);
        assert!((quantile_sorted(&v, 0.5).unwrap() - 3.0).abs() < 1e-12);
        assert!((quantile_sorted(&v, 0.975).unwrap() - 7.7).abs() < 1e-12);
    }
}
