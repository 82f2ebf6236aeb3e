//! Stage 4, train: `cxr-train fit` — multi-label fine-tuning of the ViT on the store.
//!
//! ```text
//! cxr-train fit --store S --dataset nih --init imagenet --weights vit_b16_in21k.safetensors --out runs/nih-in21k
//! cxr-train fit --store S --dataset mimic --init imagenet --weights … --out runs/mimic-sl      # MIMIC pretraining
//! cxr-train fit --store S --dataset vindr --init mimic --weights runs/mimic-sl --out runs/vindr-mimic
//! cxr-train fit --store S --dataset nih,padchest --labels all --out runs/pooled …              # pooled, masked loss
//! cxr-train fit --resume --out runs/nih-in21k                                                 # after a kill
//! ```
//!
//! | file | job |
//! |---|---|
//! | `labels.rs` | the study's label sets and view filters per dataset; `--labels` resolution |
//! | `augment.rs` | flip + rotation on 8-bit images into `[3, H, W]` f32; the keyed PRNG |
//! | `data.rs` | store → index (counts, pos-weights) → shuffled, augmented batches on worker threads |
//! | `loss.rs` | targets/mask encoding and the masked BCE-with-logits with `pos_weight` |
//! | `init.rs` | building the model from `--init`/`--weights`/`--model` |
//! | `resolve.rs` | the request against the store: datasets, size, labels, views, parts, fingerprint |
//! | `fit.rs` | how a run starts (fresh, restart, resume), the model and AdamW for that start |
//! | `epoch.rs` | the epoch loop: schedule, steps, validation, best/last checkpoints, early stop |
//! | `step.rs` | one optimizer step (single device or data-parallel), device-side loss sums, the validation pass |
//! | `features.rs` | linear probes: the frozen backbone's features computed once per split, cached in the run, keyed |
//! | `bench.rs` | `cxr-train bench`: training-step images/s |
//! | `parity.rs` | `cxr-train bench --parity`: backends and precisions compared on the same weights |
//!
//! The options ([`TrainConfig`]) and everything the run folder records are types of
//! [`crate::run`], the folder `predict`, `evaluate` and `export` read.
//!
//! Differences from the study (paper.md §4), on purpose: validation is the store's `val` split
//! (the study validated on its test split); the best checkpoint is chosen by mean val AUROC,
//! not by hand; pos-weights are counted on the rows actually trained on (after the view filter
//! and the uncertain policy) instead of every train row; findings a dataset does not annotate
//! are masked, which makes pooled multi-dataset training possible. MIMIC transfer: the study
//! cut each target to the label subset the MIMIC head had; here `--init mimic` transfers the
//! backbone and gives the target a new head for its own full label set (the head is kept only
//! when the labels are identical), so all three inits are compared on the same labels.
//!
//! Precision: f32 by default (the study). `--precision bf16` is mixed precision done by hand
//! (burn 0.21 has no autocast, see [`crate::model::Precision`]): bf16 matmuls, f32 parameters,
//! gradients, AdamW state, checkpoints and resume records. It is recorded in `config.json`.
//!
//! The step loop never waits for the device: batches go up as 8-bit grey `[n, 1, s, s]` and
//! become f32 RGB on the device; step losses are summed on the device and read every
//! 25 steps and at the end of the epoch; every tensor is created on the training thread (burn
//! 0.21 keeps a GPU memory pool per thread that outlives the thread).
//!
//! Several GPUs (`--device cuda:0,cuda:1`): each batch is split into one shard per device, each
//! device runs a forked model copy on its shard, and the gradients are combined by burn's own
//! `MultiGradientsParams` + `Optimizer::step_multi` (no home-made exchange). Shards are launched
//! from one thread (CUDA kernels are asynchronous, so devices overlap). The path is tested on
//! two handles of the CPU device: it gives the single-device result.

pub mod augment;
pub mod bench;
pub mod parity;
pub mod data;
mod epoch;
pub mod features;
pub mod fit;
pub mod init;
pub mod labels;
pub mod loss;
pub mod resolve;
pub mod step;

use std::path::PathBuf;

pub use crate::run::{Init, ModelKind, Schedule, TrainConfig, Uncertain, ViewFilter};
pub use fit::{FitOutcome, FitRequest, Start, fit};

/// Errors of `cxr-train fit`.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("Dataset `{dataset}` is not in the store `{store}` (it has: {available})")]
    UnknownDataset {
        dataset: String,
        store: PathBuf,
        available: String,
    },
    #[error("Dataset `{dataset}` has no `{split}` rows after the view filter {views:?}")]
    EmptySplit {
        dataset: String,
        split: String,
        views: ViewFilter,
    },
    #[error(
        "Dataset `{dataset}` was ingested without images (--metadata-only); training needs pixels"
    )]
    NoPixels { dataset: String },
    #[error(
        "No study label set is known for dataset `{dataset}`; pass --labels a,b,… or --labels all"
    )]
    NoStudyLabels { dataset: String },
    #[error(
        "Label `{label}` is not annotated by {datasets}; pick labels the store has (--labels all lists them)"
    )]
    LabelNotAnnotated { label: String, datasets: String },
    #[error("Label `{0}` is not a finding of the vocabulary (see schemas/labels.toml)")]
    UnknownLabel(String),
    #[error("No labels selected")]
    NoLabels,
    #[error(
        "Images of `{dataset}` are {stored} px but the run asks for {wanted} px (re-ingest with --size {wanted} or pass --size {stored})"
    )]
    SizeMismatch {
        dataset: String,
        stored: usize,
        wanted: usize,
    },
    #[error("Invalid option: {0}")]
    Option(String),
    #[error("Weights: {0}")]
    Weights(String),
    #[error("Weights `{path}` are a {found} model, but --init/--model ask for {wanted}")]
    WrongArchitecture {
        path: PathBuf,
        found: String,
        wanted: String,
    },
    #[error("Loading the weights failed")]
    Load(#[from] crate::model::LoadError),
    #[error("Writing a checkpoint failed")]
    Export(#[from] crate::model::ExportError),
    #[error("Saving or loading the training state `{path}` failed: {reason}")]
    State { path: PathBuf, reason: String },
    #[error("Run folder `{path}`: {reason}")]
    RunDir { path: PathBuf, reason: String },
    #[error(transparent)]
    Run(#[from] crate::run::RunError),
    #[error("Cannot write `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("A data worker thread stopped before the end of the pass (it panicked)")]
    Worker,
    #[error("Training diverged: the loss is {loss} at epoch {epoch}, step {step}")]
    Diverged {
        epoch: usize,
        step: usize,
        loss: f64,
    },
}
