//! The real-world DICOM cases (`tests/fixtures/cases/`) with their right results, each ingested
//! end to end through `cxr-prep`: issue 11's copied from the shared cases folder, issue 18's
//! (16 bits allocated / 8 stored in every encoding; private sequences as UN, CP-246) written by
//! `scripts/gen_round3_cases.py`.

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

// ---------------------------------------------------------------------------------------------
// Issue 18 (round 3): `scripts/gen_round3_cases.py` writes these two roots and checks them
// against pydicom 3, libjpeg-turbo and CharLS/OpenJPEG.

/// Summary notes of an ingest's `_meta.json` entry for `dataset`.
fn meta_notes(store: &Path, dataset: &str) -> String {
    crate::common::meta(store)["datasets"][dataset]["notes"].to_string()
}

#[test]
fn sixteen_allocated_eight_stored_is_the_eight_bit_image_in_every_encoding() {
    let case = "uka-dicom-16-allocated-8-stored";
    let got = ingest_case(case, "uka", &[]);
    assert_eq!(got.len(), 8);
    let a = &got["A_native_ba8"];
    for id in ["B_native_ba16_bs8", "C_jpeg_lossless_sv1_ba16", "D_jpegls_ba16", "E_j2k_lossless_ba16", "F_rle_ba16"] {
        assert!(&got[id] == a, "{id}: store pixels differ from the 8-bit native file");
    }
    // G (Bits Allocated 16, 8-bit JPEG baseline code stream) is H (the same stream, BA 8).
    assert!(got["G_jpeg_baseline_ba16"] == got["H_jpeg_baseline_ba8"], "G differs from H: the code stream must win");
    // Decoded samples: the code stream's 8-bit values, as libjpeg-turbo decodes them (DCMTK
    // dcmdjpeg gives the same), never two samples read as one.
    use cxr::ingest::decode::{decode_file, DecodeOptions, Pixels};
    let g = decode_file(&fixture(&format!("cases/{case}/root/dicom/G_jpeg_baseline_ba16.dcm")), &DecodeOptions::default()).unwrap();
    let want = read_u8(&fixture(&format!("cases/{case}/G_expected_samples.u8")));
    let Pixels::U8(px) = &g.pixels else { panic!("G: {} samples, 8-bit expected", g.pixels.type_name()) };
    assert_eq!((g.width, g.height, px.len()), (176, 144, want.len()));
    let worst = px.iter().zip(&want).map(|(&x, &y)| (i32::from(x) - i32::from(y)).abs()).max().unwrap();
    assert!(worst <= 2, "G vs libjpeg-turbo: max |diff| {worst}");
    assert!(g.notes.iter().any(|n| n.contains("precision 8 with Bits Allocated 16")), "{:?}", g.notes);
}

/// Byte `offset` of the value of US element (`group`, `elem`) in an explicit-VR file.
fn us_value_at(bytes: &[u8], group: u16, elem: u16) -> usize {
    let mut head = [0u8; 8];
    head[..2].copy_from_slice(&group.to_le_bytes());
    head[2..4].copy_from_slice(&elem.to_le_bytes());
    head[4..8].copy_from_slice(b"US\x02\x00");
    bytes.windows(8).position(|w| w == head).expect("US element") + 8
}

#[test]
fn a_data_set_that_disagrees_with_the_code_stream_is_rejected_naming_both() {
    use cxr::ingest::decode::{decode_bytes, DecodeOptions, ImageKind};
    let dir = fixture("cases/uka-dicom-16-allocated-8-stored/root/dicom");
    let edit = |name: &str, group: u16, elem: u16, value: u16| {
        let mut b = read_u8(&dir.join(name));
        let at = us_value_at(&b, group, elem);
        b[at..at + 2].copy_from_slice(&value.to_le_bytes());
        decode_bytes(&b, ImageKind::Dicom, &DecodeOptions::default()).map(|_| ()).map_err(|e| format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()))
    };
    // JPEG baseline / lossless / JPEG-LS streams of 176 x 144 in a data set that says 100 rows.
    for name in ["G_jpeg_baseline_ba16.dcm", "C_jpeg_lossless_sv1_ba16.dcm"] {
        let e = edit(name, 0x0028, 0x0010, 100).unwrap_err();
        assert!(e.contains("176x144") && e.contains("the data set says"), "{name}: {e}");
    }
    // RLE: two byte segments, a data set that says 8 bits allocated needs one.
    let e = edit("F_rle_ba16.dcm", 0x0028, 0x0100, 8).unwrap_err();
    assert!(e.contains("RLE header has 2 segment(s)"), "{e}");
    // RLE: a data set that says 100 rows: the segments decode to more bytes than it needs.
    let e = edit("F_rle_ba16.dcm", 0x0028, 0x0010, 100).unwrap_err();
    assert!(e.contains("longer than the image"), "{e}");
}

#[test]
fn private_sequences_stored_as_un_are_read_as_pydicom_reads_them() {
    let case = "uka-dicom-private-sequence-cp246";
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let root = fixture(&format!("cases/{case}/root"));
    let summary = prep_ok(&["ingest", "uka", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap()]);
    assert!(summary.contains("rejects: none"), "{summary}");
    let b = read_batches(&store, "uka");
    let ids: Vec<String> = strings(&b, "image_id").into_iter().flatten().collect();
    let got: HashMap<String, Vec<u8>> = ids.into_iter().zip(images(&b)).map(|(i, p)| (i, p.unwrap())).collect();
    assert_eq!(got.len(), 6);
    let a = &got["A_clean"];
    for id in ["B_private_un_undefined_length", "C_private_sq_explicit", "D_un_defined_length_sequence", "E_implicit_deid_code_sequence_as_text", "F_explicit_deid_code_sequence_as_lo"] {
        assert!(&got[id] == a, "{id}: store pixels differ from the clean file");
    }
    let notes = meta_notes(&store, "uka");
    assert!(notes.contains("2 images: DICOM data set with a sequence stored as UN"), "{notes}");
    assert!(notes.contains("1 image: DICOM implicit-VR data set with text in a sequence attribute"), "{notes}");
}
