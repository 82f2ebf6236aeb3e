//! The report of `cxr-prep validate`: issues (violations and warnings) with dataset, file and
//! row context, counted per kind and listed up to [`MAX_LISTED_PER_KIND`] per dataset and kind.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Issues listed in full per dataset and kind; further ones are only counted.
pub const MAX_LISTED_PER_KIND: usize = 20;

/// What an issue is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    MetaMissing,
    MetaInvalid,
    SchemaVersion,
    PartitionNotInMeta,
    MetaWithoutPartition,
    UnreadablePart,
    SchemaMismatch,
    /// A column in another encoding of its store type (a part rewritten by polars or pyarrow).
    ForeignEncoding,
    /// A null in a column the store requires (image_id, patient_id, split, …).
    NullRequired,
    BadSplit,
    PatientInTwoSplits,
    DuplicateImageId,
    BadLabelValue,
    UnannotatedFinding,
    ImageLength,
    ImageDimensions,
    RowCount,
    LeftoverTmp,
    StagingFolder,
    UnexpectedFile,
}

impl IssueKind {
    /// Warnings do not make a store invalid.
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            IssueKind::LeftoverTmp | IssueKind::StagingFolder | IssueKind::UnexpectedFile | IssueKind::ForeignEncoding
        )
    }

    /// snake_case name (as in the JSON report).
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
    }
}

/// One finding of the validator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub kind: IssueKind,
    pub dataset: Option<String>,
    /// Path relative to the store.
    pub file: Option<String>,
    /// 0-based row index within `file`.
    pub row: Option<u64>,
    pub message: String,
}

/// Outcome of [`validate`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct ValidationReport {
    pub store: PathBuf,
    /// Partitions found (`dataset=<name>`), sorted.
    pub datasets: Vec<String>,
    pub part_files: usize,
    /// Rows read from all parts.
    pub rows: u64,
    pub violation_count: u64,
    pub warning_count: u64,
    /// At most [`MAX_LISTED_PER_KIND`] per dataset and kind.
    pub violations: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// Issues per kind name, including those not listed.
    pub counts: BTreeMap<String, u64>,
    #[serde(skip)]
    listed: HashMap<(Option<String>, IssueKind), usize>,
}

impl ValidationReport {
    /// An empty report for `store`.
    pub fn new(store: PathBuf) -> Self {
        ValidationReport { store, ..Default::default() }
    }

    /// True when there is no violation (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.violation_count == 0
    }

    /// Records an issue (listed while under the per-kind cap, always counted).
    pub fn push(
        &mut self,
        kind: IssueKind,
        dataset: Option<&str>,
        file: Option<&str>,
        row: Option<u64>,
        message: String,
    ) {
        *self.counts.entry(kind.name()).or_insert(0) += 1;
        if kind.is_warning() {
            self.warning_count += 1;
        } else {
            self.violation_count += 1;
        }
        let listed = self.listed.entry((dataset.map(String::from), kind)).or_insert(0);
        if *listed >= MAX_LISTED_PER_KIND {
            return;
        }
        *listed += 1;
        let issue = Issue { kind, dataset: dataset.map(String::from), file: file.map(String::from), row, message };
        if kind.is_warning() { self.warnings.push(issue) } else { self.violations.push(issue) }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.kind.name())?;
        // The file path already names the partition (`dataset=<name>/…`).
        let in_partition = self.file.as_deref().is_some_and(|p| p.starts_with("dataset="));
        if let Some(d) = self.dataset.as_deref().filter(|_| !in_partition) {
            write!(f, " dataset {d}")?;
        }
        if let Some(p) = &self.file {
            write!(f, " {p}")?;
        }
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "store {}: {} dataset(s) [{}], {} part files, {} rows",
            self.store.display(),
            self.datasets.len(),
            self.datasets.join(", "),
            self.part_files,
            self.rows
        )?;
        for i in &self.violations {
            writeln!(f, "violation {i}")?;
        }
        for i in &self.warnings {
            writeln!(f, "warning {i}")?;
        }
        let listed = (self.violations.len() + self.warnings.len()) as u64;
        if self.violation_count + self.warning_count > listed {
            let by_kind: Vec<String> = self.counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
            writeln!(
                f,
                "({} issues not listed; all by kind: {})",
                self.violation_count + self.warning_count - listed,
                by_kind.join(", ")
            )?;
        }
        if self.is_ok() {
            writeln!(f, "OK ({} warnings)", self.warning_count)
        } else {
            writeln!(f, "INVALID: {} violations, {} warnings", self.violation_count, self.warning_count)
        }
    }
}
