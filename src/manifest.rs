//! Typed view of `data-manifests/<dataset>.toml`: the per-dataset knowledge (metadata files,
//! column names, label mapping, view normalisation, split rule) as data, not code branches.
//!
//! The six manifests are compiled into the binary (so `cxr-prep` works outside the repository)
//! and can be replaced at run time with `--manifest FILE`. A new dataset is a new manifest plus,
//! at most, a small reader in `ingest::sources`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::labels::{finding_index, LabelValue};

/// Errors while loading or checking a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("Failed to read manifest `{path}`")]
    Read { path: PathBuf, #[source] source: std::io::Error },
    #[error("Manifest `{name}` is not valid TOML")]
    Parse { name: String, #[source] source: toml::de::Error },
    #[error("Manifest `{name}`: {problem}")]
    Invalid { name: String, problem: String },
    #[error("Unknown dataset `{0}` (known: nih, chexpert, mimic, padchest, vindr, uka)")]
    UnknownDataset(String),
}

/// The datasets cxr knows, with their embedded manifests.
pub const DATASETS: &[(&str, &str)] = &[
    ("nih", include_str!("../data-manifests/nih.toml")),
    ("chexpert", include_str!("../data-manifests/chexpert.toml")),
    ("mimic", include_str!("../data-manifests/mimic.toml")),
    ("padchest", include_str!("../data-manifests/padchest.toml")),
    ("vindr", include_str!("../data-manifests/vindr.toml")),
    ("uka", include_str!("../data-manifests/uka.toml")),
];

/// The PadChest term table referenced by `padchest.toml` (`labels.term_table`).
pub const PADCHEST_TERMS: &str = include_str!("../schemas/padchest_terms.toml");

/// One dataset's manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short name, also the store partition (`dataset=<name>`).
    pub dataset: String,
    /// Human-readable title and version of the release the manifest describes.
    pub title: String,
    /// Where users obtain the data.
    pub source: String,
    /// Metadata files by role; each lists the official names, searched under `--root`
    /// (also with a `.gz` suffix added or removed).
    pub files: BTreeMap<String, FileSpec>,
    /// Column names in the metadata files, by role.
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnSpec>,
    pub labels: LabelSpec,
    pub view: ViewSpec,
    pub split: SplitSpec,
}

/// A metadata file role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Official file names (relative paths under the root), in order of preference.
    pub names: Vec<String>,
    /// A missing required file is fatal; a missing optional one is reported and worked around.
    #[serde(default)]
    pub required: bool,
    /// What the reader does without an optional file.
    #[serde(default)]
    pub if_absent: Option<String>,
}

/// One logical column: the accepted header spellings, in order of preference.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ColumnSpec {
    One(String),
    Any(Vec<String>),
}

impl ColumnSpec {
    pub fn names(&self) -> Vec<&str> {
        match self {
            ColumnSpec::One(s) => vec![s.as_str()],
            ColumnSpec::Any(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// How source labels become unified findings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    /// Value of an annotated finding that a row does not mention: `negative` (NIH, PadChest,
    /// VinDr: absence means 0) or `unstated` (CheXpert, MIMIC, UKA: blank means null).
    pub absent: Absent,
    /// Source label (column name, token or term) → unified findings. Several source labels
    /// mapping to one finding are OR-merged (see [`LabelValue::merge`]).
    #[serde(default)]
    pub map: BTreeMap<String, Vec<String>>,
    /// Raw cell value → label value (`positive`, `negative`, `uncertain`, `unstated`).
    #[serde(default)]
    pub values: BTreeMap<String, LabelValue>,
    /// Per-source-label overrides of `values` (UKA `healthy` is a 0/1 flag, not a grade).
    #[serde(default)]
    pub column_values: BTreeMap<String, BTreeMap<String, LabelValue>>,
    /// Source labels are compared case-insensitively and without surrounding spaces.
    #[serde(default)]
    pub case_insensitive: bool,
    /// External term table (PadChest), compiled in; entries extend `map`.
    #[serde(default)]
    pub term_table: Option<String>,
    /// Source labels a layout annotates when its file does not list them (VinDr Kaggle classes).
    #[serde(default)]
    pub layout_labels: BTreeMap<String, Vec<String>>,
    /// Multi-reader datasets (VinDr train): a finding is positive when at least this many
    /// readers marked it (2 of 3 = the study's majority vote).
    #[serde(default)]
    pub min_votes: Option<u32>,
}

/// See [`LabelSpec::absent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Absent {
    Negative,
    Unstated,
}

/// View normalisation: raw value → one of PA, AP, AP_SUPINE, LATERAL, LL, OTHER.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewSpec {
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// View of every image when the dataset has no view field (VinDr: all PA).
    #[serde(default)]
    pub constant: Option<String>,
}

/// Normalised view names.
pub const VIEWS: &[&str] = &["PA", "AP", "AP_SUPINE", "LATERAL", "LL", "OTHER"];

/// How rows are assigned to train / val / test.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSpec {
    /// Plain-language rule, printed in the run summary and README.
    pub rule: String,
    /// Fraction of train patients carved out as val when the official split has no val part.
    pub val_fraction: f64,
    /// Fraction of patients hashed into test when the dataset has no official split.
    pub test_fraction: f64,
    /// Official split value → train/val/test (identity for `train`/`val`/`test` when empty).
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// The official split has no validation part: carve `val_fraction` of the train patients.
    #[serde(default)]
    pub carve_val: bool,
}

