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
    for (name, _) in DATASETS.iter() {
        let m = Manifest::builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&m.dataset, name);
        assert!(!m.labels.map.is_empty(), "{name}: empty label map");
        assert!(m.study.is_some(), "{name}: no [study] table");
    }
    assert_eq!(Manifest::builtins().unwrap().len(), DATASETS.len());
    assert!(Manifest::builtin("nope").unwrap_err().to_string().contains("vindr-pcxr"), "known names listed");
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

/// Every source label of the five column/token datasets, with the findings it must map to,
/// written out independently of the manifests (PadChest's 193 terms are covered by the term
/// table test above and by `scripts/check_full_counts.py` on the full CSV).
#[test]
fn every_source_label_maps_as_documented() {
    let chexpert_like = [
        ("No Finding", "no_finding"), ("Enlarged Cardiomediastinum", "enlarged_cardiomediastinum"),
        ("Cardiomegaly", "cardiomegaly"), ("Lung Opacity", "lung_opacity"), ("Lung Lesion", "lung_lesion"),
        ("Edema", "edema"), ("Consolidation", "consolidation"), ("Pneumonia", "pneumonia"),
        ("Atelectasis", "atelectasis"), ("Pneumothorax", "pneumothorax"), ("Pleural Effusion", "pleural_effusion"),
        ("Pleural Other", "pleural_other"), ("Fracture", "fracture"), ("Support Devices", "support_devices"),
    ];
    let mut table: Vec<(&str, &str, Vec<&str>)> = Vec::new();
    for (l, f) in chexpert_like {
        table.push(("chexpert", l, vec![f]));
        table.push(("mimic", l, vec![f]));
    }
    table.push(("mimic", "Airspace Opacity", vec!["lung_opacity"]));
    for (l, f) in [
        ("No Finding", "no_finding"), ("Atelectasis", "atelectasis"), ("Cardiomegaly", "cardiomegaly"),
        ("Consolidation", "consolidation"), ("Edema", "edema"), ("Effusion", "pleural_effusion"),
        ("Emphysema", "emphysema"), ("Fibrosis", "fibrosis"), ("Hernia", "hernia"), ("Infiltration", "infiltration"),
        ("Mass", "mass"), ("Nodule", "nodule"), ("Pleural_Thickening", "pleural_thickening"),
        ("Pneumonia", "pneumonia"), ("Pneumothorax", "pneumothorax"),
    ] {
        table.push(("nih", l, vec![f]));
    }
    for (l, f) in [
        ("Aortic enlargement", vec!["aortic_enlargement"]), ("Atelectasis", vec!["atelectasis"]),
        ("Calcification", vec!["calcification"]), ("Cardiomegaly", vec!["cardiomegaly"]),
        ("Clavicle fracture", vec!["clavicle_fracture", "fracture"]), ("Consolidation", vec!["consolidation"]),
        ("Edema", vec!["edema"]), ("Emphysema", vec!["emphysema"]), ("Enlarged PA", vec!["enlarged_pa"]),
        ("ILD", vec!["ild"]), ("Infiltration", vec!["infiltration"]), ("Lung Opacity", vec!["lung_opacity"]),
        ("Lung cavity", vec!["lung_cavity"]), ("Lung cyst", vec!["lung_cyst"]),
        ("Mediastinal shift", vec!["mediastinal_shift"]), ("Nodule/Mass", vec!["nodule_mass"]),
        ("Pleural effusion", vec!["pleural_effusion"]), ("Pleural thickening", vec!["pleural_thickening"]),
        ("Pneumothorax", vec!["pneumothorax"]), ("Pulmonary fibrosis", vec!["fibrosis"]),
        ("Rib fracture", vec!["rib_fracture", "fracture"]), ("Other lesion", vec!["other_lesion"]),
        ("COPD", vec!["copd"]), ("Lung tumor", vec!["lung_tumor"]), ("Pneumonia", vec!["pneumonia"]),
        ("Tuberculosis", vec!["tuberculosis"]), ("Other diseases", vec!["other_disease"]),
        ("Other disease", vec!["other_disease"]), ("No finding", vec!["no_finding"]),
    ] {
        table.push(("vindr", l, f));
    }
    for (l, f) in [
        ("cardiomegaly", vec!["cardiomegaly"]), ("congestion", vec!["congestion"]),
        ("pleural_effusion_right", vec!["pleural_effusion_right", "pleural_effusion"]),
        ("pleural_effusion_left", vec!["pleural_effusion_left", "pleural_effusion"]),
        ("pneumonic_infiltrates_right", vec!["pneumonic_infiltrates_right", "pneumonic_infiltrates"]),
        ("pneumonic_infiltrates_left", vec!["pneumonic_infiltrates_left", "pneumonic_infiltrates"]),
        ("atelectasis_right", vec!["atelectasis_right", "atelectasis"]),
        ("atelectasis_left", vec!["atelectasis_left", "atelectasis"]),
        ("pneumothorax_right", vec!["pneumothorax_right", "pneumothorax"]),
        ("pneumothorax_left", vec!["pneumothorax_left", "pneumothorax"]), ("healthy", vec!["no_finding"]),
    ] {
        table.push(("uka", l, f));
    }
    for (l, f) in crate::metadata_counts::PCXR_COLUMNS {
        table.push(("vindr-pcxr", l, vec![f]));
    }
    for d in ["nih", "chexpert", "mimic", "vindr", "uka", "vindr-pcxr"] {
        let m = Manifest::builtin(d).unwrap();
        let expected: Vec<_> = table.iter().filter(|(ds, _, _)| *ds == d).collect();
        assert_eq!(m.labels.map.len(), expected.len(), "{d}: manifest has labels the table does not document");
        for (_, label, findings) in expected {
            let got = m.findings_for(label).unwrap_or_else(|| panic!("{d}: `{label}` unmapped"));
            assert_eq!(got, findings, "{d}: `{label}`");
        }
    }
    // The VinDr Kaggle class list is a subset of the mapped labels.
    let v = Manifest::builtin("vindr").unwrap();
    for c in &v.labels.layout_labels["kaggle"] {
        assert!(v.findings_for(c).is_some(), "kaggle class {c}");
    }
}

