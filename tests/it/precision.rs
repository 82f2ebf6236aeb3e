//! `--precision bf16` (mixed precision: bf16 matmuls, f32 master weights) on burn's CPU backend,
//! whose debug build asserts that both operands of every binary op have the same dtype, so any
//! f32/bf16 mix-up in the model fails here. And `cxr-train bench` (timing and `--parity`) on CPU.

use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::DType;
use cxr::model::{Precision, ViTConfig};
use cxr::train::bench::RandomBatch;
use cxr::train::parity::{model_from_weights, random_weights};
use cxr::train::loss::masked_bce;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cxr::synth::{SynthConfig, synthesize};

use crate::common::prep_ok;
use crate::train::{B, json, train, train_ok};

/// A store with 960 synthetic NIH images at 32 px: enough val rows (63) for a val AUROC that
/// is not a coin flip (the shared 160-image store has 15).
fn nih_store() -> &'static Path {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut cfg = SynthConfig::new(dir.join("data"));
        cfg.images_per_dataset = 960;
        cfg.image_size = 64;
        let report = synthesize(&cfg).unwrap();
        let root = &report.datasets.iter().find(|d| d.0 == "nih").unwrap().1;
        let store = dir.join("store");
        let (root, out) = (root.to_str().unwrap(), store.to_str().unwrap());
        prep_ok(&["ingest", "nih", "--root", root, "--out", out, "--size", "32"]);
        store
    })
}

/// A tiny random-init run (the demo's schedule) on [`nih_store`] for 8 epochs.
fn fit_nih<'a>(out: &'a str, precision: &'a str) -> Vec<&'a str> {
    let store = nih_store().to_str().unwrap();
    vec![
        "fit", "--store", store, "--dataset", "nih", "--init", "random", "--model", "tiny",
        "--epochs", "8", "--batch", "16", "--lr", "1e-3", "--schedule", "cosine",
        "--warmup-steps", "20", "--seed", "7", "--input-norm", "inception", "--quiet",
        "--labels", "cardiomegaly,pleural_effusion,pneumothorax", "--precision", precision,
        "--out", out,
    ]
}

/// A small ViT (64 px, patch 8, 96 wide, 3 blocks, LayerScale) and its loss on a random batch.
fn small() -> ViTConfig {
    ViTConfig::new(64, 8, 96, 3, 4, 14).with_layer_scale(Some(1.0))
}

#[test]
fn bf16_loss_matches_f32_and_gradients_and_optimizer_state_stay_f32() {
    let cfg = small();
    let device = cxr::runtime::cpu_device();
    let weights = random_weights(&cfg, 5).unwrap();
    let batch = RandomBatch::new(6, 64, 5);
    let loss_of = |p: Precision| {
        let model = model_from_weights::<B>(&cfg, &weights, p, &device).unwrap();
        let (x, y, m, pw) = batch.tensors::<B>(&device);
        let loss = masked_bce(model.forward(x), y, m, pw);
        (model, loss)
    };
    let (_, l32) = loss_of(Precision::F32);
    let (model, l16) = loss_of(Precision::Bf16);
    assert_eq!(l16.dtype(), DType::F32, "the loss is computed in f32");
    let (a, b) = (l32.clone().into_scalar(), l16.clone().into_scalar());
    assert!(((b - a) / a).abs() < 1e-2, "f32 loss {a}, bf16 loss {b}");
    assert_ne!(a, b, "bf16 matmuls must actually run in bf16");

    let grads = l16.backward();
    let block = &model.blocks[0];
    for (name, g) in [
        ("qkv", block.attn.qkv.weight.grad(&grads).map(|g| g.dtype())),
        ("proj", block.attn.proj.weight.grad(&grads).map(|g| g.dtype())),
        ("fc1", block.mlp.fc1.weight.grad(&grads).map(|g| g.dtype())),
        ("fc2 bias", block.mlp.fc2.bias.as_ref().and_then(|b| b.grad(&grads)).map(|g| g.dtype())),
        ("head", model.head.weight.grad(&grads).map(|g| g.dtype())),
    ] {
        assert_eq!(g, Some(DType::F32), "{name} gradient");
    }
    let ls = block.ls1.as_ref().unwrap().gamma.grad(&grads).map(|g| g.dtype());
    assert_eq!(ls, Some(DType::F32), "LayerScale gradient");
    assert_eq!(model.cls_token.grad(&grads).map(|g| g.dtype()), Some(DType::F32));

    // Two AdamW steps: the second combines f32 parameters with the moments of the first, which
    // the debug CPU backend would reject if either were bf16.
    let mut optim = AdamWConfig::new().init::<B, cxr::model::VisionTransformer<B>>();
    let mut model = model;
    for _ in 0..2 {
        let (x, y, m, pw) = batch.tensors::<B>(&device);
        let loss = masked_bce(model.forward(x), y, m, pw);
        let g = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, g);
    }
    assert_eq!(model.blocks[0].attn.qkv.weight.val().dtype(), DType::F32);
    assert_eq!(model.head.weight.val().dtype(), DType::F32);
    assert!(!optim.to_record().is_empty(), "AdamW kept a state");
}

