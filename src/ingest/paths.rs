//! Resolving image paths from metadata safely: a path that would leave `--root` (absolute,
//! `..`, or a symlink pointing outside) is refused and never read.

use std::path::{Component, Path, PathBuf};

/// Why an image path was not usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathProblem {
    /// The metadata path is absolute or climbs out with `..`.
    Escapes(String),
    /// The file exists but resolves (through a symlink) outside the root.
    SymlinkEscapes(String),
    /// None of the candidates exists.
    Missing(String),
}

impl std::fmt::Display for PathProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathProblem::Escapes(p) => write!(f, "path `{p}` escapes the dataset root (absolute or `..`)"),
            PathProblem::SymlinkEscapes(p) => write!(f, "path `{p}` resolves outside the dataset root"),
            PathProblem::Missing(p) => write!(f, "image file `{p}` not found"),
        }
    }
}

/// True when a relative path stays lexically inside its base.
pub fn is_contained(rel: &Path) -> bool {
    rel.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// First existing candidate, checked to stay inside `root` (`root_canon` = canonical root).
pub fn resolve(root: &Path, root_canon: &Path, candidates: &[PathBuf]) -> Result<PathBuf, PathProblem> {
    for c in candidates {
        if !is_contained(c) {
            return Err(PathProblem::Escapes(c.display().to_string()));
        }
    }
    for c in candidates {
        let full = root.join(c);
        if full.is_file() {
            let canon = full.canonicalize().map_err(|_| PathProblem::Missing(c.display().to_string()))?;
            if !canon.starts_with(root_canon) {
                return Err(PathProblem::SymlinkEscapes(c.display().to_string()));
            }
            return Ok(c.clone());
        }
    }
    Err(PathProblem::Missing(candidates.first().map(|c| c.display().to_string()).unwrap_or_default()))
}
