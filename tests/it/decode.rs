//! Decoder tests: one real chest radiograph (pydicom-data RG1) in many DICOM encodings, PNG/JPEG
//! made in the test with the `image` crate encoders, and broken inputs that must give typed
//! errors. Fixtures and their origin: tests/fixtures/dicom/ORIGIN.md
//! (`scripts/cut_dicom_fixtures.py`); `expected.json` holds pydicom/numpy statistics.

use cxr::harmonize::pixels::{PixelOptions, preprocess};
use cxr::ingest::decode::{
    DecodeError, DecodeOptions, DecodedImage, ImageKind, Photometric, Pixels, decode_bytes,
    decode_file,
};
use image::{ImageBuffer, ImageFormat, Luma, Rgba};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dicom")
        .join(name)
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid json")
}

fn dec(name: &str) -> DecodedImage {
    decode_file(&fixture(name), &DecodeOptions::default())
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// A JSON array of unsigned integers from `expected.json`.
fn json_u64s(v: &serde_json::Value) -> Vec<u64> {
    v.as_array().expect("array").iter().map(|x| x.as_u64().expect("unsigned")).collect()
}

fn u16s(img: &DecodedImage) -> &[u16] {
    match &img.pixels {
        Pixels::U16(v) => v,
        other => panic!("expected U16, got {}", other.type_name()),
    }
}

/// 15-bit MONOCHROME1 reflection used by the decoder, undone.
fn stored(v: u16) -> u16 {
    32767 - v
}

#[test]
fn sniff_uses_magic_first_then_extension() {
    let mut dcm = vec![0u8; 132];
    dcm[128..132].copy_from_slice(b"DICM");
    let png = b"\x89PNG\r\n\x1a\n0000";
    let jpg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0];
    let p = |s: &str| PathBuf::from(s);
    assert_eq!(ImageKind::sniff(&p("a.bin"), &dcm), Some(ImageKind::Dicom));
    assert_eq!(ImageKind::sniff(&p("a.dcm"), png), Some(ImageKind::Png));
    assert_eq!(ImageKind::sniff(&p("a.png"), &jpg), Some(ImageKind::Jpeg));
    assert_eq!(
        ImageKind::sniff(&p("x/1.2.3.DICOM"), b"xx"),
        Some(ImageKind::Dicom)
    );
    assert_eq!(ImageKind::sniff(&p("a.JPEG"), b""), Some(ImageKind::Jpeg));
    assert_eq!(ImageKind::sniff(&p("a.png"), b"??"), Some(ImageKind::Png));
    assert_eq!(ImageKind::sniff(&p("a.txt"), b"hello"), None);
    assert_eq!(ImageKind::sniff(&p("noext"), b""), None);
}

#[test]
fn crop_lossless_encodings_decode_bit_identical() {
    let exp = expected();
    let crop = &exp["crop"];
    let le = dec("crop_explicit_le.dcm");
    assert_eq!((le.width, le.height), (384, 320));
    assert_eq!(le.bits_stored, 15);
    assert_eq!(le.photometric, Photometric::Monochrome1Inverted);
    assert_eq!(le.frames, 1);
    let v = u16s(&le);
    // Against pydicom's decode of the same crop (stored values, before our inversion).
    let raw: Vec<u16> = v.iter().map(|&x| stored(x)).collect();
    let sum: u64 = raw.iter().map(|&x| u64::from(x)).sum();
    assert_eq!(sum, crop["sum"].as_u64().unwrap());
    assert_eq!(
        raw.iter().min().copied(),
        Some(crop["min"].as_u64().unwrap() as u16)
    );
    assert_eq!(
        raw.iter().max().copied(),
        Some(crop["max"].as_u64().unwrap() as u16)
    );
    let head: Vec<u64> = raw[..8].iter().map(|&x| u64::from(x)).collect();
    let want = json_u64s(&crop["first_row_head"]);
    assert_eq!(head, want);

    for name in [
        "crop_rle.dcm",
        "crop_j2kr.dcm",
        "crop_mono2.dcm",
        "crop_2frames.dcm",
    ] {
        let other = dec(name);
        assert_eq!((other.width, other.height), (384, 320), "{name}");
        assert!(
            u16s(&other) == v,
            "{name} differs from the Explicit VR LE crop"
        );
    }
    assert_eq!(dec("crop_mono2.dcm").photometric, Photometric::Monochrome2);
    assert_eq!(dec("crop_2frames.dcm").frames, 2);
}

