//! `cxr-train benchmark --store S --datasets <list|all> --weights dinov2=FILE,imagenet=FILE,dinov3=FILE,rad-dino=FILE [--mimic RUN|auto|none] [fit options]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};

use cxr::benchmark::{run_benchmark, run_benchmark_sizes, run_cells_of, BenchmarkOutcome, BenchmarkPlan, CellShard, InitSpec};
use cxr::evaluate::bootstrap::Resample;
use cxr::evaluate::evaluation::StatOptions;
use crate::options::{defaults, TrainOptions};
use cxr::runtime::DeviceSpec;
use cxr::train::{Init, TrainConfig};

/// Training and statistics options shared by `benchmark` and `demo`.
#[derive(Args, Clone)]
pub struct MatrixArgs {
    #[command(flatten)]
    pub train: TrainOptions,
    /// Bootstrap replicates of the statistics
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Resample test images (the study) or patients
    #[arg(long, default_value = "images")]
    pub resample: Resample,
    /// cpu, cuda or cuda:N[,cuda:M…]
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// Hide progress bars
    #[arg(long)]
    pub quiet: bool,
    /// Subgroup view of the table and reports: any of sex,age,view,dataset
    #[arg(long, value_enum, value_delimiter = ',')]
    pub by: Vec<cxr::evaluate::attributes::Attribute>,
}

impl MatrixArgs {
    /// The fit options of every cell (store/datasets/init/weights are set per cell).
    pub fn template(&self, store: PathBuf) -> TrainConfig {
        self.train.apply(TrainConfig { store, ..defaults() })
    }

    pub fn stats(&self) -> StatOptions {
        StatOptions { bootstrap: self.bootstrap, resample: self.resample, ..StatOptions::default() }
    }

    /// Runs one shard of the plans' cells (one plan per resolution) on the requested device.
    pub fn run_cells(&self, plans: &[BenchmarkPlan], shard: CellShard, poll: std::time::Duration) -> anyhow::Result<Vec<String>> {
        self.device.check_available().map_err(anyhow::Error::msg)?;
        let out = match &self.device {
            DeviceSpec::Cpu => run_cells_of::<cxr::runtime::Cpu>(plans, shard, &[cxr::runtime::cpu_device()], poll),
            #[cfg(feature = "cuda-base")]
            DeviceSpec::Cuda(ids) => {
                let devices = cxr::runtime::gpu_devices(ids).map_err(anyhow::Error::msg)?;
                run_cells_of::<cxr::runtime::Gpu>(plans, shard, &devices, poll)
            }
            #[cfg(not(feature = "cuda-base"))]
            DeviceSpec::Cuda(_) => bail!("this cxr-train was built without GPU support"),
        };
        Ok(out?)
    }

    /// Runs the plan on the requested device (at each of `sizes` when given).
    pub fn run(&self, plan: &BenchmarkPlan, sizes: &[usize]) -> anyhow::Result<BenchmarkOutcome> {
        self.device.check_available().map_err(anyhow::Error::msg)?;
        let out = match &self.device {
            DeviceSpec::Cpu if sizes.is_empty() => run_benchmark::<cxr::runtime::Cpu>(plan, &[cxr::runtime::cpu_device()]),
            DeviceSpec::Cpu => run_benchmark_sizes::<cxr::runtime::Cpu>(plan, sizes, &[cxr::runtime::cpu_device()]),
            #[cfg(feature = "cuda-base")]
            DeviceSpec::Cuda(ids) => {
                let devices = cxr::runtime::gpu_devices(ids).map_err(anyhow::Error::msg)?;
                if sizes.is_empty() {
                    run_benchmark::<cxr::runtime::Gpu>(plan, &devices)
                } else {
                    run_benchmark_sizes::<cxr::runtime::Gpu>(plan, sizes, &devices)
                }
            }
            #[cfg(not(feature = "cuda-base"))]
            DeviceSpec::Cuda(_) => bail!("this cxr-train was built without GPU support"),
        };
        Ok(out?)
    }
}

/// Parses `dinov2=FILE,imagenet=FILE,dinov3=FILE,rad-dino=FILE`.
pub fn parse_weights(list: &[String]) -> anyhow::Result<Vec<InitSpec>> {
    let mut out = Vec::new();
    for item in list {
        let (name, path) = item.split_once('=').with_context(|| format!("--weights `{item}`: expected NAME=FILE"))?;
        let init = Init::from_str(name, false).map_err(anyhow::Error::msg)?;
        if init == Init::Random || init == Init::Mimic {
            bail!("--weights {name}=…: give dinov2, imagenet, dinov3 or rad-dino files here (mimic: --mimic RUN)");
        }
        out.push(InitSpec { init, weights: Some(PathBuf::from(path)) });
    }
    Ok(out)
}

