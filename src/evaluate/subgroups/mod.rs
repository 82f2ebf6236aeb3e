//! Subgroup analysis (`evaluate --by sex,age,view,dataset`): per attribute and group, each
//! finding's AUROC, its positives and negatives, and the true-positive, false-positive and
//! false-negative rates at the evaluation's operating point (chosen once on the validation
//! predictions of the whole population, or given); the macro AUROC of the group; and the
//! difference of each known group from the rest, tested by bootstrap.
//!
//! Why: a classifier's mean AUROC hides whom it fails. Seyyed-Kalantari et al. (Nature
//! Medicine 2021) found chest X-ray classifiers under-diagnose women, young and old patients
//! and other under-served groups on NIH, CheXpert and MIMIC-CXR (a higher false-positive rate
//! of "No Finding" there); the `fpr` of the `No Finding` label per group here is that measure.
//!
//! Statistics:
//! - Bootstrap: stratified by group ([`Stratified`](super::bootstrap::Stratified)): each group
//!   is resampled within itself (images or patients, `--resample`), so a group's interval
//!   comes from resampling that group only and every replicate keeps the group sizes. A
//!   group's rest is scored on the same replicate as the group.
//! - Difference from the rest: Δ = statistic(group) − statistic(rest of the known groups), its
//!   percentile interval and two-sided bootstrap p-value as in `compare`; Benjamini–Hochberg
//!   over the per-finding differences of all groups of one attribute, and separately over the
//!   macro differences of its groups; significant when q ≤ `alpha`.
//! - Macro mean: over the findings with both classes in every known group of the attribute
//!   (`macro_over`, the same for every group), so the groups' means are comparable.
//! - A group where a finding has no positive or no negative has no AUROC for it (a warning
//!   says so); fewer than `min_positives` positives or negatives gets an "unstable" warning.

pub mod gaps;
pub mod partition;

use serde::Serialize;

use super::attributes::Attribute;
use super::compare::{adjust, sub, Difference};
use super::evaluation::{Analysis, StatOptions};
use super::metrics::Estimate;
use super::predictions::Predictions;
use super::threshold::{Choice, Confusion};
use partition::{aurocs, macro_of, GroupInfo, GroupScores, Partition};

/// One finding within one group.
#[derive(Debug, Clone, Serialize)]
pub struct SubgroupFinding {
    pub finding: String,
    pub n_pos: usize,
    pub n_neg: usize,
    /// `value: null` when the group has one class of this finding.
    pub auroc: Estimate,
    /// The operating threshold (the whole population's); `null` = +∞ or none (see the
    /// evaluation's finding note, and then the rates are `null`).
    pub threshold: Option<f64>,
    /// True-positive rate (sensitivity) at the threshold.
    pub tpr: Estimate,
    /// False-positive rate (1 − specificity).
    pub fpr: Estimate,
    /// False-negative rate (1 − sensitivity): the under-diagnosis rate of this finding.
    pub fnr: Estimate,
    /// AUROC(group) − AUROC(rest); `null` for the unknown group or an undefined AUROC.
    pub auroc_vs_rest: Option<Difference>,
}

/// One group of one attribute.
#[derive(Debug, Clone, Serialize)]
pub struct SubgroupResult {
    /// Attribute, group, images, patients, whether compared, the findings of the macro mean.
    #[serde(flatten)]
    pub info: GroupInfo,
    pub macro_auroc: Estimate,
    /// Macro AUROC(group) − macro AUROC(rest).
    pub macro_vs_rest: Option<Difference>,
    pub findings: Vec<SubgroupFinding>,
    pub warnings: Vec<String>,
}

/// A group's statistic and the same statistic of its rest.
type VsRest = (Option<f64>, Option<f64>);

/// Per replicate (and for the point estimate) of one group.
struct GroupRep {
    auroc: Vec<Option<f64>>,
    /// TPR, FPR, FNR per finding.
    rates: Vec<[Option<f64>; 3]>,
    macro_: Option<f64>,
    rest: Vec<Option<f64>>,
    rest_macro: Option<f64>,
}

/// The subgroup analysis of `test` (already restricted to its split) for every attribute of
/// `analysis.by`, at the operating points `thresholds` (one per finding).
pub fn analyse(test: &Predictions, thresholds: &[Choice], opts: &StatOptions, analysis: &Analysis) -> Vec<SubgroupResult> {
    analysis.by.iter().flat_map(|&a| attribute(test, a, thresholds, opts, analysis)).collect()
}

