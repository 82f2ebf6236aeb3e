//! `RawRecord`: one image row as a dataset publishes it, before any label decision.
//!
//! Readers in `ingest::sources` produce these; `harmonize` turns them into store rows. Nothing
//! here is interpreted yet except the parsing of the file format itself.

use std::path::PathBuf;

/// One image row of a dataset's metadata, as read.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// 1-based record number in the reader's primary metadata file (data rows, header excluded).
    pub row: u64,
    /// Physical line where the record starts (records can span lines: PadChest).
    pub line: u64,
    /// The dataset's own image id (file name for NIH/PadChest, dicom_id for MIMIC, ...).
    pub image_id: String,
    /// The dataset's pseudonymous patient id (VinDr has none: the image id stands in).
    pub patient_id: String,
    pub study_id: Option<String>,
    /// Raw view value, normalised later by the manifest's view map.
    pub view: Option<String>,
    /// Official split value as the dataset states it (`None`: no official split for this row).
    pub split: Option<String>,
    /// Image path candidates relative to `--root`, in order of preference.
    pub image_paths: Vec<PathBuf>,
    /// Raw sex value.
    pub sex: Option<String>,
    /// Age in years, when the dataset gives it.
    pub age: Option<f32>,
    /// (source label, raw value) pairs the labels are harmonized from.
    pub labels: Vec<(String, String)>,
    /// Everything the dataset said about this row's labels, verbatim (JSON object).
    pub source_labels: serde_json::Value,
    /// The publisher ships this row without labels (PadChest's empty `Labels`, a MIMIC study
    /// absent from the label file): every finding is stored null, whatever `labels.absent` says.
    pub no_labels: bool,
    /// Optional cells that were present but unusable and are stored as null (counted in notes).
    pub nulled: Vec<Nulled>,
}

/// An optional cell stored as null because its value could not be used. The row, its image
/// and its labels are kept; the ingest counts these per (`field`, `cause`) and reports
/// `"<field>: <count> <cause> (first: row R, `value`)"` in the summary and `_meta.json` notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nulled {
    /// Store column the value was meant for (`age`, `sex`, `view`, `labels`).
    pub field: &'static str,
    /// What was wrong and what was done, phrased to follow a count, e.g.
    /// `"values out of range (0..=120 years) stored as null"`.
    pub cause: &'static str,
    /// The raw cell (at most 40 characters), shown for the first occurrence.
    pub value: String,
}

impl Nulled {
    /// A note for `field`, keeping at most 40 characters of the raw value.
    pub fn new(field: &'static str, cause: &'static str, raw: &str) -> Nulled {
        Nulled { field, cause, value: raw.chars().take(40).collect() }
    }
}

/// A metadata row that could not be read; becomes a reject, the run goes on.
#[derive(Debug, Clone)]
pub struct RowError {
    /// Metadata file the row comes from (relative to root when possible).
    pub file: String,
    pub row: u64,
    pub line: u64,
    /// Image the row refers to, when known.
    pub image_id: Option<String>,
    pub reason: String,
}

/// The stream a reader hands to the pipeline.
pub type RecordIter = Box<dyn Iterator<Item = Result<RawRecord, RowError>> + Send>;

/// What a reader found under the root.
pub struct SourceData {
    /// Source labels this layout annotates (header columns, token lists, term tables); their
    /// findings are the dataset's annotated set.
    pub annotated: Vec<String>,
    /// Metadata files read, for the store fingerprints.
    pub metadata_files: Vec<PathBuf>,
    /// What was absent and what was done instead (printed and saved in `_meta.json`).
    pub notes: Vec<String>,
    /// The rows, streamed in file order.
    pub records: RecordIter,
}
