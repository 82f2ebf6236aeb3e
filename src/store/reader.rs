//! Reading the store back, in one place: every reader of part files (training, prediction,
//! stats, validate) opens them as a [`PartFile`] (footer parsed once), reads them with
//! [`PartFile::read`] (projection by column name, row groups, an optional split/view row
//! filter) and takes columns from the [`PartBatch`]es it yields, which conform another tool's
//! Arrow encodings to the store types ([`conform`]). A column of an unexpected type, a value
//! that does not fit or a missing column is a [`StoreError::Column`] naming the file and the
//! column, never a panic.
//!
//! On top of that, [`StoreReader`] reads one dataset partition, filtered by split and view,
//! projected to the columns asked for, streamed row group by row group (memory bounded by one
//! row group, never by the dataset). The split/view filter is a Parquet row filter, so the image
//! bytes of rows that are filtered out are never decoded. Used by `cxr-train` (predict).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrowPrimitiveType, BinaryArray, BooleanArray, PrimitiveArray, RecordBatch, StringArray};
use arrow::datatypes::{Int8Type, SchemaRef, UInt16Type};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ArrowReaderMetadata, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::arrow::ProjectionMask;

use super::conform;
use super::meta::{self, DatasetMeta};
use super::schema::{COL_HEIGHT, COL_IMAGE, COL_IMAGE_ID, COL_PATIENT_ID, COL_SPLIT, COL_VIEW, COL_WIDTH};
use super::{partition_dir, StoreError};

/// The `*.parquet` files of a partition folder, sorted by name.
pub fn list_parts(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let rd = std::fs::read_dir(dir).map_err(|source| StoreError::Read { path: dir.to_path_buf(), source })?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    v.sort();
    Ok(v)
}

/// Keeps a row by its `split` and `view` values (`None`: null).
pub type RowKeep = Arc<dyn Fn(Option<&str>, Option<&str>) -> bool + Send + Sync>;

/// What [`PartFile::read`] reads.
#[derive(Clone, Default)]
pub struct PartRead {
    /// Columns to read, by name (a name the file lacks is skipped; asking a [`PartBatch`] for
    /// it is then an error naming it).
    pub columns: Vec<String>,
    /// Row groups to read (`None`: all).
    pub row_groups: Option<Vec<usize>>,
    /// Rows per batch (0 = 1024).
    pub batch_size: usize,
    /// A Parquet row filter on `split` and `view`: the other columns of rows it drops are never
    /// decoded.
    pub keep: Option<RowKeep>,
}

impl PartRead {
    /// Reads `columns` of every row group.
    pub fn columns<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> PartRead {
        PartRead { columns: columns.into_iter().map(Into::into).collect(), ..Default::default() }
    }
}

/// A part file with its footer parsed once (reads of single row groups reuse it).
#[derive(Debug, Clone)]
pub struct PartFile {
    pub path: PathBuf,
    pub meta: ArrowReaderMetadata,
}

impl PartFile {
    /// Opens a part and parses its footer; an error names the file.
    pub fn open(path: &Path) -> Result<PartFile, StoreError> {
        let file = File::open(path).map_err(|source| StoreError::Read { path: path.to_path_buf(), source })?;
        let meta = ArrowReaderMetadata::load(&file, Default::default())
            .map_err(|source| StoreError::Parquet { path: path.to_path_buf(), source })?;
        Ok(PartFile { path: path.to_path_buf(), meta })
    }

    /// Row groups in the file.
    pub fn row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    /// Rows in the file (from the footer).
    pub fn rows(&self) -> u64 {
        self.meta.metadata().file_metadata().num_rows().max(0) as u64
    }

    /// The file's Arrow schema.
    pub fn schema(&self) -> &SchemaRef {
        self.meta.schema()
    }

    /// True when a store column is held in another Arrow encoding of its type (a part that
    /// polars or pyarrow rewrote; readable through [`conform`]).
    pub fn foreign_encoding(&self) -> bool {
        self.schema().fields().iter().any(|f| conform::store_type(f.name()).is_some_and(|t| t != f.data_type()))
    }

    /// Streams the batches `what` asks for. A requested column whose type is no encoding of
    /// its store type is an error before anything is read (even when no row would be kept).
    pub fn read(&self, what: &PartRead) -> Result<PartBatches, StoreError> {
        for name in &what.columns {
            let (Ok(found), Some(want)) = (self.schema().field_with_name(name), conform::store_type(name)) else { continue };
            if !conform::equivalent(found.data_type(), want) {
                return Err(StoreError::Column {
                    path: self.path.clone(),
                    column: name.clone(),
                    reason: format!("the part holds {}, the store declares {want}", found.data_type()),
                });
            }
        }
        let perr = |source| StoreError::Parquet { path: self.path.clone(), source };
        let file = File::open(&self.path).map_err(|source| StoreError::Read { path: self.path.clone(), source })?;
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.meta.clone());
        let descr = builder.parquet_schema().clone();
        builder = builder
            .with_projection(ProjectionMask::columns(&descr, what.columns.iter().map(String::as_str)))
            .with_batch_size(if what.batch_size == 0 { 1024 } else { what.batch_size });
        if let Some(rg) = &what.row_groups {
            builder = builder.with_row_groups(rg.clone());
        }
        if let Some(keep) = what.keep.clone() {
            let fmask = ProjectionMask::columns(&descr, [COL_SPLIT, COL_VIEW]);
            let pred = ArrowPredicateFn::new(fmask, move |b: RecordBatch| {
                // Other tools' encodings (large_string, string_view, dictionary) are cast to Utf8;
                // a part without the columns is an error, never a silently empty read.
                let split = conform::required(conform::text(&b, COL_SPLIT)?, COL_SPLIT)?;
                let view = conform::required(conform::text(&b, COL_VIEW)?, COL_VIEW)?;
                fn at(c: &StringArray, i: usize) -> Option<&str> {
                    c.is_valid(i).then(|| c.value(i))
                }
                Ok(BooleanArray::from_iter((0..b.num_rows()).map(|i| Some(keep(at(&split, i), at(&view, i))))))
            });
            builder = builder.with_row_filter(RowFilter::new(vec![Box::new(pred)]));
        }
        let reader = builder.build().map_err(perr)?;
        Ok(PartBatches { path: Arc::from(self.path.as_path()), reader })
    }
}

