//! `cxr-train benchmark`: the study's matrix. For each dataset × initialisation: fit (resumable),
//! predict val and test, evaluate (Youden threshold on val), and per dataset a paired comparison
//! of all initialisations against the reference (DINOv2 when present). MIMIC pretraining runs
//! first when the `mimic` initialisation has no run folder. A finished cell (its test
//! predictions exist) is never re-run, so an interrupted benchmark continues where it stopped.
//!
//! Spreading the matrix over GPUs or nodes: [`run_cells`] (`--cells K/N`) runs a deterministic
//! 1/N of the cells (cell `i` of [`cell_jobs`] belongs to shard `i mod N + 1`; the MIMIC
//! pretraining, when needed, is cell 0, so shard 1 runs it and shards with `mimic` cells run
//! their other cells first, then wait for it). Every shard writes into the same `<OUT>`; a final
//! [`run_benchmark`] (no `--cells`) finds the finished cells and assembles the table.
//!
//! ```text
//! <OUT>/runs/mimic-pretrain/             the supervised MIMIC-CXR pretraining run (when needed)
//! <OUT>/runs/mimic-pretrain/done.json    written when the pretraining finished
//! <OUT>/runs/<dataset>/<init>/           one fit per cell, with predictions/{val,test}.parquet
//! <OUT>/reports/<dataset>/               comparison report (JSON, Markdown, ROC plots)
//! <OUT>/reports/<dataset>/<init>/        evaluation report of the cell
//! <OUT>/benchmark.md, benchmark.json     the study's table
//! <OUT>/size-<S>/…                       the same per resolution with `--sizes` ([`sizes`])
//! ```

pub mod sizes;
pub mod subgroups;
pub mod table;

use std::path::{Path, PathBuf};

use burn::backend::Autodiff;
use burn::prelude::Backend;

use crate::evaluate::attributes::{join_store, Attribute};
use crate::evaluate::compare::{compare_with, Comparison};
use crate::evaluate::evaluation::{evaluate_with, select_split, Analysis, EvalError, StatOptions};
use crate::evaluate::predict::{predict_run, PredictError};
use crate::evaluate::predictions::{Predictions, PredictionsError};
use crate::evaluate::report::{self, InputFile, Report, ReportError};
use crate::model::Precision;
use crate::run::RunDir;
use crate::train::{fit, FitRequest, Init, TrainConfig, TrainError};

pub use sizes::{SIZE_PLACEHOLDER, plans_for_sizes, run_benchmark_sizes};
pub use table::{BenchmarkTable, Cell};

