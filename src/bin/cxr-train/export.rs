//! `cxr-train export <RUN|CHECKPOINT> --out model.safetensors`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use cxr::run::export::export_run;

#[derive(Args)]
pub struct ExportArgs {
    /// A run folder (checkpoints/<which>.safetensors) or a checkpoint file with its sidecar
    run: PathBuf,
    /// Output weights file; the sidecar is written next to it with a .json extension
    #[arg(long)]
    out: PathBuf,
    /// Which checkpoint of a run: best or last
    #[arg(long, default_value = "best")]
    checkpoint: String,
}

pub fn run(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let out = export_run(&a.run, &a.checkpoint, &a.out).context("export failed")?;
    cxr::outln!("wrote {} and {} (sha256 {})", out.weights.display(), out.sidecar.display(), out.sha256)?;
    Ok(ExitCode::SUCCESS)
}
