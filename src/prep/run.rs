//! The ingest run: stream a dataset's records in chunks of `rows_per_part`, process each chunk
//! on a rayon pool, write each as one part file into `_staging/<dataset>/`, and when every chunk
//! is done swap the staging folder in as `dataset=<name>/`.
//!
//! A chunk is finished when its `part-NNNNN.done.json` (counts and rejects) exists; the part file
//! itself is written atomically before it. Running the same command after an interruption
//! therefore skips finished chunks and produces the rows a clean run produces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::nulled::{self, NullCount};
use super::options::{IngestOptions, StoredOptions};
use super::process::{process, row_reject, Context};
use super::summary::IngestSummary;
use super::PrepError;
use crate::harmonize::label_map::annotated_mask;
use crate::ingest::{self, RawRecord, RowError};
use crate::labels::FINDINGS;
use crate::manifest::Manifest;
use crate::store::meta::{self, DatasetMeta};
use crate::store::rejects::{self, Reject};
use crate::store::writer::{write_part, StoreRow};
use crate::store::{partition_dir, staging_dir, write_atomic, StoreError};

/// What a finished chunk left behind (`part-NNNNN.done.json`).
#[derive(Debug, Serialize, Deserialize)]
struct ChunkDone {
    rows: u64,
    splits: BTreeMap<String, u64>,
    rejects: Vec<Reject>,
    /// Optional values of the stored rows that were stored as null, by kind.
    #[serde(default)]
    nulled: Vec<NullCount>,
    /// Decoder notes (see `DecodedImage::notes`) and how many images had each.
    #[serde(default)]
    notes: BTreeMap<String, u64>,
}

/// Counted decoder notes as summary lines, `"<n> image(s): <note>"`.
fn counted_notes(counts: &BTreeMap<String, u64>) -> Vec<String> {
    counts.iter().map(|(note, n)| format!("{n} image{}: {note}", if *n == 1 { "" } else { "s" })).collect()
}

/// `_staging/<dataset>/options.json`: what the staged parts were made with.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct StagingOptions {
    options: StoredOptions,
    manifest_sha256: String,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> PrepError + '_ {
    move |source| PrepError::Store(StoreError::Write { path: path.to_path_buf(), source })
}

/// The options that differ, as `key=value` lists (before, now).
fn changed_options(before: &StoredOptions, now: &StoredOptions) -> (String, String) {
    let (a, b) = (serde_json::to_value(before).unwrap_or_default(), serde_json::to_value(now).unwrap_or_default());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, va) in a {
            if b.get(k) != Some(va) {
                x.push(format!("{k}={va}"));
                y.push(format!("{k}={}", b.get(k).cloned().unwrap_or_default()));
            }
        }
    }
    (x.join(", "), y.join(", "))
}

fn part_name(i: usize) -> String {
    format!("part-{i:05}")
}

