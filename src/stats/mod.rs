//! `cxr-prep stats`: label statistics of a store, computed with polars over the Parquet parts
//! (only the label, split, view and patient columns are read, never the images).
//!
//! Polars lives in this module alone: `polars::prelude::*` shadows arrow-rs names.

mod conformed;
pub mod render;

use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::store::meta;
use crate::store::StoreError;

/// Stats errors.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    #[error("`{0}` is not a cxr store (no _meta.json)")]
    NotAStore(PathBuf),
    #[error("Dataset `{dataset}` is not in the store (it has: {available})")]
    UnknownDataset { dataset: String, available: String },
    #[error("Polars failed on `{path}`")]
    Polars { path: PathBuf, #[source] source: PolarsError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Counts of one finding in one dataset (and split, when filtered).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingCounts {
    pub dataset: String,
    pub finding: String,
    pub positive: u64,
    pub negative: u64,
    pub uncertain: u64,
    /// Rows where the source says nothing (null).
    pub unstated: u64,
    /// positive / (positive + negative + uncertain); `None` when nothing is stated.
    pub prevalence: Option<f64>,
}

/// Images and patients of one dataset / split / view group.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupCounts {
    pub dataset: String,
    pub split: String,
    pub view: String,
    pub images: u64,
    pub patients: u64,
}

/// Everything `stats` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub findings: Vec<FindingCounts>,
    pub groups: Vec<GroupCounts>,
}

fn scan(path: &Path, dir: &Path) -> Result<LazyFrame, StatsError> {
    let pattern = dir.join("*.parquet");
    let args = ScanArgsParquet { hive_options: HiveOptions { enabled: Some(false), ..Default::default() }, ..Default::default() };
    LazyFrame::scan_parquet(PlRefPath::new(pattern.to_string_lossy().as_ref()), args)
        .map_err(|source| StatsError::Polars { path: path.to_path_buf(), source })
}

fn u64_at(df: &DataFrame, name: &str, i: usize) -> u64 {
    df.column(name)
        .ok()
        .and_then(|c| c.get(i).ok())
        .and_then(|v| v.extract::<u64>())
        .unwrap_or(0)
}

fn str_at(df: &DataFrame, name: &str, i: usize) -> String {
    match df.column(name).ok().and_then(|c| c.get(i).ok()) {
        Some(AnyValue::String(s)) => s.to_string(),
        Some(AnyValue::StringOwned(s)) => s.to_string(),
        _ => "null".to_string(),
    }
}

/// Computes statistics for the store, optionally one dataset and one split.
pub fn compute(store: &Path, dataset: Option<&str>, split: Option<&str>) -> Result<Stats, StatsError> {
    let meta = meta::read(store)?.ok_or_else(|| StatsError::NotAStore(store.to_path_buf()))?;
    if let Some(d) = dataset.filter(|d| !meta.datasets.contains_key(*d)) {
        return Err(StatsError::UnknownDataset {
            dataset: d.to_string(),
            available: meta.datasets.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    let mut findings = Vec::new();
    let mut groups = Vec::new();
    for (name, dm) in &meta.datasets {
        if dataset.is_some_and(|d| d != name) {
            continue;
        }
        let dir = crate::store::partition_dir(store, name);
        let has_parts = crate::store::reader::list_parts(&dir).is_ok_and(|p| !p.is_empty());
        if !has_parts {
            continue;
        }
        let perr = |source| StatsError::Polars { path: dir.clone(), source };
        // Parts another tool rewrote in encodings this polars build cannot read are scanned
        // through a conformed copy (store types, no image column).
        let copy = conformed::conformed_copy(&dir)?;
        let mut lf = scan(store, copy.as_ref().map_or(dir.as_path(), |t| t.path()))?;
        if let Some(s) = split {
            lf = lf.filter(col("split").eq(lit(s)));
        }
        // One pass over the label columns: 4 counts per annotated finding.
        let mut exprs = Vec::new();
        for f in &dm.annotated_findings {
            let c = col(f.as_str());
            exprs.push(c.clone().eq(lit(1i8)).cast(DataType::UInt64).sum().alias(format!("{f}__pos")));
            exprs.push(c.clone().eq(lit(0i8)).cast(DataType::UInt64).sum().alias(format!("{f}__neg")));
            exprs.push(c.clone().eq(lit(-1i8)).cast(DataType::UInt64).sum().alias(format!("{f}__unc")));
            exprs.push(c.is_null().cast(DataType::UInt64).sum().alias(format!("{f}__null")));
        }
        if !exprs.is_empty() {
            let df = lf.clone().select(exprs).collect().map_err(perr)?;
            for f in &dm.annotated_findings {
                let pos = u64_at(&df, &format!("{f}__pos"), 0);
                let neg = u64_at(&df, &format!("{f}__neg"), 0);
                let unc = u64_at(&df, &format!("{f}__unc"), 0);
                let stated = pos + neg + unc;
                findings.push(FindingCounts {
                    dataset: name.clone(),
                    finding: f.clone(),
                    positive: pos,
                    negative: neg,
                    uncertain: unc,
                    unstated: u64_at(&df, &format!("{f}__null"), 0),
                    prevalence: (stated > 0).then(|| pos as f64 / stated as f64),
                });
            }
        }
        let g = lf
            .group_by([col("split"), col("view")])
            .agg([len().cast(DataType::UInt64).alias("images"), col("patient_id").n_unique().cast(DataType::UInt64).alias("patients")])
            .sort(["split", "view"], SortMultipleOptions::default().with_nulls_last(true))
            .collect()
            .map_err(perr)?;
        for i in 0..g.height() {
            groups.push(GroupCounts {
                dataset: name.clone(),
                split: str_at(&g, "split", i),
                view: str_at(&g, "view", i),
                images: u64_at(&g, "images", i),
                patients: u64_at(&g, "patients", i),
            });
        }
    }
    Ok(Stats { findings, groups })
}
