//! JPEG 2000 DICOM (src/ingest/decode/j2k.rs) against references of independent decoders:
//! reduced-resolution decodes equal C OpenJPEG's `opj_decompress -r R` exactly, full-resolution
//! decodes equal pydicom + pylibjpeg-openjpeg, a code-stream precision above Bits Stored is used
//! (pydicom 3), YBR_RCT / YBR_ICT of a grey image give the grey. Fixtures and references:
//! `scripts/gen_j2k_fixtures.py` → tests/fixtures/j2k/ (125 × 93 crop of the real RG1 CR).

use cxr::ingest::decode::j2k::{codestream, parse_header, reduce_factor};
use cxr::ingest::decode::{DecodeOptions, DecodedImage, Photometric, Pixels, decode_file};
use sha2::{Digest, Sha256};

use crate::common::{fixture, images, meta, prep, prep_ok, read_batches};

const UKA_HEADER: &str = "image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,pleural_effusion_right,pleural_effusion_left,pneumonic_infiltrates_right,pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,pneumothorax_right,pneumothorax_left,healthy";

fn expected() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("j2k/expected.json")).unwrap()).unwrap()
}

fn dec(name: &str, min_side: Option<u32>) -> DecodedImage {
    let opts = DecodeOptions { j2k_min_side: min_side, ..DecodeOptions::default() };
    decode_file(&fixture(&format!("j2k/{name}")), &opts).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn values(img: &DecodedImage) -> Vec<u16> {
    match &img.pixels {
        Pixels::U16(v) => v.clone(),
        Pixels::U8(v) => v.iter().map(|&x| u16::from(x)).collect(),
        Pixels::F32(_) => panic!("unexpected f32 output"),
    }
}

/// Stored values of a 15-bit MONOCHROME1 image (the decoder reflects them: `32767 − v`).
fn unflip(img: &DecodedImage) -> Vec<u16> {
    assert_eq!(img.photometric, Photometric::Monochrome1Inverted);
    assert_eq!(img.bits_stored, 15);
    values(img).iter().map(|&v| 32767 - v).collect()
}

/// Asserts that `v` (width × height) equals the reference entry `r` of expected.json.
fn assert_ref(what: &str, img: &DecodedImage, v: &[u16], r: &serde_json::Value) {
    assert_eq!((u64::from(img.width), u64::from(img.height)), (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()), "{what}: size");
    let sum: u64 = v.iter().map(|&x| u64::from(x)).sum();
    let want_head: Vec<u64> = r["head"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    let head: Vec<u64> = v[..want_head.len()].iter().map(|&x| u64::from(x)).collect();
    assert_eq!((sum, head), (r["sum"].as_u64().unwrap(), want_head), "{what}: sum / first values");
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), r["sha256"].as_str().unwrap(), "{what}: pixels");
}

#[test]
fn header_and_reduce_factor() {
    let bytes = std::fs::read(fixture("j2k/reduce_lossless.dcm")).unwrap();
    // The code stream starts after the item tag of the first fragment; find SOC + SIZ.
    let soc = bytes.windows(4).position(|w| w == [0xFF, 0x4F, 0xFF, 0x51]).unwrap();
    let cs = codestream(&bytes[soc..]).unwrap();
    let info = parse_header(cs).unwrap();
    assert_eq!((info.x0, info.x1, info.y0, info.y1), (0, 125, 0, 93));
    assert_eq!(info.components, vec![(15, false)]);
    assert_eq!(info.levels, 5);
    // Each level halves each side, rounding up: 125 x 93 -> 63 x 47 -> 32 x 24 -> 16 x 12 ...
    assert_eq!(reduce_factor(&info, 224), 0);
    assert_eq!(reduce_factor(&info, 94), 0);
    assert_eq!(reduce_factor(&info, 47), 1);
    assert_eq!(reduce_factor(&info, 48), 0);
    assert_eq!(reduce_factor(&info, 24), 2);
    assert_eq!(reduce_factor(&info, 12), 3);
    assert_eq!(reduce_factor(&info, 1), 5, "never more than the decomposition levels");
    assert!(parse_header(&cs[..20]).is_err());
    assert!(codestream(b"not a code stream").is_err());
}

