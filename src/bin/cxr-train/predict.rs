//! `cxr-train predict --weights <FILE|RUN> --store <STORE> [--dataset D] [--split S] --out preds.parquet`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use cxr::evaluate::predict::{predict, PredictOptions};
use cxr::model::Precision;
use cxr::runtime::DeviceSpec;

#[derive(Args)]
pub struct PredictArgs {
    /// Weights: a .safetensors/.pth file, or a run folder (uses checkpoints/best.safetensors)
    #[arg(long)]
    weights: PathBuf,
    /// The store
    #[arg(long)]
    store: PathBuf,
    /// Only these datasets (comma-separated; default: all in the store)
    #[arg(long, value_delimiter = ',')]
    dataset: Option<Vec<String>>,
    /// Only these splits (comma-separated; default: test)
    #[arg(long, value_delimiter = ',', default_value = "test")]
    split: Vec<String>,
    /// Output predictions file (Parquet)
    #[arg(long)]
    out: PathBuf,
    /// Output labels in model order, when the weights have no sidecar JSON
    #[arg(long, value_delimiter = ',')]
    labels: Option<Vec<String>>,
    /// Images per forward pass
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Normalise inputs with the ImageNet mean/std (the study does not)
    #[arg(long)]
    imagenet_norm: bool,
    /// Attention heads, for raw weight files whose heads are not 64 wide
    #[arg(long)]
    num_heads: Option<usize>,
    /// cpu, cuda or cuda:N
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Matmul precision: f32 or bf16 (bf16 matmuls, f32 everything else)
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
}

pub fn run(a: PredictArgs) -> anyhow::Result<ExitCode> {
    let splits = if a.split.iter().any(|s| s == "all") { None } else { Some(a.split) };
    let opts = PredictOptions {
        weights: a.weights,
        store: a.store,
        datasets: a.dataset,
        splits,
        out: a.out,
        labels: a.labels,
        batch: a.batch,
        imagenet_norm: a.imagenet_norm,
        num_heads: a.num_heads,
        precision: a.precision,
    };
    let preds = crate::with_backend!(a.device, |B, device| predict::<B>(&opts, &device)).context("predict failed")?;
    println!("{} images x {} findings -> {}", preds.len(), preds.findings.len(), opts.out.display());
    Ok(ExitCode::SUCCESS)
}
