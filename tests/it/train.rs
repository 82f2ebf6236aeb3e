//! `cxr-train fit` end to end on a synthetic store (tiny ViT, CPU): run folder contents, the
//! loss going down, predict/export on the run, exact resume after a simulated kill, MIMIC-run
//! transfer to another label set, pos-weights against a hand count, the masked loss's zero
//! gradient, and the clear errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use burn::backend::Autodiff;
use burn::prelude::*;
use cxr::synth::{synthesize, SynthConfig};
use cxr::model::InputNorm;
use cxr::train::loss::{masked_bce, pos_weights};
use cxr::train::{fit, FitRequest, Init, ModelKind, Schedule, TrainConfig, Uncertain};

use crate::common::{labels, prep_ok, read_batches, strings};

type B = Autodiff<cxr::runtime::Cpu>;

/// A store with mimic and nih (160 synthetic images each, stored at 32 px), built once.
fn store() -> &'static Path {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut cfg = SynthConfig::new(dir.join("data"));
        cfg.images_per_dataset = 160;
        cfg.image_size = 64;
        let report = synthesize(&cfg).unwrap();
        let store = dir.join("store");
        for (name, root, _) in report.datasets.iter().filter(|d| d.0 == "mimic" || d.0 == "nih") {
            prep_ok(&["ingest", name, "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "32"]);
        }
        store
    })
}

fn train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args).output().expect("cxr-train runs")
}

fn train_ok(args: &[&str]) -> String {
    let out = train(args);
    assert!(
        out.status.success(),
        "cxr-train {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `fit` arguments for a tiny, fast run on `dataset` into `out`.
fn fit_args<'a>(dataset: &'a str, out: &'a str, epochs: &'a str) -> Vec<&'a str> {
    let s = store().to_str().unwrap();
    vec![
        "fit", "--store", s, "--dataset", dataset, "--init", "random", "--model", "tiny", "--epochs", epochs,
        "--batch", "16", "--lr", "2e-3", "--seed", "7", "--input-norm", "inception", "--quiet", "--out", out,
    ]
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The MIMIC run shared by several tests (3 epochs).
fn mimic_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = tempfile::tempdir().unwrap().keep().join("mimic");
        train_ok(&fit_args("mimic", run.to_str().unwrap(), "3"));
        run
    })
}

#[test]
fn fit_writes_the_run_folder_that_predict_and_export_read() {
    let run = mimic_run();
    for f in ["config.json", "metrics.csv", "metrics.json", "train.log", "curve.png", "checkpoints/best.safetensors", "checkpoints/best.json", "checkpoints/last.safetensors", "checkpoints/last.json", "checkpoints/last.state/state.json"] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    assert_eq!(&std::fs::read(run.join("curve.png")).unwrap()[1..4], b"PNG");
    let cfg = json(&run.join("config.json"));
    // The study's MIMIC label set (10, CheXpert's) and view filter (PA/AP).
    assert_eq!(cfg["config"]["labels"].as_array().unwrap().len(), 10);
    assert_eq!(cfg["config"]["views"][0][1]["only"], serde_json::json!(["PA", "AP"]));
    assert_eq!(cfg["vit_config"]["embed_dim"], 24);
    assert_eq!(cfg["store"]["meta_sha256"].as_str().unwrap().len(), 64);
    let m = json(&run.join("metrics.json"));
    let m = m.as_array().unwrap();
    assert_eq!(m.len(), 3);
    assert!(m.iter().all(|e| e["train_loss"].as_f64().is_some_and(f64::is_finite)));
    assert!(m.iter().all(|e| e["val_auroc_mean"].as_f64().is_some_and(|a| (0.0..=1.0).contains(&a))));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    // The checkpoint layout is what predict and export read.
    let dir = run.parent().unwrap();
    let preds = dir.join("preds.parquet");
    let s = store().to_str().unwrap();
    train_ok(&["predict", "--weights", run.to_str().unwrap(), "--store", s, "--dataset", "mimic", "--split", "val", "--out", preds.to_str().unwrap()]);
    assert!(preds.is_file());
    let exported = dir.join("export.safetensors");
    train_ok(&["export", run.to_str().unwrap(), "--out", exported.to_str().unwrap(), "--checkpoint", "last"]);
    assert!(exported.is_file() && dir.join("export.json").is_file());
    // A second fit into the same folder is refused (no silent overwrite).
    let again = train(&fit_args("mimic", run.to_str().unwrap(), "1"));
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--resume"));
}

