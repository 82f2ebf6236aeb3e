//! The images of one attribute split into groups, the stratified bootstrap over them, and a
//! model's findings scored within each group and within each group's rest.
//!
//! "The rest" of a known group is every image of the *other known* groups: the `unknown`
//! group is reported but is neither compared nor part of any rest. The findings of a group are
//! scored on the whole image list with the labels of the other images blanked, so that every
//! score reads the same bootstrap weight vector.

use std::collections::HashSet;

use serde::Serialize;

use super::super::attributes::{Attribute, UNKNOWN};
use super::super::bootstrap::{Resample, Stratified};
use super::super::metrics::{mean_all, ScoredFinding};
use super::super::predictions::Predictions;

/// Which group a result is about (shared by the subgroup results of `evaluate` and `compare`).
#[derive(Debug, Clone, Serialize)]
pub struct GroupInfo {
    pub attribute: Attribute,
    pub group: String,
    pub n_images: usize,
    pub n_patients: usize,
    /// `false` for the `unknown` group (reported, never compared).
    pub compared: bool,
    /// Findings the macro means of this attribute average (both classes in every known group).
    pub macro_over: Vec<String>,
}

/// One attribute's groups over a list of images.
#[derive(Debug, Clone)]
pub struct Partition {
    pub attribute: Attribute,
    /// Group names in report order ([`UNKNOWN`] last).
    pub names: Vec<String>,
    /// Group index of each image.
    pub group: Vec<usize>,
    /// Images of each group.
    pub sizes: Vec<usize>,
    /// Distinct patients of each group.
    pub patients: Vec<usize>,
    /// Each group resampled within itself.
    pub strata: Stratified,
}

impl Partition {
    /// The groups of `attribute` over the images of `p`, with the stratified bootstrap of
    /// `mode` and `seed` (stream of each group keyed by `attribute=group`).
    pub fn new(attribute: Attribute, p: &Predictions, mode: Resample, seed: u64) -> Partition {
        let labels = attribute.groups(p);
        let names = attribute.ordered(&labels);
        let group: Vec<usize> = labels.iter().map(|l| names.iter().position(|n| n == l).unwrap_or(0)).collect();
        let mut sizes = vec![0; names.len()];
        let mut pats: Vec<HashSet<&str>> = vec![HashSet::new(); names.len()];
        for (i, &g) in group.iter().enumerate() {
            sizes[g] += 1;
            pats[g].insert(p.patient_id[i].as_str());
        }
        let keys: Vec<String> = names.iter().map(|n| format!("{}={n}", attribute.name())).collect();
        let strata = Stratified::new(&p.patient_id, &group, &keys, mode, seed);
        Partition { attribute, names, group, sizes, patients: pats.iter().map(HashSet::len).collect(), strata }
    }

    /// Whether group `g` is a known value (compared with the rest).
    pub fn known(&self, g: usize) -> bool {
        self.names[g] != UNKNOWN
    }

    /// The description of group `g`, whose attribute's macro means average `macro_over`.
    pub fn info(&self, g: usize, macro_over: &[String]) -> GroupInfo {
        GroupInfo {
            attribute: self.attribute,
            group: self.names[g].clone(),
            n_images: self.sizes[g],
            n_patients: self.patients[g],
            compared: self.known(g),
            macro_over: macro_over.to_vec(),
        }
    }

    /// `y` with the labels of images outside `keep` blanked.
    fn masked(&self, y: &[Option<i8>], keep: impl Fn(usize) -> bool) -> Vec<Option<i8>> {
        y.iter().enumerate().map(|(i, &l)| if keep(self.group[i]) { l } else { None }).collect()
    }
}

/// One model's findings scored within each group and within the rest of each known group.
#[derive(Debug, Clone)]
pub struct GroupScores {
    /// `[group][finding]`.
    pub group: Vec<Vec<ScoredFinding>>,
    /// `[group]`: the rest's findings; `None` for the unknown group and a group without rest.
    pub rest: Vec<Option<Vec<ScoredFinding>>>,
}

impl GroupScores {
    /// Scores labels `y[f][i]` and probabilities `p[f][i]` per group of `part`.
    pub fn new(part: &Partition, y: &[Vec<Option<i8>>], p: &[Vec<f32>]) -> GroupScores {
        let score = |keep: &dyn Fn(usize) -> bool| -> Vec<ScoredFinding> {
            y.iter().zip(p).map(|(y, p)| ScoredFinding::new(&part.masked(y, keep), p)).collect()
        };
        let n = part.names.len();
        let others = |g: usize| (0..n).any(|h| h != g && part.known(h) && part.sizes[h] > 0);
        GroupScores {
            group: (0..n).map(|g| score(&|h| h == g)).collect(),
            rest: (0..n).map(|g| (part.known(g) && others(g)).then(|| score(&|h| h != g && part.known(h)))).collect(),
        }
    }

    /// Findings with both classes in every known group (all groups when none is known): the
    /// findings the macro means of this attribute are taken over, so that every group's mean
    /// averages the same findings.
    pub fn macro_over(&self, part: &Partition) -> Vec<usize> {
        let n_findings = self.group.first().map_or(0, Vec::len);
        let any_known = (0..part.names.len()).any(|g| part.known(g));
        (0..n_findings)
            .filter(|&f| {
                (0..part.names.len()).filter(|&g| part.known(g) || !any_known).all(|g| {
                    let (pos, neg) = self.group[g][f].counts();
                    pos > 0 && neg > 0
                })
            })
            .collect()
    }
}

/// The macro mean of `aurocs` over `over` (`None` when `over` is empty or a value is undefined).
pub fn macro_of(aurocs: &[Option<f64>], over: &[usize]) -> Option<f64> {
    if over.is_empty() { None } else { mean_all(over.iter().map(|&f| aurocs[f])) }
}

/// AUROC of every finding under `weights` (`None` weights: each image once).
pub fn aurocs(scored: &[ScoredFinding], weights: Option<&[u32]>) -> Vec<Option<f64>> {
    scored.iter().map(|s| weights.map_or_else(|| s.auroc(), |w| s.auroc_weighted(w))).collect()
}
