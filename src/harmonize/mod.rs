//! Stage 2, harmonize: from here on nothing depends on which dataset a row came from. Labels
//! become unified findings, views and splits are normalised, pixels are preprocessed.

pub mod label_map;
pub mod pixels;
pub mod split;

use crate::ingest::record::Nulled;
use crate::ingest::RawRecord;
use crate::labels::{LabelValue, FINDINGS};
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
    /// Optional values stored as null because they were unusable (reader's and harmonize's).
    pub nulled: Vec<Nulled>,
}

/// Harmonizes a record's metadata; an error is the reject reason (an unknown label term, a
/// label value that means nothing, an unknown split value). Optional values that cannot be
/// used (a sex code other than M/F/O, a view the manifest does not list) become null and are
/// added to the row's [`Nulled`] notes; a row the publisher ships without labels
/// ([`RawRecord::no_labels`]) gets every finding null.
pub fn harmonize(m: &Manifest, annotated: &[bool], seed: u64, r: &RawRecord) -> Result<Row, String> {
    let labels = if r.no_labels {
        vec![LabelValue::Unstated; FINDINGS.len()]
    } else {
        label_map::harmonize_labels(m, annotated, &r.labels)?
    };
    let split = split::assign(&m.split, seed, r.split.as_deref(), &r.patient_id)?;
    let mut nulled = r.nulled.clone();
    let sex = split::normalize_sex(r.sex.as_deref());
    if let Some(raw) = r.sex.as_deref().filter(|s| sex.is_none() && !s.trim().is_empty()) {
        nulled.push(Nulled::new("sex", "values other than M/F/O (Male/Female/Other) stored as null", raw.trim()));
    }
    let view = m.normalize_view(r.view.as_deref()).unwrap_or_else(|raw| {
        nulled.push(Nulled::new("view", "values not in the manifest's view map stored as null", &raw));
        None
    });
    Ok(Row {
        image_id: r.image_id.clone(),
        patient_id: r.patient_id.clone(),
        study_id: r.study_id.clone(),
        view,
        split,
        sex,
        age: r.age,
        labels,
        source_labels: r.source_labels.to_string(),
        source_row: r.row,
        nulled,
    })
}
