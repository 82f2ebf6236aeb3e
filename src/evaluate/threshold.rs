//! Operating point: Youden's J threshold and the confusion-matrix metrics at a fixed threshold.
//!
//! The study chose the threshold on the same (bootstrapped) test set it was applied to, which
//! flatters sensitivity and specificity. Here the threshold is chosen once, on validation
//! predictions when given, and then held fixed while the test metrics are bootstrapped; the
//! report states which set it came from.
//!
//! Convention (as `sklearn.metrics.roc_curve`): an image is predicted positive when its score
//! is `≥ threshold`; candidate thresholds are the distinct scores plus +∞ (everything negative);
//! Youden's J = TPR − FPR, and among equal J the highest threshold wins (`np.argmax` takes the
//! first of the descending thresholds).

use std::collections::BTreeMap;

use serde::Serialize;

use super::metrics::ScoredFinding;
use super::predictions::Predictions;

/// Where a threshold was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdSource {
    /// On the validation predictions (honest).
    Validation,
    /// On the test predictions themselves (optimistic; no validation predictions were given).
    Test,
    /// Given by the user (`--threshold`).
    Given,
}

/// Thresholds given by the user (`--threshold 0.5` for every finding, `--threshold
/// Effusion=0.3,Nodule=0.2` per finding, or both: the named ones override).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GivenThresholds {
    /// For every finding not named.
    pub all: Option<f64>,
    pub per_finding: BTreeMap<String, f64>,
}

impl GivenThresholds {
    /// Parses `T` and `FINDING=T` items.
    pub fn parse(items: &[String]) -> Result<GivenThresholds, String> {
        let mut g = GivenThresholds::default();
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (name, value) = match item.rsplit_once('=') {
                Some((n, v)) => (Some(n.trim()), v),
                None => (None, item),
            };
            let t: f64 = value.trim().parse().ok().filter(|t: &f64| t.is_finite()).ok_or_else(|| format!("threshold `{item}`: expected T or FINDING=T with a number T"))?;
            match name {
                Some(n) => {
                    g.per_finding.insert(n.to_string(), t);
                }
                None => g.all = Some(t),
            }
        }
        Ok(g)
    }

    /// The threshold given for `finding`.
    pub fn get(&self, finding: &str) -> Option<f64> {
        self.per_finding.get(finding).copied().or(self.all)
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.per_finding.is_empty()
    }
}

/// One finding's operating threshold: where it came from and the threshold (`Ok(None)` = +∞),
/// or why there is none.
pub type Choice = (ThresholdSource, Result<Option<f64>, String>);

/// The threshold of every finding of `test` (`scored[f]` = finding `f`): the given one, else
/// Youden's J on `val` (matched by finding name) when validation predictions are given, else
/// Youden's J on test.
pub fn choose(test: &Predictions, scored: &[ScoredFinding], val: Option<&Predictions>, given: &GivenThresholds) -> Vec<Choice> {
    let on = |s: &ScoredFinding, set: &str| youden(s).map(|y| y.threshold).ok_or_else(|| format!("single class on {set}: no threshold"));
    test.findings
        .iter()
        .enumerate()
        .map(|(f, name)| match (given.get(name), val) {
            (Some(t), _) => (ThresholdSource::Given, Ok(Some(t))),
            (None, None) => (ThresholdSource::Test, on(&scored[f], "test")),
            (None, Some(v)) => (
                ThresholdSource::Validation,
                match v.findings.iter().position(|g| g == name) {
                    None => Err("finding absent from the validation predictions: no threshold".to_string()),
                    Some(g) => on(&ScoredFinding::new(&v.y[g], &v.p[g]), "validation"),
                },
            ),
        })
        .collect()
}

/// Youden's J optimum on one finding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Youden {
    /// Score threshold (predict positive when `score ≥ threshold`); `None` is +∞, i.e. no
    /// threshold beat predicting every image negative.
    pub threshold: Option<f64>,
    /// J = TPR − FPR at the threshold, on the set it was chosen on.
    pub j: f64,
    pub tpr: f64,
    pub fpr: f64,
}