#[test]
fn signed_rescaled_crop_decodes_to_the_same_pixels() {
    // `crop − 16384` as int16 with RescaleIntercept 16384: the same modality values, so the
    // same samples and sample type as the unsigned file (one numeric path, issue 11).
    let le = dec("crop_explicit_le.dcm");
    let signed = dec("crop_signed.dcm");
    assert_eq!(signed.photometric, Photometric::Monochrome1Inverted);
    assert_eq!(signed.pixels.type_name(), "u16");
    assert!(signed.pixels == le.pixels);
}

#[test]
fn jpegls_decodes_bit_identical() {
    // The real CharLS-written JPEG-LS crop: the built-in pure-Rust greyscale decoder (default
    // build) and CharLS (`--features jpegls`, run by .ci/run) both give the uncompressed pixels.
    let img = decode_file(&fixture("crop_jpegls.dcm"), &DecodeOptions::default()).unwrap();
    assert!(img.pixels == dec("crop_explicit_le.dcm").pixels);
}

#[test]
fn jpeg_baseline_dicom_is_close_to_source() {
    let exp = expected();
    let img = dec("crop_jpeg_baseline.dcm");
    assert_eq!(img.photometric, Photometric::Monochrome2);
    let Pixels::U8(v) = &img.pixels else {
        panic!("8-bit JPEG must decode to U8");
    };
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / v.len() as f64;
    let libjpeg = exp["jpeg8_libjpeg_mean"].as_f64().unwrap();
    assert!(
        (mean - libjpeg).abs() < 0.25,
        "mean {mean} vs libjpeg {libjpeg}"
    );
    // Per pixel against the 8-bit source (top 8 of the 15 bits of the MONOCHROME2 twin).
    let src = dec("crop_mono2.dcm");
    let mad = u16s(&src)
        .iter()
        .zip(v)
        .map(|(&s, &j)| (f64::from(s >> 7) - f64::from(j)).abs())
        .sum::<f64>()
        / v.len() as f64;
    assert!(mad < 1.5, "mean |diff| {mad} too large for quality 95");
}

#[test]
fn rgb_dicom_reduces_to_opencv_luminance() {
    let exp = expected();
    let img = dec("crop_rgb.dcm");
    assert_eq!((img.width, img.height), (64, 48));
    assert_eq!(img.photometric, Photometric::ColorToLuma);
    let Pixels::U8(v) = &img.pixels else {
        panic!("8-bit RGB must give U8");
    };
    let sum: u64 = v.iter().map(|&x| u64::from(x)).sum();
    assert_eq!(sum, exp["rgb_gray_sum"].as_u64().unwrap());
    let head: Vec<u64> = v[..8].iter().map(|&x| u64::from(x)).collect();
    let want = json_u64s(&exp["rgb_gray_head"]);
    assert_eq!(head, want);
}

#[test]
fn voi_lut_option_windows_to_full_16_bit_range() {
    let plain = dec("crop_explicit_le.dcm");
    let voi = decode_file(
        &fixture("crop_explicit_le.dcm"),
        &DecodeOptions { voi_lut: true, ..DecodeOptions::default() },
    )
    .unwrap();
    let (a, b) = (u16s(&plain), u16s(&voi));
    assert_ne!(a, b);
    assert_eq!(voi.bits_stored, 16);
    // Window 15000/30000 is linear over this crop: order is kept (after inversion of both).
    let (i_lo, _) = a.iter().enumerate().min_by_key(|&(_, &x)| x).unwrap();
    let (i_hi, _) = a.iter().enumerate().max_by_key(|&(_, &x)| x).unwrap();
    assert!(b[i_lo] < b[i_hi]);
    // stored 15268 -> window value ~ (15268 - 14999.5)/29999 + 0.5 -> x 65535, inverted
    let w = (f64::from(stored(a[0])) - 14999.5) / 29999.0 + 0.5;
    let want = 65535.0 - w * 65535.0;
    assert!((f64::from(b[0]) - want).abs() < 2.0, "{} vs {want}", b[0]);
}

