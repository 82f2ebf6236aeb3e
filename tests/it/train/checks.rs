//! `cxr-train fit` checks that need no learning: pos-weights against a hand count, the masked
//! loss's exact zero gradient, clear errors, early stopping, and data-parallel = one device.

use std::path::PathBuf;

use burn::prelude::*;
use cxr::model::InputNorm;
use cxr::train::loss::{masked_bce, pos_weights};
use cxr::train::{FitRequest, ModelKind, TrainConfig, fit};

use super::{B, fit_args, json, mimic_run, safetensors_values, store, train, train_ok};
use crate::common::{labels, read_batches, strings};

#[test]
fn pos_weights_match_a_hand_count() {
    let cfg = json(&mimic_run().join("config.json"));
    let b = read_batches(store(), "mimic");
    let split = strings(&b, "split");
    let view = strings(&b, "view");
    let run_labels: Vec<Vec<Option<i8>>> = cfg["config"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| labels(&b, l.as_str().unwrap()))
        .collect();
    // Rows with no stated value for any run label (MIMIC studies without a label row) are skipped.
    let stated: Vec<bool> = (0..split.len())
        .map(|i| run_labels.iter().any(|c| c[i].is_some()))
        .collect();
    let in_split: Vec<bool> = split
        .iter()
        .zip(&view)
        .map(|(s, v)| {
            s.as_deref() == Some("train") && matches!(v.as_deref(), Some("PA") | Some("AP"))
        })
        .collect();
    let keep: Vec<bool> = in_split.iter().zip(&stated).map(|(a, b)| *a && *b).collect();
    let n = keep.iter().filter(|k| **k).count() as u64;
    let skipped = in_split.iter().zip(&stated).filter(|(a, b)| **a && !**b).count() as u64;
    assert!(skipped > 0, "the synthetic MIMIC has studies without a label row");
    assert_eq!(cfg["data"]["train_rows"], n);
    assert_eq!(cfg["data"]["skipped_unlabelled"][0], skipped);
    for label in cfg["config"]["labels"].as_array().unwrap() {
        let label = label.as_str().unwrap();
        let p = labels(&b, label)
            .iter()
            .zip(&keep)
            .filter(|(v, k)| **k && **v == Some(1))
            .count() as u64;
        let rec = &cfg["data"]["labels"][label];
        assert_eq!(rec["counted"], n, "{label}: U-Zeros counts every row");
        assert_eq!(rec["positives"], p, "{label}");
        let want = pos_weights(&[(n, p)])[0];
        assert!(
            (rec["pos_weight"].as_f64().unwrap() as f32 - want).abs() < 1e-6,
            "{label}"
        );
        if p > 0 {
            assert!((want - (n - p) as f32 / p as f32).abs() < 1e-6);
        }
    }
}

#[test]
fn masked_labels_get_exactly_zero_gradient() {
    let device = Default::default();
    let logits =
        Tensor::<B, 2>::from_floats([[3.0, -2.0, 0.5], [-40.0, 40.0, 1.0]], &device).require_grad();
    let targets = Tensor::<B, 2>::from_floats([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]], &device);
    let mask = Tensor::<B, 2>::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], &device);
    let pw = Tensor::<B, 1>::from_floats([2.0, 3.0, 0.5], &device);
    let loss = masked_bce(logits.clone(), targets.clone(), mask, pw.clone());
    let grads = loss.backward();
    let g = logits
        .grad(&grads)
        .unwrap()
        .into_data()
        .into_vec::<f32>()
        .unwrap();
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
    assert!(
        err.contains("Dataset `chexpert` is not in the store") && err.contains("mimic, nih"),
        "{err}"
    );
    if !cfg!(feature = "cuda-base") {
        let mut args = fit_args("nih", o, "1");
        args.extend(["--device", "cuda"]);
        let cuda = train(&args);
        assert_eq!(cuda.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&cuda.stderr).contains("without GPU support"));
    }
    let tiny = mimic_run().join("checkpoints/best.safetensors");
    let s = store().to_str().unwrap();
    let wrong = train(&[
        "fit",
        "--store",
        s,
        "--dataset",
        "nih",
        "--init",
        "dinov2",
        "--weights",
        tiny.to_str().unwrap(),
        "--out",
        o,
        "--quiet",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("LayerScale no") && err.contains("dinov2"),
        "{err}"
    );
    let labels = train(&[
        "fit",
        "--store",
        s,
        "--dataset",
        "nih",
        "--init",
        "random",
        "--labels",
        "fracture",
        "--out",
        o,
        "--quiet",
    ]);
    assert!(
        String::from_utf8_lossy(&labels.stderr)
            .contains("Label `fracture` is not annotated by nih")
    );
    let mut views = fit_args("nih", o, "1");
    views.extend(["--views", "LATERAL"]);
    let views = train(&views);
    let err = String::from_utf8_lossy(&views.stderr);
    assert!(
        err.contains("Dataset `nih` has no `train` rows after the view filter"),
        "{err}"
    );
    assert!(
        !out.join("config.json").exists(),
        "nothing written on a refused run"
    );
}

#[test]
fn data_parallel_over_two_devices_trains_like_one_device() {
    // Two handles of the one CPU device exercise burn's multi-device path (fork per device,
    // MultiGradientsParams, Optimizer::step_multi) exactly as two GPUs would.
    let dir = tempfile::tempdir().unwrap();
    let request = |out: PathBuf| FitRequest {
        config: TrainConfig {
            store: store().to_path_buf(),
            datasets: vec!["nih".into()],
            model: Some(ModelKind::Tiny),
            input_norm: InputNorm::Inception,
            epochs: 1,
            batch: 16,
            lr: 2e-3,
            seed: 3,
            prefetch: 2,
            ..TrainConfig::default()
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
    assert!(
        (a.train_loss - b.train_loss).abs() < 1e-4,
        "{} vs {}",
        a.train_loss,
        b.train_loss
    );
    assert!(
        (a.val_loss - b.val_loss).abs() < 1e-4,
        "{} vs {}",
        a.val_loss,
        b.val_loss
    );
    let wa = safetensors_values(&dir.path().join("one/checkpoints/last.safetensors"));
    let wb = safetensors_values(&dir.path().join("two/checkpoints/last.safetensors"));
    let max = wa
        .iter()
        .zip(&wb)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max < 1e-4, "weights differ by {max}");
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("es");
    let s = store().to_str().unwrap();
    // lr 1e-12: the model does not change, so val AUROC never beats epoch 1.
    let out = train_ok(&[
        "fit",
        "--store",
        s,
        "--dataset",
        "nih",
        "--init",
        "random",
        "--model",
        "tiny",
        "--epochs",
        "6",
        "--batch",
        "16",
        "--lr",
        "1e-12",
        "--patience",
        "2",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(
        out.contains("best epoch 1") && out.contains("stopped early"),
        "{out}"
    );
    assert_eq!(json(&run.join("metrics.json")).as_array().unwrap().len(), 3);
    assert!(
        std::fs::read_to_string(run.join("train.log"))
            .unwrap()
            .contains("early stop")
    );
}
