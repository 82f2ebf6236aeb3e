//! `cxr-train predict`: run a model over store images and write a predictions file (with each
//! image's stored labels, dataset, sex, age and view).
//!
//! Input tensors follow the study: the stored 8-bit grey image replicated to 3 channels and
//! scaled to `[0, 1]` (`[B, 3, H, W]` f32); no mean/std normalisation unless the model carries
//! one (`--imagenet-norm` at load time, recorded in the run config / sidecar).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::sigmoid;

use super::predictions::{Predictions, PredictionsError};
use crate::model::{load_vit, InputNorm, LoadError, LoadTarget, Precision, VisionTransformer};
use crate::run::{resolve_weights, RunConfig, RunDir, RunError, WeightsError};
use crate::store::reader::{RowQuery, StoreReader};
use crate::store::StoreError;

/// Errors of `predict`.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("Image `{image_id}` of `{dataset}` has {got} bytes, not {size}×{size} (the store's size)")]
    ImageSize { dataset: String, image_id: String, got: usize, size: usize },
    #[error("Dataset `{dataset}` is not in the store (it has: {available})")]
    UnknownDataset { dataset: String, available: String },
    #[error("Datasets of one predictions file must share one image size; found {0:?}")]
    MixedSizes(Vec<(String, u32)>),
    #[error("No image of the selected datasets/split has pixels (was the store ingested with --metadata-only?)")]
    NoImages,
    #[error("Loading the model failed")]
    Load(#[from] LoadError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Predictions(#[from] PredictionsError),
}

/// Validated settings of one `predict` run.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    /// A weights file, or a run folder (its `checkpoints/best.safetensors`).
    pub weights: PathBuf,
    pub store: PathBuf,
    /// Datasets to predict (`None` = every dataset of the store).
    pub datasets: Option<Vec<String>>,
    /// Splits to predict (`None` = all).
    pub splits: Option<Vec<String>>,
    pub out: PathBuf,
    /// Output labels in model order when the weights carry none.
    pub labels: Option<Vec<String>>,
    /// Images per forward pass.
    pub batch: usize,
    /// Apply ImageNet mean/std inside the model (overrides what the weights carry).
    pub imagenet_norm: bool,
    /// Attention heads, for weight files that neither record them nor use 64-wide heads.
    pub num_heads: Option<usize>,
    /// Matmul precision of the forward passes.
    pub precision: Precision,
}

/// Predicts a run's `split` of the datasets and store it was trained on (read from the run's
/// `config.json`) into `<RUN>/predictions/<split>.parquet` (`<split>-bf16.parquet` when
/// predicting in bf16), unless that file exists. Returns its path. `precision`: `None` = the
/// precision the run was trained in.
pub fn predict_run<B: Backend>(
    run: &Path,
    split: &str,
    precision: Option<Precision>,
    device: &B::Device,
) -> Result<PathBuf, PredictError> {
    let run_dir = RunDir::new(run);
    let saved = RunConfig::read(&run_dir.config())?.config;
    let precision = precision.unwrap_or(saved.precision);
    let out = run_dir.predictions(split, precision);
    if out.is_file() {
        return Ok(out);
    }
    let opts = PredictOptions {
        weights: run.to_path_buf(),
        store: saved.store,
        datasets: Some(saved.datasets),
        splits: Some(vec![split.to_string()]),
        out: out.clone(),
        labels: None,
        batch: 64,
        imagenet_norm: false,
        num_heads: None,
        precision,
    };
    predict::<B>(&opts, device)?;
    Ok(out)
}

/// `[B, 3, H, W]` in `[0, 1]` from stored 8-bit grey images (all `h × w`), via
/// [`crate::model::grey_to_input`] (u8 upload, conversion on the device).
pub fn images_to_tensor<B: Backend>(images: &[&[u8]], h: usize, w: usize, device: &B::Device) -> Tensor<B, 4> {
    crate::model::grey_to_input(images.concat(), images.len(), h, w, device)
}

/// Runs the model over the selected store rows; returns the predictions (also written to `out`).
pub fn predict<B: Backend>(opts: &PredictOptions, device: &B::Device) -> Result<Predictions, PredictError> {
    let reader = StoreReader::open(&opts.store)?;
    let datasets: Vec<String> = match &opts.datasets {
        Some(d) => d.clone(),
        None => reader.meta.datasets.keys().cloned().collect(),
    };
    let mut sizes = Vec::new();
    for d in &datasets {
        let m = reader.dataset(d).ok_or_else(|| PredictError::UnknownDataset {
            dataset: d.clone(),
            available: reader.meta.datasets.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        sizes.push((d.clone(), m.options.size));
    }
    if sizes.windows(2).any(|w| w[0].1 != w[1].1) {
        return Err(PredictError::MixedSizes(sizes));
    }
    let Some(&(_, size)) = sizes.first() else { return Err(PredictError::NoImages) };
    let size = size as usize;
    let w = resolve_weights(&opts.weights, opts.labels.as_deref())?;
    let mut target = LoadTarget::new(size, w.labels.len());
    target.input_norm = match (&w.vit_config, opts.imagenet_norm) {
        (_, true) => InputNorm::ImageNet,
        (Some(c), false) => c.input_norm,
        (None, false) => InputNorm::None,
    };
    target.num_heads = opts.num_heads.or(w.vit_config.as_ref().map(|c| c.num_heads));
    let (model, _report): (VisionTransformer<B>, _) = load_vit(&w.file, &target, device)?;
    let model = model.with_precision(opts.precision);
    let query = RowQuery { splits: opts.splits.clone(), views: None, images: true, findings: w.labels.clone() };
    let mut out = Predictions::new(w.labels.clone());
    for d in &datasets {
        for batch in reader.read_dataset(d, &query, opts.batch.max(1))? {
            let batch: Vec<_> = batch?.into_iter().filter(|s| !s.pixels.is_empty()).collect();
            if batch.is_empty() {
                continue;
            }
            if let Some(s) = batch.iter().find(|s| s.pixels.len() != size * size) {
                return Err(PredictError::ImageSize {
                    dataset: d.clone(),
                    image_id: s.image_id.clone(),
                    got: s.pixels.len(),
                    size,
                });
            }
            let imgs: Vec<&[u8]> = batch.iter().map(|s| s.pixels.as_slice()).collect();
            let x = images_to_tensor::<B>(&imgs, size, size, device);
            let probs = sigmoid(model.forward(x)).into_data().into_vec::<f32>().unwrap_or_default();
            let k = w.labels.len();
            for (i, s) in batch.iter().enumerate() {
                out.image_id.push(s.image_id.clone());
                out.patient_id.push(s.patient_id.clone());
                out.split.push(s.split.clone());
                out.dataset.push(Some(d.clone()));
                for f in 0..k {
                    out.y[f].push(s.labels[f]);
                    out.p[f].push(probs.get(i * k + f).copied().unwrap_or(f32::NAN));
                }
            }
        }
    }
    if out.is_empty() {
        return Err(PredictError::NoImages);
    }
    // Sex, age and view for the subgroup analysis, from the store's metadata columns.
    super::attributes::join_store(&mut out, &opts.store)?;
    out.write(&opts.out)?;
    Ok(out)
}
