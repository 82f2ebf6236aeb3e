//! The end-of-run summary of an ingest: rows written, rejects grouped by reason, missing images
//! per folder (partial downloads), time and throughput.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Outcome of one ingest.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    pub dataset: String,
    pub store: PathBuf,
    pub rows: u64,
    pub rejects: u64,
    pub rejects_by_reason: BTreeMap<String, usize>,
    /// Missing image files per folder (relative to the root).
    pub missing_by_folder: BTreeMap<String, usize>,
    pub splits: BTreeMap<String, u64>,
    pub parts: usize,
    /// Parts found finished from an interrupted earlier run.
    pub resumed_parts: usize,
    /// Images decoded in this run.
    pub images: u64,
    pub seconds: f64,
    pub notes: Vec<String>,
    pub metadata_only: bool,
}

impl IngestSummary {
    /// Rejected share of all rows read.
    pub fn reject_fraction(&self) -> f64 {
        let total = self.rows + self.rejects;
        if total == 0 { 0.0 } else { self.rejects as f64 / total as f64 }
    }
}

impl fmt::Display for IngestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {} rows written to {}", self.dataset, self.rows, self.store.display())?;
        let splits: Vec<String> = self.splits.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(f, "  splits: {}", splits.join(", "))?;
        if self.metadata_only {
            writeln!(f, "  metadata only: images not read (image column null)")?;
        }
        writeln!(
            f,
            "  time: {:.1} s, {} images decoded ({:.1} images/s), {} parts ({} resumed)",
            self.seconds,
            self.images,
            self.images as f64 / self.seconds.max(1e-9),
            self.parts,
            self.resumed_parts
        )?;
        if self.rejects == 0 {
            writeln!(f, "  rejects: none")?;
        } else {
            writeln!(f, "  rejects: {} ({:.2}%), see _rejects/{}.csv", self.rejects, 100.0 * self.reject_fraction(), self.dataset)?;
            for (reason, n) in &self.rejects_by_reason {
                writeln!(f, "    {n:>8}  {reason}")?;
            }
        }
        if !self.missing_by_folder.is_empty() {
            writeln!(f, "  missing images by folder (partial download?):")?;
            for (folder, n) in &self.missing_by_folder {
                writeln!(f, "    {n:>8}  {}", if folder.is_empty() { "." } else { folder })?;
            }
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}
