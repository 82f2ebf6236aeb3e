//! `cxr-prep validate`: checks a store against its contract without changing it.
//!
//! Violations: `_meta.json` missing, unparsable or of another schema version; part files that do
//! not open or whose Arrow schema differs from [`schema`](super::schema::schema) (names, types,
//! nullability); a patient in two splits or an image id twice within one dataset; split values
//! other than train/val/test; finding values outside {1, 0, −1, null}; non-null values in a
//! finding the dataset does not annotate; an image whose byte length is not `height × width`
//! (or height/width not null exactly when the image is); row counts in `_meta.json` that differ
//! from the parts; a null image id, patient id or split. Warnings: leftover `*.tmp` files, a
//! `_staging/` folder (interrupted ingest), unexpected files, a part in another Arrow encoding of
//! the store types (rewritten by polars or pyarrow: checked through a cast, see `store::conform`).
//!
//! Only the needed columns are read (Parquet projection); the image column is read row group by
//! row group, so memory stays bounded by one row group (~256 images).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use arrow::datatypes::Schema;

use super::conform;
use super::StoreError;
use super::meta::{StoreMeta, meta_path};
use super::schema::{META_SCHEMA_VERSION, SCHEMA_VERSION, schema};

mod parts;
mod report;

use parts::DatasetCheck;
pub use report::{Issue, IssueKind, MAX_LISTED_PER_KIND, ValidationReport};

/// Validates the store at `store`. Errors only when the store folder itself cannot be read;
/// everything wrong inside it is reported.
pub fn validate(store: &Path) -> Result<ValidationReport, StoreError> {
    let read_err = |source| StoreError::Read { path: store.to_path_buf(), source };
    let mut report = ValidationReport::new(store.to_path_buf());
    let meta = read_meta(store, &mut report);
    let mut partitions = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(store)
        .map_err(read_err)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    entries.sort();
    for path in &entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if let Some(ds) = name.strip_prefix("dataset=").filter(|_| path.is_dir()) {
            partitions.push(ds.to_string());
        } else if name == "_staging" {
            let inside: Vec<String> = std::fs::read_dir(path)
                .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
                .unwrap_or_default();
            report.push(
                IssueKind::StagingFolder,
                None,
                Some("_staging"),
                None,
                format!(
                    "an ingest was interrupted (staged: {}); re-run the same ingest command to finish it",
                    inside.join(", ")
                ),
            );
        } else if name.ends_with(".tmp") {
            report.push(IssueKind::LeftoverTmp, None, Some(&name), None, "leftover temporary file".into());
        } else if name != "_meta.json" && name != "_rejects" {
            report.push(IssueKind::UnexpectedFile, None, Some(&name), None, "not part of the store layout".into());
        }
    }
    leftover_tmp_in(store, &store.join("_rejects"), &mut report);
    report.datasets = partitions.clone();
    for ds in &partitions {
        let entry = meta.as_ref().and_then(|m| m.datasets.get(ds));
        if meta.is_some() && entry.is_none() {
            report.push(
                IssueKind::PartitionNotInMeta,
                Some(ds),
                Some(&format!("dataset={ds}")),
                None,
                "partition has no entry in _meta.json".into(),
            );
        }
        let annotated = entry.map(|e| e.annotated_findings.iter().cloned().collect::<HashSet<_>>());
        let mut check = DatasetCheck::new(store, ds, annotated);
        check.run(&mut report);
        report.rows += check.rows;
        if let Some(e) = entry.filter(|_| check.all_readable) {
            if e.rows != check.rows {
                report.push(
                    IssueKind::RowCount,
                    Some(ds),
                    Some("_meta.json"),
                    None,
                    format!("rows {} in _meta.json, {} in the parts", e.rows, check.rows),
                );
            }
            if e.splits != check.splits {
                report.push(
                    IssueKind::RowCount,
                    Some(ds),
                    Some("_meta.json"),
                    None,
                    format!("splits {:?} in _meta.json, {:?} in the parts", e.splits, check.splits),
                );
            }
        }
    }
    if let Some(m) = &meta {
        for ds in m.datasets.keys().filter(|d| !partitions.contains(d)) {
            report.push(
                IssueKind::MetaWithoutPartition,
                Some(ds),
                Some("_meta.json"),
                None,
                format!("_meta.json lists dataset `{ds}` but dataset={ds}/ is missing"),
            );
        }
    }
    Ok(report)
}

