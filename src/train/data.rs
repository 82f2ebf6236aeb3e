//! Store → device-ready batches.
//!
//! Part files are opened and read through the store's reader ([`PartFile`], one footer parse
//! per file; columns conformed to the store types, a wrong type is an error naming the file
//! and column).
//!
//! 1. [`DataIndex::build`] reads only the split/view/label columns of every row group (no
//!    image bytes), checks that each dataset has train and val rows, and counts per-label
//!    positives for the pos-weights.
//! 2. Per epoch, [`spawn_batches`] starts two worker threads: a *reader* that visits the row
//!    groups in a seeded order, `shuffle_window` at a time, decodes only the kept rows (Parquet
//!    row filter on split/view), shuffles them within the window and cuts batches; and an
//!    *augmenter* that turns each batch into augmented `[B, 1, H, W]` 8-bit planes (rayon over
//!    images) plus targets and mask; the device expands them to the model's f32 input. Both hand over through bounded channels, so memory is bounded by
//!    `shuffle_window` row groups plus `2 × prefetch` batches, whatever the store size.
//!
//! Order and augmentation draws are functions of `(seed, epoch, position)` only, so a resumed
//! run sees exactly the batches an uninterrupted run sees.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use arrow::array::Array;
use arrow::datatypes::Int8Type;
use rayon::prelude::*;

use super::TrainError;
use super::augment::{Aug, Rng, augment_into};
use crate::run::config::{TrainConfig, Uncertain, ViewFilter};
use super::loss::encode_targets;
pub use crate::store::reader::PartFile;
use crate::store::reader::{PartRead, RowKeep};
use crate::store::schema::COL_IMAGE;
use crate::store::StoreError;

/// One kept store row: its dataset (index in run order), labels (run order) and pixels.
#[derive(Debug, Clone)]
pub struct Row {
    pub ds: usize,
    pub labels: Vec<Option<i8>>,
    /// `size × size` grey bytes (empty in index reads).
    pub pixels: Vec<u8>,
}

/// One row group of one part file, with how many rows of the split it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub ds: usize,
    pub part: usize,
    pub row_group: usize,
    pub rows: usize,
}

/// A dataset of the run: its part files and view filter.
#[derive(Debug, Clone)]
pub struct DatasetParts {
    pub name: String,
    pub parts: Vec<PathBuf>,
    pub views: ViewFilter,
}

/// Everything the workers need, shared read-only.
#[derive(Debug)]
pub struct DataIndex {
    pub datasets: Vec<DatasetParts>,
    /// `files[ds][part]`: the part files with parsed footers.
    pub files: Vec<Vec<PartFile>>,
    pub labels: Vec<String>,
    /// `annotated[ds][k]`.
    pub annotated: Vec<Vec<bool>>,
    pub uncertain: Uncertain,
    pub size: usize,
    pub train: Vec<Unit>,
    pub val: Vec<Unit>,
    /// Per label: rows counted (mask 1) and positives, over the train rows.
    pub train_counts: Vec<(u64, u64)>,
    /// Train and val rows skipped for having no stated label in the run's labels.
    pub skipped_unlabelled: (u64, u64),
}

/// A batch ready for the device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `[n, 1, size, size]` row-major augmented 8-bit grey (uploaded as u8; the model's
    /// `[n, 3, size, size]` f32 `[0, 1]` input is made on the device).
    pub images: Vec<u8>,
    pub n: usize,
    /// `[n, K]` targets in {0, 1}.
    pub targets: Vec<f32>,
    /// `[n, K]` loss mask in {0, 1}.
    pub mask: Vec<f32>,
    /// Dataset index per image.
    pub ds: Vec<usize>,
}

/// Reads the kept rows of some row groups of a part (all row groups when `row_groups` is None).
/// Rows with no stated value (all null) in `labels` are skipped: they carry no target, and
/// training them as all-negative would invent labels (PadChest rows shipped without labels,
/// MIMIC studies without a label row). See [`read_rows_counted`] for the number skipped.
pub fn read_rows(
    part: &PartFile,
    ds: usize,
    row_groups: Option<Vec<usize>>,
    split: &str,
    views: &ViewFilter,
    labels: &[String],
    images: bool,
) -> Result<Vec<Row>, TrainError> {
    read_rows_counted(part, ds, row_groups, split, views, labels, images).map(|(rows, _)| rows)
}

