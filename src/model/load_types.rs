//! The public vocabulary of checkpoint loading: what to load ([`LoadTarget`]), what happened
//! ([`LoadReport`], serialisable into run configs) and why it failed ([`LoadError`]).

use std::path::PathBuf;

use burn_store::pytorch::PytorchError;
use serde::{Deserialize, Serialize};

use super::checkpoint::CheckpointSource;
use super::config::{InputNorm, ViTConfig};
use super::pos_embed::{PosEmbedResample, ResampleError};

/// What the caller wants to obtain from a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadTarget {
    /// Model input side in pixels (224 in the study).
    pub img_size: usize,
    /// Classifier outputs; the checkpoint head is kept only if it has exactly this many.
    pub num_classes: usize,
    /// Attention heads; `None` = stored config, else `embed_dim / 64`.
    pub num_heads: Option<usize>,
    /// Position-grid resampling; `None` = per source: Hugging Face -> `BicubicSize` (what
    /// `Dinov2Model` does), everything else -> `Dinov2Hub` (what the study's torch.hub model does).
    pub resample: Option<PosEmbedResample>,
    /// Input normalisation baked into the model's forward.
    pub input_norm: InputNorm,
}

impl LoadTarget {
    /// Target with per-source defaults and no input normalisation.
    pub fn new(img_size: usize, num_classes: usize) -> Self {
        Self {
            img_size,
            num_classes,
            num_heads: None,
            resample: None,
            input_norm: InputNorm::None,
        }
    }
}

/// A position-grid change made at load time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PosEmbedResampling {
    /// Checkpoint grid side M.
    pub from_grid: usize,
    /// Model grid side G.
    pub to_grid: usize,
    /// Method used.
    pub method: PosEmbedResample,
}

/// What [`super::load_vit`] did, for run configs and logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Detected checkpoint source.
    pub source: CheckpointSource,
    /// The architecture that was built (inferred from the tensors + target).
    pub config: ViTConfig,
    /// Checkpoint tensors written into the model (timm keys).
    pub applied: Vec<String>,
    /// Model tensors the checkpoint did not provide (burn paths; only `head.*` can be here).
    pub missing: Vec<String>,
    /// Checkpoint tensors dropped on purpose (known extras and a replaced head).
    pub unused: Vec<String>,
    /// Set when `pos_embed` was resampled.
    pub resampled_pos_embed: Option<PosEmbedResampling>,
    /// True when the head was freshly initialised for `num_classes`.
    pub head_reinitialized: bool,
    /// Class count of the checkpoint's own head, if it had one.
    pub checkpoint_classes: Option<usize>,
    /// Position grid side the checkpoint was trained at.
    pub checkpoint_grid: usize,
}

/// Why a checkpoint could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a valid safetensors file.
    #[error("{path} is not a valid safetensors file")]
    Safetensors {
        path: PathBuf,
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// Not a readable PyTorch pickle / zip file.
    #[error("{path} is not a readable PyTorch checkpoint")]
    Pytorch {
        path: PathBuf,
        #[source]
        source: PytorchError,
    },
    /// One tensor could not be decoded or combined.
    #[error("{path}: tensor `{key}`: {reason}")]
    Tensor {
        path: PathBuf,
        key: String,
        reason: String,
    },
    /// A tensor the architecture needs is absent.
    #[error("{path}: required tensor `{key}` is missing")]
    MissingKey { path: PathBuf, key: String },
    /// The checkpoint uses an architecture feature this model lacks.
    #[error("{path}: unsupported architecture feature: {what}")]
    Unsupported { path: PathBuf, what: String },
    /// The architecture could not be inferred.
    #[error("{path}: cannot infer the architecture: {reason}")]
    Inference { path: PathBuf, reason: String },
    /// The inferred architecture plus target is not a valid config.
    #[error("{path}: invalid model config: {reason}")]
    Config { path: PathBuf, reason: String },
    /// Position-embedding resampling failed.
    #[error("{path}: cannot resample pos_embed")]
    Resample {
        path: PathBuf,
        #[source]
        source: ResampleError,
    },
    /// A tensor's shape disagrees with the model.
    #[error("{path}: shape mismatches: {details:?}")]
    ShapeMismatch { path: PathBuf, details: Vec<String> },
    /// Tensors missing from the file or left unused beyond the allowed ones.
    #[error("{path}: incomplete load: missing in file {missing:?}, unused in file {unused:?}")]
    Incomplete {
        path: PathBuf,
        missing: Vec<String>,
        unused: Vec<String>,
    },
}
