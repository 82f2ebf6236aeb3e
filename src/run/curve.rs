//! `curve.png`: the learning curves of a run, redrawn after every epoch.
//!
//! Two panels over the finished epochs (x: epoch number, integer ticks). Left, "Loss": train
//! loss (blue) and val loss (orange) on the observed range with 10 % margins. Right,
//! "Validation AUROC": the mean over (dataset, label) pairs (bold red), every pair faintly in
//! grey, and the 0.5 chance line dashed; the y axis spans 0.4–1.0, lower when an AUROC is.
//! The best epoch (the checkpoint `fit` kept as best) is a dashed green line in both panels. Text uses the embedded font of [`crate::plot`].

use std::collections::BTreeMap;
use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{EpochMetrics, TrainerState};
use crate::plot::{boxed, legend, png, Area, DrawResult, PlotError};

/// Pixel size of `curve.png`.
pub const SIZE: (u32, u32) = (1100, 420);

const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);
const MEAN: RGBColor = RGBColor(214, 39, 40);
const BEST: RGBColor = RGBColor(44, 160, 44);

/// Writes `curve.png` for `metrics` (one entry per finished epoch, in order).
pub fn curve_png(path: &Path, metrics: &[EpochMetrics]) -> Result<(), PlotError> {
    png(path, SIZE, |root| {
        root.fill(&WHITE).map_err(boxed)?;
        let (left, right) = root.split_horizontally(SIZE.0 / 2);
        let best = best_epoch(metrics);
        loss_panel(&left, metrics, best)?;
        auroc_panel(&right, metrics, best)
    })
}

/// The best epoch as `fit` chooses it ([`TrainerState::improves`]).
pub fn best_epoch(metrics: &[EpochMetrics]) -> Option<usize> {
    let mut state = TrainerState::new();
    for m in metrics {
        if state.improves(m.val_auroc_mean) {
            state.best_auroc = m.val_auroc_mean;
            state.best_epoch = Some(m.epoch);
        }
    }
    state.best_epoch
}

/// The x range: epochs 1..=n with half an epoch of room on each side (integer ticks).
fn epochs(metrics: &[EpochMetrics]) -> std::ops::Range<f64> {
    let last = metrics.iter().map(|m| m.epoch).max().unwrap_or(1).max(1);
    0.5..last as f64 + 0.5
}

fn epoch_label(x: &f64) -> String {
    if x.fract() == 0.0 { format!("{x:.0}") } else { String::new() }
}

fn loss_panel(area: &Area<'_>, metrics: &[EpochMetrics], best: Option<usize>) -> DrawResult {
    let finite: Vec<f64> =
        metrics.iter().flat_map(|m| [m.train_loss, m.val_loss]).filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // The loss axis spans the observed range with 10 % margins (losses rarely approach 0 here).
    let (lo, hi) = if lo.is_finite() {
        let pad = ((hi - lo) * 0.1).max(1e-3);
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let mut chart = panel(area, "Loss (masked BCE)", "Loss", metrics, lo..hi, 3)?;
    let series = |f: fn(&EpochMetrics) -> f64| {
        metrics.iter().map(move |m| (m.epoch as f64, f(m))).filter(|(_, v)| v.is_finite())
    };
    for (name, color, f) in [
        ("train loss", TRAIN, (|m: &EpochMetrics| m.train_loss) as fn(&EpochMetrics) -> f64),
        ("val loss", VAL, |m: &EpochMetrics| m.val_loss),
    ] {
        chart
            .draw_series(LineSeries::new(series(f), color.stroke_width(2)).point_size(3))
            .map_err(boxed)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    mark_best(&mut chart, best, lo..hi)?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn auroc_panel(area: &Area<'_>, metrics: &[EpochMetrics], best: Option<usize>) -> DrawResult {
    // Per (dataset, label): its val AUROC per epoch (epochs where it has none are skipped).
    let mut pairs: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for m in metrics {
        for (dataset, labels) in &m.val_auroc {
            for (label, auc) in labels {
                if let Some(a) = auc.filter(|a| a.is_finite()) {
                    pairs.entry((dataset.clone(), label.clone())).or_default().push((m.epoch as f64, a));
                }
            }
        }
    }
    let lowest = pairs.values().flatten().map(|p| p.1).fold(0.4, f64::min);
    let lo = if lowest < 0.4 { (lowest - 0.05).max(0.0) } else { 0.4 };
    let mut chart = panel(area, "Validation AUROC", "AUROC", metrics, lo..1.0, 2)?;
    let x = epochs(metrics);
    chart
        .draw_series(DashedLineSeries::new([(x.start, 0.5), (x.end, 0.5)], 4, 4, BLACK.mix(0.4).stroke_width(1)))
        .map_err(boxed)?
        .label("chance (0.5)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.4).stroke_width(1)));
    let faint = BLACK.mix(0.2);
    for (k, points) in pairs.values().enumerate() {
        let drawn = chart
            .draw_series(LineSeries::new(points.iter().copied(), faint.stroke_width(1)))
            .map_err(boxed)?;
        if k == 0 {
            drawn
                .label(format!("each label ({})", pairs.len()))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], faint.stroke_width(1)));
        }
    }
    let mean = metrics.iter().filter_map(|m| Some((m.epoch as f64, m.val_auroc_mean.filter(|a| a.is_finite())?)));
    chart
        .draw_series(LineSeries::new(mean, MEAN.stroke_width(3)).point_size(4))
        .map_err(boxed)?
        .label("mean")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], MEAN.stroke_width(3)));
    mark_best(&mut chart, best, lo..1.0)?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

