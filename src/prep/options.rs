//! Validated settings of one `cxr-prep ingest` run (the CLI never reaches below this type).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::harmonize::pixels::{Fit, PixelOptions};
use crate::ingest::decode::DecodeOptions;

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

/// The options that shape stored rows; saved in `_meta.json` and the staging folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredOptions {
    /// Write metadata rows only (image null), without reading images.
    pub metadata_only: bool,
    /// Output side length in pixels.
    pub size: u32,
    /// `stretch` (study), `pad` or `center-crop`.
    pub fit: String,
    /// Global histogram equalisation after min-max to 8 bit (study: on).
    pub equalize: bool,
    /// Apply the DICOM VOI LUT / window (study: off).
    pub voi_lut: bool,
    /// Seed of the patient-level hash splits.
    pub split_seed: u64,
    /// Rows per part file (also the resume granularity).
    pub rows_per_part: usize,
    /// Decode large JPEGs at a reduced DCT scale that still covers the output size (faster,
    /// anti-aliased); `false` = full-resolution decode as in the study.
    #[serde(default)]
    pub jpeg_dct_scaling: bool,
    /// Decode JPEG 2000 DICOM only up to the wavelet level that still covers the output size
    /// (faster, anti-aliased); `false` = full resolution (bit-exact for lossless files). Absent
    /// in stores made before the option existed, which decoded at full resolution.
    #[serde(default)]
    pub j2k_reduce: bool,
}

impl Default for StoredOptions {
    fn default() -> Self {
        StoredOptions {
            metadata_only: false,
            size: 224,
            fit: "stretch".into(),
            equalize: true,
            voi_lut: false,
            split_seed: 0,
            rows_per_part: 2048,
            jpeg_dct_scaling: true,
            j2k_reduce: true,
        }
    }
}

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

    /// Validates ranges and names.
    pub fn check(&self) -> Result<(), String> {
        if !(8..=4096).contains(&self.size) {
            return Err(format!("--size {} outside 8..4096", self.size));
        }
        if !["stretch", "pad", "center-crop"].contains(&self.fit.as_str()) {
            return Err(format!("--fit `{}` is not stretch, pad or center-crop", self.fit));
        }
        if self.rows_per_part == 0 {
            return Err("--rows-per-part must be positive".into());
        }
        Ok(())
    }
}
