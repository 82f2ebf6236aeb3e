//! The `cxr-prep ingest` command line as a library type: its flags, their translation into
//! [`IngestOptions`], and the exit rule on rejects, so the binary only parses and dispatches.

use std::path::PathBuf;

use clap::ValueEnum;

use super::{IngestOptions, IngestSummary, StoredOptions};
use crate::harmonize::pixels::Fit;
use crate::manifest::Dataset;

/// `cxr-prep ingest DATASET --root R --out S [options]`.
#[derive(Debug, Clone, clap::Args)]
pub struct IngestArgs {
    /// Which dataset the folder holds (the built-in manifests' names)
    #[arg(value_enum)]
    pub dataset: Dataset,
    /// The dataset folder as downloaded (metadata files are found by their official names)
    #[arg(long)]
    pub root: PathBuf,
    /// The store folder (several datasets share one store)
    #[arg(long)]
    pub out: PathBuf,
    /// Write every metadata row without reading images (image column null)
    #[arg(long)]
    pub metadata_only: bool,
    /// Decoding threads (0 = all cores)
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Output side length in pixels
    #[arg(long, default_value_t = 224)]
    pub size: u32,
    /// How non-square images become square (stretch: the study)
    #[arg(long, value_enum, default_value = "stretch")]
    pub fit: Fit,
    /// Skip the global histogram equalisation (the study equalises)
    #[arg(long)]
    pub no_equalize: bool,
    /// Apply the DICOM VOI LUT / window (the study does not)
    #[arg(long)]
    pub voi_lut: bool,
    /// Fast path, opt-in: decode large JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) that
    /// still covers --size. Faster, but not what the full decode stores: on real 2500 x 2048
    /// radiographs up to mean 2.3 / max 106 grey levels away (README "Fast paths")
    #[arg(long)]
    pub fast_jpeg: bool,
    /// Fast path, opt-in: decode JPEG 2000 DICOM only up to the wavelet level whose image still
    /// covers --size. About 20x faster, but lossless files are then not stored as their
    /// uncompressed twin (real RG1 CR: mean 3.6 / max 137 grey levels away)
    #[arg(long)]
    pub fast_j2k: bool,
    /// Full-resolution JPEG decode: the default since the fast path became opt-in (accepted so
    /// that older command lines still run)
    #[arg(long, hide = true, conflicts_with = "fast_jpeg")]
    pub full_res_jpeg: bool,
    /// Full-resolution JPEG 2000 decode: the default since the fast path became opt-in
    #[arg(long, hide = true, conflicts_with = "fast_j2k")]
    pub full_res_j2k: bool,
    /// Seed of the patient-level hash splits
    #[arg(long, default_value_t = 0)]
    pub split_seed: u64,
    /// Rows per Parquet part file (also the resume granularity)
    #[arg(long, default_value_t = 2048)]
    pub rows_per_part: usize,
    /// Use this manifest instead of the built-in one for DATASET
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Exit non-zero on any reject
    #[arg(long)]
    pub strict: bool,
    /// Exit non-zero when more than this fraction of rows is rejected
    #[arg(long, default_value_t = 0.05)]
    pub max_reject_fraction: f64,
    /// Start over: discard an interrupted ingest, allow changed options
    #[arg(long)]
    pub overwrite: bool,
    /// Process only shard K of N (e.g. 2/8) into the shared store; run once more without
    /// --shard after all shards finished to merge them into the partition
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

impl IngestArgs {
    /// The ingest these flags ask for.
    pub fn options(&self) -> IngestOptions {
        let fit = self.fit.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default();
        let stored = StoredOptions {
            metadata_only: self.metadata_only,
            size: self.size,
            fit,
            equalize: !self.no_equalize,
            voi_lut: self.voi_lut,
            split_seed: self.split_seed,
            rows_per_part: self.rows_per_part,
            jpeg_dct_scaling: self.fast_jpeg,
            j2k_reduce: self.fast_j2k,
        };
        IngestOptions {
            dataset: self.dataset.name().to_string(),
            root: self.root.clone(),
            store: self.out.clone(),
            manifest: self.manifest.clone(),
            threads: self.threads,
            overwrite: self.overwrite,
            shard: self.shard,
            stored,
        }
    }

    /// `Some(message)` when the run's rejects break the limit (`--strict`: any reject;
    /// otherwise more than `--max-reject-fraction` of the rows read): the exit status is then 1.
    pub fn reject_limit_exceeded(&self, s: &IngestSummary) -> Option<String> {
        if (self.strict && s.rejects > 0) || s.reject_fraction() > self.max_reject_fraction {
            let limit = if self.strict {
                "--strict".to_string()
            } else {
                format!("--max-reject-fraction {}", self.max_reject_fraction)
            };
            Some(format!(
                "{} rejects ({:.2}%) exceed the limit ({limit}); see the summary above",
                s.rejects,
                100.0 * s.reject_fraction()
            ))
        } else {
            None
        }
    }
}

/// Parses `--shard K/N` (1 <= K <= N).
pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 2/8")?;
    let k: usize = k.trim().parse().map_err(|_| format!("bad shard index `{k}`"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("bad shard count `{n}`"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse() {
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        assert_eq!(parse_shard(" 1 / 1 "), Ok((1, 1)));
        for bad in ["0/4", "5/4", "1/0", "2-8", "a/4"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fit_values_are_the_stored_names() {
        let names: Vec<String> =
            Fit::value_variants().iter().filter_map(|f| f.to_possible_value()).map(|v| v.get_name().to_string()).collect();
        assert_eq!(names, ["stretch", "pad", "center-crop"]);
    }
}
