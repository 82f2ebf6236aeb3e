//! Resolution: `fit` and `predict` on a store ingested at 512 px (the follow-up study's
//! resolution; tiny ViT, patch 8, so 64 × 64 patches and 4097 tokens: about 40 s in a debug
//! build on 2 busy cores, most of it the fit's 11 training images).

use cxr::evaluate::predictions::Predictions;

use crate::common::prep_ok;
use crate::train::{json, train_ok};

#[test]
fn fit_and_predict_at_512_px() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cxr::synth::SynthConfig::new(tmp.path().join("data"));
    cfg.images_per_dataset = 24;
    cfg.image_size = 64;
    let report = cxr::synth::synthesize(&cfg).unwrap();
    let (_, root, n) = report.datasets.iter().find(|d| d.0 == "nih").unwrap();
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();
    prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", s, "--size", "512"]);
    let run = tmp.path().join("run");
    let r = run.to_str().unwrap();
    train_ok(&[
        "fit", "--store", s, "--dataset", "nih", "--init", "random", "--model", "tiny", "--epochs", "1",
        "--batch", "2", "--lr", "1e-3", "--labels", "cardiomegaly,pleural_effusion", "--views", "all",
        "--quiet", "--out", r,
    ]);
    let rc = json(&run.join("config.json"));
    assert_eq!(rc["config"]["image_size"], 512, "the store's size");
    assert_eq!(rc["vit_config"]["img_size"], 512);
    let side = json(&run.join("checkpoints/last.json"));
    assert_eq!(side["timm_kwargs"]["img_size"], 512);
    let st = std::fs::read(run.join("checkpoints/last.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&st).unwrap();
    assert_eq!(st.tensor("pos_embed").unwrap().shape(), [1, 1 + 64 * 64, 24]);
    let preds = tmp.path().join("preds.parquet");
    train_ok(&["predict", "--weights", r, "--store", s, "--split", "test", "--out", preds.to_str().unwrap()]);
    let p = Predictions::read(&preds).unwrap();
    assert!(!p.is_empty() && p.len() < *n, "{} test rows", p.len());
    assert!(p.split.iter().all(|s| s == "test"));
    assert!(p.p.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
    // A --size 512 request against a 32 px store is refused with the way out.
    let small = tmp.path().join("store32");
    prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", small.to_str().unwrap(), "--size", "32"]);
    let out = crate::train::train(&[
        "fit", "--store", small.to_str().unwrap(), "--dataset", "nih", "--init", "random", "--model", "tiny",
        "--size", "512", "--quiet", "--out", tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--size 512"), "{}", String::from_utf8_lossy(&out.stderr));
}
