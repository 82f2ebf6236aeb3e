//! What a run folder records: `config.json` ([`RunConfig`]), one [`EpochMetrics`] per finished
//! epoch (`metrics.json`) and the trainer state of `checkpoints/last.state/state.json`
//! ([`TrainerState`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::{RunDir, RunError};
use crate::model::{LoadReport, ViTConfig};

/// What the initialisation did (saved in `config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitReport {
    /// The weights file read (`None` for random).
    pub weights_file: Option<PathBuf>,
    /// sha256 of that file.
    pub weights_sha256: Option<String>,
    /// The labels of a `mimic` source run, in its head order.
    pub source_labels: Option<Vec<String>>,
    /// True when the classifier head is new (always, except a `mimic` source with equal labels).
    pub head_reinitialized: bool,
    pub load: Option<LoadReport>,
}

/// Store provenance recorded in `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreFingerprint {
    /// sha256 of `<STORE>/_meta.json`.
    pub meta_sha256: String,
    /// Per dataset: manifest sha256, ingest time and row count.
    pub datasets: BTreeMap<String, DatasetFingerprint>,
}

/// One dataset of [`StoreFingerprint`], as its `_meta.json` entry said when the run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetFingerprint {
    pub manifest_sha256: String,
    /// RFC 3339 time of the ingest.
    pub ingested_at: String,
    pub rows: u64,
}

/// One label of [`DataSummary::labels`], over the train rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelCount {
    /// Rows where the label is stated (positive or negative).
    pub counted: u64,
    pub positives: u64,
    /// BCE positive weight `(counted − positives) / positives`, 1.0 without positives.
    pub pos_weight: f32,
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
    /// Per label: counts and BCE weight over the train rows.
    pub labels: BTreeMap<String, LabelCount>,
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
    /// differs from the labels) fail with [`RunError::Invalid`] naming the file. A `config.json` written before an
    /// option existed reads with that option's default (`precision` = f32, no skipped rows).
    pub fn read(path: &Path) -> Result<RunConfig, RunError> {
        let rc: RunConfig = RunDir::read_json(path)?;
        let bad = |reason: String| RunError::Invalid {
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

impl TrainerState {
    /// Whether an epoch whose mean val AUROC is `mean` becomes the best: a higher mean than the
    /// best so far (the first of equals stays); an epoch without a mean only while there is no
    /// best epoch yet.
    pub fn improves(&self, mean: Option<f64>) -> bool {
        match (mean, self.best_auroc) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            (None, _) => self.best_epoch.is_none(),
        }
    }
}

impl Default for TrainerState {
    fn default() -> Self {
        Self::new()
    }
}

