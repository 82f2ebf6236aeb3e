//! `--metadata-only` ingests of real metadata excerpts (cut from the files bundled in the
//! torchxrayvision 1.5.7 wheel, see tests/fixtures/csv/ORIGIN.md): the store's per-finding
//! counts, computed with polars by `cxr-prep stats`, equal the counts of an independent pandas
//! implementation (`scripts/count_labels.py`, output committed as expected_counts_excerpts.json).
//! The same comparison on the full wheel files is `scripts/check_full_counts.sh`.

use std::path::Path;

use crate::common::{fixture, prep_ok};

fn check(key: &str, expected: &serde_json::Value) {
    let file = fixture("csv").join(key);
    let root = file.parent().unwrap();
    let dataset = match expected["dataset"].as_str().unwrap() {
        "vindr-kaggle" => "vindr",
        d => d,
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = prep_ok(&[
        "ingest", dataset, "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only",
        "--max-reject-fraction", "1",
    ]);
    let stats = cxr::stats::compute(&store, Some(dataset), None).unwrap();
    let meta = crate::common::meta(&store);
    let stored = meta["datasets"][dataset]["rows"].as_u64().unwrap();
    let rejected = meta["datasets"][dataset]["rejects"].as_u64().unwrap();
    assert_eq!(rejected, expected["rejected"].as_u64().unwrap(), "{key}: rejects\n{out}");
    assert_eq!(stored + rejected, expected["rows"].as_u64().unwrap(), "{key}: rows\n{out}");
    let want = expected["findings"].as_object().unwrap();
    let got: Vec<&str> = stats.findings.iter().map(|f| f.finding.as_str()).collect();
    let mut want_names: Vec<&str> = want.keys().map(String::as_str).collect();
    let mut got_sorted = got.clone();
    want_names.sort();
    got_sorted.sort();
    assert_eq!(got_sorted, want_names, "{key}: annotated findings");
    for f in &stats.findings {
        let w = &want[&f.finding];
        let pair = [
            ("pos", f.positive),
            ("neg", f.negative),
            ("unc", f.uncertain),
            ("null", f.unstated),
        ];
        for (k, v) in pair {
            assert_eq!(v, w[k].as_u64().unwrap(), "{key}: {} {k}", f.finding);
        }
    }
}

#[test]
fn excerpt_counts_equal_independent_pandas_counts() {
    let path = fixture("csv/expected_counts_excerpts.json");
    let all: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let all = all.as_object().unwrap();
    assert!(all.len() >= 5, "one expectation per excerpt");
    for (key, expected) in all {
        check(key, expected);
    }
}

#[test]
fn nih_official_split_lists_are_used() {
    let root = fixture("csv/nih");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only"]);
    let batches = crate::common::read_batches(&store, "nih");
    let ids = crate::common::strings(&batches, "image_id");
    let splits = crate::common::strings(&batches, "split");
    let test: std::collections::HashSet<String> =
        std::fs::read_to_string(root.join("test_list.txt")).unwrap().lines().map(|l| l.trim().to_string()).collect();
    assert!(!test.is_empty());
    for (id, split) in ids.iter().zip(&splits) {
        let id = id.as_ref().unwrap();
        let split = split.as_deref().unwrap();
        assert_eq!(test.contains(id), split == "test", "{id} is in {split}");
    }
    assert!(splits.iter().any(|s| s.as_deref() == Some("val")), "val carved from train_val");
}

#[test]
fn padchest_rows_without_labels_are_kept_with_every_finding_null() {
    let root = fixture("csv/padchest");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let out = prep_ok(&["ingest", "padchest", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only"]);
    // Rows 24 and 27 of the excerpt have `nan` in Labels (as 103 rows of the 160K file).
    let note = "labels: 2 rows with an empty Labels cell stored with every finding null (first: row 24, `nan`)";
    assert!(out.contains(note), "{out}");
    let meta = crate::common::meta(&store);
    assert_eq!(meta["datasets"]["padchest"]["rejects"], 0);
    assert_eq!(meta["datasets"]["padchest"]["rows"], 53);
    let notes: Vec<&str> = meta["datasets"]["padchest"]["notes"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(notes.contains(&note), "{notes:?}");
    let batches = crate::common::read_batches(&store, "padchest");
    let rows = crate::common::strings(&batches, "source_labels");
    let source_row: Vec<u64> = batches
        .iter()
        .flat_map(|b| {
            use arrow::array::AsArray;
            b.column_by_name("source_row").unwrap().as_primitive::<arrow::datatypes::UInt64Type>().values().to_vec()
        })
        .collect();
    let annotated = meta["datasets"]["padchest"]["annotated_findings"].as_array().unwrap();
    let findings: Vec<Vec<Option<i8>>> =
        annotated.iter().map(|f| crate::common::labels(&batches, f.as_str().unwrap())).collect();
    for (i, (sl, r)) in rows.iter().zip(&source_row).enumerate() {
        let unlabelled = sl.as_deref() == Some(r#"{"Labels":"nan"}"#);
        assert_eq!(unlabelled, *r == 24 || *r == 27, "row {r}: {sl:?}");
        for f in &findings {
            assert_eq!(f[i].is_none(), unlabelled, "row {r}: every finding null exactly for rows without labels");
        }
    }
    // Patient ids of 36-39 digits survive as text.
    let pats = crate::common::strings(&batches, "patient_id");
    assert!(pats.iter().flatten().any(|p| p.len() >= 36 && p.chars().all(|c| c.is_ascii_digit())));
    assert!(Path::new(&store.join("_meta.json")).exists());
}

/// Column → finding of VinDr-PCXR, written out independently of the manifest.
pub(crate) const PCXR_COLUMNS: [(&str, &str); 15] = [
    ("No finding", "no_finding"), ("Bronchitis", "bronchitis"), ("Brocho-pneumonia", "bronchopneumonia"),
    ("Other disease", "other_disease"), ("Bronchiolitis", "bronchiolitis"), ("Situs inversus", "situs_inversus"),
    ("Pneumonia", "pneumonia"), ("Pleuro-pneumonia", "pleuropneumonia"), ("Diagphramatic hernia", "hernia"),
    ("Tuberculosis", "tuberculosis"), ("Congenital emphysema", "congenital_emphysema"), ("CPAM", "cpam"),
    ("Hyaline membrane disease", "hyaline_membrane_disease"), ("Mediastinal tumor", "mediastinal_tumor"),
    ("Lung tumor", "lung_tumor"),
];

/// Positives per finding and the ids of a VinDr-PCXR label CSV, counted here with the csv crate
/// (rows with a cell other than 0/1 skipped: the ingest rejects them).
pub(crate) fn pcxr_counts(path: &Path) -> (std::collections::BTreeMap<&'static str, u64>, Vec<String>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut counts = std::collections::BTreeMap::new();
    let mut ids = Vec::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        if !rec.iter().skip(2).all(|v| v == "0" || v == "1") {
            continue;
        }
        ids.push(rec[0].to_string());
        for (col, finding) in PCXR_COLUMNS {
            let k = header.iter().position(|h| h == col).unwrap();
            *counts.entry(finding).or_insert(0) += u64::from(&rec[k] == "1");
        }
    }
    (counts, ids)
}

/// VinDr-PCXR label CSVs in the published header format (`tests/fixtures/csv/vindr-pcxr`, rows
/// made by `scripts/make_pcxr_fixture.py`: the release itself needs PhysioNet credentials): every
/// good row stored with the positives counted independently, the official test file → test, the
/// train file → train + carved val, the damaged row rejected with its file and row.
#[test]
fn vindr_pcxr_published_header_counts_and_official_split() {
    let root = fixture("csv/vindr-pcxr");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    prep_ok(&[
        "ingest", "vindr-pcxr", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only",
        "--max-reject-fraction", "1",
    ]);
    let (train_counts, train_ids) = pcxr_counts(&root.join("image_labels_train.csv"));
    let (test_counts, test_ids) = pcxr_counts(&root.join("image_labels_test.csv"));
    let meta = crate::common::meta(&store);
    let m = &meta["datasets"]["vindr-pcxr"];
    assert_eq!(m["rows"].as_u64().unwrap() as usize, train_ids.len() + test_ids.len());
    assert_eq!(m["rejects"], 1);
    let rej = crate::common::rejects(&store, "vindr-pcxr");
    assert_eq!(rej.len(), 1);
    let line = format!("{rej:?}");
    assert!(line.contains("image_labels_train.csv") && line.contains("Bronchitis") && line.contains('2'), "{line}");
    let mut annotated: Vec<&str> = m["annotated_findings"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    annotated.sort();
    let mut want: Vec<&str> = PCXR_COLUMNS.iter().map(|(_, f)| *f).collect();
    want.sort();
    assert_eq!(annotated, want);
    let stats = cxr::stats::compute(&store, Some("vindr-pcxr"), None).unwrap();
    for f in &stats.findings {
        let pos = train_counts[f.finding.as_str()] + test_counts[f.finding.as_str()];
        assert_eq!(f.positive, pos, "{}", f.finding);
        assert_eq!(f.positive + f.negative, m["rows"].as_u64().unwrap(), "{}: no null, no uncertain", f.finding);
    }
    let batches = crate::common::read_batches(&store, "vindr-pcxr");
    let ids = crate::common::strings(&batches, "image_id");
    let splits = crate::common::strings(&batches, "split");
    let views = crate::common::strings(&batches, "view");
    for ((id, split), view) in ids.iter().zip(&splits).zip(&views) {
        let (id, split) = (id.as_deref().unwrap(), split.as_deref().unwrap());
        assert_eq!(test_ids.iter().any(|t| t == id), split == "test", "{id} in {split}");
        assert!(split != "test" || !train_ids.iter().any(|t| t == id));
        assert_eq!(view.as_deref(), Some("PA"));
    }
    // The study's six labels resolve against this store.
    let ds = vec![("vindr-pcxr".to_string(), annotated.iter().map(|s| s.to_string()).collect())];
    let labels = cxr::train::labels::resolve_labels("study", &ds).unwrap();
    assert_eq!(labels, ["no_finding", "bronchitis", "bronchopneumonia", "other_disease", "bronchiolitis", "pneumonia"]);
}