#[test]
fn pooled_training_lowers_the_loss_and_beats_chance_on_val() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("pooled");
    // fit_args centres the inputs (--input-norm inception): a randomly initialised ViT fed
    // [0, 1] images sits on the label-prior plateau for hundreds of steps.
    let mut args = fit_args("mimic,nih", run.to_str().unwrap(), "8");
    args.extend(["--labels", "cardiomegaly,pleural_effusion,pneumothorax"]);
    train_ok(&args);
    let m = json(&run.join("metrics.json"));
    let m = m.as_array().unwrap();
    let best = m.iter().filter_map(|e| e["val_auroc_mean"].as_f64()).fold(0.0, f64::max);
    assert!(best > 0.62, "best mean val AUROC {best}");
    let loss: Vec<f64> = m.iter().map(|e| e["train_loss"].as_f64().unwrap()).collect();
    assert!(loss[6].min(loss[7]) < loss[0] - 0.05, "train loss {loss:?}");
    // Evaluation stays per dataset, over each dataset's annotated labels.
    let per = &m[0]["val_auroc"];
    assert!(per["mimic"]["cardiomegaly"].is_number() || per["mimic"]["cardiomegaly"].is_null());
    assert!(per.get("nih").is_some());
    let side = json(&run.join("checkpoints/best.json"));
    assert_eq!(side["preprocessing"]["mean"], serde_json::json!([0.5, 0.5, 0.5]));
}

#[test]
fn resume_after_a_kill_ends_where_an_uninterrupted_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train_ok(&fit_args("nih", a.to_str().unwrap(), "2"));
    let mut halted = fit_args("nih", b.to_str().unwrap(), "2");
    halted.extend(["--halt-after-epoch", "1"]);
    let out = train(&halted);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&b.join("metrics.json")).as_array().unwrap().len(), 1);
    train_ok(&["fit", "--resume", "--out", b.to_str().unwrap(), "--quiet"]);
    let (ma, mb) = (json(&a.join("metrics.json")), json(&b.join("metrics.json")));
    let (ma, mb) = (ma.as_array().unwrap(), mb.as_array().unwrap());
    assert_eq!(ma.len(), 2);
    assert_eq!(mb.len(), 2);
    for (x, y) in ma.iter().zip(mb) {
        for k in ["train_loss", "val_loss", "val_auroc_mean"] {
            let (x, y) = (x[k].as_f64().unwrap(), y[k].as_f64().unwrap());
            assert!((x - y).abs() < 1e-5, "{k}: {x} vs {y}");
        }
    }
    let wa = safetensors_values(&a.join("checkpoints/last.safetensors"));
    let wb = safetensors_values(&b.join("checkpoints/last.safetensors"));
    assert_eq!(wa.len(), wb.len());
    let max = wa.iter().zip(&wb).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(max < 1e-5, "weights differ by {max}");
}

fn safetensors_values(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<_> = st.names().into_iter().map(String::from).collect();
    names.sort();
    names
        .iter()
        .flat_map(|n| st.tensor(n).unwrap().data().chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>())
        .collect()
}