#[test]
fn bf16_fit_learns_like_f32_records_its_precision_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let best = |run: &std::path::Path| {
        json(&run.join("metrics.json"))
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["val_auroc_mean"].as_f64())
            .fold(0.0, f64::max)
    };
    let mut aurocs = Vec::new();
    for p in ["f32", "bf16"] {
        let run = dir.path().join(p);
        train_ok(&fit_nih(run.to_str().unwrap(), p));
        assert_eq!(json(&run.join("config.json"))["config"]["precision"], p);
        aurocs.push(best(&run));
    }
    let (f32_best, bf16_best) = (aurocs[0], aurocs[1]);
    // Measured: f32 0.902, bf16 0.907 (chance 0.5).
    assert!(f32_best > 0.75 && bf16_best > 0.75, "best val AUROC f32 {f32_best}, bf16 {bf16_best}");
    assert!((f32_best - bf16_best).abs() <= 0.08, "f32 {f32_best} vs bf16 {bf16_best}");

    // The bf16 run's checkpoints are f32 tensors.
    let bytes = std::fs::read(dir.path().join("bf16/checkpoints/best.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert!(st.tensors().iter().all(|(_, t)| t.dtype() == safetensors::Dtype::F32));

    // Killed after epoch 2 and resumed: the same run as the uninterrupted one.
    let run = dir.path().join("bf16-resumed");
    let mut args = fit_nih(run.to_str().unwrap(), "bf16");
    args.extend(["--halt-after-epoch", "2"]);
    assert_eq!(train(&args).status.code(), Some(3));
    train_ok(&["fit", "--resume", "--quiet", "--out", run.to_str().unwrap()]);
    let (a, b) = (json(&run.join("metrics.json")), json(&dir.path().join("bf16/metrics.json")));
    for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
        let (x, y) = (x["val_loss"].as_f64().unwrap(), y["val_loss"].as_f64().unwrap());
        assert!((x - y).abs() < 1e-6, "resumed {x} vs uninterrupted {y}");
    }
}

#[test]
fn bench_times_a_training_step_and_checks_parity_on_cpu() {
    let out = train_ok(&["bench", "--model", "tiny", "--batch", "4", "--steps", "2", "--warmup", "1", "--precision", "bf16"]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["bench"], "train_step");
    assert_eq!(r["precision"], "bf16");
    assert_eq!(r["model"], "tiny");
    assert!(r["images_per_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["peak_memory_bytes"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["finetune"], "full");
    // The loss is reported so a backend computing garbage cannot pass as fast: random 0/1
    // targets and a fresh head start near ln 2.
    assert_eq!(r["finite"], true, "{r}");
    let loss = r["loss_mean"].as_f64().unwrap();
    assert!(loss > 0.3 && loss < 1.5, "{r}");

    // The fine-tuning modes time their own step; the FLOP estimate follows what is computed.
    let full_gflop = r["gflop_per_image"].as_f64().unwrap();
    for (mode, label, share) in [("lora", "lora (r 4, alpha 8)", 2.0 / 3.0), ("linear", "linear", 1.0 / 3.0)] {
        let out = train_ok(&[
            "bench", "--model", "tiny", "--batch", "4", "--steps", "2", "--warmup", "1", "--finetune", mode,
            "--lora-rank", "4", "--lora-alpha", "8",
        ]);
        let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(r["finetune"], label, "{r}");
        assert!(r["images_per_s"].as_f64().unwrap() > 0.0, "{r}");
        let gflop = r["gflop_per_image"].as_f64().unwrap();
        assert!((gflop - full_gflop * share).abs() < 1e-9, "{mode}: {gflop} vs {full_gflop}");
    }

    // Parity: both precisions by default, each on the training forward's logits, the inference
    // forward's (`valid()`) logits and the head gradient, against the CPU f32 reference.
    let parity = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["bench", "--model", "tiny", "--batch", "4", "--parity"];
        args.extend(extra);
        train_ok(&args).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let lines = parity(&[]);
    let quantities: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["candidate"].as_str().unwrap(), l["quantity"].as_str().unwrap())).collect();
    assert_eq!(
        quantities,
        [
            ("cpu f32", "logits"),
            ("cpu f32", "valid_logits"),
            ("cpu f32", "head_grad"),
            ("cpu bf16", "logits"),
            ("cpu bf16", "valid_logits"),
            ("cpu bf16", "head_grad"),
        ]
    );
    for l in &lines {
        assert_eq!(l["pass"], true, "{l}");
        let err = l["max_rel_err"].as_f64().unwrap();
        match l["candidate"].as_str().unwrap() {
            // The reference itself: its training forward exactly, its inference forward within
            // f32 rounding (no dropout in the bench model).
            "cpu f32" => {
                assert!(err < 1e-5, "{l}");
                assert_eq!(l["tolerance"], 1e-3, "{l}");
            }
            _ => {
                assert!(err > 0.0 && err < 2e-2, "{l}");
                assert_eq!(l["tolerance"], 2e-2, "{l}");
            }
        }
    }
    // --precision narrows the comparisons to one precision.
    let bf16 = parity(&["--precision", "bf16"]);
    assert_eq!(bf16.len(), 3);
    assert!(bf16.iter().all(|l| l["candidate"] == "cpu bf16"), "{bf16:?}");
    // --fused-only means nothing without --parity.
    let o = train(&["bench", "--model", "tiny", "--fused-only"]);
    assert_eq!(o.status.code(), Some(2));
    // A GPU request on a CPU-only build is refused with the rebuild hint.
    if !cfg!(feature = "cuda-base") {
        let o = train(&["bench", "--model", "tiny", "--device", "cuda:0"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("--features cuda"));
    }
}
