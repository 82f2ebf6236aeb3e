//! Rendering `Stats` as an aligned text table, CSV or JSON.

use super::Stats;

/// Output format of `cxr-prep stats` (`--format table|csv|json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

fn prevalence(p: Option<f64>) -> String {
    p.map(|p| format!("{:.4}", p)).unwrap_or_else(|| "-".into())
}

/// Renders the statistics.
pub fn render(stats: &Stats, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(stats).unwrap_or_default() + "\n",
        Format::Csv => {
            let mut s = String::from("dataset,finding,positive,negative,uncertain,unstated,prevalence\n");
            for f in &stats.findings {
                s.push_str(&format!(
                    "{},{},{},{},{},{},{}\n",
                    f.dataset, f.finding, f.positive, f.negative, f.uncertain, f.unstated,
                    f.prevalence.map(|p| p.to_string()).unwrap_or_default()
                ));
            }
            s.push_str("\ndataset,split,view,images,patients\n");
            for g in &stats.groups {
                s.push_str(&format!("{},{},{},{},{}\n", g.dataset, g.split, g.view, g.images, g.patients));
            }
            s
        }
        Format::Table => {
            let mut s = format!(
                "{:<10} {:<28} {:>9} {:>9} {:>9} {:>9} {:>10}\n",
                "dataset", "finding", "positive", "negative", "uncertain", "unstated", "prevalence"
            );
            for f in &stats.findings {
                s.push_str(&format!(
                    "{:<10} {:<28} {:>9} {:>9} {:>9} {:>9} {:>10}\n",
                    f.dataset, f.finding, f.positive, f.negative, f.uncertain, f.unstated, prevalence(f.prevalence)
                ));
            }
            s.push_str(&format!("\n{:<10} {:<6} {:<10} {:>9} {:>9}\n", "dataset", "split", "view", "images", "patients"));
            for g in &stats.groups {
                s.push_str(&format!("{:<10} {:<6} {:<10} {:>9} {:>9}\n", g.dataset, g.split, g.view, g.images, g.patients));
            }
            s
        }
    }
}
