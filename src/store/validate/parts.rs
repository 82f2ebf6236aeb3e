//! Per-dataset part checks of `cxr-prep validate`: each part opens and has the store schema;
//! image ids are unique and every patient is in one split across the dataset's parts; splits and
//! finding values are in their vocabularies, unannotated findings are null; image byte lengths
//! equal `height × width`. Parts are read through the store reader
//! ([`PartFile`](crate::store::reader::PartFile)); metadata columns by projection, the image
//! column one row group at a time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use arrow::array::Array;
use arrow::datatypes::{Int8Type, UInt16Type};

use super::{IssueKind, ValidationReport, schema_differences};
use crate::labels::FINDINGS;
use crate::store::partition_dir;
use crate::store::reader::{PartBatch, PartFile, PartRead};
use crate::store::rejects::error_chain;
use crate::store::schema::{COL_HEIGHT, COL_IMAGE, COL_IMAGE_ID, COL_PATIENT_ID, COL_SPLIT, COL_WIDTH};

/// Cross-file state of one dataset's checks.
pub(super) struct DatasetCheck<'a> {
    store: &'a Path,
    name: String,
    /// Findings the dataset annotates (`None`: unknown, `_meta.json` unusable).
    annotated: Option<HashSet<String>>,
    /// image_id → (file, row) of its first occurrence.
    images: HashMap<String, (usize, u64)>,
    /// patient_id → (split, file, row) of its first occurrence, and whether already reported.
    patients: HashMap<String, (String, usize, u64, bool)>,
    files: Vec<String>,
    /// Rows read from all parts.
    pub(super) rows: u64,
    /// Rows per split.
    pub(super) splits: BTreeMap<String, u64>,
    /// False when a part could not be read or has another schema (counts are then partial).
    pub(super) all_readable: bool,
}

impl<'a> DatasetCheck<'a> {
    pub(super) fn new(store: &'a Path, name: &str, annotated: Option<HashSet<String>>) -> Self {
        DatasetCheck {
            store,
            name: name.to_string(),
            annotated,
            images: HashMap::new(),
            patients: HashMap::new(),
            files: Vec::new(),
            rows: 0,
            splits: BTreeMap::new(),
            all_readable: true,
        }
    }