/// Reduced decodes equal OpenJPEG's own reduced decode, lossless (5/3) and lossy (9/7).
#[test]
fn reduced_decode_equals_opj_decompress_r() {
    let exp = expected();
    for name in ["reduce_lossless", "reduce_lossy"] {
        for r in 1..=5u32 {
            let want = &exp[name][format!("r{r}")];
            // The smaller side at level r is the height: asking for exactly it selects level r.
            let min_side = want["height"].as_u64().unwrap() as u32;
            let img = dec(&format!("{name}.dcm"), Some(min_side));
            assert_ref(&format!("{name} r{r}"), &img, &unflip(&img), want);
        }
    }
}

/// Full resolution (no reduction, or a target larger than the image) is pydicom's decode,
/// bit-exact for the lossless file.
#[test]
fn full_resolution_is_bit_exact() {
    let exp = expected();
    for (name, min_side) in [("reduce_lossless", None), ("reduce_lossless", Some(224)), ("reduce_lossy", None), ("reduce_lossy", Some(94))] {
        let img = dec(&format!("{name}.dcm"), min_side);
        assert_ref(&format!("{name} full {min_side:?}"), &img, &unflip(&img), &exp[name]["full"]);
        assert!(img.notes.is_empty(), "{:?}", img.notes);
    }
    assert_eq!(exp["reduce_lossless"]["full"]["sha256"], exp["crop"]["sha256"]);
}

/// Code stream precision 15 under Bits Stored 12: the code stream's precision is used (values
/// above 4095 kept, MONOCHROME1 reflected in 15 bits), with a note.
#[test]
fn codestream_precision_wins_over_bits_stored() {
    let exp = expected();
    for min_side in [None, Some(40)] {
        let img = dec("precision.dcm", min_side);
        if min_side.is_none() {
            assert_ref("precision", &img, &unflip(&img), &exp["precision"]);
        } else {
            // Same code stream as reduce_lossless: same reduced pixels.
            assert_ref("precision r1", &img, &unflip(&img), &exp["reduce_lossless"]["r1"]);
        }
        assert_eq!(img.notes.len(), 1, "{:?}", img.notes);
        assert!(img.notes[0].contains("precision 15") && img.notes[0].contains("Bits Stored 12"), "{}", img.notes[0]);
    }
    assert!(exp["precision"]["max"].as_u64().unwrap() > 4095, "the fixture must need more than 12 bits");
}

/// YBR_RCT (lossless) of a grey image gives exactly the grey; YBR_ICT (lossy) gives the BT.601
/// luminance of C OpenJPEG's RGB, close to the grey.
#[test]
fn rct_and_ict_of_grey_images_give_grey() {
    let exp = expected();
    let rct = dec("rct_grey.dcm", None);
    assert_eq!(rct.photometric, Photometric::ColorToLuma);
    assert_ref("rct", &rct, &values(&rct), &exp["crop"]);
    assert_ref("rct ref", &rct, &values(&rct), &exp["rct_grey"]);
    let rct_small = dec("rct_grey.dcm", Some(24));
    assert_eq!((rct_small.width, rct_small.height), (32, 24));

    let ict = dec("ict_grey.dcm", None);
    assert_eq!(ict.photometric, Photometric::ColorToLuma);
    assert_eq!(ict.bits_stored, 8);
    let v = values(&ict);
    assert_ref("ict", &ict, &v, &exp["ict_grey"]["luma"]);
}

