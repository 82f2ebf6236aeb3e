//! The linear-probe feature cache (`fit --finetune linear`, `--feature-cache on`, the default).
//!
//! A linear probe's backbone is frozen, so its output for an image never changes: the standard
//! protocol computes the features once and trains the head on them. [`prepare`] runs the frozen
//! backbone once per split (train, val) in eval batches of `--batch` on the training device,
//! **without augmentation**, and keeps the head's input (the final-norm class token,
//! [`VisionTransformer::forward_cls`], `[N, D]` f32) with each row's targets, mask and dataset
//! in `<RUN>/features/{train,val}.safetensors` (written atomically). Every epoch then trains
//! only the head on them ([`super::step::head_step`]) in the order an uncached run sees its rows
//! ([`train_order`] replays [`super::data::spawn_batches`]'s seeded shuffle), and validates on the
//! cached val features; checkpoints stay full models (the frozen backbone plus the head).
//!
//! A file is reused only when its [`FeatureKey`] (stored in the safetensors metadata) equals
//! the run's: the weights (sha256, or the seed of a random init), the architecture, image size,
//! input normalisation, precision, the store's `_meta.json` sha256, datasets, labels, views,
//! uncertain policy, part files and the row order (row groups and their kept rows). A resumed
//! run reuses its files; anything else recomputes them.
//!
//! Rows are stored in the split's canonical order: the index's row groups in order, the kept rows
//! of each in store order (the order of an unshuffled pass).
//!
//! Memory: both splits are held on the host, `N × D × 4` bytes of features plus `2 × N × K × 4`
//! of targets and mask (ViT-B, D = 768: about 3 KB per image, 1.2 GB for MIMIC-CXR's ~370 k
//! train images); steps upload only their batch's rows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use burn::prelude::*;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::augment::Rng;
use super::data::{Batch, DataIndex, Pass, Unit, assemble, read_rows};
use super::fit::Log;
use crate::model::{InputNorm, Precision, VisionTransformer, grey_to_input};
use crate::run::config::{Init, TrainConfig, Uncertain, ViewFilter};
use crate::run::{InitReport, RunDir};

/// Folder of the cached features inside a run folder.
pub const FEATURES_DIR: &str = "features";
/// safetensors metadata entry holding the [`FeatureKey`] as JSON.
const META_KEY: &str = "cxr_feature_key";
/// Bumped when the file layout changes.
const FORMAT: u32 = 1;

/// What cached features depend on; a file is reused only when its key equals the run's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureKey {
    pub format: u32,
    /// `train` or `val`.
    pub split: String,
    pub init: Init,
    /// sha256 of the initial weights file (`None` for a random init).
    pub weights_sha256: Option<String>,
    /// The seed of a random init (it draws the backbone); `None` otherwise, so a seed sweep of
    /// a pretrained linear probe shares nothing it should not but recomputes nothing either.
    pub random_init_seed: Option<u64>,
    /// The architecture (`config.json`'s `vit_config`).
    pub vit_config: serde_json::Value,
    pub image_size: usize,
    pub input_norm: InputNorm,
    pub precision: Precision,
    /// sha256 of the store's `_meta.json` now.
    pub store_meta_sha256: String,
    pub datasets: Vec<String>,
    pub labels: Vec<String>,
    pub views: Vec<(String, ViewFilter)>,
    pub uncertain: Uncertain,
    /// Per dataset, the part files' names.
    pub parts: Vec<Vec<String>>,
    /// The row order: `[dataset, part, row group, kept rows]` per row group.
    pub units: Vec<[usize; 4]>,
}

impl FeatureKey {
    /// The key of `split` for a run with options `cfg`, model `vit_config`, initial weights `init`
    /// and the store as indexed now (`store_meta_sha256`, `index`).
    pub fn new(
        cfg: &TrainConfig,
        vit_config: &crate::model::ViTConfig,
        init: &InitReport,
        store_meta_sha256: &str,
        index: &DataIndex,
        split: &str,
    ) -> FeatureKey {
        let units = if split == "train" { &index.train } else { &index.val };
        FeatureKey {
            format: FORMAT,
            split: split.into(),
            init: cfg.init,
            weights_sha256: init.weights_sha256.clone(),
            random_init_seed: (cfg.init == Init::Random).then_some(cfg.seed),
            vit_config: serde_json::to_value(vit_config).unwrap_or_default(),
            image_size: cfg.image_size,
            input_norm: cfg.input_norm,
            precision: cfg.precision,
            store_meta_sha256: store_meta_sha256.into(),
            datasets: cfg.datasets.clone(),
            labels: cfg.labels.clone(),
            views: cfg.views.clone(),
            uncertain: cfg.uncertain,
            parts: index
                .datasets
                .iter()
                .map(|d| d.parts.iter().map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect())
                .collect(),
            units: units.iter().map(|u| [u.ds, u.part, u.row_group, u.rows]).collect(),
        }
    }
}

