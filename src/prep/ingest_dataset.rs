//! The ingest of one dataset: stream its records in chunks of `rows_per_part`, process each
//! chunk on a rayon pool, commit each as one part into the store's staging folder
//! ([`Staging`]), and when every chunk is done swap the staging folder in as `dataset=<name>/`
//! and record the dataset in `_meta.json`.
//!
//! [`run_ingest`] reads top to bottom: load the manifest ([`load_manifest`]), refuse changed
//! options ([`refuse_changed_options`]), open the staging folder, run the chunks
//! ([`Ingest::run_chunks`]), then either report one shard ([`Ingest::shard_summary`]) or
//! finish the partition ([`Ingest::finalize`]).
//!
//! A chunk is finished when its done record ([`ChunkDone`]) exists; the part file itself is
//! written atomically before it. Running the same command after an interruption therefore
//! skips finished chunks and produces the rows a clean run produces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::nulled::{self, NullCount};
use super::options::{IngestOptions, StoredOptions};
use super::process::{process, row_reject, Context, Processed};
use super::summary::IngestSummary;
use super::PrepError;
use crate::harmonize::label_map::annotated_mask;
use crate::ingest::{self, RawRecord, RecordIter, RowError};
use crate::labels::FINDINGS;
use crate::manifest::Manifest;
use crate::store::meta::{self, DatasetMeta};
use crate::store::rejects::{self, Reject, RejectKind};
use crate::store::row::StoreRow;
use crate::store::staging::{Staging, StagingStamp};
use crate::store::StoreError;

/// What a finished chunk left behind (`part-NNNNN.done.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
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

impl ChunkDone {
    /// Sorts a chunk's outcomes into its rows (in record order) and its done record.
    fn sort(outcomes: Vec<Result<Processed, Reject>>) -> (Vec<StoreRow>, ChunkDone) {
        let mut rows = Vec::new();
        let mut done = ChunkDone::default();
        for o in outcomes {
            match o {
                Ok(p) => {
                    for n in p.notes {
                        *done.notes.entry(n).or_insert(0) += 1;
                    }
                    *done.splits.entry(p.row.row.split.to_string()).or_insert(0) += 1;
                    for n in &p.nulled {
                        nulled::add(&mut done.nulled, p.row.row.source_row, n);
                    }
                    rows.push(p.row);
                }
                Err(rej) => done.rejects.push(rej),
            }
        }
        done.rows = rows.len() as u64;
        (rows, done)
    }
}

/// Chunk records summed over an ingest (or over the chunks one shard processed).
#[derive(Debug, Default)]
struct Tally {
    rows: u64,
    splits: BTreeMap<String, u64>,
    rejects: Vec<Reject>,
    nulled: Vec<NullCount>,
    notes: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, done: ChunkDone) {
        self.rows += done.rows;
        for (k, v) in done.splits {
            *self.splits.entry(k).or_insert(0) += v;
        }
        self.rejects.extend(done.rejects);
        for c in done.nulled {
            nulled::merge(&mut self.nulled, c);
        }
        for (k, v) in done.notes {
            *self.notes.entry(k).or_insert(0) += v;
        }
    }

    /// The null counts and decoder notes as summary lines (`"<n> image(s): <note>"`).
    fn note_lines(&self) -> Vec<String> {
        let mut lines = nulled::notes(&self.nulled);
        lines.extend(
            self.notes.iter().map(|(note, n)| format!("{n} image{}: {note}", if *n == 1 { "" } else { "s" })),
        );
        lines
    }
}

/// What the chunk pass of [`Ingest::run_chunks`] did.
#[derive(Debug, Default)]
struct ChunkPass {
    /// Chunks the records were cut into.
    chunks: usize,
    /// Chunks found finished from an interrupted earlier run.
    resumed: usize,
    /// Chunks left to other shards.
    other_shards: usize,
    /// Images decoded in this run.
    images: u64,
    /// The chunks processed in this run.
    tally: Tally,
}

/// What the source said besides its records.
struct SourceInfo {
    /// Source labels the layout annotates.
    annotated: Vec<String>,
    metadata_files: Vec<PathBuf>,
    notes: Vec<String>,
}

/// One dataset's ingest, resolved once from the options.
struct Ingest<'a> {
    opts: &'a IngestOptions,
    manifest: Manifest,
    manifest_sha256: String,
    started: Instant,
}

