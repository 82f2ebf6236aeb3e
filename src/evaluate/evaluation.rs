//! `evaluate`: per-finding AUROC with bootstrap CIs, the macro mean, the operating point,
//! calibration and (with `--by`) the subgroup analysis, from a predictions file (any model's).
//!
//! - AUROC per finding over images with a stated label (1/0); a single-class finding is reported
//!   as undefined, never 0.5, and is left out of the macro mean (listed in `undefined`).
//! - Bootstrap: `bootstrap` seeded replicates of images or patients (see `bootstrap.rs`),
//!   percentile CIs at `level`. A replicate where a finding has one class is skipped for that
//!   finding (its CI says how many replicates it used); the macro mean of a replicate is taken
//!   over the same findings as the point estimate, and the replicate is skipped for the macro
//!   when one of them is undefined in it.
//! - Operating point: a threshold given with `--threshold`, else Youden's J chosen on the
//!   validation predictions when given (matched by finding name), else on test — and then
//!   reported as such.
//! - Calibration ([`super::calibration`]) on the same replicates; subgroups
//!   ([`super::subgroups`]) at the same operating points.

use std::collections::HashSet;

use serde::Serialize;

use super::attributes::Attribute;
use super::bootstrap::{Resample, Resampler};
use super::calibration::{calibrate, FindingCalibration};
use super::calibration::recalibrate::Recalibration;
use super::metrics::{mean_all, Estimate, ScoredFinding};
use super::predictions::Predictions;
use super::subgroups::{analyse, SubgroupResult};
use super::threshold::{choose, Confusion, GivenThresholds, ThresholdSource};

/// Errors of `evaluate` and `compare` (bad inputs, never panics).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{what}: no rows with split `{split}` (splits present: {present})")]
    NoRowsInSplit { what: String, split: String, present: String },
    #[error("{what}: image `{image_id}` appears more than once")]
    DuplicateImage { what: String, image_id: String },
    #[error("{what}: score `p_{finding}` of image `{image_id}` is not a finite number")]
    NonFiniteScore { what: String, finding: String, image_id: String },
    #[error("Confidence level {0} is not in (0, 1)")]
    BadLevel(f64),
    #[error("Model `{model}` and `{reference}` disagree on the label of `{finding}` for image `{image_id}`")]
    LabelMismatch { model: String, reference: String, finding: String, image_id: String },
    #[error("Model `{model}` shares no image with `{reference}`")]
    NoCommonImages { model: String, reference: String },
    #[error("The models share no finding")]
    NoCommonFindings,
    #[error("Model name `{0}` is used twice")]
    DuplicateName(String),
    #[error("Reference `{name}` is not among the models ({names})")]
    UnknownReference { name: String, names: String },
    #[error("Compare needs at least two models, got {0}")]
    TooFewModels(usize),
    #[error("--recalibrate fits on validation predictions: give --val-predictions (or a run folder)")]
    RecalibrateWithoutValidation,
    #[error("Calibration needs at least one bin, got {0}")]
    NoBins(usize),
    #[error("Significance level {0} is not in (0, 1)")]
    BadAlpha(f64),
}

/// Settings shared by `evaluate` and `compare`.
#[derive(Debug, Clone, Serialize)]
pub struct StatOptions {
    /// Bootstrap replicates (0: no intervals).
    pub bootstrap: usize,
    pub seed: u64,
    pub resample: Resample,
    /// Confidence level of the percentile intervals, e.g. 0.95.
    pub level: f64,
    /// Keep only rows of this split (`None`: all rows).
    pub split: Option<String>,
}

impl Default for StatOptions {
    fn default() -> Self {
        StatOptions { bootstrap: 1000, seed: 42, resample: Resample::Images, level: 0.95, split: Some("test".into()) }
    }
}

impl StatOptions {
    pub(crate) fn check(&self) -> Result<(), EvalError> {
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(EvalError::BadLevel(self.level));
        }
        Ok(())
    }
}

/// What an evaluation computes beyond the per-finding statistics (`evaluate`'s options that
/// `compare` does not share).
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Attributes of the subgroup analysis (`--by`); empty: none.
    pub by: Vec<Attribute>,
    /// Equal-width reliability bins over [0, 1] (`--calibration-bins`).
    pub calibration_bins: usize,
    /// Recalibration fitted on the validation predictions and applied to test.
    pub recalibrate: Option<Recalibration>,
    /// Thresholds given instead of Youden's J (`--threshold`).
    pub thresholds: GivenThresholds,
    /// A subgroup finding with fewer positives or negatives than this is flagged as unstable.
    pub min_positives: usize,
    /// Significance level of the subgroup-versus-rest tests (Benjamini–Hochberg q ≤ alpha).
    pub alpha: f64,
}

