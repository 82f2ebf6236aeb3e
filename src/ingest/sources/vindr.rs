//! The VinDr family (VinDr-CXR, VinDr-PCXR) in either published layout; the manifest names the
//! files, the reader column and the vote threshold:
//! - PhysioNet: `annotations/image_labels_train.csv` (3 reader rows per image, 0/1 columns),
//!   `annotations/image_labels_test.csv` (one consensus row per image), DICOMs
//!   `train/<image_id>.dicom` and `test/<image_id>.dicom`;
//! - Kaggle VinBigData: `train.csv`, one row per reader × box (`No finding` rows without box).
//!
//! Train labels are the reader majority: positive when at least `labels.min_votes` readers marked
//! the finding (VinDr-CXR: 2 of 3, as in the study; VinDr-PCXR: 1, one radiologist per image). Rows are grouped per image, so this reader
//! holds one small entry per image (18k images) in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::ingest::csvio::{self, cell, Csv};
use crate::ingest::{IngestError, RawRecord, RowError, SourceData};
use crate::labels::LabelValue;
use crate::manifest::Manifest;

/// Per image: first row/line, and per source label the readers that marked it.
#[derive(Default)]
struct Votes {
    row: u64,
    line: u64,
    readers: BTreeSet<String>,
    marks: BTreeMap<String, BTreeSet<String>>,
}

fn paths(folder: &str, id: &str) -> Vec<PathBuf> {
    vec![PathBuf::from(folder).join(format!("{id}.dicom")), PathBuf::from(folder).join(format!("{id}.dcm"))]
}

fn record(m: &Manifest, id: String, v: Votes, annotated: &[String], folder: &str, split: Option<&str>) -> RawRecord {
    let min = m.labels.min_votes.unwrap_or(1) as usize;
    let labels = annotated
        .iter()
        .map(|l| {
            let n = v.marks.get(l).map_or(0, BTreeSet::len);
            (l.clone(), if n >= min { "1" } else { "0" }.to_string())
        })
        .collect();
    let by_reader: BTreeMap<&String, Vec<&String>> = v
        .readers
        .iter()
        .map(|r| (r, v.marks.iter().filter(|(_, rs)| rs.contains(r)).map(|(l, _)| l).collect()))
        .collect();
    RawRecord {
        row: v.row,
        line: v.line,
        patient_id: id.clone(),
        study_id: None,
        view: None,
        split: split.map(str::to_string),
        image_paths: paths(folder, &id),
        sex: None,
        age: None,
        labels,
        source_labels: serde_json::json!({ "readers": by_reader }),
        image_id: id,
        no_labels: false,
        nulled: Vec::new(),
    }
}

