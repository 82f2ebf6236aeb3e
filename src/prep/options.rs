//! Validated settings of one `cxr-prep ingest` run (the CLI never reaches below this type).

use std::path::PathBuf;

use crate::harmonize::pixels::{Fit, PixelOptions};
use crate::ingest::decode::DecodeOptions;
pub use crate::store::options::StoredOptions;

/// Everything an ingest needs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub dataset: String,
    /// Dataset folder as downloaded.
    pub root: PathBuf,
    /// Store folder (created if absent).
    pub store: PathBuf,
    /// A manifest file replacing the built-in one.
    pub manifest: Option<PathBuf>,
    /// Worker threads for decoding (0 = all cores).
    pub threads: usize,
    /// Start over: discard a staged (interrupted) ingest and allow changed options.
    pub overwrite: bool,
    /// `Some((k, n))`: process only chunks `i` with `i % n == k - 1` (1-based shard `k` of `n`)
    /// into the shared staging folder and stop; a final run without a shard merges.
    pub shard: Option<(usize, usize)>,
    /// Options recorded in the store; a partition is only resumed/replaced under equal ones.
    pub stored: StoredOptions,
}

/// How the stored options drive the ingest stages (an inherent impl beside the stages it
/// configures, so the store type itself imports no stage).
impl StoredOptions {
    /// Pixel-stage settings.
    pub fn pixel_options(&self) -> PixelOptions {
        let fit = match self.fit.as_str() {
            "pad" => Fit::Pad,
            "center-crop" => Fit::CenterCrop,
            _ => Fit::Stretch,
        };
        PixelOptions { size: self.size, fit, equalize: self.equalize }
    }

    /// Decoder settings.
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            voi_lut: self.voi_lut,
            jpeg_min_side: self.jpeg_dct_scaling.then_some(self.size),
            j2k_min_side: self.j2k_reduce.then_some(self.size),
        }
    }
}
