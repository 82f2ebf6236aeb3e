//! DICOM headers never panic the decoder (issue 11, section 2): seeded fuzzing of the header
//! values of a tiny valid file (`tests/fixtures/robust/tiny_mono2.dcm`), and structural damage
//! (tag, VR or length bytes changed, bytes inserted or deleted) that must fail fast.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::common::fixture;
// The fuzz cases draw from the crate's seeded generator (rand's Xoshiro256++).
use cxr::rng::Rng;

/// The data elements of the fixture (explicit VR little endian after the 132-byte preamble +
/// `DICM`): (tag, VR, value range).
type Element = ((u16, u16), [u8; 2], std::ops::Range<usize>);

fn dicom_elements(b: &[u8]) -> Vec<Element> {
    let mut out = Vec::new();
    let mut i = 132;
    while i + 8 <= b.len() {
        let tag = (u16::from_le_bytes([b[i], b[i + 1]]), u16::from_le_bytes([b[i + 2], b[i + 3]]));
        let vr = [b[i + 4], b[i + 5]];
        let (len, head) = if [b"OB", b"OW", b"SQ", b"UN", b"UT"].iter().any(|v| **v == vr) {
            (u32::from_le_bytes([b[i + 8], b[i + 9], b[i + 10], b[i + 11]]) as usize, 12)
        } else {
            (u16::from_le_bytes([b[i + 6], b[i + 7]]) as usize, 8)
        };
        out.push((tag, vr, i + head..i + head + len));
        i += head + len;
    }
    out
}

fn decode_outcome(b: &[u8]) -> Result<Result<(), String>, ()> {
    use cxr::ingest::decode::{decode_bytes, DecodeOptions, ImageKind};
    match catch_unwind(AssertUnwindSafe(|| decode_bytes(b, ImageKind::Dicom, &DecodeOptions::default()))) {
        Ok(Ok(img)) => {
            assert_eq!(img.width as usize * img.height as usize, img.pixels.len());
            Ok(Ok(()))
        }
        Ok(Err(e)) => Ok(Err(e.to_string())),
        Err(_) => Err(()),
    }
}