    /// Checks every file of the partition.
    pub(super) fn run(&mut self, report: &mut ValidationReport) {
        let dir = partition_dir(self.store, &self.name);
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
            Err(e) => {
                self.all_readable = false;
                report.push(
                    IssueKind::UnreadablePart,
                    Some(&self.name),
                    Some(&format!("dataset={}", self.name)),
                    None,
                    e.to_string(),
                );
                return;
            }
        };
        paths.sort();
        for p in paths {
            let rel = p.strip_prefix(self.store).unwrap_or(&p).display().to_string();
            let fname = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if fname.ends_with(".tmp") {
                report.push(
                    IssueKind::LeftoverTmp,
                    Some(&self.name),
                    Some(&rel),
                    None,
                    "leftover temporary file (interrupted write)".into(),
                );
            } else if fname.starts_with("part-") && fname.ends_with(".parquet") && p.is_file() {
                report.part_files += 1;
                self.files.push(rel.clone());
                let file_index = self.files.len() - 1;
                if let Err(msg) = self.check_part(&p, file_index, report) {
                    self.all_readable = false;
                    report.push(IssueKind::UnreadablePart, Some(&self.name), Some(&rel), None, msg);
                }
            } else {
                report.push(IssueKind::UnexpectedFile, Some(&self.name), Some(&rel), None, "not a part file".into());
            }
        }
    }

    /// Checks one part file; `Err` when it cannot be read (message for the report).
    fn check_part(&mut self, path: &Path, fi: usize, report: &mut ValidationReport) -> Result<(), String> {
        let rel = self.files[fi].clone();
        let ds = self.name.clone();
        let part = PartFile::open(path).map_err(|e| error_chain(&e))?;
        let diffs = schema_differences(part.schema());
        if !diffs.is_empty() {
            self.all_readable = false;
            report.push(IssueKind::SchemaMismatch, Some(&ds), Some(&rel), None, diffs.join("; "));
            return Ok(());
        }
        let foreign = super::encoding_differences(part.schema());
        if !foreign.is_empty() {
            report.push(
                IssueKind::ForeignEncoding,
                Some(&ds),
                Some(&rel),
                None,
                format!("read through a cast: {}", foreign.join("; ")),
            );
        }
        let mut meta_cols: Vec<&str> = vec![COL_IMAGE_ID, COL_PATIENT_ID, COL_SPLIT];
        meta_cols.extend(FINDINGS.iter().map(|f| f.name));
        let read = PartRead { batch_size: 4096, ..PartRead::columns(meta_cols) };
        let mut unannotated: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
        let mut offset = 0u64;
        for batch in part.read(&read).map_err(|e| error_chain(&e))? {
            let batch = batch.map_err(|e| format!("read failed after row {offset}: {}", error_chain(&e)))?;
            self.check_metadata_batch(&batch, fi, offset, &mut unannotated, report)?;
            offset += batch.num_rows() as u64;
        }
        self.rows += offset;
        for (f, (first, n)) in unannotated {
            report.push(IssueKind::UnannotatedFinding, Some(&ds), Some(&rel), Some(first), format!(
                "finding `{f}` has {n} non-null value(s) but the dataset does not annotate it (annotated_findings in _meta.json)"
            ));
        }
        // Image lengths, one row group at a time.
        let mut offset = 0u64;
        for g in 0..part.row_groups() {
            let read = PartRead { row_groups: Some(vec![g]), batch_size: 64, ..PartRead::columns([COL_HEIGHT, COL_WIDTH, COL_IMAGE]) };
            for batch in part.read(&read).map_err(|e| error_chain(&e))? {
                let batch = batch.map_err(|e| format!("image read failed in row group {g}: {}", error_chain(&e)))?;
                check_image_batch(&batch, &ds, &rel, offset, report)?;
                offset += batch.num_rows() as u64;
            }
        }
        Ok(())
    }

    /// Split, duplicate, patient and label checks of one batch (`offset`: its first row in the file).
    fn check_metadata_batch(
        &mut self,
        batch: &PartBatch,
        fi: usize,
        offset: u64,
        unannotated: &mut BTreeMap<&'static str, (u64, u64)>,
        report: &mut ValidationReport,
    ) -> Result<(), String> {
        let ds = self.name.clone();
        let rel = self.files[fi].clone();
        let string_col = |name: &str| {
            batch.text(name).map_err(|e| e.to_string())?.ok_or_else(|| format!("column `{name}` unreadable as text"))
        };
        let (ids, pats, splits) = (string_col(COL_IMAGE_ID)?, string_col(COL_PATIENT_ID)?, string_col(COL_SPLIT)?);
        for i in 0..batch.num_rows() {
            let row = offset + i as u64;
            let nulls: Vec<&str> = [(COL_IMAGE_ID, &ids), (COL_PATIENT_ID, &pats), (COL_SPLIT, &splits)]
                .iter()
                .filter(|(_, a)| a.is_null(i))
                .map(|(n, _)| *n)
                .collect();
            if !nulls.is_empty() {
                report.push(IssueKind::NullRequired, Some(&ds), Some(&rel), Some(row), format!("null {}", nulls.join(", ")));
                continue;
            }
            let (id, pat, split) = (ids.value(i), pats.value(i), splits.value(i));
            *self.splits.entry(split.to_string()).or_insert(0) += 1;
            if !["train", "val", "test"].contains(&split) {
                report.push(
                    IssueKind::BadSplit,
                    Some(&ds),
                    Some(&rel),
                    Some(row),
                    format!("split `{split}` is not train, val or test"),
                );
            }
            if let Some((f0, r0)) = self.images.get(id) {
                report.push(
                    IssueKind::DuplicateImageId,
                    Some(&ds),
                    Some(&rel),
                    Some(row),
                    format!("image_id `{id}` also at {} row {r0}", self.files[*f0]),
                );
            } else {
                self.images.insert(id.to_string(), (fi, row));
            }
            match self.patients.get_mut(pat) {
                Some((s0, f0, r0, reported)) if s0 != split && !*reported => {
                    *reported = true;
                    let msg = format!(
                        "patient `{pat}` is in split {split} here and in split {s0} at {} row {r0}",
                        self.files[*f0]
                    );
                    report.push(IssueKind::PatientInTwoSplits, Some(&ds), Some(&rel), Some(row), msg);
                }
                Some(_) => {}
                None => {
                    self.patients.insert(pat.to_string(), (split.to_string(), fi, row, false));
                }
            }
        }
        for f in FINDINGS {
            let col = batch
                .primitive::<Int8Type>(f.name)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("column `{}` unreadable as int8", f.name))?;
            let annotated = self.annotated.as_ref().is_none_or(|a| a.contains(f.name));
            for i in (0..col.len()).filter(|i| col.is_valid(*i)) {
                let v = col.value(i);
                let row = offset + i as u64;
                if !(-1..=1).contains(&v) {
                    report.push(
                        IssueKind::BadLabelValue,
                        Some(&ds),
                        Some(&rel),
                        Some(row),
                        format!("finding `{}` = {v}, allowed 1, 0, -1 or null", f.name),
                    );
                } else if !annotated {
                    unannotated.entry(f.name).or_insert((row, 0)).1 += 1;
                }
            }
        }
        Ok(())
    }
}

/// Checks `height × width == image length` and that the three are null together.
fn check_image_batch(
    batch: &PartBatch,
    ds: &str,
    rel: &str,
    offset: u64,
    report: &mut ValidationReport,
) -> Result<(), String> {
    let dim = |name: &str| {
        batch
            .primitive::<UInt16Type>(name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("column `{name}` unreadable as uint16"))
    };
    let (h, w) = (dim(COL_HEIGHT)?, dim(COL_WIDTH)?);
    let img = batch
        .bytes(COL_IMAGE)
        .map_err(|e| e.to_string())?
        .ok_or("column `image` unreadable as binary")?;
    for i in 0..batch.num_rows() {
        let row = offset + i as u64;
        match (img.is_valid(i), h.is_valid(i), w.is_valid(i)) {
            (true, true, true) => {
                let want = h.value(i) as usize * w.value(i) as usize;
                let got = img.value(i).len();
                if got != want {
                    report.push(
                        IssueKind::ImageLength,
                        Some(ds),
                        Some(rel),
                        Some(row),
                        format!("image has {got} bytes, height {} × width {} = {want}", h.value(i), w.value(i)),
                    );
                }
            }
            (false, false, false) => {}
            (im, hv, wv) => report.push(
                IssueKind::ImageDimensions,
                Some(ds),
                Some(rel),
                Some(row),
                format!(
                    "image {}, height {}, width {}: must be null together",
                    null_word(im),
                    null_word(hv),
                    null_word(wv)
                ),
            ),
        }
    }
    Ok(())
}

fn null_word(valid: bool) -> &'static str {
    if valid { "set" } else { "null" }
}
