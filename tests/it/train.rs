//! `cxr-train fit` end to end on a synthetic store (tiny ViT, CPU): run folder contents,
//! predict/export on the run, the loss going down and val AUROC above chance, exact resume
//! after a simulated kill, MIMIC-run transfer to another label set. `checks` holds the rest.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use burn::backend::Autodiff;
use cxr::synth::{SynthConfig, synthesize};

use crate::common::prep_ok;

// pos-weights, masked gradient, errors, early stopping, data-parallel
mod checks;

pub(super) type B = Autodiff<cxr::runtime::Cpu>;

/// A store with mimic and nih (160 synthetic images each, stored at 32 px), built once.
pub(super) fn store() -> &'static Path {
    static STORE: OnceLock<PathBuf> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let mut cfg = SynthConfig::new(dir.join("data"));
        cfg.images_per_dataset = 160;
        cfg.image_size = 64;
        let report = synthesize(&cfg).unwrap();
        let store = dir.join("store");
        for (name, root, _) in report
            .datasets
            .iter()
            .filter(|d| d.0 == "mimic" || d.0 == "nih")
        {
            prep_ok(&[
                "ingest",
                name,
                "--root",
                root.to_str().unwrap(),
                "--out",
                store.to_str().unwrap(),
                "--size",
                "32",
            ]);
        }
        store
    })
}

pub(super) fn train(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxr-train"))
        .args(args)
        .output()
        .expect("cxr-train runs")
}

pub(super) fn train_ok(args: &[&str]) -> String {
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
pub(super) fn fit_args<'a>(dataset: &'a str, out: &'a str, epochs: &'a str) -> Vec<&'a str> {
    let s = store().to_str().unwrap();
    vec![
        "fit",
        "--store",
        s,
        "--dataset",
        dataset,
        "--init",
        "random",
        "--model",
        "tiny",
        "--epochs",
        epochs,
        "--batch",
        "16",
        "--lr",
        "2e-3",
        "--seed",
        "7",
        "--input-norm",
        "inception",
        "--quiet",
        "--out",
        out,
    ]
}

pub(super) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

/// The MIMIC run shared by several tests (3 epochs).
pub(super) fn mimic_run() -> &'static Path {
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
    for f in [
        "config.json",
        "metrics.csv",
        "metrics.json",
        "train.log",
        "curve.png",
        "checkpoints/best.safetensors",
        "checkpoints/best.json",
        "checkpoints/last.safetensors",
        "checkpoints/last.json",
        "checkpoints/last.state/state.json",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    assert_eq!(&std::fs::read(run.join("curve.png")).unwrap()[1..4], b"PNG");
    let cfg = json(&run.join("config.json"));
    // The study's MIMIC label set (10, CheXpert's) and view filter (PA/AP).
    assert_eq!(cfg["config"]["labels"].as_array().unwrap().len(), 10);
    assert_eq!(
        cfg["config"]["views"][0][1]["only"],
        serde_json::json!(["PA", "AP"])
    );
    assert_eq!(cfg["vit_config"]["embed_dim"], 24);
    assert_eq!(cfg["store"]["meta_sha256"].as_str().unwrap().len(), 64);
    let m = json(&run.join("metrics.json"));
    let m = m.as_array().unwrap();
    assert_eq!(m.len(), 3);
    assert!(
        m.iter()
            .all(|e| e["train_loss"].as_f64().is_some_and(f64::is_finite))
    );
    assert!(m.iter().all(|e| {
        e["val_auroc_mean"]
            .as_f64()
            .is_some_and(|a| (0.0..=1.0).contains(&a))
    }));
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    // The checkpoint layout is what predict and export read.
    let dir = run.parent().unwrap();
    let preds = dir.join("preds.parquet");
    let s = store().to_str().unwrap();
    train_ok(&[
        "predict",
        "--weights",
        run.to_str().unwrap(),
        "--store",
        s,
        "--dataset",
        "mimic",
        "--split",
        "val",
        "--out",
        preds.to_str().unwrap(),
    ]);
    assert!(preds.is_file());
    let exported = dir.join("export.safetensors");
    train_ok(&[
        "export",
        run.to_str().unwrap(),
        "--out",
        exported.to_str().unwrap(),
        "--checkpoint",
        "last",
    ]);
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
    let best = m
        .iter()
        .filter_map(|e| e["val_auroc_mean"].as_f64())
        .fold(0.0, f64::max);
    assert!(best > 0.62, "best mean val AUROC {best}");
    let loss: Vec<f64> = m
        .iter()
        .map(|e| e["train_loss"].as_f64().unwrap())
        .collect();
    let later = loss[3..].iter().copied().fold(f64::INFINITY, f64::min);
    assert!(later < loss[0] - 0.05, "train loss {loss:?}");
    // Evaluation stays per dataset, over each dataset's annotated labels.
    let per = &m[0]["val_auroc"];
    assert!(per["mimic"]["cardiomegaly"].is_number() || per["mimic"]["cardiomegaly"].is_null());
    assert!(per.get("nih").is_some());
    let side = json(&run.join("checkpoints/best.json"));
    assert_eq!(
        side["preprocessing"]["mean"],
        serde_json::json!([0.5, 0.5, 0.5])
    );
}