/// The study's label sets (paper.md §1.2), written out independently of the manifests' `[study]`
/// tables, in head output order; and the view filters (§1.3).
#[test]
fn study_tables_hold_the_papers_label_sets_and_view_filters() {
    use cxr::run::config::ViewFilter;
    use cxr::train::labels::{study_labels, study_views};
    let core = ["cardiomegaly", "pleural_effusion", "pneumonia", "atelectasis", "no_finding", "consolidation", "pneumothorax"];
    let with = |extra: &[&str]| core.iter().chain(extra).map(|s| s.to_string()).collect::<Vec<_>>();
    let chexpert = with(&["lung_opacity", "lung_lesion", "fracture"]);
    let want: Vec<(&str, Vec<String>)> = vec![
        ("nih", with(&["fibrosis", "emphysema", "hernia", "pleural_thickening", "edema", "nodule", "mass"])),
        ("chexpert", chexpert.clone()),
        ("mimic", chexpert),
        ("padchest", with(&["emphysema", "hernia", "scoliosis", "congestion", "aortic_elongation", "kyphosis", "copd_signs", "pleural_thickening", "nodule_mass", "infiltration"])),
        ("vindr", with(&["pleural_thickening", "lung_opacity", "fibrosis", "nodule_mass"])),
        ("uka", ["cardiomegaly", "congestion", "pleural_effusion_right", "pleural_effusion_left", "pneumonic_infiltrates_right", "pneumonic_infiltrates_left", "atelectasis_right", "atelectasis_left", "no_finding"].map(String::from).to_vec()),
        ("vindr-pcxr", ["no_finding", "bronchitis", "bronchopneumonia", "other_disease", "bronchiolitis", "pneumonia"].map(String::from).to_vec()),
    ];
    let sizes: Vec<usize> = want.iter().map(|(_, l)| l.len()).collect();
    assert_eq!(sizes, [14, 10, 10, 17, 11, 9, 6]);
    for (d, labels) in &want {
        assert_eq!(study_labels(d).as_ref(), Some(labels), "{d}");
    }
    let names: Vec<&str> = want.iter().map(|(d, _)| *d).collect();
    assert_eq!(cxr::manifest::dataset_names(), names, "one study set per built-in dataset");
    let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(study_views("chexpert"), ViewFilter::Except(v(&["LATERAL"])));
    assert_eq!(study_views("mimic"), ViewFilter::Only(v(&["PA", "AP"])));
    assert_eq!(study_views("padchest"), ViewFilter::Only(v(&["PA", "AP", "AP_SUPINE"])));
    for d in ["nih", "vindr", "uka", "vindr-pcxr"] {
        assert_eq!(study_views(d), ViewFilter::All, "{d}");
    }
}

/// A `[study]` that names an unmapped finding, an unknown view or both filters is refused with
/// the manifest's name in the error.
#[test]
fn study_tables_are_checked() {
    let base = cxr::manifest::DATASETS.iter().find(|(n, _)| n == "vindr").unwrap().1;
    let base = &base[..base.find("[study]").unwrap()];
    for (study, needle) in [
        ("labels = [\"bronchitis\"]", "not mapped from any source label"),
        ("labels = [\"no_such\"]", "not a finding"),
        ("labels = [\"cardiomegaly\", \"cardiomegaly\"]", "listed twice"),
        ("labels = []", "empty"),
        ("labels = [\"cardiomegaly\"]\nviews.only = [\"FRONT\"]", "not one of"),
        ("labels = [\"cardiomegaly\"]\nviews.only = [\"PA\"]\nviews.except = [\"AP\"]", "both"),
    ] {
        let text = format!("{base}[study]\n{study}\n");
        let e = Manifest::parse("my.toml", &text).unwrap_err().to_string();
        assert!(e.contains("my.toml") && e.contains(needle), "{study}: {e}");
    }
    let ok = format!("{base}[study]\nlabels = [\"cardiomegaly\"]\nviews.except = [\"LATERAL\"]\n");
    assert!(Manifest::parse("my.toml", &ok).unwrap().study.is_some());
}