/// One split's features in its canonical row order.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitFeatures {
    /// Rows N.
    pub n: usize,
    /// Feature width D (the model's embed dim).
    pub d: usize,
    /// `[N, D]` final-norm class tokens.
    pub x: Vec<f32>,
    /// `[N, K]` targets in {0, 1}.
    pub targets: Vec<f32>,
    /// `[N, K]` loss mask in {0, 1}.
    pub mask: Vec<f32>,
    /// `[N]` dataset index.
    pub ds: Vec<usize>,
}

/// Rows of a [`SplitFeatures`] gathered for one step or validation batch.
#[derive(Debug, Clone)]
pub struct FeatureBatch {
    pub n: usize,
    pub d: usize,
    /// `[n, D]`.
    pub x: Vec<f32>,
    /// `[n, K]` targets and mask; `ds` per row.
    pub meta: Batch,
}

impl SplitFeatures {
    /// The rows `rows` (indices into the canonical order), in that order.
    pub fn gather(&self, rows: &[usize]) -> FeatureBatch {
        let (d, k) = (self.d, self.targets.len() / self.n.max(1));
        let mut x = Vec::with_capacity(rows.len() * d);
        let (mut targets, mut mask) = (Vec::with_capacity(rows.len() * k), Vec::with_capacity(rows.len() * k));
        for &r in rows {
            x.extend_from_slice(&self.x[r * d..(r + 1) * d]);
            targets.extend_from_slice(&self.targets[r * k..(r + 1) * k]);
            mask.extend_from_slice(&self.mask[r * k..(r + 1) * k]);
        }
        let meta = Batch { images: vec![], n: rows.len(), targets, mask, ds: rows.iter().map(|&r| self.ds[r]).collect() };
        FeatureBatch { n: rows.len(), d, x, meta }
    }
}

/// The cached features of both splits.
#[derive(Debug, Clone)]
pub struct Features {
    pub train: SplitFeatures,
    pub val: SplitFeatures,
}

/// The batches of epoch `epoch`'s training pass as row indices into the canonical order: the
/// same rows in the same batches as [`super::data::spawn_batches`] with `shuffle:
/// Some((seed, epoch))` (row groups shuffled, then the rows of each window of `window` row
/// groups, full batches cut, a last partial batch dropped unless it is the only one).
pub fn train_order(units: &[Unit], batch: usize, seed: u64, epoch: u64, window: usize) -> Vec<Vec<usize>> {
    let mut starts = Vec::with_capacity(units.len());
    let mut total = 0;
    for u in units {
        starts.push(total);
        total += u.rows;
    }
    let mut order: Vec<usize> = (0..units.len()).collect();
    Rng::keyed(&[seed, 1, epoch]).shuffle(&mut order);
    let (mut out, mut pool, mut emitted) = (Vec::new(), Vec::<usize>::new(), 0usize);
    for (w, chunk) in order.chunks(window.max(1)).enumerate() {
        for &u in chunk {
            pool.extend(starts[u]..starts[u] + units[u].rows);
        }
        Rng::keyed(&[seed, 2, epoch, w as u64]).shuffle(&mut pool);
        while pool.len() >= batch.max(1) {
            let rest = pool.split_off(batch.max(1));
            emitted += pool.len();
            out.push(std::mem::replace(&mut pool, rest));
        }
    }
    if !pool.is_empty() && emitted == 0 {
        out.push(pool);
    }
    out
}

