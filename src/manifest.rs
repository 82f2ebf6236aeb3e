//! Typed view of `data-manifests/<dataset>.toml`: the per-dataset knowledge (metadata files,
//! column names, label mapping, view normalisation, split rule) as data, not code branches.
//!
//! The built-in manifests are compiled into the binary (so `cxr-prep` works outside the
//! repository) and can be replaced at run time with `--manifest FILE`. They are the one list of
//! datasets cxr knows ([`DATASETS`], [`dataset_names`]): a new dataset is a new manifest (added to
//! [`MANIFESTS`]) plus, at most, a small reader in `ingest::sources` named by its `reader` key.
//!
//! Each manifest also carries the study's knowledge of its dataset (`[study]`: the label set in
//! head output order and the view filter, paper.md §1.2–1.3), read by `train::labels`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

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
    #[error("Unknown dataset `{0}` (known: {known})", known = dataset_names().join(", "))]
    UnknownDataset(String),
}

/// The embedded manifests, in the order datasets are listed everywhere (CLI help, synth, demo).
/// This is the only list of datasets in the code; names come from each manifest's `dataset`.
pub const MANIFESTS: &[&str] = &[
    include_str!("../data-manifests/nih.toml"),
    include_str!("../data-manifests/chexpert.toml"),
    include_str!("../data-manifests/mimic.toml"),
    include_str!("../data-manifests/padchest.toml"),
    include_str!("../data-manifests/vindr.toml"),
    include_str!("../data-manifests/uka.toml"),
    include_str!("../data-manifests/vindr-pcxr.toml"),
];

/// `(dataset name, embedded manifest text)` for every entry of [`MANIFESTS`], in order. A text
/// whose `dataset` key cannot be read gets an empty name (and fails [`Manifest::parse`]; a test
/// parses every built-in manifest).
pub static DATASETS: LazyLock<Vec<(String, &'static str)>> = LazyLock::new(|| {
    #[derive(Deserialize)]
    struct Name {
        dataset: String,
    }
    MANIFESTS
        .iter()
        .map(|t| (toml::from_str::<Name>(t).map(|n| n.dataset).unwrap_or_default(), *t))
        .collect()
});

/// Names of the built-in datasets, in [`MANIFESTS`] order.
pub fn dataset_names() -> Vec<&'static str> {
    DATASETS.iter().map(|(n, _)| n.as_str()).collect()
}

/// A built-in dataset, as a command-line value: its variants are read from [`MANIFESTS`], so a
/// new manifest is a new accepted value without touching the binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset(usize);

impl Dataset {
    /// The dataset name (`dataset` key of its manifest).
    pub fn name(self) -> &'static str {
        DATASETS[self.0].0.as_str()
    }

    /// Every built-in dataset, in [`MANIFESTS`] order.
    pub fn all() -> &'static [Dataset] {
        static ALL: LazyLock<Vec<Dataset>> = LazyLock::new(|| (0..DATASETS.len()).map(Dataset).collect());
        &ALL
    }
}

impl std::fmt::Display for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl clap::ValueEnum for Dataset {
    fn value_variants<'a>() -> &'a [Self] {
        Dataset::all()
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        static TITLES: LazyLock<Vec<String>> = LazyLock::new(|| {
            #[derive(Deserialize)]
            struct Title {
                title: String,
            }
            MANIFESTS.iter().map(|t| toml::from_str::<Title>(t).map(|t| t.title).unwrap_or_default()).collect()
        });
        Some(clap::builder::PossibleValue::new(self.name()).help(TITLES[self.0].as_str()))
    }
}

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
    /// Which reader of `ingest::sources` parses the published files (several datasets may share
    /// one: VinDr-CXR and VinDr-PCXR both use `vindr`).
    pub reader: Reader,
    pub labels: LabelSpec,
    pub view: ViewSpec,
    pub split: SplitSpec,
    /// The study's use of the dataset; absent in a user manifest that defines no study.
    #[serde(default)]
    pub study: Option<StudySpec>,
}

/// The readers of `ingest::sources`, one per published layout family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reader {
    Nih,
    Chexpert,
    Mimic,
    Padchest,
    Vindr,
    Uka,
}

/// The study's label set and view filter of one dataset (paper.md §1.2–1.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudySpec {
    /// Findings of the vocabulary, in head output order; each must be one the manifest maps to.
    pub labels: Vec<String>,
    /// The study's view filter (applied to train and val rows alike); absent = every row.
    #[serde(default)]
    pub views: StudyViews,
}

/// A view filter over normalised view names: at most one of `only` / `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyViews {
    /// Keep only rows with one of these views (rows without a view are dropped).
    #[serde(default)]
    pub only: Option<Vec<String>>,
    /// Keep every row whose view is not one of these (rows without a view are kept).
    #[serde(default)]
    pub except: Option<Vec<String>>,
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
            .find(|(n, _)| n == dataset)
            .map(|(_, t)| *t)
            .ok_or_else(|| ManifestError::UnknownDataset(dataset.to_string()))?;
        Manifest::parse(&format!("data-manifests/{dataset}.toml"), text)
    }

    /// Every embedded manifest, parsed, in [`MANIFESTS`] order.
    pub fn builtins() -> Result<Vec<Manifest>, ManifestError> {
        DATASETS.iter().map(|(n, t)| Manifest::parse(&format!("data-manifests/{n}.toml"), t)).collect()
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
        if let Some(study) = &self.study {
            self.check_study(study).map_err(invalid)?;
        }
        Ok(())
    }

    /// A study label must be a finding the manifest maps to, listed once; views must be
    /// normalised names; `only` and `except` exclude each other.
    fn check_study(&self, study: &StudySpec) -> Result<(), String> {
        if study.labels.is_empty() {
            return Err("`study.labels` is empty".into());
        }
        for (i, l) in study.labels.iter().enumerate() {
            if finding_index(l).is_none() {
                return Err(format!("study label `{l}` is not a finding of the vocabulary"));
            }
            if !self.labels.map.values().flatten().any(|f| f == l) {
                return Err(format!("study label `{l}` is not mapped from any source label"));
            }
            if study.labels[..i].contains(l) {
                return Err(format!("study label `{l}` is listed twice"));
            }
        }
        let v = &study.views;
        if v.only.is_some() && v.except.is_some() {
            return Err("`study.views` has both `only` and `except`".into());
        }
        for view in v.only.iter().chain(&v.except).flatten() {
            if !VIEWS.contains(&view.as_str()) {
                return Err(format!("study view `{view}` is not one of {VIEWS:?}"));
            }
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
