//! `cxr-train evaluate <RUN>` or `cxr-train evaluate --predictions preds.parquet [--val-predictions val.parquet] [--bootstrap N]
//! [--seed S] [--resample images|patients] [--split test] [--format table|json|md] [--out DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use cxr::evaluate::bootstrap::Resample;
use cxr::evaluate::evaluation::{evaluate, select_split, StatOptions};
use cxr::evaluate::predictions::Predictions;
use cxr::evaluate::report::{self, InputFile, Report};
use cxr::model::Precision;
use cxr::run::{RunConfig, RunDir};
use cxr::runtime::DeviceSpec;

/// Output format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Md,
}

/// Bootstrap and selection options shared with `compare`.
#[derive(Args, Debug, Clone)]
pub struct StatArgs {
    /// Bootstrap replicates (0: no confidence intervals)
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap (same seed, same intervals on every machine)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// What one bootstrap draw resamples
    #[arg(long, value_enum, default_value = "images")]
    pub resample: Resample,
    /// Evaluate only rows of this split (`all`: every row)
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Confidence level of the percentile intervals
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Folder for report.json, report.md and ROC plots (PNG)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl StatArgs {
    pub fn options(&self) -> StatOptions {
        StatOptions {
            bootstrap: self.bootstrap,
            seed: self.seed,
            resample: self.resample,
            level: self.level,
            split: (self.split != "all").then(|| self.split.clone()),
        }
    }
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// A run folder: predict its test and val splits (into RUN/predictions/) and evaluate them,
    /// with the thresholds chosen on val
    #[arg(conflicts_with_all = ["predictions", "val_predictions"], required_unless_present = "predictions")]
    run: Option<PathBuf>,
    /// Predictions file (Parquet: image_id, patient_id, split, y_F, p_F) of any model
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Validation predictions to choose the Youden thresholds on (may be the same file);
    /// without it the thresholds are chosen on test, and the report says so
    #[arg(long)]
    val_predictions: Option<PathBuf>,
    /// Split of the validation predictions to use (`all`: every row)
    #[arg(long, default_value = "val")]
    val_split: String,
    /// Device for predicting a run folder: cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Matmul precision for predicting a run folder (default: the run's own)
    #[arg(long, value_enum)]
    precision: Option<Precision>,
    #[command(flatten)]
    stats: StatArgs,
}

/// Predicts a run folder's `split` (cached in RUN/predictions/) on the requested device.
pub fn run_predictions(
    run: &std::path::Path,
    split: &str,
    precision: Option<Precision>,
    device: &DeviceSpec,
) -> anyhow::Result<PathBuf> {
    let path = crate::with_backend!(device.clone(), |B, dev| cxr::evaluate::predict::predict_run::<B>(run, split, precision, &dev))
        .with_context(|| format!("predicting the {split} split of {}", run.display()))?;
    Ok(path)
}

pub fn run(mut a: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let mut run_config = serde_json::Value::Null;
    if let Some(run) = &a.run {
        a.predictions = Some(run_predictions(run, "test", a.precision, &a.device)?);
        a.val_predictions = Some(run_predictions(run, "val", a.precision, &a.device)?);
        run_config = serde_json::to_value(RunConfig::read(&RunDir::new(run).config())?)?;
    }
    let predictions = a.predictions.clone().context("give a run folder or --predictions")?;
    let opts = a.stats.options();
    let preds = Predictions::read(&predictions)?;
    let mut inputs = vec![InputFile::new("test", &predictions)?];
    let val = match &a.val_predictions {
        None => None,
        Some(path) => {
            let v = Predictions::read(path)?;
            inputs.push(InputFile::new("validation", path)?);
            let split = (a.val_split != "all").then_some(a.val_split.as_str());
            Some(select_split(&v, split, "validation predictions")?)
        }
    };
    let ev = evaluate(&preds, val.as_ref(), &opts).context("evaluation failed")?;
    let config = serde_json::json!({
        "run": a.run,
        "run_config": run_config,
        "predictions": predictions,
        "val_predictions": a.val_predictions,
        "val_split": a.val_split,
    });
    let rep = Report::new("cxr-train evaluate", config, inputs, ev);
    let notes = report::evaluation_notes(&rep.results);
    let tables = vec![(String::new(), report::evaluation_table(&rep.results))];
    if let Some(dir) = &a.stats.out {
        let plots = report::write_evaluation(dir, &rep)?;
        eprintln!("report.json, report.md and {} ROC plots -> {}", plots.len(), dir.display());
    }
    match a.stats.format {
        Format::Json => cxr::outln!("{}", rep.to_json()?)?,
        Format::Md => cxr::out!("{}", report::markdown("Evaluation", &notes, &tables, &[]))?,
        Format::Table => cxr::out!("{}", report::text(&notes, &tables))?,
    }
    if rep.results.macro_over.is_empty() {
        eprintln!("no finding has both classes on these images: nothing to evaluate");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
