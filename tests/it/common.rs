//! Shared helpers: fixture paths, running the binaries, reading the store back.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// `tests/fixtures/<rel>`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// Exports `model` to `path` ([`cxr::model::export_safetensors`]) with a sidecar naming
/// `labels` and the tests' plain preprocessing (32 px, no normalisation).
pub fn export_test_model<B: burn::prelude::Backend>(
    model: &cxr::model::VisionTransformer<B>,
    path: &Path,
    labels: &[&str],
) -> cxr::model::ExportOutput {
    use cxr::model::{ExportSidecar, Preprocessing};
    let side = ExportSidecar {
        labels: labels.iter().map(|s| s.to_string()).collect(),
        preprocessing: Preprocessing {
            image_size: 32,
            resize: "cxr-prep".into(),
            grayscale_to_rgb: true,
            mean: [0.0; 3],
            std: [1.0; 3],
        },
        timm_model_name: None,
    };
    cxr::model::export_safetensors(model, path, &side).expect("export")
}

/// Runs `cxr-prep` with `args`.
pub fn prep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxr-prep")).args(args).output().expect("cxr-prep runs")
}

/// Runs `cxr-prep`, asserting success; returns stdout.
pub fn prep_ok(args: &[&str]) -> String {
    let out = prep(args);
    assert!(
        out.status.success(),
        "cxr-prep {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// Every part file of a dataset partition, in name order.
pub fn parts(store: &Path, dataset: &str) -> Vec<PathBuf> {
    let dir = store.join(format!("dataset={dataset}"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// All rows of a dataset partition as record batches.
pub fn read_batches(store: &Path, dataset: &str) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for p in parts(store, dataset) {
        assert_eq!(p.extension().unwrap(), "parquet", "only part files in the partition: {}", p.display());
        let f = std::fs::File::open(&p).unwrap();
        let r = ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap();
        out.extend(r.map(|b| b.unwrap()));
    }
    out
}

/// A string column of all batches (None for nulls).
pub fn strings(batches: &[RecordBatch], col: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap_or_else(|| panic!("column {col}")).as_string::<i32>().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i).to_string())).collect::<Vec<_>>()
        })
        .collect()
}

/// An Int8 finding column of all batches.
pub fn labels(batches: &[RecordBatch], col: &str) -> Vec<Option<i8>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name(col).unwrap().as_primitive::<arrow::datatypes::Int8Type>().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
        })
        .collect()
}

/// The image column of all batches.
pub fn images(batches: &[RecordBatch]) -> Vec<Option<Vec<u8>>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name("image").unwrap().as_binary::<i32>().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i).to_vec())).collect::<Vec<_>>()
        })
        .collect()
}

/// Parses `_rejects/<dataset>.csv` into rows of column → value.
pub fn rejects(store: &Path, dataset: &str) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(store.join("_rejects").join(format!("{dataset}.csv"))).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| header.iter().cloned().zip(rec.unwrap().iter().map(String::from)).collect())
        .collect()
}

/// `_meta.json` as JSON.
pub fn meta(store: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(store.join("_meta.json")).unwrap()).unwrap()
}

/// Writes an 8-bit grayscale PNG with a gradient and a bright square (so min-max and
/// equalisation have something to do).
pub fn write_png8(path: &Path, w: u32, h: u32, seed: u8) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let base = ((x + y) * 200 / (w + h)) as u8;
        let sq = x > w / 3 && x < w / 2 && y > h / 3 && y < h / 2;
        image::Luma([if sq { 250 } else { base.wrapping_add(seed % 20) }])
    });
    img.save(path).unwrap();
}

/// Every file below `dir` (recursively), sorted.
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
