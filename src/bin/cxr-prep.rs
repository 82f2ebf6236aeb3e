//! `cxr-prep`: ingest chest X-ray datasets as published into one harmonized Parquet store,
//! and answer label statistics. Thin: parse, validate, call the library, map exit codes.
//!
//! Exit codes: 0 success; 1 the run completed but rejects exceed `--max-reject-fraction`
//! (or any reject with `--strict`); 2 fatal error (missing metadata, unwritable store, bad options).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use cxr::prep::{run_ingest, IngestOptions, IngestSummary, StoredOptions};
use cxr::stats::render::{render, Format};

#[derive(Parser)]
#[command(name = "cxr-prep", version, about = "Ingest chest X-ray datasets into a harmonized Parquet store")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Dataset {
    /// NIH ChestX-ray14
    Nih,
    /// CheXpert (v1.0 or v1.0-small)
    Chexpert,
    /// MIMIC-CXR-JPG (or MIMIC-CXR DICOM)
    Mimic,
    /// PadChest
    Padchest,
    /// VinDr-CXR (PhysioNet) or VinBigData (Kaggle)
    Vindr,
    /// UKA-CXR through the cxr CSV template
    Uka,
}

impl Dataset {
    fn name(self) -> &'static str {
        match self {
            Dataset::Nih => "nih",
            Dataset::Chexpert => "chexpert",
            Dataset::Mimic => "mimic",
            Dataset::Padchest => "padchest",
            Dataset::Vindr => "vindr",
            Dataset::Uka => "uka",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Fit {
    /// Resize without keeping the aspect ratio (the study)
    Stretch,
    /// Letterbox to a square, then resize
    Pad,
    /// Keep the central square, then resize
    CenterCrop,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutFormat {
    Table,
    Csv,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest one dataset from the folder it was downloaded to
    Ingest {
        /// Which dataset the folder holds
        #[arg(value_enum)]
        dataset: Dataset,
        /// The dataset folder as downloaded (metadata files are found by their official names)
        #[arg(long)]
        root: PathBuf,
        /// The store folder (several datasets share one store)
        #[arg(long)]
        out: PathBuf,
        /// Write every metadata row without reading images (image column null)
        #[arg(long)]
        metadata_only: bool,
        /// Decoding threads (0 = all cores)
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Output side length in pixels
        #[arg(long, default_value_t = 224)]
        size: u32,
        /// How non-square images become square
        #[arg(long, value_enum, default_value = "stretch")]
        fit: Fit,
        /// Skip the global histogram equalisation (the study equalises)
        #[arg(long)]
        no_equalize: bool,
        /// Apply the DICOM VOI LUT / window (the study does not)
        #[arg(long)]
        voi_lut: bool,
        /// Decode JPEGs at full resolution (default: DCT-scaled to the smallest 1/2, 1/4 or 1/8
        /// that still covers --size, which is faster and anti-aliased)
        #[arg(long)]
        full_res_jpeg: bool,
        /// Decode JPEG 2000 DICOM at full resolution (default: only the wavelet levels whose
        /// image still covers --size, which is faster; lossless files are bit-exact only at full
        /// resolution)
        #[arg(long)]
        full_res_j2k: bool,
        /// Seed of the patient-level hash splits
        #[arg(long, default_value_t = 0)]
        split_seed: u64,
        /// Rows per Parquet part file (also the resume granularity)
        #[arg(long, default_value_t = 2048)]
        rows_per_part: usize,
        /// Use this manifest instead of the built-in one for DATASET
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// Exit non-zero on any reject
        #[arg(long)]
        strict: bool,
        /// Exit non-zero when more than this fraction of rows is rejected
        #[arg(long, default_value_t = 0.05)]
        max_reject_fraction: f64,
        /// Start over: discard an interrupted ingest, allow changed options
        #[arg(long)]
        overwrite: bool,
        /// Process only shard K of N (e.g. 2/8) into the shared store; run once more without
        /// --shard after all shards finished to merge them into the partition
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Label statistics per dataset and finding, images and patients per split and view
    Stats {
        /// The store folder
        store: PathBuf,
        /// Only this dataset
        #[arg(long)]
        dataset: Option<String>,
        /// Only this split (train, val, test)
        #[arg(long)]
        split: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: OutFormat,
    },
    /// Write a small synthetic corpus in the six datasets' native layouts
    Synth {
        /// Output folder (one sub-folder per dataset, plus vindr-kaggle)
        #[arg(long)]
        out: PathBuf,
        /// Images per dataset
        #[arg(long, default_value_t = 120)]
        n: usize,
        /// Image side in pixels
        #[arg(long, default_value_t = 256)]
        size: u32,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// The embedded default: synth -> ingest all six -> stats, in OUT/data and OUT/store
    Demo {
        #[arg(long, default_value = "cxr-demo")]
        out: PathBuf,
        /// Images per dataset
        #[arg(long, default_value_t = 120)]
        n: usize,
        /// Stored image side in pixels
        #[arg(long, default_value_t = 224)]
        size: u32,
        /// Decoding threads (0 = all cores)
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Check a store against its contract (schema, splits, duplicates, labels, images, counts); exit 1 on any violation
    Validate {
        /// The store folder
        store: PathBuf,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print the store schema (JSON) and the finding vocabulary (TOML), or write them to DIR
    Schema {
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 2/8")?;
    let k: usize = k.trim().parse().map_err(|_| format!("bad shard index `{k}`"))?;
    let n: usize = n.trim().parse().map_err(|_| format!("bad shard count `{n}`"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

fn ingest_exit(s: &IngestSummary, strict: bool, max_fraction: f64) -> ExitCode {
    if (strict && s.rejects > 0) || s.reject_fraction() > max_fraction {
        eprintln!(
            "error: {} rejects ({:.2}%) exceed the limit ({}); see the summary above",
            s.rejects,
            100.0 * s.reject_fraction(),
            if strict { "--strict".to_string() } else { format!("--max-reject-fraction {max_fraction}") }
        );
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest {
            dataset, root, out, metadata_only, threads, size, fit, no_equalize, voi_lut, full_res_jpeg, full_res_j2k, split_seed,
            rows_per_part, manifest, strict, max_reject_fraction, overwrite, shard, json,
        } => {
            let stored = StoredOptions {
                metadata_only,
                size,
                fit: match fit {
                    Fit::Stretch => "stretch",
                    Fit::Pad => "pad",
                    Fit::CenterCrop => "center-crop",
                }
                .into(),
                equalize: !no_equalize,
                voi_lut,
                split_seed,
                rows_per_part,
                jpeg_dct_scaling: !full_res_jpeg,
                j2k_reduce: !full_res_j2k,
            };
            let opts = IngestOptions { dataset: dataset.name().into(), root, store: out, manifest, threads, overwrite, shard, stored };
            let summary = run_ingest(&opts).with_context(|| format!("ingest of {} failed", dataset.name()))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{summary}");
            }
            Ok(ingest_exit(&summary, strict, max_reject_fraction))
        }
        Command::Stats { store, dataset, split, format } => {
            let stats = cxr::stats::compute(&store, dataset.as_deref(), split.as_deref())?;
            let format = match format {
                OutFormat::Table => Format::Table,
                OutFormat::Csv => Format::Csv,
                OutFormat::Json => Format::Json,
            };
            print!("{}", render(&stats, format));
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth { out, n, size, seed } => {
            let cfg = cxr::synth::SynthConfig { out, images_per_dataset: n, image_size: size, seed };
            let report = cxr::synth::synthesize(&cfg)?;
            for (name, root, n) in report.datasets.iter().chain(&report.alternates) {
                println!("{name:<9} {n:>5} images  --root {}", root.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { out, n, size, threads } => {
            let report = cxr::prep::demo::run_demo(&out, n, size, threads)?;
            for s in &report.ingests {
                print!("{s}");
            }
            let stats = cxr::stats::compute(&report.store, None, None)?;
            println!("\n{}", render(&stats, Format::Table));
            println!("synthetic data (not real radiographs) in {}; store in {}", report.data.display(), report.store.display());
            println!("next: cxr-prep stats {} --format csv", report.store.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { store, json } => {
            let report = cxr::store::validate::validate(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Schema { write } => {
            let schema = cxr::store::schema::schema_json();
            let labels = cxr::labels::vocabulary_toml();
            match write {
                Some(dir) => {
                    std::fs::write(dir.join("store.schema.json"), schema)?;
                    std::fs::write(dir.join("labels.toml"), labels)?;
                }
                None => print!("{schema}\n{labels}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    // Like other command-line tools, stop quietly when the reader of stdout goes away.
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    cxr::prep::process::install_quiet_decoder_panics();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
