//! `benchmark --sizes 224,512`: the matrix at several input resolutions, into one table with a
//! resolution column (the follow-up study's design, paper.md §9).
//!
//! Images are resized once at ingest (`cxr-prep ingest --size S`), so each resolution reads its
//! own store. `--store` names them with a `{size}` placeholder (`--store /data/store-{size}`
//! reads `/data/store-224` and `/data/store-512`); with a single size the placeholder may be
//! left out. Each resolution is a complete benchmark of its own in `<OUT>/size-<S>/` (runs,
//! reports, its own `benchmark.md`; `--init` weights with a learned position table are
//! resampled to `S` at load); `<OUT>/benchmark.md` and `benchmark.json` hold the combined
//! table, one row per dataset × resolution. p-values compare initialisations at the same
//! resolution.

use std::path::{Path, PathBuf};

use burn::prelude::Backend;

use super::{BenchmarkError, BenchmarkOutcome, BenchmarkPlan, BenchmarkTable, run_benchmark, write_table_files};

/// The placeholder in `--store` that each resolution replaces with its size.
pub const SIZE_PLACEHOLDER: &str = "{size}";

/// The store of resolution `size`: `store` with [`SIZE_PLACEHOLDER`] replaced. A path without
/// the placeholder is accepted for a single size only.
pub fn store_for_size(store: &Path, size: usize, sizes: usize) -> Result<PathBuf, BenchmarkError> {
    let text = store.to_string_lossy();
    if text.contains(SIZE_PLACEHOLDER) {
        return Ok(PathBuf::from(text.replace(SIZE_PLACEHOLDER, &size.to_string())));
    }
    if sizes > 1 {
        return Err(BenchmarkError::Plan(format!(
            "--sizes with several sizes reads one store per size: put `{SIZE_PLACEHOLDER}` in --store (e.g. --store {}-{SIZE_PLACEHOLDER}, ingested with cxr-prep ingest --size S)",
            text.trim_end_matches('/')
        )));
    }
    Ok(store.to_path_buf())
}

/// One plan per resolution: the store of that size, `image_size` fixed to it (a store of
/// another size is refused by `fit`), outputs in `<OUT>/size-<S>/`.
pub fn plans_for_sizes(base: &BenchmarkPlan, sizes: &[usize]) -> Result<Vec<BenchmarkPlan>, BenchmarkError> {
    if sizes.is_empty() || sizes.contains(&0) {
        return Err(BenchmarkError::Plan("--sizes needs positive sizes, e.g. 224,512".into()));
    }
    let mut seen = Vec::new();
    let mut plans = Vec::new();
    for &size in sizes {
        if seen.contains(&size) {
            return Err(BenchmarkError::Plan(format!("--sizes lists {size} twice")));
        }
        seen.push(size);
        let mut plan = base.clone();
        plan.template.store = store_for_size(&base.template.store, size, sizes.len())?;
        plan.template.image_size = size;
        plan.out = base.out.join(format!("size-{size}"));
        plans.push(plan);
    }
    Ok(plans)
}

/// Runs (or continues) the matrix at every size of `sizes` on backend `I` and writes the
/// combined table to `<OUT>/benchmark.{md,json}` (see the module docs). Comparisons are named
/// `<dataset> @ <S> px`.
pub fn run_benchmark_sizes<I: Backend>(
    base: &BenchmarkPlan,
    sizes: &[usize],
    devices: &[I::Device],
) -> Result<BenchmarkOutcome, BenchmarkError> {
    let mut tables = Vec::new();
    let mut comparisons = Vec::new();
    for plan in plans_for_sizes(base, sizes)? {
        let size = plan.template.image_size;
        let outcome = run_benchmark::<I>(&plan, devices)?;
        comparisons.extend(outcome.comparisons.into_iter().map(|(d, c)| (format!("{d} @ {size} px"), c)));
        tables.push(outcome.table);
    }
    let table = BenchmarkTable::merge(tables).ok_or_else(|| BenchmarkError::Plan("no sizes".into()))?;
    std::fs::create_dir_all(&base.out).map_err(|source| BenchmarkError::Io { path: base.out.clone(), source })?;
    let md = write_table_files(&base.out, &table, &base.stats)?;
    Ok(BenchmarkOutcome { table, comparisons, markdown: md })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_names_one_store_per_size() {
        let p = Path::new("/data/store-{size}");
        assert_eq!(store_for_size(p, 512, 2).unwrap(), Path::new("/data/store-512"));
        assert_eq!(store_for_size(Path::new("/data/s"), 512, 1).unwrap(), Path::new("/data/s"));
        let e = store_for_size(Path::new("/data/s/"), 512, 2).unwrap_err().to_string();
        assert!(e.contains("--store /data/s-{size}"), "{e}");
    }
}
