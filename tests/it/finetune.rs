//! `fit --finetune linear|lora`: frozen tensors stay bit-equal, LoRA trains only the adapters
//! and the head, a merged export computes what the adapted model computes (and its qkv/proj
//! are `W + scale·B·A` computed here by hand), and a resumed LoRA run ends where an
//! uninterrupted one ends.

use std::collections::BTreeMap;
use std::path::Path;

use burn::backend::Autodiff;
use burn::module::{AutodiffModule, Module};
use burn::optim::AdamWConfig;
use burn::tensor::Tensor;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot};
use cxr::model::{
    LoadTarget, ViTConfig, VisionTransformer, load_adapters,
    load_vit, save_adapters,
};
use cxr::run::config::Finetune;
use cxr::runtime::{Cpu, cpu_device};
use cxr::train::TrainConfig;
use cxr::train::data::Batch;
use cxr::train::fit::adapt;
use cxr::train::step::step;

use crate::train::{json, store, train, train_ok};

type B = Autodiff<Cpu>;
type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Every tensor of a model under its timm key, PyTorch layout.
fn params(m: &VisionTransformer<Cpu>) -> Tensors {
    m.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|s| {
            let d = s.to_data().unwrap();
            (s.full_path(), (d.shape.to_vec(), d.convert::<f32>().into_vec::<f32>().unwrap()))
        })
        .collect()
}

/// Every tensor of a safetensors file (f32).
fn file_tensors(path: &Path) -> Tensors {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.names()
        .into_iter()
        .map(|n| {
            let v = st.tensor(n).unwrap();
            let vals = v.data().chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            (n.to_string(), (v.shape().to_vec(), vals))
        })
        .collect()
}

fn is_backbone(key: &str) -> bool {
    !key.starts_with("head.") && !key.contains("_lora.")
}

/// A deterministic batch of `n` 32 px images with 2 labels.
fn batch(n: usize, seed: u32) -> Batch {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    Batch {
        images: (0..n * 32 * 32).map(|_| (next() % 256) as u8).collect(),
        n,
        targets: (0..n * 2).map(|_| (next() % 2) as f32).collect(),
        mask: vec![1.0; n * 2],
        ds: vec![0; n],
    }
}

/// The tiny model adapted for `mode`, trained `steps` AdamW steps with weight decay 0.1;
/// returns the parameters before and after.
fn train_steps(mode: Finetune, steps: u32) -> (Tensors, Tensors, VisionTransformer<B>) {
    let device = cpu_device();
    let cfg = TrainConfig {
        labels: vec!["cardiomegaly".into(), "edema".into()],
        image_size: 32,
        weight_decay: 0.1,
        finetune: mode,
        lora_rank: 4,
        lora_alpha: 8.0,
        ..TrainConfig::default()
    };
    let model: VisionTransformer<B> = ViTConfig::vit_tiny_test(2).init(&device);
    let mut model = adapt(model, &cfg, &device).fork(&device);
    let before = params(&model.valid());
    let mut optim = AdamWConfig::new().with_weight_decay(0.1).init::<B, VisionTransformer<B>>();
    for i in 0..steps {
        (model, _) = step(model, &mut optim, batch(4, i + 1), &cfg, &[1.0, 1.0], 1e-2, &[device]);
    }
    (before, params(&model.valid()), model)
}

#[test]
fn linear_probing_and_lora_steps_change_only_what_trains() {
    for mode in [Finetune::Full, Finetune::Linear, Finetune::Lora] {
        let (before, after, _) = train_steps(mode, 3);
        assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
        for (k, (_, v)) in &before {
            let changed = after[k].1 != *v;
            let trains = match mode {
                Finetune::Full => true,
                Finetune::Linear => !is_backbone(k),
                Finetune::Lora => !is_backbone(k),
            };
            // Everything that trains moves (weight decay alone would move it); frozen tensors,
            // weight decay 0.1 included, are bit-equal.
            assert_eq!(changed, trains, "{mode:?}: {k} changed = {changed}");
        }
        let adapters = before.keys().filter(|k| k.contains("_lora.")).count();
        assert_eq!(adapters, if mode == Finetune::Lora { 2 * 2 * 2 } else { 0 }, "{mode:?}");
        if mode == Finetune::Lora {
            for (k, (_, v)) in before.iter().filter(|(k, _)| k.ends_with("lora_b.weight")) {
                assert!(v.iter().all(|&x| x == 0.0), "{k} starts at zero");
                assert!(after[k].1.iter().any(|&x| x != 0.0), "{k} no longer zero");
            }
        }
    }
}

