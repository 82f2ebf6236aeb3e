//! PadChest: `PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv[.gz]` (36 columns, quoted
//! multi-line cells, `Labels` as a Python-list string with stray spaces and mixed case, 36–39
//! digit patient ids kept as text), 16-bit PNGs in the folders named by `ImageDir`.

use std::path::{Path, PathBuf};

use crate::ingest::csvio::{self, cell, opt_cell, Csv};
use crate::ingest::record::Nulled;
use crate::ingest::{IngestError, RawRecord, SourceData};
use crate::manifest::Manifest;

/// Parses a Python list-of-strings literal such as `['pleural effusion', ' cardiomegaly']`.
/// Items keep their inner text verbatim (the caller strips); `[]` and `['']` are valid.
pub fn parse_py_list(s: &str) -> Result<Vec<String>, String> {
    let t = s.trim();
    let inner = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("labels `{}` are not a list literal", truncate(t)))?;
    let mut items = Vec::new();
    let mut chars = inner.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let Some(q) = chars.next() else { break };
        if q != '\'' && q != '"' {
            return Err(format!("labels `{}`: expected a quoted item", truncate(t)));
        }
        let mut item = String::new();
        loop {
            match chars.next() {
                Some('\\') => item.extend(chars.next()),
                Some(c) if c == q => break,
                Some(c) => item.push(c),
                None => return Err(format!("labels `{}`: unterminated item", truncate(t))),
            }
        }
        items.push(item);
    }
    Ok(items)
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Age in whole years at the study: year of `StudyDate_DICOM` (`YYYYMMDD`) minus `PatientBirth`
/// (a year, `1932` or `1932.0`). Either cell empty → `None`; unparsable, a birth after the
/// study, or an age above [`csvio::MAX_AGE_YEARS`] → `None` with a [`Nulled`] note.
pub fn age_at_study(study_date: &str, birth: &str, nulled: &mut Vec<Nulled>) -> Option<f32> {
    if study_date.is_empty() || birth.is_empty() {
        return None;
    }
    let year = study_date.get(..4).filter(|y| y.bytes().all(|b| b.is_ascii_digit())).and_then(|y| y.parse::<f32>().ok());
    let born = birth.parse::<f32>().ok().filter(|b| b.is_finite());
    match (year, born) {
        (Some(y), Some(b)) if (0.0..=csvio::MAX_AGE_YEARS).contains(&(y - b)) => Some(y - b),
        (Some(_), Some(_)) => {
            nulled.push(Nulled::new("age", "values out of range (0..=120 years) stored as null", &format!("{study_date} - {birth}")));
            None
        }
        _ => {
            nulled.push(Nulled::new(
                "age",
                "values that are not a number of years stored as null",
                &format!("{study_date} - {birth}"),
            ));
            None
        }
    }
}

/// `ImageDir` as a folder name (`12.0` from a float-typed export → `12`).
fn dir_name(raw: &str) -> String {
    raw.strip_suffix(".0").unwrap_or(raw).to_string()
}

pub fn open(m: &Manifest, root: &Path) -> Result<SourceData, IngestError> {
    let meta = csvio::require_file(m, "metadata", root)?;
    let csv = Csv::open(&meta)?;
    let c_id = csv.require_col(&m.column("image_id")?)?;
    let c_dir = csv.col(&m.column("image_dir")?);
    let c_pat = csv.require_col(&m.column("patient_id")?)?;
    let c_study = csv.col(&m.column("study_id")?);
    let c_birth = csv.col(&m.column("birth_year")?);
    let c_date = csv.col(&m.column("study_date")?);
    let c_sex = csv.col(&m.column("sex")?);
    let c_view = csv.col(&m.column("view")?);
    let c_lab = csv.require_col(&m.column("labels")?)?;
    let annotated = m.labels.map.keys().cloned().collect();
    let label = csvio::rel(root, &meta);
    let records = csv.into_records(label, move |row, line, rec| {
        let image_id = cell(rec, Some(c_id)).to_string();
        if image_id.is_empty() {
            return Err("empty ImageID".into());
        }
        let patient = cell(rec, Some(c_pat));
        if patient.is_empty() {
            return Err(format!("{image_id}: empty PatientID"));
        }
        let mut nulled = Vec::new();
        let raw_labels = cell(rec, Some(c_lab));
        // 103 rows of the 160K file have no `Labels` (pandas reads them as NaN): the publisher
        // gives no labels, so every finding is stored null (not negative) and the row is kept.
        let no_labels = raw_labels.is_empty() || raw_labels == "nan";
        let labels = if no_labels {
            nulled.push(Nulled::new("labels", "rows with an empty Labels cell stored with every finding null", raw_labels));
            Vec::new()
        } else {
            let terms = parse_py_list(raw_labels).map_err(|e| format!("{image_id}: {e}"))?;
            terms
                .iter()
                .map(|t| t.trim())
                .filter(|t| !t.is_empty())
                .map(|t| (t.to_string(), "1".to_string()))
                .collect()
        };
        let age = age_at_study(cell(rec, c_date), cell(rec, c_birth), &mut nulled);
        let dir = dir_name(cell(rec, c_dir));
        let mut image_paths = Vec::new();
        if !dir.is_empty() {
            image_paths.push(PathBuf::from(&dir).join(&image_id));
            image_paths.push(PathBuf::from("images").join(&dir).join(&image_id));
        }
        image_paths.push(PathBuf::from(&image_id));
        Ok(RawRecord {
            row,
            line,
            patient_id: patient.to_string(),
            study_id: opt_cell(rec, c_study),
            view: csvio::view_cell(rec, c_view, &mut nulled),
            split: None,
            image_paths,
            sex: opt_cell(rec, c_sex),
            age,
            labels,
            source_labels: serde_json::json!({ "Labels": raw_labels }),
            image_id,
            no_labels,
            nulled,
        })
    });
    Ok(SourceData { annotated, metadata_files: vec![meta], notes: Vec::new(), records })
}

#[cfg(test)]
mod tests {
    use super::{age_at_study, parse_py_list};

    #[test]
    fn ages_from_study_date_and_birth_year() {
        let mut n = Vec::new();
        assert_eq!(age_at_study("20140915", "1932.0", &mut n), Some(82.0));
        assert_eq!(age_at_study("", "1932", &mut n), None);
        assert!(n.is_empty());
        assert_eq!(age_at_study("20140915", "2016", &mut n), None);
        assert_eq!(age_at_study("2é140915", "1932", &mut n), None);
        assert_eq!(age_at_study("20140915", "nan", &mut n), None);
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].cause, "values out of range (0..=120 years) stored as null");
    }

    #[test]
    fn python_list_literals() {
        assert_eq!(parse_py_list("['a', ' b c', 'COPD signs']").unwrap(), vec!["a", " b c", "COPD signs"]);
        assert_eq!(parse_py_list("['']").unwrap(), vec![""]);
        assert_eq!(parse_py_list("[]").unwrap(), Vec::<String>::new());
        assert_eq!(parse_py_list("[\"it's\"]").unwrap(), vec!["it's"]);
        assert!(parse_py_list("pleural effusion").is_err());
        assert!(parse_py_list("['open").is_err());
    }
}