/// The batches of one [`PartFile::read`].
pub struct PartBatches {
    path: Arc<Path>,
    reader: ParquetRecordBatchReader,
}

impl Iterator for PartBatches {
    type Item = Result<PartBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.reader.next()?;
        Some(
            b.map(|batch| PartBatch { path: self.path.clone(), batch })
                .map_err(|source| StoreError::ReadPart { path: self.path.to_path_buf(), source }),
        )
    }
}

/// One batch of a part, with typed column access: each column is cast to its store type
/// ([`conform`]); errors name the file and the column.
#[derive(Debug, Clone)]
pub struct PartBatch {
    path: Arc<Path>,
    pub batch: RecordBatch,
}

impl PartBatch {
    /// Rows in the batch.
    pub fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// The part file the batch comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn column_err(&self, column: &str) -> impl Fn(ArrowError) -> StoreError + '_ {
        let column = column.to_string();
        move |e| StoreError::Column { path: self.path.to_path_buf(), column: column.clone(), reason: e.to_string() }
    }

    /// Fails when a column was not found.
    pub fn required<A>(&self, col: Option<A>, name: &str) -> Result<A, StoreError> {
        col.ok_or_else(|| StoreError::Column {
            path: self.path.to_path_buf(),
            column: name.to_string(),
            reason: "the part lacks this store column".into(),
        })
    }

    /// Column `name` in its store type, any column as read (`None`: the batch lacks it).
    pub fn column(&self, name: &str) -> Result<Option<arrow::array::ArrayRef>, StoreError> {
        conform::column(&self.batch, name).map_err(self.column_err(name))
    }

    /// Column `name` as Utf8 text (`None`: the batch lacks it).
    pub fn text(&self, name: &str) -> Result<Option<StringArray>, StoreError> {
        conform::text(&self.batch, name).map_err(self.column_err(name))
    }

    /// Column `name` as Binary (`None`: the batch lacks it).
    pub fn bytes(&self, name: &str) -> Result<Option<BinaryArray>, StoreError> {
        conform::bytes(&self.batch, name).map_err(self.column_err(name))
    }

    /// Column `name` as the primitive type `T` (`None`: the batch lacks it).
    pub fn primitive<T: ArrowPrimitiveType>(&self, name: &str) -> Result<Option<PrimitiveArray<T>>, StoreError> {
        conform::primitive::<T>(&self.batch, name).map_err(self.column_err(name))
    }

    /// Text column `name`, which must be present and (`nulls == false`) hold no null.
    pub fn text_required(&self, name: &str, nulls: bool) -> Result<StringArray, StoreError> {
        let a = self.required(self.text(name)?, name)?;
        if !nulls && a.null_count() > 0 {
            return Err(StoreError::Column {
                path: self.path.to_path_buf(),
                column: name.to_string(),
                reason: "null value in a required column".into(),
            });
        }
        Ok(a)
    }
}

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
        list_parts(&partition_dir(&self.root, dataset))
    }

    /// Streams the matching rows of one part file in batches of at most `batch` rows.
    pub fn read_part(
        &self,
        part: &Path,
        query: &RowQuery,
        batch: usize,
    ) -> Result<impl Iterator<Item = Result<Vec<StoredSample>, StoreError>> + use<>, StoreError> {
        let mut columns: Vec<String> = [COL_IMAGE_ID, COL_PATIENT_ID, COL_SPLIT, COL_VIEW].map(String::from).to_vec();
        if query.images {
            columns.extend([COL_IMAGE, COL_HEIGHT, COL_WIDTH].map(String::from));
        }
        columns.extend(query.findings.iter().cloned());
        let keep: Option<RowKeep> = (query.splits.is_some() || query.views.is_some()).then(|| {
            let (splits, views) = (query.splits.clone(), query.views.clone());
            let matches = |want: &Option<Vec<String>>, v: Option<&str>| match want {
                Some(want) => v.is_some_and(|v| want.iter().any(|w| w == v)),
                None => true,
            };
            Arc::new(move |s: Option<&str>, v: Option<&str>| matches(&splits, s) && matches(&views, v)) as RowKeep
        });
        let read = PartRead { columns, row_groups: None, batch_size: batch.max(1), keep };
        let findings = query.findings.clone();
        Ok(PartFile::open(part)?.read(&read)?.map(move |b| to_samples(&b?, &findings)))
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

/// The batch's rows (a missing column, a value that does not fit or a null id is an error).
fn to_samples(b: &PartBatch, findings: &[String]) -> Result<Vec<StoredSample>, StoreError> {
    let ids = b.text_required(COL_IMAGE_ID, false)?;
    let pats = b.text_required(COL_PATIENT_ID, false)?;
    let splits = b.text_required(COL_SPLIT, false)?;
    let views = b.text_required(COL_VIEW, true)?;
    let image = b.bytes(COL_IMAGE)?;
    let height = b.primitive::<UInt16Type>(COL_HEIGHT)?;
    let width = b.primitive::<UInt16Type>(COL_WIDTH)?;
    let labels = findings
        .iter()
        .map(|f| b.required(b.primitive::<Int8Type>(f)?, f))
        .collect::<Result<Vec<_>, StoreError>>()?;
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
