//! The real-world DICOM cases of issue 11 (`tests/fixtures/cases/`, copied from the shared
//! cases folder with their right results): each ingested end to end through `cxr-prep`.

use std::collections::HashMap;
use std::path::Path;

use crate::common::{fixture, images, prep_ok, read_batches, strings};

/// Ingests `cases/<case>/root` as `dataset` with `extra` options; image id → store pixels.
fn ingest_case(case: &str, dataset: &str, extra: &[&str]) -> HashMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture(&format!("cases/{case}/root"));
    let store = tmp.path().join("store");
    let mut args = vec!["ingest", dataset, "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap()];
    args.extend_from_slice(extra);
    let summary = prep_ok(&args);
    assert!(summary.contains("rejects: none"), "{summary}");
    let b = read_batches(&store, dataset);
    let ids: Vec<String> = strings(&b, "image_id").into_iter().flatten().collect();
    let px = images(&b);
    ids.into_iter().zip(px).map(|(id, p)| (id, p.expect("image stored"))).collect()
}

fn read_u8(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn modality_lut_sequence_is_applied() {
    // e5: Modality LUT Sequence (0028,3000) instead of Rescale; f6: the same stored values, no LUT.
    let case = "vindr-modality-lut-sequence";
    let got = ingest_case(case, "vindr", &["--no-equalize", "--size", "128"]);
    assert_eq!(got.len(), 2);
    for id in ["e5000000000000000000000000000005", "f6000000000000000000000000000006"] {
        let want = read_u8(&fixture(&format!("cases/{case}/{id}.expected.u8")));
        let p = &got[id];
        assert_eq!(p.len(), want.len(), "{id}");
        let worst = p.iter().zip(&want).map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs()).max().unwrap();
        eprintln!("{id}: max |diff| {worst} against the expected store pixels");
        assert!(worst <= 1, "{id}: max |diff| {worst} against pydicom apply_modality_lut + min-max");
    }
    // The LUT changes the image (it is not a linear map of the stored values).
    let (e, f) = (&got["e5000000000000000000000000000005"], &got["f6000000000000000000000000000006"]);
    let mad = e.iter().zip(f.iter()).map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs()).sum::<f64>() / e.len() as f64;
    eprintln!("LUT vs no-LUT: mean |diff| {mad:.1}");
    assert!(mad > 5.0, "LUT and no-LUT images should differ, mean |diff| {mad}");
}

#[test]
fn jpeg_lossless_with_restart_intervals_is_byte_exact() {
    // a: uncompressed; b: JPEG Lossless SV1 without DRI; c: DRI = 8 rows; d: DRI = 1 row.
    let got = ingest_case("vindr-jpeg-lossless-restart", "vindr", &[]);
    assert_eq!(got.len(), 4);
    let a = &got["a0000000000000000000000000000001"];
    for id in ["b0000000000000000000000000000002", "c0000000000000000000000000000003", "d0000000000000000000000000000004"] {
        assert!(&got[id] == a, "{id}: store pixels differ from the uncompressed file");
    }
}

#[test]
fn colour_encodings_of_a_grey_image_give_the_grey() {
    let got = ingest_case("uka-dicom-colour-secondary-capture", "uka", &[]);
    assert_eq!(got.len(), 5);
    let a = &got["A_grey_mono2"];
    for id in ["B_rgb_interleaved", "C_rgb_planar1", "D_ybr_full_native"] {
        assert!(&got[id] == a, "{id}: store pixels differ from the MONOCHROME2 file");
    }
    let e = &got["E_jpeg_ybr_full_422"];
    let mad = e.iter().zip(a.iter()).map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs()).sum::<f64>() / a.len() as f64;
    eprintln!("JPEG YBR_FULL_422 vs grey: mean |diff| {mad:.2}");
    assert!(mad < 4.0, "JPEG YBR_FULL_422: mean |diff| {mad} against the grey file");
}