#[test]
fn a_merged_lora_export_computes_the_adapted_model() {
    let (_, after, model) = train_steps(Finetune::Lora, 3);
    let model = model.valid();
    let device = cpu_device();
    let x = Tensor::<Cpu, 4>::random([3, 3, 32, 32], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
    let want = model.forward(x.clone()).into_data().into_vec::<f32>().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("lora.safetensors");
    crate::common::export_test_model(&model, &file, &["cardiomegaly", "edema"]);
    let exported = file_tensors(&file);
    assert!(exported.keys().all(|k| !k.contains("lora")), "a plain timm ViT");
    // qkv/proj of the export = W + (alpha/r)·B·A in PyTorch [out, in] layout, by hand.
    for blk in 0..2 {
        for lin in ["qkv", "proj"] {
            let base = &after[&format!("blocks.{blk}.attn.{lin}.weight")];
            let (ashape, a) = &after[&format!("blocks.{blk}.attn.{lin}_lora.lora_a.weight")]; // [r, in]
            let (_, b) = &after[&format!("blocks.{blk}.attn.{lin}_lora.lora_b.weight")]; // [out, r]
            let (r, d_in) = (ashape[0], ashape[1]);
            let got = &exported[&format!("blocks.{blk}.attn.{lin}.weight")];
            assert_eq!(got.0, base.0);
            let mut max = 0.0f32;
            for o in 0..base.0[0] {
                for i in 0..d_in {
                    let ba: f32 = (0..r).map(|j| b[o * r + j] * a[j * d_in + i]).sum();
                    max = max.max((base.1[o * d_in + i] + 2.0 * ba - got.1[o * d_in + i]).abs());
                }
            }
            assert!(max < 1e-6, "blocks.{blk}.attn.{lin}: {max}");
        }
    }
    for (k, v) in exported.iter().filter(|(k, _)| !k.contains(".attn.")) {
        assert_eq!(v, &after[k], "{k} exported unchanged");
    }
    let (merged, report) = load_vit::<Cpu>(&file, &LoadTarget::new(32, 2), &device).unwrap();
    assert!(!report.head_reinitialized && !merged.has_lora());
    let got = merged.forward(x.clone()).into_data().into_vec::<f32>().unwrap();
    let max = want.iter().zip(&got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(max <= 1e-5, "merged export vs adapted model: {max}");
    // The adapter file round trip: the base plus the saved adapters is the adapted model.
    let adapters = tmp.path().join("adapters.safetensors");
    save_adapters(&model, &adapters).unwrap();
    let mut base = model.clone();
    for b in &mut base.blocks {
        b.attn.qkv_lora = None;
        b.attn.proj_lora = None;
    }
    let again = load_adapters(base.with_lora(4, 8.0, &device), &adapters).unwrap();
    let got = again.forward(x).into_data().into_vec::<f32>().unwrap();
    assert_eq!(got, want);
}

/// A run folder holding a tiny random ViT with the two labels the fits below use, so
/// `--init mimic` keeps its head (and every tensor can be compared with it).
fn init_run(dir: &Path) -> Tensors {
    let device = cpu_device();
    let model: VisionTransformer<Cpu> = ViTConfig::vit_tiny_test(2).init(&device);
    let file = dir.join("init/checkpoints/best.safetensors");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    crate::common::export_test_model(&model, &file, &["cardiomegaly", "pleural_effusion"]);
    file_tensors(&file)
}

fn finetune_args<'a>(init: &'a str, out: &'a str, mode: &'a str) -> Vec<&'a str> {
    vec![
        "fit", "--store", store().to_str().unwrap(), "--dataset", "nih", "--init", "mimic", "--weights", init,
        "--labels", "cardiomegaly,pleural_effusion", "--epochs", "2", "--batch", "16", "--lr", "2e-3",
        "--weight-decay", "0.05", "--seed", "3", "--quiet", "--finetune", mode, "--lora-rank", "4",
        "--lora-alpha", "8", "--out", out,
    ]
}

