//! DINOv3 / RAD-DINO through the run machinery: library-level `predict` on a timm DINOv3 file
//! (architecture inferred from the file), and `fit --init dinov3|rad-dino` + `export` through
//! the binary on the shared 32 px synthetic store of `tests/it/train.rs`.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use burn::tensor::activation::sigmoid;
use cxr::evaluate::predict::{PredictOptions, predict};
use cxr::model::{
    LoadTarget, Precision, VisionTransformer,
    grey_to_input, load_vit,
};

use super::dinov3::target;
use super::{fixture, max_abs_diff, to_vec};
use crate::common::{images, read_batches, strings};
use crate::train::{json, mimic_run, store, train, train_ok};

type B = Flex;

const LABELS: [&str; 3] = ["atelectasis", "cardiomegaly", "pleural_effusion"];

#[test]
fn predict_on_a_timm_dinov3_file_equals_its_forward() {
    // `predict` infers the architecture from the timm file (RoPE, 4 registers, head of 3) and
    // must give sigmoid(forward) of the loaded model, whose logits equal timm's own forward
    // (`dinov3::timm_dinov3_logits_match_timm_at_two_sizes`, <= 1e-5).
    let tmp = tempfile::tempdir().unwrap();
    let file = fixture("timm_dinov3_p16.safetensors");
    let opts = PredictOptions {
        weights: file.clone(),
        store: store().to_path_buf(),
        datasets: Some(vec!["nih".into()]),
        splits: None,
        out: tmp.path().join("preds.parquet"),
        labels: Some(LABELS.iter().map(|s| s.to_string()).collect()),
        batch: 5,
        imagenet_norm: false,
        num_heads: Some(2),
        precision: Precision::F32,
    };
    let preds = predict::<B>(&opts, &Default::default()).unwrap();
    assert!(preds.len() > 5);
    let (model, report) = load_vit::<B>(&file, &target(32, 3), &Default::default()).unwrap();
    assert!(!report.head_reinitialized);
    let batches = read_batches(store(), "nih");
    let ids = strings(&batches, "image_id");
    let pixels = images(&batches);
    let mut worst = 0f32;
    for (r, id) in preds.image_id.iter().enumerate() {
        let row = ids
            .iter()
            .position(|i| i.as_deref() == Some(id.as_str()))
            .unwrap();
        let img = pixels[row].clone().unwrap();
        let x = grey_to_input::<B>(img, 1, 32, 32, &Default::default());
        let want = to_vec(sigmoid(model.forward(x)));
        let got: Vec<f32> = preds.p.iter().map(|column| column[r]).collect();
        worst = worst.max(max_abs_diff(&got, &want));
    }
    eprintln!(
        "predict vs forward: max |diff| = {worst:.3e} over {} images",
        preds.len()
    );
    assert!(worst <= 1e-6, "{worst}");
}

/// Writes `model` as a cxr checkpoint (config with the head count in its metadata).
fn cxr_file(model: &VisionTransformer<B>, path: &Path) -> PathBuf {
    crate::common::export_test_model(model, path, &LABELS);
    path.to_path_buf()
}

/// The tiny timm DINOv3 fixture, loaded.
fn tiny_dinov3() -> VisionTransformer<B> {
    load_vit::<B>(
        &fixture("timm_dinov3_p16.safetensors"),
        &target(32, 3),
        &Default::default(),
    )
    .unwrap()
    .0
}

/// The tiny HF DINOv2 fixture (RAD-DINO's file layout) at the `tiny` preset's 32 px, 2 heads.
fn tiny_dinov2() -> (VisionTransformer<B>, cxr::model::LoadReport) {
    let target = LoadTarget { num_heads: Some(2), ..LoadTarget::new(32, 3) };
    load_vit::<B>(&fixture("hf_dinov2_p8_g7.safetensors"), &target, &Default::default()).unwrap()
}