impl Manifest {
    /// The embedded manifest of a known dataset.
    pub fn builtin(dataset: &str) -> Result<Manifest, ManifestError> {
        let text = DATASETS
            .iter()
            .find(|(n, _)| *n == dataset)
            .map(|(_, t)| *t)
            .ok_or_else(|| ManifestError::UnknownDataset(dataset.to_string()))?;
        Manifest::parse(dataset, text)
    }

    /// Loads a manifest file from disk (`--manifest`).
    pub fn from_file(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
        Manifest::parse(&path.display().to_string(), &text)
    }

    /// Parses, merges the term table and checks every mapped finding exists.
    pub fn parse(name: &str, text: &str) -> Result<Manifest, ManifestError> {
        let mut m: Manifest = toml::from_str(text)
            .map_err(|source| ManifestError::Parse { name: name.to_string(), source })?;
        if let Some(table) = &m.labels.term_table {
            if table != "schemas/padchest_terms.toml" {
                return Err(ManifestError::Invalid {
                    name: name.into(),
                    problem: format!("unknown term table `{table}`"),
                });
            }
            let terms: TermTable = toml::from_str(PADCHEST_TERMS)
                .map_err(|source| ManifestError::Parse { name: table.clone(), source })?;
            m.labels.map.extend(terms.terms);
        }
        if m.labels.case_insensitive {
            m.labels.map = m.labels.map.into_iter().map(|(k, v)| (k.trim().to_lowercase(), v)).collect();
        }
        m.check(name)?;
        Ok(m)
    }

    fn check(&self, name: &str) -> Result<(), ManifestError> {
        let invalid = |problem: String| ManifestError::Invalid { name: name.to_string(), problem };
        for (src, findings) in &self.labels.map {
            for f in findings {
                if finding_index(f).is_none() {
                    return Err(invalid(format!("source label `{src}` maps to unknown finding `{f}`")));
                }
            }
        }
        for (raw, v) in &self.view.map {
            if !VIEWS.contains(&v.as_str()) {
                return Err(invalid(format!("view `{raw}` maps to `{v}`, not one of {VIEWS:?}")));
            }
        }
        for (raw, s) in &self.split.map {
            if !["train", "val", "test"].contains(&s.as_str()) {
                return Err(invalid(format!("split `{raw}` maps to `{s}`, not train/val/test")));
            }
        }
        let fr = self.split.val_fraction + self.split.test_fraction;
        if !(0.0..1.0).contains(&fr) {
            return Err(invalid("val_fraction + test_fraction must be in [0, 1)".into()));
        }
        Ok(())
    }

    /// Label value of a raw cell of a source label (per-label override first).
    pub fn label_value(&self, source_label: &str, raw: &str) -> Option<LabelValue> {
        let raw = raw.trim();
        self.labels
            .column_values
            .get(source_label)
            .and_then(|t| t.get(raw))
            .or_else(|| self.labels.values.get(raw))
            .copied()
    }

    /// Looks up a source label, honouring `case_insensitive`.
    pub fn findings_for(&self, source_label: &str) -> Option<&Vec<String>> {
        if self.labels.case_insensitive {
            self.labels.map.get(&source_label.trim().to_lowercase())
        } else {
            self.labels.map.get(source_label)
        }
    }

    /// Header spellings of a column role; an error names the manifest when the role is missing.
    pub fn column(&self, role: &str) -> Result<Vec<&str>, ManifestError> {
        self.columns.get(role).map(|c| c.names()).ok_or_else(|| ManifestError::Invalid {
            name: self.dataset.clone(),
            problem: format!("no `columns.{role}` entry"),
        })
    }

    /// Normalises a raw view value: trimmed; empty → `Ok(None)`; a value the manifest's view map
    /// does not list → `Err(raw)` (the caller stores null and counts it: an unknown code is not
    /// evidence of an OTHER view). Rare real views are listed explicitly (MIMIC `SWIMMERS` → OTHER).
    pub fn normalize_view(&self, raw: Option<&str>) -> Result<Option<String>, String> {
        if let Some(c) = &self.view.constant {
            return Ok(Some(c.clone()));
        }
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
        self.view.map.get(raw).cloned().map(Some).ok_or_else(|| raw.to_string())
    }
}

#[derive(Debug, Deserialize)]
struct TermTable {
    terms: BTreeMap<String, Vec<String>>,
}
