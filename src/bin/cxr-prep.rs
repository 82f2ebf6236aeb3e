//! `cxr-prep`: ingest chest X-ray datasets as published into one harmonized Parquet store,
//! and answer label statistics. Thin: parse, validate, call the library, map exit codes.
//!
//! Exit codes: 0 success; 1 the run completed but rejects exceed `--max-reject-fraction`
//! (or any reject with `--strict`); 2 fatal error (missing metadata, unwritable store, bad options).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use cxr::prep::args::IngestArgs;
use cxr::prep::run_ingest;
use cxr::stats::render::{render, Format};

#[derive(Parser)]
#[command(name = "cxr-prep", version, about = "Ingest chest X-ray datasets into a harmonized Parquet store")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest one dataset from the folder it was downloaded to
    Ingest(IngestArgs),
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
        format: Format,
    },
    /// Write a small synthetic corpus in every built-in dataset's native layout
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
    /// The embedded default: synth -> ingest every dataset -> stats, in OUT/data and OUT/store
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

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ingest(args) => {
            let summary = run_ingest(&args.options()).with_context(|| format!("ingest of {} failed", args.dataset))?;
            if args.json {
                cxr::outln!("{}", serde_json::to_string_pretty(&summary)?)?;
            } else {
                cxr::out!("{summary}")?;
            }
            Ok(match args.reject_limit_exceeded(&summary) {
                Some(message) => {
                    eprintln!("error: {message}");
                    ExitCode::from(1)
                }
                None => ExitCode::SUCCESS,
            })
        }
        Command::Stats { store, dataset, split, format } => {
            let stats = cxr::stats::compute(&store, dataset.as_deref(), split.as_deref())?;
            cxr::out!("{}", render(&stats, format))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth { out, n, size, seed } => {
            let cfg = cxr::synth::SynthConfig { out, images_per_dataset: n, image_size: size, seed };
            let report = cxr::synth::synthesize(&cfg)?;
            for (name, root, n) in report.datasets.iter().chain(&report.alternates) {
                cxr::outln!("{name:<10} {n:>5} images  --root {}", root.display())?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { out, n, size, threads } => {
            let report = cxr::prep::demo::run_demo(&out, n, size, threads)?;
            for s in &report.ingests {
                cxr::out!("{s}")?;
            }
            let stats = cxr::stats::compute(&report.store, None, None)?;
            cxr::outln!("\n{}", render(&stats, Format::Table))?;
            cxr::outln!("synthetic data (not real radiographs) in {}; store in {}", report.data.display(), report.store.display())?;
            cxr::outln!("next: cxr-prep stats {} --format csv", report.store.display())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { store, json } => {
            let report = cxr::store::validate::validate(&store)?;
            if json {
                cxr::outln!("{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                cxr::out!("{report}")?;
            }
            Ok(if report.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Schema { write } => {
            let schema = cxr::store::schema::schema_json();
            let labels = cxr::labels::vocabulary_toml();
            match write {
                Some(dir) => {
                    for (name, text) in [("store.schema.json", schema), ("labels.toml", labels)] {
                        let p = dir.join(name);
                        cxr::fsutil::write_atomic(&p, text.as_bytes()).with_context(|| format!("writing {}", p.display()))?;
                    }
                }
                None => cxr::out!("{schema}\n{labels}")?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    cxr::prep::process::install_quiet_decoder_panics();
    // Output goes through `cxr::out!`/`outln!` and a final flush, which return write errors.
    let result = run(Cli::parse()).and_then(|code| {
        std::io::Write::flush(&mut std::io::stdout())?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        // Like ripgrep: the reader of stdout went away (`| head`), stop quietly.
        Err(e) if cxr::fsutil::is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