/// [`read_rows`], also returning how many rows of the split and views were skipped for having
/// no stated label in `labels`.
pub fn read_rows_counted(
    part: &PartFile,
    ds: usize,
    row_groups: Option<Vec<usize>>,
    split: &str,
    views: &ViewFilter,
    labels: &[String],
    images: bool,
) -> Result<(Vec<Row>, usize), TrainError> {
    let mut columns = labels.to_vec();
    if images {
        columns.push(COL_IMAGE.to_string());
    }
    let (want_split, views) = (split.to_string(), views.clone());
    let keep: RowKeep = Arc::new(move |s: Option<&str>, v: Option<&str>| s == Some(want_split.as_str()) && views.keeps(v));
    let read = PartRead { columns, row_groups, batch_size: 1024, keep: Some(keep) };
    let mut out = Vec::new();
    let mut skipped = 0;
    for b in part.read(&read)? {
        let b = b?;
        let label_cols = labels
            .iter()
            .map(|l| b.required(b.primitive::<Int8Type>(l)?, l))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let image = if images { Some(b.required(b.bytes(COL_IMAGE)?, COL_IMAGE)?) } else { None };
        for i in 0..b.num_rows() {
            let row_labels: Vec<Option<i8>> = label_cols.iter().map(|a| a.is_valid(i).then(|| a.value(i))).collect();
            if row_labels.iter().all(Option::is_none) {
                skipped += 1;
                continue;
            }
            out.push(Row {
                ds,
                labels: row_labels,
                pixels: image.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i).to_vec()).unwrap_or_default(),
            });
        }
    }
    Ok((out, skipped))
}

impl DataIndex {
    /// Indexes the train and val rows of the run's datasets (labels only, no pixels).
    pub fn build(
        cfg: &TrainConfig,
        datasets: Vec<DatasetParts>,
        annotated: Vec<Vec<bool>>,
    ) -> Result<DataIndex, TrainError> {
        let k = cfg.labels.len();
        let mut train = Vec::new();
        let mut val = Vec::new();
        let mut train_counts = vec![(0u64, 0u64); k];
        let mut skipped_unlabelled = (0u64, 0u64);
        let mut files = Vec::new();
        for (ds, d) in datasets.iter().enumerate() {
            let parts = d
                .parts
                .iter()
                .map(|p| PartFile::open(p))
                .collect::<Result<Vec<_>, _>>()?;
            for (pi, part) in parts.iter().enumerate() {
                for rg in 0..part.row_groups() {
                    for (split, units) in [("train", &mut train), ("val", &mut val)] {
                        let (rows, skipped) = read_rows_counted(
                            part,
                            ds,
                            Some(vec![rg]),
                            split,
                            &d.views,
                            &cfg.labels,
                            false,
                        )?;
                        if split == "train" {
                            skipped_unlabelled.0 += skipped as u64;
                        } else {
                            skipped_unlabelled.1 += skipped as u64;
                        }
                        if rows.is_empty() {
                            continue;
                        }
                        if split == "train" {
                            let (mut y, mut m) = (vec![0.0; k], vec![0.0; k]);
                            for r in &rows {
                                encode_targets(
                                    &r.labels,
                                    &annotated[ds],
                                    cfg.uncertain,
                                    &mut y,
                                    &mut m,
                                );
                                for j in 0..k {
                                    train_counts[j].0 += m[j] as u64;
                                    train_counts[j].1 += (m[j] * y[j]) as u64;
                                }
                            }
                        }
                        units.push(Unit {
                            ds,
                            part: pi,
                            row_group: rg,
                            rows: rows.len(),
                        });
                    }
                }
            }
            files.push(parts);
            for (split, units) in [("train", &train), ("val", &val)] {
                if !units.iter().any(|u| u.ds == ds) {
                    return Err(TrainError::EmptySplit {
                        dataset: d.name.clone(),
                        split: split.into(),
                        views: d.views.clone(),
                    });
                }
            }
        }
        Ok(DataIndex {
            datasets,
            files,
            labels: cfg.labels.clone(),
            annotated,
            uncertain: cfg.uncertain,
            size: cfg.image_size,
            train,
            val,
            train_counts,
            skipped_unlabelled,
        })
    }

    /// Train rows kept.
    pub fn train_rows(&self) -> usize {
        self.train.iter().map(|u| u.rows).sum()
    }

    /// Val rows kept.
    pub fn val_rows(&self) -> usize {
        self.val.iter().map(|u| u.rows).sum()
    }

    /// Optimizer steps per epoch (`drop_last`, as the study; at least one).
    pub fn steps_per_epoch(&self, batch: usize) -> usize {
        (self.train_rows() / batch.max(1)).max(1)
    }
}

/// How one pass over a split is cut.
#[derive(Debug, Clone)]
pub struct Pass {
    pub units: Vec<Unit>,
    pub batch: usize,
    /// `Some((seed, epoch))`: shuffle row groups and rows, augment; `None`: store order, no augmentation.
    pub shuffle: Option<(u64, u64)>,
    pub window: usize,
    pub flip_p: f64,
    pub rotate_deg: f64,
    /// Drop a last incomplete batch (training), unless it would be the only one.
    pub drop_last: bool,
    pub prefetch: usize,
}