/// The ingest decodes J2K at full resolution by default and records it; `--fast-j2k` (reduced
/// resolution) is a stored opt-in option (changing it needs --overwrite); the precision note
/// reaches summary and _meta.json.
#[test]
fn ingest_records_j2k_reduction_and_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("uka");
    std::fs::create_dir_all(root.join("images")).unwrap();
    let mut csv = String::from(UKA_HEADER);
    csv.push('\n');
    for (i, name) in ["reduce_lossless", "precision", "rct_grey"].iter().enumerate() {
        std::fs::copy(fixture(&format!("j2k/{name}.dcm")), root.join(format!("images/{name}.dcm"))).unwrap();
        csv.push_str(&format!("{name},P{i},train,images/{name}.dcm,AP,M,61,3,0,0,4,,,1,2,0,0,0\n"));
    }
    std::fs::write(root.join("UKA_CXR_labels.csv"), csv).unwrap();
    let store = tmp.path().join("store");
    let (r, s) = (root.to_str().unwrap(), store.to_str().unwrap());
    let base = ["ingest", "uka", "--root", r, "--out", s, "--size", "32", "--json"];
    let summary: serde_json::Value = serde_json::from_str(&prep_ok(&base)).unwrap();
    assert_eq!(summary["rows"], 3);
    let notes: Vec<String> = summary["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    assert!(notes.iter().any(|n| n.starts_with("1 image: JPEG 2000 code-stream precision 15 differs from Bits Stored 12")), "{notes:?}");
    let m = meta(&store);
    assert_eq!(m["datasets"]["uka"]["options"]["j2k_reduce"], false);
    assert!(m["datasets"]["uka"]["notes"].to_string().contains("Bits Stored 12"));
    let full_px = images(&read_batches(&store, "uka"));
    // Same code stream (lossless and precision) -> same stored image.
    assert_eq!(full_px[0], full_px[1]);

    let mut fast = base.to_vec();
    fast.push("--fast-j2k");
    let refused = prep(&fast);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--overwrite") && err.contains("j2k_reduce"), "{err}");
    fast.push("--overwrite");
    prep_ok(&fast);
    assert_eq!(meta(&store)["datasets"]["uka"]["options"]["j2k_reduce"], true);
    let reduced = images(&read_batches(&store, "uka"));
    assert_eq!(reduced[0], reduced[1]);
    // Reduced (32 x 24 -> 32 x 32) and full (125 x 93 -> 32 x 32) differ but stay close.
    let (a, b) = (reduced[0].as_ref().unwrap(), full_px[0].as_ref().unwrap());
    let mad = a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs()).sum::<f64>() / a.len() as f64;
    assert!(mad < 12.0, "mean absolute difference {mad}");
}

/// Pixel Representation 1 over an unsigned 13-bit code stream of two's complement patterns:
/// reinterpreted as signed, as pydicom 3 does, with a note.
#[test]
fn codestream_sign_is_corrected_like_pydicom() {
    let exp = expected();
    let img = dec("sign.dcm", None);
    // The reference is the signed values + 4096. The DICOM numeric path hands integers over as
    // u16 shifted by their minimum m, so x + 4096 = u + (m + 4096): the offset is fixed by the
    // reference's first value and the whole image must then match its sum and sha256.
    let shifted: Vec<u16> = match &img.pixels {
        Pixels::F32(v) => {
            assert!(v.iter().any(|&x| x < 0.0));
            v.iter().map(|&x| (x + 4096.0) as u16).collect()
        }
        Pixels::U16(u) => {
            let offset = exp["sign"]["head"][0].as_i64().unwrap() - i64::from(u[0]);
            assert!(offset < 4096, "the decoded values must include negatives (minimum {})", offset - 4096);
            u.iter().map(|&x| (i64::from(x) + offset) as u16).collect()
        }
        other => panic!("signed data decodes to f32 or shifted u16, got {}", other.type_name()),
    };
    assert_ref("sign", &img, &shifted, &exp["sign"]);
    assert!(img.notes.iter().any(|n| n.contains("unsigned") && n.contains("13-bit signed")), "{:?}", img.notes);
}

/// Fragmented and multi-frame encapsulations: the first frame's code stream is found.
#[test]
fn first_frame_of_fragmented_and_multi_frame_data() {
    let exp = expected();
    for name in ["fragments.dcm", "two_frames.dcm"] {
        for min_side in [None, Some(24)] {
            let img = dec(name, min_side);
            let want = if min_side.is_some() { &exp["reduce_lossless"]["r2"] } else { &exp["crop"] };
            assert_ref(name, &img, &unflip(&img), want);
        }
    }
    assert_eq!(dec("two_frames.dcm", None).frames, 2);
}

