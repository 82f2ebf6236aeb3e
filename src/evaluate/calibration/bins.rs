//! Calibration of one finding's probabilities: the reliability bins, the expected calibration
//! error and the Brier score, under bootstrap weights.
//!
//! - Bins: `bins` equal-width bins over [0, 1] with the edges `k / bins` computed as numpy's
//!   `linspace(0, 1, bins + 1)` computes them; a score goes to the bin whose upper edge is the
//!   first edge ≥ the score (`numpy.searchsorted(edges[1:-1], p)`, left side), i.e. bin `k`
//!   holds `edge_k < p ≤ edge_{k+1}` and the first bin also `p = 0`. This is
//!   `sklearn.calibration.calibration_curve(strategy="uniform")`'s binning.
//! - Expected calibration error (Naeini et al. 2015; Guo et al., "On Calibration of Modern
//!   Neural Networks", ICML 2017, eq. 3, for the probability of the positive class):
//!   `ECE = Σ_k (n_k / N) · |mean_p_k − frac_pos_k|`, the gap of each bin weighted by its share
//!   of the images.
//! - Brier score (Brier 1950): `mean((p − y)²)`, as `sklearn.metrics.brier_score_loss`.
//!
//! Only images whose label is stated (1 or 0) count, as for the AUROC. With bootstrap weights
//! an image counts as often as it was drawn, so the statistics of a replicate equal those of
//! the resampled data set.

use serde::Serialize;

/// One reliability bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    /// Lower edge (exclusive, except 0 for the first bin).
    pub lo: f64,
    /// Upper edge (inclusive).
    pub hi: f64,
    /// Images in the bin.
    pub n: usize,
    /// Mean predicted probability of the bin (`null` when empty).
    pub mean_p: Option<f64>,
    /// Fraction of positives in the bin (`null` when empty).
    pub frac_pos: Option<f64>,
}

/// The stated images of one finding with their bins, for repeated weighted statistics.
#[derive(Debug, Clone)]
pub struct Binned {
    /// Image index (into the image list the weights refer to) of each stated image.
    images: Vec<u32>,
    positive: Vec<bool>,
    p: Vec<f64>,
    bin: Vec<u32>,
    edges: Vec<f64>,
}

/// The edges `0, 1/bins, …, 1` as `numpy.linspace(0, 1, bins + 1)` computes them
/// (`i · (1 / bins)`, the last set to 1).
pub fn edges(bins: usize) -> Vec<f64> {
    let bins = bins.max(1);
    let step = 1.0 / bins as f64;
    let mut e: Vec<f64> = (0..=bins).map(|i| i as f64 * step).collect();
    e[bins] = 1.0;
    e
}

impl Binned {
    /// From per-image labels `y` (only 1 and 0 count) and probabilities `p`, `bins` bins
    /// (at least 1).
    pub fn new(y: &[Option<i8>], p: &[f64], bins: usize) -> Self {
        let edges = edges(bins);
        let inner = &edges[1..edges.len() - 1];
        let (mut images, mut positive, mut probs, mut bin) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (&l, &s)) in y.iter().zip(p).enumerate() {
            if !matches!(l, Some(0) | Some(1)) {
                continue;
            }
            images.push(i as u32);
            positive.push(l == Some(1));
            probs.push(s);
            bin.push(inner.partition_point(|&e| e < s) as u32);
        }
        Binned { images, positive, p: probs, bin, edges }
    }

    /// Number of stated images.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Per bin: weighted count, sum of p and number of positives.
    fn sums(&self, weight: &impl Fn(u32) -> u64) -> Vec<(u64, f64, u64)> {
        let mut s = vec![(0u64, 0.0f64, 0u64); self.edges.len() - 1];
        for k in 0..self.images.len() {
            let w = weight(self.images[k]);
            if w == 0 {
                continue;
            }
            let b = &mut s[self.bin[k] as usize];
            b.0 += w;
            b.1 += w as f64 * self.p[k];
            b.2 += w * u64::from(self.positive[k]);
        }
        s
    }

    /// The reliability bins with every image counted once.
    pub fn bins(&self) -> Vec<Bin> {
        self.sums(&|_| 1)
            .iter()
            .enumerate()
            .map(|(k, &(n, sp, pos))| Bin {
                lo: self.edges[k],
                hi: self.edges[k + 1],
                n: n as usize,
                mean_p: (n > 0).then(|| sp / n as f64),
                frac_pos: (n > 0).then(|| pos as f64 / n as f64),
            })
            .collect()
    }

    /// `(ECE, Brier)` with image `i` counted `weight(i)` times; `None` without a stated image.
    pub fn scores(&self, weight: impl Fn(u32) -> u64) -> Option<(f64, f64)> {
        let sums = self.sums(&weight);
        let total: u64 = sums.iter().map(|b| b.0).sum();
        if total == 0 {
            return None;
        }
        let ece = sums.iter().map(|&(_, sp, pos)| (sp - pos as f64).abs()).sum::<f64>() / total as f64;
        let mut sq = 0.0;
        for k in 0..self.images.len() {
            let w = weight(self.images[k]);
            let d = self.p[k] - f64::from(u8::from(self.positive[k]));
            sq += w as f64 * d * d;
        }
        Some((ece, sq / total as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_and_binning_follow_numpy() {
        // numpy.linspace(0, 1, 11)[3] == 0.30000000000000004 (3 * 0.1), not 0.3.
        let e = edges(10);
        assert_eq!(e[3], 3.0 * 0.1);
        assert_eq!(e[10], 1.0);
        // searchsorted(left): 0.5 is in (0.4, 0.5], 0 in the first bin, 1 in the last.
        let y = [Some(1), Some(0), Some(1), Some(-1)];
        let b = Binned::new(&y, &[0.5, 0.0, 1.0, 0.7], 10);
        assert_eq!(b.bin, vec![4, 0, 9]);
        assert_eq!(b.len(), 3);
        // One bin: ECE = |mean p − frac pos|.
        let one = Binned::new(&y, &[0.5, 0.0, 1.0, 0.7], 1);
        let (ece, brier) = one.scores(|_| 1).unwrap();
        assert!((ece - (2.0 / 3.0 - 0.5)).abs() < 1e-15);
        assert!((brier - 0.25 / 3.0).abs() < 1e-15);
        // Weights equal duplication.
        let (e2, b2) = b.scores(|i| [2, 1, 3, 0][i as usize]).unwrap();
        let dup = Binned::new(&[Some(1), Some(1), Some(0), Some(1), Some(1), Some(1)], &[0.5, 0.5, 0.0, 1.0, 1.0, 1.0], 10);
        let (e3, b3) = dup.scores(|_| 1).unwrap();
        assert!((e2 - e3).abs() < 1e-15 && (b2 - b3).abs() < 1e-15);
        assert_eq!(b.scores(|_| 0), None);
    }
}
