//! Stage 2, harmonize: from here on nothing depends on which dataset a row came from. Labels
//! become unified findings, views and splits are normalised, pixels are preprocessed.

pub mod label_map;
pub mod pixels;
pub mod split;

use crate::ingest::record::Nulled;
use crate::ingest::RawRecord;
use crate::labels::{LabelValue, FINDINGS};
use crate::manifest::Manifest;
use crate::store::rejects::RejectKind;
pub use crate::store::row::Row;

/// Why a record's metadata cannot be harmonized (the row is rejected; the message is the reject
/// reason in `_rejects/<dataset>.csv`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarmonizeError {
    /// A source label the manifest does not map.
    #[error("unknown label term `{label}`")]
    UnknownLabelTerm { label: String },
    /// A raw label value the manifest gives no meaning.
    #[error("label `{label}`: unrecognised value `{value}`")]
    UnrecognisedValue { label: String, value: String },
    /// The manifest maps a label to a finding outside the vocabulary.
    #[error("manifest maps `{label}` to unknown finding `{finding}`")]
    UnknownFinding { label: String, finding: String },
    /// An official split value the manifest does not map.
    #[error("unknown split value `{value}`")]
    UnknownSplit { value: String },
}

impl HarmonizeError {
    /// The reject kind of this error (the `kind` column of `_rejects/<dataset>.csv`).
    pub fn reject_kind(&self) -> RejectKind {
        match self {
            HarmonizeError::UnknownLabelTerm { .. } => RejectKind::UnknownLabelTerm,
            HarmonizeError::UnknownSplit { .. } => RejectKind::UnknownSplitValue,
            HarmonizeError::UnrecognisedValue { .. } | HarmonizeError::UnknownFinding { .. } => RejectKind::BadLabelValue,
        }
    }
}

/// A harmonized row: the store row's metadata, and the optional values stored as null because
/// they were unusable (reader's and harmonize's), which the ingest counts into its notes.
#[derive(Debug, Clone)]
pub struct Harmonized {
    pub row: Row,
    pub nulled: Vec<Nulled>,
}

/// Harmonizes a record's metadata; an error is the reject reason (an unknown label term, a
/// label value that means nothing, an unknown split value). Optional values that cannot be
/// used (a sex code other than M/F/O, a view the manifest does not list) become null and are
/// added to the row's [`Nulled`] notes; a row the publisher ships without labels
/// ([`RawRecord::no_labels`]) gets every finding null.
pub fn harmonize(m: &Manifest, annotated: &[bool], seed: u64, r: &RawRecord) -> Result<Harmonized, HarmonizeError> {
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
    let row = Row {
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
    };
    Ok(Harmonized { row, nulled })
}
