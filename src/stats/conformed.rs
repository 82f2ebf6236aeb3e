//! Parts in another tool's Arrow encodings, made readable for polars. The polars build of cxr
//! reads the store types (Utf8/LargeUtf8, Int8, UInt16, …) but not e.g. `int16` label columns
//! or dictionary-encoded text, which a pyarrow rewrite of a part can hold. When a partition has
//! such a part, its non-image columns are cast to the store types with
//! [`conform`](crate::store::conform) (a value that does not fit is an error) and written to a
//! temporary folder that polars scans instead; the folder is removed afterwards.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::datatypes::{Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};

use crate::store::schema::COL_IMAGE;
use crate::store::{conform, StoreError};

/// A temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn parts(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let rd = std::fs::read_dir(dir).map_err(|source| StoreError::Read { path: dir.to_path_buf(), source })?;
    let mut v: Vec<PathBuf> =
        rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "parquet")).collect();
    v.sort();
    Ok(v)
}

fn open(p: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, StoreError> {
    let f = File::open(p).map_err(|source| StoreError::Read { path: p.to_path_buf(), source })?;
    ParquetRecordBatchReaderBuilder::try_new(f).map_err(|source| StoreError::Parquet { path: p.to_path_buf(), source })
}

/// `None` when every part of `dir` holds the store types; otherwise a temporary folder with a
/// conformed copy of every part (all columns but the image).
pub fn conformed_copy(dir: &Path) -> Result<Option<TempDir>, StoreError> {
    let parts = parts(dir)?;
    let mut foreign = false;
    for p in &parts {
        let b = open(p)?;
        foreign |= b.schema().fields().iter().any(|f| conform::store_type(f.name()).is_some_and(|t| t != f.data_type()));
    }
    if !foreign {
        return Ok(None);
    }
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = TempDir(std::env::temp_dir().join(format!("cxr-stats-{}-{seq}", std::process::id())));
    std::fs::create_dir_all(&tmp.0).map_err(|source| StoreError::Write { path: tmp.0.clone(), source })?;
    for (i, p) in parts.iter().enumerate() {
        let b = open(p)?;
        let keep: Vec<usize> =
            b.schema().fields().iter().enumerate().filter(|(_, f)| f.name() != COL_IMAGE).map(|(i, _)| i).collect();
        let mask = ProjectionMask::roots(b.parquet_schema(), keep);
        let reader = b.with_projection(mask).build().map_err(|source| StoreError::Parquet { path: p.clone(), source })?;
        let out = tmp.0.join(format!("part-{i:05}.parquet"));
        let file = File::create(&out).map_err(|source| StoreError::Write { path: out.clone(), source })?;
        let mut w: Option<ArrowWriter<File>> = None;
        let mut file = Some(file);
        for batch in reader {
            let batch = batch.map_err(StoreError::Arrow)?;
            let mut fields = Vec::new();
            let mut cols = Vec::new();
            for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
                let c = match conform::store_type(f.name()) {
                    Some(t) => conform::cast_to(c, f.name(), t).map_err(StoreError::Arrow)?,
                    None => c.clone(),
                };
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