/// Runs one ingest to completion (or resumes one) and returns its summary.
pub fn run_ingest(opts: &IngestOptions) -> Result<IngestSummary, PrepError> {
    let started = Instant::now();
    let (manifest, manifest_text) = match &opts.manifest {
        Some(p) => (Manifest::from_file(p)?, std::fs::read_to_string(p).unwrap_or_default()),
        None => {
            let text = crate::manifest::DATASETS.iter().find(|(n, _)| *n == opts.dataset).map(|(_, t)| *t).unwrap_or("");
            (Manifest::builtin(&opts.dataset)?, text.to_string())
        }
    };
    let manifest_sha256 = hex::encode(Sha256::digest(manifest_text.as_bytes()));
    opts.stored.check().map_err(PrepError::Options)?;
    if !opts.root.is_dir() {
        return Err(PrepError::Root(opts.root.clone()));
    }
    let root_canon = opts.root.canonicalize().map_err(|_| PrepError::Root(opts.root.clone()))?;
    std::fs::create_dir_all(&opts.store).map_err(io_err(&opts.store))?;

    // Refuse to silently change how an existing partition was made.
    if let Some(existing) = meta::read(&opts.store)?.and_then(|m| m.datasets.get(&manifest.dataset).cloned()) {
        if let Ok(prev) = serde_json::from_value::<StoredOptions>(existing.options.clone()) {
            let upgrade = StoredOptions { metadata_only: false, ..prev.clone() } == opts.stored && prev.metadata_only;
            if prev != opts.stored && !upgrade && !opts.overwrite {
                let (before, now) = changed_options(&prev, &opts.stored);
                return Err(PrepError::OptionsChanged { dataset: manifest.dataset.clone(), before, now });
            }
        }
    }

    // Staging: resume when it was made with the same options, else start over (or refuse).
    let staging = staging_dir(&opts.store, &manifest.dataset);
    let staging_opts = StagingOptions { options: opts.stored.clone(), manifest_sha256: manifest_sha256.clone() };
    let opts_path = staging.join("options.json");
    if staging.exists() {
        let same = std::fs::read_to_string(&opts_path)
            .ok()
            .and_then(|t| serde_json::from_str::<StagingOptions>(&t).ok())
            .is_some_and(|s| s == staging_opts);
        if !same && !opts.overwrite {
            return Err(PrepError::StagingMismatch(staging.clone()));
        }
        if !same || opts.overwrite {
            std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
        }
    }
    std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    write_atomic(&opts_path, serde_json::to_string_pretty(&staging_opts).unwrap_or_default().as_bytes())?;

    // A first pass counts rows for the progress bar (metadata only: seconds even for 377k rows).
    let total = ingest::open_source(&manifest, &opts.root)?.records.count() as u64;
    let source = ingest::open_source(&manifest, &opts.root)?;
    let annotated = annotated_mask(&manifest, &source.annotated);
    let primary_file = source
        .metadata_files
        .first()
        .map(|p| p.strip_prefix(&opts.root).unwrap_or(p).display().to_string())
        .unwrap_or_default();
    let ctx = Context {
        manifest: &manifest,
        annotated: &annotated,
        seed: opts.stored.split_seed,
        root: &opts.root,
        root_canon,
        metadata_only: opts.stored.metadata_only,
        decode: opts.stored.decode_options(),
        pixels: opts.stored.pixel_options(),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| PrepError::Options(format!("thread pool: {e}")))?;

    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} rows  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(manifest.dataset.clone());

    let mut records = source.records;
    let mut chunk_index = 0usize;
    let mut resumed = 0usize;
    let mut processed_images = 0u64;
    let mut skipped_other_shards = 0usize;
    let mut shard_rows = 0u64;
    let mut shard_rejects: Vec<Reject> = Vec::new();
    let mut shard_nulled: Vec<NullCount> = Vec::new();
    let mut shard_notes: BTreeMap<String, u64> = BTreeMap::new();
    loop {
        let chunk: Vec<Result<RawRecord, RowError>> = records.by_ref().take(opts.stored.rows_per_part).collect();
        if chunk.is_empty() {
            break;
        }
        let chunk_len = chunk.len() as u64;
        let name = part_name(chunk_index);
        let done_path = staging.join(format!("{name}.done.json"));
        let mine = opts.shard.is_none_or(|(k, n)| chunk_index % n == k - 1);
        if !mine {
            skipped_other_shards += 1;
        } else if done_path.is_file() {
            resumed += 1;
        } else {
            let outcomes: Vec<Result<(StoreRow, Vec<String>), Reject>> = pool.install(|| {
                chunk
                    .into_par_iter()
                    .map(|r| match r {
                        Ok(rec) => process(&ctx, &primary_file, rec),
                        Err(e) => Err(row_reject(e)),
                    })
                    .collect()
            });
            let mut rows = Vec::new();
            let mut done = ChunkDone { rows: 0, splits: BTreeMap::new(), rejects: Vec::new(), nulled: Vec::new(), notes: BTreeMap::new() };
            for o in outcomes {
                match o {
                    Ok((r, notes)) => {
                        for n in notes {
                            *done.notes.entry(n).or_insert(0) += 1;
                        }
                        *done.splits.entry(r.row.split.to_string()).or_insert(0) += 1;
                        for n in &r.row.nulled {
                            nulled::add(&mut done.nulled, r.row.source_row, n);
                        }
                        rows.push(r);
                    }
                    Err(rej) => done.rejects.push(rej),
                }
            }
            done.rows = rows.len() as u64;
            shard_rows += done.rows;
            shard_rejects.extend(done.rejects.iter().cloned());
            for c in &done.nulled {
                nulled::merge(&mut shard_nulled, c.clone());
            }
            for (k, v) in &done.notes {
                *shard_notes.entry(k.clone()).or_insert(0) += v;
            }
            processed_images += if opts.stored.metadata_only { 0 } else { done.rows };
            if !rows.is_empty() {
                write_part(&staging.join(format!("{name}.parquet")), &rows)?;
            }
            write_atomic(&done_path, serde_json::to_string(&done).unwrap_or_default().as_bytes())?;
        }
        bar.inc(chunk_len);
        chunk_index += 1;
    }
    bar.finish_and_clear();
    if let Some((k, n)) = opts.shard {
        let by_reason = rejects::summarize(&shard_rejects);
        let mut notes = source.notes;
        notes.extend(nulled::notes(&shard_nulled));
        notes.extend(counted_notes(&shard_notes));
        notes.push(format!(
            "shard {k}/{n}: {} of {chunk_index} chunks are this shard's; when every shard has finished, run the same command without --shard to merge",
            chunk_index - skipped_other_shards
        ));
        return Ok(IngestSummary {
            dataset: manifest.dataset.clone(),
            store: opts.store.clone(),
            rows: shard_rows,
            rejects: shard_rejects.len() as u64,
            rejects_by_reason: by_reason,
            missing_by_folder: BTreeMap::new(),
            splits: BTreeMap::new(),
            parts: chunk_index - skipped_other_shards,
            resumed_parts: resumed,
            images: processed_images,
            seconds: started.elapsed().as_secs_f64(),
            notes,
            metadata_only: opts.stored.metadata_only,
        });
    }
    finalize(opts, &manifest, &manifest_sha256, &source.annotated, source.metadata_files, source.notes, &staging, chunk_index, resumed, processed_images, started)
}

