//! Reports of `evaluate` and `compare`: JSON (results + settings + sha256 of every input file),
//! Markdown and plain-text tables, and the ROC plots and reliability diagrams, written into one
//! output folder. The calibration ([`calibration`]) and subgroup ([`subgroups`]) parts have
//! their own files.
//!
//! Numbers: AUROC-like values with 3 decimals, `value [lo, hi]` for a percentile interval;
//! an undefined statistic prints as `undefined` / `n/a` (JSON `null`), never as a number.

pub mod calibration;
pub mod subgroups;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::compare::Comparison;
use super::evaluation::Evaluation;
use super::metrics::Estimate;
use crate::plot::{file_stem, roc_png, Curve, PlotError};
use super::threshold::ThresholdSource;

/// Errors writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("Failed to read `{path}` for its fingerprint")]
    Fingerprint { path: PathBuf, #[source] source: std::io::Error },
    #[error("Failed to write `{path}`")]
    Write { path: PathBuf, #[source] source: std::io::Error },
    #[error("Failed to serialise the report")]
    Json(#[source] serde_json::Error),
    #[error(transparent)]
    Plot(#[from] PlotError),
}

/// An input file and its fingerprint.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    /// What the file is (`test`, `validation`, or a model name).
    pub role: String,
    pub path: PathBuf,
    pub sha256: String,
}

impl InputFile {
    pub fn new(role: &str, path: &Path) -> Result<InputFile, ReportError> {
        Ok(InputFile { role: role.to_string(), path: path.to_path_buf(), sha256: crate::fsutil::sha256_file(path).map_err(|source| ReportError::Fingerprint { path: path.to_path_buf(), source })? })
    }
}

/// The JSON report: provenance around `results` (an [`Evaluation`] or a [`Comparison`]).
#[derive(Debug, Clone, Serialize)]
pub struct Report<T: Serialize> {
    /// e.g. `cxr-train evaluate`.
    pub tool: String,
    pub version: String,
    /// UTC, RFC 3339.
    pub created: String,
    /// Free-form settings of the caller (CLI arguments, run config, store fingerprints).
    pub config: serde_json::Value,
    pub inputs: Vec<InputFile>,
    pub results: T,
}

impl<T: Serialize> Report<T> {
    pub fn new(tool: &str, config: serde_json::Value, inputs: Vec<InputFile>, results: T) -> Self {
        Report {
            tool: tool.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            config,
            inputs,
            results,
        }
    }

    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(ReportError::Json)
    }
}

/// A table rendered as Markdown or aligned text.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut s = line(&self.header);
        s += &line(&self.header.iter().enumerate().map(|(i, _)| if i == 0 { ":--" } else { "--:" }.to_string()).collect::<Vec<_>>());
        for r in &self.rows {
            s += &line(r);
        }
        s
    }

    pub fn text(&self) -> String {
        let n = self.header.len();
        let width: Vec<usize> = (0..n)
            .map(|c| self.rows.iter().chain([&self.header]).map(|r| r.get(c).map_or(0, |x| x.chars().count())).max().unwrap_or(0))
            .collect();
        let line = |cells: &[String]| {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(c, x)| if c == 0 { format!("{x:<w$}", w = width[c]) } else { format!("{x:>w$}", w = width[c]) })
                .collect();
            format!("{}\n", parts.join("  ").trim_end())
        };
        let mut s = line(&self.header);
        s += &format!("{}\n", "-".repeat(width.iter().sum::<usize>() + 2 * n.saturating_sub(1)));
        for r in &self.rows {
            s += &line(r);
        }
        s
    }
}

/// `0.812 [0.790, 0.833]`, `0.812` without an interval, `undefined` without a value.
pub fn fmt_estimate(e: &Estimate) -> String {
    match (e.value, e.ci) {
        (None, _) => "undefined".into(),
        (Some(v), None) => format!("{v:.3}"),
        (Some(v), Some(ci)) => format!("{v:.3} [{:.3}, {:.3}]", ci.lo, ci.hi),
    }
}

/// A p- or q-value: 3 decimals, scientific below 0.001, `n/a` when undefined.
pub fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "n/a".into(),
        Some(p) if p < 0.001 => format!("{p:.1e}"),
        Some(p) => format!("{p:.3}"),
    }
}

