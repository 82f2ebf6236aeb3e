//! ViT throughput benchmark (not a test): images/s for inference forward and for a training
//! step's forward + backward (BCE-with-logits on random multi-label targets, no optimizer).
//!
//! ```text
//! cargo bench --bench vit_throughput -- [--model b16|dinov2|tiny] [--batch 32] [--iters 5] [--warmup 1]
//! # on the 2-core CPU machine ViT-B/16 is ~0.4 img/s for training; use e.g. --batch 4 --iters 2
//! # NVIDIA GPU (burn 0.21 CUDA backend): cargo bench --features cuda --bench vit_throughput -- --device cuda
//! ```
//! `cargo bench` builds with the release (bench) profile: a clean build takes ~40 min on 2 cores.
//! Prints one JSON line per measurement. Images are random, 224x224 for the study presets.

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use burn::nn::loss::BinaryCrossEntropyLossConfig;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Distribution, Int, Tensor};
use cxr::model::ViTConfig;

/// Harmonized label count used for the synthetic targets (14 findings, as in the study).
const NUM_CLASSES: usize = 14;

struct Args {
    model: String,
    batch: usize,
    iters: usize,
    warmup: usize,
    device: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        model: "b16".into(),
        batch: 32,
        iters: 5,
        warmup: 1,
        device: "flex".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        // `cargo bench` appends `--bench`; ignore it.
        if flag == "--bench" {
            continue;
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--model" => args.model = value()?,
            "--batch" => args.batch = num(value()?)?,
            "--iters" => args.iters = num(value()?)?,
            "--warmup" => args.warmup = num(value()?)?,
            "--device" => args.device = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn config(name: &str) -> Result<ViTConfig, String> {
    match name {
        "b16" => Ok(ViTConfig::vit_base_patch16_224(NUM_CLASSES)),
        "dinov2" => Ok(ViTConfig::vit_base_patch14_dinov2(NUM_CLASSES)),
        "tiny" => Ok(ViTConfig::vit_tiny_test(NUM_CLASSES)),
        other => Err(format!("unknown model {other} (b16 | dinov2 | tiny)")),
    }
}

fn report(what: &str, args: &Args, secs: &[f64]) {
    let mean = secs.iter().sum::<f64>() / secs.len().max(1) as f64;
    let best = secs.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "{{\"bench\":\"{what}\",\"model\":\"{}\",\"device\":\"{}\",\"batch\":{},\"iters\":{},\"mean_s\":{mean:.4},\"best_s\":{best:.4},\"img_per_s\":{:.2}}}",
        args.model,
        args.device,
        args.batch,
        secs.len(),
        args.batch as f64 / mean
    );
}

/// Times `iters` calls of `step` after `warmup` untimed ones.
fn time(args: &Args, mut step: impl FnMut()) -> Vec<f64> {
    for _ in 0..args.warmup {
        step();
    }
    (0..args.iters)
        .map(|_| {
            let t = Instant::now();
            step();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

fn run<A: AutodiffBackend>(args: &Args, cfg: &ViTConfig, device: &A::Device) {
    let shape = [args.batch, 3, cfg.img_size, cfg.img_size];

    // Inference: plain backend, no graph.
    let model = cfg.init::<A::InnerBackend>(device);
    let x = Tensor::<A::InnerBackend, 4>::random(shape, Distribution::Uniform(0.0, 1.0), device);
    let secs = time(args, || {
        // Reading one value back forces the (possibly asynchronous) backend to finish.
        let _ = model.forward(x.clone()).sum().into_scalar();
    });
    report("forward", args, &secs);
    drop(model);

    // Training step without the optimizer: forward + BCE + backward.
    let model = cfg.init::<A>(device);
    let x = Tensor::<A, 4>::random(shape, Distribution::Uniform(0.0, 1.0), device);
    let y = Tensor::<A, 2, Int>::random(
        [args.batch, cfg.num_classes],
        Distribution::Uniform(0.0, 2.0),
        device,
    );
    let loss_fn = BinaryCrossEntropyLossConfig::new()
        .with_logits(true)
        .init(device);
    let secs = time(args, || {
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let grads = loss.backward();
        if let Some(g) = model.head.weight.grad(&grads) {
            let _ = g.sum().into_scalar();
        }
    });
    report("forward_backward", args, &secs);
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let cfg = match config(&args.model) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    match args.device.as_str() {
        "flex" => run::<Autodiff<Flex>>(&args, &cfg, &Default::default()),
        #[cfg(feature = "cuda")]
        "cuda" => run::<Autodiff<burn::backend::Cuda>>(&args, &cfg, &Default::default()),
        other => {
            eprintln!(
                "error: unknown or disabled device {other} (flex; cuda needs --features cuda)"
            );
            std::process::exit(2);
        }
    }
}
