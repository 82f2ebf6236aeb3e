//! Seeded, machine-independent bootstrap resampling.
//!
//! A replicate is a vector of per-image *multiplicities* (`weights[i]` = how many times image `i`
//! was drawn), which every statistic in `metrics`/`threshold` consumes directly, so a paired
//! comparison simply hands the same weights to every model.
//!
//! Randomness: the crate's seeded generator ([`crate::rng::Rng`], rand's Xoshiro256++ keyed
//! through SHA-256) with the key `(seed, BOOTSTRAP_STREAM, replicate)`, so replicate `r` is the
//! same on every machine, thread count and rayon schedule. Draws in `[0, n)` are rand's
//! `random_range` (Canon's widening-multiply method). `scripts/gen_stats_fixtures.py`
//! re-implements this stream exactly, and `tests/it/evaluate.rs` checks both the raw draws and
//! the statistics computed from them against it.
//!
//! Units: with [`Resample::Images`] the `n` images are drawn `n` times with replacement (the
//! study's `np.random.choice(len(test), len(test))`); with [`Resample::Patients`] the `m`
//! distinct patients are drawn `m` times and each draw adds one to every image of that patient,
//! which keeps a patient's correlated images together.

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::rng::Rng;

/// Purpose key of the bootstrap streams in [`Rng::keyed`] (`seed, BOOTSTRAP_STREAM, replicate`):
/// the ASCII bytes of "boot", so the streams differ from every other stream keyed by the same seed.
pub const BOOTSTRAP_STREAM: u64 = 0x626F_6F74;

/// The generator of replicate `r` under `seed`.
pub fn replicate_rng(seed: u64, r: u64) -> Rng {
    Rng::keyed(&[seed, BOOTSTRAP_STREAM, r])
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
    units: Units,
    seed: u64,
    /// Keys appended to `(seed, BOOTSTRAP_STREAM, replicate)` (empty for the whole test set).
    stream: Vec<u64>,
}

/// What one draw of a [`Resampler`] picks.
#[derive(Debug, Clone)]
enum Units {
    /// One image: these rows (`None`: every row `0..n_images`).
    Images(Option<Vec<u32>>),
    /// One patient: the rows of each patient.
    Patients(Vec<Vec<u32>>),
}

impl Resampler {
    /// Resampler over images whose patients are `patient_id` (one entry per image).
    pub fn new(patient_id: &[String], mode: Resample, seed: u64) -> Self {
        Self::over(patient_id, None, mode, seed, Vec::new())
    }

    /// Resampler over the rows `rows` only (all rows for `None`) of images whose patients are
    /// `patient_id`, drawing from the stream `(seed, BOOTSTRAP_STREAM, replicate, stream…)`.
    /// Its weights are still indexed by row of the whole set.
    pub fn over(patient_id: &[String], rows: Option<&[u32]>, mode: Resample, seed: u64, stream: Vec<u64>) -> Self {
        let units = match mode {
            Resample::Images => Units::Images(rows.map(<[u32]>::to_vec)),
            Resample::Patients => {
                let mut index: HashMap<&str, usize> = HashMap::new();
                let mut units: Vec<Vec<u32>> = Vec::new();
                let all: Vec<u32>;
                let rows = match rows {
                    Some(r) => r,
                    None => {
                        all = (0..patient_id.len() as u32).collect();
                        &all
                    }
                };
                for &i in rows {
                    let k = *index.entry(patient_id[i as usize].as_str()).or_insert_with(|| {
                        units.push(Vec::new());
                        units.len() - 1
                    });
                    units[k].push(i);
                }
                Units::Patients(units)
            }
        };
        Resampler { n_images: patient_id.len(), units, seed, stream }
    }

    /// Number of resampling units (images or distinct patients).
    pub fn n_units(&self) -> usize {
        match &self.units {
            Units::Images(None) => self.n_images,
            Units::Images(Some(rows)) => rows.len(),
            Units::Patients(units) => units.len(),
        }
    }

    pub fn n_images(&self) -> usize {
        self.n_images
    }

    /// Fills `weights` (length `n_images`) with the multiplicities of replicate `r`.
    pub fn weights(&self, r: u64, weights: &mut [u32]) {
        debug_assert_eq!(weights.len(), self.n_images);
        weights.fill(0);
        self.add_weights(r, weights);
    }

