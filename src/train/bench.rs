//! `cxr-train bench`: throughput of one full training step (forward, masked BCE, backward,
//! AdamW) on random data (`--parity` is `super::parity`).
//!
//! Timing is asynchronous-backend safe: the loss is read (a device sync) once after the warm-up
//! and once after the timed steps, never in between, as in `fit`. The first steps compile and
//! autotune the GPU kernels; their time is reported apart as `warmup_s`. The mean loss of the
//! timed steps is reported too (`loss_mean`, `finite`): a backend that computes garbage fast
//! (a swallowed kernel failure, a wrong fused kernel) shows as a non-finite or absurd loss
//! instead of as a throughput figure. With random 0/1 targets and a freshly initialised head the
//! mean BCE starts near ln 2 ≈ 0.69.
//!
//! FLOPs per image (for MFU) are the usual `6 × params × tokens` estimate of a training step
//! plus attention: ViT-B/16 at 224 px ≈ 3 × 35.2 GFLOP = 105.5 GFLOP per image (forward 17.6
//! GMAC; backward twice the forward).

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use super::augment::Rng;
use super::fit::adapt_with;
use crate::run::config::{Finetune, ModelKind};
use super::init::preset;
use super::loss::masked_bce;
use crate::model::{Precision, ViTConfig, VisionTransformer, grey_to_input};

/// Head outputs of the benchmark model (14 findings, as in the study's NIH/CheXpert sets).
pub const BENCH_CLASSES: usize = 14;

/// What to measure.
#[derive(Debug, Clone, Serialize)]
pub struct BenchOptions {
    pub model: ModelKind,
    /// Images per step.
    pub batch: usize,
    pub precision: Precision,
    /// Timed steps (after the warm-up).
    pub steps: usize,
    /// Untimed steps first (kernel compilation, autotune, allocator growth).
    pub warmup: usize,
    /// Input side in pixels (224 for the ViT-B presets, 32 for `tiny`).
    pub image_size: usize,
    /// Seed of the random weights and batch.
    pub seed: u64,
    /// What trains (`fit --finetune`): all parameters, the head, or LoRA adapters + head.
    pub finetune: Finetune,
    /// LoRA rank and alpha (`--finetune lora`).
    pub lora_rank: usize,
    pub lora_alpha: f64,
}

impl BenchOptions {
    /// The architecture measured.
    pub fn vit_config(&self) -> ViTConfig {
        preset(self.model, self.image_size, BENCH_CLASSES)
    }
}

/// Where a model runs, as far as numerics go: NVIDIA GPUs run f32 matmuls as TF32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numerics {
    /// burn's CPU backend: IEEE f32 matmuls.
    Cpu,
    /// burn-cuda: f32 matmuls on tensor cores as TF32 (10-bit mantissa) whenever a tensor-core
    /// kernel wins the autotune (cubek-matmul 0.2 `blueprint.rs`), exact f32 otherwise.
    Cuda,
}

/// The precision as the JSON states it: `bf16`, `f32`, or `f32(tf32)` on CUDA.
pub fn precision_label(precision: Precision, numerics: Numerics) -> String {
    match (precision, numerics) {
        (Precision::F32, Numerics::Cuda) => "f32(tf32)".into(),
        (p, _) => p.as_str().into(),
    }
}

/// One throughput measurement (one JSON line of `cxr-train bench`).
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    pub bench: &'static str,
    pub model: ModelKind,
    pub backend: String,
    pub device: String,
    /// `f32`, `f32(tf32)` (f32 on CUDA, see [`Numerics::Cuda`]) or `bf16`.
    pub precision: String,
    /// `full`, `linear` or `lora (r R, alpha A)`.
    pub finetune: String,
    pub batch: usize,
    pub image_size: usize,
    pub warmup_steps: usize,
    /// Seconds of the warm-up steps (kernel compile + autotune on a GPU).
    pub warmup_s: f64,
    pub steps: usize,
    /// Mean seconds per timed step.
    pub step_s: f64,
    pub images_per_s: f64,
    /// Estimated training FLOPs per image (see the module docs).
    pub gflop_per_image: f64,
    /// Achieved TFLOP/s from the estimate.
    pub tflops: f64,
    /// Peak memory in bytes where the backend reports it (GPU: the CubeCL pool's reserved
    /// bytes after the timed steps; CPU: the process's peak resident set, VmHWM).
    pub peak_memory_bytes: Option<u64>,
    pub memory_source: &'static str,
    /// Mean masked-BCE loss of the timed steps (≈ ln 2 ≈ 0.69 at the start: random 0/1
    /// targets, random head). NaN or infinite when the backend computed garbage.
    pub loss_mean: f64,
    /// Whether every timed step's loss was finite (their sum is).
    pub finite: bool,
}