/// Benchmark errors (each names the cell it happened in).
#[derive(Debug, thiserror::Error)]
pub enum BenchmarkError {
    #[error("{0}")]
    Plan(String),
    #[error("Training {cell} failed")]
    Fit { cell: String, #[source] source: TrainError },
    #[error("Predicting {cell} failed")]
    Predict { cell: String, #[source] source: PredictError },
    #[error("Reading predictions of {cell} failed")]
    Predictions { cell: String, #[source] source: PredictionsError },
    #[error("Evaluating {cell} failed")]
    Evaluate { cell: String, #[source] source: EvalError },
    #[error("Writing the report of {cell} failed")]
    Report { cell: String, #[source] source: ReportError },
    #[error("Failed to write `{path}`")]
    Io { path: PathBuf, #[source] source: std::io::Error },
    #[error("Joining the store's sex, age and view into the predictions of {cell} failed")]
    Attributes { cell: String, #[source] source: crate::store::StoreError },
}

/// One column of the matrix: an initialisation and the weights it starts from.
#[derive(Debug, Clone)]
pub struct InitSpec {
    pub init: Init,
    /// Weights file (dinov2, imagenet) or run folder (mimic); `None` for random, and for mimic
    /// = pretrain on the store's MIMIC-CXR first.
    pub weights: Option<PathBuf>,
}

impl InitSpec {
    /// Column name (`dinov2`, `imagenet`, `mimic`, `random`).
    pub fn name(&self) -> String {
        serde_json::to_value(self.init).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}

/// Everything a benchmark needs.
#[derive(Debug, Clone)]
pub struct BenchmarkPlan {
    pub datasets: Vec<String>,
    pub inits: Vec<InitSpec>,
    /// Options of every fit; store, datasets, init and weights are set per cell.
    pub template: TrainConfig,
    /// `--labels` and `--views` of every fit (`study` = the study's per-dataset choice).
    pub labels_arg: String,
    pub views_arg: String,
    pub out: PathBuf,
    pub stats: StatOptions,
    pub alpha: f64,
    /// Subgroup view of the table and reports (`--by`); empty: none.
    pub by: Vec<Attribute>,
    /// Progress bars while training.
    pub progress: bool,
    /// Architecture of the cells that start without weights (the random column, and the MIMIC
    /// pretraining when it starts from random); `None` = the template's `--model`. The demo sets
    /// it to the preset of its first weights file, so that all columns share one architecture.
    pub scratch_model: Option<crate::run::ModelKind>,
}

/// `--cells K/N`: shard `k` (1-based) of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellShard {
    pub k: usize,
    pub n: usize,
}

impl std::str::FromStr for CellShard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}`: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(CellShard { k, n })
    }
}

impl CellShard {
    /// Whether job `i` of [`cell_jobs`] belongs to this shard.
    pub fn owns(&self, i: usize) -> bool {
        i % self.n + 1 == self.k
    }
}

/// One unit of work of the matrix, in the order [`cell_jobs`] fixes.
#[derive(Debug, Clone, PartialEq)]
pub enum CellJob {
    /// The supervised MIMIC-CXR pretraining of the `mimic` column (from `base`).
    MimicPretrain { base: usize },
    /// Fit + val/test predictions of one dataset × initialisation (index into the plan's inits).
    Cell { dataset: String, init: usize },
}

/// The matrix's jobs, deterministically ordered: the MIMIC pretraining first (when the `mimic`
/// column has no run folder), then datasets in plan order × initialisations in plan order,
/// without `mimic × mimic` (the pretraining set).
pub fn cell_jobs(plan: &BenchmarkPlan) -> Vec<CellJob> {
    let mut jobs = Vec::new();
    if plan.inits.iter().any(|s| s.init == Init::Mimic && s.weights.is_none()) {
        let base = plan.inits.iter().position(|s| s.init == Init::Imagenet && s.weights.is_some());
        jobs.push(CellJob::MimicPretrain { base: base.unwrap_or(usize::MAX) });
    }
    for dataset in &plan.datasets {
        for (i, spec) in plan.inits.iter().enumerate() {
            if !(spec.init == Init::Mimic && dataset == "mimic") {
                jobs.push(CellJob::Cell { dataset: dataset.clone(), init: i });
            }
        }
    }
    jobs
}

/// What a finished benchmark produced.
#[derive(Debug, Clone)]
pub struct BenchmarkOutcome {
    pub table: BenchmarkTable,
    /// Per dataset, the paired comparison of its initialisations.
    pub comparisons: Vec<(String, Comparison)>,
    pub markdown: PathBuf,
}

fn fit_cell<I: Backend>(
    plan: &BenchmarkPlan,
    dataset: &str,
    spec: &InitSpec,
    run: &Path,
    labels_arg: &str,
    devices: &[I::Device],
) -> Result<(), BenchmarkError> {
    let cell = format!("{dataset} × {}", spec.name());
    let mut config = plan.template.clone();
    config.datasets = vec![dataset.to_string()];
    config.init = spec.init;
    config.weights = spec.weights.clone();
    if spec.weights.is_none() && plan.scratch_model.is_some() {
        config.model = plan.scratch_model;
    }
    let resume = RunDir::new(run).config().is_file();
    let req = FitRequest {
        config,
        labels_arg: labels_arg.to_string(),
        views_arg: plan.views_arg.clone(),
        out: run.to_path_buf(),
        resume,
        halt_after_epoch: None,
        progress: plan.progress,
        device_name: "benchmark".into(),
    };
    fit::<Autodiff<I>>(req, devices).map_err(|source| BenchmarkError::Fit { cell, source })?;
    Ok(())
}

fn predict_cell<I: Backend>(run: &Path, split: &str, device: &I::Device) -> Result<PathBuf, BenchmarkError> {
    predict_run::<I>(run, split, None, device)
        .map_err(|source| BenchmarkError::Predict { cell: format!("{} ({split})", run.display()), source })
}

/// The pretraining run folder; trains it (resumably) unless `done.json` says it finished.
/// `base`: index of the ImageNet column to start from (the study), else random weights.
fn pretrain<I: Backend>(plan: &BenchmarkPlan, base: usize, devices: &[I::Device]) -> Result<PathBuf, BenchmarkError> {
    let run = pretrain_dir(plan);
    let done = run.join("done.json");
    if !done.is_file() {
        let spec = plan.inits.get(base).cloned().unwrap_or(InitSpec { init: Init::Random, weights: None });
        fit_cell::<I>(plan, "mimic", &spec, &run, &plan.labels_arg, devices)?;
        let text = serde_json::json!({ "finished_at": chrono::Utc::now().to_rfc3339(), "init": spec.name() }).to_string();
        write_atomic(&done, text.as_bytes())?;
    }
    Ok(run)
}

fn pretrain_dir(plan: &BenchmarkPlan) -> PathBuf {
    plan.out.join("runs").join("mimic-pretrain")
}

/// Fits one cell unless its test predictions exist, then predicts val and test (cached).
/// Returns the two prediction files.
fn finish_cell<I: Backend>(
    plan: &BenchmarkPlan,
    dataset: &str,
    spec: &InitSpec,
    devices: &[I::Device],
) -> Result<(PathBuf, PathBuf), BenchmarkError> {
    let device = devices.first().ok_or_else(|| BenchmarkError::Plan("no device".into()))?;
    let run = plan.out.join("runs").join(dataset).join(spec.name());
    if !RunDir::new(&run).predictions("test", Precision::F32).is_file() {
        fit_cell::<I>(plan, dataset, spec, &run, &plan.labels_arg, devices)?;
    }
    let val = predict_cell::<I>(&run, "val", device)?;
    let test = predict_cell::<I>(&run, "test", device)?;
    Ok((val, test))
}

/// Runs this shard's cells of the matrix (`--cells K/N`; see the module docs) on backend `I`:
/// fit + val/test predictions per cell, no table. Returns the cells it finished, as
/// `dataset × init`. Shards with `mimic` cells that do not own the pretraining wait for its
/// `done.json`, polling every `poll`.
pub fn run_cells<I: Backend>(
    plan: &BenchmarkPlan,
    shard: CellShard,
    devices: &[I::Device],
    poll: std::time::Duration,
) -> Result<Vec<String>, BenchmarkError> {
    run_cells_of::<I>(std::slice::from_ref(plan), shard, devices, poll)
}

/// [`run_cells`] over several plans (one per resolution, [`sizes::plans_for_sizes`]): the
/// plans' [`cell_jobs`] are numbered one after another, so `--cells K/N` spreads all of them.
pub fn run_cells_of<I: Backend>(
    plans: &[BenchmarkPlan],
    shard: CellShard,
    devices: &[I::Device],
    poll: std::time::Duration,
) -> Result<Vec<String>, BenchmarkError> {
    if plans.iter().any(|p| p.datasets.is_empty() || p.inits.is_empty()) || plans.is_empty() {
        return Err(BenchmarkError::Plan("the benchmark needs at least one dataset and one initialisation".into()));
    }
    let jobs: Vec<(&BenchmarkPlan, CellJob)> =
        plans.iter().flat_map(|p| cell_jobs(p).into_iter().map(move |j| (p, j))).collect();
    let mut mine: Vec<&(&BenchmarkPlan, CellJob)> = jobs.iter().enumerate().filter(|(i, _)| shard.owns(*i)).map(|(_, j)| j).collect();
    // Cells that need the pretraining last: the pretraining (job 0, shard 1's) runs meanwhile.
    let needs_pretrain = |plan: &BenchmarkPlan, j: &CellJob| matches!(j, CellJob::Cell { init, .. } if plan.inits[*init].init == Init::Mimic && plan.inits[*init].weights.is_none());
    mine.sort_by_key(|(p, j)| needs_pretrain(p, j));
    let several = plans.len() > 1;
    let mut done = Vec::new();
    for (plan, job) in mine {
        let at = if several { format!(" at {} px", plan.template.image_size) } else { String::new() };
        match job {
            CellJob::MimicPretrain { base } => {
                pretrain::<I>(plan, *base, devices)?;
                done.push(format!("mimic pretraining{at}"));
            }
            CellJob::Cell { dataset, init } => {
                let mut spec = plan.inits[*init].clone();
                if needs_pretrain(plan, job) {
                    let run = pretrain_dir(plan);
                    let mut said = false;
                    while !run.join("done.json").is_file() {
                        if !said && plan.progress {
                            eprintln!("waiting for the MIMIC pretraining ({}; the shard that owns it runs it)", run.display());
                        }
                        said = true;
                        std::thread::sleep(poll);
                    }
                    spec.weights = Some(run);
                }
                finish_cell::<I>(plan, dataset, &spec, devices)?;
                done.push(format!("{dataset} × {}{at}", spec.name()));
            }
        }
    }
    Ok(done)
}

/// Runs (or continues) the whole matrix on backend `I` (autodiff added for training).
pub fn run_benchmark<I: Backend>(plan: &BenchmarkPlan, devices: &[I::Device]) -> Result<BenchmarkOutcome, BenchmarkError> {
    if plan.datasets.is_empty() || plan.inits.is_empty() {
        return Err(BenchmarkError::Plan("the benchmark needs at least one dataset and one initialisation".into()));
    }
    let mut inits = plan.inits.clone();
    if let Some(CellJob::MimicPretrain { base }) = cell_jobs(plan).first() {
        let run = pretrain::<I>(plan, *base, devices)?;
        if let Some(m) = inits.iter_mut().find(|s| s.init == Init::Mimic && s.weights.is_none()) {
            m.weights = Some(run);
        }
    }
    let reference = inits.iter().find(|s| s.init == Init::Dinov2).unwrap_or(&inits[0]).name();
    let mut table = BenchmarkTable::new(inits.iter().map(InitSpec::name).collect(), reference.clone());
    let t = &plan.template;
    table.finetune = t.finetune_name();
    let mut comparisons = Vec::new();
    for dataset in &plan.datasets {
        let mut models = Vec::new();
        let mut singles = Vec::new();
        let mut inputs = Vec::new();
        for spec in &inits {
            let name = spec.name();
            let cell = format!("{dataset} × {name}");
            if spec.init == Init::Mimic && dataset == "mimic" {
                table.skip(dataset, &name, "pretraining set");
                continue;
            }
            let (val_path, test_path) = finish_cell::<I>(plan, dataset, spec, devices)?;
            let read = |p: &Path| Predictions::read(p).map_err(|source| BenchmarkError::Predictions { cell: cell.clone(), source });
            let (val, mut test) = (read(&val_path)?, read(&test_path)?);
            if !plan.by.is_empty() && !test.has_attributes() {
                // Predictions cached before they carried sex, age and view.
                join_store(&mut test, &plan.template.store).map_err(|source| BenchmarkError::Attributes { cell: cell.clone(), source })?;
            }
            let val = select_split(&val, Some("val"), "validation predictions")
                .map_err(|source| BenchmarkError::Evaluate { cell: cell.clone(), source })?;
            let analysis = Analysis { by: plan.by.clone(), alpha: plan.alpha, ..Analysis::default() };
            let ev = evaluate_with(&test, Some(&val), &plan.stats, &analysis)
                .map_err(|source| BenchmarkError::Evaluate { cell: cell.clone(), source })?;
            let dir = plan.out.join("reports").join(dataset).join(&name);
            let files = vec![
                InputFile::new("test", &test_path).map_err(|source| BenchmarkError::Report { cell: cell.clone(), source })?,
                InputFile::new("val", &val_path).map_err(|source| BenchmarkError::Report { cell: cell.clone(), source })?,
            ];
            let run = plan.out.join("runs").join(dataset).join(&name);
            let rc = crate::run::RunConfig::read(&RunDir::new(&run).config())
                .map_err(|e| BenchmarkError::Plan(format!("{cell}: {e}")))?;
            table.set_size(dataset, rc.config.image_size);
            let config = serde_json::json!({ "run": run, "dataset": dataset, "init": name });
            let single = (ev.macro_auroc, ev.n_images, ev.macro_over.clone(), ev.subgroups.clone());
            let rep = Report::new("cxr-train benchmark", config, files.clone(), ev);
            report::write_evaluation(&dir, &rep).map_err(|source| BenchmarkError::Report { cell: cell.clone(), source })?;
            inputs.extend(files.into_iter().filter(|f| f.role == "test").map(|mut f| {
                f.role = name.clone();
                f
            }));
            singles.push((name.clone(), single));
            models.push((name, test));
        }
        if models.len() < 2 {
            // One column only (e.g. MIMIC, whose mimic-init cell is the pretraining set).
            for (name, (est, n, over, groups)) in &singles {
                table.add_single(dataset, name, *est, *n, over);
                table.add_subgroups_single(dataset, name, groups);
            }
            continue;
        }
        let cell = format!("{dataset} (comparison)");
        let reference = Some(&reference).filter(|r| models.iter().any(|(n, _)| n == *r)).map(String::as_str);
        let cmp = compare_with(&models, reference, &plan.stats, plan.alpha, &plan.by)
            .map_err(|source| BenchmarkError::Evaluate { cell: cell.clone(), source })?;
        table.add(dataset, &cmp);
        table.add_subgroups(dataset, &cmp.subgroups);
        let rep = Report::new("cxr-train benchmark", serde_json::json!({ "dataset": dataset }), inputs, cmp.clone());
        report::write_comparison(&plan.out.join("reports").join(dataset), &rep)
            .map_err(|source| BenchmarkError::Report { cell, source })?;
        comparisons.push((dataset.clone(), cmp));
    }
    let md = write_table_files(&plan.out, &table, &plan.stats)?;
    Ok(BenchmarkOutcome { table, comparisons, markdown: md })
}

/// Writes `benchmark.md` and `benchmark.json` for `table` into `out` (each atomically) and
/// returns the markdown file's path.
fn write_table_files(out: &Path, table: &BenchmarkTable, stats: &StatOptions) -> Result<PathBuf, BenchmarkError> {
    let md = out.join("benchmark.md");
    write_atomic(&md, table.markdown(stats).as_bytes())?;
    let json = out.join("benchmark.json");
    let text = serde_json::to_string_pretty(table).map_err(|e| BenchmarkError::Io { path: json.clone(), source: e.into() })?;
    write_atomic(&json, text.as_bytes())?;
    Ok(md)
}

/// [`crate::fsutil::write_atomic`] with the error naming `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BenchmarkError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|source| BenchmarkError::Io { path: path.to_path_buf(), source })
}
