//! Figures as PNG files, drawn with `plotters` into an RGB buffer and encoded by `image`: ROC
//! curves here, reliability diagrams in [`reliability`], the training curve of a run in
//! [`crate::run::curve`].
//!
//! Text uses an embedded ASCII subset of DejaVu Sans Mono (`font/`, 8 KB, licence in
//! `font/LICENSE.md`) through plotters' `ab_glyph` feature, so no system font or fontconfig is
//! needed. One plot per finding (one curve per model) and an overview (one curve per finding,
//! or per model for the macro view) are what `evaluate`/`compare` write.

pub mod reliability;

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

static FONT: &[u8] = include_bytes!("font/DejaVuSansMono-subset.ttf");
static REGISTER: Once = Once::new();

/// Errors drawing or writing a plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("Failed to draw plot `{path}`")]
    Draw { path: PathBuf, #[source] source: Box<dyn std::error::Error + Send + Sync> },
    #[error("Failed to write plot `{path}`")]
    Write { path: PathBuf, #[source] source: image::ImageError },
}

/// One labelled ROC curve: `(fpr, tpr)` points from (0, 0) to (1, 1).
#[derive(Debug, Clone, Copy)]
pub struct Curve<'a> {
    pub label: &'a str,
    pub points: &'a [(f64, f64)],
}

/// Distinct colours for up to ten curves (Tableau 10), then they repeat.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn ensure_font() {
    REGISTER.call_once(|| {
        for family in ["sans-serif", "monospace", "serif"] {
            // The embedded font is a valid TrueType file (checked by a test); a failure here
            // only costs the text, which plotters then reports as a draw error.
            let _ = register_font(family, FontStyle::Normal, FONT);
        }
    });
}

/// Writes a `size`×`size` PNG with `curves`, the chance diagonal, axis labels and a legend.
pub fn roc_png(path: &Path, title: &str, curves: &[Curve<'_>], size: u32) -> Result<(), PlotError> {
    png(path, (size, size), |root| draw(root, title, curves))
}

/// The drawing area of one figure.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// Draws a `width`×`height` figure with `draw` (the embedded font registered) and writes it to
/// `path` as PNG, atomically ([`crate::fsutil::write_atomic_with`]), creating the parent folder.
pub fn png(path: &Path, (width, height): (u32, u32), draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<(), PlotError> {
    ensure_font();
    let mut buf = vec![255u8; (width * height * 3) as usize];
    let draw_err = |e: Box<dyn std::error::Error + Send + Sync>| PlotError::Draw { path: path.to_path_buf(), source: e };
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
        draw(&root).map_err(draw_err)?;
        root.present().map_err(|e| draw_err(Box::new(e)))?;
    }
    let img = image::RgbImage::from_raw(width, height, buf).ok_or_else(|| {
        draw_err(Box::new(std::io::Error::other("pixel buffer has the wrong length")))
    })?;
    let write_err = |source| PlotError::Write { path: path.to_path_buf(), source };
    crate::fsutil::write_atomic_with(
        path,
        |f| {
            let mut w = std::io::BufWriter::new(f);
            img.write_to(&mut w, image::ImageFormat::Png).map_err(write_err)?;
            std::io::Write::flush(&mut w).map_err(|e| write_err(image::ImageError::IoError(e)))
        },
        |e| write_err(image::ImageError::IoError(e)),
    )
}

/// A drawing error as a boxed error (plotters' error type borrows the backend's).
pub fn boxed<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Box<dyn std::error::Error + Send + Sync> {
    Box::new(std::io::Error::other(e.to_string()))
}

/// What a drawing function returns.
pub type DrawResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, plotters::coord::Shift>, title: &str, curves: &[Curve<'_>]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(boxed)?;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..1f64, 0f64..1f64)
        .map_err(boxed)?;
    axes(&mut chart, Some("False positive rate (1 - specificity)"), "True positive rate (sensitivity)", 6, 13)?;
    chart
        .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3).stroke_width(1)))
        .map_err(boxed)?;
    for (k, c) in curves.iter().enumerate() {
        series(&mut chart, k, c.label, c.points)?;
    }
    if !curves.is_empty() {
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

/// Draws `points` as the `k`-th labelled line of `chart` (colour `PALETTE[k]`, with its legend
/// entry); returns the colour.
pub fn series<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    k: usize,
    label: &str,
    points: &[(f64, f64)],
) -> Result<RGBColor, Box<dyn std::error::Error + Send + Sync>>
where
    DB::ErrorType: 'static,
{
    let color = PALETTE[k % PALETTE.len()];
    chart
        .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))
        .map_err(boxed)?
        .label(label.to_string())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    Ok(color)
}

/// Draws the axes of a chart over `[0, 1]` × `[0, y]` in the crate's style: descriptions
/// (`x_desc` may be left out), six x ticks and `y_labels` y ticks, no minor grid, labels at
/// `font` px.
pub fn axes<'a, DB: DrawingBackend + 'a>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x_desc: Option<&str>,
    y_desc: &str,
    y_labels: usize,
    font: u32,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(y_desc).x_labels(6).y_labels(y_labels).light_line_style(WHITE.mix(0.0)).label_style(("sans-serif", font));
    if let Some(x) = x_desc {
        mesh.x_desc(x);
    }
    mesh.draw().map_err(boxed)
}

/// Draws the legend of `chart`'s labelled series at `position`, on a light box.
pub fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(boxed)
}

/// A file-name-safe version of a finding or model name (`[A-Za-z0-9_-]`, others → `_`).
pub fn file_stem(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_font_loads_and_draws_text() {
        assert!(register_font("cxr-test", FontStyle::Normal, FONT).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let pts = [(0.0, 0.0), (0.2, 0.7), (1.0, 1.0)];
        let curve = [Curve { label: "m", points: &pts }];
        let (a, b) = (dir.path().join("a.png"), dir.path().join("b.png"));
        roc_png(&a, "AAAA", &curve, 200).unwrap();
        roc_png(&b, "BBBB", &curve, 200).unwrap();
        // Only the title differs, so different pixels mean the text was drawn.
        let (ia, ib) = (image::open(&a).unwrap().to_rgb8(), image::open(&b).unwrap().to_rgb8());
        assert_eq!(ia.dimensions(), (200, 200));
        assert_ne!(ia.as_raw(), ib.as_raw());
    }
}