/// The features of both splits for a run: read from `<RUN>/features/` when their key matches,
/// computed with `model` (the frozen backbone, on the training device) and saved otherwise.
/// Each split's outcome goes to `train.log`.
pub(super) fn prepare<B: Backend>(
    keys: [FeatureKey; 2],
    model: &VisionTransformer<B>,
    index: &Arc<DataIndex>,
    cfg: &TrainConfig,
    log: &Log,
) -> Result<Features, TrainError> {
    let [train_key, val_key] = keys;
    let get = |key: FeatureKey| -> Result<SplitFeatures, TrainError> {
        let path = feature_path(log.run, &key.split);
        let units = if key.split == "train" { &index.train } else { &index.val };
        let rows = units.iter().map(|u| u.rows).sum::<usize>();
        let shown = format!("{FEATURES_DIR}/{}.safetensors", key.split);
        let why = match load(&path, &key, rows, model.embed_dim()) {
            Ok(Some(f)) => {
                log.say(&format!("features: reused {} ({} rows × {}) from {shown}", key.split, f.n, f.d))?;
                return Ok(f);
            }
            Ok(None) if path.exists() => "its key differs from this run's",
            Ok(None) => "none cached",
            Err(_) => "the cached file is unreadable",
        };
        let t0 = Instant::now();
        let f = compute(model, index, units, &key.split, cfg)?;
        save(&path, &key, &f)?;
        log.say(&format!(
            "features: computed {} ({} rows × {}, no augmentation) in {:.1} s into {shown} ({why})",
            key.split,
            f.n,
            f.d,
            t0.elapsed().as_secs_f64()
        ))?;
        Ok(f)
    };
    Ok(Features { train: get(train_key)?, val: get(val_key)? })
}

/// `<RUN>/features/<split>.safetensors`.
pub fn feature_path(run: &RunDir, split: &str) -> PathBuf {
    run.root.join(FEATURES_DIR).join(format!("{split}.safetensors"))
}

