//! The calibration part of an evaluation report: the per-finding table (ECE and Brier score,
//! before and after recalibration), its notes, and the reliability diagrams
//! (`reliability/<finding>.png`, one curve before and one after recalibration, with the bin
//! counts; `reliability_overview.png`, one curve per finding).

use std::path::{Path, PathBuf};

use super::{fmt_estimate, ReportError, Table};
use crate::evaluate::calibration::bins::Bin;
use crate::evaluate::calibration::recalibrate::Fitted;
use crate::evaluate::evaluation::Evaluation;
use crate::plot::file_stem;
use crate::plot::reliability::{reliability_png, ReliabilityCurve};

/// Per-finding calibration table.
pub fn calibration_table(ev: &Evaluation) -> Table {
    let recal = ev.analysis.recalibrate.is_some();
    let mut header: Vec<String> = ["Finding", "n", "ECE [95% CI]", "Brier [95% CI]"].map(String::from).to_vec();
    if recal {
        header.extend(["Recalibration", "ECE after", "Brier after"].map(String::from));
    }
    let rows = ev
        .calibration
        .iter()
        .map(|c| {
            let mut r = vec![c.finding.clone(), c.n.to_string(), fmt_estimate(&c.ece), fmt_estimate(&c.brier)];
            if recal {
                match &c.recalibrated {
                    None => r.extend(["n/a".to_string(), "n/a".into(), "n/a".into()]),
                    Some(a) => r.extend([fmt_fitted(&a.fitted), fmt_estimate(&a.ece), fmt_estimate(&a.brier)]),
                }
            }
            r
        })
        .collect();
    Table { header, rows }
}

/// `T = 1.234` or `a = 0.812, b = -0.120`.
pub fn fmt_fitted(f: &Fitted) -> String {
    match *f {
        Fitted::Temperature { temperature } => format!("T = {temperature:.3}"),
        Fitted::Platt { slope, intercept } => format!("a = {slope:.3}, b = {intercept:.3}"),
    }
}

/// The sentences that go above the calibration table.
pub fn calibration_notes(ev: &Evaluation) -> Vec<String> {
    let a = &ev.analysis;
    let mut n = vec![format!(
        "Calibration: ECE = Σ (n_bin / n) · |mean predicted probability − fraction of positives| over {} equal-width bins of [0, 1] (Guo et al. 2017); Brier = mean (p − y)²; images with a stated label only, intervals from the same bootstrap replicates.",
        a.calibration_bins
    )];
    if let Some(m) = a.recalibrate {
        let what = match m {
            crate::evaluate::calibration::recalibrate::Recalibration::Temperature => "temperature scaling σ(z / T) (Guo et al. 2017)",
            crate::evaluate::calibration::recalibrate::Recalibration::Platt => "Platt scaling σ(a·z + b) with Platt's smoothed targets (Platt 1999)",
        };
        n.push(format!("Recalibration: {what} on the logit z, fitted per finding on the validation predictions and applied unchanged to test; \"after\" intervals hold the fitted map fixed."));
    }
    for c in ev.calibration.iter().filter(|c| c.note.is_some()) {
        n.push(format!("{}: {}.", c.finding, c.note.as_deref().unwrap_or_default()));
    }
    n
}

/// The `(mean_p, frac_pos)` points of the non-empty bins.
fn points(bins: &[Bin]) -> Vec<(f64, f64)> {
    bins.iter().filter_map(|b| Some((b.mean_p?, b.frac_pos?))).collect()
}

/// Reliability diagrams of an evaluation under `dir`: `reliability/<finding>.png` and
/// `reliability_overview.png`; returns the written paths relative to `dir`.
pub fn plot_calibration(dir: &Path, ev: &Evaluation) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let cals: Vec<_> = ev.calibration.iter().filter(|c| c.n > 0).collect();
    let before: Vec<Vec<(f64, f64)>> = cals.iter().map(|c| points(&c.bins)).collect();
    let labels: Vec<String> = cals.iter().map(|c| format!("{} ECE {}", c.finding, c.ece.value.map_or("n/a".into(), |v| format!("{v:.3}")))).collect();
    for (k, c) in cals.iter().enumerate() {
        let after = c.recalibrated.as_ref().map(|a| points(&a.bins));
        let after_label = c.recalibrated.as_ref().map(|a| format!("after {}", fmt_fitted(&a.fitted)));
        let mut curves = vec![ReliabilityCurve { label: "model", points: &before[k] }];
        if let (Some(pts), Some(label)) = (&after, &after_label) {
            curves.push(ReliabilityCurve { label, points: pts });
        }
        let counts: Vec<(f64, f64, usize)> = c.bins.iter().map(|b| (b.lo, b.hi, b.n)).collect();
        let rel = PathBuf::from("reliability").join(format!("{}.png", file_stem(&c.finding)));
        let title = format!("{}: ECE {}, Brier {}", c.finding, fmt_estimate(&c.ece), c.brier.value.map_or("n/a".into(), |v| format!("{v:.3}")));
        reliability_png(&dir.join(&rel), &title, &curves, &counts, 600)?;
        written.push(rel);
    }
    let all: Vec<ReliabilityCurve<'_>> = before.iter().zip(&labels).map(|(points, label)| ReliabilityCurve { label, points }).collect();
    let rel = PathBuf::from("reliability_overview.png");
    reliability_png(&dir.join(&rel), "Reliability diagram, all findings", &all, &[], 800)?;
    written.insert(0, rel);
    Ok(written)
}
