//! `compare`: models on the same test images, paired bootstrap of AUROC differences,
//! two-sided p-values and Benjamini–Hochberg across findings.
//!
//! - Images are matched by `image_id`: the comparison runs on the reference's images that every
//!   model has (how many each model loses is reported); the stated labels must agree.
//! - Paired: every replicate's multiplicities are applied to every model, so the difference
//!   Δ = AUROC(model) − AUROC(reference) is bootstrapped with its correlation intact.
//! - Two-sided p-value of H0 Δ = 0 from the bootstrap distribution of Δ:
//!   `p = min(1, 2·min((#{Δ_r ≤ 0} + 1) / (B' + 1), (#{Δ_r ≥ 0} + 1) / (B' + 1)))` over the B'
//!   replicates where Δ is defined. The +1 keeps p from reaching 0: with B' replicates no p-value
//!   can go below 2/(B' + 1). Identical models give p = 1. (The study used a one-sided
//!   fraction and tried the other direction only when the first was not significant.)
//! - Benjamini–Hochberg runs over the findings of one model-vs-reference pair (one family per
//!   pair); the macro mean is the primary test and keeps its raw p-value. (The study called an
//!   FDR routine on one p-value at a time, which corrects nothing.)

use std::collections::HashMap;

use serde::Serialize;

use super::attributes::Attribute;
use super::bootstrap::Resampler;
use super::evaluation::{select_split, EvalError, StatOptions};
use super::metrics::{mean_all, Estimate, ScoredFinding};
use super::predictions::Predictions;
use super::subgroups::gaps::{compare_subgroups, Models, SubgroupComparison};

/// Benjamini–Hochberg adjusted p-values (q-values), in input order; equals
/// `scipy.stats.false_discovery_control(p, method="bh")`.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0.0; m];
    let mut running = f64::INFINITY;
    for k in (0..m).rev() {
        let adj = p[order[k]] * (m as f64 / (k + 1) as f64);
        running = running.min(adj);
        q[order[k]] = running.clamp(0.0, 1.0);
    }
    q
}

/// Two-sided bootstrap p-value of "Δ = 0" from replicate differences (see module doc);
/// `None` without a defined replicate.
pub fn bootstrap_p_value(deltas: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let (mut le, mut ge, mut n) = (0usize, 0usize, 0usize);
    for d in deltas.into_iter().flatten() {
        le += usize::from(d <= 0.0);
        ge += usize::from(d >= 0.0);
        n += 1;
    }
    if n == 0 {
        return None;
    }
    let tail = (le.min(ge) + 1) as f64 / (n + 1) as f64;
    Some((2.0 * tail).min(1.0))
}

/// ROC curve points `(fpr, tpr)`; `None` for a single-class finding.
pub type RocCurve = Option<Vec<(f64, f64)>>;

/// One replicate: AUROC `[model][finding]` and macro mean `[model]`.
type Replicate = (Vec<Vec<Option<f64>>>, Vec<Option<f64>>);

/// One model's AUROCs on the compared images.
#[derive(Debug, Clone, Serialize)]
pub struct ModelAurocs {
    pub model: String,
    /// Per compared finding, in `Comparison::findings` order.
    pub auroc: Vec<Estimate>,
    pub macro_auroc: Estimate,
    /// Rows of this model's predictions (in the split) that are not among the compared images.
    pub images_dropped: usize,
}

/// Δ AUROC of one model against the reference on one finding (or the macro mean).
#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub finding: String,
    pub delta: Estimate,
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg q-value across the findings of this pair (`null` for the macro).
    pub q_value: Option<f64>,
    /// `q ≤ alpha` for findings, `p ≤ alpha` for the macro mean.
    pub significant: bool,
}

impl Difference {
    /// Δ = `point` with the percentile interval of the replicate differences `deltas` and their
    /// two-sided bootstrap p-value (see the module doc); no q-value, not significant yet.
    pub fn from_replicates(name: &str, point: Option<f64>, deltas: &[Option<f64>], level: f64) -> Difference {
        Difference {
            finding: name.to_string(),
            delta: Estimate::from_replicates(point, deltas.iter().copied(), level),
            p_value: point.and_then(|_| bootstrap_p_value(deltas.iter().copied())),
            q_value: None,
            significant: false,
        }
    }
}