#[test]
fn a_mimic_run_initialises_another_dataset_with_a_new_head() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nih");
    let s = store().to_str().unwrap();
    let src = mimic_run().to_str().unwrap();
    train_ok(&["fit", "--store", s, "--dataset", "nih", "--init", "mimic", "--weights", src, "--epochs", "1", "--batch", "16", "--quiet", "--out", out.to_str().unwrap()]);
    let cfg = json(&out.join("config.json"));
    assert_eq!(cfg["config"]["labels"].as_array().unwrap().len(), 14, "NIH's own full study set");
    assert_eq!(cfg["init"]["source_labels"].as_array().unwrap().len(), 10);
    assert_eq!(cfg["init"]["head_reinitialized"], true);
    assert_eq!(cfg["vit_config"]["embed_dim"], 24, "architecture inferred from the source run");
    assert_eq!(cfg["init"]["weights_sha256"].as_str().unwrap().len(), 64);
    // The same labels keep the source head.
    let same = dir.path().join("mimic2");
    train_ok(&["fit", "--store", s, "--dataset", "mimic", "--init", "mimic", "--weights", src, "--epochs", "1", "--batch", "16", "--quiet", "--out", same.to_str().unwrap()]);
    assert_eq!(json(&same.join("config.json"))["init"]["head_reinitialized"], false);
}

#[test]
fn pos_weights_match_a_hand_count() {
    let cfg = json(&mimic_run().join("config.json"));
    let b = read_batches(store(), "mimic");
    let split = strings(&b, "split");
    let view = strings(&b, "view");
    let keep: Vec<bool> = split
        .iter()
        .zip(&view)
        .map(|(s, v)| s.as_deref() == Some("train") && matches!(v.as_deref(), Some("PA") | Some("AP")))
        .collect();
    let n = keep.iter().filter(|k| **k).count() as u64;
    assert_eq!(cfg["data"]["train_rows"], n);
    for label in cfg["config"]["labels"].as_array().unwrap() {
        let label = label.as_str().unwrap();
        let p = labels(&b, label).iter().zip(&keep).filter(|(v, k)| **k && **v == Some(1)).count() as u64;
        let rec = &cfg["data"]["labels"][label];
        assert_eq!(rec["counted"], n, "{label}: U-Zeros counts every row");
        assert_eq!(rec["positives"], p, "{label}");
        let want = pos_weights(&[(n, p)])[0];
        assert!((rec["pos_weight"].as_f64().unwrap() as f32 - want).abs() < 1e-6, "{label}");
        if p > 0 {
            assert!((want - (n - p) as f32 / p as f32).abs() < 1e-6);
        }
    }
}

#[test]
fn masked_labels_get_exactly_zero_gradient() {
    let device = Default::default();
    let logits = Tensor::<B, 2>::from_floats([[3.0, -2.0, 0.5], [-40.0, 40.0, 1.0]], &device).require_grad();
    let targets = Tensor::<B, 2>::from_floats([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]], &device);
    let mask = Tensor::<B, 2>::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], &device);
    let pw = Tensor::<B, 1>::from_floats([2.0, 3.0, 0.5], &device);
    let loss = masked_bce(logits.clone(), targets.clone(), mask, pw.clone());
    let grads = loss.backward();
    let g = logits.grad(&grads).unwrap().into_data().into_vec::<f32>().unwrap();
    assert_eq!(g[1], 0.0);
    assert_eq!(g[3], 0.0, "even a saturated masked logit");
    assert!([0, 2, 4, 5].iter().all(|&i| g[i] != 0.0), "{g:?}");
    // Unmasked mean equals PyTorch BCEWithLogitsLoss(pos_weight) on the 4 kept elements.
    let v = loss.into_scalar();
    let sp = |x: f32| (1.0 + x.exp()).ln();
    let want = (2.0 * sp(-3.0) + 0.5 * sp(-0.5) + sp(40.0) + sp(1.0)) / 4.0;
    assert!((v - want).abs() < 1e-4, "{v} vs {want}");
}

