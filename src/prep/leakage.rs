//! The ingest's own patient-level leakage check: before a partition is swapped in, every
//! staged part is read back (patient, split, source path, source row only) and a patient whose
//! rows landed in two splits fails the ingest with [`PrepError::PatientInTwoSplits`], naming
//! the patient, both rows and both image files, and the metadata files that assigned the splits.
//!
//! The split rules never put one patient in two splits by themselves (hash splits are
//! patient-level); a leak means the dataset's own split files disagree about a patient, or a
//! list was misread — the failure `cxr-prep validate` would only find afterwards.

use std::collections::HashMap;
use std::path::PathBuf;

use arrow::datatypes::UInt64Type;

use super::PrepError;
use crate::store::reader::{PartFile, PartRead};
use crate::store::schema::{COL_PATIENT_ID, COL_SOURCE_PATH, COL_SOURCE_ROW, COL_SPLIT};

/// Where a patient's first row was seen: split, image path, metadata row.
type Seen = (String, String, u64);

/// Fails on the first patient whose rows in `parts` (in order) carry two splits.
/// `metadata_files`: the files the split came from, for the message.
pub fn check_patient_splits(parts: &[PathBuf], metadata_files: &[String]) -> Result<(), PrepError> {
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let what = PartRead::columns([COL_PATIENT_ID, COL_SPLIT, COL_SOURCE_PATH, COL_SOURCE_ROW]);
    for part in parts {
        for batch in PartFile::open(part)?.read(&what)? {
            let batch = batch?;
            let patients = batch.text_required(COL_PATIENT_ID, false)?;
            let splits = batch.text_required(COL_SPLIT, false)?;
            let paths = batch.text_required(COL_SOURCE_PATH, true)?;
            let rows = batch.required(batch.primitive::<UInt64Type>(COL_SOURCE_ROW)?, COL_SOURCE_ROW)?;
            for i in 0..batch.num_rows() {
                let here = (splits.value(i).to_string(), paths.value(i).to_string(), rows.value(i));
                match seen.get(patients.value(i)) {
                    Some(first) if first.0 != here.0 => {
                        return Err(PrepError::PatientInTwoSplits {
                            patient: patients.value(i).to_string(),
                            first: describe(first),
                            second: describe(&here),
                            files: metadata_files.join(", "),
                        });
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(patients.value(i).to_string(), here);
                    }
                }
            }
        }
    }
    Ok(())
}

fn describe((split, path, row): &Seen) -> String {
    format!("{split} (metadata row {row}, `{path}`)")
}
