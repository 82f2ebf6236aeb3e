//! Parts in another tool's Arrow encodings, made readable for polars. The polars build of cxr
//! reads the store types (Utf8/LargeUtf8, Int8, UInt16, …) but not e.g. `int16` label columns
//! or dictionary-encoded text, which a pyarrow rewrite of a part can hold. When a partition has
//! such a part, its non-image columns are cast to the store types with
//! [`conform`](crate::store::conform) by the store reader (a value that does not fit is an
//! error naming the file and column) and written to a
//! temporary folder that polars scans instead; the folder is removed afterwards.

use std::fs::File;
use std::path::Path;

use tempfile::TempDir;

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ArrowWriter;

use crate::store::reader::{list_parts, PartFile, PartRead};
use crate::store::schema::COL_IMAGE;
use crate::store::StoreError;

/// `None` when every part of `dir` holds the store types; otherwise a temporary folder with a
/// conformed copy of every part (all columns but the image).
pub fn conformed_copy(dir: &Path) -> Result<Option<TempDir>, StoreError> {
    let parts = list_parts(dir)?.iter().map(|p| PartFile::open(p)).collect::<Result<Vec<_>, _>>()?;
    if !parts.iter().any(PartFile::foreign_encoding) {
        return Ok(None);
    }
    let tmp = tempfile::Builder::new()
        .prefix("cxr-stats-")
        .tempdir()
        .map_err(|source| StoreError::Write { path: std::env::temp_dir(), source })?;
    for (i, part) in parts.iter().enumerate() {
        let keep = part.schema().fields().iter().map(|f| f.name().clone()).filter(|n| n != COL_IMAGE);
        let reader = part.read(&PartRead::columns(keep))?;
        let out = tmp.path().join(format!("part-{i:05}.parquet"));
        let file = File::create(&out).map_err(|source| StoreError::Write { path: out.clone(), source })?;
        let mut w: Option<ArrowWriter<File>> = None;
        let mut file = Some(file);
        for batch in reader {
            let batch = batch?;
            let mut fields = Vec::new();
            let mut cols = Vec::new();
            for f in batch.batch.schema().fields() {
                let c = batch.required(batch.column(f.name())?, f.name())?;
                fields.push(Field::new(f.name(), c.data_type().clone(), true));
                cols.push(c);
            }
            let batch = RecordBatch::try_new(std::sync::Arc::new(Schema::new(fields)), cols).map_err(StoreError::Arrow)?;
            if w.is_none() {
                let f = file.take().ok_or_else(|| StoreError::Write {
                    path: out.clone(),
                    source: std::io::Error::other("writer state"),
                })?;
                w = Some(ArrowWriter::try_new(f, batch.schema(), None).map_err(|source| StoreError::Parquet { path: out.clone(), source })?);
            }
            if let Some(w) = w.as_mut() {
                w.write(&batch).map_err(|source| StoreError::Parquet { path: out.clone(), source })?;
            }
        }
        if let Some(w) = w {
            w.close().map_err(|source| StoreError::Parquet { path: out.clone(), source })?;
        } else {
            // An empty part: nothing to count; leave no empty file behind for polars.
            drop(file);
            let _ = std::fs::remove_file(&out);
        }
    }
    Ok(Some(tmp))
}
