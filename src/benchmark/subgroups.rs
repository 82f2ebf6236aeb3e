//! The benchmark table's subgroup view (`benchmark --by`): one row per dataset × attribute ×
//! group, one cell per initialisation with the macro AUROC of the group, its gap to the rest of
//! the known groups, and the paired-bootstrap p-value of the difference between that gap and
//! the reference's (`evaluate::subgroups::gaps`).

use serde::Serialize;

use super::table::BenchmarkTable;
use crate::evaluate::attributes::Attribute;
use crate::evaluate::metrics::Estimate;
use crate::evaluate::report::fmt_estimate;
use crate::evaluate::subgroups::gaps::SubgroupComparison;
use crate::evaluate::subgroups::SubgroupResult;

/// One initialisation within one group.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubgroupCell {
    pub macro_auroc: Option<Estimate>,
    /// Macro AUROC(group) − macro AUROC(rest) (none for `unknown`, or when either is undefined).
    pub gap: Option<Estimate>,
    /// Paired-bootstrap p-value of gap(init) − gap(reference) (none for the reference).
    pub p_gap_vs_reference: Option<f64>,
    /// Benjamini–Hochberg q ≤ alpha across the attribute's groups.
    pub significant: bool,
}

/// One dataset × attribute × group.
#[derive(Debug, Clone, Serialize)]
pub struct SubgroupRow {
    pub dataset: String,
    pub image_size: usize,
    pub attribute: Attribute,
    pub group: String,
    pub n_images: usize,
    /// `false` for the `unknown` group.
    pub compared: bool,
    pub cells: Vec<SubgroupCell>,
}

impl BenchmarkTable {
    fn subgroup_row(&mut self, dataset: &str, attribute: Attribute, group: &str, n_images: usize, compared: bool) -> &mut SubgroupRow {
        let size = self.rows.iter().find(|r| r.dataset == dataset).map_or(0, |r| r.image_size);
        let n = self.inits.len();
        let at = self.subgroups.iter().position(|r| r.dataset == dataset && r.image_size == size && r.attribute == attribute && r.group == group);
        let at = at.unwrap_or_else(|| {
            self.subgroups.push(SubgroupRow {
                dataset: dataset.into(),
                image_size: size,
                attribute,
                group: group.into(),
                n_images,
                compared,
                cells: vec![SubgroupCell::default(); n],
            });
            self.subgroups.len() - 1
        });
        &mut self.subgroups[at]
    }

    /// Fills a dataset's subgroup rows from its comparison.
    pub fn add_subgroups(&mut self, dataset: &str, groups: &[SubgroupComparison]) {
        let inits = self.inits.clone();
        for s in groups {
            let row = self.subgroup_row(dataset, s.info.attribute, &s.info.group, s.info.n_images, s.info.compared);
            for m in &s.models {
                let Some(i) = inits.iter().position(|x| *x == m.model) else { continue };
                let d = s.gap_vs_reference.iter().find(|d| d.model == m.model).map(|d| &d.difference);
                row.cells[i] = SubgroupCell {
                    macro_auroc: Some(m.macro_auroc),
                    gap: (s.info.compared && m.gap.value.is_some()).then_some(m.gap),
                    p_gap_vs_reference: d.and_then(|d| d.p_value),
                    significant: d.is_some_and(|d| d.significant),
                };
            }
        }
    }

    /// Fills one initialisation's subgroup cells from a single evaluation (no comparison
    /// partner in this row).
    pub fn add_subgroups_single(&mut self, dataset: &str, init: &str, groups: &[SubgroupResult]) {
        let i = self.inits.iter().position(|x| x == init);
        for s in groups {
            let row = self.subgroup_row(dataset, s.info.attribute, &s.info.group, s.info.n_images, s.info.compared);
            if let Some(i) = i {
                row.cells[i] = SubgroupCell {
                    macro_auroc: Some(s.macro_auroc),
                    gap: s.macro_vs_rest.as_ref().map(|d| d.delta).filter(|d| d.value.is_some()),
                    p_gap_vs_reference: None,
                    significant: false,
                };
            }
        }
    }

    /// The subgroup table in Markdown (empty without subgroup rows).
    pub fn subgroup_markdown(&self) -> String {
        if self.subgroups.is_empty() {
            return String::new();
        }
        let mut s = format!(
            "\n## Subgroups\n\nMacro AUROC of each group [95 % interval, each group resampled within itself]; gap = macro AUROC(group) − macro AUROC(all other known groups); \
             p = paired-bootstrap p-value of gap(initialisation) − gap(**{}**), `*` marks Benjamini–Hochberg q ≤ 0.05 across the groups of an attribute; `unknown` is reported, not compared.\n\n",
            self.reference
        );
        s.push_str(&self.header("| dataset | px | attribute | group | images |", "|---|---:|---|---|---:|"));
        for r in &self.subgroups {
            let px = if r.image_size > 0 { r.image_size.to_string() } else { "–".into() };
            s.push_str(&format!("| {} | {px} | {} | {} | {} |", r.dataset, r.attribute.name(), r.group, r.n_images));
            for c in &r.cells {
                let text = match (&c.macro_auroc, &c.gap) {
                    (None, _) => "–".to_string(),
                    (Some(m), None) => fmt_estimate(m),
                    (Some(m), Some(g)) => {
                        let gap = g.value.map_or("n/a".into(), |v| format!("{v:+.3}"));
                        let p = c.p_gap_vs_reference.map_or(String::new(), |p| format!(", p = {p:.3}{}", if c.significant { "*" } else { "" }));
                        format!("{}, gap {gap}{p}", fmt_estimate(m))
                    }
                };
                s.push_str(&format!(" {text} |"));
            }
            s.push('\n');
        }
        s
    }
}