#[test]
fn broken_dicoms_give_typed_errors() {
    let opts = DecodeOptions::default();
    // A JPEG-LS label over a junk code stream: a decode error naming JPEG-LS (built-in decoder
    // or CharLS).
    match decode_file(&fixture("crop_jpegls_junk.dcm"), &opts) {
        Err(e @ DecodeError::Dicom { .. }) => assert!(format!("{e:?}").contains("JPEG-LS"), "{e:?}"),
        other => panic!("JPEG-LS: {other:?}"),
    }
    assert!(matches!(
        decode_file(&fixture("no_pixel_data.dcm"), &opts),
        Err(DecodeError::NoPixelData)
    ));
    for name in ["crop_j2kr.dcm", "crop_explicit_le.dcm", "crop_rle.dcm"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for cut in [10, 131, 132, 300, 700, bytes.len() / 2, bytes.len() - 50] {
            let r = decode_bytes(&bytes[..cut], ImageKind::Dicom, &opts);
            assert!(r.is_err(), "{name} cut at {cut} decoded");
        }
        // Corrupt the middle of the pixel data: must not panic (may or may not decode).
        let mut bad = bytes.clone();
        let mid = bad.len() / 2;
        bad[mid..mid + 64].iter_mut().for_each(|b| *b ^= 0x5A);
        let _ = decode_bytes(&bad, ImageKind::Dicom, &opts);
    }
}

#[test]
fn empty_garbage_and_missing_files_give_typed_errors() {
    let opts = DecodeOptions::default();
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.png");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        decode_file(&empty, &opts),
        Err(DecodeError::Empty)
    ));
    assert!(matches!(
        decode_bytes(&[], ImageKind::Png, &opts),
        Err(DecodeError::Empty)
    ));
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"not an image at all").unwrap();
    assert!(matches!(
        decode_file(&garbage, &opts),
        Err(DecodeError::UnknownFormat)
    ));
    let fake_png = dir.path().join("fake.png");
    std::fs::write(&fake_png, b"not an image at all").unwrap();
    assert!(matches!(
        decode_file(&fake_png, &opts),
        Err(DecodeError::Image { .. })
    ));
    let fake_dcm = dir.path().join("fake.dcm");
    std::fs::write(&fake_dcm, vec![7u8; 400]).unwrap();
    assert!(matches!(
        decode_file(&fake_dcm, &opts),
        Err(DecodeError::Dicom { .. })
    ));
    let missing = dir.path().join("missing.jpg");
    match decode_file(&missing, &opts) {
        Err(DecodeError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("{other:?}"),
    }
    // Truncated PNG and JPEG.
    let png = encode(&gradient_u8(40, 30), ImageFormat::Png);
    let jpg = encode(&gradient_u8(40, 30), ImageFormat::Jpeg);
    for (bytes, kind) in [(&png, ImageKind::Png), (&jpg, ImageKind::Jpeg)] {
        let r = decode_bytes(&bytes[..bytes.len() / 2], kind, &opts);
        assert!(
            matches!(r, Err(DecodeError::Image { .. })),
            "{kind:?}: {r:?}"
        );
    }
}

fn gradient_u8(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageLuma8(ImageBuffer::from_fn(w, h, |x, y| {
        Luma([((x * 5 + y * 3) % 256) as u8])
    }))
}

