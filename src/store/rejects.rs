//! Rejects: rows that could not be stored. Written as `<STORE>/_rejects/<dataset>.csv` (one line
//! per reject: metadata file, row, line, image id, source path, stage, reason) and summarised by
//! reason at the end of a run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{write_atomic, StoreError};

/// The error and its causes, joined with `: ` (the reason of a reject, the message of a
/// `validate` issue).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}


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
    /// Stage the row failed in (written as `metadata`, `labels`, `path`, `decode`, `preprocess`).
    pub stage: Stage,
    /// Short category used for the summary (written as e.g. `missing image file`).
    pub kind: RejectKind,
    /// Full message.
    pub reason: String,
}

/// Stage of the pipeline a row was rejected in. Serialized as the lowercase name (the `stage`
/// column of `_rejects/<dataset>.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Metadata,
    Labels,
    Path,
    Decode,
    Preprocess,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Metadata => "metadata",
            Stage::Labels => "labels",
            Stage::Path => "path",
            Stage::Decode => "decode",
            Stage::Preprocess => "preprocess",
        }
    }
}

/// Why a row was rejected, chosen where the error happens. Serialized as its text (the `kind`
/// column of `_rejects/<dataset>.csv` and the `rejects_by_reason` keys of `_meta.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectKind {
    #[serde(rename = "malformed metadata row")]
    MalformedMetadataRow,
    #[serde(rename = "unknown label term")]
    UnknownLabelTerm,
    #[serde(rename = "unknown split value")]
    UnknownSplitValue,
    #[serde(rename = "bad label value")]
    BadLabelValue,
    #[serde(rename = "path escapes root")]
    PathEscapesRoot,
    #[serde(rename = "symlink escapes root")]
    SymlinkEscapesRoot,
    #[serde(rename = "missing image file")]
    MissingImageFile,
    #[serde(rename = "undecodable image")]
    UndecodableImage,
    #[serde(rename = "preprocessing failed")]
    PreprocessingFailed,
    #[serde(rename = "decoder panic")]
    DecoderPanic,
}

impl RejectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::MalformedMetadataRow => "malformed metadata row",
            RejectKind::UnknownLabelTerm => "unknown label term",
            RejectKind::UnknownSplitValue => "unknown split value",
            RejectKind::BadLabelValue => "bad label value",
            RejectKind::PathEscapesRoot => "path escapes root",
            RejectKind::SymlinkEscapesRoot => "symlink escapes root",
            RejectKind::MissingImageFile => "missing image file",
            RejectKind::UndecodableImage => "undecodable image",
            RejectKind::PreprocessingFailed => "preprocessing failed",
            RejectKind::DecoderPanic => "decoder panic",
        }
    }

    /// The stage this kind of reject happens in.
    pub fn stage(self) -> Stage {
        match self {
            RejectKind::MalformedMetadataRow => Stage::Metadata,
            RejectKind::UnknownLabelTerm | RejectKind::UnknownSplitValue | RejectKind::BadLabelValue => Stage::Labels,
            RejectKind::PathEscapesRoot | RejectKind::SymlinkEscapesRoot | RejectKind::MissingImageFile => Stage::Path,
            RejectKind::UndecodableImage | RejectKind::DecoderPanic => Stage::Decode,
            RejectKind::PreprocessingFailed => Stage::Preprocess,
        }
    }
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
            r.stage.as_str(),
            r.kind.as_str(),
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
        *m.entry(format!("{}: {}", r.stage.as_str(), r.kind.as_str())).or_insert(0) += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_stages_serialize_as_their_csv_texts() {
        use RejectKind::*;
        for k in [
            MalformedMetadataRow, UnknownLabelTerm, UnknownSplitValue, BadLabelValue, PathEscapesRoot,
            SymlinkEscapesRoot, MissingImageFile, UndecodableImage, PreprocessingFailed, DecoderPanic,
        ] {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.as_str()));
            assert_eq!(serde_json::from_str::<RejectKind>(&format!("\"{}\"", k.as_str())).unwrap(), k);
            let st = k.stage();
            assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{}\"", st.as_str()));
        }
        assert_eq!(MissingImageFile.as_str(), "missing image file");
        assert_eq!(DecoderPanic.stage().as_str(), "decode");
    }
}
