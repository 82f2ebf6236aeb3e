//! DICOM pixel data the way PS3.3 / PS3.5 define it (issue 11, section 1), on the small
//! synthetic fixtures of `scripts/gen_dicom_conformance.py` against the values independent
//! tools computed (`tests/fixtures/dicom/conformance/reference.json`: pydicom 3
//! `apply_modality_lut` / `apply_voi_lut` / `pixel_array`, libjpeg-turbo 3, DCMTK `dcmdjpeg`).

use std::path::PathBuf;

use cxr::harmonize::pixels::{preprocess, PixelOptions};
use cxr::ingest::decode::{decode_file, DecodeError, DecodeOptions, DecodedImage, Photometric, Pixels};

fn path(name: &str) -> PathBuf {
    crate::common::fixture("dicom/conformance").join(name)
}

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path("reference.json")).unwrap()).unwrap()
}

fn ints(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn dec_with(name: &str, voi_lut: bool) -> DecodedImage {
    decode_file(&path(name), &DecodeOptions { voi_lut, ..DecodeOptions::default() })
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn dec(name: &str) -> DecodedImage {
    dec_with(name, false)
}

fn values(img: &DecodedImage) -> Vec<f64> {
    match &img.pixels {
        Pixels::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Pixels::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        Pixels::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
    }
}

#[test]
fn modality_lut_sequence_matches_pydicom() {
    let r = reference();
    for name in ["mlut_unsigned", "mlut_signed"] {
        let img = dec(&format!("{name}.dcm"));
        assert_eq!(img.photometric, Photometric::Monochrome2);
        assert_eq!(values(&img), ints(&r[name]["values"]), "{name}");
    }
}

#[test]
fn jpeg_lossless_is_bit_exact_with_and_without_restart_intervals() {
    let r = reference();
    let twin = dec("ll_twin.dcm");
    let names = ["ll_sv1_nodri", "ll_sv1_dri1", "ll_sv1_dri5", "ll_p2_dri3", "ll_p3_dri3", "ll_p4_dri3", "ll_p5_dri3", "ll_p6_dri3", "ll_p7_dri3"];
    for name in names {
        assert!(r[name].is_object(), "{name} has a reference entry");
        let img = dec(&format!("{name}.dcm"));
        assert!(img.pixels == twin.pixels, "{name} (predictor {}, DRI {} rows) differs from its uncompressed twin", r[name]["predictor"], r[name]["restart_rows"]);
    }
    // Interleaved 3-component scan (RGB of a grey, 8 bit) with DRI = 2 rows.
    let rgb = dec("ll_rgb8_dri2.dcm");
    assert_eq!(rgb.photometric, Photometric::ColorToLuma);
    assert_eq!(values(&rgb), ints(&r["ll_rgb8_dri2"]["grey"]));
    // A stream cut inside its restart intervals is an error, never pixels.
    match decode_file(&path("ll_truncated.dcm"), &DecodeOptions::default()) {
        Err(DecodeError::Dicom { .. }) => {}
        other => panic!("truncated lossless stream: {other:?}"),
    }
}

#[test]
fn colour_layouts_reduce_to_the_grey() {
    let r = reference();
    for name in ["ybr422_native", "rgb16_planar"] {
        let img = dec(&format!("{name}.dcm"));
        assert_eq!(img.photometric, Photometric::ColorToLuma, "{name}");
        assert_eq!(values(&img), ints(&r[name]["grey"]), "{name}");
    }
}

#[test]
fn same_modality_values_give_the_same_store_pixels() {
    let r = reference();
    let want = ints(&r["twins"]["values"]);
    let base = dec("twin_unsigned.dcm");
    assert_eq!(values(&base), want);
    for name in ["twin_signed", "twin_slope2", "twin_intercept", "twin_half"] {
        let img = dec(&format!("{name}.dcm"));
        assert!(img.pixels == base.pixels, "{name}: decoded samples differ from the unsigned twin");
    }
    // Store pixels (resize + min–max + equalisation, and without equalisation) are identical
    // for every encoding.
    for opts in [PixelOptions { size: 16, ..PixelOptions::default() }, PixelOptions { size: 20, equalize: false, ..PixelOptions::default() }] {
        let want = preprocess(&base, &opts).unwrap();
        for name in ["twin_signed", "twin_slope2", "twin_intercept", "twin_half"] {
            let got = preprocess(&dec(&format!("{name}.dcm")), &opts).unwrap();
            assert!(got == want, "{name}: store pixels differ from the unsigned twin ({opts:?})");
        }
        // The same image offset by −3000 (negative values) is shifted back into u16 by its
        // minimum: within a grey level or two of the unsigned file (the resizer clamps
        // overshoot at the new zero).
        let got = preprocess(&dec("twin_signed_neg.dcm"), &opts).unwrap();
        let worst = got.iter().zip(&want).map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs()).max().unwrap();
        assert!(worst <= 3, "twin_signed_neg: max |diff| {worst} ({opts:?})");
    }
}

#[test]
fn voi_windows_and_lut_sequence_match_pydicom() {
    let r = reference();
    for name in ["voi_linear", "voi_linear_exact", "voi_sigmoid", "voi_two_windows"] {
        let img = dec_with(&format!("{name}.dcm"), true);
        let got = values(&img);
        let want = ints(&r[name]["values"]);
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        // pydicom's window output is on the stored range 0..4095, ours on 0..65535: one
        // pydicom step is 16 of ours; rounding differs by at most one of ours.
        assert!(worst <= 1.0, "{name}: max |diff| {worst}");
    }
    // A VOI LUT Sequence beside a window: the LUT is used (pydicom prefer_lut=True).
    let img = dec_with("voi_lut_seq.dcm", true);
    assert_eq!(values(&img), ints(&r["voi_lut_seq"]["values"]));
    assert_eq!(img.bits_stored, 12);
    // Without --voi-lut the windows and LUTs are ignored: stored values.
    assert_eq!(values(&dec("voi_lut_seq.dcm")), ints(&r["voi_source"]["values"]));
}

#[test]
fn presentation_lut_shape_inverse_is_one_inversion() {
    let mono2 = dec("pres_inverse_mono2.dcm");
    let mono1 = dec("mono1.dcm");
    let both = dec("pres_inverse_mono1.dcm");
    assert_eq!(mono2.photometric, Photometric::Monochrome1Inverted);
    assert_eq!(both.photometric, Photometric::Monochrome1Inverted);
    // INVERSE on MONOCHROME2 = MONOCHROME1; INVERSE with MONOCHROME1 is not inverted twice.
    assert!(mono2.pixels == mono1.pixels);
    assert!(both.pixels == mono1.pixels);
    let src = ints(&reference()["voi_source"]["values"]);
    assert_eq!(values(&mono1), src.iter().map(|v| 4095.0 - v).collect::<Vec<_>>());
    // Under --voi-lut the inversion is within the window's output range.
    let win = dec_with("voi_linear.dcm", true);
    let src_voi = values(&win);
    assert!(src_voi.iter().all(|&v| (0.0..=65535.0).contains(&v)));
}

#[test]
fn jpeg_extended_12_bit_matches_libjpeg_turbo() {
    let r = reference();
    let img = dec("ext12.dcm");
    assert_eq!((img.width, img.height, img.bits_stored), (32, 24, 12));
    let got = values(&img);
    let turbo = ints(&r["ext12"]["turbo"]);
    let source = ints(&r["ext12"]["source"]);
    let diff = |a: &[f64], b: &[f64]| {
        let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
        (d.iter().cloned().fold(0.0, f64::max), d.iter().sum::<f64>() / d.len() as f64)
    };
    // Exact IDCT vs libjpeg-turbo's integer islow IDCT: at most a couple of 12-bit levels.
    let (worst, mean) = diff(&got, &turbo);
    assert!(worst <= 2.0 && mean < 0.5, "vs libjpeg-turbo: max {worst}, mean {mean}");
    // And close to what was encoded (quality 90, 12 bit).
    let (_, mean_src) = diff(&got, &source);
    eprintln!("12-bit JPEG: vs libjpeg-turbo max {worst} mean {mean:.3}; vs source mean {mean_src:.2}");
    assert!(mean_src < 40.0, "vs source: mean |diff| {mean_src}");
}

#[test]
fn data_set_without_file_meta_is_read_like_pydicom_force() {
    let r = reference();
    let bytes = std::fs::read(path("raw_implicit.dcm")).unwrap();
    assert!(!bytes.starts_with(b"DICM") && &bytes[128..132] != b"DICM");
    // Recognised by content even without a DICOM extension.
    assert_eq!(cxr::ingest::decode::ImageKind::sniff(std::path::Path::new("x.bin"), &bytes[..132]), Some(cxr::ingest::decode::ImageKind::Dicom));
    let img = dec("raw_implicit.dcm");
    assert_eq!(values(&img), ints(&r["raw_implicit"]["values"]));
    assert_eq!(img.notes, vec![cxr::ingest::decode::dicom::NOTE_NO_FILE_META]);
    assert!(dec("ll_twin.dcm").notes.is_empty());

    // Through an ingest: stored, and the summary says how it was read.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vindr");
    std::fs::create_dir_all(root.join("train")).unwrap();
    let id = "r0000000000000000000000000000001";
    std::fs::copy(path("raw_implicit.dcm"), root.join(format!("train/{id}.dicom"))).unwrap();
    let mut csv = String::from("image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max\n");
    for rad in ["R1", "R2", "R3"] {
        csv.push_str(&format!("{id},No finding,14,{rad},,,,\n"));
    }
    std::fs::write(root.join("train.csv"), csv).unwrap();
    let store = tmp.path().join("store");
    let out = crate::common::prep_ok(&["ingest", "vindr", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap()]);
    assert!(out.contains("rejects: none"), "{out}");
    assert!(out.contains("1 image: DICOM data set without preamble"), "{out}");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(store.join("_meta.json")).unwrap()).unwrap();
    assert!(meta.to_string().contains("1 image: DICOM data set without preamble"));
}

