//! The run folder of `cxr-train fit`.
//!
//! ```text
//! <RUN>/
//!   config.json                    every option + resolved labels/views, model config, init report,
//!                                  store fingerprint, data counts and pos-weights (written first)
//!   metrics.csv, metrics.json      one row / object per finished epoch (rewritten each epoch)
//!   train.log                      timestamped events (start, epochs, checkpoints, early stop)
//!   curve.png                      train/val loss (left) and mean val AUROC (right) per epoch
//!   checkpoints/best.safetensors   best mean val AUROC (+ best.json sidecar: labels, vit_config, …)
//!   checkpoints/last.safetensors   last finished epoch (+ last.json)
//!   checkpoints/last.state/        model.bin + optim.bin (burn records) + state.json, for --resume
//! ```
//!
//! The checkpoints are the layout `cxr-train predict --weights <RUN>` and `cxr-train export`
//! read.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

use super::TrainError;
use super::config::TrainConfig;
use super::init::InitReport;
use crate::model::ViTConfig;

/// Store provenance recorded in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreFingerprint {
    /// sha256 of `<STORE>/_meta.json`.
    pub meta_sha256: String,
    /// Per dataset: manifest sha256, ingest time and row count.
    pub datasets: BTreeMap<String, serde_json::Value>,
}

/// Rows and label statistics the run trains on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    pub train_rows: usize,
    pub val_rows: usize,
    pub steps_per_epoch: usize,
    /// Train and val rows skipped because none of the run's labels is stated for them
    /// (absent in config.json files of earlier versions: 0).
    #[serde(default)]
    pub skipped_unlabelled: (u64, u64),
    /// Per label: `{ counted, positives, pos_weight }` over the train rows.
    pub labels: BTreeMap<String, serde_json::Value>,
}

/// `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub tool: String,
    pub created_at: String,
    pub config: TrainConfig,
    pub vit_config: ViTConfig,
    pub init: InitReport,
    pub store: StoreFingerprint,
    pub data: DataSummary,
    pub device: String,
}

impl RunConfig {
    /// Reads and checks a run's `config.json`: a missing field, a wrong type, garbage or values
    /// a run cannot use (see [`TrainConfig::check`], [`ViTConfig::validate`], a head whose size
    /// differs from the labels) fail with [`TrainError::RunDir`] naming the file.
    pub fn read(path: &Path) -> Result<RunConfig, TrainError> {
        let rc: RunConfig = RunDir::read_json(path)?;
        let bad = |reason: String| TrainError::RunDir {
            path: path.to_path_buf(),
            reason: format!("not a usable run config: {reason}"),
        };
        rc.config.check().map_err(bad)?;
        rc.vit_config.validate().map_err(bad)?;
        if rc.vit_config.num_classes != rc.config.labels.len() {
            return Err(bad(format!(
                "vit_config.num_classes {} differs from the {} labels",
                rc.vit_config.num_classes,
                rc.config.labels.len()
            )));
        }
        Ok(rc)
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub steps: usize,
    pub lr: f64,
    pub train_loss: f64,
    pub val_loss: f64,
    /// Mean over (dataset, label) pairs with both classes in val; `None` if there is none.
    pub val_auroc_mean: Option<f64>,
    /// dataset → label → AUROC (`None`: one class only in val).
    pub val_auroc: BTreeMap<String, BTreeMap<String, Option<f64>>>,
    pub images_per_s: f64,
    pub seconds: f64,
}

/// Trainer state for `--resume` (`checkpoints/last.state/state.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    pub epochs_done: usize,
    pub global_step: usize,
    pub best_auroc: Option<f64>,
    pub best_epoch: Option<usize>,
    /// Epochs since the best one (for `--patience`).
    pub bad_epochs: usize,
    pub metrics: Vec<EpochMetrics>,
}

impl TrainerState {
    /// The state before the first epoch.
    pub fn new() -> TrainerState {
        TrainerState {
            epochs_done: 0,
            global_step: 0,
            best_auroc: None,
            best_epoch: None,
            bad_epochs: 0,
            metrics: vec![],
        }
    }
}

impl Default for TrainerState {
    fn default() -> Self {
        Self::new()
    }
}