/// Benjamini–Hochberg over the differences that have a p-value: sets their q-values and marks
/// those with `q ≤ alpha` significant.
pub fn adjust<'a>(family: impl IntoIterator<Item = &'a mut Difference>, alpha: f64) {
    let mut tested: Vec<&mut Difference> = family.into_iter().filter(|d| d.p_value.is_some()).collect();
    let q = benjamini_hochberg(&tested.iter().filter_map(|d| d.p_value).collect::<Vec<_>>());
    for (d, q) in tested.iter_mut().zip(q) {
        d.q_value = Some(q);
        d.significant = q <= alpha;
    }
}

/// `a − b` when both are defined.
pub fn sub(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

/// One model against the reference.
#[derive(Debug, Clone, Serialize)]
pub struct PairComparison {
    pub model: String,
    pub reference: String,
    pub findings: Vec<Difference>,
    pub macro_auroc: Difference,
}

/// Everything `compare` found.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub options: StatOptions,
    pub alpha: f64,
    pub reference: String,
    pub n_images: usize,
    pub n_patients: usize,
    /// Findings compared (common to all models), with positives/negatives on the images.
    pub findings: Vec<String>,
    pub n_pos: Vec<usize>,
    pub n_neg: Vec<usize>,
    /// Findings with a single class: no AUROC, left out of the macro mean.
    pub undefined: Vec<String>,
    pub models: Vec<ModelAurocs>,
    pub pairs: Vec<PairComparison>,
    /// The subgroup view (`--by`): per attribute and group, each model's macro AUROC and gap
    /// to the rest, and whether the gap differs from the reference's.
    pub subgroups: Vec<SubgroupComparison>,
    /// ROC curves per model per finding, for plotting; not serialised.
    #[serde(skip)]
    pub roc: Vec<Vec<RocCurve>>,
}

/// The models' predictions on the images and findings they share, scored.
struct Aligned {
    /// Findings every model predicts, in reference order.
    findings: Vec<String>,
    /// The reference's rows of the images every model has, in reference order, restricted to
    /// `findings` (patients for resampling, attributes for subgroups, labels).
    images: Predictions,
    /// `[model][finding][image]`: each model's scores of the images.
    scores: Vec<Vec<Vec<f32>>>,
    /// `[model][finding]`: the model's scores against the reference's labels.
    scored: Vec<Vec<ScoredFinding>>,
}

/// Compares named models (their predictions restricted to `opts.split` here) against
/// `reference` (default: the first model).
pub fn compare(
    models: &[(String, Predictions)],
    reference: Option<&str>,
    opts: &StatOptions,
    alpha: f64,
) -> Result<Comparison, EvalError> {
    compare_with(models, reference, opts, alpha, &[])
}

