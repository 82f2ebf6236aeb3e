//! Stage 3, store: the partitioned Parquet store that `cxr-prep` writes and `cxr-train` reads.
//!
//! ```text
//! <STORE>/
//!   dataset=<name>/part-NNNNN.parquet   rows of one dataset (hive partition)
//!   _meta.json                          schema version, per-dataset options, label sets, counts, fingerprints
//!   _meta.lock                          empty; locked while `_meta.json` is updated
//!   _rejects/<name>.csv                 rows that could not be stored, with file, row, stage and reason
//!   _staging/<name>/                    an ingest in progress (resumable); swapped in when complete
//! ```
//!
//! The store is the contract between the stages and imports none of them (only the shared
//! vocabulary `labels` and `fsutil`): it owns its row type ([`row`]), the options recorded per
//! dataset ([`options`]), the staging protocol of a partition ([`staging`]) and the one reader
//! of part files ([`reader`]); `harmonize` produces its rows, `prep` drives its staging.

pub mod conform;
pub mod meta;
pub mod options;
pub mod reader;
pub mod rejects;
pub mod row;
pub mod schema;
pub mod staging;
pub mod validate;
pub mod writer;

use std::path::{Path, PathBuf};

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("Failed to write `{path}`")]
    Write { path: PathBuf, #[source] source: std::io::Error },
    #[error("Failed to read `{path}`")]
    Read { path: PathBuf, #[source] source: std::io::Error },
    #[error("Parquet error in `{path}`")]
    Parquet { path: PathBuf, #[source] source: parquet::errors::ParquetError },
    #[error("Failed to read part `{path}`")]
    ReadPart { path: PathBuf, #[source] source: arrow::error::ArrowError },
    #[error("Part `{path}`, column `{column}`: {reason}")]
    Column { path: PathBuf, column: String, reason: String },
    #[error("Arrow error while building a batch")]
    Arrow(#[source] arrow::error::ArrowError),
    #[error("Store metadata `{path}` is not valid JSON")]
    MetaJson { path: PathBuf, #[source] source: serde_json::Error },
    #[error("Store `{path}` has schema version {found}, this cxr reads version {expected}")]
    SchemaVersion { path: PathBuf, found: u32, expected: u32 },
    #[error("An interrupted ingest in `{path}` was made with other options or another manifest; pass --overwrite to start over")]
    StagingMismatch { path: PathBuf },
}

/// Folder of a dataset's partition.
pub fn partition_dir(store: &Path, dataset: &str) -> PathBuf {
    store.join(format!("dataset={dataset}"))
}

/// Folder where an ingest in progress writes its parts.
pub fn staging_dir(store: &Path, dataset: &str) -> PathBuf {
    store.join("_staging").join(dataset)
}

/// Runs `f` holding an exclusive lock on `<store>/_meta.lock` (an advisory whole-file lock taken
/// with the standard library's [`std::fs::File::lock`], `flock(2)` on Unix), so concurrent ingests
/// into one store do not lose each other's `_meta.json` entries. Waits while another process
/// holds it; the OS releases the lock when its holder exits or is killed, so no stale lock is ever
/// left behind. The empty lock file stays in the store (`validate` expects it).
pub fn with_store_lock<T>(store: &Path, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let lock = store.join("_meta.lock");
    let err = |source| StoreError::Write { path: lock.clone(), source };
    let file = std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&lock).map_err(err)?;
    file.lock().map_err(err)?;
    let out = f();
    // Closing the file releases the lock.
    drop(file);
    out
}

/// Writes a small file atomically ([`crate::fsutil::write_atomic`]: unique temporary file in the
/// same folder, fsync, rename); the error names `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    crate::fsutil::write_atomic(path, bytes).map_err(|source| StoreError::Write { path: path.to_path_buf(), source })
}