impl std::fmt::Display for BenchResult {
    /// One line for people: model, precision, fine-tuning, batch, device, backend, images/s,
    /// seconds per step, TFLOP/s, warm-up, peak memory and mean loss.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let memory = self.peak_memory_bytes.map_or("n/a".into(), |b| {
            format!("{:.2} GiB ({})", b as f64 / (1u64 << 30) as f64, self.memory_source)
        });
        write!(
            f,
            "{:?} {} {} batch {} on {} ({}): {:.2} img/s, {:.3} s/step, {:.1} TFLOP/s, warm-up {:.1} s, peak memory {memory}, mean loss {:.4}",
            self.model,
            self.precision,
            self.finetune,
            self.batch,
            self.device,
            self.backend,
            self.images_per_s,
            self.step_s,
            self.tflops,
            self.warmup_s,
            self.loss_mean,
        )
    }
}

/// Training FLOPs per image: 3 × (2 × MACs of the forward), MACs = per block
/// `12·T·D²` (qkv, proj, MLP with ratio 4) `+ 2·T²·D` (two attention products), plus the patch
/// embedding `T·D·3·P²`.
pub fn train_gflop_per_image(cfg: &ViTConfig) -> f64 {
    let t = (cfg.num_patches() + 1) as f64;
    let d = cfg.embed_dim as f64;
    let hidden = cfg.mlp_hidden() as f64;
    let p = cfg.patch_size as f64;
    let block = t * d * (4.0 * d + 2.0 * hidden) + 2.0 * t * t * d;
    let macs = cfg.depth as f64 * block + (t - 1.0) * d * 3.0 * p * p;
    3.0 * 2.0 * macs / 1e9
}

/// Share of a full fine-tuning step's FLOPs that a mode computes (approximate; the head and the
/// adapters are negligible): `full` 1 (forward + input gradients + weight gradients, 3 forward
/// passes' worth), `lora` 2/3 (the backward still carries input gradients through every block to
/// the adapters, but computes no frozen weight gradient), `linear` 1/3 (the frozen backbone is
/// only run forward: nothing before the head requires a gradient).
pub fn finetune_flop_share(finetune: Finetune) -> f64 {
    match finetune {
        Finetune::Full => 1.0,
        Finetune::Lora => 2.0 / 3.0,
        Finetune::Linear => 1.0 / 3.0,
    }
}

/// A random batch: grey bytes `[n, 1, s, s]` and 0/1 targets `[n, K]` drawn from `seed`.
#[derive(Debug, Clone)]
pub struct RandomBatch {
    pub n: usize,
    pub size: usize,
    pub pixels: Vec<u8>,
    pub targets: Vec<f32>,
}

impl RandomBatch {
    pub fn new(n: usize, size: usize, seed: u64) -> RandomBatch {
        let mut rng = Rng::keyed(&[seed, 0xBE7C]);
        let pixels = (0..n * size * size).map(|_| rng.below(256) as u8).collect();
        let targets = (0..n * BENCH_CLASSES).map(|_| rng.below(2) as f32).collect();
        RandomBatch { n, size, pixels, targets }
    }