#[test]
fn resume_after_a_kill_ends_where_an_uninterrupted_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train_ok(&fit_args("nih", a.to_str().unwrap(), "2"));
    let mut halted = fit_args("nih", b.to_str().unwrap(), "2");
    halted.extend(["--halt-after-epoch", "1"]);
    let out = train(&halted);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&b.join("metrics.json")).as_array().unwrap().len(), 1);
    // What a save killed mid-write leaves (a temporary state folder) is removed by the next save.
    let stale = b.join("checkpoints/.last.state.k1ll3d.tmp");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("model.bin"), b"half").unwrap();
    train_ok(&["fit", "--resume", "--out", b.to_str().unwrap(), "--quiet"]);
    assert_same_run(&a, &b);
    assert_eq!(temporaries(&b.join("checkpoints")), Vec::<String>::new());
    // A real SIGKILL as soon as epoch 1's state is on disk (mostly mid-epoch 2; wherever it
    // lands, the resumed run must end where the uninterrupted one ended).
    let c = dir.path().join("c");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxr-train"))
        .args(fit_args("nih", c.to_str().unwrap(), "2"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = c.join("checkpoints/last.state/state.json");
    let t0 = std::time::Instant::now();
    while !state.exists() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    train_ok(&["fit", "--resume", "--out", c.to_str().unwrap(), "--quiet"]);
    assert_same_run(&a, &c);
    assert_eq!(temporaries(&c.join("checkpoints")), Vec::<String>::new());
    // Killed before the first epoch finished: config.json but no state; resume restarts it.
    let d = dir.path().join("d");
    let mut halted = fit_args("nih", d.to_str().unwrap(), "2");
    halted.extend(["--halt-after-epoch", "1"]);
    assert_eq!(train(&halted).status.code(), Some(3));
    std::fs::remove_dir_all(d.join("checkpoints")).unwrap();
    train_ok(&["fit", "--resume", "--out", d.to_str().unwrap(), "--quiet"]);
    assert_same_run(&a, &d);
}

/// Names of the `*.tmp` entries in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// Same per-epoch metrics (to 1e-5) and same last weights (to 1e-5).
fn assert_same_run(a: &Path, b: &Path) {
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
    let max = wa
        .iter()
        .zip(&wb)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(max < 1e-5, "weights differ by {max}");
}

pub(super) fn safetensors_values(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<_> = st.names().into_iter().map(String::from).collect();
    names.sort();
    names
        .iter()
        .flat_map(|n| {
            st.tensor(n)
                .unwrap()
                .data()
                .chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn a_mimic_run_initialises_another_dataset_with_a_new_head() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nih");
    let s = store().to_str().unwrap();
    let src = mimic_run().to_str().unwrap();
    train_ok(&[
        "fit",
        "--store",
        s,
        "--dataset",
        "nih",
        "--init",
        "mimic",
        "--weights",
        src,
        "--epochs",
        "1",
        "--batch",
        "16",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let cfg = json(&out.join("config.json"));
    assert_eq!(
        cfg["config"]["labels"].as_array().unwrap().len(),
        14,
        "NIH's own full study set"
    );
    assert_eq!(cfg["init"]["source_labels"].as_array().unwrap().len(), 10);
    assert_eq!(cfg["init"]["head_reinitialized"], true);
    assert_eq!(
        cfg["vit_config"]["embed_dim"], 24,
        "architecture inferred from the source run"
    );
    assert_eq!(cfg["init"]["weights_sha256"].as_str().unwrap().len(), 64);
    // The same labels keep the source head.
    let same = dir.path().join("mimic2");
    train_ok(&[
        "fit",
        "--store",
        s,
        "--dataset",
        "mimic",
        "--init",
        "mimic",
        "--weights",
        src,
        "--epochs",
        "1",
        "--batch",
        "16",
        "--quiet",
        "--out",
        same.to_str().unwrap(),
    ]);
    assert_eq!(
        json(&same.join("config.json"))["init"]["head_reinitialized"],
        false
    );
}
