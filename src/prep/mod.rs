//! The `cxr-prep ingest` orchestration: ingest → harmonize → store for one dataset.

pub mod args;
pub mod demo;
pub mod nulled;
pub mod options;
pub mod process;
pub mod ingest_dataset;
pub mod leakage;
pub mod summary;

use std::path::PathBuf;

pub use options::{IngestOptions, StoredOptions};
pub use ingest_dataset::run_ingest;
pub use summary::IngestSummary;

use crate::ingest::IngestError;
use crate::manifest::ManifestError;
use crate::store::StoreError;

/// Fatal errors of an ingest run (bad rows are rejects, not errors).
#[derive(Debug, thiserror::Error)]
pub enum PrepError {
    #[error("Dataset root `{0}` is not a readable folder")]
    Root(PathBuf),
    #[error("Invalid options: {0}")]
    Options(String),
    #[error(
        "The store already holds dataset `{dataset}` made with other options (before: {before}; now: {now}); pass --overwrite to rebuild it"
    )]
    OptionsChanged { dataset: String, before: String, now: String },
    /// The rows of one patient were assigned two splits (the dataset's split files disagree,
    /// or one was misread); nothing is swapped in ([`leakage`]).
    #[error("Patient `{patient}` would be in two splits: {first} and {second}; the splits come from {files}; fix the split files (nothing was written to the store)")]
    PatientInTwoSplits { patient: String, first: String, second: String, files: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
