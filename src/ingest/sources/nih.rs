//! NIH ChestX-ray14: `Data_Entry_2017_v2020.csv` (or older `Data_Entry_2017.csv`), PNGs under
//! `images/` or `images_001/images/` … `images_012/images/`, official split from
//! `test_list.txt` / `train_val_list.txt` when present.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::ingest::csvio::{self, cell, opt_cell, Csv};
use crate::ingest::record::Nulled;
use crate::ingest::{IngestError, RawRecord, SourceData};
use crate::manifest::Manifest;

/// Folders the NIH archives unpack to, in search order.
fn image_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("images"), PathBuf::new()];
    for i in 1..=12 {
        dirs.push(PathBuf::from(format!("images_{i:03}")).join("images"));
    }
    dirs
}

fn read_list(path: &Path) -> Result<HashSet<String>, IngestError> {
    Ok(csvio::list_lines(path)?.into_iter().collect())
}

pub fn open(m: &Manifest, root: &Path) -> Result<SourceData, IngestError> {
    let meta = csvio::require_file(m, "metadata", root)?;
    let mut files = vec![meta.clone()];
    let mut notes = Vec::new();
    let test = match csvio::find_file(m, "test_list", root) {
        Some(p) => {
            files.push(p.clone());
            Some(read_list(&p)?)
        }
        None => {
            notes.push("test_list.txt absent: deterministic patient-level hash split instead".to_string());
            None
        }
    };
    if test.is_some() {
        match csvio::find_file(m, "train_val_list", root) {
            Some(p) => files.push(p),
            None => notes.push("train_val_list.txt absent: every image not in test_list.txt is train/val".into()),
        }
    }
    let csv = Csv::open(&meta)?;
    let c_id = csv.require_col(&m.column("image_id")?)?;
    let c_lab = csv.require_col(&m.column("labels")?)?;
    let c_pat = csv.require_col(&m.column("patient_id")?)?;
    let c_age = csv.col(&m.column("age")?);
    let c_sex = csv.col(&m.column("sex")?);
    let c_view = csv.col(&m.column("view")?);
    let lab_name = csv.header[c_lab].clone();
    let annotated = m.labels.map.keys().cloned().collect();
    let dirs = image_dirs();
    let label = csvio::rel(root, &meta);
    let records = csv.into_records(label, move |row, line, rec| {
        let image_id = cell(rec, Some(c_id)).to_string();
        if image_id.is_empty() {
            return Err("empty Image Index".into());
        }
        let patient = cell(rec, Some(c_pat));
        if patient.is_empty() {
            return Err(format!("{image_id}: empty Patient ID"));
        }
        let findings = cell(rec, Some(c_lab));
        let labels = findings
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| (t.to_string(), "1".to_string()))
            .collect();
        let split = test.as_ref().map(|t| if t.contains(&image_id) { "test" } else { "train" }.to_string());
        let mut nulled = Vec::new();
        // Every image of the release has a `Finding Labels` value (`No Finding` at least); an
        // empty cell states nothing, so every finding is stored null rather than negative.
        let no_labels = findings.is_empty();
        if no_labels {
            nulled.push(Nulled::new("labels", "rows with an empty Finding Labels cell stored with every finding null", ""));
        }
        Ok(RawRecord {
            row,
            line,
            image_paths: dirs.iter().map(|d| d.join(&image_id)).collect(),
            patient_id: patient.to_string(),
            study_id: None,
            view: csvio::view_cell(rec, c_view, &mut nulled),
            split,
            sex: opt_cell(rec, c_sex),
            age: csvio::age_cell(cell(rec, c_age), &mut nulled),
            source_labels: serde_json::json!({ lab_name.as_str(): findings }),
            labels,
            image_id,
            no_labels,
            nulled,
        })
    });
    Ok(SourceData { annotated, metadata_files: files, notes, records })
}