fn encode(img: &image::DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn png_8_and_16_bit_and_rgba_decode_exactly() {
    let opts = DecodeOptions::default();
    let g8 = gradient_u8(37, 23);
    let d = decode_bytes(&encode(&g8, ImageFormat::Png), ImageKind::Png, &opts).unwrap();
    assert_eq!((d.width, d.height, d.bits_stored), (37, 23, 8));
    assert_eq!(d.pixels, Pixels::U8(g8.to_luma8().into_raw()));

    // 16-bit container with 12-bit values, like PadChest.
    let g16: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_fn(31, 17, |x, y| Luma([((x * 131 + y * 977) % 4096) as u16]));
    let bytes = encode(
        &image::DynamicImage::ImageLuma16(g16.clone()),
        ImageFormat::Png,
    );
    let d = decode_bytes(&bytes, ImageKind::Png, &opts).unwrap();
    assert_eq!((d.width, d.height, d.bits_stored), (31, 17, 16));
    assert_eq!(d.pixels, Pixels::U16(g16.into_raw()));

    // Grey stored as RGBA (some NIH files): luminance of equal channels = channel 0.
    let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> = ImageBuffer::from_fn(9, 4, |x, y| {
        let v = (x * 20 + y) as u8;
        Rgba([v, v, v, 255 - v])
    });
    let bytes = encode(
        &image::DynamicImage::ImageRgba8(rgba.clone()),
        ImageFormat::Png,
    );
    let d = decode_bytes(&bytes, ImageKind::Png, &opts).unwrap();
    assert_eq!(d.photometric, Photometric::ColorToLuma);
    let ch0: Vec<u8> = rgba.pixels().map(|p| p.0[0]).collect();
    assert_eq!(d.pixels, Pixels::U8(ch0));
}

#[test]
fn jpeg_grey_decodes_close_to_source() {
    let g = gradient_u8(64, 48);
    let path = tempfile::tempdir().unwrap();
    let file = path.path().join("x.jpg");
    std::fs::write(&file, encode(&g, ImageFormat::Jpeg)).unwrap();
    let d = decode_file(&file, &DecodeOptions::default()).unwrap();
    assert_eq!((d.width, d.height, d.bits_stored), (64, 48, 8));
    let Pixels::U8(v) = &d.pixels else {
        panic!("U8 expected")
    };
    let src = g.to_luma8().into_raw();
    let mad = src
        .iter()
        .zip(v)
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
        .sum::<i32>() as f64
        / v.len() as f64;
    // The gradient wraps at 256 (hard edges), so JPEG error is visible but small on average.
    assert!(mad < 6.0, "mean |diff| {mad}");
}

/// Mean of a rectangle `[x0, x1) × [y0, y1)` of a row-major plane of width `w`.
fn region_mean<T: Copy + Into<f64>>(
    v: &[T],
    w: usize,
    x0: usize,
    x1: usize,
    y0: usize,
    y1: usize,
) -> f64 {
    let mut s = 0.0;
    for y in y0..y1 {
        for x in x0..x1 {
            s += v[y * w + x].into();
        }
    }
    s / ((x1 - x0) * (y1 - y0)) as f64
}

/// The one full-size decode (lossless J2K, 1841 × 1955): statistics, orientation, pipeline.
#[test]
fn full_chest_j2k_decodes_and_preprocesses() {
    let exp = expected();
    let full = &exp["full"];
    let t0 = Instant::now();
    let img = dec("rg1_j2kr.dcm");
    let t_decode = t0.elapsed();
    assert_eq!((img.width, img.height), (1841, 1955));
    assert_eq!(img.bits_stored, 15);
    assert_eq!(img.photometric, Photometric::Monochrome1Inverted);
    let v = u16s(&img);
    let raw_min = v.iter().map(|&x| stored(x)).min().unwrap();
    let raw_max = v.iter().map(|&x| stored(x)).max().unwrap();
    let raw_sum: u64 = v.iter().map(|&x| u64::from(stored(x))).sum();
    assert_eq!(u64::from(raw_min), full["min"].as_u64().unwrap()); // 874
    assert_eq!(u64::from(raw_max), full["max"].as_u64().unwrap()); // 26479
    assert_eq!(raw_sum, full["sum"].as_u64().unwrap());
    let mean = raw_sum as f64 / v.len() as f64;
    assert!((mean - 7391.457).abs() < 1e-3, "mean {mean}");

    // After inversion air is dark: right lung (image left) darker than the mediastinum.
    let w = 1841;
    let lung = region_mean(v, w, 320, 640, 400, 720);
    let mediastinum = region_mean(v, w, 840, 960, 400, 1000);
    assert!(
        lung + 2000.0 < mediastinum,
        "lung {lung} vs mediastinum {mediastinum}"
    );

    let t1 = Instant::now();
    let out = preprocess(&img, &PixelOptions::default()).unwrap();
    let t_pre = t1.elapsed();
    assert_eq!(out.len(), 224 * 224);
    assert_eq!(out.iter().min(), Some(&0));
    assert_eq!(out.iter().max(), Some(&255));
    // Same regions scaled to 224² (x · 224/1841, y · 224/1955).
    let lung = region_mean(&out, 224, 39, 78, 46, 82);
    let mediastinum = region_mean(&out, 224, 102, 117, 46, 115);
    assert!(
        lung + 40.0 < mediastinum,
        "224px lung {lung} vs mediastinum {mediastinum}"
    );
    eprintln!(
        "rg1_j2kr 1841x1955: decode {:.0} ms, preprocess(224, stretch, equalize) {:.1} ms",
        t_decode.as_secs_f64() * 1e3,
        t_pre.as_secs_f64() * 1e3
    );
}

/// A q95 greyscale JPEG of a chest-like phantom: two lung fields on a background, smooth
/// anatomy-like shading of period ~`period` px (radiographs have little energy near the Nyquist
/// limit) and, with `noise`, a small deterministic texture.
fn phantom_jpeg(w: u32, h: u32, period: f32, noise: bool) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let lung = ((x as f32 / w as f32 - 0.3).powi(2) / 0.03 + (y as f32 / h as f32 - 0.5).powi(2) / 0.1) < 1.0;
        let shade = (40.0 * ((x as f32 / period).sin() * (y as f32 / (0.75 * period)).cos())) as i32;
        let texture = if noise { ((x * 7919 + y * 104_729) % 13) as i32 - 6 } else { 0 };
        image::Luma([(if lung { 60 } else { 160 } + shade + texture).clamp(0, 255) as u8])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95).encode_image(&img).unwrap();
    bytes
}

