//! The run folder of `cxr-train fit`: the contract between training, evaluation and export.
//!
//! ```text
//! <RUN>/
//!   config.json                    every option + resolved labels/views, model config, init report,
//!                                  store fingerprint, data counts and pos-weights (written first)
//!   metrics.csv, metrics.json      one row / object per finished epoch (rewritten each epoch)
//!   train.log                      timestamped events (start, epochs, checkpoints, early stop)
//!   curve.png                      train/val loss (left) and val AUROC (right) per epoch
//!   checkpoints/best.safetensors   best mean val AUROC (+ best.json sidecar: labels, vit_config, …)
//!   checkpoints/last.safetensors   last finished epoch (+ last.json)
//!   checkpoints/last.state/        model.bin + optim.bin (burn records) + state.json, for --resume
//!   predictions/<split>.parquet    written by `cxr-train evaluate <RUN>` (`<split>-bf16.parquet` in bf16)
//! ```
//!
//! | file | job |
//! |---|---|
//! | `config.rs` | [`TrainConfig`] (the `config` of `config.json`), [`Init`], [`Uncertain`], [`ViewFilter`], lr schedule |
//! | `record.rs` | [`RunConfig`] (`config.json`), [`EpochMetrics`], [`TrainerState`], [`InitReport`] |
//! | `curve.rs` | `curve.png` |
//! | `weights.rs` | resolving `--weights` (a file or a run folder) and the labels of its outputs |
//! | `export.rs` | `cxr-train export`: a run's checkpoint → timm-named safetensors + sidecar |

pub mod config;
pub mod curve;
pub mod export;
pub mod record;
pub mod sidecar;
pub mod weights;

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use config::{Init, ModelKind, Schedule, TrainConfig, Uncertain, ViewFilter};
pub use record::{DataSummary, DatasetFingerprint, EpochMetrics, LabelCount, InitReport, RunConfig, StoreFingerprint, TrainerState};
pub use weights::{ResolvedWeights, WeightsError, checkpoint_file, resolve_weights};
use crate::model::Precision;

const CONFIG: &str = "config.json";
/// The model record (burn `BinFileRecorder`, full precision) in `last.state/`.
pub const STATE_MODEL: &str = "model.bin";
/// The optimizer record in `last.state/`.
pub const STATE_OPTIM: &str = "optim.bin";
/// The [`TrainerState`] in `last.state/`.
pub const STATE_JSON: &str = "state.json";
const CHECKPOINTS: &str = "checkpoints";

/// Errors reading or writing a run folder.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("Run folder `{path}`: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("Cannot read or write `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Plot(#[from] crate::plot::PlotError),
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
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG)
    }
    /// `checkpoints/<which>.safetensors` (`which`: `best` or `last`); its sidecar is the same
    /// path with `.json`.
    pub fn checkpoint(&self, which: &str) -> PathBuf {
        self.root.join(CHECKPOINTS).join(format!("{which}.safetensors"))
    }
    /// `checkpoints/last.state/`: [`STATE_MODEL`], [`STATE_OPTIM`], [`STATE_JSON`].
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(CHECKPOINTS).join("last.state")
    }
    /// `predictions/<split>.parquet` for f32 predictions, `predictions/<split>-<precision>.parquet`
    /// otherwise.
    pub fn predictions(&self, split: &str, precision: Precision) -> PathBuf {
        let name = match precision {
            Precision::F32 => format!("{split}.parquet"),
            other => format!("{split}-{other}.parquet"),
        };
        self.root.join("predictions").join(name)
    }

    fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
        move |source| RunError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Creates the folder tree.
    pub fn create(&self) -> Result<(), RunError> {
        let ck = self.root.join(CHECKPOINTS);
        std::fs::create_dir_all(&ck).map_err(Self::io(&ck))
    }

    /// Writes JSON atomically (temp + rename).
    pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RunError> {
        let text = serde_json::to_string_pretty(value).map_err(|e| RunError::Invalid {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        write_atomic(path, text.as_bytes())
    }

    /// Reads a JSON file of the run.
    pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, RunError> {
        let text = std::fs::read_to_string(path).map_err(Self::io(path))?;
        serde_json::from_str(&text).map_err(|e| RunError::Invalid {
            path: path.to_path_buf(),
            reason: format!("not valid: {e}"),
        })
    }

    /// Appends a timestamped line to `train.log` (and nothing else: the CLI prints).
    pub fn log(&self, line: &str) -> Result<(), RunError> {
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
    pub fn write_metrics(&self, metrics: &[EpochMetrics]) -> Result<(), RunError> {
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
        curve::curve_png(&self.root.join("curve.png"), metrics)?;
        Ok(())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    crate::fsutil::write_atomic(path, bytes).map_err(RunDir::io(path))
}

