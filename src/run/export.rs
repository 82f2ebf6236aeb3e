//! `cxr-train export`: a run's checkpoint (or any checkpoint with its sidecar) → timm-named
//! safetensors + JSON sidecar that loads back into PyTorch with `timm.create_model` +
//! `load_state_dict` (see `model` module docs). The model is loaded and re-exported, so the
//! output is verified to be a complete, consistent model.

use std::path::{Path, PathBuf};

use super::checkpoint_file;
use crate::model::{export_safetensors, load_vit, ExportError, ExportOutput, ExportSidecar, LoadError, LoadTarget, Preprocessing, ViTConfig, VisionTransformer};
use crate::runtime::Cpu;

/// Errors of `export`.
#[derive(Debug, thiserror::Error)]
pub enum ExportRunError {
    #[error("Checkpoint `{0}` not found")]
    Missing(PathBuf),
    #[error("Sidecar `{path}` is missing or invalid ({problem})")]
    Sidecar { path: PathBuf, problem: String },
    #[error("Cannot create the output folder `{path}`")]
    Io { path: PathBuf, #[source] source: std::io::Error },
    #[error("Loading the checkpoint failed")]
    Load(#[from] LoadError),
    #[error("Writing the export failed")]
    Export(#[from] ExportError),
}

/// Exports `run`'s `which` checkpoint (or the checkpoint file `run`) to `out`.
pub fn export_run(run: &Path, which: &str, out: &Path) -> Result<ExportOutput, ExportRunError> {
    let file = checkpoint_file(run, which);
    if !file.is_file() {
        return Err(ExportRunError::Missing(file));
    }
    let side_path = file.with_extension("json");
    let bad = |problem: String| ExportRunError::Sidecar { path: side_path.clone(), problem };
    let text = std::fs::read_to_string(&side_path).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let field = |k: &str| v.get(k).cloned().ok_or_else(|| bad(format!("no `{k}`")));
    let labels: Vec<String> = serde_json::from_value(field("labels")?).map_err(|e| bad(e.to_string()))?;
    let preprocessing: Preprocessing = serde_json::from_value(field("preprocessing")?).map_err(|e| bad(e.to_string()))?;
    let cfg: ViTConfig = serde_json::from_value(field("vit_config")?).map_err(|e| bad(e.to_string()))?;
    let timm_model_name = v.get("timm_model_name").and_then(|n| n.as_str()).map(str::to_string);
    let mut target = LoadTarget::new(cfg.img_size, labels.len());
    target.num_heads = Some(cfg.num_heads);
    target.input_norm = cfg.input_norm;
    let device = Default::default();
    let (model, report): (VisionTransformer<Cpu>, _) = load_vit(&file, &target, &device)?;
    if report.head_reinitialized {
        return Err(bad(format!("{} labels but the checkpoint head has another size", labels.len())));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ExportRunError::Io { path: parent.to_path_buf(), source })?;
    }
    Ok(export_safetensors(&model, out, &ExportSidecar { labels, preprocessing, timm_model_name })?)
}
