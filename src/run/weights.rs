//! Resolving `--weights` — a weights file, or a run folder (its best checkpoint) — and the
//! labels of the model's outputs, read from the JSON sidecar next to the file.

use std::path::{Path, PathBuf};

use crate::labels::finding_index;
use crate::model::ViTConfig;

/// Errors resolving weights.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("Weights `{0}` not found (give a .safetensors/.pth file or a run folder)")]
    Missing(PathBuf),
    #[error("Sidecar `{path}` is not valid")]
    Sidecar {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("The model's labels are unknown: `{0}` has no sidecar JSON; pass --labels a,b,… in output order")]
    NoLabels(PathBuf),
    #[error("Label `{0}` is not a finding of the store vocabulary")]
    UnknownLabel(String),
}

/// A weights file with the labels and configuration recorded next to it.
#[derive(Debug, Clone)]
pub struct ResolvedWeights {
    pub file: PathBuf,
    pub labels: Vec<String>,
    /// The exported model configuration, when the sidecar has one.
    pub vit_config: Option<ViTConfig>,
}

/// The checkpoint file of a run folder (`checkpoints/<which>.safetensors`) or the file itself.
pub fn checkpoint_file(run: &Path, which: &str) -> PathBuf {
    if run.is_dir() { super::RunDir::new(run).checkpoint(which) } else { run.to_path_buf() }
}

/// Resolves `--weights` (file or run folder, whose `best` checkpoint is used) and the labels
/// of the model's outputs: `labels` when given, else the sidecar's.
pub fn resolve_weights(path: &Path, labels: Option<&[String]>) -> Result<ResolvedWeights, WeightsError> {
    let file = checkpoint_file(path, "best");
    if !file.is_file() {
        return Err(WeightsError::Missing(file));
    }
    let sidecar = file.with_extension("json");
    let (side_labels, vit_config) = if sidecar.is_file() {
        let s = super::sidecar::Sidecar::read(&sidecar).map_err(|e| WeightsError::Sidecar {
            path: sidecar.clone(),
            source: match e {
                super::sidecar::SidecarError::Read { source, .. } => serde_json::Error::io(source),
                super::sidecar::SidecarError::Parse { source, .. } => source,
            },
        })?;
        (s.labels, s.vit_config)
    } else {
        (None, None)
    };
    let labels = match (labels, side_labels) {
        (Some(l), _) => l.to_vec(),
        (None, Some(l)) => l,
        (None, None) => return Err(WeightsError::NoLabels(file)),
    };
    for l in &labels {
        if finding_index(l).is_none() {
            return Err(WeightsError::UnknownLabel(l.clone()));
        }
    }
    Ok(ResolvedWeights { file, labels, vit_config })
}
