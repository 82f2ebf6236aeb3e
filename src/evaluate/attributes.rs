//! The attributes that split test images into subgroups (`--by sex,age,view,dataset`), and
//! the join that fills a predictions file's `sex`, `age` and `view` from the store.
//!
//! Groups: `sex` and `view` are the store's values (`M`, `F`, `O`; `PA`, `AP`, `AP_SUPINE`,
//! `LATERAL`, `LL`, `OTHER`), `dataset` the dataset name, and `age` one of the five bands of
//! Seyyed-Kalantari et al., "Underdiagnosis bias of artificial intelligence algorithms applied
//! to chest radiographs in under-served patient populations", Nature Medicine 27, 2176–2182
//! (2021): `0-20`, `20-40`, `40-60`, `60-80`, `80+`, each half-open (`[20, 40)`: an age of
//! exactly 40 is in `40-60`). A null value (and a negative or non-finite age) is the group
//! [`UNKNOWN`], which is reported but never compared with the others.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use arrow::array::{Array, StringArray};
use arrow::datatypes::Float32Type;
use serde::{Deserialize, Serialize};

use super::predictions::Predictions;
use crate::store::reader::{PartFile, PartRead, StoreReader};
use crate::store::schema::{COL_AGE, COL_IMAGE_ID, COL_SEX, COL_VIEW};
use crate::store::StoreError;

/// The group of images whose attribute is not known.
pub const UNKNOWN: &str = "unknown";

/// Age bands `(lower bound, label)` in years, each up to the next band's lower bound
/// (Seyyed-Kalantari et al. 2021, Fig. 2).
pub const AGE_BANDS: [(f32, &str); 5] = [(0.0, "0-20"), (20.0, "20-40"), (40.0, "40-60"), (60.0, "60-80"), (80.0, "80+")];

/// An attribute that splits the images into subgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Attribute {
    /// Patient sex as stored (`M`, `F`, `O`).
    Sex,
    /// Age band at the study ([`AGE_BANDS`]).
    Age,
    /// View position as stored (`PA`, `AP`, `AP_SUPINE`, …).
    View,
    /// Dataset of the image.
    Dataset,
}

impl Attribute {
    /// The name used in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::Sex => "sex",
            Attribute::Age => "age",
            Attribute::View => "view",
            Attribute::Dataset => "dataset",
        }
    }

    /// The group of image `i` of `p`; `None` when unknown.
    pub fn group_of(self, p: &Predictions, i: usize) -> Option<String> {
        match self {
            Attribute::Sex => p.sex_of(i).map(str::to_string),
            Attribute::Age => age_band(p.age_of(i)).map(str::to_string),
            Attribute::View => p.view_of(i).map(str::to_string),
            Attribute::Dataset => p.dataset_of(i).map(str::to_string),
        }
    }

    /// Every image's group ([`UNKNOWN`] for unknown values).
    pub fn groups(self, p: &Predictions) -> Vec<String> {
        (0..p.len()).map(|i| self.group_of(p, i).unwrap_or_else(|| UNKNOWN.to_string())).collect()
    }

    /// The distinct groups of `labels` in report order: age bands by age, other values sorted,
    /// [`UNKNOWN`] last.
    pub fn ordered(self, labels: &[String]) -> Vec<String> {
        let mut v: Vec<String> = labels.iter().collect::<HashSet<_>>().into_iter().cloned().collect();
        let rank = |g: &str| match self {
            Attribute::Age => AGE_BANDS.iter().position(|b| b.1 == g).unwrap_or(AGE_BANDS.len()),
            _ => 0,
        };
        v.sort_by(|a, b| (a == UNKNOWN, rank(a), a).cmp(&(b == UNKNOWN, rank(b), b)));
        v
    }
}

/// The band of an age in years; `None` for an unknown, negative or non-finite age.
pub fn age_band(age: Option<f32>) -> Option<&'static str> {
    let a = age.filter(|a| a.is_finite() && *a >= 0.0)?;
    AGE_BANDS.iter().rev().find(|(lo, _)| a >= *lo).map(|b| b.1)
}

/// How a [`join_store`] went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JoinReport {
    /// Rows found in the store (their null attributes filled).
    pub matched: usize,
    /// Rows whose image the store does not have.
    pub unmatched: usize,
    /// Rows without a dataset whose image id is in several of the store's datasets (left as is).
    pub ambiguous: usize,
}

