//! Per-finding AUROC under bootstrap weights, and ROC curve points.
//!
//! A [`ScoredFinding`] holds, for one finding of one model, the images whose label is stated
//! (1 or 0; uncertain −1 and unstated labels are left out) sorted once by score, with the tie
//! groups marked. The AUROC of any bootstrap replicate is then one O(n) scan with integer
//! multiplicities: `Σ_groups pos_g · (2·neg_below + neg_g) / (2·P·N)` — the Mann–Whitney
//! statistic with ties counted half, computed in exact integers and divided once, so the value
//! equals the AUROC of the resampled data set (`sklearn.metrics.roc_auc_score`) to rounding.
//! A replicate with no positive or no negative has no AUROC (`None`), never 0.5.

use serde::Serialize;

use super::bootstrap::{percentile_ci, Ci};

/// A point estimate with its bootstrap interval; `value: None` means undefined (e.g. one class).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub value: Option<f64>,
    pub ci: Option<Ci>,
}

impl Estimate {
    /// `value` with the percentile interval at `level` of the replicate values (none when the
    /// value itself is undefined).
    pub fn from_replicates(value: Option<f64>, replicates: impl IntoIterator<Item = Option<f64>>, level: f64) -> Estimate {
        Estimate { value, ci: value.and_then(|_| percentile_ci(replicates, level)) }
    }

    /// Undefined, without an interval.
    pub const UNDEFINED: Estimate = Estimate { value: None, ci: None };
}

/// One finding of one model, sorted by score for repeated weighted AUROC scans.
#[derive(Debug, Clone)]
pub struct ScoredFinding {
    /// Image indices (into the image list the weights refer to), ascending by score.
    images: Vec<u32>,
    /// Label of `images[k]`.
    positive: Vec<bool>,
    /// Start offsets of groups of equal scores in `images`, plus `images.len()` at the end.
    group_bounds: Vec<u32>,
    /// Score of `images[k]`.
    scores: Vec<f32>,
}

impl ScoredFinding {
    /// From per-image stated labels `y` (1, 0, −1 or None) and scores `p`, both indexed by
    /// image. Scores must be finite (`evaluation::select_split` checks; a NaN would rank last).
    pub fn new(y: &[Option<i8>], p: &[f32]) -> Self {
        let mut idx: Vec<u32> =
            (0..y.len() as u32).filter(|&i| matches!(y[i as usize], Some(0) | Some(1))).collect();
        idx.sort_by(|&a, &b| p[a as usize].total_cmp(&p[b as usize]).then(a.cmp(&b)));
        let positive: Vec<bool> = idx.iter().map(|&i| y[i as usize] == Some(1)).collect();
        let scores: Vec<f32> = idx.iter().map(|&i| p[i as usize]).collect();
        let mut group_bounds = Vec::new();
        for k in 0..scores.len() {
            // `==` (not total_cmp) so that -0.0 and 0.0 tie, as in sklearn.
            if k == 0 || scores[k] != scores[k - 1] {
                group_bounds.push(k as u32);
            }
        }
        group_bounds.push(scores.len() as u32);
        ScoredFinding { images: idx, positive, group_bounds, scores }
    }

    /// Numbers of positive and negative images (each image once).
    pub fn counts(&self) -> (usize, usize) {
        let pos = self.positive.iter().filter(|&&b| b).count();
        (pos, self.positive.len() - pos)
    }

    /// AUROC with every image counted once.
    pub fn auroc(&self) -> Option<f64> {
        self.scan(|_| 1)
    }

    /// AUROC of the replicate in which image `i` appears `weights[i]` times.
    pub fn auroc_weighted(&self, weights: &[u32]) -> Option<f64> {
        self.scan(|i| weights[i as usize] as u64)
    }

    fn scan(&self, w: impl Fn(u32) -> u64) -> Option<f64> {
        let (mut total_pos, mut neg_below, mut num2) = (0u64, 0u64, 0u128);
        for g in self.group_bounds.windows(2) {
            let (mut pos_g, mut neg_g) = (0u64, 0u64);
            for k in g[0] as usize..g[1] as usize {
                let m = w(self.images[k]);
                if self.positive[k] {
                    pos_g += m;
                } else {
                    neg_g += m;
                }
            }
            num2 += pos_g as u128 * (2 * neg_below + neg_g) as u128;
            total_pos += pos_g;
            neg_below += neg_g;
        }
        if total_pos == 0 || neg_below == 0 {
            return None;
        }
        Some(num2 as f64 / (2 * total_pos as u128 * neg_below as u128) as f64)
    }

    /// ROC curve as `(fpr, tpr)` points from `(0, 0)` to `(1, 1)`, one point per distinct score
    /// (threshold "score ≥ t", highest t first); `None` with a single class.
    pub fn roc_curve(&self) -> Option<Vec<(f64, f64)>> {
        let (p, n) = self.counts();
        if p == 0 || n == 0 {
            return None;
        }
        let mut pts = vec![(0.0, 0.0)];
        let (mut tp, mut fp) = (0usize, 0usize);
        for g in self.group_bounds.windows(2).rev() {
            for k in g[0] as usize..g[1] as usize {
                if self.positive[k] {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            pts.push((fp as f64 / n as f64, tp as f64 / p as f64));
        }
        Some(pts)
    }

    /// Stated images with label and score, ascending by score (for thresholds).
    pub fn items(&self) -> impl Iterator<Item = (u32, bool, f32)> + '_ {
        (0..self.images.len()).map(|k| (self.images[k], self.positive[k], self.scores[k]))
    }
}

/// Mean of the defined values, or `None` when `values` has an undefined entry or is empty
/// (a macro mean over a fixed set of findings must not silently shrink the set).
pub fn mean_all(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values {
        sum += v?;
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auroc::auroc_stated;

    #[test]
    fn matches_rank_auroc_and_weights_equal_duplication() {
        let y = [Some(1), Some(0), Some(-1), None, Some(1), Some(0), Some(0), Some(1)];
        let p = [0.9, 0.2, 0.5, 0.1, 0.4, 0.4, 0.7, 0.4];
        let f = ScoredFinding::new(&y, &p);
        assert_eq!(f.counts(), (3, 3));
        let a = f.auroc().unwrap();
        assert!((a - auroc_stated(&y, &p).0.unwrap()).abs() < 1e-15);
        // Weights (2, 1, 0, 5, 1, 3, 0, 2) = the data set with those duplicates.
        let w = [2u32, 1, 0, 5, 1, 3, 0, 2];
        let (mut yy, mut pp) = (Vec::new(), Vec::new());
        for i in 0..y.len() {
            for _ in 0..w[i] {
                yy.push(y[i]);
                pp.push(p[i]);
            }
        }
        let dup = auroc_stated(&yy, &pp).0.unwrap();
        assert!((f.auroc_weighted(&w).unwrap() - dup).abs() < 1e-15);
        // Dropping every negative leaves one class: undefined.
        assert_eq!(f.auroc_weighted(&[1, 0, 1, 1, 1, 0, 0, 1]), None);
    }

    #[test]
    fn mean_all_needs_every_value() {
        assert_eq!(mean_all([Some(1.0), Some(0.5)]), Some(0.75));
        assert_eq!(mean_all([Some(1.0), None]), None);
        assert_eq!(mean_all(std::iter::empty()), None);
    }
}
