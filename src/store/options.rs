//! The options that shape the stored rows of a dataset: recorded per dataset in `_meta.json`
//! (typed, see [`meta::DatasetMeta`](super::meta::DatasetMeta)) and in the staging folder of an
//! ingest in progress; a partition is only resumed or replaced under equal options.
//!
//! Compatibility: fields added after the first store version carry `#[serde(default)]` with the
//! value that reproduces what older stores did, so every `_meta.json` ever written still reads.

use serde::{Deserialize, Serialize};

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
    /// `--fast-jpeg`: decode large JPEGs at a reduced DCT scale that still covers the output
    /// size (faster; outside the exact path's tolerance on real radiographs, so opt-in);
    /// `false` (default) = full-resolution decode as in the study.
    #[serde(default)]
    pub jpeg_dct_scaling: bool,
    /// `--fast-j2k`: decode JPEG 2000 DICOM only up to the wavelet level that still covers the
    /// output size (faster; opt-in for the same reason); `false` (default) = full resolution,
    /// bit-exact for lossless files. Absent in stores made before the option existed, which
    /// decoded at full resolution.
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
            jpeg_dct_scaling: false,
            j2k_reduce: false,
        }
    }
}

impl StoredOptions {
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
