//! The row type of the store: what one part-file row holds, in the store's own terms. The
//! harmonize stage produces the metadata ([`Row`]), the ingest adds where the image came from
//! and its pixels ([`StoreRow`]); [`writer`](super::writer) turns rows into Arrow batches.

use crate::labels::LabelValue;

/// The harmonized metadata of one store row (every column but `source_path`, `height`, `width`
/// and `image`).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub image_id: String,
    pub patient_id: String,
    pub study_id: Option<String>,
    /// Normalised view (PA, AP, AP_SUPINE, LATERAL, LL, OTHER) or null.
    pub view: Option<String>,
    /// `train`, `val` or `test`.
    pub split: &'static str,
    /// `M`, `F`, `O` or null.
    pub sex: Option<&'static str>,
    /// Years at the study.
    pub age: Option<f32>,
    /// One value per finding, in `labels::FINDINGS` order.
    pub labels: Vec<LabelValue>,
    /// Verbatim source labels (JSON text).
    pub source_labels: String,
    /// 1-based row in the source metadata.
    pub source_row: u64,
}

/// A preprocessed image: `height × width` 8-bit grey pixels, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredImage {
    pub height: u16,
    pub width: u16,
    pub pixels: Vec<u8>,
}

/// One store row: harmonized metadata, where the image came from, and its pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreRow {
    pub row: Row,
    /// Image path relative to the dataset root.
    pub source_path: String,
    /// `None` in metadata-only ingests.
    pub image: Option<StoredImage>,
}
