//! The calibration part of every evaluation: per finding, the expected calibration error and
//! the Brier score with bootstrap intervals and the reliability bins ([`bins`]); with
//! `--recalibrate` ([`recalibrate`]) the same again after a temperature or Platt map fitted on
//! the validation predictions.
//!
//! Intervals come from the same seeded replicates as the AUROC intervals of the evaluation
//! (same seed, same resampling unit). After recalibration the fitted map is held fixed while
//! the test images are resampled, so those intervals show the test set's sampling error, not
//! the uncertainty of the fit.

pub mod bins;
pub mod recalibrate;

use serde::Serialize;

use super::bootstrap::Resampler;
use super::evaluation::{Analysis, StatOptions};
use super::metrics::Estimate;
use super::predictions::Predictions;
use bins::{Bin, Binned};
use recalibrate::{fit, Fitted};

/// Calibration of one finding on the test images.
#[derive(Debug, Clone, Serialize)]
pub struct FindingCalibration {
    pub finding: String,
    /// Images with a stated label (1 or 0), the only ones counted.
    pub n: usize,
    /// Expected calibration error over the bins, weighted by bin count.
    pub ece: Estimate,
    /// Mean squared difference between probability and label.
    pub brier: Estimate,
    pub bins: Vec<Bin>,
    /// The same after `--recalibrate`; `null` without it or when it could not be fitted (`note`).
    pub recalibrated: Option<Recalibrated>,
    pub note: Option<String>,
}

/// One finding's calibration after recalibration.
#[derive(Debug, Clone, Serialize)]
pub struct Recalibrated {
    /// The map fitted on the validation predictions.
    pub fitted: Fitted,
    pub ece: Estimate,
    pub brier: Estimate,
    pub bins: Vec<Bin>,
}

/// The calibration of every finding of `test` (already restricted to its split), with the
/// recalibration of `analysis` fitted on `val` when asked for.
pub fn calibrate(test: &Predictions, val: Option<&Predictions>, opts: &StatOptions, analysis: &Analysis) -> Vec<FindingCalibration> {
    let bins = analysis.calibration_bins;
    let mut fitted: Vec<Result<Option<Fitted>, String>> = Vec::new();
    let mut binned: Vec<(Binned, Option<Binned>)> = Vec::new();
    for (f, name) in test.findings.iter().enumerate() {
        let p: Vec<f64> = test.p[f].iter().map(|&v| f64::from(v)).collect();
        let fit = match (analysis.recalibrate, val) {
            (Some(method), Some(v)) => match v.findings.iter().position(|g| g == name) {
                None => Err("finding absent from the validation predictions: not recalibrated".to_string()),
                Some(g) => fit(method, &v.y[g], &v.p[g]).map(Some).map_err(|e| format!("not recalibrated: {e}")),
            },
            _ => Ok(None),
        };
        let after = fit.as_ref().ok().copied().flatten().map(|m| {
            let q: Vec<f64> = p.iter().map(|&v| m.apply(v)).collect();
            Binned::new(&test.y[f], &q, bins)
        });
        binned.push((Binned::new(&test.y[f], &p, bins), after));
        fitted.push(fit);
    }
    let resampler = Resampler::new(&test.patient_id, opts.resample, opts.seed);
    // Per replicate and finding: (ECE, Brier) before and after.
    type Scores = Option<(f64, f64)>;
    let reps: Vec<Vec<(Scores, Scores)>> = resampler.replicates(opts.bootstrap, |w| {
        let weight = |i: u32| u64::from(w[i as usize]);
        binned.iter().map(|(b, a)| (b.scores(weight), a.as_ref().and_then(|a| a.scores(weight)))).collect()
    });
    // One statistic (ECE or Brier) of finding `f`, before or after recalibration.
    let est = |point: Scores, f: usize, after: bool, brier: bool| {
        let part = |s: Scores| s.map(|s| if brier { s.1 } else { s.0 });
        let rep = |r: &(Scores, Scores)| if after { r.1 } else { r.0 };
        Estimate::from_replicates(part(point), reps.iter().map(|r| part(rep(&r[f]))), opts.level)
    };
    let mut out = Vec::new();
    for (f, ((before, after), fit)) in binned.iter().zip(fitted).enumerate() {
        let point = before.scores(|_| 1);
        let recalibrated = match (&fit, after) {
            (Ok(Some(m)), Some(a)) => {
                let pa = a.scores(|_| 1);
                Some(Recalibrated { fitted: *m, ece: est(pa, f, true, false), brier: est(pa, f, true, true), bins: a.bins() })
            }
            _ => None,
        };
        out.push(FindingCalibration {
            finding: test.findings[f].clone(),
            n: before.len(),
            ece: est(point, f, false, false),
            brier: est(point, f, false, true),
            bins: before.bins(),
            recalibrated,
            note: match (fit, before.is_empty()) {
                (_, true) => Some("no image with a stated label: no calibration".into()),
                (Err(why), false) => Some(why),
                _ => None,
            },
        });
    }
    out
}