fn reps(e: &Estimate, total: usize) -> String {
    e.ci.map_or_else(|| "-".into(), |c| format!("{}/{total}", c.replicates))
}

/// Per-finding table of an evaluation (last row: the macro mean).
pub fn evaluation_table(ev: &Evaluation) -> Table {
    let b = ev.options.bootstrap;
    let header = ["Finding", "Pos", "Neg", "AUROC [95% CI]", "Reps", "Threshold", "Sensitivity", "Specificity", "Accuracy", "F1"];
    let mut rows = Vec::new();
    for f in &ev.findings {
        let mut r = vec![f.finding.clone(), f.n_pos.to_string(), f.n_neg.to_string(), fmt_estimate(&f.auroc), reps(&f.auroc, b)];
        match &f.operating_point {
            None => r.extend(std::iter::repeat_n("n/a".to_string(), 5)),
            Some(op) => {
                r.push(op.threshold.map_or_else(|| "+inf".into(), |t| format!("{t:.4}")));
                r.extend([&op.sensitivity, &op.specificity, &op.accuracy, &op.f1].map(fmt_estimate));
            }
        }
        rows.push(r);
    }
    let mut last = vec![format!("Macro mean ({} findings)", ev.macro_over.len()), String::new(), String::new()];
    last.extend([fmt_estimate(&ev.macro_auroc), reps(&ev.macro_auroc, b)]);
    last.extend(std::iter::repeat_n(String::new(), 5));
    rows.push(last);
    Table { header: header.map(String::from).to_vec(), rows }
}

/// The sentences that go above an evaluation table.
pub fn evaluation_notes(ev: &Evaluation) -> Vec<String> {
    let o = &ev.options;
    let mut n = vec![
        format!(
            "{} images of {} patients (split: {}). Bootstrap: {} replicates resampling {}, seed {}, percentile {:.0}% intervals.",
            ev.n_images,
            ev.n_patients,
            o.split.as_deref().unwrap_or("all"),
            o.bootstrap,
            match o.resample {
                super::bootstrap::Resample::Images => "images",
                super::bootstrap::Resample::Patients => "patients",
            },
            o.seed,
            o.level * 100.0
        ),
    ];
    let with_op: Vec<_> = ev.findings.iter().filter_map(|f| f.operating_point.as_ref().map(|o| (f.finding.as_str(), o.source))).collect();
    let given: Vec<&str> = with_op.iter().filter(|(_, s)| *s == ThresholdSource::Given).map(|(f, _)| *f).collect();
    if given.len() < with_op.len() || with_op.is_empty() {
        n.push(match ev.threshold_source {
            ThresholdSource::Validation => "Thresholds: Youden's J chosen on the validation predictions, applied unchanged to test.".into(),
            ThresholdSource::Test | ThresholdSource::Given => "Thresholds: Youden's J chosen ON THE TEST SET ITSELF (no validation predictions were given), so sensitivity, specificity, accuracy and F1 are optimistic.".into(),
        });
    }
    if !given.is_empty() {
        n.push(format!("Thresholds given with --threshold (not Youden's J) for: {}.", given.join(", ")));
    }
    if !ev.undefined.is_empty() {
        n.push(format!("AUROC undefined (single class), left out of the macro mean: {}.", ev.undefined.join(", ")));
    }
    for f in ev.findings.iter().filter(|f| f.note.is_some() && f.auroc.value.is_some()) {
        n.push(format!("{}: {}.", f.finding, f.note.as_deref().unwrap_or_default()));
    }
    n.extend(ev.warnings.iter().map(|w| format!("WARNING: {w}.")));
    n
}