/// Mean absolute difference of the store pixels (default preprocessing) of two decodes.
fn preprocessed_mean_abs_diff(a: &DecodedImage, b: &DecodedImage) -> f64 {
    let px = PixelOptions::default();
    let (a, b) = (preprocess(a, &px).unwrap(), preprocess(b, &px).unwrap());
    a.iter().zip(&b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum::<f64>() / a.len() as f64
}

/// Large JPEGs decode at a reduced DCT scale that still covers the output size, and preprocess
/// to nearly the same store pixels as a full-resolution decode.
#[test]
fn jpeg_dct_scaling_covers_the_target_and_matches_full_decode() {
    let (w, h) = (1200u32, 1000u32);
    let bytes = phantom_jpeg(w, h, 90.0, false);
    let full = decode_bytes(&bytes, ImageKind::Jpeg, &DecodeOptions::default()).unwrap();
    assert_eq!((full.width, full.height), (w, h));
    let opts = DecodeOptions { jpeg_min_side: Some(224), ..DecodeOptions::default() };
    let small = decode_bytes(&bytes, ImageKind::Jpeg, &opts).unwrap();
    assert_eq!((small.width, small.height), (300, 250), "1/4 scale: the smallest covering 224");
    let mean_abs = preprocessed_mean_abs_diff(&full, &small);
    assert!(mean_abs < 4.0, "mean |full - scaled| = {mean_abs}");
    // Too small to reduce: full decode.
    let tiny = DecodeOptions { jpeg_min_side: Some(700), ..DecodeOptions::default() };
    assert_eq!(decode_bytes(&bytes, ImageKind::Jpeg, &tiny).unwrap().width, w);
    // Truncated JPEG: a typed error, not a panic.
    assert!(decode_bytes(&bytes[..bytes.len() / 3], ImageKind::Jpeg, &opts).is_err());
}

fn jpeg_fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/jpeg").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `jpeg-decoder` at 1/8 scale: the reference the DC-only path must equal bit for bit.
fn jpeg_decoder_eighth(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.read_info().unwrap();
    let info = d.info().unwrap();
    d.scale(info.width.div_ceil(8), info.height.div_ceil(8)).unwrap();
    let px = d.decode().unwrap();
    let info = d.info().unwrap();
    (u32::from(info.width), u32::from(info.height), px)
}

/// libjpeg-turbo files with restart markers and optimized Huffman tables, and a real radiograph
/// crop, take the DC-only path and give exactly jpeg-decoder's 1/8-scale pixels; a progressive
/// file is refused by the fast path and still decodes (through jpeg-decoder) to the same size.
#[test]
fn jpeg_dc_only_path_equals_jpeg_decoder_on_libjpeg_files() {
    use cxr::ingest::decode::jpeg_dc::decode_dc_only;
    for name in ["rst4_q90_203x117.jpg", "optimized_q95_203x117.jpg"] {
        let bytes = jpeg_fixture(name);
        let fast = decode_dc_only(&bytes, 0).unwrap_or_else(|| panic!("{name}: fast path refused"));
        assert_eq!((fast.width, fast.height, fast.pixels.clone()), jpeg_decoder_eighth(&bytes), "{name}");
        // the ingest entry point takes the same path when 1/8 covers the output size
        let opts = DecodeOptions { jpeg_min_side: Some(15), ..DecodeOptions::default() };
        let img = decode_bytes(&bytes, ImageKind::Jpeg, &opts).unwrap();
        assert_eq!((img.width, img.height, img.pixels), (26, 15, Pixels::U8(fast.pixels)), "{name}");
        // 1/8 would not cover 16 rows: the general decoder at 1/4
        let opts = DecodeOptions { jpeg_min_side: Some(16), ..DecodeOptions::default() };
        assert_eq!(decode_bytes(&bytes, ImageKind::Jpeg, &opts).unwrap().height, 30, "{name}");
    }
    // Real radiograph content: the JPEG stream inside the RG1 crop's JPEG-baseline DICOM.
    let dicom = std::fs::read(fixture("crop_jpeg_baseline.dcm")).unwrap();
    let soi = dicom.windows(3).position(|w| w == [0xFF, 0xD8, 0xFF]).expect("JPEG start");
    let eoi = dicom.windows(2).rposition(|w| w == [0xFF, 0xD9]).expect("JPEG end") + 2;
    let rg1 = &dicom[soi..eoi];
    let fast = decode_dc_only(rg1, 0).expect("fast path takes the RG1 crop");
    assert_eq!((fast.width, fast.height, fast.pixels), jpeg_decoder_eighth(rg1));
    let progressive = jpeg_fixture("progressive_q90_203x117.jpg");
    assert!(decode_dc_only(&progressive, 0).is_none());
    let opts = DecodeOptions { jpeg_min_side: Some(15), ..DecodeOptions::default() };
    let img = decode_bytes(&progressive, ImageKind::Jpeg, &opts).unwrap();
    let (w, h, px) = jpeg_decoder_eighth(&progressive);
    assert_eq!((img.width, img.height, img.pixels), (w, h, Pixels::U8(px)));
}

/// A restart marker out of sequence or a cut inside the scan makes the fast path refuse; the
/// ingest entry point then reports or tolerates it exactly as jpeg-decoder does, never panics.
#[test]
fn jpeg_dc_only_path_refuses_broken_restart_structure() {
    use cxr::ingest::decode::jpeg_dc::decode_dc_only;
    let bytes = jpeg_fixture("rst4_q90_203x117.jpg");
    let rst = (0..bytes.len() - 1)
        .filter(|&i| bytes[i] == 0xFF && (0xD0..=0xD7).contains(&bytes[i + 1]))
        .collect::<Vec<_>>();
    assert_eq!(rst.len(), 97);
    let mut swapped = bytes.clone();
    swapped[rst[10] + 1] = 0xD0 + (swapped[rst[10] + 1] - 0xD0 + 3) % 8;
    assert!(decode_dc_only(&swapped, 0).is_none());
    let mut dropped = bytes.clone();
    dropped.drain(rst[20]..rst[20] + 2);
    assert!(decode_dc_only(&dropped, 0).is_none());
    let opts = DecodeOptions { jpeg_min_side: Some(15), ..DecodeOptions::default() };
    for (i, b) in [swapped, dropped, bytes[..bytes.len() / 2].to_vec()].iter().enumerate() {
        let general = std::panic::catch_unwind(|| jpeg_decoder_eighth(b)).ok();
        match (decode_bytes(b, ImageKind::Jpeg, &opts), general) {
            (Ok(img), Some((w, h, px))) => assert_eq!((img.width, img.height, img.pixels), (w, h, Pixels::U8(px)), "case {i}"),
            (Err(_), None) => {}
            (got, want) => panic!("case {i}: ingest path {:?} vs jpeg-decoder ok={}", got.map(|i| (i.width, i.height)), want.is_some()),
        }
    }
}

/// A radiograph-sized JPEG (2000×1800 → 1/8 = 250×225, covering 224) takes the DC-only path and
/// preprocesses to nearly the store pixels of a full-resolution decode.
#[test]
fn jpeg_eighth_scale_preprocesses_close_to_full_decode() {
    let bytes = phantom_jpeg(2000, 1800, 150.0, true);
    let opts = DecodeOptions { jpeg_min_side: Some(224), ..DecodeOptions::default() };
    let small = decode_bytes(&bytes, ImageKind::Jpeg, &opts).unwrap();
    assert_eq!((small.width, small.height), (250, 225));
    let (rw, rh, rpx) = jpeg_decoder_eighth(&bytes);
    assert_eq!((small.width, small.height, small.pixels.clone()), (rw, rh, Pixels::U8(rpx)));
    let full = decode_bytes(&bytes, ImageKind::Jpeg, &DecodeOptions::default()).unwrap();
    let mean_abs = preprocessed_mean_abs_diff(&full, &small);
    assert!(mean_abs < 4.0, "mean |full - 1/8| = {mean_abs}");
}

/// Fast paths are opt-in (issue 18, kind 5): neither DCT scaling nor J2K reduction stays within
/// the exact path's tolerance (mean 0.5, max 8 grey levels) on real-size radiographs, so the
/// ingest's default options decode at full resolution and the fast paths need their flags.
#[test]
fn the_ingest_decodes_at_full_resolution_unless_a_fast_path_is_asked_for() {
    let d = cxr::prep::StoredOptions::default().decode_options();
    assert_eq!((d.jpeg_min_side, d.j2k_min_side), (None, None));
    let fast = cxr::prep::StoredOptions { jpeg_dct_scaling: true, j2k_reduce: true, ..Default::default() }.decode_options();
    assert_eq!((fast.jpeg_min_side, fast.j2k_min_side), (Some(224), Some(224)));
}

/// Image files that are complete but not tidy (issue 18, kind 3): a JPEG whose scan is complete
/// but whose EOI is missing or followed by bytes decodes to the tidy file's pixels, as libjpeg
/// and OpenCV decode it; one cut inside its scan or zero-filled is an error saying which — on
/// the full-resolution path and on the DCT-scaled one, with and without restart intervals.
#[test]
fn complete_jpegs_decode_without_eoi_truncated_and_zero_filled_ones_are_rejected() {
    use cxr::ingest::decode::DecodeError;
    let ok = phantom_jpeg(520, 400, 60.0, true);
    assert!(ok.ends_with(&[0xFF, 0xD9]));
    let body = &ok[..ok.len() - 2];
    let cut = ok.len() * 2 / 3;
    let tidy = [
        ("no EOI", body.to_vec()),
        ("trailing bytes", [ok.as_slice(), b"<html>not found</html>"].concat()),
        ("trailing zeros", [ok.as_slice(), &[0u8; 4096]].concat()),
        ("no EOI, zero padding", [body, &[0u8; 7]].concat()),
    ];
    let broken = [
        ("truncated", ok[..cut].to_vec(), "truncated"),
        ("zero-filled", [&ok[..cut], vec![0u8; ok.len() - cut].as_slice()].concat(), "zero-filled"),
    ];
    for opts in [DecodeOptions::default(), DecodeOptions { jpeg_min_side: Some(64), ..DecodeOptions::default() }] {
        let want = decode_bytes(&ok, ImageKind::Jpeg, &opts).unwrap();
        for (what, bytes) in &tidy {
            let got = decode_bytes(bytes, ImageKind::Jpeg, &opts).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(got.pixels == want.pixels, "{what}: other pixels than the tidy file ({opts:?})");
        }
        for (what, bytes, reason) in &broken {
            match decode_bytes(bytes, ImageKind::Jpeg, &opts) {
                Err(e @ DecodeError::IncompleteJpeg { .. }) => assert!(e.to_string().contains(reason), "{what}: {e}"),
                other => panic!("{what}: {other:?}"),
            }
        }
    }
    // Restart intervals (libjpeg-turbo file): cut inside an interval is still truncated.
    let rst = jpeg_fixture("rst4_q90_203x117.jpg");
    let whole = decode_bytes(&rst, ImageKind::Jpeg, &DecodeOptions::default()).unwrap();
    let no_eoi = decode_bytes(&rst[..rst.len() - 2], ImageKind::Jpeg, &DecodeOptions::default()).unwrap();
    assert!(no_eoi.pixels == whole.pixels);
    let e = decode_bytes(&rst[..rst.len() / 2], ImageKind::Jpeg, &DecodeOptions::default()).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
}
