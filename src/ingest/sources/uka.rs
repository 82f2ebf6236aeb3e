//! UKA-CXR through the cxr CSV template (`UKA_CXR_labels.csv`, documented in
//! `data-manifests/uka.toml` and the README): one row per image with per-side severity grades.

use std::path::{Path, PathBuf};

use crate::ingest::csvio::{self, cell, opt_cell, Csv};
use crate::ingest::{IngestError, RawRecord, SourceData};
use crate::manifest::Manifest;

pub fn open(m: &Manifest, root: &Path) -> Result<SourceData, IngestError> {
    let meta = csvio::require_file(m, "metadata", root)?;
    let csv = Csv::open(&meta)?;
    let c_id = csv.require_col(&m.column("image_id")?)?;
    let c_pat = csv.require_col(&m.column("patient_id")?)?;
    let c_path = csv.require_col(&m.column("path")?)?;
    let c_split = csv.col(&m.column("split")?);
    let c_view = csv.col(&m.column("view")?);
    let c_sex = csv.col(&m.column("sex")?);
    let c_age = csv.col(&m.column("age")?);
    let label_cols = csv.label_columns(m);
    let annotated = label_cols.iter().map(|(_, h)| h.clone()).collect();
    let label = csvio::rel(root, &meta);
    let records = csv.into_records(label, move |row, line, rec| {
        let image_id = cell(rec, Some(c_id)).to_string();
        let patient = cell(rec, Some(c_pat)).to_string();
        if image_id.is_empty() || patient.is_empty() {
            return Err("empty image_id or patient_id".into());
        }
        let (labels, source_labels) = csvio::label_cells(rec, &label_cols);
        let mut nulled = Vec::new();
        Ok(RawRecord {
            row,
            line,
            patient_id: patient,
            study_id: None,
            view: csvio::view_cell(rec, c_view, &mut nulled),
            split: opt_cell(rec, c_split),
            image_paths: vec![PathBuf::from(cell(rec, Some(c_path)))],
            sex: opt_cell(rec, c_sex),
            age: csvio::age_cell(cell(rec, c_age), &mut nulled),
            labels,
            source_labels,
            image_id,
            no_labels: false,
            nulled,
        })
    });
    Ok(SourceData { annotated, metadata_files: vec![meta], notes: Vec::new(), records })
}
