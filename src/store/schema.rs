//! The store schema: the contract between `cxr-prep`, `cxr-train` and users' own tools.
//!
//! Declared here, written to `schemas/store.schema.json` (`cxr-prep schema --write`), and kept
//! equal to that file by a test. Layout: `<STORE>/dataset=<name>/part-NNNNN.parquet` (hive
//! partitioning: the `dataset` column comes from the directory name, it is not in the files).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};

use crate::labels::FINDINGS;

/// Bumped on any incompatible change; readers refuse other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// Schema metadata keys (namespaced).
pub const META_SCHEMA_VERSION: &str = "cxr:schema_version";
pub const META_IMAGE_ENCODING: &str = "cxr:image_encoding";
/// `image` holds raw 8-bit grayscale pixels, row-major, `height × width` bytes.
pub const IMAGE_ENCODING: &str = "gray8";

pub const COL_IMAGE_ID: &str = "image_id";
pub const COL_PATIENT_ID: &str = "patient_id";
pub const COL_STUDY_ID: &str = "study_id";
pub const COL_VIEW: &str = "view";
pub const COL_SPLIT: &str = "split";
pub const COL_SOURCE_PATH: &str = "source_path";
pub const COL_SOURCE_ROW: &str = "source_row";
pub const COL_SEX: &str = "sex";
pub const COL_AGE: &str = "age";
pub const COL_HEIGHT: &str = "height";
pub const COL_WIDTH: &str = "width";
pub const COL_IMAGE: &str = "image";
pub const COL_SOURCE_LABELS: &str = "source_labels";

/// (name, type, nullable, doc) of the fixed columns, in order; the finding columns follow.
pub fn fixed_columns() -> Vec<(&'static str, DataType, bool, &'static str)> {
    vec![
        (COL_IMAGE_ID, DataType::Utf8, false, "The dataset's own image id (NIH Image Index, CheXpert Path, MIMIC dicom_id, PadChest ImageID, VinDr image_id); unique within a dataset"),
        (COL_PATIENT_ID, DataType::Utf8, false, "The dataset's pseudonymous patient id, as text (VinDr has none: its image_id)"),
        (COL_STUDY_ID, DataType::Utf8, true, "The dataset's study id, when it has one"),
        (COL_VIEW, DataType::Utf8, true, "Normalised view: PA, AP, AP_SUPINE, LATERAL, LL, OTHER; null when the source does not say"),
        (COL_SPLIT, DataType::Utf8, false, "train, val or test (official split where one exists, else patient-level hash)"),
        (COL_SOURCE_PATH, DataType::Utf8, false, "Image path relative to the dataset root as downloaded"),
        (COL_SOURCE_ROW, DataType::UInt64, false, "1-based data row in the source metadata file"),
        (COL_SEX, DataType::Utf8, true, "M, F or O; null when unknown"),
        (COL_AGE, DataType::Float32, true, "Age at the study in years; null when unknown"),
        (COL_HEIGHT, DataType::UInt16, true, "Stored image height in pixels; null in metadata-only rows"),
        (COL_WIDTH, DataType::UInt16, true, "Stored image width in pixels; null in metadata-only rows"),
        (COL_IMAGE, DataType::Binary, true, "Preprocessed image: raw 8-bit grayscale, row-major, height*width bytes; null in metadata-only rows"),
        (COL_SOURCE_LABELS, DataType::Utf8, false, "Everything the dataset said about this row's labels, verbatim, as a JSON object"),
    ]
}

/// The Arrow schema of every part file.
pub fn schema() -> Schema {
    let mut fields: Vec<Field> = fixed_columns()
        .into_iter()
        .map(|(n, t, nullable, doc)| {
            Field::new(n, t, nullable).with_metadata(HashMap::from([("doc".to_string(), doc.to_string())]))
        })
        .collect();
    for f in FINDINGS {
        fields.push(
            Field::new(f.name, DataType::Int8, true)
                .with_metadata(HashMap::from([("doc".to_string(), format!("{} — 1 positive, 0 negative, -1 uncertain, null unstated", f.doc))])),
        );
    }
    Schema::new(fields).with_metadata(HashMap::from([
        (META_SCHEMA_VERSION.to_string(), SCHEMA_VERSION.to_string()),
        (META_IMAGE_ENCODING.to_string(), IMAGE_ENCODING.to_string()),
    ]))
}

/// Shared handle to [`schema`].
pub fn schema_ref() -> Arc<Schema> {
    Arc::new(schema())
}

/// The schema as the JSON document kept in `schemas/store.schema.json`.
pub fn schema_json() -> String {
    let s = schema();
    let cols: Vec<serde_json::Value> = s
        .fields()
        .iter()
        .map(|f| {
            serde_json::json!({
                "name": f.name(),
                "type": format!("{}", f.data_type()),
                "nullable": f.is_nullable(),
                "doc": f.metadata().get("doc"),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "layout": "<STORE>/dataset=<name>/part-NNNNN.parquet (hive partitioning); _meta.json and _rejects/ beside",
        "image_encoding": IMAGE_ENCODING,
        "columns": cols,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