/// AUROC per finding (rows) and model (columns), then one Δ table per model-vs-reference pair.
pub fn comparison_tables(c: &Comparison) -> Vec<(String, Table)> {
    let mut header = vec!["Finding".to_string(), "Pos".into(), "Neg".into()];
    header.extend(c.models.iter().map(|m| m.model.clone()));
    let mut rows: Vec<Vec<String>> = (0..c.findings.len())
        .map(|k| {
            let mut r = vec![c.findings[k].clone(), c.n_pos[k].to_string(), c.n_neg[k].to_string()];
            r.extend(c.models.iter().map(|m| fmt_estimate(&m.auroc[k])));
            r
        })
        .collect();
    let mut last = vec!["Macro mean".to_string(), String::new(), String::new()];
    last.extend(c.models.iter().map(|m| fmt_estimate(&m.macro_auroc)));
    rows.push(last);
    let mut out = vec![("AUROC [95% CI]".to_string(), Table { header, rows })];
    for p in &c.pairs {
        let header = ["Finding", "Δ AUROC [95% CI]", "p", "q (BH)", "Sig."].map(String::from).to_vec();
        let row = |d: &super::compare::Difference| {
            vec![d.finding.clone(), fmt_estimate(&d.delta), fmt_p(d.p_value), fmt_p(d.q_value), if d.significant { "*".into() } else { String::new() }]
        };
        let mut rows: Vec<Vec<String>> = p.findings.iter().map(row).collect();
        rows.push(row(&p.macro_auroc));
        out.push((format!("{} − {}", p.model, p.reference), Table { header, rows }));
    }
    out
}

/// The sentences that go above the comparison tables.
pub fn comparison_notes(c: &Comparison) -> Vec<String> {
    let o = &c.options;
    let mut n = vec![format!(
        "{} images of {} patients common to all models (split: {}). Paired bootstrap: {} replicates (the same resampled {} for every model), seed {}, percentile {:.0}% intervals.",
        c.n_images, c.n_patients, o.split.as_deref().unwrap_or("all"), o.bootstrap,
        match o.resample { super::bootstrap::Resample::Images => "images", super::bootstrap::Resample::Patients => "patients" },
        o.seed, o.level * 100.0
    )];
    n.push(format!(
        "p: two-sided bootstrap p-value of Δ = 0 (smallest possible 2/(B+1)); q: Benjamini–Hochberg across the findings of each pair; * = q ≤ {} (findings) or p ≤ {} (macro mean).",
        c.alpha, c.alpha
    ));
    for m in c.models.iter().filter(|m| m.images_dropped > 0) {
        n.push(format!("{}: {} images not shared with every model were left out.", m.model, m.images_dropped));
    }
    if !c.undefined.is_empty() {
        n.push(format!("AUROC undefined (single class), left out of the macro mean: {}.", c.undefined.join(", ")));
    }
    n.extend(subgroups::comparison_subgroup_notes(c));
    n
}

/// Plot links under a heading (e.g. `ROC curves`), paths relative to the report.
pub type PlotSection = (String, Vec<PathBuf>);

/// Markdown document: title, notes, tables, then each non-empty plot section.
pub fn markdown(title: &str, notes: &[String], tables: &[(String, Table)], plots: &[PlotSection]) -> String {
    let mut s = format!("# {title}\n\n");
    for n in notes {
        s += &format!("{n}\n\n");
    }
    for (name, t) in tables {
        if !name.is_empty() {
            s += &format!("## {name}\n\n");
        }
        s += &t.markdown();
        s += "\n";
    }
    for (heading, paths) in plots.iter().filter(|(_, p)| !p.is_empty()) {
        s += &format!("## {heading}\n\n");
        for p in paths {
            s += &format!("![{0}]({0})\n", p.display());
        }
        s += "\n";
    }
    s
}

/// Plain text: notes then aligned tables.
pub fn text(notes: &[String], tables: &[(String, Table)]) -> String {
    let mut s = notes.join("\n") + "\n\n";
    for (name, t) in tables {
        if !name.is_empty() {
            s += &format!("{name}\n");
        }
        s += &t.text();
        s += "\n";
    }
    s
}

/// ROC plots of an evaluation under `dir`: `roc/<finding>.png` and `roc_overview.png`;
/// returns the written paths relative to `dir`.
pub fn plot_evaluation(dir: &Path, ev: &Evaluation) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let labels: Vec<String> =
        ev.findings.iter().map(|f| format!("{} {}", f.finding, f.auroc.value.map_or("n/a".into(), |v| format!("{v:.3}")))).collect();
    let mut all = Vec::new();
    for (f, label) in ev.findings.iter().zip(&labels) {
        let Some(points) = &f.roc else { continue };
        let rel = PathBuf::from("roc").join(format!("{}.png", file_stem(&f.finding)));
        let title = format!("{}: AUROC {}", f.finding, fmt_estimate(&f.auroc));
        roc_png(&dir.join(&rel), &title, &[Curve { label: "model", points }], 560)?;
        written.push(rel);
        all.push(Curve { label, points });
    }
    let rel = PathBuf::from("roc_overview.png");
    roc_png(&dir.join(&rel), &format!("ROC, macro AUROC {}", fmt_estimate(&ev.macro_auroc)), &all, 800)?;
    written.insert(0, rel);
    Ok(written)
}

