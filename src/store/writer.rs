//! Writing part files: one RecordBatch of [`StoreRow`]s → one Parquet file, written to a
//! temporary name and renamed, so a reader never sees a half-written part.
//!
//! Large binary columns need care (arrow-rs #7490, polars #23498): zstd, no statistics and no
//! dictionary on `image`, bounded page sizes and small row groups (a 224² image is 50 KB, so a
//! 256-row group is ~13 MB).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, Float32Builder, Int8Builder, RecordBatch, StringBuilder, UInt16Builder,
    UInt64Builder,
};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::row::StoreRow;
use super::schema::{schema_ref, COL_IMAGE, COL_SOURCE_LABELS};
use super::StoreError;
use crate::labels::FINDINGS;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 256;

/// Writer properties for part files.
pub fn writer_properties() -> WriterProperties {
    let image = ColumnPath::from(COL_IMAGE);
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_size_limit(1 << 20)
        .set_column_statistics_enabled(image.clone(), EnabledStatistics::None)
        .set_column_dictionary_enabled(image, false)
        .set_column_dictionary_enabled(ColumnPath::from(COL_SOURCE_LABELS), false)
        .set_created_by(format!("cxr {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Builds the Arrow batch of `rows` in the store schema.
pub fn to_batch(rows: &[StoreRow]) -> Result<RecordBatch, StoreError> {
    let n = rows.len();
    let mut image_id = StringBuilder::new();
    let mut patient_id = StringBuilder::new();
    let mut study_id = StringBuilder::new();
    let mut view = StringBuilder::new();
    let mut split = StringBuilder::new();
    let mut source_path = StringBuilder::new();
    let mut source_row = UInt64Builder::with_capacity(n);
    let mut sex = StringBuilder::new();
    let mut age = Float32Builder::with_capacity(n);
    let mut height = UInt16Builder::with_capacity(n);
    let mut width = UInt16Builder::with_capacity(n);
    let bytes: usize = rows.iter().filter_map(|r| r.image.as_ref()).map(|i| i.pixels.len()).sum();
    let mut image = BinaryBuilder::with_capacity(n, bytes);
    let mut source_labels = StringBuilder::new();
    let mut findings: Vec<Int8Builder> = FINDINGS.iter().map(|_| Int8Builder::with_capacity(n)).collect();
    for r in rows {
        let h = &r.row;
        image_id.append_value(&h.image_id);
        patient_id.append_value(&h.patient_id);
        study_id.append_option(h.study_id.as_deref());
        view.append_option(h.view.as_deref());
        split.append_value(h.split);
        source_path.append_value(&r.source_path);
        source_row.append_value(h.source_row);
        sex.append_option(h.sex);
        age.append_option(h.age);
        match &r.image {
            Some(img) => {
                height.append_value(img.height);
                width.append_value(img.width);
                image.append_value(&img.pixels);
            }
            None => {
                height.append_null();
                width.append_null();
                image.append_null();
            }
        }
        source_labels.append_value(&h.source_labels);
        for (b, v) in findings.iter_mut().zip(&h.labels) {
            b.append_option(v.to_i8());
        }
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(image_id.finish()),
        Arc::new(patient_id.finish()),
        Arc::new(study_id.finish()),
        Arc::new(view.finish()),
        Arc::new(split.finish()),
        Arc::new(source_path.finish()),
        Arc::new(source_row.finish()),
        Arc::new(sex.finish()),
        Arc::new(age.finish()),
        Arc::new(height.finish()),
        Arc::new(width.finish()),
        Arc::new(image.finish()),
        Arc::new(source_labels.finish()),
    ];
    cols.extend(findings.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef));
    RecordBatch::try_new(schema_ref(), cols).map_err(StoreError::Arrow)
}

/// Writes `rows` to `path` atomically ([`crate::fsutil::write_atomic_with`]: temporary file in
/// the same folder, fsync, rename).
pub fn write_part(path: &Path, rows: &[StoreRow]) -> Result<(), StoreError> {
    let batch = to_batch(rows)?;
    let perr = |source| StoreError::Parquet { path: path.to_path_buf(), source };
    crate::fsutil::write_atomic_with(
        path,
        |file| {
            let mut w = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties())).map_err(perr)?;
            w.write(&batch).map_err(perr)?;
            w.close().map(drop).map_err(perr)
        },
        |source| StoreError::Write { path: path.to_path_buf(), source },
    )
}
