//! CheXpert: `CheXpert-v1.0[-small]/{train,valid}.csv`; `Path` is relative to the folder that
//! contains `CheXpert-v1.0-small/`; patient and study ids are parsed from `Path`.

use std::path::{Path, PathBuf};

use crate::ingest::csvio::{self, cell, opt_cell, Csv};
use crate::ingest::{IngestError, RawRecord, SourceData};
use crate::manifest::Manifest;

/// `patientNNNNN` and `studyN` components of a CheXpert `Path`.
fn ids(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.split('/').collect();
    let p = parts.iter().position(|c| c.starts_with("patient"))?;
    let study = parts.get(p + 1).filter(|s| s.starts_with("study"))?;
    Some((parts[p].to_string(), format!("{}/{}", parts[p], study)))
}

/// Image path candidates: as written, with the release folder stripped (root pointed inside
/// it), and CheXlocalize's `val/` for `valid/`.
fn candidates(path: &str) -> Vec<PathBuf> {
    let mut v = vec![PathBuf::from(path)];
    if let Some((_, rest)) = path.split_once('/')
        && path.starts_with("CheXpert-v1.0")
    {
        v.push(PathBuf::from(rest));
    }
    if path.contains("/valid/") {
        v.push(PathBuf::from(path.replacen("/valid/", "/val/", 1)));
    }
    v
}

pub fn open(m: &Manifest, root: &Path) -> Result<SourceData, IngestError> {
    let train = csvio::require_file(m, "train", root)?;
    let valid = csvio::find_file(m, "valid", root);
    let mut notes = Vec::new();
    if valid.is_none() {
        notes.push("valid.csv absent: train.csv rows get a patient-level hash split (train/val/test)".into());
    }
    let mut files = vec![train.clone()];
    files.extend(valid.clone());
    let mut annotated = Vec::new();
    let mut streams = Vec::new();
    for (path, split) in [(Some(train), "train"), (valid.clone(), "valid")] {
        let Some(path) = path else { continue };
        let csv = Csv::open(&path)?;
        let c_path = csv.require_col(&m.column("path")?)?;
        let c_sex = csv.col(&m.column("sex")?);
        let c_age = csv.col(&m.column("age")?);
        let c_fl = csv.col(&m.column("frontal_lateral")?);
        let c_ap = csv.col(&m.column("ap_pa")?);
        let label_cols = csv.label_columns(m);
        for (_, h) in &label_cols {
            if !annotated.contains(h) {
                annotated.push(h.clone());
            }
        }
        let official = if valid.is_some() { Some(split.to_string()) } else { None };
        let label = csvio::rel(root, &path);
        streams.push(csv.into_records(label, move |row, line, rec| {
            let p = cell(rec, Some(c_path)).to_string();
            let (patient, study) = ids(&p).ok_or_else(|| format!("Path `{p}` has no patientN/studyN"))?;
            let mut nulled = Vec::new();
            let view = match cell(rec, c_fl) {
                "Lateral" => Some("Lateral".to_string()),
                _ => csvio::view_cell(rec, c_ap, &mut nulled),
            };
            let (labels, source_labels) = csvio::label_cells(rec, &label_cols);
            Ok(RawRecord {
                row,
                line,
                image_id: p.clone(),
                patient_id: patient,
                study_id: Some(study),
                view,
                split: official.clone(),
                image_paths: candidates(&p),
                sex: opt_cell(rec, c_sex),
                age: csvio::age_cell(cell(rec, c_age), &mut nulled),
                labels,
                source_labels,
                no_labels: false,
                nulled,
            })
        }));
    }
    Ok(SourceData { annotated, metadata_files: files, notes, records: Box::new(streams.into_iter().flatten()) })
}
