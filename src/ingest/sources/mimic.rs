//! MIMIC-CXR-JPG: image rows from `mimic-cxr-2.0.0-metadata.csv.gz`, labels per STUDY from
//! `mimic-cxr-2.0.0-chexpert.csv.gz` (joined on study_id, copied to every image of the study),
//! official split from `mimic-cxr-2.0.0-split.csv.gz` (by dicom_id). JPEGs under
//! `files/pXX/pSUBJECT/sSTUDY/<dicom_id>.jpg`; MIMIC-CXR DICOM (`.dcm`) when the JPEG is absent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::ingest::csvio::{self, cell, Csv};
use crate::ingest::record::Nulled;
use crate::ingest::{IngestError, RawRecord, SourceData};
use crate::manifest::Manifest;

/// The top folder of a subject: `p` + the first two digits of `subject_id` (`p10` … `p19`);
/// `None` unless the id is all ASCII digits, at least two of them.
pub fn subject_folder(subject: &str) -> Option<String> {
    if subject.len() < 2 || !subject.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    subject.get(..2).map(|d| format!("p{d}"))
}

/// At most 40 characters of a cell, for messages.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

type StudyLabels = (Vec<(String, String)>, serde_json::Value);

pub fn open(m: &Manifest, root: &Path) -> Result<SourceData, IngestError> {
    let meta = csvio::require_file(m, "metadata", root)?;
    let labels_path = csvio::require_file(m, "labels", root)?;
    let split_path = csvio::find_file(m, "split", root);
    let mut notes = Vec::new();
    let mut files = vec![meta.clone(), labels_path.clone()];

    // Study-level labels: 227k studies, a few hundred bytes each.
    let csv = Csv::open(&labels_path)?;
    let c_study = csv.require_col(&m.column("study_id")?)?;
    let label_cols = csv.label_columns(m);
    let annotated = label_cols.iter().map(|(_, h)| h.clone()).collect();
    let mut studies: HashMap<String, StudyLabels> = HashMap::new();
    csv.for_each(|_, rec| {
        studies.insert(cell(rec, Some(c_study)).to_string(), csvio::label_cells(rec, &label_cols));
    })?;

    let mut splits: HashMap<String, String> = HashMap::new();
    match &split_path {
        Some(p) => {
            files.push(p.clone());
            let csv = Csv::open(p)?;
            let c_dicom = csv.require_col(&m.column("dicom_id")?)?;
            let c_split = csv.require_col(&m.column("split")?)?;
            csv.for_each(|_, rec| {
                splits.insert(cell(rec, Some(c_dicom)).to_string(), cell(rec, Some(c_split)).to_string());
            })?;
        }
        None => notes.push("mimic-cxr-2.0.0-split.csv absent: patient-level hash split instead".into()),
    }
    let have_split = split_path.is_some();
    let studies = Arc::new(studies);

    let csv = Csv::open(&meta)?;
    let c_dicom = csv.require_col(&m.column("dicom_id")?)?;
    let c_subject = csv.require_col(&m.column("subject_id")?)?;
    let c_study = csv.require_col(&m.column("study_id")?)?;
    let c_view = csv.col(&m.column("view")?);
    let label = csvio::rel(root, &meta);
    let records = csv.into_records(label, move |row, line, rec| {
        let dicom = cell(rec, Some(c_dicom)).to_string();
        let subject = cell(rec, Some(c_subject)).to_string();
        let study = cell(rec, Some(c_study)).to_string();
        if dicom.is_empty() || subject.is_empty() || study.is_empty() {
            return Err(format!("row lacks dicom_id/subject_id/study_id (`{dicom}`, `{subject}`, `{study}`)"));
        }
        let folder = subject_folder(&subject).ok_or_else(|| {
            format!("{dicom}: subject_id `{}` is not a MIMIC subject number (at least 2 digits)", clip(&subject))
        })?;
        let mut nulled = Vec::new();
        // Studies absent from the label file (no findings/impression section) have all labels unstated.
        let (labels, source_labels, no_labels) = match studies.get(&study) {
            Some((l, s)) => (l.clone(), s.clone(), false),
            None => {
                nulled.push(Nulled::new(
                    "labels",
                    "rows whose study has no row in mimic-cxr-2.0.0-chexpert.csv stored with every finding null",
                    &study,
                ));
                (Vec::new(), serde_json::json!({}), true)
            }
        };
        let split = if have_split {
            Some(splits.get(&dicom).cloned().ok_or_else(|| format!("{dicom}: not in the split file"))?)
        } else {
            None
        };
        let dir = PathBuf::from("files").join(folder).join(format!("p{subject}")).join(format!("s{study}"));
        Ok(RawRecord {
            row,
            line,
            image_paths: vec![dir.join(format!("{dicom}.jpg")), dir.join(format!("{dicom}.dcm"))],
            image_id: dicom,
            patient_id: subject,
            study_id: Some(study),
            view: csvio::view_cell(rec, c_view, &mut nulled),
            split,
            sex: None,
            age: None,
            labels,
            source_labels,
            no_labels,
            nulled,
        })
    });
    Ok(SourceData { annotated, metadata_files: files, notes, records })
}

#[cfg(test)]
mod tests {
    use super::subject_folder;

    #[test]
    fn subject_folders_never_slice_inside_a_character() {
        assert_eq!(subject_folder("10000032").as_deref(), Some("p10"));
        assert_eq!(subject_folder("19").as_deref(), Some("p19"));
        for bad in ["", "1", "1é", "é1234", "12a", " 12", "１２３"] {
            assert_eq!(subject_folder(bad), None, "{bad:?}");
        }
    }
}
