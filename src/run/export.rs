//! `cxr-train export`: a run's checkpoint (or any checkpoint with its sidecar) → timm-named
//! safetensors + JSON sidecar that loads back into PyTorch with `timm.create_model` +
//! `load_state_dict` (see `model` module docs). The model is loaded and re-exported, so the
//! output is verified to be a complete, consistent model.

use std::path::{Path, PathBuf};

use super::checkpoint_file;
use crate::model::{export_safetensors, load_vit, ExportError, ExportOutput, ExportSidecar, LoadError, LoadTarget, VisionTransformer};
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
    let side = super::sidecar::Sidecar::read(&side_path).map_err(|e| {
        bad(match e {
            super::sidecar::SidecarError::Read { source, .. } => source.to_string(),
            super::sidecar::SidecarError::Parse { source, .. } => source.to_string(),
        })
    })?;
    let labels = side.labels.ok_or_else(|| bad("no `labels`".into()))?;
    let preprocessing = side.preprocessing.ok_or_else(|| bad("no `preprocessing`".into()))?;
    let cfg = side.vit_config.ok_or_else(|| bad("no `vit_config`".into()))?;
    let timm_model_name = side.timm_model_name;
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