/// ROC plots of a comparison under `dir`: `roc/<finding>.png` with one curve per model.
pub fn plot_comparison(dir: &Path, c: &Comparison) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for (k, f) in c.findings.iter().enumerate() {
        let labels: Vec<String> =
            c.models.iter().map(|m| format!("{} {}", m.model, m.auroc[k].value.map_or("n/a".into(), |v| format!("{v:.3}")))).collect();
        let curves: Vec<Curve<'_>> = c
            .roc
            .iter()
            .zip(&labels)
            .filter_map(|(per, label)| per[k].as_deref().map(|points| Curve { label, points }))
            .collect();
        if curves.is_empty() {
            continue;
        }
        let rel = PathBuf::from("roc").join(format!("{}.png", file_stem(f)));
        roc_png(&dir.join(&rel), f, &curves, 640)?;
        written.push(rel);
    }
    Ok(written)
}

/// Every note of an evaluation: the main ones, calibration, subgroups.
pub fn all_evaluation_notes(ev: &Evaluation) -> Vec<String> {
    let mut n = evaluation_notes(ev);
    n.extend(calibration::calibration_notes(ev));
    n.extend(subgroups::subgroup_notes(ev));
    n
}

/// Every table of an evaluation: per finding, calibration, then the subgroup tables.
pub fn all_evaluation_tables(ev: &Evaluation) -> Vec<(String, Table)> {
    let mut t = vec![(String::new(), evaluation_table(ev)), ("Calibration".to_string(), calibration::calibration_table(ev))];
    t.extend(subgroups::subgroup_tables(ev));
    t
}

/// Every table of a comparison: AUROC per model, Δ per pair, then the subgroup view.
pub fn all_comparison_tables(c: &Comparison) -> Vec<(String, Table)> {
    let mut t = comparison_tables(c);
    t.extend(subgroups::comparison_subgroup_tables(c));
    t
}

/// Writes an evaluation's `report.json`, `report.md`, ROC plots and reliability diagrams into
/// `dir`; returns the plot paths (relative to `dir`).
pub fn write_evaluation(dir: &Path, rep: &Report<Evaluation>) -> Result<Vec<PathBuf>, ReportError> {
    let ev = &rep.results;
    let sections = vec![("ROC curves".to_string(), plot_evaluation(dir, ev)?), ("Reliability diagrams".to_string(), calibration::plot_calibration(dir, ev)?)];
    write_file(dir, "report.json", &rep.to_json()?)?;
    write_file(dir, "report.md", &markdown("Evaluation", &all_evaluation_notes(ev), &all_evaluation_tables(ev), &sections))?;
    Ok(sections.into_iter().flat_map(|s| s.1).collect())
}

/// Writes a comparison's `report.json`, `report.md` and ROC plots into `dir`; returns the
/// plot paths (relative to `dir`).
pub fn write_comparison(dir: &Path, rep: &Report<Comparison>) -> Result<Vec<PathBuf>, ReportError> {
    let plots = plot_comparison(dir, &rep.results)?;
    let tables = all_comparison_tables(&rep.results);
    write_file(dir, "report.json", &rep.to_json()?)?;
    write_file(dir, "report.md", &markdown("Comparison", &comparison_notes(&rep.results), &tables, &[("ROC curves".into(), plots.clone())]))?;
    Ok(plots)
}

/// Writes `contents` to `dir/name` atomically ([`crate::fsutil::write_atomic`]), creating `dir`.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> Result<PathBuf, ReportError> {
    let path = dir.join(name);
    crate::fsutil::write_atomic(&path, contents.as_bytes()).map_err(|source| ReportError::Write { path: path.clone(), source })?;
    Ok(path)
}
