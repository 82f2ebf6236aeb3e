//! Per-row work of an ingest: harmonize the metadata, resolve the image path inside the root,
//! decode and preprocess. Every failure becomes a [`Reject`]; panics inside third-party
//! decoders are caught here and never take the run down.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::harmonize::{self, pixels::PixelOptions};
use crate::ingest::decode::{self, DecodeOptions};
use crate::ingest::paths::{self, PathProblem};
use crate::ingest::record::Nulled;
use crate::ingest::{RawRecord, RowError};
use crate::manifest::Manifest;
use crate::store::rejects::{error_chain, Reject, RejectKind};
use crate::store::row::{StoreRow, StoredImage};

/// Read-only context shared by the workers.
pub struct Context<'a> {
    pub manifest: &'a Manifest,
    pub annotated: &'a [bool],
    pub seed: u64,
    pub root: &'a Path,
    pub root_canon: PathBuf,
    pub metadata_only: bool,
    pub decode: DecodeOptions,
    pub pixels: PixelOptions,
}

thread_local! {
    /// Set while a worker runs third-party decoders under `catch_unwind`.
    static IN_DECODER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs a panic hook that stays silent for panics caught around decoders (they become
/// rejects with the message) and defers to the previous hook for everything else.
pub fn install_quiet_decoder_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_DECODER.with(|f| f.get()) {
            previous(info);
        }
    }));
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Turns a row-level metadata error into a reject.
pub fn row_reject(e: RowError) -> Reject {
    Reject {
        file: e.file,
        row: e.row,
        line: e.line,
        image_id: e.image_id.unwrap_or_default(),
        source_path: String::new(),
        stage: RejectKind::MalformedMetadataRow.stage(),
        kind: RejectKind::MalformedMetadataRow,
        reason: e.reason,
    }
}

/// A record made into a store row.
#[derive(Debug, Clone)]
pub struct Processed {
    pub row: StoreRow,
    /// Optional values stored as null (see [`Nulled`]).
    pub nulled: Vec<Nulled>,
    /// The decoder's notes on the image (see [`decode::DecodedImage::notes`]).
    pub notes: Vec<String>,
}

/// Processes one record into a store row or a reject.
pub fn process(ctx: &Context, file: &str, rec: RawRecord) -> Result<Processed, Reject> {
    let reject = |kind: RejectKind, source_path: &str, reason: String| Reject {
        file: file.to_string(),
        row: rec.row,
        line: rec.line,
        image_id: rec.image_id.clone(),
        source_path: source_path.to_string(),
        stage: kind.stage(),
        kind,
        reason,
    };
    let harmonize::Harmonized { row, nulled } = harmonize::harmonize(ctx.manifest, ctx.annotated, ctx.seed, &rec).map_err(|e| reject(e.reject_kind(), "", e.to_string()))?;
    if ctx.metadata_only {
        let first = rec.image_paths.first().cloned().unwrap_or_default();
        if !paths::is_contained(&first) {
            let p = first.display().to_string();
            return Err(reject(RejectKind::PathEscapesRoot, &p, PathProblem::Escapes(p.clone()).to_string()));
        }
        let row = StoreRow { row, source_path: first.display().to_string(), image: None };
        return Ok(Processed { row, nulled, notes: Vec::new() });
    }
    let rel = paths::resolve(ctx.root, &ctx.root_canon, &rec.image_paths).map_err(|p| {
        let (kind, path) = match &p {
            PathProblem::Escapes(s) => (RejectKind::PathEscapesRoot, s),
            PathProblem::SymlinkEscapes(s) => (RejectKind::SymlinkEscapesRoot, s),
            PathProblem::Missing(s) => (RejectKind::MissingImageFile, s),
        };
        reject(kind, path, p.to_string())
    })?;
    let src = rel.display().to_string();
    let full = ctx.root.join(&rel);
    IN_DECODER.with(|f| f.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let img = decode::decode_file(&full, &ctx.decode).map_err(|e| (RejectKind::UndecodableImage, error_chain(&e)))?;
        let pixels = harmonize::pixels::preprocess(&img, &ctx.pixels)
            .map_err(|e| (RejectKind::PreprocessingFailed, error_chain(&e)))?;
        Ok::<_, (RejectKind, String)>((pixels, img.notes))
    }));
    IN_DECODER.with(|f| f.set(false));
    let (pixels, notes) = match result {
        Ok(Ok(p)) => p,
        Ok(Err((kind, reason))) => return Err(reject(kind, &src, format!("{src}: {reason}"))),
        Err(p) => return Err(reject(RejectKind::DecoderPanic, &src, format!("{src}: decoder panicked: {}", panic_message(p)))),
    };
    let side = ctx.pixels.size as u16;
    let row = StoreRow { row, source_path: src, image: Some(StoredImage { height: side, width: side, pixels }) };
    Ok(Processed { row, nulled, notes })
}
