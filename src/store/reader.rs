//! Reading the store back: one dataset partition, filtered by split and view, projected to the
//! columns asked for, streamed row group by row group (memory bounded by one row group, never by
//! the dataset). The split/view filter is a Parquet row filter, so the image bytes of rows that
//! are filtered out are never decoded. Used by `cxr-train` (training data, predict).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{Int8Type, UInt16Type};
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::arrow::ProjectionMask;

use super::meta::{self, DatasetMeta};
use super::schema::{COL_HEIGHT, COL_IMAGE, COL_IMAGE_ID, COL_PATIENT_ID, COL_SPLIT, COL_VIEW, COL_WIDTH};
use super::{partition_dir, StoreError};

/// Which rows to read.
#[derive(Debug, Clone, Default)]
pub struct RowQuery {
    /// Keep only these splits (`None` = all).
    pub splits: Option<Vec<String>>,
    /// Keep only these views (`None` = all; rows with a null view never match a view list).
    pub views: Option<Vec<String>>,
    /// Read the image bytes (false: metadata and labels only).
    pub images: bool,
    /// Finding columns to read, in this order.
    pub findings: Vec<String>,
}

/// One stored row as `cxr-train` needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSample {
    pub image_id: String,
    pub patient_id: String,
    pub split: String,
    pub view: Option<String>,
    /// Pixels, `height × width` bytes (empty when images were not read or are null).
    pub pixels: Vec<u8>,
    pub height: u16,
    pub width: u16,
    /// One value per requested finding: 1, 0, −1 or `None` (unstated).
    pub labels: Vec<Option<i8>>,
}

/// A store opened for reading.
pub struct StoreReader {
    pub root: PathBuf,
    pub meta: meta::StoreMeta,
}

impl StoreReader {
    /// Opens a store; refuses a missing `_meta.json` or another schema version.
    pub fn open(root: &Path) -> Result<StoreReader, StoreError> {
        let meta = meta::read(root)?.ok_or_else(|| StoreError::Read {
            path: meta::meta_path(root),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a cxr store (no _meta.json)"),
        })?;
        Ok(StoreReader { root: root.to_path_buf(), meta })
    }

    /// The metadata entry of a dataset.
    pub fn dataset(&self, name: &str) -> Option<&DatasetMeta> {
        self.meta.datasets.get(name)
    }

    /// Part files of a dataset, in order.
    pub fn parts(&self, dataset: &str) -> Result<Vec<PathBuf>, StoreError> {
        let dir = partition_dir(&self.root, dataset);
        let rd = std::fs::read_dir(&dir).map_err(|source| StoreError::Read { path: dir.clone(), source })?;
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        v.sort();
        Ok(v)
    }

    /// Streams the matching rows of one part file in batches of at most `batch` rows.
    pub fn read_part(
        &self,
        part: &Path,
        query: &RowQuery,
        batch: usize,
    ) -> Result<impl Iterator<Item = Result<Vec<StoredSample>, StoreError>> + use<>, StoreError> {
        let perr = |source| StoreError::Parquet { path: part.to_path_buf(), source };
        let file = std::fs::File::open(part).map_err(|source| StoreError::Read { path: part.to_path_buf(), source })?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(perr)?;
        let descr = builder.parquet_schema().clone();
        let mut cols: Vec<&str> = vec![COL_IMAGE_ID, COL_PATIENT_ID, COL_SPLIT, COL_VIEW];
        if query.images {
            cols.extend([COL_IMAGE, COL_HEIGHT, COL_WIDTH]);
        }
        cols.extend(query.findings.iter().map(String::as_str));
        let mask = ProjectionMask::columns(&descr, cols.iter().copied());
        let mut builder = builder.with_projection(mask).with_batch_size(batch.max(1));
        if query.splits.is_some() || query.views.is_some() {
            let splits = query.splits.clone();
            let views = query.views.clone();
            let fmask = ProjectionMask::columns(&descr, [COL_SPLIT, COL_VIEW]);
            let pred = ArrowPredicateFn::new(fmask, move |b: RecordBatch| {
                let split = b.column_by_name(COL_SPLIT).map(|c| c.as_string::<i32>().clone());
                let view = b.column_by_name(COL_VIEW).map(|c| c.as_string::<i32>().clone());
                let keep = (0..b.num_rows()).map(|i| {
                    let ok_split = match (&splits, &split) {
                        (Some(want), Some(col)) => want.iter().any(|w| col.is_valid(i) && col.value(i) == w),
                        _ => true,
                    };
                    let ok_view = match (&views, &view) {
                        (Some(want), Some(col)) => want.iter().any(|w| col.is_valid(i) && col.value(i) == w),
                        _ => true,
                    };
                    Some(ok_split && ok_view)
                });
                Ok(BooleanArray::from_iter(keep))
            });
            builder = builder.with_row_filter(RowFilter::new(vec![Box::new(pred)]));
        }
        let reader = builder.build().map_err(perr)?;
        let findings = query.findings.clone();
        let path = part.to_path_buf();
        Ok(reader.map(move |b| {
            let b = b.map_err(|e| StoreError::Arrow(e))?;
            to_samples(&b, &findings).ok_or_else(|| StoreError::Read {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "part file lacks a store column"),
            })
        }))
    }

    /// Every matching row of a dataset, part by part.
    pub fn read_dataset(
        &self,
        dataset: &str,
        query: &RowQuery,
        batch: usize,
    ) -> Result<impl Iterator<Item = Result<Vec<StoredSample>, StoreError>> + use<'_>, StoreError> {
        let parts = self.parts(dataset)?;
        let query = Arc::new(query.clone());
        Ok(parts.into_iter().flat_map(move |p| match self.read_part(&p, &query, batch) {
            Ok(it) => Box::new(it) as Box<dyn Iterator<Item = _>>,
            Err(e) => Box::new(std::iter::once(Err(e))),
        }))
    }
}

fn to_samples(b: &RecordBatch, findings: &[String]) -> Option<Vec<StoredSample>> {
    let s = |name: &str| -> Option<StringArray> { Some(b.column_by_name(name)?.as_string::<i32>().clone()) };
    let (ids, pats, splits, views) = (s(COL_IMAGE_ID)?, s(COL_PATIENT_ID)?, s(COL_SPLIT)?, s(COL_VIEW)?);
    let image = b.column_by_name(COL_IMAGE).map(|c| c.as_binary::<i32>().clone());
    let height = b.column_by_name(COL_HEIGHT).map(|c| c.as_primitive::<UInt16Type>().clone());
    let width = b.column_by_name(COL_WIDTH).map(|c| c.as_primitive::<UInt16Type>().clone());
    let labels: Vec<_> = findings
        .iter()
        .map(|f| b.column_by_name(f).map(|c| c.as_primitive::<Int8Type>().clone()))
        .collect::<Option<Vec<_>>>()?;
    Some(
        (0..b.num_rows())
            .map(|i| StoredSample {
                image_id: ids.value(i).to_string(),
                patient_id: pats.value(i).to_string(),
                split: splits.value(i).to_string(),
                view: views.is_valid(i).then(|| views.value(i).to_string()),
                pixels: image.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i).to_vec()).unwrap_or_default(),
                height: height.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i)).unwrap_or(0),
                width: width.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i)).unwrap_or(0),
                labels: labels.iter().map(|a| a.is_valid(i).then(|| a.value(i))).collect(),
            })
            .collect(),
    )
}