/// [`compare`] with the subgroup view of the attributes `by` (the reference's attributes of
/// each image).
pub fn compare_with(
    models: &[(String, Predictions)],
    reference: Option<&str>,
    opts: &StatOptions,
    alpha: f64,
    by: &[Attribute],
) -> Result<Comparison, EvalError> {
    opts.check()?;
    if models.len() < 2 {
        return Err(EvalError::TooFewModels(models.len()));
    }
    let names: Vec<&str> = models.iter().map(|(n, _)| n.as_str()).collect();
    let reference = reference_index(&names, reference)?;
    let selected: Vec<Predictions> =
        models.iter().map(|(n, p)| select_split(p, opts.split.as_deref(), n)).collect::<Result<_, _>>()?;
    let Aligned { findings, images, scores, scored } = align(&selected, &names, reference)?;
    let (n_images, patients) = (images.len(), &images.patient_id);
    let counts: Vec<(usize, usize)> = scored[reference].iter().map(ScoredFinding::counts).collect();
    let defined: Vec<usize> = (0..findings.len()).filter(|&f| counts[f].0 > 0 && counts[f].1 > 0).collect();
    let resampler = Resampler::new(patients, opts.resample, opts.seed);

    // Point estimates and replicates: [model][finding] AUROC, and [model] macro.
    let macro_of = |a: &[Option<f64>]| if defined.is_empty() { None } else { mean_all(defined.iter().map(|&f| a[f])) };
    let point: Vec<Vec<Option<f64>>> = scored.iter().map(|per| per.iter().map(ScoredFinding::auroc).collect()).collect();
    let point_macro: Vec<Option<f64>> = point.iter().map(|a| macro_of(a)).collect();
    let point: Replicate = (point, point_macro);
    let reps: Vec<Replicate> = resampler.replicates(opts.bootstrap, |w| {
        let a: Vec<Vec<Option<f64>>> =
            scored.iter().map(|per| per.iter().map(|s| s.auroc_weighted(w)).collect()).collect();
        let mac = a.iter().map(|x| macro_of(x)).collect();
        (a, mac)
    });
    let est = |value: Option<f64>, vals: &mut dyn Iterator<Item = Option<f64>>| Estimate::from_replicates(value, vals, opts.level);
    let model_aurocs: Vec<ModelAurocs> = (0..selected.len())
        .map(|m| ModelAurocs {
            model: names[m].to_string(),
            auroc: (0..findings.len()).map(|f| est(point.0[m][f], &mut reps.iter().map(|(a, _)| a[m][f]))).collect(),
            macro_auroc: est(point.1[m], &mut reps.iter().map(|(_, mac)| mac[m])),
            images_dropped: selected[m].len() - n_images,
        })
        .collect();
    let pairs = (0..selected.len())
        .filter(|&m| m != reference)
        .map(|m| {
            let (per_finding, macro_auroc) = differences(m, reference, &findings, &point, &reps, opts.level, alpha);
            PairComparison {
                model: names[m].to_string(),
                reference: names[reference].to_string(),
                findings: per_finding,
                macro_auroc,
            }
        })
        .collect();
    Ok(Comparison {
        options: opts.clone(),
        alpha,
        reference: names[reference].to_string(),
        n_images,
        n_patients: patients.iter().collect::<std::collections::HashSet<_>>().len(),
        n_pos: counts.iter().map(|c| c.0).collect(),
        n_neg: counts.iter().map(|c| c.1).collect(),
        undefined: (0..findings.len()).filter(|f| !defined.contains(f)).map(|f| findings[f].clone()).collect(),
        findings,
        models: model_aurocs,
        pairs,
        subgroups: compare_subgroups(&Models { names: &names, reference, images: &images, labels: &images.y, scores: &scores }, by, opts, alpha),
        roc: scored.iter().map(|per| per.iter().map(ScoredFinding::roc_curve).collect()).collect(),
    })
}

/// The position of the reference model (default: the first); names must be unique.
fn reference_index(names: &[&str], reference: Option<&str>) -> Result<usize, EvalError> {
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(EvalError::DuplicateName(n.to_string()));
        }
    }
    match reference {
        None => Ok(0),
        Some(name) => names.iter().position(|n| *n == name).ok_or_else(|| EvalError::UnknownReference {
            name: name.to_string(),
            names: names.join(", "),
        }),
    }
}