/// Header *values* fuzzed: the pixel module (Rows, Columns, Bits Allocated/Stored, High Bit,
/// Pixel Representation, Samples per Pixel), Photometric Interpretation, Transfer Syntax UID,
/// rescale and window strings, random value bytes anywhere, and truncation. Structure (tags,
/// VRs, lengths) is left intact: see the next test for that.
#[test]
fn fuzzed_dicom_header_values_never_panic_the_decoder() {
    let original = std::fs::read(fixture("robust/tiny_mono2.dcm")).unwrap();
    assert_eq!(decode_outcome(&original), Ok(Ok(())), "the unmutated fixture decodes");
    let elements = dicom_elements(&original);
    let pixel = elements.iter().find(|e| e.0 == (0x7FE0, 0x0010)).expect("pixel data").2.clone();
    let values: Vec<_> = elements.iter().filter(|e| e.0 != (0x7FE0, 0x0010) && !e.2.is_empty()).collect();
    let by_vr = |vr: &[u8; 2]| values.iter().filter(|e| &e.1 == vr).map(|e| e.2.clone()).collect::<Vec<_>>();
    let (us, cs, ds) = (by_vr(b"US"), by_vr(b"CS"), by_vr(b"DS"));
    let ts = elements.iter().find(|e| e.0 == (0x0002, 0x0010)).expect("transfer syntax").2.clone();
    const SYNTAXES: &[&str] = &["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.50"];
    const CODES: &[&str] = &["MONOCHROME1", "RGB", "YBR_FULL", "PALETTE", "", "LATERAL", "ORIGINAL"];
    const NUMBERS: &[&str] = &["0", "-1", "1e99", "nan", "inf", "-0", "3.5", "x"];
    let mut rng = Rng::new(0x00D1_C04D);
    let (mut ok, mut err, mut caught) = (0, 0, 0);
    let mut panics = Vec::new();
    for case in 0..2000 {
        let mut b = original.clone();
        let fill = |b: &mut Vec<u8>, r: &std::ops::Range<usize>, text: &str| {
            let pad = if !r.is_empty() && b[r.end - 1] == 0 { 0 } else { b' ' };
            for (k, i) in r.clone().enumerate() {
                b[i] = text.as_bytes().get(k).copied().unwrap_or(pad);
            }
        };
        for _ in 0..rng.below(3) + 1 {
            match rng.below(7) {
                0 | 1 => {
                    let r = &us[rng.below(us.len())];
                    let v: u16 = [0, 1, 2, 3, 7, 8, 12, 15, 16, 17, 32, 255, 0x8000, 0xFFFF][rng.below(14)];
                    b[r.start..r.start + 2].copy_from_slice(&v.to_le_bytes());
                }
                2 => fill(&mut b, &cs[rng.below(cs.len())], CODES[rng.below(CODES.len())]),
                3 => fill(&mut b, &ds[rng.below(ds.len())], NUMBERS[rng.below(NUMBERS.len())]),
                4 => fill(&mut b, &ts, SYNTAXES[rng.below(SYNTAXES.len())]),
                5 => {
                    let r = &values[rng.below(values.len())].2;
                    let i = r.start + rng.below(r.len());
                    b[i] = rng.next_u64() as u8;
                }
                _ => {
                    let i = pixel.start + rng.below(pixel.len());
                    b[i] = rng.next_u64() as u8;
                }
            }
        }
        if rng.below(8) == 0 {
            b.truncate(rng.below(original.len()));
        }
        match decode_outcome(&b) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(e)) => {
                assert!(!e.is_empty());
                caught += usize::from(e.contains("decoder panicked"));
                err += 1;
            }
            Err(()) => panics.push(case),
        }
    }
    // A panic inside a third-party decoder is caught by decode_bytes and becomes a typed error
    // (DecodeError::DecoderPanic); report how many, for the decoder's maintainers.
    eprintln!("DICOM header fuzz: {ok} decoded, {err} errors, of which {caught} caught decoder panics");
    assert!(panics.is_empty(), "decode_bytes panicked on cases {panics:?}");
    assert!(ok > 50 && err > 50, "mutations both pass and fail: {ok} ok, {err} errors");
}

/// Structural damage (a tag, VR or length byte changed, bytes inserted or deleted) must fail
/// fast. dicom-object allocates and zeroes a declared length before it reads the value (up to
/// 4 GiB: seconds and gigabytes per file), so the decoder first bounds every declared length by
/// the bytes left (`ingest::decode::dicom_lengths`).
#[test]
fn structurally_damaged_dicom_headers_fail_fast() {
    let original = std::fs::read(fixture("robust/tiny_mono2.dcm")).unwrap();
    let header_len = original.len() - 512;
    let mut rng = Rng::new(0x5_7A7C);
    let mut slow = Vec::new();
    let mut decoded = 0usize;
    for case in 0..300 {
        let mut b = original.clone();
        let i = 132 + rng.below(header_len - 136);
        match rng.below(3) {
            0 => b[i] ^= 1 << rng.below(8),
            1 => b.splice(i..i, (0..rng.below(8) + 1).map(|_| rng.next_u64() as u8)).for_each(drop),
            _ => b.drain(i..i + rng.below(4) + 1).for_each(drop),
        }
        let t0 = std::time::Instant::now();
        let outcome = decode_outcome(&b);
        assert!(outcome.is_ok(), "case {case} panicked");
        if t0.elapsed() > std::time::Duration::from_millis(500) {
            eprintln!("slow case {case} ({:?}): {outcome:?}", t0.elapsed());
            slow.push(case);
        }
        decoded += usize::from(matches!(outcome, Ok(Ok(()))));
    }
    assert!(slow.is_empty(), "decoding took over 0.5 s on cases {slow:?}");
    // The bound rejects damaged lengths only: harmless mutations still decode.
    assert!(decoded > 20, "only {decoded} of 300 mutated files decoded");
}
