//! `cxr-train benchmark --store S --datasets <list|all> --weights dinov2=FILE,imagenet=FILE [--mimic RUN|auto|none] [fit options]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args;

use cxr::benchmark::{run_benchmark, run_cells, BenchmarkOutcome, BenchmarkPlan, CellShard, InitSpec};
use cxr::evaluate::bootstrap::Resample;
use cxr::evaluate::evaluation::StatOptions;
use cxr::model::{InputNorm, Precision};
use cxr::runtime::DeviceSpec;
use cxr::train::{Init, ModelKind, Schedule, TrainConfig, Uncertain};

/// Training and statistics options shared by `benchmark` and `demo`.
#[derive(Args, Clone)]
pub struct MatrixArgs {
    /// Architecture for random init (weights files decide their own)
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// `study` (each dataset's label set in the study), `all`, or a,b,…
    #[arg(long, default_value = "study")]
    pub labels: String,
    /// `study`, `all`, `A,B` or `not:A,B`
    #[arg(long, default_value = "study")]
    pub views: String,
    #[arg(long, default_value = "zeros")]
    pub uncertain: Uncertain,
    /// none (the study), imagenet or inception
    #[arg(long, default_value = "none")]
    pub input_norm: String,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-5)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    #[arg(long, default_value = "constant")]
    pub schedule: Schedule,
    #[arg(long, default_value_t = 0)]
    pub warmup_steps: usize,
    #[arg(long)]
    pub patience: Option<usize>,
    /// Seed of every fit
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bootstrap replicates of the statistics
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Resample test images (the study) or patients
    #[arg(long, default_value = "images")]
    pub resample: Resample,
    /// cpu, cuda or cuda:N[,cuda:M…]
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    /// Matmul precision of every fit and prediction: f32 (the study) or bf16 (mixed precision)
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// Hide progress bars
    #[arg(long)]
    pub quiet: bool,
}

impl MatrixArgs {
    /// The fit options of every cell (store/datasets/init/weights are set per cell).
    pub fn template(&self, store: PathBuf) -> anyhow::Result<TrainConfig> {
        Ok(TrainConfig {
            store,
            uncertain: self.uncertain,
            model: self.model,
            input_norm: match self.input_norm.as_str() {
                "none" => InputNorm::None,
                "imagenet" => InputNorm::ImageNet,
                "inception" => InputNorm::Inception,
                other => bail!("--input-norm {other}: expected none, imagenet or inception"),
            },
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            weight_decay: self.weight_decay,
            schedule: self.schedule,
            warmup_steps: self.warmup_steps,
            patience: self.patience,
            seed: self.seed,
            precision: self.precision,
            ..TrainConfig::default()
        })
    }

    pub fn stats(&self) -> StatOptions {
        StatOptions { bootstrap: self.bootstrap, resample: self.resample, ..StatOptions::default() }
    }

    /// Runs one shard of the plan's cells on the requested device.
    pub fn run_cells(&self, plan: &BenchmarkPlan, shard: CellShard, poll: std::time::Duration) -> anyhow::Result<Vec<String>> {
        self.device.check_available().map_err(anyhow::Error::msg)?;
        let out = match &self.device {
            DeviceSpec::Cpu => run_cells::<cxr::runtime::Cpu>(plan, shard, &[cxr::runtime::cpu_device()], poll),
            #[cfg(feature = "cuda-base")]
            DeviceSpec::Cuda(ids) => {
                let devices = cxr::runtime::gpu_devices(ids).map_err(anyhow::Error::msg)?;
                run_cells::<cxr::runtime::Gpu>(plan, shard, &devices, poll)
            }
            #[cfg(not(feature = "cuda-base"))]
            DeviceSpec::Cuda(_) => bail!("this cxr-train was built without GPU support"),
        };
        Ok(out?)
    }

    /// Runs the plan on the requested device.
    pub fn run(&self, plan: &BenchmarkPlan) -> anyhow::Result<BenchmarkOutcome> {
        self.device.check_available().map_err(anyhow::Error::msg)?;
        let out = match &self.device {
            DeviceSpec::Cpu => run_benchmark::<cxr::runtime::Cpu>(plan, &[cxr::runtime::cpu_device()]),
            #[cfg(feature = "cuda-base")]
            DeviceSpec::Cuda(ids) => {
                let devices = cxr::runtime::gpu_devices(ids).map_err(anyhow::Error::msg)?;
                run_benchmark::<cxr::runtime::Gpu>(plan, &devices)
            }
            #[cfg(not(feature = "cuda-base"))]
            DeviceSpec::Cuda(_) => bail!("this cxr-train was built without GPU support"),
        };
        Ok(out?)
    }
}

/// Parses `dinov2=FILE,imagenet=FILE`.
pub fn parse_weights(list: &[String]) -> anyhow::Result<Vec<InitSpec>> {
    let mut out = Vec::new();
    for item in list {
        let (name, path) = item.split_once('=').with_context(|| format!("--weights `{item}`: expected NAME=FILE"))?;
        let init: Init = name.parse().map_err(anyhow::Error::msg)?;
        if init == Init::Random || init == Init::Mimic {
            bail!("--weights {name}=…: give dinov2 or imagenet files here (mimic: --mimic RUN)");
        }
        out.push(InitSpec { init, weights: Some(PathBuf::from(path)) });
    }
    Ok(out)
}

#[derive(Args)]
pub struct BenchmarkArgs {
    #[arg(long)]
    store: PathBuf,
    /// Datasets (comma-separated) or `all`
    #[arg(long, value_delimiter = ',', default_value = "all")]
    datasets: Vec<String>,
    /// Pretrained weights: dinov2=FILE,imagenet=FILE
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
    let datasets = if a.datasets.iter().any(|d| d == "all") {
        cxr::store::reader::StoreReader::open(&a.store)?.meta.datasets.keys().cloned().collect()
    } else {
        a.datasets.clone()
    };
    let plan = BenchmarkPlan {
        datasets,
        inits,
        template: a.matrix.template(a.store.clone())?,
        labels_arg: a.matrix.labels.clone(),
        views_arg: a.matrix.views.clone(),
        out: a.out.clone(),
        stats: a.matrix.stats(),
        alpha: 0.05,
        progress: !a.matrix.quiet,
    };
    if let Some(shard) = a.cells {
        let poll = std::time::Duration::from_secs(a.poll_secs.max(1));
        let done = a.matrix.run_cells(&plan, shard, poll).context("benchmark failed")?;
        println!("cells {}/{} finished: {}", shard.k, shard.n, if done.is_empty() { "none (no cell is this shard's)".into() } else { done.join(", ") });
        println!("when every shard has finished, run the same command without --cells to assemble the table");
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = a.matrix.run(&plan).context("benchmark failed")?;
    print!("{}", outcome.table.markdown(&plan.stats));
    println!("\nreports: {}", a.out.join("reports").display());
    Ok(ExitCode::SUCCESS)
}
