//! `fit --finetune linear --feature-cache on|off`: the cached path trains what the uncached one
//! trains (augmentation off, same data order), a halted cached run resumes on its cached
//! features without recomputing them, and features cached for another backbone (or unreadable)
//! are recomputed.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::train::{fit_args, json, train, train_ok};

/// A tiny random-init linear probe on nih, 2 epochs, no augmentation, into `out`.
fn probe<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = fit_args("nih", out, "2");
    a.extend(["--finetune", "linear", "--flip", "0", "--rotate", "0"]);
    a.extend(extra);
    a
}

/// The uninterrupted cached run the tests compare with.
fn cached_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let run = tempfile::tempdir().unwrap().keep().join("cached");
        train_ok(&probe(run.to_str().unwrap(), &[]));
        run
    })
}

fn log(run: &Path) -> String {
    std::fs::read_to_string(run.join("train.log")).unwrap()
}

/// Every tensor of a safetensors file as f32 (`dataset` u32 indices converted).
fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let t = st.tensor(n).unwrap();
            let v = t.data().chunks(4).map(|c| match t.dtype() {
                safetensors::Dtype::U32 => u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32,
                _ => f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            });
            (n.to_string(), v.collect())
        })
        .collect()
}

/// Per-epoch train/val loss and mean val AUROC, and every tensor of `last.safetensors`, within 1e-5.
fn same_run(a: &Path, b: &Path) {
    let (ma, mb) = (json(&a.join("metrics.json")), json(&b.join("metrics.json")));
    let (ma, mb) = (ma.as_array().unwrap(), mb.as_array().unwrap());
    assert_eq!(ma.len(), 2);
    assert_eq!(ma.len(), mb.len());
    for (x, y) in ma.iter().zip(mb) {
        for k in ["train_loss", "val_loss", "val_auroc_mean"] {
            let (x, y) = (x[k].as_f64().unwrap(), y[k].as_f64().unwrap());
            assert!((x - y).abs() < 1e-5, "{k}: {x} vs {y}");
        }
    }
    let (ta, tb) = (tensors(&a.join("checkpoints/last.safetensors")), tensors(&b.join("checkpoints/last.safetensors")));
    assert_eq!(ta.iter().map(|t| &t.0).collect::<Vec<_>>(), tb.iter().map(|t| &t.0).collect::<Vec<_>>());
    for ((k, va), (_, vb)) in ta.iter().zip(&tb) {
        let max = va.iter().zip(vb).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert!(max < 1e-5, "{k}: differs by {max}");
    }
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn a_cached_linear_probe_trains_what_the_uncached_one_trains() {
    let a = cached_run();
    let tmp = tempfile::tempdir().unwrap();
    let b = tmp.path().join("uncached");
    train_ok(&probe(b.to_str().unwrap(), &["--feature-cache", "off"]));
    assert_eq!(json(&a.join("config.json"))["config"]["feature_cache"], "on");
    assert_eq!(json(&b.join("config.json"))["config"]["feature_cache"], "off");
    let la = log(a);
    assert!(la.contains("features: computed train (") && la.contains("features: computed val ("), "{la}");
    assert!(!la.contains("note: --feature-cache on"), "no augmentation to drop: {la}");
    assert!(!b.join("features").exists() && !log(&b).contains("features:"));
    // The cache holds [N, D] features of every train row (the tiny model: D = 24).
    let cfg = json(&a.join("config.json"));
    let rows = cfg["data"]["train_rows"].as_u64().unwrap() as usize;
    let feats = tensors(&a.join("features/train.safetensors"));
    assert_eq!(feats.iter().find(|t| t.0 == "features").unwrap().1.len(), rows * 24);
    same_run(a, &b);
}

#[test]
fn a_halted_cached_run_resumes_on_its_cached_features() {
    let a = cached_run();
    let tmp = tempfile::tempdir().unwrap();
    let c = tmp.path().join("halted");
    let cs = c.to_str().unwrap();
    assert_eq!(train(&probe(cs, &["--halt-after-epoch", "1"])).status.code(), Some(3));
    let files = ["train", "val"].map(|s| c.join(format!("features/{s}.safetensors")));
    let before = files.clone().map(|f| mtime(&f));
    train_ok(&["fit", "--resume", "--out", cs, "--quiet"]);
    assert_eq!(files.map(|f| mtime(&f)), before, "the features were rewritten");
    let l = log(&c);
    assert!(l.contains("features: reused train (") && l.contains("features: reused val ("), "{l}");
    assert_eq!(l.matches("features: computed").count(), 2, "{l}");
    same_run(a, &c);
}

#[test]
fn features_cached_for_another_backbone_are_recomputed() {
    let a = cached_run();
    let tmp = tempfile::tempdir().unwrap();
    let copy_into = |run: &Path| {
        std::fs::create_dir_all(run.join("features")).unwrap();
        for s in ["train", "val"] {
            std::fs::copy(a.join(format!("features/{s}.safetensors")), run.join(format!("features/{s}.safetensors"))).unwrap();
        }
    };
    // Another seed draws another random backbone: the copied features do not fit it.
    let d = tmp.path().join("other-seed");
    copy_into(&d);
    let mut args = probe(d.to_str().unwrap(), &[]);
    let seed = args.iter().position(|a| *a == "--seed").unwrap();
    args[seed + 1] = "8";
    train_ok(&args);
    let l = log(&d);
    assert_eq!(l.matches("(its key differs from this run's)").count(), 2, "{l}");
    let (fa, fd) = (tensors(&a.join("features/train.safetensors")), tensors(&d.join("features/train.safetensors")));
    assert_ne!(fa.iter().find(|t| t.0 == "features"), fd.iter().find(|t| t.0 == "features"));
    // The same backbone, store and rows in another run folder: reused as they are.
    let e = tmp.path().join("same-key");
    copy_into(&e);
    train_ok(&probe(e.to_str().unwrap(), &[]));
    let l = log(&e);
    assert!(l.contains("features: reused train (") && !l.contains("features: computed"), "{l}");
    same_run(a, &e);
}

#[test]
fn an_unreadable_cached_file_is_recomputed() {
    let a = cached_run();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("garbled");
    std::fs::create_dir_all(f.join("features")).unwrap();
    std::fs::copy(a.join("features/train.safetensors"), f.join("features/train.safetensors")).unwrap();
    std::fs::write(f.join("features/val.safetensors"), b"not a safetensors file").unwrap();
    train_ok(&probe(f.to_str().unwrap(), &[]));
    let l = log(&f);
    assert!(l.contains("features: reused train ("), "{l}");
    assert!(l.contains("features: computed val (") && l.contains("(the cached file is unreadable)"), "{l}");
    assert_eq!(tensors(&f.join("features/val.safetensors")), tensors(&a.join("features/val.safetensors")));
    same_run(a, &f);
}

#[test]
fn augmentation_is_dropped_with_a_note() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("augmented");
    let mut args = fit_args("nih", f.to_str().unwrap(), "1");
    args.extend(["--finetune", "linear"]);
    train_ok(&args);
    let l = log(&f);
    assert!(l.contains("note: --feature-cache on: the linear probe trains on features of unaugmented images (flip p 0.5"), "{l}");
}
