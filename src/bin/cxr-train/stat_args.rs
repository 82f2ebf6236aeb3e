//! The statistics options `evaluate` and `compare` share: bootstrap, split, subgroups
//! (`--by`), the store to join attributes from, output format and folder.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use cxr::evaluate::attributes::{join_store, Attribute};
use cxr::evaluate::bootstrap::Resample;
use cxr::evaluate::evaluation::StatOptions;
use cxr::evaluate::predictions::Predictions;
use cxr::evaluate::report::{self, Report, Table};

/// Output format on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Md,
}

/// Bootstrap, selection and subgroup options shared by `evaluate` and `compare`.
#[derive(Args, Debug, Clone)]
pub struct StatArgs {
    /// Bootstrap replicates (0: no confidence intervals)
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap (same seed, same intervals on every machine)
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// What one bootstrap draw resamples (within each subgroup with --by)
    #[arg(long, value_enum, default_value = "images")]
    pub resample: Resample,
    /// Evaluate only rows of this split (`all`: every row)
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Confidence level of the percentile intervals
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Significance level of the marks (BH q-values; p for compare's macro mean)
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Subgroup analysis by these attributes: any of sex,age,view,dataset (age in the bands 0-20, 20-40, 40-60, 60-80, 80+)
    #[arg(long, value_enum, value_delimiter = ',')]
    pub by: Vec<Attribute>,
    /// A store to fill the predictions' missing sex, age and view (and dataset) from, by image id
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Folder for report.json, report.md, ROC plots and reliability diagrams (PNG)
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl StatArgs {
    pub fn options(&self) -> StatOptions {
        StatOptions {
            bootstrap: self.bootstrap,
            seed: self.seed,
            resample: self.resample,
            level: self.level,
            split: (self.split != "all").then(|| self.split.clone()),
        }
    }

    /// The `--by` attributes, each once.
    pub fn by(&self) -> Vec<Attribute> {
        let mut v = Vec::new();
        for a in &self.by {
            if !v.contains(a) {
                v.push(*a);
            }
        }
        v
    }

    /// Reads a predictions file, with its attributes joined from `--store` when given (the
    /// join is reported on stderr).
    pub fn read(&self, path: &std::path::Path) -> anyhow::Result<Predictions> {
        let mut p = Predictions::read(path)?;
        if let Some(store) = &self.store {
            let j = join_store(&mut p, store).with_context(|| format!("joining attributes from {}", store.display()))?;
            eprintln!(
                "{}: sex/age/view of {} images from the store ({} not in it, {} ambiguous without a dataset)",
                path.display(),
                j.matched,
                j.unmatched,
                j.ambiguous
            );
        }
        Ok(p)
    }

    /// Prints the report on stdout in `--format` (`title`, `notes`, `tables` for text and
    /// Markdown).
    pub fn print<T: serde::Serialize>(&self, rep: &Report<T>, title: &str, notes: &[String], tables: &[(String, Table)]) -> anyhow::Result<()> {
        match self.format {
            Format::Json => cxr::outln!("{}", rep.to_json()?)?,
            Format::Md => cxr::out!("{}", report::markdown(title, notes, tables, &[]))?,
            Format::Table => cxr::out!("{}", report::text(notes, tables))?,
        }
        Ok(())
    }
}
