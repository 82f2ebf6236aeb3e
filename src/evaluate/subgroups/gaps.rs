//! The subgroup view of `compare` and of the benchmark table (`--by`): per model and group the
//! macro AUROC and the gap to the rest, and whether that gap differs between a model and the
//! reference.
//!
//! - gap(model, group) = macro AUROC(group) − macro AUROC(rest of the known groups), the
//!   macro means over the attribute's `macro_over` findings (both classes in every known
//!   group), as in [`super`].
//! - Δgap = gap(model) − gap(reference), bootstrapped on the stratified replicates of
//!   [`super::partition::Partition`] with the same resampled images for every model (paired),
//!   so the correlation between the models is kept; two-sided bootstrap p-value as in
//!   `compare`, Benjamini–Hochberg across the groups of one attribute for each model.

use serde::Serialize;

use super::super::attributes::Attribute;
use super::super::compare::{adjust, sub, Difference};
use super::super::evaluation::StatOptions;
use super::super::metrics::Estimate;
use super::super::predictions::Predictions;
use super::partition::{aurocs, macro_of, GroupInfo, GroupScores, Partition};

/// One model within one group.
#[derive(Debug, Clone, Serialize)]
pub struct ModelGroup {
    pub model: String,
    pub macro_auroc: Estimate,
    /// Macro AUROC(group) − macro AUROC(rest); `null` for the unknown group.
    pub gap: Estimate,
}

/// Whether a model's gap differs from the reference's.
#[derive(Debug, Clone, Serialize)]
pub struct GapDifference {
    pub model: String,
    pub reference: String,
    /// gap(model) − gap(reference), paired bootstrap p-value, BH q across the attribute's groups.
    pub difference: Difference,
}

/// One group of one attribute across the compared models.
#[derive(Debug, Clone, Serialize)]
pub struct SubgroupComparison {
    /// Attribute, group, images, patients, whether compared, the findings of the macro mean.
    #[serde(flatten)]
    pub info: GroupInfo,
    /// In the comparison's model order.
    pub models: Vec<ModelGroup>,
    /// Every other model against the reference (empty for the unknown group).
    pub gap_vs_reference: Vec<GapDifference>,
}

/// The compared models on their common images: names, the images (in order, with their
/// attributes and patients), the reference's labels `[finding][image]` and each model's
/// scores `[model][finding][image]`.
pub struct Models<'a> {
    pub names: &'a [&'a str],
    pub reference: usize,
    pub images: &'a Predictions,
    pub labels: &'a [Vec<Option<i8>>],
    pub scores: &'a [Vec<Vec<f32>>],
}

/// The subgroup view for every attribute of `by`.
pub fn compare_subgroups(a: &Models<'_>, by: &[Attribute], opts: &StatOptions, alpha: f64) -> Vec<SubgroupComparison> {
    by.iter().flat_map(|&attr| attribute(a, attr, opts, alpha)).collect()
}

/// `[model][group]`: (macro AUROC of the group, macro AUROC of its rest).
type Macros = Vec<Vec<(Option<f64>, Option<f64>)>>;

fn attribute(a: &Models<'_>, attribute: Attribute, opts: &StatOptions, alpha: f64) -> Vec<SubgroupComparison> {
    let part = Partition::new(attribute, a.images, opts.resample, opts.seed);
    let scores: Vec<GroupScores> = a.scores.iter().map(|s| GroupScores::new(&part, a.labels, s)).collect();
    let over = scores[a.reference].macro_over(&part);
    let n_groups = part.names.len();
    let macro_over: Vec<String> = over.iter().map(|&f| a.images.findings[f].clone()).collect();
    let stat = |w: Option<&[u32]>| -> Macros {
        scores
            .iter()
            .map(|s| {
                (0..n_groups)
                    .map(|g| (macro_of(&aurocs(&s.group[g], w), &over), s.rest[g].as_ref().and_then(|r| macro_of(&aurocs(r, w), &over))))
                    .collect()
            })
            .collect()
    };
    let point = stat(None);
    let reps = part.strata.replicates(opts.bootstrap, |w| stat(Some(w)));
    let gap = |x: &(Option<f64>, Option<f64>)| sub(x.0, x.1);
    let est = |value: Option<f64>, pick: &dyn Fn(&Macros) -> Option<f64>| {
        Estimate::from_replicates(value, reps.iter().map(pick), opts.level)
    };
    let mut out: Vec<SubgroupComparison> = (0..n_groups)
        .map(|g| {
            let compared = part.known(g) && scores[a.reference].rest[g].is_some();
            SubgroupComparison {
                info: part.info(g, &macro_over),
                models: (0..scores.len())
                    .map(|m| ModelGroup {
                        model: a.names[m].to_string(),
                        macro_auroc: est(point[m][g].0, &|r| r[m][g].0),
                        gap: est(gap(&point[m][g]), &|r| gap(&r[m][g])),
                    })
                    .collect(),
                gap_vs_reference: (0..scores.len())
                    .filter(|&m| compared && m != a.reference)
                    .map(|m| {
                        let d = |x: &Macros| sub(gap(&x[m][g]), gap(&x[a.reference][g]));
                        let ds: Vec<Option<f64>> = reps.iter().map(d).collect();
                        GapDifference {
                            model: a.names[m].to_string(),
                            reference: a.names[a.reference].to_string(),
                            difference: Difference::from_replicates("Macro gap", d(&point), &ds, opts.level),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    for m in (0..scores.len()).filter(|&m| m != a.reference) {
        let family = out.iter_mut().flat_map(|s| s.gap_vs_reference.iter_mut().filter(|d| d.model == a.names[m]).map(|d| &mut d.difference));
        adjust(family, alpha);
    }
    out
}
