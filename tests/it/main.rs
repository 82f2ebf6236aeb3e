//! Integration tests, one module per stage in data-flow order.

mod common;

// vocabulary, manifests, store schema (golden files under schemas/)
mod vocabulary;
// ingest: real metadata excerpts, counts equal an independent pandas count
mod metadata_counts;
// ingest: DICOM / PNG / JPEG decoding on real radiographs in several transfer syntaxes
mod decode;
// harmonize: split rules and label mapping
mod harmonize;
// harmonize: resize, min-max, histogram equalisation against OpenCV
mod pixels;
// ingest with images: layouts, rejects, path escapes, re-ingest, resume
// mod ingest_images;
// store: `cxr-prep validate` on a valid store and on corrupted copies
mod validate;
// ingest interrupted (SIGKILL) and resumed, --overwrite, changed options, determinism
mod resume;