#[test]
fn clear_errors_for_a_missing_dataset_a_cpu_build_and_wrong_weights() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let o = out.to_str().unwrap();
    let missing = train(&fit_args("chexpert", o, "1"));
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("Dataset `chexpert` is not in the store") && err.contains("mimic, nih"), "{err}");
    if !cfg!(feature = "cuda") {
        let mut args = fit_args("nih", o, "1");
        args.extend(["--device", "cuda"]);
        let cuda = train(&args);
        assert_eq!(cuda.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&cuda.stderr).contains("without GPU support"));
    }
    let tiny = mimic_run().join("checkpoints/best.safetensors");
    let s = store().to_str().unwrap();
    let wrong = train(&["fit", "--store", s, "--dataset", "nih", "--init", "dinov2", "--weights", tiny.to_str().unwrap(), "--out", o, "--quiet"]);
    assert_eq!(wrong.status.code(), Some(2));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("LayerScale no") && err.contains("dinov2"), "{err}");
    let labels = train(&["fit", "--store", s, "--dataset", "nih", "--labels", "fracture", "--out", o, "--quiet"]);
    assert!(String::from_utf8_lossy(&labels.stderr).contains("Label `fracture` is not annotated by nih"));
    assert!(!out.join("config.json").exists(), "nothing written on a refused run");
}

#[test]
fn data_parallel_over_two_devices_trains_like_one_device() {
    // Two handles of the one CPU device exercise burn's multi-device path (fork per device,
    // MultiGradientsParams, Optimizer::step_multi) exactly as two GPUs would.
    let dir = tempfile::tempdir().unwrap();
    let request = |out: PathBuf| FitRequest {
        config: TrainConfig {
            store: store().to_path_buf(), datasets: vec!["nih".into()], labels: vec![], views: vec![],
            uncertain: Uncertain::Zeros, init: Init::Random, weights: None, model: Some(ModelKind::Tiny), image_size: 0,
            input_norm: InputNorm::Inception, epochs: 1, batch: 16, lr: 2e-3, weight_decay: 0.0, adam_eps: 1e-8,
            schedule: Schedule::Constant, warmup_steps: 0, grad_clip: None, patience: None, seed: 3, shuffle_window: 16,
            flip_p: 0.5, rotate_deg: 7.0, prefetch: 2,
        },
        labels_arg: "cardiomegaly,pleural_effusion,no_finding".into(),
        views_arg: "study".into(),
        out,
        resume: false,
        halt_after_epoch: None,
        progress: false,
        device_name: "cpu".into(),
    };
    let device = cxr::runtime::cpu_device();
    let one = fit::<B>(request(dir.path().join("one")), &[device]).unwrap();
    let two = fit::<B>(request(dir.path().join("two")), &[device, device]).unwrap();
    let (a, b) = (&one.metrics[0], &two.metrics[0]);
    assert!((a.train_loss - b.train_loss).abs() < 1e-4, "{} vs {}", a.train_loss, b.train_loss);
    assert!((a.val_loss - b.val_loss).abs() < 1e-4, "{} vs {}", a.val_loss, b.val_loss);
    let wa = safetensors_values(&dir.path().join("one/checkpoints/last.safetensors"));
    let wb = safetensors_values(&dir.path().join("two/checkpoints/last.safetensors"));
    let max = wa.iter().zip(&wb).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(max < 1e-4, "weights differ by {max}");
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("es");
    let s = store().to_str().unwrap();
    // lr 1e-12: the model does not change, so val AUROC never beats epoch 1.
    let out = train_ok(&["fit", "--store", s, "--dataset", "nih", "--model", "tiny", "--epochs", "6", "--batch", "16", "--lr", "1e-12", "--patience", "2", "--quiet", "--out", run.to_str().unwrap()]);
    assert!(out.contains("best epoch 1") && out.contains("stopped early"), "{out}");
    assert_eq!(json(&run.join("metrics.json")).as_array().unwrap().len(), 3);
    assert!(std::fs::read_to_string(run.join("train.log")).unwrap().contains("early stop"));
}
