//! `cxr-train bench --model vit_base_patch16_224|vit_base_patch14_dinov2|tiny --batch N
//! --precision f32|bf16 --device cpu|cuda:N [--steps N] [--warmup N] [--parity [--fused-only]]`
//!
//! Prints one JSON line per measurement on stdout (a summary on stderr); exits 1 when the timed
//! steps' loss is not finite (the JSON line says so: a broken backend reports no figure).
//! `--parity` instead runs the same random weights and batch on the CPU backend in f32 (the
//! reference) and on the requested device in f32 and bf16 (only the one `--precision` names,
//! when given) — fused and unfused on a `cuda` build, fused only with `--fused-only` — compares
//! the training forward's logits, the inference forward's logits and the head gradient, prints
//! each comparison as soon as it is computed, and exits 1 when a maximum relative error exceeds
//! its tolerance (f32 1e-3 on the CPU, 5e-3 against CUDA's TF32; bf16 2e-2).

use std::process::ExitCode;

use burn::backend::Autodiff;
use clap::Args;

use cxr::model::Precision;
use cxr::runtime::DeviceSpec;
use cxr::run::config::Finetune;
use cxr::train::{ModelKind, TrainConfig};
use cxr::train::bench::{BenchOptions, Numerics, RandomBatch, bench_train_step, peak_rss_bytes};
use cxr::train::parity::{ParityCheck, ParityReport, parity_outputs, random_weights};

#[derive(Args)]
pub struct BenchArgs {
    /// Architecture
    #[arg(long, default_value = "vit_base_patch16_224")]
    model: ModelKind,
    /// Images per step
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Matmul precision of the timed steps (default f32); with --parity, the one precision
    /// compared (default: both)
    #[arg(long, value_enum)]
    precision: Option<Precision>,
    /// cpu or cuda:N
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Timed steps
    #[arg(long, default_value_t = 10)]
    steps: usize,
    /// Untimed steps first (kernel compile + autotune), reported apart
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Input side in pixels (default 224 for the ViT-B models, 32 for tiny)
    #[arg(long)]
    size: Option<usize>,
    /// Seed of the random weights and batch
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// What trains: full (every parameter), linear (head only) or lora (adapters + head)
    #[arg(long, value_enum, default_value_t = Finetune::Full)]
    finetune: Finetune,
    /// LoRA rank and alpha (with --finetune lora)
    #[arg(long, default_value_t = TrainConfig::default().lora_rank)]
    lora_rank: usize,
    #[arg(long, default_value_t = TrainConfig::default().lora_alpha)]
    lora_alpha: f64,
    /// Compare backends/precisions on the same weights and batch instead of timing
    #[arg(long)]
    parity: bool,
    /// With --parity on a `cuda` build: only the fused backend (the one training uses), not
    /// the unfused one and the fused-vs-unfused comparison (halves the kernels to compile)
    #[arg(long, requires = "parity")]
    fused_only: bool,
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    cxr::outln!("{}", serde_json::to_string(v)?)?;
    Ok(())
}