    /// `(images [n,3,s,s], targets [n,K], mask [n,K] of ones, pos_weight [K] of ones)`.
    pub fn tensors<B: Backend>(&self, device: &B::Device) -> TensorOut<B> {
        (
            grey_to_input::<B>(self.pixels.clone(), self.n, self.size, self.size, device),
            Tensor::from_data(TensorData::new(self.targets.clone(), [self.n, BENCH_CLASSES]), device),
            Tensor::ones([self.n, BENCH_CLASSES], device),
            Tensor::ones([BENCH_CLASSES], device),
        )
    }
}

type TensorOut<B> = (Tensor<B, 4>, Tensor<B, 2>, Tensor<B, 2>, Tensor<B, 1>);

/// The loss of one batch through `model` (graph kept for backward).
fn batch_loss<B: AutodiffBackend>(
    model: &VisionTransformer<B>,
    batch: &RandomBatch,
    device: &B::Device,
) -> Tensor<B, 1> {
    let (x, y, m, pw) = batch.tensors::<B>(device);
    masked_bce(model.forward(x), y, m, pw)
}

/// Times `opts.steps` full training steps on `device` after `opts.warmup` untimed ones.
/// `memory` reports the backend's peak memory (see [`BenchResult::peak_memory_bytes`]).
/// The caller treats `finite == false` as an error (the figure is meaningless).
pub fn bench_train_step<B: AutodiffBackend>(
    opts: &BenchOptions,
    device: &B::Device,
    numerics: Numerics,
    backend: &str,
    device_name: &str,
    memory: impl Fn() -> (Option<u64>, &'static str),
) -> BenchResult {
    let cfg = opts.vit_config();
    B::seed(device, opts.seed);
    let model = cfg.init::<B>(device).fork(device).with_precision(opts.precision);
    let mut model = adapt_with(model, opts.finetune, opts.lora_rank, opts.lora_alpha, device);
    let mut optim = AdamWConfig::new().with_epsilon(1e-8).init::<B, VisionTransformer<B>>();
    let batch = RandomBatch::new(opts.batch, opts.image_size, opts.seed);
    let mut run = |model: VisionTransformer<B>, steps: usize| {
        let mut model = model;
        let mut sum: Option<Tensor<B::InnerBackend, 1>> = None;
        for _ in 0..steps {
            let loss = batch_loss(&model, &batch, device);
            let v = loss.clone().inner();
            sum = Some(match sum {
                Some(s) => s + v,
                None => v,
            });
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-5, model, grads);
        }
        // The only device sync of the pass: the summed loss.
        let total = sum.map_or(0.0, |s| s.into_scalar().elem::<f64>());
        (model, total)
    };
    let t = Instant::now();
    (model, _) = run(model, opts.warmup);
    let warmup_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (_model, loss_sum) = run(model, opts.steps);
    let secs = t.elapsed().as_secs_f64();
    let loss_mean = loss_sum / opts.steps.max(1) as f64;
    let step_s = secs / opts.steps.max(1) as f64;
    let images_per_s = opts.batch as f64 / step_s.max(1e-12);
    let gflop = train_gflop_per_image(&cfg) * finetune_flop_share(opts.finetune);
    let (peak_memory_bytes, memory_source) = memory();
    BenchResult {
        bench: "train_step",
        model: opts.model,
        backend: backend.into(),
        device: device_name.into(),
        precision: precision_label(opts.precision, numerics),
        finetune: opts.finetune.describe(opts.lora_rank, opts.lora_alpha),
        batch: opts.batch,
        image_size: opts.image_size,
        warmup_steps: opts.warmup,
        warmup_s,
        steps: opts.steps,
        step_s,
        images_per_s,
        gflop_per_image: gflop,
        tflops: images_per_s * gflop / 1e3,
        peak_memory_bytes,
        memory_source,
        loss_mean,
        finite: loss_mean.is_finite(),
    }
}

/// The process's peak resident set (VmHWM of `/proc/self/status`), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vit_b16_training_flops_match_the_usual_estimate() {
        // 17.6 GMAC forward at 224 px (timm/fvcore count) -> 3 x 2 x 17.6 = 105.5 GFLOP.
        let g = train_gflop_per_image(&ViTConfig::vit_base_patch16_224(14));
        assert!((g - 105.5).abs() < 1.0, "{g}");
    }
}