/// Starts the reader and augmenter threads of one pass; batches arrive in a fixed order.
pub fn spawn_batches(index: Arc<DataIndex>, pass: Pass) -> Receiver<Result<Batch, TrainError>> {
    let (raw_tx, raw_rx) =
        sync_channel::<Result<(u64, Vec<Row>), TrainError>>(pass.prefetch.max(1));
    let (tx, rx) = sync_channel::<Result<Batch, TrainError>>(pass.prefetch.max(1));
    let idx = index.clone();
    let p = pass.clone();
    std::thread::spawn(move || {
        let mut units = p.units.clone();
        if let Some((seed, epoch)) = p.shuffle {
            Rng::keyed(&[seed, 1, epoch]).shuffle(&mut units);
        }
        let total: usize = units.iter().map(|u| u.rows).sum();
        let mut pool: Vec<Row> = Vec::new();
        let mut emitted = 0usize; // rows sent so far (position key of augmentation draws)
        for (w, chunk) in units.chunks(p.window.max(1)).enumerate() {
            for u in chunk {
                let d = &idx.datasets[u.ds];
                match read_rows(
                    &idx.files[u.ds][u.part],
                    u.ds,
                    Some(vec![u.row_group]),
                    split_of(&p),
                    &d.views,
                    &idx.labels,
                    true,
                ) {
                    Ok(rows) => pool.extend(rows),
                    Err(e) => {
                        let _ = raw_tx.send(Err(e));
                        return;
                    }
                }
            }
            if let Some((seed, epoch)) = p.shuffle {
                Rng::keyed(&[seed, 2, epoch, w as u64]).shuffle(&mut pool);
            }
            while pool.len() >= p.batch {
                let rest = pool.split_off(p.batch);
                let b = std::mem::replace(&mut pool, rest);
                let n = b.len();
                if raw_tx.send(Ok((emitted as u64, b))).is_err() {
                    return;
                }
                emitted += n;
            }
        }
        let only_batch = emitted == 0 && total > 0;
        if !pool.is_empty() && (!p.drop_last || only_batch) {
            let _ = raw_tx.send(Ok((emitted as u64, pool)));
        }
    });
    std::thread::spawn(move || {
        for msg in raw_rx {
            let out = msg.and_then(|(pos, rows)| assemble(&index, &pass, pos, rows));
            if tx.send(out).is_err() {
                return;
            }
        }
    });
    rx
}

/// Splits are implicit in a pass: shuffled passes are training passes.
fn split_of(p: &Pass) -> &'static str {
    if p.shuffle.is_some() { "train" } else { "val" }
}

/// Pixels → augmented 8-bit planes, labels → targets and mask.
pub(super) fn assemble(index: &DataIndex, pass: &Pass, pos: u64, rows: Vec<Row>) -> Result<Batch, TrainError> {
    let s = index.size;
    let plane = s * s;
    let k = index.labels.len();
    let n = rows.len();
    for r in &rows {
        if r.pixels.len() != s * s {
            let d = &index.datasets[r.ds].name;
            return Err(if r.pixels.is_empty() {
                TrainError::NoPixels { dataset: d.clone() }
            } else {
                TrainError::SizeMismatch {
                    dataset: d.clone(),
                    stored: (r.pixels.len() as f64).sqrt() as usize,
                    wanted: s,
                }
            });
        }
    }
    let mut images = vec![0u8; n * plane];
    images
        .par_chunks_mut(plane)
        .zip(rows.par_iter())
        .enumerate()
        .for_each(|(i, (dst, r))| {
            let aug = match pass.shuffle {
                Some((seed, epoch)) => Aug::draw(
                    &mut Rng::keyed(&[seed, 3, epoch, pos + i as u64]),
                    pass.flip_p,
                    pass.rotate_deg,
                ),
                None => Aug::NONE,
            };
            augment_into(&r.pixels, s, s, aug, dst);
        });
    let (mut targets, mut mask) = (vec![0.0f32; n * k], vec![0.0f32; n * k]);
    for (i, r) in rows.iter().enumerate() {
        encode_targets(
            &r.labels,
            &index.annotated[r.ds],
            index.uncertain,
            &mut targets[i * k..(i + 1) * k],
            &mut mask[i * k..(i + 1) * k],
        );
    }
    Ok(Batch {
        images,
        n,
        targets,
        mask,
        ds: rows.iter().map(|r| r.ds).collect(),
    })
}