/// Paths of a run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: &Path) -> RunDir {
        RunDir {
            root: root.to_path_buf(),
        }
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    pub fn checkpoint(&self, which: &str) -> PathBuf {
        self.root
            .join("checkpoints")
            .join(format!("{which}.safetensors"))
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("checkpoints").join("last.state")
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
        move |source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Creates the folder tree.
    pub fn create(&self) -> Result<(), TrainError> {
        let ck = self.root.join("checkpoints");
        std::fs::create_dir_all(&ck).map_err(Self::io(&ck))
    }

    /// Writes JSON atomically (temp + rename).
    pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
        let text = serde_json::to_string_pretty(value).map_err(|e| TrainError::RunDir {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(path, text.as_bytes())
    }

    /// Reads a JSON file of the run.
    pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, TrainError> {
        let text = std::fs::read_to_string(path).map_err(Self::io(path))?;
        serde_json::from_str(&text).map_err(|e| TrainError::RunDir {
            path: path.to_path_buf(),
            reason: format!("not valid: {e}"),
        })
    }

    /// Appends a timestamped line to `train.log` (and nothing else: the CLI prints).
    pub fn log(&self, line: &str) -> Result<(), TrainError> {
        let path = self.root.join("train.log");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(Self::io(&path))?;
        writeln!(
            f,
            "{} {line}",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        )
        .map_err(Self::io(&path))
    }

    /// Rewrites `metrics.csv`, `metrics.json` and `curve.png` from all finished epochs.
    pub fn write_metrics(&self, metrics: &[EpochMetrics]) -> Result<(), TrainError> {
        let mut csv = String::from(
            "epoch,steps,lr,train_loss,val_loss,val_auroc_mean,images_per_s,seconds\n",
        );
        for m in metrics {
            let auc = m
                .val_auroc_mean
                .map_or(String::new(), |a| format!("{a:.6}"));
            csv.push_str(&format!(
                "{},{},{:e},{:.6},{:.6},{auc},{:.1},{:.2}\n",
                m.epoch, m.steps, m.lr, m.train_loss, m.val_loss, m.images_per_s, m.seconds
            ));
        }
        write_atomic(&self.root.join("metrics.csv"), csv.as_bytes())?;
        Self::write_json(&self.root.join("metrics.json"), &metrics)?;
        let png = self.root.join("curve.png");
        curve(metrics).save(&png).map_err(|e| TrainError::RunDir {
            path: png,
            reason: e.to_string(),
        })
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(RunDir::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(RunDir::io(path))
}

/// 800×300 plot: left panel train (blue) and val (orange) loss on their observed range; right
/// panel mean val AUROC on a fixed 0.4–1.0 axis with the 0.5 chance line in grey.
fn curve(metrics: &[EpochMetrics]) -> RgbImage {
    let (w, h, pw) = (800u32, 300u32, 380u32);
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    let frame = |img: &mut RgbImage, x0: u32| {
        for x in x0..x0 + pw {
            img.put_pixel(x, 20, Rgb([200, 200, 200]));
            img.put_pixel(x, h - 20, Rgb([120, 120, 120]));
        }
        for y in 20..h - 20 {
            img.put_pixel(x0, y, Rgb([120, 120, 120]));
        }
    };
    frame(&mut img, 10);
    frame(&mut img, 410);
    let n = metrics.len().max(2) - 1;
    let px = |x0: u32, i: usize| x0 as f64 + 5.0 + (pw as f64 - 10.0) * i as f64 / n as f64;
    let py = |v: f64, lo: f64, hi: f64| {
        (h as f64 - 20.0) - (h as f64 - 40.0) * ((v - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0)
    };
    let losses: Vec<f64> = metrics
        .iter()
        .flat_map(|m| [m.train_loss, m.val_loss])
        .filter(|v| v.is_finite())
        .collect();
    let lo = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // The loss axis spans the observed range with 10 % margins (losses rarely approach 0 here).
    let pad = ((hi - lo) * 0.1).max(1e-3);
    let (lo, hi) = (lo - pad, hi + pad);
    let series =
        |img: &mut RgbImage, x0: u32, vals: Vec<Option<f64>>, lo: f64, hi: f64, c: Rgb<u8>| {
            let pts: Vec<(f64, f64)> = vals
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (px(x0, i), py(v, lo, hi))))
                .collect();
            for p in &pts {
                dot(img, p.0, p.1, c);
            }
            for s in pts.windows(2) {
                line(img, s[0], s[1], c);
            }
        };
    if hi.is_finite() {
        series(
            &mut img,
            10,
            metrics.iter().map(|m| Some(m.train_loss)).collect(),
            lo,
            hi,
            Rgb([31, 119, 180]),
        );
        series(
            &mut img,
            10,
            metrics.iter().map(|m| Some(m.val_loss)).collect(),
            lo,
            hi,
            Rgb([255, 127, 14]),
        );
    }
    let chance = py(0.5, 0.4, 1.0);
    line(
        &mut img,
        (415.0, chance),
        (785.0, chance),
        Rgb([180, 180, 180]),
    );
    series(
        &mut img,
        410,
        metrics.iter().map(|m| m.val_auroc_mean).collect(),
        0.4,
        1.0,
        Rgb([214, 39, 40]),
    );
    img
}

fn dot(img: &mut RgbImage, x: f64, y: f64, c: Rgb<u8>) {
    for dx in -2i32..=2 {
        for dy in -2i32..=2 {
            let (xx, yy) = (x as i32 + dx, y as i32 + dy);
            if xx >= 0 && yy >= 0 && (xx as u32) < img.width() && (yy as u32) < img.height() {
                img.put_pixel(xx as u32, yy as u32, c);
            }
        }
    }
}

fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), c: Rgb<u8>) {
    let steps = ((b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil() as usize).max(1);
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (x, y) = (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t);
        if x >= 0.0 && y >= 0.0 && (x as u32) < img.width() && (y as u32) < img.height() {
            img.put_pixel(x as u32, y as u32, c);
        }
    }
}