impl Default for Analysis {
    fn default() -> Self {
        Analysis {
            by: Vec::new(),
            calibration_bins: 10,
            recalibrate: None,
            thresholds: GivenThresholds::default(),
            min_positives: 10,
            alpha: 0.05,
        }
    }
}

impl Analysis {
    fn check(&self, has_val: bool) -> Result<(), EvalError> {
        if self.calibration_bins == 0 {
            return Err(EvalError::NoBins(0));
        }
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(EvalError::BadAlpha(self.alpha));
        }
        if self.recalibrate.is_some() && !has_val {
            return Err(EvalError::RecalibrateWithoutValidation);
        }
        Ok(())
    }
}

/// Rows of `p` in `split` (all rows for `None`), checking that image ids are unique and scores
/// finite.
pub fn select_split(p: &Predictions, split: Option<&str>, what: &str) -> Result<Predictions, EvalError> {
    let keep: Vec<usize> = (0..p.len()).filter(|&i| split.is_none_or(|s| p.split[i] == s)).collect();
    if keep.is_empty() {
        let mut present: Vec<&str> = p.split.iter().map(String::as_str).collect::<HashSet<_>>().into_iter().collect();
        present.sort();
        return Err(EvalError::NoRowsInSplit {
            what: what.to_string(),
            split: split.unwrap_or("all").to_string(),
            present: present.join(", "),
        });
    }
    let mut seen = HashSet::new();
    for &i in &keep {
        if !seen.insert(p.image_id[i].as_str()) {
            return Err(EvalError::DuplicateImage { what: what.to_string(), image_id: p.image_id[i].clone() });
        }
    }
    for (f, col) in p.p.iter().enumerate() {
        if let Some(&i) = keep.iter().find(|&&i| !col[i].is_finite()) {
            return Err(EvalError::NonFiniteScore {
                what: what.to_string(),
                finding: p.findings[f].clone(),
                image_id: p.image_id[i].clone(),
            });
        }
    }
    Ok(p.take(&keep))
}

/// Sensitivity, specificity, accuracy and F1 at a fixed threshold, each with its interval.
#[derive(Debug, Clone, Serialize)]
pub struct OperatingPoint {
    pub source: ThresholdSource,
    /// Predict positive when `score ≥ threshold`; `null` = +∞ (everything negative).
    pub threshold: Option<f64>,
    pub sensitivity: Estimate,
    pub specificity: Estimate,
    pub accuracy: Estimate,
    pub f1: Estimate,
}

/// Results for one finding.
#[derive(Debug, Clone, Serialize)]
pub struct FindingEval {
    pub finding: String,
    pub n_pos: usize,
    pub n_neg: usize,
    /// `value: null` when the finding has a single class on the evaluated images.
    pub auroc: Estimate,
    /// `null` when no threshold could be chosen (single class on the chosen set, or the
    /// finding is missing from the validation predictions); `note` says which.
    pub operating_point: Option<OperatingPoint>,
    pub note: Option<String>,
    /// ROC curve `(fpr, tpr)` for plotting; not serialised.
    #[serde(skip)]
    pub roc: Option<Vec<(f64, f64)>>,
}

/// The whole evaluation of one predictions set.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub options: StatOptions,
    pub n_images: usize,
    pub n_patients: usize,
    /// Where the thresholds were chosen (test only when no validation predictions were given).
    pub threshold_source: ThresholdSource,
    pub findings: Vec<FindingEval>,
    /// Mean AUROC over `macro_over`.
    pub macro_auroc: Estimate,
    pub macro_over: Vec<String>,
    /// Findings with no AUROC (single class), left out of the macro mean.
    pub undefined: Vec<String>,
    /// Settings of the calibration and subgroup analyses.
    pub analysis: Analysis,
    /// Per finding: ECE, Brier score and reliability bins (before and after recalibration).
    pub calibration: Vec<FindingCalibration>,
    /// Per attribute of `--by` and group: AUROC, error rates and the difference from the rest.
    pub subgroups: Vec<SubgroupResult>,
    pub warnings: Vec<String>,
}

/// Evaluates the rows of `test` in `opts.split` with thresholds from `val` when given (used
/// as is: restrict it to the validation split with [`select_split`] first), with the default
/// [`Analysis`] (calibration in 10 bins, no subgroups).
pub fn evaluate(test: &Predictions, val: Option<&Predictions>, opts: &StatOptions) -> Result<Evaluation, EvalError> {
    evaluate_with(test, val, opts, &Analysis::default())
}

