//! The subgroup part of the reports: for an evaluation, per attribute a summary table (macro
//! AUROC per group and its difference from the rest) and a per-finding table (AUROC, TPR, FPR,
//! FNR and the AUROC difference from the rest); for a comparison, per attribute the macro AUROC
//! of every model per group and the gap to the rest with its paired test against the reference.

use super::{fmt_estimate, fmt_p, Table};
use crate::evaluate::attributes::Attribute;
use crate::evaluate::compare::{Comparison, Difference};
use crate::evaluate::evaluation::Evaluation;

/// The attributes of `items` in first-appearance order.
fn attributes<T>(items: &[T], attr: impl Fn(&T) -> Attribute) -> Vec<Attribute> {
    let mut v = Vec::new();
    for a in items.iter().map(attr) {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v
}

/// `Δ [CI]`, `p`, `q` and the significance mark of a difference (`–` when there is none).
fn difference_cells(d: Option<&Difference>) -> [String; 4] {
    match d {
        None => ["–".into(), String::new(), String::new(), String::new()],
        Some(d) => [fmt_estimate(&d.delta), fmt_p(d.p_value), fmt_p(d.q_value), if d.significant { "*".into() } else { String::new() }],
    }
}

/// Per attribute of the evaluation: the summary table and the per-finding table.
pub fn subgroup_tables(ev: &Evaluation) -> Vec<(String, Table)> {
    let mut out = Vec::new();
    for a in attributes(&ev.subgroups, |s| s.info.attribute) {
        let groups: Vec<_> = ev.subgroups.iter().filter(|s| s.info.attribute == a).collect();
        let header = ["Group", "Images", "Patients", "Macro AUROC [95% CI]", "Δ vs rest [95% CI]", "p", "q (BH)", "Sig."];
        let rows = groups
            .iter()
            .map(|s| {
                let mut r = vec![s.info.group.clone(), s.info.n_images.to_string(), s.info.n_patients.to_string(), fmt_estimate(&s.macro_auroc)];
                r.extend(difference_cells(s.macro_vs_rest.as_ref()));
                r
            })
            .collect();
        out.push((format!("Subgroups by {}: macro AUROC", a.name()), Table { header: header.map(String::from).to_vec(), rows }));
        let header = ["Finding", "Group", "Pos", "Neg", "AUROC [95% CI]", "TPR [95% CI]", "FPR [95% CI]", "FNR [95% CI]", "Δ AUROC vs rest", "q (BH)", "Sig."];
        let mut rows = Vec::new();
        for (k, f) in groups.first().map_or(&[][..], |g| &g.findings[..]).iter().enumerate() {
            for s in &groups {
                let g = &s.findings[k];
                let [delta, _, q, sig] = difference_cells(g.auroc_vs_rest.as_ref());
                rows.push(vec![
                    f.finding.clone(),
                    s.info.group.clone(),
                    g.n_pos.to_string(),
                    g.n_neg.to_string(),
                    fmt_estimate(&g.auroc),
                    fmt_estimate(&g.tpr),
                    fmt_estimate(&g.fpr),
                    fmt_estimate(&g.fnr),
                    delta,
                    q,
                    sig,
                ]);
            }
        }
        out.push((format!("Subgroups by {}: per finding", a.name()), Table { header: header.map(String::from).to_vec(), rows }));
    }
    out
}

/// The sentences that go above the subgroup tables of an evaluation.
pub fn subgroup_notes(ev: &Evaluation) -> Vec<String> {
    if ev.subgroups.is_empty() {
        return Vec::new();
    }
    let mut n = vec![format!(
        "Subgroups: each group is resampled within itself (stratified bootstrap); `unknown` (no value) is reported, not compared; Δ vs rest = group − all other known groups, two-sided bootstrap p, Benjamini–Hochberg over the findings × groups of an attribute and separately over its macro means, * = q ≤ {}. TPR/FPR/FNR at the operating point of the whole population. Age bands as Seyyed-Kalantari et al. 2021.",
        ev.analysis.alpha
    )];
    for a in attributes(&ev.subgroups, |s| s.info.attribute) {
        if let Some(s) = ev.subgroups.iter().find(|s| s.info.attribute == a) {
            n.push(format!("Macro means by {} over the findings with both classes in every known group: {}.", a.name(), list(&s.info.macro_over)));
        }
    }
    for s in ev.subgroups.iter().filter(|s| !s.warnings.is_empty()) {
        n.push(format!("{}={}: {}.", s.info.attribute.name(), s.info.group, s.warnings.join("; ")));
    }
    n
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

/// The sentences on the subgroup view of a comparison.
pub fn comparison_subgroup_notes(c: &Comparison) -> Vec<String> {
    let mut n = Vec::new();
    if c.subgroups.is_empty() {
        return n;
    }
    n.push(format!(
        "Subgroups: gap = macro AUROC(group) − macro AUROC(all other known groups); Δgap = gap(model) − gap({}) on the same stratified bootstrap replicates for every model (paired), two-sided p, Benjamini–Hochberg across the groups of an attribute, * = q ≤ {}; `unknown` is reported, not compared.",
        c.reference, c.alpha
    ));
    for a in attributes(&c.subgroups, |s| s.info.attribute) {
        if let Some(s) = c.subgroups.iter().find(|s| s.info.attribute == a) {
            n.push(format!("Macro means by {} over the findings with both classes in every known group: {}.", a.name(), list(&s.info.macro_over)));
        }
    }
    n
}

/// Per attribute of a comparison: macro AUROC per group and model, then the gap to the rest
/// per model with Δgap against the reference.
pub fn comparison_subgroup_tables(c: &Comparison) -> Vec<(String, Table)> {
    let mut out = Vec::new();
    for a in attributes(&c.subgroups, |s| s.info.attribute) {
        let groups: Vec<_> = c.subgroups.iter().filter(|s| s.info.attribute == a).collect();
        let models: Vec<String> = groups.first().map(|g| g.models.iter().map(|m| m.model.clone()).collect()).unwrap_or_default();
        let mut header = vec!["Group".to_string(), "Images".into()];
        header.extend(models.iter().cloned());
        let rows = groups
            .iter()
            .map(|s| {
                let mut r = vec![s.info.group.clone(), s.info.n_images.to_string()];
                r.extend(s.models.iter().map(|m| fmt_estimate(&m.macro_auroc)));
                r
            })
            .collect();
        out.push((format!("Subgroups by {}: macro AUROC", a.name()), Table { header, rows }));
        let mut header = vec!["Group".to_string()];
        header.extend(models.iter().map(|m| format!("{m} gap")));
        let others: Vec<String> = models.iter().filter(|m| **m != c.reference).cloned().collect();
        for m in &others {
            header.extend([format!("Δgap {m} − {}", c.reference), "p".into(), "q (BH)".into(), "Sig.".into()]);
        }
        let rows = groups
            .iter()
            .map(|s| {
                let mut r = vec![s.info.group.clone()];
                r.extend(s.models.iter().map(|m| if s.info.compared { fmt_estimate(&m.gap) } else { "–".into() }));
                for m in &others {
                    r.extend(difference_cells(s.gap_vs_reference.iter().find(|d| d.model == *m).map(|d| &d.difference)));
                }
                r
            })
            .collect();
        out.push((format!("Subgroups by {}: gap to the rest (group − other known groups)", a.name()), Table { header, rows }));
    }
    out
}