type Chart<'a> = ChartContext<'a, BitMapBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A panel titled `title`: epochs on x (integer ticks), `y` with `decimals` on the y ticks.
fn panel<'a>(
    area: &Area<'a>,
    title: &str,
    y_desc: &str,
    metrics: &[EpochMetrics],
    y: std::ops::Range<f64>,
    decimals: usize,
) -> Result<Chart<'a>, Box<dyn std::error::Error + Send + Sync>> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(epochs(metrics), y)
        .map_err(boxed)?;
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .y_desc(y_desc)
        .x_labels(metrics.len().clamp(2, 12) + 1)
        .x_label_formatter(&epoch_label)
        .y_labels(7)
        .y_label_formatter(&|v| format!("{v:.decimals$}"))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(boxed)?;
    Ok(chart)
}

/// The best epoch as a dashed vertical line over `y`, with its legend entry.
fn mark_best(chart: &mut Chart<'_>, best: Option<usize>, y: std::ops::Range<f64>) -> DrawResult {
    if let Some(e) = best {
        chart
            .draw_series(DashedLineSeries::new([(e as f64, y.start), (e as f64, y.end)], 6, 4, BEST.stroke_width(1)))
            .map_err(boxed)?
            .label(format!("best epoch ({e})"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BEST.stroke_width(1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, train: f64, val: f64, mean: Option<f64>) -> EpochMetrics {
        let labels = [("Mass".to_string(), mean.map(|m| m - 0.05)), ("Hernia".to_string(), None)];
        EpochMetrics {
            epoch,
            steps: 10,
            lr: 1e-5,
            train_loss: train,
            val_loss: val,
            val_auroc_mean: mean,
            val_auroc: BTreeMap::from([("nih".to_string(), labels.into_iter().collect())]),
            images_per_s: 100.0,
            seconds: 1.0,
        }
    }

    #[test]
    fn best_epoch_is_the_first_highest_mean() {
        let m = [epoch(1, 0.7, 0.6, Some(0.6)), epoch(2, 0.6, 0.5, Some(0.7)), epoch(3, 0.5, 0.5, Some(0.7))];
        assert_eq!(best_epoch(&m), Some(2));
        // Without any mean the first epoch is kept, as fit keeps its checkpoint.
        assert_eq!(best_epoch(&[epoch(1, 0.7, 0.6, None), epoch(2, 0.6, 0.6, None)]), Some(1));
        assert_eq!(best_epoch(&[]), None);
    }

    #[test]
    fn curve_has_both_panels_with_text_and_series() {
        let dir = tempfile::tempdir().unwrap();
        let m = [epoch(1, 0.7, 0.65, Some(0.61)), epoch(2, 0.6, 0.62, Some(0.72)), epoch(3, 0.5, 0.64, Some(0.70))];
        let path = dir.path().join("curve.png");
        curve_png(&path, &m).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), SIZE);
        let count = |c: RGBColor| img.pixels().filter(|p| p.0 == [c.0, c.1, c.2]).count();
        // Each series is drawn in its own colour, in its panel.
        for (name, c) in [("train", TRAIN), ("val", VAL), ("mean", MEAN), ("best", BEST)] {
            assert!(count(c) > 50, "{name} colour drawn: {}", count(c));
        }
        let left_red = img.enumerate_pixels().filter(|(x, _, p)| *x < SIZE.0 / 2 && p.0 == [MEAN.0, MEAN.1, MEAN.2]).count();
        assert_eq!(left_red, 0, "the mean AUROC is on the right panel only");
        // Text (titles, ticks, legends) draws many grey levels of anti-aliased black.
        let greys = img.pixels().filter(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2] && p.0[0] < 200).count();
        assert!(greys > 2000, "text and axes drawn: {greys}");
        // One epoch, or none, still draws.
        curve_png(&path, &m[..1]).unwrap();
        curve_png(&path, &[]).unwrap();
    }
}
