//! `cxr-train compare <preds>… [--names a,b,…] [--reference NAME] [--by sex,age,view,dataset]
//! [--store S] [--bootstrap N] [--seed S] [--resample images|patients] [--split test]
//! [--alpha 0.05] [--format table|json|md] [--out DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use cxr::evaluate::compare::compare_with;
use cxr::evaluate::report::{self, InputFile, Report};

use crate::stat_args::StatArgs;

#[derive(Args)]
pub struct CompareArgs {
    /// Predictions files (Parquet) or run folders of two or more models on the same images
    #[arg(required = true, num_args = 2..)]
    predictions: Vec<PathBuf>,
    /// Model names, comma-separated, one per file (default: the file stems)
    #[arg(long, value_delimiter = ',')]
    names: Option<Vec<String>>,
    /// The model every other is compared against (default: the first)
    #[arg(long)]
    reference: Option<String>,
    /// Device for predicting run folders: cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    device: cxr::runtime::DeviceSpec,
    #[command(flatten)]
    stats: StatArgs,
}

pub fn run(a: CompareArgs) -> anyhow::Result<ExitCode> {
    let names: Vec<String> = match &a.names {
        Some(n) if n.len() != a.predictions.len() => {
            bail!("--names has {} names for {} predictions files", n.len(), a.predictions.len())
        }
        Some(n) => n.clone(),
        None => a
            .predictions
            .iter()
            .map(|p| {
                let stem = if p.is_dir() { p.file_name() } else { p.file_stem() };
                stem.map_or_else(|| p.display().to_string(), |s| s.to_string_lossy().into_owned())
            })
            .collect(),
    };
    let mut models = Vec::new();
    let mut inputs = Vec::new();
    for (name, path) in names.iter().zip(&a.predictions) {
        // A run folder: its test predictions (predicted once, cached in RUN/predictions/).
        let file = if path.is_dir() { crate::evaluate::run_predictions(path, "test", None, &a.device)? } else { path.clone() };
        models.push((name.clone(), a.stats.read(&file)?));
        inputs.push(InputFile::new(name, &file)?);
    }
    let opts = a.stats.options();
    let cmp = compare_with(&models, a.reference.as_deref(), &opts, a.stats.alpha, &a.stats.by()).context("comparison failed")?;
    let config = serde_json::json!({ "predictions": a.predictions, "names": names, "reference": a.reference, "store": a.stats.store });
    let rep = Report::new("cxr-train compare", config, inputs, cmp);
    let notes = report::comparison_notes(&rep.results);
    let tables = report::all_comparison_tables(&rep.results);
    if let Some(dir) = &a.stats.out {
        let plots = report::write_comparison(dir, &rep)?;
        eprintln!("report.json, report.md and {} ROC plots -> {}", plots.len(), dir.display());
    }
    a.stats.print(&rep, "Comparison", &notes, &tables)?;
    Ok(ExitCode::SUCCESS)
}