/// Runs one ingest to completion (or resumes one) and returns its summary.
pub fn run_ingest(opts: &IngestOptions) -> Result<IngestSummary, PrepError> {
    let started = Instant::now();
    let (manifest, manifest_sha256) = load_manifest(opts)?;
    opts.stored.check().map_err(PrepError::Options)?;
    if !opts.root.is_dir() {
        return Err(PrepError::Root(opts.root.clone()));
    }
    let root_canon = opts.root.canonicalize().map_err(|_| PrepError::Root(opts.root.clone()))?;
    std::fs::create_dir_all(&opts.store)
        .map_err(|source| StoreError::Write { path: opts.store.clone(), source })?;
    refuse_changed_options(opts, &manifest.dataset)?;
    let stamp = StagingStamp { options: opts.stored.clone(), manifest_sha256: manifest_sha256.clone() };
    let staging = Staging::open(&opts.store, &manifest.dataset, &stamp, opts.overwrite)?;
    let ingest = Ingest { opts, manifest, manifest_sha256, started };

    // A first pass counts rows for the progress bar (metadata only: seconds even for 377k rows).
    let total = ingest::open_source(&ingest.manifest, &opts.root)?.records.count() as u64;
    let source = ingest::open_source(&ingest.manifest, &opts.root)?;
    let info = SourceInfo { annotated: source.annotated, metadata_files: source.metadata_files, notes: source.notes };
    let pass = ingest.run_chunks(&staging, &info, root_canon, source.records, total)?;
    match opts.shard {
        Some((k, n)) => Ok(ingest.shard_summary(k, n, info.notes, pass)),
        None => ingest.finalize(staging, info, pass),
    }
}

/// The manifest (the `--manifest` file, else the built-in one) and the sha256 of its text.
fn load_manifest(opts: &IngestOptions) -> Result<(Manifest, String), PrepError> {
    let (manifest, text) = match &opts.manifest {
        Some(p) => (Manifest::from_file(p)?, std::fs::read_to_string(p).unwrap_or_default()),
        None => {
            let text = crate::manifest::DATASETS.iter().find(|(n, _)| *n == opts.dataset).map(|(_, t)| *t).unwrap_or("");
            (Manifest::builtin(&opts.dataset)?, text.to_string())
        }
    };
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    Ok((manifest, sha256))
}

/// Refuses to silently change how an existing partition was made: other stored options need
/// `--overwrite`, except turning a metadata-only partition into one with images.
fn refuse_changed_options(opts: &IngestOptions, dataset: &str) -> Result<(), PrepError> {
    let Some(prev) = meta::read(&opts.store)?.and_then(|m| m.datasets.get(dataset).map(|e| e.options.clone())) else {
        return Ok(());
    };
    let upgrade = prev.metadata_only && StoredOptions { metadata_only: false, ..prev.clone() } == opts.stored;
    if prev != opts.stored && !upgrade && !opts.overwrite {
        let (before, now) = changed_options(&prev, &opts.stored);
        return Err(PrepError::OptionsChanged { dataset: dataset.to_string(), before, now });
    }
    Ok(())
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

fn progress_bar(total: u64, dataset: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} rows  {per_sec}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(dataset.to_string());
    bar
}

