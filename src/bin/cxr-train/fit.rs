//! `cxr-train fit --store <STORE> --dataset <D|all> --init <dinov2|imagenet|mimic|random> …`
//!
//! Thin: parses and validates the options into a `TrainConfig` and calls `cxr::train::fit`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use burn::backend::Autodiff;
use clap::Args;

use cxr::model::{InputNorm, Precision};
use cxr::runtime::DeviceSpec;
use cxr::train::{FitRequest, Init, ModelKind, Schedule, TrainConfig, Uncertain, fit};

#[derive(Args)]
pub struct FitArgs {
    /// The store (written by `cxr-prep ingest`); with --resume, the run's own store is used
    #[arg(long, required_unless_present = "resume")]
    store: Option<PathBuf>,
    /// Dataset(s) to train on, comma-separated; `all` = every dataset of the store, pooled with the masked loss
    #[arg(long, value_delimiter = ',', required_unless_present = "resume")]
    dataset: Vec<String>,
    /// Initialisation: dinov2, imagenet, mimic (a previous run folder) or random
    #[arg(long, required_unless_present = "resume")]
    init: Option<Init>,
    /// Weights file (dinov2 .pth/.safetensors, timm ImageNet .safetensors) or, for --init mimic, a run folder
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Architecture: vit_base_patch16_224, vit_base_patch14_dinov2 or tiny (default: from the weights; ViT-B/16 for random)
    #[arg(long)]
    model: Option<ModelKind>,
    /// Head labels: `study` (the study's set per dataset), `all` (every annotated finding) or a,b,…
    #[arg(long, default_value = "study")]
    labels: String,
    /// Views kept: `study` (CheXpert not lateral, MIMIC PA/AP, PadChest PA/AP/AP_SUPINE, others all), `all`, `A,B` or `not:A,B`
    #[arg(long, default_value = "study")]
    views: String,
    /// Uncertain (−1) and unstated labels of annotated findings: zeros (the study), ones, ignore (masked)
    #[arg(long, default_value = "zeros")]
    uncertain: Uncertain,
    /// Input side in pixels; must equal the store's ingest size (default: the store's)
    #[arg(long)]
    size: Option<usize>,
    /// Input normalisation inside the model: none (the study: [0, 1]), imagenet, inception ([-1, 1])
    #[arg(long, default_value = "none")]
    input_norm: String,
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 1e-5)]
    lr: f64,
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// Learning-rate schedule: constant (the study) or cosine (to 0 at the last step)
    #[arg(long, default_value = "constant")]
    schedule: Schedule,
    /// Linear warmup steps before the schedule
    #[arg(long, default_value_t = 0)]
    warmup_steps: usize,
    /// Clip each parameter tensor's gradient to this L2 norm (burn's per-tensor clipping)
    #[arg(long)]
    grad_clip: Option<f64>,
    /// Stop after this many epochs without a better mean val AUROC
    #[arg(long)]
    patience: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Horizontal flip probability (training)
    #[arg(long, default_value_t = 0.5)]
    flip: f64,
    /// Rotation range in degrees, uniform in ±this (training)
    #[arg(long, default_value_t = 7.0)]
    rotate: f64,
    /// Row groups (256 rows) shuffled together; bounds memory
    #[arg(long, default_value_t = 16)]
    shuffle_window: usize,
    /// Batches prepared ahead by the data workers
    #[arg(long, default_value_t = 4)]
    prefetch: usize,
    /// cpu, cuda, cuda:N, or cuda:0,cuda:1,… (data-parallel: each batch is split across the GPUs)
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Matmul precision: f32 (the study) or bf16 (mixed precision: bf16 matmuls, f32 master weights, optimizer state and checkpoints)
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
    /// The run folder to create (or continue with --resume)
    #[arg(long)]
    out: PathBuf,
    /// Continue the run in --out from its last finished epoch; its config.json gives the options
    #[arg(long)]
    resume: bool,
    /// Hide the progress bar
    #[arg(long)]
    quiet: bool,
    /// Testing aid: exit with status 3 right after this epoch, as if the process was killed
    #[arg(long, hide = true)]
    halt_after_epoch: Option<usize>,
}

pub fn run(a: FitArgs) -> anyhow::Result<ExitCode> {
    let config = TrainConfig {
        store: a.store.clone().unwrap_or_default(),
        datasets: a.dataset,
        labels: vec![],
        views: vec![],
        uncertain: a.uncertain,
        init: a.init.unwrap_or(Init::Random),
        weights: a.weights,
        model: a.model,
        image_size: a.size.unwrap_or(0),
        input_norm: match a.input_norm.as_str() {
            "none" => InputNorm::None,
            "imagenet" => InputNorm::ImageNet,
            "inception" => InputNorm::Inception,
            other => bail!("--input-norm {other}: expected none, imagenet or inception"),
        },
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        weight_decay: a.weight_decay,
        adam_eps: 1e-8,
        schedule: a.schedule,
        warmup_steps: a.warmup_steps,
        grad_clip: a.grad_clip,
        patience: a.patience,
        seed: a.seed,
        shuffle_window: a.shuffle_window,
        flip_p: a.flip,
        rotate_deg: a.rotate,
        prefetch: a.prefetch,
        precision: a.precision,
    };
    if config.batch == 0
        || config.epochs == 0
        || config.lr.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
    {
        bail!("--batch and --epochs must be positive and --lr > 0");
    }
    if config.init != Init::Random && config.weights.is_none() && !a.resume {
        bail!(
            "--init {:?} needs --weights (a file, or a run folder for mimic)",
            config.init
        );
    }
    let req = FitRequest {
        config,
        labels_arg: a.labels,
        views_arg: a.views,
        out: a.out.clone(),
        resume: a.resume,
        halt_after_epoch: a.halt_after_epoch,
        progress: !a.quiet,
        device_name: format!("{:?}", a.device),
    };
    a.device.check_available().map_err(anyhow::Error::msg)?;
    // Not `with_backend!`: fit takes every listed device (data-parallel over several GPUs).
    let outcome = match a.device {
        DeviceSpec::Cpu => fit::<Autodiff<cxr::runtime::Cpu>>(req, &[cxr::runtime::cpu_device()]),
        #[cfg(feature = "cuda-base")]
        DeviceSpec::Cuda(ids) => {
            let devices = cxr::runtime::gpu_devices(&ids).map_err(anyhow::Error::msg)?;
            fit::<Autodiff<cxr::runtime::Gpu>>(req, &devices)
        }
        #[cfg(not(feature = "cuda-base"))]
        DeviceSpec::Cuda(_) => bail!("this cxr-train was built without GPU support"),
    }
    .context("fit failed")?;
    // With a progress bar the epochs were already reported on stderr as they finished.
    for m in outcome.metrics.iter().filter(|_| a.quiet) {
        println!(
            "epoch {}: train loss {:.4}, val loss {:.4}, val AUROC {}",
            m.epoch,
            m.train_loss,
            m.val_loss,
            m.val_auroc_mean.map_or("n/a".into(), |v| format!("{v:.4}"))
        );
    }
    if outcome.halted {
        return Ok(ExitCode::from(3));
    }
    println!(
        "run {}: best epoch {} (val AUROC {}){}",
        outcome.run.display(),
        outcome.best_epoch.map_or("-".into(), |e| e.to_string()),
        outcome
            .best_auroc
            .map_or("n/a".into(), |v| format!("{v:.4}")),
        if outcome.stopped_early {
            ", stopped early"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}
