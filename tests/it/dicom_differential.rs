//! Differential conformance against pydicom over the public DICOM test corpora (issue 18,
//! kind 6): `scripts/dicom_differential.py` decodes every file of pydicom's test files and the
//! `pydicom-data` package with pydicom, writes a native twin of its first frame, ingests
//! originals and twins with this build's `cxr-prep`, and compares the stored pixels (lossless:
//! byte-identical; lossy: mean ≤ 2, 99th percentile ≤ 8 grey levels) or counts the reject's
//! reason. Nothing may differ, no row may be lost. CI installs the Python packages and sets
//! `CXR_REQUIRE_DIFFERENTIAL=1`, so there a missing package fails; elsewhere the test skips.

use std::process::Command;

#[test]
fn every_image_pydicom_decodes_is_stored_as_its_twin_or_rejected_with_a_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let script = crate::common::fixture("../../scripts/dicom_differential.py");
    let report = tmp.path().join("report.json");
    let python = std::env::var("CXR_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_cxr-prep"))
        .arg(tmp.path().join("work"))
        .arg("--json")
        .arg(&report)
        .output();
    let required = std::env::var("CXR_REQUIRE_DIFFERENTIAL").is_ok();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            assert!(!required, "{python} not runnable: {e}");
            eprintln!("skipped: {python} not available ({e})");
            return;
        }
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    eprintln!("{text}");
    match out.status.code() {
        Some(0) => {}
        Some(3) if !required => {
            eprintln!("skipped: pydicom, pydicom-data or its decoders are not installed");
            return;
        }
        _ => panic!("cxr and pydicom disagree:\n{text}"),
    }
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let c = &r["counts"];
    assert_eq!(c["differing"], 0, "{text}");
    // The corpus is pydicom's: well over a hundred images, most of them stored identically.
    let compared = r["compared"].as_u64().unwrap();
    assert!(compared >= 150, "only {compared} files compared:\n{text}");
    assert!(c["identical"].as_u64().unwrap() >= 130, "{text}");
}
