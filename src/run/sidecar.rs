//! The JSON sidecar next to a checkpoint (`checkpoints/<which>.json`, or `<file>.json` next to
//! any weights file), read back as the same typed struct ([`Sidecar`], defined next to its
//! writer `model::export_safetensors`). A user may also hand-write one for foreign weights with
//! only `labels`, so every field is optional and its absence is decided by the caller. Unknown
//! fields are ignored; a field of the wrong type is an error naming the file, never silently
//! dropped.

use std::path::{Path, PathBuf};

pub use crate::model::Sidecar;

/// Why a sidecar could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error("Reading sidecar `{path}` failed")]
    Read { path: PathBuf, #[source] source: std::io::Error },
    #[error("Sidecar `{path}` is not valid")]
    Parse { path: PathBuf, #[source] source: serde_json::Error },
}

impl Sidecar {
    /// Reads the sidecar at `path`.
    pub fn read(path: &Path) -> Result<Sidecar, SidecarError> {
        let text = std::fs::read_to_string(path).map_err(|source| SidecarError::Read { path: path.to_path_buf(), source })?;
        serde_json::from_str(&text).map_err(|source| SidecarError::Parse { path: path.to_path_buf(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_unknown_fields_and_wrong_types() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.json");
        std::fs::write(&p, r#"{"labels": ["Mass"], "weights_sha256": "ab"}"#).unwrap();
        let s = Sidecar::read(&p).unwrap();
        assert_eq!(s.labels, Some(vec!["Mass".to_string()]));
        assert!(s.vit_config.is_none() && s.preprocessing.is_none() && s.timm_model_name.is_none());
        std::fs::write(&p, r#"{"labels": "Mass"}"#).unwrap();
        let e = Sidecar::read(&p).unwrap_err();
        assert!(matches!(e, SidecarError::Parse { .. }) && e.to_string().contains("w.json"), "{e}");
        assert!(matches!(Sidecar::read(&dir.path().join("none.json")), Err(SidecarError::Read { .. })));
    }
}
