//! Split rules and label mapping, on the library API.

use cxr::harmonize::label_map::{annotated_mask, harmonize_labels};
use cxr::harmonize::split::{assign, hash01};
use cxr::labels::{finding_index, LabelValue};
use cxr::manifest::Manifest;

fn value(v: &[LabelValue], f: &str) -> LabelValue {
    v[finding_index(f).unwrap()]
}

#[test]
fn hash_split_is_deterministic_patient_level_and_near_its_fractions() {
    let m = Manifest::builtin("padchest").unwrap();
    let mut counts = std::collections::HashMap::new();
    for i in 0..20_000 {
        let p = format!("{i:039}");
        let a = assign(&m.split, 7, None, &p).unwrap();
        assert_eq!(a, assign(&m.split, 7, None, &p).unwrap(), "deterministic");
        *counts.entry(a).or_insert(0) += 1;
    }
    let frac = |s| counts[s] as f64 / 20_000.0;
    assert!((frac("test") - m.split.test_fraction).abs() < 0.015, "{counts:?}");
    assert!((frac("val") - m.split.val_fraction).abs() < 0.015, "{counts:?}");
    // Another seed gives another split.
    let moved = (0..1000).filter(|i| {
        let p = format!("p{i}");
        assign(&m.split, 7, None, &p).unwrap() != assign(&m.split, 8, None, &p).unwrap()
    });
    assert!(moved.count() > 100);
    assert!((0.0..1.0).contains(&hash01(0, "x", "y")));
}

#[test]
fn official_splits_map_and_carve_val_from_train_only() {
    let mimic = Manifest::builtin("mimic").unwrap();
    assert_eq!(assign(&mimic.split, 0, Some("validate"), "p1").unwrap(), "val");
    assert_eq!(assign(&mimic.split, 0, Some("test"), "p1").unwrap(), "test");
    assert!(assign(&mimic.split, 0, Some("holdout"), "p1").is_err());
    let nih = Manifest::builtin("nih").unwrap();
    let carved = (0..2000).filter(|i| assign(&nih.split, 0, Some("train"), &i.to_string()).unwrap() == "val").count();
    assert!((100..300).contains(&carved), "~10% of train patients carved: {carved}");
    for i in 0..200 {
        assert_eq!(assign(&nih.split, 0, Some("test"), &i.to_string()).unwrap(), "test");
    }
}

#[test]
fn chexpert_values_keep_uncertain_and_blank() {
    let m = Manifest::builtin("chexpert").unwrap();
    let ann = annotated_mask(&m, &["Cardiomegaly".into(), "Edema".into(), "Pleural Effusion".into(), "Fracture".into()]);
    let raw = vec![
        ("Cardiomegaly".to_string(), "1.0".to_string()),
        ("Edema".to_string(), "-1.0".to_string()),
        ("Pleural Effusion".to_string(), "0.0".to_string()),
        ("Fracture".to_string(), "".to_string()),
    ];
    let v = harmonize_labels(&m, &ann, &raw).unwrap();
    assert_eq!(value(&v, "cardiomegaly"), LabelValue::Positive);
    assert_eq!(value(&v, "edema"), LabelValue::Uncertain);
    assert_eq!(value(&v, "pleural_effusion"), LabelValue::Negative);
    assert_eq!(value(&v, "fracture"), LabelValue::Unstated);
    // Not annotated by this layout: unstated, never negative.
    assert_eq!(value(&v, "hernia"), LabelValue::Unstated);
    let bad = vec![("Edema".to_string(), "maybe".to_string())];
    let e = harmonize_labels(&m, &ann, &bad).unwrap_err();
    assert_eq!(e.reject_kind(), cxr::store::rejects::RejectKind::BadLabelValue);
    assert!(e.to_string().contains("maybe"), "{e}");
}

#[test]
fn nih_tokens_absent_means_negative_and_unknown_token_is_an_error() {
    let m = Manifest::builtin("nih").unwrap();
    let ann = annotated_mask(&m, &m.labels.map.keys().cloned().collect::<Vec<_>>());
    let v = harmonize_labels(&m, &ann, &[("Effusion".into(), "1".into())]).unwrap();
    assert_eq!(value(&v, "pleural_effusion"), LabelValue::Positive);
    assert_eq!(value(&v, "pneumonia"), LabelValue::Negative);
    assert_eq!(value(&v, "lung_opacity"), LabelValue::Unstated);
    let e = harmonize_labels(&m, &ann, &[("Effussion".into(), "1".into())]).unwrap_err();
    assert_eq!(e, cxr::harmonize::HarmonizeError::UnknownLabelTerm { label: "Effussion".into() });
    assert_eq!(e.reject_kind().as_str(), "unknown label term");
    assert!(e.to_string().contains("unknown label term `Effussion`"), "{e}");
}

#[test]
fn uka_grades_binarise_at_3_and_4_and_sides_or_merge() {
    let m = Manifest::builtin("uka").unwrap();
    let cols: Vec<String> = m.labels.map.keys().cloned().collect();
    let ann = annotated_mask(&m, &cols);
    let row = |pairs: &[(&str, &str)]| {
        let raw: Vec<(String, String)> = pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        harmonize_labels(&m, &ann, &raw).unwrap()
    };
    let v = row(&[("pleural_effusion_right", "2"), ("pleural_effusion_left", "3"), ("cardiomegaly", "5"), ("healthy", "0")]);
    assert_eq!(value(&v, "pleural_effusion_right"), LabelValue::Negative);
    assert_eq!(value(&v, "pleural_effusion_left"), LabelValue::Positive);
    assert_eq!(value(&v, "pleural_effusion"), LabelValue::Positive, "left OR right");
    assert_eq!(value(&v, "cardiomegaly"), LabelValue::Negative, "5 = not assessable");
    assert_eq!(value(&v, "no_finding"), LabelValue::Negative);
    let v = row(&[("healthy", "1"), ("atelectasis_left", ""), ("atelectasis_right", "4")]);
    assert_eq!(value(&v, "no_finding"), LabelValue::Positive, "healthy is a flag, not a grade");
    assert_eq!(value(&v, "atelectasis"), LabelValue::Positive);
    assert_eq!(value(&v, "atelectasis_left"), LabelValue::Unstated);
    assert!(harmonize_labels(&m, &ann, &[("congestion".into(), "7".into())]).is_err());
}
