//! Stage 1, ingest: find each dataset's published metadata under `--root`, stream its rows as
//! [`RawRecord`]s, resolve image paths safely inside the root, and decode images.

pub mod csvio;
pub mod decode;
pub mod paths;
pub mod record;
pub mod sources;

use std::path::{Path, PathBuf};

pub use record::{RawRecord, RecordIter, RowError, SourceData};

use crate::manifest::{Manifest, ManifestError, Reader};

/// Fatal ingest errors (a bad row is a [`RowError`], never one of these).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("No {dataset} metadata file under `{root}` (looked for {names:?}, also .gz)")]
    MissingMetadata { dataset: String, root: PathBuf, names: Vec<String> },
    #[error("Failed to read metadata file `{path}`")]
    ReadMetadata { path: PathBuf, #[source] source: std::io::Error },
    #[error("Failed to parse CSV `{path}`")]
    Csv { path: PathBuf, #[source] source: csv::Error },
    #[error("CSV `{path}` has none of the columns {names:?}")]
    MissingColumn { path: PathBuf, names: Vec<String> },
    #[error("CSV `{path}`: column `{column}` is not in the manifest's label map")]
    UnknownColumn { path: PathBuf, column: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Opens the dataset the manifest describes, with the reader its `reader` key names.
pub fn open_source(m: &Manifest, root: &Path) -> Result<SourceData, IngestError> {
    match m.reader {
        Reader::Nih => sources::nih::open(m, root),
        Reader::Chexpert => sources::chexpert::open(m, root),
        Reader::Mimic => sources::mimic::open(m, root),
        Reader::Padchest => sources::padchest::open(m, root),
        Reader::Vindr => sources::vindr::open(m, root),
        Reader::Uka => sources::uka::open(m, root),
    }
}