/// [`evaluate`] with the calibration and subgroup settings of `analysis`.
pub fn evaluate_with(test: &Predictions, val: Option<&Predictions>, opts: &StatOptions, analysis: &Analysis) -> Result<Evaluation, EvalError> {
    opts.check()?;
    analysis.check(val.is_some())?;
    let test = &select_split(test, opts.split.as_deref(), "predictions")?;
    let scored: Vec<ScoredFinding> = (0..test.findings.len()).map(|f| ScoredFinding::new(&test.y[f], &test.p[f])).collect();
    let source = if val.is_some() { ThresholdSource::Validation } else { ThresholdSource::Test };
    let mut warnings = val.map(|v| overlap_warnings(test, v)).unwrap_or_default();
    let thresholds = choose(test, &scored, val, &analysis.thresholds);
    let points: Vec<Option<f64>> = scored.iter().map(ScoredFinding::auroc).collect();
    let defined: Vec<usize> = (0..points.len()).filter(|&f| points[f].is_some()).collect();
    let macro_point = mean_all(defined.iter().map(|&f| points[f]));

    // Bootstrap: per replicate, AUROC and the four threshold metrics of every finding + macro.
    let resampler = Resampler::new(&test.patient_id, opts.resample, opts.seed);
    struct Rep {
        auroc: Vec<Option<f64>>,
        ops: Vec<[Option<f64>; 4]>,
        macro_: Option<f64>,
    }
    let reps: Vec<Rep> = resampler.replicates(opts.bootstrap, |w| {
        let auroc: Vec<Option<f64>> = scored.iter().map(|s| s.auroc_weighted(w)).collect();
        let ops = scored
            .iter()
            .zip(&thresholds)
            .map(|(s, (_, t))| match t {
                Ok(t) => Confusion::at(s, *t, |i| w[i as usize] as u64).metrics(),
                Err(_) => [None; 4],
            })
            .collect();
        let macro_ = if defined.is_empty() { None } else { mean_all(defined.iter().map(|&f| auroc[f])) };
        Rep { auroc, ops, macro_ }
    });
    let est = |value: Option<f64>, vals: &mut dyn Iterator<Item = Option<f64>>| Estimate::from_replicates(value, vals, opts.level);

    let mut findings = Vec::new();
    for (f, name) in test.findings.iter().enumerate() {
        let (n_pos, n_neg) = scored[f].counts();
        let auroc = est(points[f], &mut reps.iter().map(|r| r.auroc[f]));
        let (operating_point, note) = match &thresholds[f] {
            (_, Err(why)) => (None, Some(why.clone())),
            (source, Ok(t)) => {
                let at = Confusion::at(&scored[f], *t, |_| 1).metrics();
                let m = |k: usize| est(at[k], &mut reps.iter().map(|r| r.ops[f][k]));
                let op = OperatingPoint {
                    source: *source,
                    threshold: *t,
                    sensitivity: m(0),
                    specificity: m(1),
                    accuracy: m(2),
                    f1: m(3),
                };
                (Some(op), None)
            }
        };
        let note = note.or_else(|| points[f].is_none().then(|| "single class on test: AUROC undefined".to_string()));
        findings.push(FindingEval { finding: name.clone(), n_pos, n_neg, auroc, operating_point, note, roc: scored[f].roc_curve() });
    }
    let calibration = calibrate(test, val, opts, analysis);
    let subgroups = analyse(test, &thresholds, opts, analysis);
    for a in &analysis.by {
        if subgroups.iter().all(|s| s.info.attribute != *a || !s.info.compared) {
            warnings.push(format!(
                "no test image has a known {}: every image is in the `unknown` group (a predictions file without the column? give --store)",
                a.name()
            ));
        }
    }
    Ok(Evaluation {
        options: opts.clone(),
        n_images: test.len(),
        n_patients: test.patient_id.iter().collect::<HashSet<_>>().len(),
        threshold_source: source,
        macro_auroc: est(macro_point, &mut reps.iter().map(|r| r.macro_)),
        macro_over: defined.iter().map(|&f| test.findings[f].clone()).collect(),
        undefined: (0..points.len()).filter(|&f| points[f].is_none()).map(|f| test.findings[f].clone()).collect(),
        findings,
        analysis: analysis.clone(),
        calibration,
        subgroups,
        warnings,
    })
}

/// Warnings when the validation predictions share images or patients with test.
fn overlap_warnings(test: &Predictions, v: &Predictions) -> Vec<String> {
    let mut warnings = Vec::new();
    let test_ids: HashSet<&str> = test.image_id.iter().map(String::as_str).collect();
    let shared = v.image_id.iter().filter(|i| test_ids.contains(i.as_str())).count();
    if shared > 0 {
        warnings.push(format!("{shared} validation images are also test images: the threshold saw test data"));
    }
    let test_pat: HashSet<&str> = test.patient_id.iter().map(String::as_str).collect();
    let shared_p: HashSet<&str> = v.patient_id.iter().map(String::as_str).filter(|p| test_pat.contains(p)).collect();
    if !shared_p.is_empty() {
        warnings.push(format!("{} patients appear in both validation and test", shared_p.len()));
    }
    warnings
}
