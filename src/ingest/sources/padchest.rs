//! PadChest: `PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv[.gz]` (36 columns, quoted
//! multi-line cells, `Labels` as a Python-list string with stray spaces and mixed case, 36–39
//! digit patient ids kept as text), 16-bit PNGs in the folders named by `ImageDir`.

use std::path::{Path, PathBuf};

use crate::ingest::csvio::{self, cell, opt_cell, Csv};
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
        let raw_labels = cell(rec, Some(c_lab));
        if raw_labels.is_empty() || raw_labels == "nan" {
            return Err(format!("{image_id}: Labels is empty (no report labels)"));
        }
        let terms = parse_py_list(raw_labels).map_err(|e| format!("{image_id}: {e}"))?;
        let labels = terms
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .map(|t| (t.to_string(), "1".to_string()))
            .collect();
        let patient = cell(rec, Some(c_pat));
        if patient.is_empty() {
            return Err(format!("{image_id}: empty PatientID"));
        }
        let age = match (cell(rec, c_date).get(..4).map(str::parse::<f32>), cell(rec, c_birth).parse::<f32>()) {
            (Some(Ok(study_year)), Ok(birth)) if study_year >= birth => Some(study_year - birth),
            _ => None,
        };
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
            view: opt_cell(rec, c_view),
            split: None,
            image_paths,
            sex: opt_cell(rec, c_sex),
            age,
            labels,
            source_labels: serde_json::json!({ "Labels": raw_labels }),
            image_id,
        })
    });
    Ok(SourceData { annotated, metadata_files: vec![meta], notes: Vec::new(), records })
}

#[cfg(test)]
mod tests {
    use super::parse_py_list;

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