#[test]
fn an_exported_linear_probe_keeps_every_backbone_tensor() {
    let tmp = tempfile::tempdir().unwrap();
    let initial = init_run(tmp.path());
    let init = tmp.path().join("init");
    let run = tmp.path().join("linear");
    train_ok(&finetune_args(init.to_str().unwrap(), run.to_str().unwrap(), "linear"));
    let cfg = json(&run.join("config.json"));
    assert_eq!(cfg["config"]["finetune"], "linear");
    assert_eq!(cfg["init"]["head_reinitialized"], false);
    let log = std::fs::read_to_string(run.join("train.log")).unwrap();
    assert!(log.contains("finetune linear: 50 of "), "{log}");
    assert!(log.contains("features: computed train ("), "the cached path (the default): {log}");
    let out = tmp.path().join("export.safetensors");
    train_ok(&["export", run.to_str().unwrap(), "--out", out.to_str().unwrap(), "--checkpoint", "last"]);
    let exported = file_tensors(&out);
    assert_eq!(exported.keys().collect::<Vec<_>>(), initial.keys().collect::<Vec<_>>());
    for (k, v) in &initial {
        if is_backbone(k) {
            assert_eq!(&exported[k], v, "{k} is frozen");
        } else {
            assert_ne!(&exported[k].1, &v.1, "{k} trains");
        }
    }
    assert!(!run.join("checkpoints/last.lora.safetensors").exists());
}

#[test]
fn a_lora_run_trains_adapters_and_head_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let initial = init_run(tmp.path());
    let init = tmp.path().join("init");
    let init = init.to_str().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    train_ok(&finetune_args(init, a.to_str().unwrap(), "lora"));
    let mut halted = finetune_args(init, b.to_str().unwrap(), "lora");
    halted.extend(["--halt-after-epoch", "1"]);
    assert_eq!(train(&halted).status.code(), Some(3));
    let epoch1 = file_tensors(&b.join("checkpoints/last.lora.safetensors"));
    train_ok(&["fit", "--resume", "--out", b.to_str().unwrap(), "--quiet"]);

    let cfg = json(&a.join("config.json"));
    assert_eq!((cfg["config"]["finetune"].as_str(), cfg["config"]["lora_rank"].as_u64()), (Some("lora"), Some(4)));
    let (ma, mb) = (json(&a.join("metrics.json")), json(&b.join("metrics.json")));
    for (x, y) in ma.as_array().unwrap().iter().zip(mb.as_array().unwrap()) {
        for k in ["train_loss", "val_loss"] {
            let (x, y) = (x[k].as_f64().unwrap(), y[k].as_f64().unwrap());
            assert!((x - y).abs() < 1e-5, "{k}: {x} vs {y}");
        }
    }
    for f in ["last.safetensors", "last.lora.safetensors"] {
        let (ta, tb) = (file_tensors(&a.join("checkpoints").join(f)), file_tensors(&b.join("checkpoints").join(f)));
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (k, (_, va)) in &ta {
            let max = va.iter().zip(&tb[k].1).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(max < 1e-5, "{f} {k}: resumed differs by {max}");
        }
    }
    // Adapters: peft names, B no longer zero, A and B moved during epoch 2.
    let adapters = file_tensors(&a.join("checkpoints/last.lora.safetensors"));
    assert_eq!(adapters.len(), 2 * 2 * 2);
    for (k, (shape, v)) in &adapters {
        assert!(k.starts_with("base_model.model.blocks."), "{k}");
        if k.ends_with("lora_B.weight") {
            assert_eq!(shape[1], 4);
            assert!(v.iter().any(|&x| x != 0.0), "{k}");
        }
        assert_ne!(&epoch1[k].1, v, "{k} trained in epoch 2");
    }
    // The merged checkpoint: frozen tensors bit-equal to the initial weights, qkv/proj moved
    // by exactly the adapters, the head trained.
    let merged = file_tensors(&a.join("checkpoints/last.safetensors"));
    for (k, v) in &initial {
        if k.starts_with("head.") {
            assert_ne!(&merged[k].1, &v.1, "{k} trains");
        } else if k.ends_with("attn.qkv.weight") || k.ends_with("attn.proj.weight") {
            let stem = k.trim_end_matches(".weight");
            let (ash, av) = &adapters[&format!("base_model.model.{stem}.lora_A.weight")];
            let (_, bv) = &adapters[&format!("base_model.model.{stem}.lora_B.weight")];
            let (r, d_in) = (ash[0], ash[1]);
            let mut max = 0.0f32;
            for o in 0..v.0[0] {
                for i in 0..d_in {
                    let ba: f32 = (0..r).map(|j| bv[o * r + j] * av[j * d_in + i]).sum();
                    max = max.max((v.1[o * d_in + i] + 2.0 * ba - merged[k].1[o * d_in + i]).abs());
                }
            }
            assert!(max < 1e-6, "{k}: merged − (W + 2·B·A) = {max}");
        } else {
            assert_eq!(&merged[k], v, "{k} is frozen");
        }
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max)
}

