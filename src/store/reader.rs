//! Reading the store back: one dataset partition, filtered by split and view, projected to the
//! columns asked for, streamed row group by row group (memory bounded by one row group, never by
//! the dataset). The split/view filter is a Parquet row filter, so the image bytes of rows that
//! are filtered out are never decoded. Used by `cxr-train` (training data, predict).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{Int8Type, UInt16Type};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::{ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter};
use parquet::arrow::ProjectionMask;

use super::conform;
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
                let (split, view) = (conform::text(&b, COL_SPLIT)?, conform::text(&b, COL_VIEW)?);
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
            let b = b.map_err(StoreError::Arrow)?;
            to_samples(&b, &findings).map_err(|e| StoreError::Read {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
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

/// The batch's rows; every column goes through [`conform`] (another tool's encodings are cast to
/// the store types; a missing column, a value that does not fit or a null id is an error).
fn to_samples(b: &RecordBatch, findings: &[String]) -> Result<Vec<StoredSample>, ArrowError> {
    let text = |name: &str| -> Result<StringArray, ArrowError> {
        let a = conform::required(conform::text(b, name)?, name)?;
        if name != COL_VIEW && a.null_count() > 0 {
            return Err(ArrowError::InvalidArgumentError(format!("column `{name}` has a null value")));
        }
        Ok(a)
    };
    let (ids, pats, splits, views) = (text(COL_IMAGE_ID)?, text(COL_PATIENT_ID)?, text(COL_SPLIT)?, text(COL_VIEW)?);
    let image = conform::bytes(b, COL_IMAGE)?;
    let height = conform::primitive::<UInt16Type>(b, COL_HEIGHT)?;
    let width = conform::primitive::<UInt16Type>(b, COL_WIDTH)?;
    let labels = findings
        .iter()
        .map(|f| conform::required(conform::primitive::<Int8Type>(b, f)?, f))
        .collect::<Result<Vec<_>, ArrowError>>()?;
    Ok((0..b.num_rows())
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
        .collect())
}