impl Ingest<'_> {
    /// Cuts `records` into chunks and commits every chunk of this run's shard that is not done
    /// yet (rows processed on a pool of `opts.threads` workers).
    fn run_chunks(
        &self,
        staging: &Staging,
        info: &SourceInfo,
        root_canon: PathBuf,
        mut records: RecordIter,
        total: u64,
    ) -> Result<ChunkPass, PrepError> {
        let opts = self.opts;
        let annotated = annotated_mask(&self.manifest, &info.annotated);
        let primary_file = info
            .metadata_files
            .first()
            .map(|p| p.strip_prefix(&opts.root).unwrap_or(p).display().to_string())
            .unwrap_or_default();
        let ctx = Context {
            manifest: &self.manifest,
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
        let bar = progress_bar(total, &self.manifest.dataset);
        let mut pass = ChunkPass::default();
        loop {
            let chunk: Vec<Result<RawRecord, RowError>> = records.by_ref().take(opts.stored.rows_per_part).collect();
            if chunk.is_empty() {
                break;
            }
            let i = pass.chunks;
            let chunk_len = chunk.len() as u64;
            if opts.shard.is_some_and(|(k, n)| i % n != k - 1) {
                pass.other_shards += 1;
            } else if staging.is_done(i) {
                pass.resumed += 1;
            } else {
                let outcomes: Vec<Result<Processed, Reject>> = pool.install(|| {
                    chunk
                        .into_par_iter()
                        .map(|r| match r {
                            Ok(rec) => process(&ctx, &primary_file, rec),
                            Err(e) => Err(row_reject(e)),
                        })
                        .collect()
                });
                let (rows, done) = ChunkDone::sort(outcomes);
                staging.commit_chunk(i, &rows, &done)?;
                pass.images += if opts.stored.metadata_only { 0 } else { done.rows };
                pass.tally.add(done);
            }
            bar.inc(chunk_len);
            pass.chunks += 1;
        }
        bar.finish_and_clear();
        Ok(pass)
    }

    /// The summary of shard `k` of `n`: the chunks this run processed; the partition is left
    /// staged for the merging run.
    fn shard_summary(&self, k: usize, n: usize, mut notes: Vec<String>, pass: ChunkPass) -> IngestSummary {
        let mine = pass.chunks - pass.other_shards;
        notes.extend(pass.tally.note_lines());
        notes.push(format!(
            "shard {k}/{n}: {mine} of {} chunks are this shard's; when every shard has finished, run the same command without --shard to merge",
            pass.chunks
        ));
        let tally = Tally { splits: BTreeMap::new(), ..pass.tally };
        self.summary(tally, BTreeMap::new(), mine, pass.resumed, pass.images, notes)
    }

    /// Sums every chunk's done record, writes the rejects, swaps the partition in and records
    /// the dataset in `_meta.json`.
    fn finalize(&self, staging: Staging, info: SourceInfo, pass: ChunkPass) -> Result<IngestSummary, PrepError> {
        let (opts, manifest) = (self.opts, &self.manifest);
        let mut all = Tally::default();
        for i in 0..pass.chunks {
            all.add(staging.done::<ChunkDone>(i)?);
        }
        let mut notes = info.notes;
        notes.extend(all.note_lines());
        let parts: Vec<PathBuf> = (0..pass.chunks).map(|i| staging.part_path(i)).filter(|p| p.is_file()).collect();
        let files: Vec<String> = info.metadata_files.iter().map(|p| format!("`{}`", crate::ingest::csvio::rel(&opts.root, p))).collect();
        super::leakage::check_patient_splits(&parts, &files)?;
        rejects::write_rejects(&opts.store, &manifest.dataset, &all.rejects)?;
        let fingerprints =
            info.metadata_files.iter().map(|p| meta::fingerprint(&opts.root, p)).collect::<Result<Vec<_>, _>>()?;
        staging.swap_in()?;
        let annotated = annotated_mask(manifest, &info.annotated);
        let entry = DatasetMeta {
            ingested_at: chrono::Utc::now().to_rfc3339(),
            manifest_title: manifest.title.clone(),
            manifest_sha256: self.manifest_sha256.clone(),
            options: opts.stored.clone(),
            annotated_findings: FINDINGS.iter().zip(&annotated).filter(|(_, a)| **a).map(|(f, _)| f.name.to_string()).collect(),
            rows: all.rows,
            rejects: all.rejects.len() as u64,
            rejects_by_reason: rejects::summarize(&all.rejects),
            splits: all.splits.clone(),
            metadata_files: fingerprints,
            notes: notes.clone(),
            split_rule: manifest.split.rule.clone(),
        };
        meta::update(&opts.store, &manifest.dataset, entry)?;
        let missing = missing_by_folder(&all.rejects);
        Ok(self.summary(all, missing, pass.chunks, pass.resumed, pass.images, notes))
    }

    fn summary(
        &self,
        tally: Tally,
        missing_by_folder: BTreeMap<String, usize>,
        parts: usize,
        resumed_parts: usize,
        images: u64,
        notes: Vec<String>,
    ) -> IngestSummary {
        IngestSummary {
            dataset: self.manifest.dataset.clone(),
            store: self.opts.store.clone(),
            rows: tally.rows,
            rejects: tally.rejects.len() as u64,
            rejects_by_reason: rejects::summarize(&tally.rejects),
            missing_by_folder,
            splits: tally.splits,
            parts,
            resumed_parts,
            images,
            seconds: self.started.elapsed().as_secs_f64(),
            notes,
            metadata_only: self.opts.stored.metadata_only,
        }
    }
}

/// Missing image files per folder (relative to the root): a partial download shows as folders.
fn missing_by_folder(rejects: &[Reject]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in rejects.iter().filter(|r| r.kind == RejectKind::MissingImageFile) {
        let folder = Path::new(&r.source_path).parent().map(|p| p.display().to_string()).unwrap_or_default();
        *out.entry(folder).or_insert(0) += 1;
    }
    out
}