/// Matches the models' rows by `image_id` on the reference's images that every model has,
/// keeps the findings every model predicts, checks that every model states the reference's
/// labels, and scores each model.
fn align(selected: &[Predictions], names: &[&str], reference: usize) -> Result<Aligned, EvalError> {
    let ref_preds = &selected[reference];
    let findings: Vec<String> = ref_preds
        .findings
        .iter()
        .filter(|f| selected.iter().all(|m| m.findings.contains(f)))
        .cloned()
        .collect();
    if findings.is_empty() {
        return Err(EvalError::NoCommonFindings);
    }
    let row_of: Vec<HashMap<&str, usize>> = selected
        .iter()
        .map(|m| m.image_id.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect())
        .collect();
    let common: Vec<&str> = ref_preds
        .image_id
        .iter()
        .map(String::as_str)
        .filter(|id| row_of.iter().all(|rows| rows.contains_key(id)))
        .collect();
    if common.is_empty()
        && let Some(m) = (0..selected.len()).find(|&m| m != reference)
    {
        return Err(EvalError::NoCommonImages { model: names[m].to_string(), reference: names[reference].to_string() });
    }
    // rows[model][image]: the model's row of each common image.
    let rows: Vec<Vec<usize>> = row_of.iter().map(|ix| common.iter().map(|id| ix[id]).collect()).collect();
    let column = |m: usize, finding: &str| selected[m].findings.iter().position(|x| x == finding).unwrap_or(0);
    // Labels from the reference; every other model must state the same ones.
    let labels: Vec<Vec<Option<i8>>> = findings
        .iter()
        .map(|f| rows[reference].iter().map(|&i| ref_preds.y[column(reference, f)][i]).collect())
        .collect();
    let mut scored: Vec<Vec<ScoredFinding>> = Vec::new();
    let mut scores: Vec<Vec<Vec<f32>>> = Vec::new();
    for (m, preds) in selected.iter().enumerate() {
        let mut per_finding = Vec::new();
        let mut model_scores = Vec::new();
        for (f, finding) in findings.iter().enumerate() {
            let col = column(m, finding);
            for (image, &row) in rows[m].iter().enumerate() {
                if preds.y[col][row] != labels[f][image] {
                    return Err(EvalError::LabelMismatch {
                        model: names[m].to_string(),
                        reference: names[reference].to_string(),
                        finding: finding.clone(),
                        image_id: preds.image_id[row].clone(),
                    });
                }
            }
            let p: Vec<f32> = rows[m].iter().map(|&row| preds.p[col][row]).collect();
            per_finding.push(ScoredFinding::new(&labels[f], &p));
            model_scores.push(p);
        }
        scored.push(per_finding);
        scores.push(model_scores);
    }
    let mut images = ref_preds.take(&rows[reference]);
    images.findings = findings.clone();
    images.y = labels;
    images.p = scores[reference].clone();
    Ok(Aligned { findings, images, scores, scored })
}

/// Model `m` against the `reference`: Δ AUROC per finding with Benjamini–Hochberg q-values
/// over the tested findings, and Δ of the macro mean (judged on its raw p-value). `point` and
/// `reps` are the point estimates and the bootstrap replicates of all models.
fn differences(
    m: usize,
    reference: usize,
    findings: &[String],
    point: &Replicate,
    reps: &[Replicate],
    level: f64,
    alpha: f64,
) -> (Vec<Difference>, Difference) {
    let mut per_finding: Vec<Difference> = (0..findings.len())
        .map(|f| {
            let ds: Vec<Option<f64>> = reps.iter().map(|(a, _)| sub(a[m][f], a[reference][f])).collect();
            Difference::from_replicates(&findings[f], sub(point.0[m][f], point.0[reference][f]), &ds, level)
        })
        .collect();
    adjust(&mut per_finding, alpha);
    let ds: Vec<Option<f64>> = reps.iter().map(|(_, mac)| sub(mac[m], mac[reference])).collect();
    let mut macro_auroc = Difference::from_replicates("Macro mean", sub(point.1[m], point.1[reference]), &ds, level);
    macro_auroc.significant = macro_auroc.p_value.is_some_and(|p| p <= alpha);
    (per_finding, macro_auroc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bh_small_case() {
        // scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.2]) == [0.04, 0.16/3, 0.16/3, 0.2]
        let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.2]);
        for (a, b) in q.iter().zip([0.04, 0.16 / 3.0, 0.16 / 3.0, 0.2]) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }

    #[test]
    fn p_value_extremes() {
        assert_eq!(bootstrap_p_value([Some(0.0); 10]), Some(1.0));
        assert_eq!(bootstrap_p_value([Some(0.1); 9]), Some(0.2));
        assert_eq!(bootstrap_p_value([None, None]), None);
    }
}