/// Runs the frozen backbone over `units` of `split` in store order, `cfg.batch` images at a
/// time, without augmentation. A reader thread decodes the next batch while the device works.
fn compute<B: Backend>(
    model: &VisionTransformer<B>,
    index: &Arc<DataIndex>,
    units: &[Unit],
    split: &str,
    cfg: &TrainConfig,
) -> Result<SplitFeatures, TrainError> {
    let device = model.cls_token.device();
    let (tx, rx) = sync_channel::<Result<Batch, TrainError>>(cfg.prefetch.max(1));
    let (idx, todo, split_name, batch) = (index.clone(), units.to_vec(), split.to_string(), cfg.batch.max(1));
    let pass = Pass { units: vec![], batch, shuffle: None, window: 1, flip_p: 0.0, rotate_deg: 0.0, drop_last: false, prefetch: 1 };
    std::thread::spawn(move || {
        let mut pool = Vec::new();
        for u in &todo {
            let d = &idx.datasets[u.ds];
            match read_rows(&idx.files[u.ds][u.part], u.ds, Some(vec![u.row_group]), &split_name, &d.views, &idx.labels, true) {
                Ok(rows) => pool.extend(rows),
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
            while pool.len() >= batch {
                let rest = pool.split_off(batch);
                let rows = std::mem::replace(&mut pool, rest);
                if tx.send(assemble(&idx, &pass, 0, rows)).is_err() {
                    return;
                }
            }
        }
        if !pool.is_empty() {
            let _ = tx.send(assemble(&idx, &pass, 0, pool));
        }
    });
    let (s, d) = (cfg.image_size, model.embed_dim());
    let mut out = SplitFeatures { n: 0, d, x: vec![], targets: vec![], mask: vec![], ds: vec![] };
    for b in rx {
        let b = b?;
        let n = b.n;
        out.targets.extend_from_slice(&b.targets);
        out.mask.extend_from_slice(&b.mask);
        out.ds.extend_from_slice(&b.ds);
        let cls = model.forward_cls(grey_to_input::<B>(b.images, n, s, s, &device)); // [n, D]
        let v = cls.into_data().convert::<f32>().into_vec::<f32>().map_err(|e| TrainError::State {
            path: PathBuf::from(FEATURES_DIR),
            reason: format!("reading features: {e:?}"),
        })?;
        out.x.extend_from_slice(&v);
        out.n += n;
    }
    if out.n != units.iter().map(|u| u.rows).sum::<usize>() {
        return Err(TrainError::Worker);
    }
    Ok(out)
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Writes `f` with `key` in the metadata (tensors `features` `[N, D]`, `targets`/`mask`
/// `[N, K]` f32, `dataset` `[N]` u32), atomically.
fn save(path: &Path, key: &FeatureKey, f: &SplitFeatures) -> Result<(), TrainError> {
    let k = f.targets.len() / f.n.max(1);
    let ds: Vec<u8> = f.ds.iter().flat_map(|&d| (d as u32).to_le_bytes()).collect();
    let blobs = [
        ("features", Dtype::F32, vec![f.n, f.d], le_bytes(&f.x)),
        ("targets", Dtype::F32, vec![f.n, k], le_bytes(&f.targets)),
        ("mask", Dtype::F32, vec![f.n, k], le_bytes(&f.mask)),
        ("dataset", Dtype::U32, vec![f.n], ds),
    ];
    let state = |reason: String| TrainError::State { path: path.to_path_buf(), reason };
    let views = blobs
        .iter()
        .map(|(name, dt, shape, b)| TensorView::new(*dt, shape.clone(), b).map(|v| (name.to_string(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| state(e.to_string()))?;
    let meta = HashMap::from([(META_KEY.to_string(), serde_json::to_string(key).map_err(|e| state(e.to_string()))?)]);
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| state(e.to_string()))?;
    crate::fsutil::write_atomic(path, &bytes).map_err(|source| TrainError::Io { path: path.to_path_buf(), source })
}

/// The features in `path` when it exists and holds `key` with `rows × d` features; `Ok(None)`
/// when it is absent or its key differs; an error when it cannot be read or is malformed.
pub fn load(path: &Path, key: &FeatureKey, rows: usize, d: usize) -> Result<Option<SplitFeatures>, TrainError> {
    if !path.is_file() {
        return Ok(None);
    }
    let state = |reason: String| TrainError::State { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|source| TrainError::Io { path: path.to_path_buf(), source })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| state(e.to_string()))?;
    let stored = meta.metadata().as_ref().and_then(|m| m.get(META_KEY)).and_then(|s| serde_json::from_str::<FeatureKey>(s).ok());
    if stored.as_ref() != Some(key) {
        return Ok(None);
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| state(e.to_string()))?;
    let get = |name: &str, dt: Dtype| -> Result<(Vec<usize>, &[u8]), TrainError> {
        let t = st.tensor(name).map_err(|e| state(format!("{name}: {e}")))?;
        if t.dtype() != dt {
            return Err(state(format!("{name} is {:?}, not {dt:?}", t.dtype())));
        }
        Ok((t.shape().to_vec(), t.data()))
    };
    let k = key.labels.len();
    let (xs, x) = get("features", Dtype::F32)?;
    let (ts, t) = get("targets", Dtype::F32)?;
    let (ms, m) = get("mask", Dtype::F32)?;
    let (dss, ds) = get("dataset", Dtype::U32)?;
    if xs != [rows, d] || ts != [rows, k] || ms != [rows, k] || dss != [rows] {
        return Err(state(format!("shapes {xs:?} {ts:?} {ms:?} {dss:?}, expected [{rows}, {d}], [{rows}, {k}], [{rows}]")));
    }
    Ok(Some(SplitFeatures {
        n: rows,
        d,
        x: f32s(x),
        targets: f32s(t),
        mask: f32s(m),
        ds: ds.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as usize).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(rows: usize, rg: usize) -> Unit {
        Unit { ds: 0, part: 0, row_group: rg, rows }
    }

    /// Every row once per epoch in full batches (a partial last batch dropped), shuffled
    /// differently per epoch, the same for the same (seed, epoch).
    #[test]
    fn train_order_is_a_seeded_drop_last_permutation() {
        let units = [unit(10, 0), unit(7, 1), unit(5, 2)];
        let a = train_order(&units, 4, 3, 1, 2);
        assert_eq!(a, train_order(&units, 4, 3, 1, 2));
        assert_ne!(a, train_order(&units, 4, 3, 2, 2));
        assert!(a.iter().all(|b| b.len() == 4));
        let mut seen: Vec<usize> = a.concat();
        assert_eq!(seen.len(), 20);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 20);
        // Fewer rows than a batch: the only batch is kept.
        assert_eq!(train_order(&[unit(3, 0)], 8, 0, 1, 1).concat().len(), 3);
    }
}
