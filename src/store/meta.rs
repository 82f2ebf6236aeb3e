//! `<STORE>/_meta.json`: schema version, tool version, and per dataset the options used, the
//! findings it annotates, counts, notes and fingerprints (size + sha256) of the metadata files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::options::StoredOptions;
use super::schema::SCHEMA_VERSION;
use super::{write_atomic, StoreError};

/// The whole `_meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreMeta {
    pub schema_version: u32,
    /// `cxr <version>` of the last writer.
    pub tool: String,
    pub datasets: BTreeMap<String, DatasetMeta>,
}

/// One dataset's entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetMeta {
    /// RFC 3339 time the partition was completed.
    pub ingested_at: String,
    pub manifest_title: String,
    pub manifest_sha256: String,
    /// Every option that shapes the stored rows (older stores lack some fields: they read with
    /// the defaults documented on [`StoredOptions`]).
    pub options: StoredOptions,
    /// Findings this dataset annotates (all others are null by construction).
    pub annotated_findings: Vec<String>,
    pub rows: u64,
    pub rejects: u64,
    pub rejects_by_reason: BTreeMap<String, usize>,
    /// Rows per split.
    pub splits: BTreeMap<String, u64>,
    pub metadata_files: Vec<FileFingerprint>,
    /// What was absent and what was done instead.
    pub notes: Vec<String>,
    pub split_rule: String,
}

/// Size and sha256 of a metadata file read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileFingerprint {
    /// Relative to the dataset root.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Fingerprints a file (streamed).
pub fn fingerprint(root: &Path, path: &Path) -> Result<FileFingerprint, StoreError> {
    let io = |source| StoreError::Read { path: path.to_path_buf(), source };
    let (sha256, bytes) = crate::fsutil::sha256_file_len(path).map_err(io)?;
    Ok(FileFingerprint { path: path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned(), bytes, sha256 })
}

/// Path of `_meta.json`.
pub fn meta_path(store: &Path) -> PathBuf {
    store.join("_meta.json")
}

/// Reads `_meta.json`; `None` for a new store. Refuses another schema version.
pub fn read(store: &Path) -> Result<Option<StoreMeta>, StoreError> {
    let path = meta_path(store);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Read { path, source }),
    };
    let meta: StoreMeta = serde_json::from_str(&text).map_err(|source| StoreError::MetaJson { path: path.clone(), source })?;
    if meta.schema_version != SCHEMA_VERSION {
        return Err(StoreError::SchemaVersion { path, found: meta.schema_version, expected: SCHEMA_VERSION });
    }
    Ok(Some(meta))
}

/// Records (or replaces) one dataset's entry.
pub fn update(store: &Path, dataset: &str, entry: DatasetMeta) -> Result<StoreMeta, StoreError> {
    super::with_store_lock(store, || update_locked(store, dataset, entry))
}

fn update_locked(store: &Path, dataset: &str, entry: DatasetMeta) -> Result<StoreMeta, StoreError> {
    let mut meta = read(store)?.unwrap_or_else(|| StoreMeta {
        schema_version: SCHEMA_VERSION,
        tool: String::new(),
        datasets: BTreeMap::new(),
    });
    meta.tool = format!("cxr {}", env!("CARGO_PKG_VERSION"));
    meta.datasets.insert(dataset.to_string(), entry);
    let path = meta_path(store);
    let text = serde_json::to_string_pretty(&meta).map_err(|source| StoreError::MetaJson { path: path.clone(), source })?;
    // Under the store lock no other writer's temporary file exists: leftovers are from kills.
    crate::fsutil::remove_stale_temps(&path).map_err(|source| StoreError::Write { path: path.clone(), source })?;
    write_atomic(&path, text.as_bytes())?;
    Ok(meta)
}