/// Aggregates the chunk records, writes rejects and metadata, and swaps the partition in.
#[allow(clippy::too_many_arguments)]
fn finalize(
    opts: &IngestOptions,
    manifest: &Manifest,
    manifest_sha256: &str,
    annotated_labels: &[String],
    metadata_files: Vec<PathBuf>,
    mut notes: Vec<String>,
    staging: &Path,
    chunks: usize,
    resumed: usize,
    processed_images: u64,
    started: Instant,
) -> Result<IngestSummary, PrepError> {
    let mut rows = 0u64;
    let mut splits: BTreeMap<String, u64> = BTreeMap::new();
    let mut all_rejects = Vec::new();
    let mut all_nulled: Vec<NullCount> = Vec::new();
    let mut note_counts: BTreeMap<String, u64> = BTreeMap::new();
    for i in 0..chunks {
        let p = staging.join(format!("{}.done.json", part_name(i)));
        let text = std::fs::read_to_string(&p).map_err(|source| StoreError::Read { path: p.clone(), source })?;
        let done: ChunkDone = serde_json::from_str(&text).map_err(|source| StoreError::MetaJson { path: p.clone(), source })?;
        rows += done.rows;
        for (k, v) in done.splits {
            *splits.entry(k).or_insert(0) += v;
        }
        all_rejects.extend(done.rejects);
        for c in done.nulled {
            nulled::merge(&mut all_nulled, c);
        }
        for (k, v) in done.notes {
            *note_counts.entry(k).or_insert(0) += v;
        }
    }
    notes.extend(nulled::notes(&all_nulled));
    notes.extend(counted_notes(&note_counts));
    rejects::write_rejects(&opts.store, &manifest.dataset, &all_rejects)?;
    let fingerprints = metadata_files
        .iter()
        .map(|p| meta::fingerprint(&opts.root, p))
        .collect::<Result<Vec<_>, _>>()?;
    // Swap: only part files move into the partition. `options.json` is removed last, after the
    // rename: killed during this cleanup, the staging folder must still say how it was made, or
    // the same command would refuse to resume it.
    for entry in std::fs::read_dir(staging).map_err(io_err(staging))? {
        let path = entry.map_err(io_err(staging))?.path();
        if path.extension().is_none_or(|e| e != "parquet") && !path.ends_with("options.json") {
            std::fs::remove_file(&path).map_err(io_err(&path))?;
        }
    }
    // The old partition is moved aside (`_trash/`, skipped by readers) in one rename and deleted
    // after the swap, so readers never see a half-deleted partition.
    let part_dir = partition_dir(&opts.store, &manifest.dataset);
    let trash = opts.store.join("_trash").join(format!("{}-{}", manifest.dataset, std::process::id()));
    if part_dir.exists() {
        std::fs::create_dir_all(opts.store.join("_trash")).map_err(io_err(&trash))?;
        std::fs::rename(&part_dir, &trash).map_err(io_err(&trash))?;
    }
    std::fs::rename(staging, &part_dir).map_err(io_err(&part_dir))?;
    if trash.exists() {
        std::fs::remove_dir_all(&trash).map_err(io_err(&trash))?;
    }
    let _ = std::fs::remove_dir(opts.store.join("_trash"));
    let moved_opts = part_dir.join("options.json");
    std::fs::remove_file(&moved_opts).map_err(io_err(&moved_opts))?;
    let _ = std::fs::remove_dir(opts.store.join("_staging"));

    let annotated_mask = annotated_mask(manifest, annotated_labels);
    let by_reason = rejects::summarize(&all_rejects);
    let entry = DatasetMeta {
        ingested_at: chrono::Utc::now().to_rfc3339(),
        manifest_title: manifest.title.clone(),
        manifest_sha256: manifest_sha256.to_string(),
        options: serde_json::to_value(&opts.stored).unwrap_or_default(),
        annotated_findings: FINDINGS.iter().zip(&annotated_mask).filter(|(_, a)| **a).map(|(f, _)| f.name.to_string()).collect(),
        rows,
        rejects: all_rejects.len() as u64,
        rejects_by_reason: by_reason.clone(),
        splits: splits.clone(),
        metadata_files: fingerprints,
        notes: notes.clone(),
        split_rule: manifest.split.rule.clone(),
    };
    meta::update(&opts.store, &manifest.dataset, entry)?;
    let mut missing_by_folder: BTreeMap<String, usize> = BTreeMap::new();
    for r in all_rejects.iter().filter(|r| r.kind == "missing image file") {
        let folder = Path::new(&r.source_path).parent().map(|p| p.display().to_string()).unwrap_or_default();
        *missing_by_folder.entry(folder).or_insert(0) += 1;
    }
    Ok(IngestSummary {
        dataset: manifest.dataset.clone(),
        store: opts.store.clone(),
        rows,
        rejects: all_rejects.len() as u64,
        rejects_by_reason: by_reason,
        missing_by_folder,
        splits,
        parts: chunks,
        resumed_parts: resumed,
        images: processed_images,
        seconds: started.elapsed().as_secs_f64(),
        notes,
        metadata_only: opts.stored.metadata_only,
    })
}
