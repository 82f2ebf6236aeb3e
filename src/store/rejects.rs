//! Rejects: rows that could not be stored. Written as `<STORE>/_rejects/<dataset>.csv` (one line
//! per reject: metadata file, row, line, image id, source path, stage, reason) and summarised by
//! reason at the end of a run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{write_atomic, StoreError};

/// One rejected row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Reject {
    /// Metadata file the row came from, relative to the root.
    pub file: String,
    pub row: u64,
    pub line: u64,
    pub image_id: String,
    /// Image path relative to the root, when one was resolved.
    pub source_path: String,
    /// `metadata`, `labels`, `path`, `decode` or `preprocess`.
    pub stage: String,
    /// Short category used for the summary (e.g. `missing image file`).
    pub kind: String,
    /// Full message.
    pub reason: String,
}

/// Path of a dataset's rejects file.
pub fn rejects_path(store: &Path, dataset: &str) -> PathBuf {
    store.join("_rejects").join(format!("{dataset}.csv"))
}

/// Writes the rejects file (replacing an older one for this dataset).
pub fn write_rejects(store: &Path, dataset: &str, rejects: &[Reject]) -> Result<(), StoreError> {
    let path = rejects_path(store, dataset);
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| StoreError::Write { path: path.clone(), source: std::io::Error::other(e) };
    w.write_record(["dataset", "file", "row", "line", "image_id", "source_path", "stage", "kind", "reason"])
        .map_err(err)?;
    for r in rejects {
        w.write_record([
            dataset,
            &r.file,
            &r.row.to_string(),
            &r.line.to_string(),
            &r.image_id,
            &r.source_path,
            &r.stage,
            &r.kind,
            &r.reason,
        ])
        .map_err(err)?;
    }
    let bytes = w.into_inner().map_err(|e| StoreError::Write { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
    // One ingest per dataset finalizes at a time: what a killed finalize left is ours to remove.
    crate::fsutil::remove_stale_temps(&path).map_err(|source| StoreError::Write { path: path.clone(), source })?;
    write_atomic(&path, &bytes)
}

/// Counts by `stage: kind`, sorted by name.
pub fn summarize(rejects: &[Reject]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in rejects {
        *m.entry(format!("{}: {}", r.stage, r.kind)).or_insert(0) += 1;
    }
    m
}