/// HTJ2K (.201, OpenJPH encoder): full decode equals OpenJPH's ojph_expand, reduced decodes
/// equal opj_decompress -r.
#[test]
fn htj2k_full_and_reduced() {
    let exp = expected();
    let full = dec("htj2k.dcm", None);
    assert_ref("htj2k full", &full, &unflip(&full), &exp["htj2k"]["full"]);
    assert_ref("htj2k = crop", &full, &unflip(&full), &exp["crop"]);
    for r in 1..=5u32 {
        let want = &exp["htj2k"][format!("r{r}")];
        let img = dec("htj2k.dcm", Some(want["height"].as_u64().unwrap() as u32));
        assert_ref(&format!("htj2k r{r}"), &img, &unflip(&img), want);
    }
}

/// A JP2 file (boxes around the code stream) inside the DICOM fragment is unwrapped; truncated
/// or corrupted J2K data gives an error (or, when only padding is hit, an image), never a panic.
#[test]
fn jp2_wrapper_and_broken_data() {
    let bytes = std::fs::read(fixture("j2k/reduce_lossless.dcm")).unwrap();
    let soc = bytes.windows(4).position(|w| w == [0xFF, 0x4F, 0xFF, 0x51]).unwrap();
    let cs = codestream(&bytes[soc..]).unwrap();
    let mut jp2 = vec![0, 0, 0, 12, b'j', b'P', b' ', b' ', 0x0D, 0x0A, 0x87, 0x0A];
    jp2.extend_from_slice(&[0, 0, 0, 20, b'f', b't', b'y', b'p', b'j', b'p', b'2', b' ', 0, 0, 0, 0, b'j', b'p', b'2', b' ']);
    jp2.extend_from_slice(&(cs.len() as u32 + 8).to_be_bytes());
    jp2.extend_from_slice(b"jp2c");
    jp2.extend_from_slice(cs);
    assert_eq!(codestream(&jp2).unwrap(), cs);
    assert!(codestream(&jp2[..30]).is_err());

    use cxr::ingest::decode::{ImageKind, decode_bytes};
    let opts = DecodeOptions { j2k_min_side: Some(24), ..DecodeOptions::default() };
    for cut in [soc + 2, soc + 40, soc + 200, bytes.len() / 2, bytes.len() - 10] {
        assert!(decode_bytes(&bytes[..cut], ImageKind::Dicom, &opts).is_err(), "cut at {cut} decoded");
    }
    let mut bad = bytes.clone();
    bad[soc + 4..soc + 12].fill(0xFF); // SIZ sizes -> garbage
    assert!(decode_bytes(&bad, ImageKind::Dicom, &opts).is_err());
    let mut bad = bytes.clone();
    let mid = (soc + bytes.len()) / 2;
    bad[mid..mid + 64].iter_mut().for_each(|b| *b ^= 0x5A);
    let _ = decode_bytes(&bad, ImageKind::Dicom, &opts);
}

/// The real 1841 × 1955 RG1 chest at `--size 224`: decoded at reduce 3 (231 × 245), equal to
/// `opj_decompress -r 3`; after the pixel stage its 224² image correlates ≥ 0.99 with the
/// full-resolution path's (the benchmark's quality figure, on one image).
#[test]
fn rg1_reduced_for_224_equals_opj_and_matches_full_resolution() {
    use cxr::harmonize::pixels::{PixelOptions, preprocess};
    let exp = expected();
    let path = fixture("dicom/rg1_j2kr.dcm");
    let opts = DecodeOptions { j2k_min_side: Some(224), ..DecodeOptions::default() };
    let reduced = decode_file(&path, &opts).unwrap();
    assert_ref("rg1 r3", &reduced, &unflip(&reduced), &exp["rg1_r3"]);
    let full = decode_file(&path, &DecodeOptions::default()).unwrap();
    assert_eq!((full.width, full.height), (1841, 1955));
    let a = preprocess(&reduced, &PixelOptions::default()).unwrap();
    let b = preprocess(&full, &PixelOptions::default()).unwrap();
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().map(|&x| f64::from(x)).sum::<f64>() / n, b.iter().map(|&x| f64::from(x)).sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb, mut mad) = (0.0, 0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(&b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
        mad += (f64::from(x) - f64::from(y)).abs() / n;
    }
    let corr = sab / (saa * sbb).sqrt();
    eprintln!("rg1 reduced vs full at 224: correlation {corr:.4}, mean abs diff {mad:.2}");
    assert!(corr >= 0.99, "correlation {corr}");
    assert!(mad < 8.0, "mean absolute difference {mad}");
}