    /// Adds the multiplicities of replicate `r` to `weights`: as many draws as units, each
    /// uniform over the units.
    fn add_weights(&self, r: u64, weights: &mut [u32]) {
        let mut key = vec![self.seed, BOOTSTRAP_STREAM, r];
        key.extend(&self.stream);
        let mut rng = Rng::keyed(&key);
        match &self.units {
            Units::Images(None) => {
                let n = self.n_images;
                for _ in 0..n {
                    weights[rng.below(n)] += 1;
                }
            }
            Units::Images(Some(rows)) => {
                let n = rows.len();
                for _ in 0..n {
                    weights[rows[rng.below(n)] as usize] += 1;
                }
            }
            Units::Patients(units) => {
                let m = units.len();
                for _ in 0..m {
                    for &i in &units[rng.below(m)] {
                        weights[i as usize] += 1;
                    }
                }
            }
        }
    }

    /// Runs `stat` on replicates `0..n` in parallel; the result is in replicate order and does
    /// not depend on the thread count.
    pub fn replicates<T: Send>(&self, n: usize, stat: impl Fn(&[u32]) -> T + Sync) -> Vec<T> {
        parallel_replicates(self.n_images, n, |r, w| self.weights(r, w), stat)
    }
}

/// Purpose key of the per-stratum streams of a [`Stratified`] resampler: the ASCII bytes of
/// "strata".
pub const STRATUM_STREAM: u64 = 0x7374_7261_7461;

/// The stream key of stratum `name` (e.g. `sex=F`): the first 8 bytes of its SHA-256, read
/// little-endian, so a stratum's draws do not depend on which other strata exist.
pub fn stratum_key(name: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(name.as_bytes());
    u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
}

/// A stratified bootstrap: every stratum (e.g. the images of one subgroup) is resampled
/// within itself, from its own stream `(seed, BOOTSTRAP_STREAM, replicate, STRATUM_STREAM,
/// stratum_key(name))`, so each stratum keeps its size in every replicate and a subgroup's
/// interval comes from resampling that subgroup only.
#[derive(Debug, Clone)]
pub struct Stratified {
    n_images: usize,
    strata: Vec<Resampler>,
}

impl Stratified {
    /// Strata named `names`, stratum `stratum[i]` holding image `i` (whose patient is
    /// `patient_id[i]`).
    pub fn new(patient_id: &[String], stratum: &[usize], names: &[String], mode: Resample, seed: u64) -> Self {
        let strata = names
            .iter()
            .enumerate()
            .map(|(s, name)| {
                let rows: Vec<u32> = (0..stratum.len() as u32).filter(|&i| stratum[i as usize] == s).collect();
                Resampler::over(patient_id, Some(&rows), mode, seed, vec![STRATUM_STREAM, stratum_key(name)])
            })
            .collect();
        Stratified { n_images: patient_id.len(), strata }
    }

    /// Fills `weights` with the multiplicities of replicate `r` (every stratum resampled).
    pub fn weights(&self, r: u64, weights: &mut [u32]) {
        weights.fill(0);
        for s in &self.strata {
            s.add_weights(r, weights);
        }
    }

    /// Runs `stat` on replicates `0..n` in parallel, in replicate order.
    pub fn replicates<T: Send>(&self, n: usize, stat: impl Fn(&[u32]) -> T + Sync) -> Vec<T> {
        parallel_replicates(self.n_images, n, |r, w| self.weights(r, w), stat)
    }
}

/// `stat` of replicates `0..n`, each drawn into a reused buffer by `fill`, in replicate order.
fn parallel_replicates<T: Send>(
    n_images: usize,
    n: usize,
    fill: impl Fn(u64, &mut [u32]) + Sync,
    stat: impl Fn(&[u32]) -> T + Sync,
) -> Vec<T> {
    (0..n as u64)
        .into_par_iter()
        .map_init(
            || vec![0u32; n_images],
            |w, r| {
                fill(r, w);
                stat(w)
            },
        )
        .collect()
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
    fn replicates_are_keyed_by_seed_and_replicate() {
        let ids: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        let rs = Resampler::new(&ids, Resample::Images, 7);
        let (mut a, mut b) = (vec![0u32; 30], vec![0u32; 30]);
        rs.weights(3, &mut a);
        rs.weights(3, &mut b);
        assert_eq!(a, b);
        assert_eq!(a.iter().sum::<u32>(), 30);
        rs.weights(4, &mut b);
        assert_ne!(a, b);
        Resampler::new(&ids, Resample::Images, 8).weights(3, &mut b);
        assert_ne!(a, b);
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