#[derive(Args)]
pub struct BenchmarkArgs {
    /// The store; with --sizes, one store per size named by a `{size}` placeholder (e.g. store-{size})
    #[arg(long)]
    store: PathBuf,
    /// Run the matrix at each input size (e.g. 224,512), each from its own store (see --store), into one table with a resolution column
    #[arg(long, value_delimiter = ',')]
    sizes: Vec<usize>,
    /// Datasets (comma-separated) or `all`
    #[arg(long, value_delimiter = ',', default_value = "all")]
    datasets: Vec<String>,
    /// Pretrained weights, one column each: dinov2=FILE,imagenet=FILE,dinov3=FILE,rad-dino=FILE
    #[arg(long, value_delimiter = ',')]
    weights: Vec<String>,
    /// MIMIC-pretrained column: a run folder, `auto` (pretrain on the store's MIMIC first), or `none`
    #[arg(long, default_value = "auto")]
    mimic: String,
    /// Add a random-initialisation column (a floor)
    #[arg(long)]
    random: bool,
    /// Benchmark folder (resumable: finished cells are not re-run)
    #[arg(long)]
    out: PathBuf,
    /// Run only shard K of N of the cells (e.g. one SLURM array task or one GPU each), into the
    /// shared --out; shard 1 also runs the MIMIC pretraining. A final run without --cells
    /// assembles the table
    #[arg(long)]
    cells: Option<CellShard>,
    /// Seconds between checks while a shard waits for the MIMIC pretraining
    #[arg(long, default_value_t = 10, hide = true)]
    poll_secs: u64,
    #[command(flatten)]
    matrix: MatrixArgs,
}

pub fn run(a: BenchmarkArgs) -> anyhow::Result<ExitCode> {
    let mut inits = parse_weights(&a.weights)?;
    match a.mimic.as_str() {
        "none" => {}
        "auto" => inits.push(InitSpec { init: Init::Mimic, weights: None }),
        run => inits.push(InitSpec { init: Init::Mimic, weights: Some(PathBuf::from(run)) }),
    }
    if a.random {
        inits.push(InitSpec { init: Init::Random, weights: None });
    }
    let first_store = match a.sizes.first() {
        Some(&s) => cxr::benchmark::sizes::store_for_size(&a.store, s, a.sizes.len())?,
        None if a.store.to_string_lossy().contains(cxr::benchmark::SIZE_PLACEHOLDER) => {
            bail!("--store has a `{}` placeholder: give the sizes with --sizes", cxr::benchmark::SIZE_PLACEHOLDER)
        }
        None => a.store.clone(),
    };
    let datasets = if a.datasets.iter().any(|d| d == "all") {
        cxr::store::reader::StoreReader::open(&first_store)?.meta.datasets.keys().cloned().collect()
    } else {
        a.datasets.clone()
    };
    let plan = BenchmarkPlan {
        datasets,
        inits,
        template: a.matrix.template(a.store.clone()),
        labels_arg: a.matrix.train.labels.clone(),
        views_arg: a.matrix.train.views.clone(),
        out: a.out.clone(),
        stats: a.matrix.stats(),
        alpha: 0.05,
        by: a.matrix.by.clone(),
        progress: !a.matrix.quiet,
        scratch_model: None,
    };
    if let Some(shard) = a.cells {
        let poll = std::time::Duration::from_secs(a.poll_secs.max(1));
        let plans = if a.sizes.is_empty() { vec![plan.clone()] } else { cxr::benchmark::plans_for_sizes(&plan, &a.sizes)? };
        let done = a.matrix.run_cells(&plans, shard, poll).context("benchmark failed")?;
        cxr::outln!("cells {}/{} finished: {}", shard.k, shard.n, if done.is_empty() { "none (no cell is this shard's)".into() } else { done.join(", ") })?;
        cxr::outln!("when every shard has finished, run the same command without --cells to assemble the table")?;
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = a.matrix.run(&plan, &a.sizes).context("benchmark failed")?;
    cxr::out!("{}", outcome.table.markdown(&plan.stats))?;
    cxr::outln!("\nreports: {}", a.out.join("reports").display())?;
    Ok(ExitCode::SUCCESS)
}
