//! Data-path benchmark (no model): images/s from the store's Parquet row groups to
//! device-ready batches — row-filtered decode, seeded window shuffle, flip + rotation ±7°,
//! `[B, 3, H, W]` f32 planes, targets and mask — through `cxr::train::data::spawn_batches`,
//! exactly what `cxr-train fit` consumes. Builds its own synthetic store first.
//!
//! ```text
//! cargo bench --bench data_path -- [--n 512] [--size 224] [--batch 32] [--epochs 3] [--keep DIR]
//! # without the release build (2-core dev machine): cargo test --bench data_path -- --n 256
//! # per core: RAYON_NUM_THREADS=1 cargo bench --bench data_path
//! ```
//! Prints one JSON line per epoch and a summary line (images/s, and images/s per rayon thread).

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use cxr::synth::{SynthConfig, synthesize};
use cxr::train::data::{DataIndex, DatasetParts, Pass, spawn_batches};
use cxr::train::labels::{annotation_mask, study_labels};
use cxr::train::{TrainConfig, ViewFilter};

struct Args {
    n: usize,
    size: usize,
    batch: usize,
    epochs: usize,
    keep: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        n: 512,
        size: 224,
        batch: 32,
        epochs: 3,
        keep: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        let mut val = || it.next().ok_or(format!("{f} needs a value"));
        match f.as_str() {
            "--n" => a.n = val()?.parse().map_err(|e| format!("--n: {e}"))?,
            "--size" => a.size = val()?.parse().map_err(|e| format!("--size: {e}"))?,
            "--batch" => a.batch = val()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--epochs" => a.epochs = val()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--keep" => a.keep = Some(PathBuf::from(val()?)),
            "--bench" | "--nocapture" => {}
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("data_path: {e}");
            std::process::exit(2);
        }
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = a.keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let store = root.join("store");
    if !store.join("dataset=nih").is_dir() {
        let mut sc = SynthConfig::new(root.join("data"));
        sc.images_per_dataset = a.n;
        sc.image_size = a.size.max(64) as u32;
        let rep = synthesize(&sc).expect("synth");
        let (name, dir, _) = rep.datasets.iter().find(|d| d.0 == "nih").expect("nih");
        let st = Command::new(env!("CARGO_BIN_EXE_cxr-prep"))
            .args([
                "ingest",
                name,
                "--root",
                dir.to_str().unwrap(),
                "--out",
                store.to_str().unwrap(),
                "--size",
                &a.size.to_string(),
            ])
            .output()
            .expect("cxr-prep runs");
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
    }
    let labels: Vec<String> = study_labels("nih")
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let cfg = TrainConfig {
        store: store.clone(),
        datasets: vec!["nih".into()],
        labels: labels.clone(),
        image_size: a.size,
        epochs: a.epochs,
        batch: a.batch,
        ..TrainConfig::default()
    };
    let reader = cxr::store::reader::StoreReader::open(&store).expect("store");
    let annotated = vec![(
        "nih".to_string(),
        reader.dataset("nih").unwrap().annotated_findings.clone(),
    )];
    let parts = vec![DatasetParts {
        name: "nih".into(),
        parts: reader.parts("nih").unwrap(),
        views: ViewFilter::All,
    }];
    let t = Instant::now();
    let index = Arc::new(
        DataIndex::build(&cfg, parts, annotation_mask(&labels, &annotated)).expect("index"),
    );
    let index_s = t.elapsed().as_secs_f64();
    let threads = rayon::current_num_threads();
    let (mut total, mut secs) = (0usize, 0.0f64);
    for epoch in 1..=a.epochs {
        let pass = Pass {
            units: index.train.clone(),
            batch: a.batch,
            shuffle: Some((0, epoch as u64)),
            window: 16,
            flip_p: 0.5,
            rotate_deg: 7.0,
            drop_last: true,
            prefetch: 4,
        };
        let t = Instant::now();
        let mut n = 0;
        for b in spawn_batches(index.clone(), pass) {
            n += b.expect("batch").n;
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "{{\"epoch\":{epoch},\"images\":{n},\"seconds\":{s:.3},\"images_per_s\":{:.0}}}",
            n as f64 / s
        );
        total += n;
        secs += s;
    }
    let ips = total as f64 / secs;
    println!(
        "{{\"bench\":\"data_path\",\"size\":{},\"batch\":{},\"train_rows\":{},\"index_seconds\":{index_s:.3},\"rayon_threads\":{threads},\"images_per_s\":{ips:.0},\"images_per_s_per_thread\":{:.0},\"profile\":\"{}\"}}",
        a.size,
        a.batch,
        index.train_rows(),
        ips / threads as f64,
        if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        }
    );
}
