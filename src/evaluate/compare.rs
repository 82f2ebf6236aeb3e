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

use super::bootstrap::{percentile_ci, Resampler};
use super::evaluation::{select_split, EvalError, StatOptions};
use super::metrics::{mean_all, Estimate, ScoredFinding};
use super::predictions::Predictions;

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
    /// ROC curves per model per finding, for plotting; not serialised.
    #[serde(skip)]
    pub roc: Vec<Vec<RocCurve>>,
}

/// Compares named models (their predictions restricted to `opts.split` here) against
/// `reference` (default: the first model).
pub fn compare(
    models: &[(String, Predictions)],
    reference: Option<&str>,
    opts: &StatOptions,
    alpha: f64,
) -> Result<Comparison, EvalError> {
    opts.check()?;
    if models.len() < 2 {
        return Err(EvalError::TooFewModels(models.len()));
    }
    let names: Vec<&str> = models.iter().map(|(n, _)| n.as_str()).collect();
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(EvalError::DuplicateName(n.to_string()));
        }
    }
    let r = match reference {
        None => 0,
        Some(name) => names.iter().position(|n| *n == name).ok_or_else(|| EvalError::UnknownReference {
            name: name.to_string(),
            names: names.join(", "),
        })?,
    };
    let sel: Vec<Predictions> =
        models.iter().map(|(n, p)| select_split(p, opts.split.as_deref(), n)).collect::<Result<_, _>>()?;
    let refp = &sel[r];
    // Common findings, in reference order.
    let findings: Vec<String> =
        refp.findings.iter().filter(|f| sel.iter().all(|m| m.findings.contains(f))).cloned().collect();
    if findings.is_empty() {
        return Err(EvalError::NoCommonFindings);
    }
    // Common images, in reference order; row of each image in each model.
    let index: Vec<HashMap<&str, usize>> =
        sel.iter().map(|m| m.image_id.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect()).collect();
    let common: Vec<usize> =
        (0..refp.len()).filter(|&i| index.iter().all(|ix| ix.contains_key(refp.image_id[i].as_str()))).collect();
    for (m, (name, _)) in models.iter().enumerate() {
        if common.is_empty() && m != r {
            return Err(EvalError::NoCommonImages { model: name.clone(), reference: names[r].to_string() });
        }
    }
    let rows: Vec<Vec<usize>> =
        index.iter().map(|ix| common.iter().map(|&i| ix[refp.image_id[i].as_str()]).collect()).collect();
    // Labels from the reference; every other model must state the same ones.
    let col = |m: usize, f: &str| sel[m].findings.iter().position(|x| x == f).unwrap_or(0);
    let y_ref: Vec<Vec<Option<i8>>> =
        findings.iter().map(|f| rows[r].iter().map(|&i| refp.y[col(r, f)][i]).collect()).collect();
    let mut scored: Vec<Vec<ScoredFinding>> = Vec::new();
    for (m, mp) in sel.iter().enumerate() {
        let mut per = Vec::new();
        for (k, f) in findings.iter().enumerate() {
            let g = col(m, f);
            for (j, &i) in rows[m].iter().enumerate() {
                if mp.y[g][i] != y_ref[k][j] {
                    return Err(EvalError::LabelMismatch {
                        model: names[m].to_string(),
                        reference: names[r].to_string(),
                        finding: f.clone(),
                        image_id: mp.image_id[i].clone(),
                    });
                }
            }
            let p: Vec<f32> = rows[m].iter().map(|&i| mp.p[g][i]).collect();
            per.push(ScoredFinding::new(&y_ref[k], &p));
        }
        scored.push(per);
    }
    let counts: Vec<(usize, usize)> = scored[r].iter().map(ScoredFinding::counts).collect();
    let defined: Vec<usize> = (0..findings.len()).filter(|&k| counts[k].0 > 0 && counts[k].1 > 0).collect();
    let patients: Vec<String> = rows[r].iter().map(|&i| refp.patient_id[i].clone()).collect();
    let resampler = Resampler::new(&patients, opts.resample, opts.seed);

    // Point estimates and replicates: [model][finding] AUROC, and [model] macro.
    let point: Vec<Vec<Option<f64>>> = scored.iter().map(|per| per.iter().map(ScoredFinding::auroc).collect()).collect();
    let macro_of = |a: &[Option<f64>]| if defined.is_empty() { None } else { mean_all(defined.iter().map(|&k| a[k])) };
    let point_macro: Vec<Option<f64>> = point.iter().map(|a| macro_of(a)).collect();
    let reps: Vec<Replicate> = resampler.replicates(opts.bootstrap, |w| {
        let a: Vec<Vec<Option<f64>>> =
            scored.iter().map(|per| per.iter().map(|s| s.auroc_weighted(w)).collect()).collect();
        let mac = a.iter().map(|x| macro_of(x)).collect();
        (a, mac)
    });
    let est = |value: Option<f64>, vals: &mut dyn Iterator<Item = Option<f64>>| Estimate {
        value,
        ci: value.and_then(|_| percentile_ci(vals, opts.level)),
    };
    let model_aurocs: Vec<ModelAurocs> = (0..sel.len())
        .map(|m| ModelAurocs {
            model: names[m].to_string(),
            auroc: (0..findings.len()).map(|k| est(point[m][k], &mut reps.iter().map(|(a, _)| a[m][k]))).collect(),
            macro_auroc: est(point_macro[m], &mut reps.iter().map(|(_, mac)| mac[m])),
            images_dropped: sel[m].len() - common.len(),
        })
        .collect();
    let sub = |a: Option<f64>, b: Option<f64>| Some(a? - b?);
    let mut pairs = Vec::new();
    for m in (0..sel.len()).filter(|&m| m != r) {
        let diff = |name: &str, d: Option<f64>, ds: Vec<Option<f64>>| Difference {
            finding: name.to_string(),
            delta: est(d, &mut ds.iter().copied()),
            p_value: d.and_then(|_| bootstrap_p_value(ds.iter().copied())),
            q_value: None,
            significant: false,
        };
        let mut fd: Vec<Difference> = (0..findings.len())
            .map(|k| {
                let ds = reps.iter().map(|(a, _)| sub(a[m][k], a[r][k])).collect();
                diff(&findings[k], sub(point[m][k], point[r][k]), ds)
            })
            .collect();
        let tested: Vec<usize> = (0..fd.len()).filter(|&k| fd[k].p_value.is_some()).collect();
        let q = benjamini_hochberg(&tested.iter().filter_map(|&k| fd[k].p_value).collect::<Vec<_>>());
        for (j, &k) in tested.iter().enumerate() {
            fd[k].q_value = Some(q[j]);
            fd[k].significant = q[j] <= alpha;
        }
        let ds = reps.iter().map(|(_, mac)| sub(mac[m], mac[r])).collect();
        let mut macro_d = diff("Macro mean", sub(point_macro[m], point_macro[r]), ds);
        macro_d.significant = macro_d.p_value.is_some_and(|p| p <= alpha);
        pairs.push(PairComparison {
            model: names[m].to_string(),
            reference: names[r].to_string(),
            findings: fd,
            macro_auroc: macro_d,
        });
    }
    Ok(Comparison {
        options: opts.clone(),
        alpha,
        reference: names[r].to_string(),
        n_images: common.len(),
        n_patients: patients.iter().collect::<std::collections::HashSet<_>>().len(),
        n_pos: counts.iter().map(|c| c.0).collect(),
        n_neg: counts.iter().map(|c| c.1).collect(),
        undefined: (0..findings.len()).filter(|k| !defined.contains(k)).map(|k| findings[k].clone()).collect(),
        findings,
        models: model_aurocs,
        pairs,
        roc: scored.iter().map(|per| per.iter().map(ScoredFinding::roc_curve).collect()).collect(),
    })
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
