//! `cxr-train evaluate <RUN>` or `cxr-train evaluate --predictions preds.parquet [--val-predictions val.parquet]
//! [--by sex,age,view,dataset] [--store S] [--calibration-bins 10] [--recalibrate temperature|platt]
//! [--threshold T|F=T,…] [--bootstrap N] [--seed S] [--resample images|patients] [--split test]
//! [--format table|json|md] [--out DIR]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use cxr::evaluate::calibration::recalibrate::Recalibration;
use cxr::evaluate::evaluation::{evaluate_with, select_split, Analysis};
use cxr::evaluate::report::{self, InputFile, Report};
use cxr::evaluate::threshold::GivenThresholds;
use cxr::model::Precision;
use cxr::run::{RunConfig, RunDir};
use cxr::runtime::DeviceSpec;

use crate::stat_args::StatArgs;

#[derive(Args)]
pub struct EvaluateArgs {
    /// A run folder: predict its test and val splits (into RUN/predictions/) and evaluate them,
    /// with the thresholds chosen on val
    #[arg(conflicts_with_all = ["predictions", "val_predictions"], required_unless_present = "predictions")]
    run: Option<PathBuf>,
    /// Predictions file (Parquet: image_id, patient_id, split, [dataset, sex, age, view,] y_F, p_F) of any model
    #[arg(long)]
    predictions: Option<PathBuf>,
    /// Validation predictions to choose the Youden thresholds on (may be the same file);
    /// without it the thresholds are chosen on test, and the report says so
    #[arg(long)]
    val_predictions: Option<PathBuf>,
    /// Split of the validation predictions to use (`all`: every row)
    #[arg(long, default_value = "val")]
    val_split: String,
    /// Equal-width bins over [0, 1] of the reliability diagram and the expected calibration error
    #[arg(long, default_value_t = Analysis::default().calibration_bins)]
    calibration_bins: usize,
    /// Recalibrate each finding on the validation predictions (temperature: Guo et al. 2017; platt: Platt 1999) and report calibration before and after
    #[arg(long, value_enum)]
    recalibrate: Option<Recalibration>,
    /// Operating threshold instead of Youden's J: T for every finding and/or FINDING=T (comma-separated)
    #[arg(long, value_delimiter = ',')]
    threshold: Vec<String>,
    /// Subgroups with fewer positives (or negatives) of a finding than this get an "unstable" warning
    #[arg(long, default_value_t = Analysis::default().min_positives)]
    min_positives: usize,
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
    let analysis = Analysis {
        by: a.stats.by(),
        calibration_bins: a.calibration_bins,
        recalibrate: a.recalibrate,
        thresholds: GivenThresholds::parse(&a.threshold).map_err(anyhow::Error::msg)?,
        min_positives: a.min_positives,
        alpha: a.stats.alpha,
    };
    let preds = a.stats.read(&predictions)?;
    let mut inputs = vec![InputFile::new("test", &predictions)?];
    let val = match &a.val_predictions {
        None => None,
        Some(path) => {
            let v = a.stats.read(path)?;
            inputs.push(InputFile::new("validation", path)?);
            let split = (a.val_split != "all").then_some(a.val_split.as_str());
            Some(select_split(&v, split, "validation predictions")?)
        }
    };
    let ev = evaluate_with(&preds, val.as_ref(), &opts, &analysis).context("evaluation failed")?;
    let config = serde_json::json!({
        "run": a.run,
        "run_config": run_config,
        "predictions": predictions,
        "val_predictions": a.val_predictions,
        "val_split": a.val_split,
        "store": a.stats.store,
    });
    let rep = Report::new("cxr-train evaluate", config, inputs, ev);
    if let Some(dir) = &a.stats.out {
        let plots = report::write_evaluation(dir, &rep)?;
        eprintln!("report.json, report.md and {} plots -> {}", plots.len(), dir.display());
    }
    let (notes, tables) = (report::all_evaluation_notes(&rep.results), report::all_evaluation_tables(&rep.results));
    a.stats.print(&rep, "Evaluation", &notes, &tables)?;
    if rep.results.macro_over.is_empty() {
        eprintln!("no finding has both classes on these images: nothing to evaluate");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
