//! Stage 2, harmonize: from here on nothing depends on which dataset a row came from. Labels
//! become unified findings, views and splits are normalised, pixels are preprocessed.

pub mod label_map;
pub mod pixels;
pub mod split;

use crate::ingest::RawRecord;
use crate::labels::LabelValue;
use crate::manifest::Manifest;

/// A harmonized row, without pixels (the pipeline adds those).
#[derive(Debug, Clone)]
pub struct Row {
    pub image_id: String,
    pub patient_id: String,
    pub study_id: Option<String>,
    pub view: Option<String>,
    pub split: &'static str,
    pub sex: Option<&'static str>,
    pub age: Option<f32>,
    /// One value per finding, in `labels::FINDINGS` order.
    pub labels: Vec<LabelValue>,
    /// Verbatim source labels (JSON text).
    pub source_labels: String,
    /// 1-based row in the source metadata.
    pub source_row: u64,
}

/// Harmonizes a record's metadata; an error is the reject reason.
pub fn harmonize(m: &Manifest, annotated: &[bool], seed: u64, r: &RawRecord) -> Result<Row, String> {
    let labels = label_map::harmonize_labels(m, annotated, &r.labels)?;
    let split = split::assign(&m.split, seed, r.split.as_deref(), &r.patient_id)?;
    Ok(Row {
        image_id: r.image_id.clone(),
        patient_id: r.patient_id.clone(),
        study_id: r.study_id.clone(),
        view: m.normalize_view(r.view.as_deref()),
        split,
        sex: split::normalize_sex(r.sex.as_deref()),
        age: r.age,
        labels,
        source_labels: r.source_labels.to_string(),
        source_row: r.row,
    })
}