/// Reads `_meta.json`, reporting what is wrong with it; `None` when it is unusable.
fn read_meta(store: &Path, report: &mut ValidationReport) -> Option<StoreMeta> {
    let file = Some("_meta.json");
    let text = match std::fs::read_to_string(meta_path(store)) {
        Ok(t) => t,
        Err(e) => {
            report.push(IssueKind::MetaMissing, None, file, None, format!("cannot read _meta.json: {e}"));
            return None;
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            report.push(IssueKind::MetaInvalid, None, file, None, format!("not valid JSON: {e}"));
            return None;
        }
    };
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    if version != Some(SCHEMA_VERSION as u64) {
        report.push(
            IssueKind::SchemaVersion,
            None,
            file,
            None,
            format!(
                "schema_version {}, this cxr reads version {SCHEMA_VERSION}",
                version.map_or("missing".to_string(), |v| v.to_string())
            ),
        );
    }
    match serde_json::from_value::<StoreMeta>(value) {
        Ok(m) => Some(m),
        Err(e) => {
            report.push(IssueKind::MetaInvalid, None, file, None, format!("does not match the _meta.json layout: {e}"));
            None
        }
    }
}

/// Reports `*.tmp` files anywhere below `dir`.
fn leftover_tmp_in(store: &Path, dir: &Path, report: &mut ValidationReport) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            leftover_tmp_in(store, &p, report);
        } else if p.extension().is_some_and(|e| e == "tmp") {
            let rel = p.strip_prefix(store).unwrap_or(&p).display().to_string();
            report.push(
                IssueKind::LeftoverTmp,
                None,
                Some(&rel),
                None,
                "leftover temporary file (interrupted write)".into(),
            );
        }
    }
}

/// Field-by-field differences (name, type, nullability) from the store schema; metadata aside
/// from `cxr:schema_version` is ignored. Another Arrow encoding of the same values (see
/// [`conform::equivalent`]: `large_string`, `int32` labels, … as polars or pyarrow rewrite a
/// part) and a required column declared nullable are not differences: they are listed by
/// [`encoding_differences`] and the values themselves are checked.
pub fn schema_differences(found: &Schema) -> Vec<String> {
    let want = schema();
    let mut diffs = Vec::new();
    if found.fields().len() != want.fields().len() {
        diffs.push(format!("{} columns, expected {}", found.fields().len(), want.fields().len()));
    }
    for (i, w) in want.fields().iter().enumerate() {
        match found.fields().get(i) {
            None => diffs.push(format!("column {i} `{}` missing", w.name())),
            Some(g) if g.name() != w.name() || !conform::equivalent(g.data_type(), w.data_type()) => {
                diffs.push(format!(
                    "column {i}: `{}` {} nullable={}, expected `{}` {} nullable={}",
                    g.name(),
                    g.data_type(),
                    g.is_nullable(),
                    w.name(),
                    w.data_type(),
                    w.is_nullable()
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(v) = found.metadata().get(META_SCHEMA_VERSION).filter(|v| **v != SCHEMA_VERSION.to_string()) {
        diffs.push(format!("{META_SCHEMA_VERSION} = {v}, expected {SCHEMA_VERSION}"));
    }
    diffs
}

/// Columns stored in another encoding of their store type, or declared nullable where the
/// store requires a value (what a rewrite by polars or pyarrow does): readable, reported as a
/// warning.
pub fn encoding_differences(found: &Schema) -> Vec<String> {
    let want = schema();
    want.fields()
        .iter()
        .zip(found.fields().iter())
        .filter(|(w, g)| w.name() == g.name() && (w.data_type() != g.data_type() || (g.is_nullable() && !w.is_nullable())))
        .map(|(w, g)| {
            format!("`{}` is {} nullable={} (store: {} nullable={})", w.name(), g.data_type(), g.is_nullable(), w.data_type(), w.is_nullable())
        })
        .collect()
}
