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
