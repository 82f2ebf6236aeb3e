//! Reliability diagrams (calibration curves): the fraction of positives against the mean
//! predicted probability of each non-empty bin, with the diagonal of perfect calibration, and
//! under it a histogram of how many images fall in each bin.

use std::path::Path;

use plotters::prelude::*;

use super::{axes, boxed, legend, png, series, Area, DrawResult, PALETTE};

/// One labelled calibration curve: `(mean predicted probability, fraction of positives)` per
/// non-empty bin, in bin order.
#[derive(Debug, Clone, Copy)]
pub struct ReliabilityCurve<'a> {
    pub label: &'a str,
    pub points: &'a [(f64, f64)],
}

/// One bin of the count histogram: `(lower edge, upper edge, images)`.
pub type BinCount = (f64, f64, usize);

/// Writes a `size`×`size` PNG: `curves` over the diagonal, and (when `counts` is not empty) a
/// histogram of the bin counts in the lower quarter.
pub fn reliability_png(path: &Path, title: &str, curves: &[ReliabilityCurve<'_>], counts: &[BinCount], size: u32) -> Result<(), super::PlotError> {
    png(path, (size, size), |root| {
        root.fill(&WHITE).map_err(boxed)?;
        if counts.is_empty() {
            return draw_curves(root, title, curves, true);
        }
        let (upper, lower) = root.split_vertically(size * 3 / 4);
        draw_curves(&upper, title, curves, false)?;
        draw_counts(&lower, counts)
    })
}

fn draw_curves(area: &Area<'_>, title: &str, curves: &[ReliabilityCurve<'_>], x_desc: bool) -> DrawResult {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(if x_desc { 40 } else { 20 })
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(boxed)?;
    axes(&mut chart, x_desc.then_some("Mean predicted probability"), "Fraction of positives", 6, 13)?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3).stroke_width(1)))
        .map_err(boxed)?
        .label("perfectly calibrated")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.mix(0.3).stroke_width(1)));
    for (k, c) in curves.iter().enumerate() {
        let color = series(&mut chart, k, c.label, c.points)?;
        chart
            .draw_series(c.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(boxed)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn draw_counts(area: &Area<'_>, counts: &[BinCount]) -> DrawResult {
    let max = counts.iter().map(|c| c.2).max().unwrap_or(0).max(1) as f64;
    let mut chart = ChartBuilder::on(area)
        .margin_left(12)
        .margin_right(12)
        .margin_bottom(8)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..max * 1.05)
        .map_err(boxed)?;
    axes(&mut chart, Some("Mean predicted probability (bars: images per bin)"), "Images", 3, 12)?;
    let bar = PALETTE[7].mix(0.6).filled();
    chart
        .draw_series(counts.iter().filter(|c| c.2 > 0).map(|&(lo, hi, n)| Rectangle::new([(lo, 0.0), (hi, n as f64)], bar)))
        .map_err(boxed)?;
    Ok(())
}
