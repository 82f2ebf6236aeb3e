//! `cxr-train bench --model vit_base_patch16_224|vit_base_patch14_dinov2|tiny --batch N
//! --precision f32|bf16 --device cpu|cuda:N [--steps N] [--warmup N] [--parity]`
//!
//! Prints one JSON line per measurement on stdout (a summary on stderr). `--parity` instead runs
//! the same random weights and batch on the CPU backend in f32 (the reference) and on the
//! requested device in f32 and bf16 — fused and unfused on a `cuda` build — and exits 1 when a
//! maximum relative error exceeds its tolerance (f32/TF32 1e-3, bf16 2e-2).

use std::process::ExitCode;

use burn::backend::Autodiff;
use clap::Args;

use cxr::model::Precision;
use cxr::runtime::DeviceSpec;
use cxr::run::config::Finetune;
use cxr::train::{ModelKind, TrainConfig};
use cxr::train::bench::{
    BenchOptions, BenchResult, ParityCheck, ParityOutputs, RandomBatch, bench_train_step,
    compare_outputs, parity_outputs, parity_tolerance, peak_rss_bytes, random_weights,
};

#[derive(Args)]
pub struct BenchArgs {
    /// Architecture
    #[arg(long, default_value = "vit_base_patch16_224")]
    model: ModelKind,
    /// Images per step
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Matmul precision of the timed steps
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    precision: Precision,
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
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    cxr::outln!("{}", serde_json::to_string(v)?)?;
    Ok(())
}

fn summary(r: &BenchResult) {
    eprintln!(
        "{:?} {} {} batch {} on {} ({}): {:.2} img/s, {:.3} s/step, {:.1} TFLOP/s, warm-up {:.1} s, peak memory {}",
        r.model,
        r.precision,
        r.finetune,
        r.batch,
        r.device,
        r.backend,
        r.images_per_s,
        r.step_s,
        r.tflops,
        r.warmup_s,
        r.peak_memory_bytes.map_or("n/a".into(), |b| format!("{:.2} GiB ({})", b as f64 / (1u64 << 30) as f64, r.memory_source)),
    );
}

pub fn run(a: BenchArgs) -> anyhow::Result<ExitCode> {
    let size = a.size.unwrap_or(if a.model == ModelKind::Tiny { 32 } else { 224 });
    if a.batch == 0 || a.steps == 0 {
        anyhow::bail!("--batch and --steps must be positive");
    }
    let opts = BenchOptions {
        model: a.model,
        batch: a.batch,
        precision: a.precision,
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
        return parity(&opts, &a.device);
    }
    let result = match &a.device {
        DeviceSpec::Cpu => {
            let device = cxr::runtime::cpu_device();
            bench_train_step::<Autodiff<cxr::runtime::Cpu>>(&opts, &device, "flex", "cpu", || (peak_rss_bytes(), "process VmHWM"))
        }
        #[cfg(feature = "cuda-base")]
        DeviceSpec::Cuda(ids) => {
            let index = ids.first().copied().unwrap_or(0);
            cxr::runtime::probe_cuda(index).map_err(anyhow::Error::msg)?;
            let device = cxr::runtime::gpu_device(index);
            let backend = if cfg!(feature = "cuda") { "cuda fused+autotune" } else { "cuda autotune (no fusion)" };
            bench_train_step::<Autodiff<cxr::runtime::Gpu>>(&opts, &device, backend, &a.device.to_string(), || {
                (cxr::runtime::gpu_reserved_bytes(index), "CubeCL pool reserved")
            })
        }
        #[cfg(not(feature = "cuda-base"))]
        DeviceSpec::Cuda(_) => unreachable!("checked by check_available"),
    };
    summary(&result);
    print_json(&result)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs every comparison available on this build and device; exit 1 when one fails.
fn parity(opts: &BenchOptions, device: &DeviceSpec) -> anyhow::Result<ExitCode> {
    let cfg = opts.vit_config();
    let weights = random_weights(&cfg, opts.seed)?;
    let batch = RandomBatch::new(opts.batch, opts.image_size, opts.seed);
    let cpu = cxr::runtime::cpu_device();
    let run_cpu = |p: Precision| parity_outputs::<Autodiff<cxr::runtime::Cpu>>(&cfg, &weights, p, &batch, &cpu);
    let reference = run_cpu(Precision::F32)?;
    let mut checks: Vec<ParityCheck> = Vec::new();
    let mut add = |name: &str, p: Precision, out: &ParityOutputs, against: (&str, &ParityOutputs)| {
        checks.extend(compare_outputs(opts.model, (name, out), against, parity_tolerance(p)));
    };
    match device {
        DeviceSpec::Cpu => {
            let bf16 = run_cpu(Precision::Bf16)?;
            add("cpu bf16", Precision::Bf16, &bf16, ("cpu f32", &reference));
        }
        #[cfg(feature = "cuda-base")]
        DeviceSpec::Cuda(ids) => {
            let index = ids.first().copied().unwrap_or(0);
            cxr::runtime::probe_cuda(index).map_err(anyhow::Error::msg)?;
            let dev = cxr::runtime::gpu_device(index);
            let fused = if cfg!(feature = "cuda") { "fused" } else { "unfused" };
            for p in [Precision::F32, Precision::Bf16] {
                let out = parity_outputs::<Autodiff<cxr::runtime::Gpu>>(&cfg, &weights, p, &batch, &dev)?;
                add(&format!("cuda:{index} {fused} {p}"), p, &out, ("cpu f32", &reference));
                if cfg!(feature = "cuda") {
                    let plain = parity_outputs::<Autodiff<cxr::runtime::GpuUnfused>>(&cfg, &weights, p, &batch, &dev)?;
                    add(&format!("cuda:{index} unfused {p}"), p, &plain, ("cpu f32", &reference));
                    add(&format!("cuda:{index} fused {p}"), p, &out, (&format!("cuda:{index} unfused {p}"), &plain));
                }
            }
        }
        #[cfg(not(feature = "cuda-base"))]
        DeviceSpec::Cuda(_) => unreachable!("checked by check_available"),
    }
    let mut failed = 0;
    for c in &checks {
        print_json(c)?;
        eprintln!(
            "{:<5} {:<28} vs {:<24} {:<9} max rel err {:.2e} (tolerance {:.0e})",
            if c.pass { "ok" } else { "FAIL" },
            c.candidate,
            c.reference,
            c.quantity,
            c.max_rel_err,
            c.tolerance
        );
        failed += usize::from(!c.pass);
    }
    if failed > 0 {
        eprintln!("parity: {failed} of {} comparisons exceed their tolerance", checks.len());
        return Ok(ExitCode::from(1));
    }
    eprintln!("parity: all {} comparisons within tolerance", checks.len());
    Ok(ExitCode::SUCCESS)
}
