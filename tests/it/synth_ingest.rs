//! Every synthetic native layout (and the Kaggle VinDr layout) ingest without rejects,
//! patients never straddle splits, and no DICOM identifier reaches the store.

use std::collections::{HashMap, HashSet};

use cxr::synth::{synthesize, SynthConfig};

use crate::common::{images, prep_ok, read_batches, strings};

#[test]
fn every_native_layout_ingests_cleanly_without_identifiers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = SynthConfig::new(tmp.path().join("data"));
    cfg.images_per_dataset = 24;
    cfg.image_size = 64;
    let report = synthesize(&cfg).unwrap();
    let store = tmp.path().join("store");
    let kaggle_store = tmp.path().join("kaggle");
    let runs = report
        .datasets
        .iter()
        .map(|d| (d, &store))
        .chain(report.alternates.iter().map(|d| (d, &kaggle_store)));
    for ((name, root, n), store) in runs {
        let out = prep_ok(&["ingest", name, "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "32", "--strict"]);
        assert!(out.contains(&format!("{n} rows written")), "{name}: {out}");
        let b = read_batches(store, name);
        for img in images(&b) {
            let img = img.expect("image stored");
            assert_eq!(img.len(), 32 * 32);
            assert!(img.iter().min() < img.iter().max(), "{name}: constant image");
        }
        // Patient-level splits.
        let mut seen: HashMap<String, String> = HashMap::new();
        for (p, s) in strings(&b, "patient_id").into_iter().zip(strings(&b, "split")) {
            let (p, s) = (p.unwrap(), s.unwrap());
            if let Some(prev) = seen.insert(p.clone(), s.clone()) {
                assert_eq!(prev, s, "{name}: patient {p} in two splits");
            }
        }
        // Every split is non-empty even at this small n, in every layout (VinDr's PhysioNet and
        // Kaggle ones included): synth places patients by a stratified rule and draws hashed ids
        // (VinDr: image ids) into their split.
        let splits: HashSet<&str> = seen.values().map(String::as_str).collect();
        assert_eq!(splits, HashSet::from(["train", "val", "test"]), "{name}: splits");
        let ids: HashSet<String> = strings(&b, "image_id").into_iter().flatten().collect();
        assert_eq!(ids.len(), *n, "{name}: unique image ids");
    }
    // No DICOM identifier anywhere in the stores (parts, metadata, rejects).
    for store in [&store, &kaggle_store] {
        for entry in crate::common::walk_files(store) {
            let bytes = std::fs::read(&entry).unwrap();
            let hay = String::from_utf8_lossy(&bytes);
            assert!(!hay.contains(cxr::synth::dicom::FAKE_PATIENT_NAME), "{}", entry.display());
            assert!(!hay.contains("SYNTH^"), "{}", entry.display());
        }
    }
    // Every dataset's annotated findings are recorded; the rest stay null.
    let meta = crate::common::meta(&store);
    for (name, _, _) in &report.datasets {
        let annotated = meta["datasets"][name]["annotated_findings"].as_array().unwrap();
        assert!(!annotated.is_empty(), "{name}");
        let b = read_batches(&store, name);
        for f in cxr::labels::FINDINGS {
            if !annotated.iter().any(|a| a == f.name) {
                assert!(crate::common::labels(&b, f.name).iter().all(Option::is_none), "{name}: {} not annotated but set", f.name);
            }
        }
    }
}

/// `cxr-prep ingest vindr-pcxr` on the synthetic layout (a manifest, no reader of its own): every
/// image stored with the positives of its CSV row, the official test file → test, train → train
/// + carved val, `--labels study` resolves to the six diseases.
#[test]
fn vindr_pcxr_synthetic_layout_ingests_with_its_counts_and_split() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = SynthConfig::new(tmp.path().join("data"));
    cfg.images_per_dataset = 60;
    cfg.image_size = 32;
    let report = synthesize(&cfg).unwrap();
    let (_, root, n) = report.datasets.iter().find(|d| d.0 == "vindr-pcxr").expect("vindr-pcxr synthesized");
    let store = tmp.path().join("store");
    let out = prep_ok(&["ingest", "vindr-pcxr", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "16", "--strict"]);
    assert!(out.contains(&format!("{n} rows written")), "{out}");
    let (train_counts, train_ids) = crate::metadata_counts::pcxr_counts(&root.join("image_labels_train.csv"));
    let (test_counts, test_ids) = crate::metadata_counts::pcxr_counts(&root.join("image_labels_test.csv"));
    assert_eq!(train_ids.len() + test_ids.len(), *n);
    let stats = cxr::stats::compute(&store, Some("vindr-pcxr"), None).unwrap();
    assert_eq!(stats.findings.len(), 15, "15 diseases annotated (hernia for the diaphragmatic one)");
    for f in &stats.findings {
        assert_eq!(f.positive, train_counts[f.finding.as_str()] + test_counts[f.finding.as_str()], "{}", f.finding);
    }
    let b = read_batches(&store, "vindr-pcxr");
    let mut per_split: HashMap<String, usize> = HashMap::new();
    for (id, split) in strings(&b, "image_id").into_iter().zip(strings(&b, "split")) {
        let (id, split) = (id.unwrap(), split.unwrap());
        assert_eq!(test_ids.contains(&id), split == "test", "{id} in {split}");
        *per_split.entry(split).or_default() += 1;
    }
    assert_eq!(per_split["test"], test_ids.len());
    assert_eq!(per_split["train"] + per_split.get("val").copied().unwrap_or(0), train_ids.len());
    assert!(per_split.get("val").copied().unwrap_or(0) > 0, "val carved from train: {per_split:?}");
    let meta = crate::common::meta(&store);
    let annotated: Vec<String> = serde_json::from_value(meta["datasets"]["vindr-pcxr"]["annotated_findings"].clone()).unwrap();
    let labels = cxr::train::labels::resolve_labels("study", &[("vindr-pcxr".to_string(), annotated)]).unwrap();
    assert_eq!(labels.len(), 6);
}
