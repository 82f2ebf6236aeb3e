//! The finding vocabulary, the manifests and the store schema agree with their documented copies.

use std::collections::BTreeSet;

use cxr::labels::{finding_index, vocabulary_toml, FINDINGS};
use cxr::manifest::{Manifest, DATASETS};
use cxr::store::schema::{schema, schema_json};

use crate::common::fixture;

#[test]
fn schema_file_matches_code() {
    let path = fixture("../../schemas/store.schema.json");
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert_eq!(on_disk, schema_json(), "schemas/store.schema.json is stale: run `cxr-prep schema --write schemas`");
}

#[test]
fn labels_file_matches_code() {
    let on_disk = std::fs::read_to_string(fixture("../../schemas/labels.toml")).unwrap();
    assert_eq!(on_disk, vocabulary_toml(), "schemas/labels.toml is stale: run `cxr-prep schema --write schemas`");
}

#[test]
fn vocabulary_has_the_required_names_once() {
    let required = [
        "no_finding", "atelectasis", "cardiomegaly", "consolidation", "edema", "pleural_effusion", "emphysema",
        "fibrosis", "hernia", "infiltration", "mass", "nodule", "nodule_mass", "pleural_thickening", "pneumonia",
        "pneumothorax", "lung_opacity", "lung_lesion", "fracture", "support_devices", "enlarged_cardiomediastinum",
        "pleural_other", "aortic_enlargement", "calcification", "ild", "other_lesion", "kyphosis", "scoliosis",
        "congestion", "aortic_elongation", "copd_signs",
    ];
    for r in required {
        assert!(finding_index(r).is_some(), "missing finding {r}");
    }
    let names: BTreeSet<&str> = FINDINGS.iter().map(|f| f.name).collect();
    assert_eq!(names.len(), FINDINGS.len(), "duplicate finding names");
    // Every finding is an Int8 store column, after the fixed columns, in vocabulary order.
    let s = schema();
    let tail: Vec<&str> = s.fields().iter().rev().take(FINDINGS.len()).map(|f| f.name().as_str()).collect();
    let want: Vec<&str> = FINDINGS.iter().rev().map(|f| f.name).collect();
    assert_eq!(tail, want);
}

#[test]
fn every_manifest_parses_and_maps_to_known_findings() {
    for (name, _) in DATASETS {
        let m = Manifest::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&m.dataset, name);
        assert!(!m.labels.map.is_empty(), "{name}: empty label map");
    }
}

/// The mapping decisions the issue names, checked on the real manifests.
#[test]
fn named_cross_dataset_mappings() {
    let get = |d: &str, label: &str| Manifest::builtin(d).unwrap().findings_for(label).cloned();
    assert_eq!(get("nih", "Effusion").unwrap(), ["pleural_effusion"]);
    assert_eq!(get("vindr", "Pleural effusion").unwrap(), ["pleural_effusion"]);
    assert_eq!(get("padchest", "pleural effusion").unwrap(), ["pleural_effusion"]);
    assert_eq!(get("vindr", "Pulmonary fibrosis").unwrap(), ["fibrosis"]);
    assert_eq!(get("nih", "Fibrosis").unwrap(), ["fibrosis"]);
    assert_eq!(get("nih", "No Finding").unwrap(), ["no_finding"]);
    assert_eq!(get("padchest", "normal").unwrap(), ["no_finding"]);
    assert_eq!(get("uka", "healthy").unwrap(), ["no_finding"]);
    // Explicit table, not substrings: these are not the finding their words contain.
    assert!(!get("padchest", "pericardial effusion").unwrap().contains(&"pleural_effusion".to_string()));
    assert!(!get("padchest", "subcutaneous emphysema").unwrap().contains(&"emphysema".to_string()));
    assert!(!get("padchest", "pseudonodule").unwrap().contains(&"nodule".to_string()));
    // Case-insensitive and space-tolerant lookup of PadChest terms.
    assert_eq!(get("padchest", " COPD signs").unwrap(), ["copd_signs"]);
    // UKA: sides kept and OR-merged.
    assert_eq!(get("uka", "pleural_effusion_left").unwrap(), ["pleural_effusion_left", "pleural_effusion"]);
}

/// Every term of the PadChest table maps only to vocabulary findings, and the study's 17
/// PadChest labels are all reachable.
#[test]
fn padchest_term_table_covers_the_study_labels() {
    let m = Manifest::builtin("padchest").unwrap();
    let reachable: BTreeSet<&str> = m.labels.map.values().flatten().map(String::as_str).collect();
    for f in [
        "cardiomegaly", "pleural_effusion", "pneumonia", "atelectasis", "no_finding", "consolidation", "pneumothorax",
        "emphysema", "hernia", "scoliosis", "congestion", "aortic_elongation", "kyphosis", "copd_signs",
        "pleural_thickening", "nodule_mass", "infiltration",
    ] {
        assert!(reachable.contains(f), "no PadChest term maps to {f}");
    }
    assert!(m.labels.map.len() >= 190, "term table has {} terms", m.labels.map.len());
}