fn attribute(test: &Predictions, attribute: Attribute, thresholds: &[Choice], opts: &StatOptions, analysis: &Analysis) -> Vec<SubgroupResult> {
    let part = Partition::new(attribute, test, opts.resample, opts.seed);
    let scores = GroupScores::new(&part, &test.y, &test.p);
    let over = scores.macro_over(&part);
    let threshold = |f: usize| thresholds[f].1.as_ref().ok().copied();
    let stat = |w: Option<&[u32]>| -> Vec<GroupRep> {
        let weight = |i: u32| w.map_or(1, |w| u64::from(w[i as usize]));
        (0..part.names.len())
            .map(|g| {
                let auroc = aurocs(&scores.group[g], w);
                let rates = (0..test.findings.len())
                    .map(|f| threshold(f).map_or([None; 3], |t| Confusion::at(&scores.group[g][f], t, weight).rates()))
                    .collect();
                let rest = scores.rest[g].as_ref().map_or_else(|| vec![None; test.findings.len()], |r| aurocs(r, w));
                GroupRep { macro_: macro_of(&auroc, &over), rest_macro: macro_of(&rest, &over), auroc, rates, rest }
            })
            .collect()
    };
    let point = stat(None);
    let reps: Vec<Vec<GroupRep>> = part.strata.replicates(opts.bootstrap, |w| stat(Some(w)));
    let level = opts.level;
    let est = |g: usize, value: Option<f64>, pick: &dyn Fn(&GroupRep) -> Option<f64>| {
        Estimate::from_replicates(value, reps.iter().map(|r| pick(&r[g])), level)
    };
    let vs_rest = |g: usize, name: &str, pick: &dyn Fn(&GroupRep) -> VsRest| {
        let (a, b) = pick(&point[g]);
        let ds: Vec<Option<f64>> = reps.iter().map(|r| pick(&r[g])).map(|(a, b)| sub(a, b)).collect();
        (part.known(g) && scores.rest[g].is_some()).then(|| Difference::from_replicates(name, sub(a, b), &ds, level))
    };
    let macro_over: Vec<String> = over.iter().map(|&f| test.findings[f].clone()).collect();
    let mut out: Vec<SubgroupResult> = (0..part.names.len())
        .map(|g| {
            let mut warnings = Vec::new();
            let findings = (0..test.findings.len())
                .map(|f| {
                    let (n_pos, n_neg) = scores.group[g][f].counts();
                    let name = &test.findings[f];
                    if n_pos == 0 || n_neg == 0 {
                        warnings.push(format!("{name}: {n_pos} positives and {n_neg} negatives: AUROC undefined"));
                    } else if n_pos.min(n_neg) < analysis.min_positives {
                        warnings.push(format!(
                            "{name}: {n_pos} positives and {n_neg} negatives (fewer than {}): AUROC and rates unstable",
                            analysis.min_positives
                        ));
                    }
                    let rate = |k: usize| est(g, point[g].rates[f][k], &|r| r.rates[f][k]);
                    SubgroupFinding {
                        finding: name.clone(),
                        n_pos,
                        n_neg,
                        auroc: est(g, point[g].auroc[f], &|r| r.auroc[f]),
                        threshold: threshold(f).flatten(),
                        tpr: rate(0),
                        fpr: rate(1),
                        fnr: rate(2),
                        auroc_vs_rest: vs_rest(g, name, &|r| (r.auroc[f], r.rest[f])),
                    }
                })
                .collect();
            SubgroupResult {
                info: part.info(g, &macro_over),
                macro_auroc: est(g, point[g].macro_, &|r| r.macro_),
                macro_vs_rest: vs_rest(g, "Macro mean", &|r| (r.macro_, r.rest_macro)),
                findings,
                warnings,
            }
        })
        .collect();
    adjust(out.iter_mut().flat_map(|s| s.findings.iter_mut().filter_map(|f| f.auroc_vs_rest.as_mut())), analysis.alpha);
    adjust(out.iter_mut().filter_map(|s| s.macro_vs_rest.as_mut()), analysis.alpha);
    out
}