/// Youden's J optimum of a finding; `None` with a single class.
pub fn youden(f: &ScoredFinding) -> Option<Youden> {
    let (p, n) = f.counts();
    if p == 0 || n == 0 {
        return None;
    }
    let items: Vec<(u32, bool, f32)> = f.items().collect();
    let mut best = Youden { threshold: None, j: 0.0, tpr: 0.0, fpr: 0.0 };
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut k = items.len();
    // Walk distinct scores from the highest down; each step lowers the threshold to that score.
    while k > 0 {
        let s = items[k - 1].2;
        while k > 0 && items[k - 1].2 == s {
            if items[k - 1].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            k -= 1;
        }
        let (tpr, fpr) = (tp as f64 / p as f64, fp as f64 / n as f64);
        let j = tpr - fpr;
        if j > best.j {
            best = Youden { threshold: Some(s as f64), j, tpr, fpr };
        }
    }
    Some(best)
}

/// Weighted confusion counts of a finding at `threshold` (`None` = +∞).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    pub tp: u64,
    pub fn_: u64,
    pub tn: u64,
    pub fp: u64,
}

impl Confusion {
    /// Counts over stated images, image `i` counted `weight(i)` times.
    pub fn at(f: &ScoredFinding, threshold: Option<f64>, weight: impl Fn(u32) -> u64) -> Confusion {
        let mut c = Confusion::default();
        for (i, pos, s) in f.items() {
            let m = weight(i);
            let pred = threshold.is_some_and(|t| s as f64 >= t);
            match (pos, pred) {
                (true, true) => c.tp += m,
                (true, false) => c.fn_ += m,
                (false, false) => c.tn += m,
                (false, true) => c.fp += m,
            }
        }
        c
    }

    fn ratio(num: u64, den: u64) -> Option<f64> {
        (den > 0).then(|| num as f64 / den as f64)
    }

    /// TP / (TP + FN); undefined without positives.
    pub fn sensitivity(&self) -> Option<f64> {
        Self::ratio(self.tp, self.tp + self.fn_)
    }

    /// TN / (TN + FP); undefined without negatives.
    pub fn specificity(&self) -> Option<f64> {
        Self::ratio(self.tn, self.tn + self.fp)
    }

    /// (TP + TN) / all.
    pub fn accuracy(&self) -> Option<f64> {
        Self::ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }

    /// 2·TP / (2·TP + FP + FN); undefined when there is neither a positive nor a positive call.
    pub fn f1(&self) -> Option<f64> {
        Self::ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// FP / (FP + TN) = 1 − specificity; undefined without negatives.
    pub fn fpr(&self) -> Option<f64> {
        Self::ratio(self.fp, self.fp + self.tn)
    }

    /// FN / (FN + TP) = 1 − sensitivity; undefined without positives.
    pub fn fnr(&self) -> Option<f64> {
        Self::ratio(self.fn_, self.fn_ + self.tp)
    }

    /// The error rates of the subgroup analysis: TPR (sensitivity), FPR, FNR.
    pub fn rates(&self) -> [Option<f64>; 3] {
        [self.sensitivity(), self.fpr(), self.fnr()]
    }

    /// The four metrics in report order: sensitivity, specificity, accuracy, F1.
    pub fn metrics(&self) -> [Option<f64>; 4] {
        [self.sensitivity(), self.specificity(), self.accuracy(), self.f1()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn youden_small_case() {
        // sklearn roc_curve([0,0,1,1],[0.1,0.4,0.35,0.8]): thresholds inf,.8,.4,.35,.1;
        // tpr-fpr = 0, .5, 0, .5, 0 -> first max at 0.8.
        let y = [Some(0), Some(0), Some(1), Some(1)];
        let p = [0.1f32, 0.4, 0.35, 0.8];
        let f = ScoredFinding::new(&y, &p);
        let yj = youden(&f).unwrap();
        assert_eq!(yj.threshold, Some(0.8f32 as f64));
        assert_eq!(yj.j, 0.5);
        let c = Confusion::at(&f, yj.threshold, |_| 1);
        assert_eq!(c, Confusion { tp: 1, fn_: 1, tn: 2, fp: 0 });
        assert_eq!(c.metrics(), [Some(0.5), Some(1.0), Some(0.75), Some(2.0 / 3.0)]);
    }

    #[test]
    fn inverted_scores_keep_infinite_threshold() {
        let y = [Some(1), Some(0)];
        let p = [0.1f32, 0.9];
        let yj = youden(&ScoredFinding::new(&y, &p)).unwrap();
        assert_eq!(yj.threshold, None);
        assert_eq!(yj.j, 0.0);
    }
}
