//! The embedded default: synthesize the six datasets in their native layouts, ingest each into
//! one store, and compute label statistics — the whole `cxr-prep` path on any machine.

use std::path::{Path, PathBuf};

use super::{run_ingest, IngestOptions, IngestSummary, PrepError, StoredOptions};
use crate::synth::{synthesize, SynthConfig, SynthError};

/// Demo errors.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("Writing the synthetic corpus failed")]
    Synth(#[from] SynthError),
    #[error("Ingest of the synthetic {dataset} failed")]
    Ingest { dataset: String, #[source] source: Box<PrepError> },
}

/// What the demo produced.
pub struct DemoReport {
    /// Folder holding the six synthetic datasets as downloaded.
    pub data: PathBuf,
    /// The store.
    pub store: PathBuf,
    pub ingests: Vec<IngestSummary>,
}

/// Runs synth → ingest ×6 into `<out>/data` and `<out>/store`.
pub fn run_demo(out: &Path, images_per_dataset: usize, size: u32, threads: usize) -> Result<DemoReport, DemoError> {
    let data = out.join("data");
    let store = out.join("store");
    let mut cfg = SynthConfig::new(&data);
    cfg.images_per_dataset = images_per_dataset;
    let report = synthesize(&cfg)?;
    let mut ingests = Vec::new();
    for (dataset, root, _) in &report.datasets {
        let opts = IngestOptions {
            dataset: dataset.clone(),
            root: root.clone(),
            store: store.clone(),
            manifest: None,
            threads,
            overwrite: true,
            shard: None,
            stored: StoredOptions { size, ..StoredOptions::default() },
        };
        let summary = run_ingest(&opts).map_err(|source| DemoError::Ingest { dataset: dataset.clone(), source: Box::new(source) })?;
        ingests.push(summary);
    }
    Ok(DemoReport { data, store, ingests })
}