/// A store row's attributes.
type Attrs = (Option<String>, Option<f32>, Option<String>);

/// Fills the null `sex`, `age` and `view` of `p` (and a null `dataset`) from the store at
/// `store`, matching rows by dataset and image id (by image id alone for rows without a
/// dataset, when exactly one dataset has it). Reads only the metadata columns.
pub fn join_store(p: &mut Predictions, store: &Path) -> Result<JoinReport, StoreError> {
    let reader = StoreReader::open(store)?;
    let wanted: HashSet<&str> = p.image_id.iter().map(String::as_str).collect();
    let named: HashSet<&str> = (0..p.len()).filter_map(|i| p.dataset_of(i)).collect();
    let any_unnamed = (0..p.len()).any(|i| p.dataset_of(i).is_none());
    let mut found: HashMap<(String, String), Attrs> = HashMap::new();
    let mut datasets_of: HashMap<String, Vec<String>> = HashMap::new();
    let read = PartRead::columns([COL_IMAGE_ID, COL_SEX, COL_AGE, COL_VIEW]);
    for dataset in reader.meta.datasets.keys() {
        if !any_unnamed && !named.contains(dataset.as_str()) {
            continue;
        }
        for part in reader.parts(dataset)? {
            for b in PartFile::open(&part)?.read(&read)? {
                let b = b?;
                let ids = b.text_required(COL_IMAGE_ID, false)?;
                let (sex, age, view) = (b.text(COL_SEX)?, b.primitive::<Float32Type>(COL_AGE)?, b.text(COL_VIEW)?);
                for r in 0..b.num_rows() {
                    let id = ids.value(r);
                    if !wanted.contains(id) {
                        continue;
                    }
                    let text = |a: &Option<StringArray>| a.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r).to_string());
                    let age = age.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r));
                    found.insert((dataset.clone(), id.to_string()), (text(&sex), age, text(&view)));
                    datasets_of.entry(id.to_string()).or_default().push(dataset.clone());
                }
            }
        }
    }
    let n = p.len();
    p.dataset.resize(n, None);
    p.sex.resize(n, None);
    p.age.resize(n, None);
    p.view.resize(n, None);
    let mut report = JoinReport::default();
    for i in 0..n {
        let dataset = match p.dataset_of(i) {
            Some(d) => d.to_string(),
            None => match datasets_of.get(&p.image_id[i]).map(Vec::as_slice) {
                Some([d]) => d.clone(),
                Some([_, _, ..]) => {
                    report.ambiguous += 1;
                    continue;
                }
                _ => {
                    report.unmatched += 1;
                    continue;
                }
            },
        };
        let Some((sex, age, view)) = found.get(&(dataset.clone(), p.image_id[i].clone())) else {
            report.unmatched += 1;
            continue;
        };
        report.matched += 1;
        p.dataset[i].get_or_insert(dataset);
        if p.sex[i].is_none() {
            p.sex[i] = sex.clone();
        }
        if p.age[i].is_none() {
            p.age[i] = *age;
        }
        if p.view[i].is_none() {
            p.view[i] = view.clone();
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_bands_are_half_open() {
        let band = |a: f32| age_band(Some(a));
        assert_eq!(band(0.0), Some("0-20"));
        assert_eq!(band(19.99), Some("0-20"));
        assert_eq!(band(20.0), Some("20-40"));
        assert_eq!(band(79.5), Some("60-80"));
        assert_eq!(band(80.0), Some("80+"));
        assert_eq!(band(104.0), Some("80+"));
        assert_eq!(band(-1.0), None);
        assert_eq!(band(f32::NAN), None);
        assert_eq!(age_band(None), None);
    }

    #[test]
    fn groups_are_ordered_with_unknown_last() {
        let g: Vec<String> = ["80+", UNKNOWN, "0-20", "40-60", "0-20"].map(String::from).to_vec();
        assert_eq!(Attribute::Age.ordered(&g), ["0-20", "40-60", "80+", UNKNOWN]);
        let s: Vec<String> = [UNKNOWN, "M", "F"].map(String::from).to_vec();
        assert_eq!(Attribute::Sex.ordered(&s), ["F", "M", UNKNOWN]);
    }
}
