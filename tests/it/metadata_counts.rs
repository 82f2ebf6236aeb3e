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
fn padchest_null_labels_are_rejected_with_file_and_row() {
    let root = fixture("csv/padchest");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    prep_ok(&["ingest", "padchest", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only"]);
    let rejects = crate::common::rejects(&store, "padchest");
    assert!(!rejects.is_empty());
    for r in &rejects {
        assert!(r["file"].starts_with("PADCHEST_chest_x_ray_images_labels_160K"), "{r:?}");
        assert!(r["row"].parse::<u64>().unwrap() > 0);
        assert!(r["reason"].contains("Labels"), "{r:?}");
    }
    // Patient ids of 36-39 digits survive as text.
    let batches = crate::common::read_batches(&store, "padchest");
    let pats = crate::common::strings(&batches, "patient_id");
    assert!(pats.iter().flatten().any(|p| p.len() >= 36 && p.chars().all(|c| c.is_ascii_digit())));
    assert!(Path::new(&store.join("_meta.json")).exists());
}