#[test]
fn corrupt_own_decoder_streams_never_panic() {
    // Our JPEG lossless, 12-bit and JPEG-LS decoders on cut and corrupted streams. (With
    // `--features jpegls` the JPEG-LS files go to CharLS instead, which is slow on these.)
    use cxr::ingest::decode::{decode_bytes, ImageKind};
    let opts = DecodeOptions::default();
    for name in ["ll_sv1_dri1.dcm", "ll_p6_dri3.dcm", "ll_rgb8_dri2.dcm", "ext12.dcm", "jls_lossless12.dcm", "jls_near3.dcm"] {
        let bytes = std::fs::read(path(name)).unwrap();
        // The code stream starts at its SOI marker; only the stream is cut or corrupted here
        // (the data set header is the DICOM parser's business).
        let start = bytes.windows(3).position(|w| w == [0xFF, 0xD8, 0xFF]).unwrap();
        for cut in (start..bytes.len()).step_by(23) {
            let r = decode_bytes(&bytes[..cut], ImageKind::Dicom, &opts);
            assert!(!matches!(r, Err(DecodeError::DecoderPanic { .. })), "{name} cut at {cut}: {r:?}");
        }
        for at in (start..bytes.len() - 8).step_by(29) {
            let mut bad = bytes.clone();
            bad[at..at + 8].iter_mut().for_each(|b| *b ^= 0xA5);
            let r = decode_bytes(&bad, ImageKind::Dicom, &opts);
            assert!(!matches!(r, Err(DecodeError::DecoderPanic { .. })), "{name} corrupted at {at}: {r:?}");
        }
    }
}

#[test]
fn jpegls_matches_charls() {
    // Written and decoded by CharLS 2.4: lossless 8/12/16-bit and near-lossless (NEAR = 3), with
    // flat borders for run mode. The default build decodes them with the pure-Rust decoder,
    // `--features jpegls` with CharLS itself.
    let r = reference();
    for name in ["jls_lossless8", "jls_lossless12", "jls_lossless16", "jls_near3"] {
        let img = dec(&format!("{name}.dcm"));
        assert_eq!(values(&img), ints(&r[name]["charls"]), "{name}");
    }
    // Colour JPEG-LS: CharLS only; without it, a reject that names the feature.
    match decode_file(&path("jls_rgb.dcm"), &DecodeOptions::default()) {
        Ok(img) => {
            let built_in = cfg!(feature = "jpegls");
            assert!(built_in, "colour JPEG-LS decoded without the jpegls feature");
            assert_eq!(values(&img), ints(&r["jls_rgb"]["grey"]));
        }
        Err(e) => {
            let built_in = cfg!(feature = "jpegls");
            assert!(!built_in, "{e:?}");
            let msg = e.to_string();
            assert!(msg.contains("1.2.840.10008.1.2.4.80") && msg.contains("--features jpegls"), "{msg}");
        }
    }
}