/// `cxr-train fit --init <init> --weights <weights>` on the NIH store into `out`; `extra` args
/// follow.
fn fit_args(init: &str, weights: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let (store, weights, out) = (store(), weights.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec![
        "fit",
        "--store",
        store.to_str().unwrap(),
        "--dataset",
        "nih",
        "--init",
        init,
        "--weights",
        weights,
        "--quiet",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    train(&args)
}

/// One epoch of [`fit_args`]; panics unless it succeeds.
fn fit(init: &str, weights: &Path, out: &Path) -> String {
    fit_with(init, weights, out, &[])
}

/// [`fit`] with more arguments after the one-epoch defaults.
fn fit_with(init: &str, weights: &Path, out: &Path, more: &[&str]) -> String {
    let mut extra = vec!["--epochs", "1", "--batch", "16", "--lr", "1e-4"];
    extra.extend_from_slice(more);
    let o = fit_args(init, weights, out, &extra);
    assert!(o.status.success(), "fit --init {init} failed:\n{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// [`fit_args`] that must be refused as a usage error (exit 2); returns stderr.
fn fit_refused(init: &str, weights: &Path, out: &Path) -> String {
    let o = fit_args(init, weights, out, &[]);
    assert_eq!(o.status.code(), Some(2));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn fit_init_dinov3_exports_and_reloads() {
    let tmp = tempfile::tempdir().unwrap();
    // The tiny timm file in cxr form (8-wide heads are not inferable from tensors).
    let model = tiny_dinov3();
    let weights = cxr_file(&model, &tmp.path().join("tiny_dinov3.safetensors"));
    let run = tmp.path().join("run");
    fit("dinov3", &weights, &run);
    let cfg = json(&run.join("config.json"));
    assert!(
        cfg["vit_config"]["rope"].is_object(),
        "{}",
        cfg["vit_config"]
    );
    assert_eq!(cfg["vit_config"]["num_registers"], 4);
    assert_eq!(cfg["config"]["init"], "dinov3");
    assert_eq!(
        cfg["init"]["head_reinitialized"], true,
        "NIH labels, not the file's 3"
    );

    let exported = tmp.path().join("export/run.safetensors");
    train_ok(&[
        "export",
        run.to_str().unwrap(),
        "--out",
        exported.to_str().unwrap(),
    ]);
    let side = json(&exported.with_extension("json"));
    assert_eq!(side["timm_model_name"], "vit_base_patch16_dinov3");
    let (back, report) =
        load_vit::<B>(&exported, &LoadTarget::new(32, 14), &Default::default()).unwrap();
    assert!(!report.head_reinitialized);
    assert_eq!(back.config().rope, model.config().rope);
    // The run's best checkpoint and its export give the same logits.
    let (best, _) = load_vit::<B>(
        &run.join("checkpoints/best.safetensors"),
        &LoadTarget::new(32, 14),
        &Default::default(),
    )
    .unwrap();
    let x = super::dinov3::input(32);
    assert_eq!(to_vec(best.forward(x.clone())), to_vec(back.forward(x)));

    // A learned-position ViT (a cxr run's checkpoint) is not a DINOv3 checkpoint.
    let ckpt = mimic_run().join("checkpoints/best.safetensors");
    let err = fit_refused("dinov3", &ckpt, &tmp.path().join("no"));
    assert!(err.contains("RoPE no") && err.contains("dinov3"), "{err}");
}

#[test]
fn fit_init_rad_dino_takes_a_dinov2_family_file() {
    let tmp = tempfile::tempdir().unwrap();
    // RAD-DINO ships as HF `Dinov2Model`; the tiny HF DINOv2 fixture has the `tiny` preset's shape.
    let (model, report) = tiny_dinov2();
    assert!(report.config.layer_scale.is_some());
    let weights = cxr_file(&model, &tmp.path().join("tiny_raddino.safetensors"));
    let run = tmp.path().join("run");
    fit("rad-dino", &weights, &run);
    let cfg = json(&run.join("config.json"));
    assert_eq!(cfg["config"]["init"], "rad-dino");
    assert!(cfg["vit_config"]["rope"].is_null());
    // The study's [0, 1] inputs unless asked: no init switches a normalisation on by itself.
    assert_eq!(cfg["config"]["input_norm"], "None");
    assert_eq!(cfg["vit_config"]["input_norm"], "None");
    // `--input-norm rad-dino`: RAD-DINO's processor statistics, recorded in config.json and
    // carried by the checkpoint's sidecar (the export's preprocessing mean/std).
    let normed = tmp.path().join("normed");
    fit_with("rad-dino", &weights, &normed, &["--input-norm", "rad-dino"]);
    let cfg = json(&normed.join("config.json"));
    assert_eq!(cfg["config"]["input_norm"], "RadDino", "{}", cfg["config"]);
    assert_eq!(cfg["vit_config"]["input_norm"], "RadDino");
    let exported = tmp.path().join("export/normed.safetensors");
    train_ok(&["export", normed.to_str().unwrap(), "--out", exported.to_str().unwrap()]);
    let side = json(&exported.with_extension("json"));
    for (key, want) in [("mean", 0.5307), ("std", 0.2583)] {
        let got: Vec<f64> = side["preprocessing"][key].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|g| (g - want).abs() < 1e-6), "{key}: {got:?}");
    }
    // A DINOv3 file is not RAD-DINO.
    let d3_file = cxr_file(&tiny_dinov3(), &tmp.path().join("d3.safetensors"));
    let err = fit_refused("rad-dino", &d3_file, &tmp.path().join("no"));
    assert!(err.contains("rad-dino"), "{err}");
}

/// `demo --weights dinov3=FILE,rad-dino=FILE` on tiny files: both columns run, and the random
/// and MIMIC columns take the first file's architecture (tiny DINOv3), not ViT-B/16.
#[test]
fn demo_with_dinov3_and_rad_dino_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let d3_file = cxr_file(&tiny_dinov3(), &tmp.path().join("tiny_dinov3.safetensors"));
    let rd_file = cxr_file(&tiny_dinov2().0, &tmp.path().join("tiny_raddino.safetensors"));
    let out = tmp.path().join("demo");
    let weights = format!("dinov3={},rad-dino={}", d3_file.display(), rd_file.display());
    let t0 = std::time::Instant::now();
    let text = train_ok(&[
        "demo", "--out", out.to_str().unwrap(), "--n", "48", "--size", "32", "--epochs", "1",
        "--batch", "16", "--lr", "1e-4", "--bootstrap", "20", "--quiet", "--weights", &weights,
    ]);
    eprintln!("demo with two tiny weights files: {:.1} s", t0.elapsed().as_secs_f64());
    let header = text.lines().find(|l| l.starts_with("| dataset |")).unwrap_or_else(|| panic!("{text}"));
    for col in ["dinov3", "rad-dino", "mimic", "random"] {
        assert!(header.contains(&format!(" {col} |")), "column {col}: {header}");
    }
    assert!(text.contains("TinyDinov3 ViT"), "{text}");
    let runs = out.join("bench/runs");
    // (embed_dim, RoPE): tiny DINOv3 is 16-wide with RoPE, the tiny RAD-DINO-shaped file 24-wide without.
    for (run, dim, rope) in [
        (runs.join("mimic-pretrain"), 16, true),
        (runs.join("nih/random"), 16, true),
        (runs.join("nih/dinov3"), 16, true),
        (runs.join("nih/mimic"), 16, true),
        (runs.join("nih/rad-dino"), 24, false),
    ] {
        let vc = &json(&run.join("config.json"))["vit_config"];
        assert_eq!((vc["embed_dim"].as_u64(), vc["rope"].is_object()), (Some(dim), rope), "{}: {vc}", run.display());
    }
}

/// `--model`'s help lists every preset (from the `ModelKind` ValueEnum, not a hand-written list).
#[test]
fn model_help_lists_every_preset() {
    use clap::ValueEnum;
    let help = train_ok(&["fit", "--help"]);
    for kind in cxr::train::ModelKind::value_variants() {
        let name = kind.to_possible_value().unwrap().get_name().to_string();
        assert!(help.contains(&format!("- {name}:")), "{name} missing from `fit --help`:\n{help}");
    }
}