/// The peft fixtures (`scripts/gen_lora_fixture.py`): the timm base with peft's adapters
/// loaded, the reference tensors, their input batch `x` and the load target.
struct Peft {
    model: VisionTransformer<Cpu>,
    expected: Tensors,
    x: Tensor<Cpu, 4>,
    target: LoadTarget,
}

fn peft() -> Peft {
    let device = cpu_device();
    let fx = |n: &str| crate::common::fixture(&format!("model/{n}"));
    let mut target = LoadTarget::new(32, 3);
    target.num_heads = Some(2);
    let (base, _) = load_vit::<Cpu>(&fx("lora_base.safetensors"), &target, &device).unwrap();
    let model = load_adapters(base.with_lora(4, 8.0, &device), &fx("lora_adapters.safetensors")).unwrap();
    let expected = file_tensors(&fx("lora_expected.safetensors"));
    let x = Tensor::<Cpu, 4>::from_data(burn::tensor::TensorData::new(expected["x"].1.clone(), [2, 3, 32, 32]), &device);
    Peft { model, expected, x, target }
}

/// peft's own adapters (`scripts/gen_lora_fixture.py`: timm ViT + peft `LoraConfig(r=4,
/// lora_alpha=8)` on `attn.qkv`/`attn.proj`) load into the adapted model, which then computes
/// peft's logits; the merged export equals peft's `merge_and_unload()` state dict (what timm
/// loads) and computes the merged timm model's logits.
#[test]
fn peft_adapters_compute_and_merge_as_in_peft() {
    let Peft { model, expected, x, target } = peft();
    let device = cpu_device();
    let got = model.forward(x.clone()).into_data().into_vec::<f32>().unwrap();
    let d = max_diff(&got, &expected["lora_logits"].1);
    assert!(d <= 1e-5, "adapted model vs peft: {d}");

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("merged.safetensors");
    crate::common::export_test_model(&model, &file, &["a", "b", "c"]);
    let (ours, peft) = (file_tensors(&file), file_tensors(&crate::common::fixture("model/lora_merged.safetensors")));
    assert_eq!(ours.keys().collect::<Vec<_>>(), peft.keys().collect::<Vec<_>>());
    for (k, (shape, v)) in &peft {
        assert_eq!(&ours[k].0, shape, "{k}");
        let d = max_diff(&ours[k].1, v);
        assert!(d <= 1e-6, "{k}: merged by cxr vs peft merge_and_unload: {d}");
    }
    let (merged, _) = load_vit::<Cpu>(&file, &target, &device).unwrap();
    let got = merged.forward(x).into_data().into_vec::<f32>().unwrap();
    let d = max_diff(&got, &expected["merged_logits"].1);
    assert!(d <= 1e-5, "merged export vs timm merged model: {d}");
}

/// `--precision bf16` with adapters: the adapter products run in bf16 next to the adapted
/// Linear (the CPU backend's debug build rejects any f32/bf16 mix, so a dtype slip fails here)
/// and the logits stay within bf16's tolerance of f32.
#[test]
fn lora_runs_in_bf16() {
    use cxr::model::Precision;
    let Peft { model, expected, x, .. } = peft();
    let got = model.with_precision(Precision::Bf16).forward(x).into_data().into_vec::<f32>().unwrap();
    let want = &expected["lora_logits"].1;
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let d = max_diff(&got, want);
    assert!(d / scale < 2e-2, "bf16 LoRA logits: max |Δ| {d} over max |ref| {scale}");
}
