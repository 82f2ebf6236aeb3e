//! `cxr-train fit --store <STORE> --dataset <D|all> --init <dinov2|imagenet|mimic|random> …`
//!
//! Thin: parses the options into a `TrainConfig` and calls `cxr::train::fit`, which checks them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use burn::backend::Autodiff;
use clap::Args;

use crate::options::{defaults, TrainOptions};
use cxr::runtime::DeviceSpec;
use cxr::train::{FitRequest, Init, TrainConfig, fit};

#[derive(Args)]
pub struct FitArgs {
    /// The store (written by `cxr-prep ingest`); with --resume, the run's own store is used
    #[arg(long, required_unless_present = "resume")]
    store: Option<PathBuf>,
    /// Dataset(s) to train on, comma-separated; `all` = every dataset of the store, pooled with the masked loss
    #[arg(long, value_delimiter = ',', required_unless_present = "resume")]
    dataset: Vec<String>,
    /// Initialisation (each value below says which files it reads)
    #[arg(long, value_enum, required_unless_present = "resume")]
    init: Option<Init>,
    /// Weights file of the --init (.pth / .safetensors; architecture read from the file) or, for --init mimic, a run folder
    #[arg(long)]
    weights: Option<PathBuf>,
    #[command(flatten)]
    train: TrainOptions,
    /// Input side in pixels; must equal the store's ingest size (default: the store's)
    #[arg(long)]
    size: Option<usize>,
    /// Clip each parameter tensor's gradient to this L2 norm (burn's per-tensor clipping)
    #[arg(long)]
    grad_clip: Option<f64>,
    /// Horizontal flip probability (training)
    #[arg(long, default_value_t = defaults().flip_p)]
    flip: f64,
    /// Rotation range in degrees, uniform in ±this (training)
    #[arg(long, default_value_t = defaults().rotate_deg)]
    rotate: f64,
    /// Row groups (256 rows) shuffled together; bounds memory
    #[arg(long, default_value_t = defaults().shuffle_window)]
    shuffle_window: usize,
    /// Batches prepared ahead by the data workers
    #[arg(long, default_value_t = defaults().prefetch)]
    prefetch: usize,
    /// cpu, cuda, cuda:N, or cuda:0,cuda:1,… (data-parallel: each batch is split across the GPUs)
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
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
    let config = a.train.apply(TrainConfig {
        store: a.store.clone().unwrap_or_default(),
        datasets: a.dataset,
        init: a.init.unwrap_or(defaults().init),
        weights: a.weights,
        image_size: a.size.unwrap_or(0),
        grad_clip: a.grad_clip,
        flip_p: a.flip,
        rotate_deg: a.rotate,
        shuffle_window: a.shuffle_window,
        prefetch: a.prefetch,
        ..defaults()
    });
    let req = FitRequest {
        config,
        labels_arg: a.train.labels,
        views_arg: a.train.views,
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
        DeviceSpec::Cuda(_) => anyhow::bail!("this cxr-train was built without GPU support"),
    }
    .context("fit failed")?;
    // With a progress bar the epochs were already reported on stderr as they finished.
    for m in outcome.metrics.iter().filter(|_| a.quiet) {
        cxr::outln!(
            "epoch {}: train loss {:.4}, val loss {:.4}, val AUROC {}",
            m.epoch,
            m.train_loss,
            m.val_loss,
            m.val_auroc_mean.map_or("n/a".into(), |v| format!("{v:.4}"))
        )?;
    }
    if outcome.halted {
        return Ok(ExitCode::from(3));
    }
    cxr::outln!(
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
    )?;
    Ok(ExitCode::SUCCESS)
}