pub fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let size = a.size.unwrap_or(if a.model == ModelKind::Tiny { 32 } else { 224 });
    if a.batch == 0 || a.steps == 0 {
        anyhow::bail!("--batch and --steps must be positive");
    }
    let opts = BenchOptions {
        model: a.model,
        batch: a.batch,
        precision: a.precision.unwrap_or_default(),
        steps: a.steps,
        warmup: a.warmup,
        image_size: size,
        seed: a.seed,
        finetune: a.finetune,
        lora_rank: a.lora_rank,
        lora_alpha: a.lora_alpha,
    };
    a.device.check_available().map_err(anyhow::Error::msg)?;
    if a.parity {
        let precisions = match a.precision {
            Some(p) => vec![p],
            None => vec![Precision::F32, Precision::Bf16],
        };
        return parity(&opts, &a.device, &precisions, a.fused_only);
    }
    let result = match &a.device {
        DeviceSpec::Cpu => {
            let device = cxr::runtime::cpu_device();
            bench_train_step::<Autodiff<cxr::runtime::Cpu>>(&opts, &device, Numerics::Cpu, "flex", "cpu", || {
                (peak_rss_bytes(), "process VmHWM")
            })
        }
        #[cfg(feature = "cuda-base")]
        DeviceSpec::Cuda(ids) => {
            let index = ids.first().copied().unwrap_or(0);
            cxr::runtime::probe_cuda(index).map_err(anyhow::Error::msg)?;
            let device = cxr::runtime::gpu_device(index);
            let backend = if cfg!(feature = "cuda") { "cuda fused+autotune" } else { "cuda autotune (no fusion)" };
            bench_train_step::<Autodiff<cxr::runtime::Gpu>>(&opts, &device, Numerics::Cuda, backend, &a.device.to_string(), || {
                (cxr::runtime::gpu_reserved_bytes(index), "CubeCL pool reserved")
            })
        }
        #[cfg(not(feature = "cuda-base"))]
        DeviceSpec::Cuda(_) => unreachable!("checked by check_available"),
    };
    eprintln!("{result}");
    if !result.finite {
        // Still one JSON line, so a script's table shows why there is no figure.
        let mut line = serde_json::to_value(&result)?;
        line["error"] = format!("non-finite loss ({}): the backend computed garbage", result.loss_mean).into();
        print_json(&line)?;
        eprintln!("bench: the timed steps' mean loss is {}: not a valid measurement", result.loss_mean);
        return Ok(ExitCode::from(1));
    }
    print_json(&result)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the comparisons available on this build and device for `precisions`; exit 1 when one
/// fails.
fn parity(
    opts: &BenchOptions,
    device: &DeviceSpec,
    precisions: &[Precision],
    fused_only: bool,
) -> anyhow::Result<ExitCode> {
    let cfg = opts.vit_config();
    let weights = random_weights(&cfg, opts.seed)?;
    let batch = RandomBatch::new(opts.batch, opts.image_size, opts.seed);
    let cpu = cxr::runtime::cpu_device();
    let run_cpu = |p: Precision| parity_outputs::<Autodiff<cxr::runtime::Cpu>>(&cfg, &weights, p, &batch, &cpu);
    let reference = run_cpu(Precision::F32)?;
    let mut report = ParityReport::new(opts.model, |c: &ParityCheck| {
        print_json(c).map_err(std::io::Error::other)?;
        eprintln!("{c}");
        Ok(())
    });
    match device {
        DeviceSpec::Cpu => {
            let _ = fused_only; // the CPU has no unfused twin
            for &p in precisions {
                let out = match p {
                    Precision::F32 => reference.clone(),
                    Precision::Bf16 => run_cpu(p)?,
                };
                report.add(&format!("cpu {p}"), p, Numerics::Cpu, &out, ("cpu f32", &reference))?;
            }
        }
        #[cfg(feature = "cuda-base")]
        DeviceSpec::Cuda(ids) => {
            let index = ids.first().copied().unwrap_or(0);
            cxr::runtime::probe_cuda(index).map_err(anyhow::Error::msg)?;
            let dev = cxr::runtime::gpu_device(index);
            let fused = if cfg!(feature = "cuda") { "fused" } else { "unfused" };
            for &p in precisions {
                let out = parity_outputs::<Autodiff<cxr::runtime::Gpu>>(&cfg, &weights, p, &batch, &dev)?;
                report.add(&format!("cuda:{index} {fused} {p}"), p, Numerics::Cuda, &out, ("cpu f32", &reference))?;
                if cfg!(feature = "cuda") && !fused_only {
                    let plain = parity_outputs::<Autodiff<cxr::runtime::GpuUnfused>>(&cfg, &weights, p, &batch, &dev)?;
                    let unfused = format!("cuda:{index} unfused {p}");
                    report.add(&unfused, p, Numerics::Cuda, &plain, ("cpu f32", &reference))?;
                    report.add(&format!("cuda:{index} fused {p}"), p, Numerics::Cuda, &out, (&unfused, &plain))?;
                }
            }
        }
        #[cfg(not(feature = "cuda-base"))]
        DeviceSpec::Cuda(_) => unreachable!("checked by check_available"),
    }
    if report.failed > 0 {
        eprintln!("parity: {} of {} comparisons exceed their tolerance", report.failed, report.checks);
        return Ok(ExitCode::from(1));
    }
    eprintln!("parity: all {} comparisons within tolerance", report.checks);
    Ok(ExitCode::SUCCESS)
}
