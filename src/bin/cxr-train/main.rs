//! `cxr-train`: fine-tune and evaluate Vision Transformers on a cxr store. Thin: each
//! subcommand lives in its own file (`<name>.rs`: clap args + a `run` calling the library).
//!
//! Exit codes: 0 success, 1 a check failed (e.g. evaluation found no valid finding), 2 error.

mod bench;
mod benchmark;
mod compare;
mod demo;
mod evaluate;
mod export;
mod fit;
mod options;
mod predict;
mod stat_args;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cxr-train", version, about = "Fine-tune and benchmark ViTs on a cxr store")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fine-tune a ViT on store datasets (run folder with config, metrics, checkpoints)
    Fit(fit::FitArgs),
    /// Images/s of a full training step (forward, backward, AdamW) on random data; --parity checks backends
    Bench(bench::BenchArgs),
    /// The study's matrix: (MIMIC pretraining,) fit + evaluate per dataset x initialisation, the table
    Benchmark(benchmark::BenchmarkArgs),
    /// The whole pipeline on the embedded synthetic corpus on CPU: synth, ingest, stats, benchmark
    Demo(demo::DemoArgs),
    /// Per-image probabilities of a model on store images -> predictions Parquet file
    Predict(predict::PredictArgs),
    /// Write a run's (or a checkpoint's) weights as timm-named safetensors + JSON sidecar
    Export(export::ExportArgs),
    /// AUROC with bootstrap CIs, operating point, calibration and subgroups (--by) from a predictions file
    Evaluate(evaluate::EvaluateArgs),
    /// Paired-bootstrap AUROC differences between models on the same images, with BH correction
    Compare(compare::CompareArgs),
}

/// Runs `$body` with `B` bound to the backend the device asks for and `device` to its device.
#[macro_export]
macro_rules! with_backend {
    ($spec:expr, |$b:ident, $device:ident| $body:expr) => {{
        let spec: cxr::runtime::DeviceSpec = $spec;
        spec.check_available().map_err(anyhow::Error::msg)?;
        match spec {
            cxr::runtime::DeviceSpec::Cpu => {
                type $b = cxr::runtime::Cpu;
                let $device = cxr::runtime::cpu_device();
                $body
            }
            #[cfg(feature = "cuda-base")]
            cxr::runtime::DeviceSpec::Cuda(ids) => {
                type $b = cxr::runtime::Gpu;
                let index = ids.first().copied().unwrap_or(0);
                cxr::runtime::probe_cuda(index).map_err(anyhow::Error::msg)?;
                let $device = cxr::runtime::gpu_device(index);
                $body
            }
            #[cfg(not(feature = "cuda-base"))]
            cxr::runtime::DeviceSpec::Cuda(_) => unreachable!("checked by check_available"),
        }
    }};
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Fit(a) => fit::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Benchmark(a) => benchmark::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Export(a) => export::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Compare(a) => compare::run(a),
    }
}

/// Log records of the GPU stack go to stderr: cubecl's device thread catches a panicking
/// kernel launch or compile and only `log::warn!`s it (cubecl-common 0.10
/// `device/handle/channel.rs`), so without a logger a failure inside a fused stream would show
/// only as a later, unrelated error. `RUST_LOG` overrides the default filter.
fn init_logging() {
    let env = env_logger::Env::default().default_filter_or("cubecl=warn,cubek=warn,burn=warn");
    env_logger::Builder::from_env(env).init();
}

fn main() -> ExitCode {
    init_logging();
    // Output goes through `cxr::out!`/`outln!` and a final flush, which return write errors.
    let result = run(Cli::parse()).and_then(|code| {
        std::io::Write::flush(&mut std::io::stdout())?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        // Like ripgrep: the reader of stdout went away (`| head`), stop quietly.
        Err(e) if cxr::fsutil::is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
