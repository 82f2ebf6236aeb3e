//! The predictions file: the contract between `predict` (any model — ours or a PyTorch one) and
//! `evaluate` / `compare`.
//!
//! One Parquet file, one row per image: `image_id` (Utf8), `patient_id` (Utf8), `split` (Utf8),
//! optional `dataset` (Utf8), optional `sex` (Utf8: `M`, `F`, `O`), `age` (Float32, years at the
//! study) and `view` (Utf8: `PA`, `AP`, `AP_SUPINE`, …; the store's values), each nullable, then
//! for every finding `F` in model output order: `y_F` (Int8, the stored label: 1, 0, −1 or null)
//! and `p_F` (Float32, predicted probability in [0, 1]).
//!
//! `predict` (and so the benchmark and the demo) writes `sex`, `age` and `view` from the store;
//! files without them (older files, other tools) read as all-null, and
//! [`crate::evaluate::attributes::join_store`] fills them from a store afterwards.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float32Builder, Int8Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Float32Type, Int8Type, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

/// Errors reading or writing a predictions file.
#[derive(Debug, thiserror::Error)]
pub enum PredictionsError {
    #[error("Failed to access predictions file `{path}`")]
    Io { path: PathBuf, #[source] source: std::io::Error },
    #[error("Predictions file `{path}` is not valid Parquet")]
    Parquet { path: PathBuf, #[source] source: parquet::errors::ParquetError },
    #[error("Arrow error in predictions file `{path}`")]
    Arrow { path: PathBuf, #[source] source: arrow::error::ArrowError },
    #[error("Predictions file `{path}`: {problem}")]
    Format { path: PathBuf, problem: String },
}

/// Predictions of one model on a set of images, column-oriented.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Predictions {
    /// Findings in model output order.
    pub findings: Vec<String>,
    pub image_id: Vec<String>,
    pub patient_id: Vec<String>,
    pub split: Vec<String>,
    /// Dataset of each row, when known.
    pub dataset: Vec<Option<String>>,
    /// Patient sex of each row (`M`, `F`, `O`), when known. May be shorter than the rows (the
    /// missing tail is unknown); read it through [`Predictions::sex_of`].
    pub sex: Vec<Option<String>>,
    /// Age at the study in years, when known (shorter: unknown tail, see [`Predictions::age_of`]).
    pub age: Vec<Option<f32>>,
    /// View position as the store normalises it, when known ([`Predictions::view_of`]).
    pub view: Vec<Option<String>>,
    /// `y[f][i]`: stored label of finding `f` for image `i`.
    pub y: Vec<Vec<Option<i8>>>,
    /// `p[f][i]`: predicted probability of finding `f` for image `i`.
    pub p: Vec<Vec<f32>>,
}

impl Predictions {
    /// Empty predictions for these findings.
    pub fn new(findings: Vec<String>) -> Self {
        let n = findings.len();
        Predictions { findings, y: vec![Vec::new(); n], p: vec![Vec::new(); n], ..Default::default() }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.image_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.image_id.is_empty()
    }

    /// Dataset of image `i`, when known.
    pub fn dataset_of(&self, i: usize) -> Option<&str> {
        self.dataset.get(i).and_then(Option::as_deref)
    }

    /// Sex of image `i`, when known.
    pub fn sex_of(&self, i: usize) -> Option<&str> {
        self.sex.get(i).and_then(Option::as_deref)
    }

    /// Age of image `i` in years, when known.
    pub fn age_of(&self, i: usize) -> Option<f32> {
        self.age.get(i).copied().flatten()
    }

    /// View of image `i`, when known.
    pub fn view_of(&self, i: usize) -> Option<&str> {
        self.view.get(i).and_then(Option::as_deref)
    }

    /// Whether any image has a known sex, age or view.
    pub fn has_attributes(&self) -> bool {
        (0..self.len()).any(|i| self.sex_of(i).is_some() || self.age_of(i).is_some() || self.view_of(i).is_some())
    }

    /// The rows `rows`, in that order (every column, the attributes padded to full length).
    pub fn take(&self, rows: &[usize]) -> Predictions {
        let pick = |v: &Vec<String>| rows.iter().map(|&i| v[i].clone()).collect();
        let text = |get: fn(&Predictions, usize) -> Option<&str>| rows.iter().map(|&i| get(self, i).map(str::to_string)).collect();
        Predictions {
            findings: self.findings.clone(),
            image_id: pick(&self.image_id),
            patient_id: pick(&self.patient_id),
            split: pick(&self.split),
            dataset: text(Predictions::dataset_of),
            sex: text(Predictions::sex_of),
            age: rows.iter().map(|&i| self.age_of(i)).collect(),
            view: text(Predictions::view_of),
            y: self.y.iter().map(|col| rows.iter().map(|&i| col[i]).collect()).collect(),
            p: self.p.iter().map(|col| rows.iter().map(|&i| col[i]).collect()).collect(),
        }
    }

    fn schema(&self) -> Schema {
        let mut fields = vec![
            Field::new("image_id", DataType::Utf8, false),
            Field::new("patient_id", DataType::Utf8, false),
            Field::new("split", DataType::Utf8, false),
            Field::new("dataset", DataType::Utf8, true),
            Field::new("sex", DataType::Utf8, true),
            Field::new("age", DataType::Float32, true),
            Field::new("view", DataType::Utf8, true),
        ];
        for f in &self.findings {
            fields.push(Field::new(format!("y_{f}"), DataType::Int8, true));
            fields.push(Field::new(format!("p_{f}"), DataType::Float32, false));
        }
        Schema::new(fields)
    }

    /// Writes the file (temp + rename).
    pub fn write(&self, path: &Path) -> Result<(), PredictionsError> {
        let io = |source| PredictionsError::Io { path: path.to_path_buf(), source };
        let mut ids = StringBuilder::new();
        let mut pats = StringBuilder::new();
        let mut splits = StringBuilder::new();
        let (mut ds, mut sex, mut view) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let mut age = Float32Builder::new();
        for i in 0..self.len() {
            ids.append_value(&self.image_id[i]);
            pats.append_value(&self.patient_id[i]);
            splits.append_value(&self.split[i]);
            ds.append_option(self.dataset_of(i));
            sex.append_option(self.sex_of(i));
            age.append_option(self.age_of(i));
            view.append_option(self.view_of(i));
        }
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(ids.finish()),
            Arc::new(pats.finish()),
            Arc::new(splits.finish()),
            Arc::new(ds.finish()),
            Arc::new(sex.finish()),
            Arc::new(age.finish()),
            Arc::new(view.finish()),
        ];
        for f in 0..self.findings.len() {
            let mut y = Int8Builder::new();
            let mut p = Float32Builder::new();
            for i in 0..self.len() {
                y.append_option(self.y[f][i]);
                p.append_value(self.p[f][i]);
            }
            cols.push(Arc::new(y.finish()));
            cols.push(Arc::new(p.finish()));
        }
        let batch = RecordBatch::try_new(Arc::new(self.schema()), cols)
            .map_err(|source| PredictionsError::Arrow { path: path.to_path_buf(), source })?;
        let perr = |source| PredictionsError::Parquet { path: path.to_path_buf(), source };
        crate::fsutil::write_atomic_with(
            path,
            |file| {
                let mut w = ArrowWriter::try_new(file, batch.schema(), None).map_err(perr)?;
                w.write(&batch).map_err(perr)?;
                w.close().map(drop).map_err(perr)
            },
            io,
        )
    }

    /// Reads a predictions file written by any tool that follows the column contract (the
    /// optional columns may be absent: all-null then).
    pub fn read(path: &Path) -> Result<Predictions, PredictionsError> {
        let io = |source| PredictionsError::Io { path: path.to_path_buf(), source };
        let perr = |source| PredictionsError::Parquet { path: path.to_path_buf(), source };
        let fmt = |problem: String| PredictionsError::Format { path: path.to_path_buf(), problem };
        let file = std::fs::File::open(path).map_err(io)?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(perr)?.build().map_err(perr)?;
        let schema = arrow::record_batch::RecordBatchReader::schema(&reader);
        let findings: Vec<String> = schema
            .fields()
            .iter()
            .filter_map(|f| f.name().strip_prefix("p_").map(str::to_string))
            .collect();
        if findings.is_empty() {
            return Err(fmt("no `p_<finding>` columns".into()));
        }
        for f in &findings {
            if schema.field_with_name(&format!("y_{f}")).is_err() {
                return Err(fmt(format!("`p_{f}` has no matching `y_{f}` column")));
            }
        }
        let mut out = Predictions::new(findings.clone());
        for b in reader {
            let b = b.map_err(|source| PredictionsError::Arrow { path: path.to_path_buf(), source })?;
            let strings = |name: &str| -> Result<Vec<Option<String>>, PredictionsError> {
                let c = b.column_by_name(name).ok_or_else(|| fmt(format!("missing column `{name}`")))?;
                let c = arrow::compute::cast(c, &DataType::Utf8)
                    .map_err(|source| PredictionsError::Arrow { path: path.to_path_buf(), source })?;
                let a = c.as_string::<i32>();
                Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())).collect())
            };
            let req = |v: Vec<Option<String>>, name: &str| -> Result<Vec<String>, PredictionsError> {
                v.into_iter().map(|x| x.ok_or_else(|| fmt(format!("null in `{name}`")))).collect()
            };
            out.image_id.extend(req(strings("image_id")?, "image_id")?);
            out.patient_id.extend(req(strings("patient_id")?, "patient_id")?);
            out.split.extend(req(strings("split")?, "split")?);
            let optional = |name: &str| -> Result<Vec<Option<String>>, PredictionsError> {
                match b.column_by_name(name) {
                    Some(_) => strings(name),
                    None => Ok(vec![None; b.num_rows()]),
                }
            };
            out.dataset.extend(optional("dataset")?);
            out.sex.extend(optional("sex")?);
            out.view.extend(optional("view")?);
            match b.column_by_name("age") {
                None => out.age.extend(std::iter::repeat_n(None, b.num_rows())),
                Some(c) => {
                    let c = arrow::compute::cast(c, &DataType::Float32)
                        .map_err(|source| PredictionsError::Arrow { path: path.to_path_buf(), source })?;
                    let a = c.as_primitive::<Float32Type>();
                    out.age.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))));
                }
            }
            for (k, f) in findings.iter().enumerate() {
                let cast = |name: String, t: &DataType| -> Result<ArrayRef, PredictionsError> {
                    let c = b.column_by_name(&name).ok_or_else(|| fmt(format!("missing `{name}`")))?;
                    arrow::compute::cast(c, t).map_err(|source| PredictionsError::Arrow { path: path.to_path_buf(), source })
                };
                let y = cast(format!("y_{f}"), &DataType::Int8)?;
                let y = y.as_primitive::<Int8Type>();
                let p = cast(format!("p_{f}"), &DataType::Float32)?;
                let p = p.as_primitive::<Float32Type>();
                for i in 0..b.num_rows() {
                    out.y[k].push(y.is_valid(i).then(|| y.value(i)));
                    if !p.is_valid(i) || !p.value(i).is_finite() {
                        return Err(fmt(format!("`p_{f}` is null or not finite for image {}", out.image_id[out.p[k].len()])));
                    }
                    out.p[k].push(p.value(i));
                }
            }
        }
        Ok(out)
    }
}
