//! Stage 3, store: the partitioned Parquet store that `cxr-prep` writes and `cxr-train` reads.
//!
//! ```text
//! <STORE>/
//!   dataset=<name>/part-NNNNN.parquet   rows of one dataset (hive partition)
//!   _meta.json                          schema version, per-dataset options, label sets, counts, fingerprints
//!   _rejects/<name>.csv                 rows that could not be stored, with file, row, stage and reason
//!   _staging/<name>/                    an ingest in progress (resumable); swapped in when complete
//! ```

pub mod conform;
pub mod meta;
pub mod reader;
pub mod rejects;
pub mod schema;
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
    #[error("Arrow error while building a batch")]
    Arrow(#[source] arrow::error::ArrowError),
    #[error("Store metadata `{path}` is not valid JSON")]
    MetaJson { path: PathBuf, #[source] source: serde_json::Error },
    #[error("Store `{path}` has schema version {found}, this cxr reads version {expected}")]
    SchemaVersion { path: PathBuf, found: u32, expected: u32 },
}

/// Folder of a dataset's partition.
pub fn partition_dir(store: &Path, dataset: &str) -> PathBuf {
    store.join(format!("dataset={dataset}"))
}

/// Folder where an ingest in progress writes its parts.
pub fn staging_dir(store: &Path, dataset: &str) -> PathBuf {
    store.join("_staging").join(dataset)
}

/// Runs `f` holding `<store>/_meta.lock` (created exclusively; a lock older than 10 minutes is
/// taken over as left by a killed process), so concurrent ingests into one store do not lose
/// each other's `_meta.json` entries.
pub fn with_store_lock<T>(store: &Path, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let lock = store.join("_meta.lock");
    let started = std::time::Instant::now();
    loop {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(&lock)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(600));
                if stale || started.elapsed() > std::time::Duration::from_secs(120) {
                    let _ = std::fs::remove_file(&lock);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(source) => return Err(StoreError::Write { path: lock, source }),
        }
    }
    let out = f();
    let _ = std::fs::remove_file(&lock);
    out
}

/// Writes a small file atomically (temp + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let io = |source| StoreError::Write { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    // Unique per process and call: two writers never share a temporary file.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!(
        "{}.{}-{seq}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