/// Reads a multi-reader CSV into per-image votes, in first-appearance order. An image with a bad
/// row is left out (its bad rows are the rejects).
fn gather(
    csv: Csv,
    label: &str,
    mut each: impl FnMut(&csv::StringRecord, &mut Votes) -> Result<(), String>,
    c_id: usize,
    errors: &mut Vec<RowError>,
) -> Result<Vec<(String, Votes)>, IngestError> {
    let mut order = Vec::new();
    let mut by_id: HashMap<String, Votes> = HashMap::new();
    let mut bad: HashSet<String> = HashSet::new();
    for item in csv.into_records(label.to_string(), |row, line, rec| Ok((row, line, rec.clone()))) {
        let (row, line, rec) = match item {
            Ok(x) => x,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let id = cell(&rec, Some(c_id)).to_string();
        if id.is_empty() {
            errors.push(RowError { file: label.into(), row, line, image_id: None, reason: "empty image_id".into() });
            continue;
        }
        let v = by_id.entry(id.clone()).or_insert_with(|| {
            order.push(id.clone());
            Votes { row, line, ..Votes::default() }
        });
        if let Err(reason) = each(&rec, v) {
            // The image's labels would be built from its other rows only: the row is rejected
            // and the image not stored (a partial vote is not a label).
            bad.insert(id.clone());
            errors.push(RowError { file: label.into(), row, line, image_id: Some(id), reason });
        }
    }
    Ok(order
        .into_iter()
        .filter(|id| !bad.contains(id))
        .filter_map(|id| by_id.remove(&id).map(|v| (id, v)))
        .collect())
}

fn label_columns(m: &Manifest, csv: &Csv, skip: &[usize]) -> Result<Vec<(usize, String)>, IngestError> {
    let mut cols = Vec::new();
    for (i, h) in csv.header.iter().enumerate() {
        if skip.contains(&i) || h.is_empty() {
            continue;
        }
        if !m.labels.map.contains_key(h) {
            return Err(IngestError::UnknownColumn { path: csv.path.clone(), column: h.clone() });
        }
        cols.push((i, h.clone()));
    }
    Ok(cols)
}

pub fn open(m: &Manifest, root: &Path) -> Result<SourceData, IngestError> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut files = Vec::new();
    let mut notes = Vec::new();
    let mut annotated: Vec<String> = Vec::new();
    if let Some(train) = csvio::find_file(m, "labels_train", root) {
        files.push(train.clone());
        let csv = Csv::open(&train)?;
        let c_id = csv.require_col(&m.column("image_id")?)?;
        let c_rad = csv.col(&m.column("rad_id")?);
        let cols = label_columns(m, &csv, &[Some(c_id), c_rad].into_iter().flatten().collect::<Vec<_>>())?;
        annotated.extend(cols.iter().map(|(_, h)| h.clone()));
        let label = csvio::rel(root, &train);
        let mut reader_no = 0;
        let images = gather(
            csv,
            &label,
            |rec, v| {
                reader_no += 1;
                let rad = c_rad.map(|c| cell(rec, Some(c)).to_string()).unwrap_or_else(|| format!("reader{reader_no}"));
                v.readers.insert(rad.clone());
                for (i, h) in &cols {
                    match m.label_value(h, cell(rec, Some(*i))) {
                        Some(LabelValue::Positive) => {
                            v.marks.entry(h.clone()).or_default().insert(rad.clone());
                        }
                        Some(LabelValue::Negative) => {}
                        _ => return Err(format!("column `{h}`: value `{}` is not 0/1", cell(rec, Some(*i)))),
                    }
                }
                Ok(())
            },
            c_id,
            &mut errors,
        )?;
        let ann = annotated.clone();
        out.extend(images.into_iter().map(|(id, v)| record(m, id, v, &ann, "train", Some("train"))));
        match csvio::find_file(m, "labels_test", root) {
            Some(test) => {
                files.push(test.clone());
                let csv = Csv::open(&test)?;
                let c_id = csv.require_col(&m.column("image_id")?)?;
                let c_rad = csv.col(&m.column("rad_id")?);
                let cols = label_columns(m, &csv, &[Some(c_id), c_rad].into_iter().flatten().collect::<Vec<_>>())?;
                for (_, h) in &cols {
                    if !annotated.contains(h) {
                        annotated.push(h.clone());
                    }
                }
                let label = csvio::rel(root, &test);
                for item in csv.into_records(label, move |row, line, rec| {
                    let id = cell(rec, Some(c_id)).to_string();
                    if id.is_empty() {
                        return Err("empty image_id".into());
                    }
                    let (labels, src) = csvio::label_cells(rec, &cols);
                    Ok(RawRecord {
                        row,
                        line,
                        patient_id: id.clone(),
                        study_id: None,
                        view: None,
                        split: Some("test".into()),
                        image_paths: paths("test", &id),
                        sex: None,
                        age: None,
                        labels,
                        source_labels: serde_json::json!({ "consensus": src }),
                        image_id: id,
                        no_labels: false,
                        nulled: Vec::new(),
                    })
                }) {
                    match item {
                        Ok(r) => out.push(r),
                        Err(e) => errors.push(e),
                    }
                }
            }
            None => notes.push("no test label file (labels_test): no consensus test set; test carved by image hash".into()),
        }
    } else {
        let kaggle = csvio::find_file(m, "kaggle_train", root).ok_or_else(|| IngestError::MissingMetadata {
            dataset: m.dataset.clone(),
            root: root.to_path_buf(),
            names: ["labels_train", "kaggle_train"]
                .iter()
                .flat_map(|r| m.files.get(*r).map(|s| s.names.clone()).unwrap_or_default())
                .collect(),
        })?;
        notes.push("Kaggle VinBigData layout (train.csv): train only; val and test carved by image hash".into());
        files.push(kaggle.clone());
        annotated = m.labels.layout_labels.get("kaggle").cloned().unwrap_or_default();
        let csv = Csv::open(&kaggle)?;
        let c_id = csv.require_col(&m.column("image_id")?)?;
        let c_rad = csv.require_col(&m.column("rad_id")?)?;
        let c_class = csv.require_col(&m.column("class_name")?)?;
        let label = csvio::rel(root, &kaggle);
        let images = gather(
            csv,
            &label,
            |rec, v| {
                let rad = cell(rec, Some(c_rad)).to_string();
                let class = cell(rec, Some(c_class)).to_string();
                if !m.labels.map.contains_key(&class) {
                    return Err(format!("unknown class_name `{class}`"));
                }
                v.readers.insert(rad.clone());
                v.marks.entry(class).or_default().insert(rad);
                Ok(())
            },
            c_id,
            &mut errors,
        )?;
        out.extend(images.into_iter().map(|(id, v)| record(m, id, v, &annotated, "train", None)));
    }
    let records = errors.into_iter().map(Err).chain(out.into_iter().map(Ok));
    Ok(SourceData { annotated, metadata_files: files, notes, records: Box::new(records.collect::<Vec<_>>().into_iter()) })
}
