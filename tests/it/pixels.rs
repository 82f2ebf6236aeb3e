//! Pixel-stage tests: equalisation and min–max against OpenCV/numpy reference values
//! (tests/fixtures/images/opencv_reference.json, from `scripts/gen_equalize_fixtures.py`),
//! RGB → grey against `cv2.cvtColor`, and the behaviour of the three fit modes and sample types.

use cxr::harmonize::pixels::{
    Fit, PixelError, PixelOptions, equalize_hist, minmax_to_u8, preprocess, resize,
};
use cxr::ingest::decode::{
    DecodeOptions, DecodedImage, ImageKind, Photometric, Pixels, decode_bytes,
};
use image::{ImageBuffer, Rgb};
use std::io::Cursor;
use std::path::Path;

fn reference() -> serde_json::Value {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/opencv_reference.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture")).expect("json")
}

fn ints<T: TryFrom<u64>>(v: &serde_json::Value) -> Vec<T> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| {
            T::try_from(x.as_u64().expect("int"))
                .ok()
                .expect("in range")
        })
        .collect()
}

fn image(width: u32, height: u32, pixels: Pixels) -> DecodedImage {
    DecodedImage {
        width,
        height,
        pixels,
        bits_stored: 16,
        photometric: Photometric::Monochrome2,
        frames: 1,
        notes: Vec::new(),
    }
}

#[test]
fn equalize_hist_matches_opencv() {
    let r = reference();
    let cases = r["equalize"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let mut img: Vec<u8> = ints(&case["input"]);
        let want: Vec<u8> = ints(&case["expected"]);
        equalize_hist(&mut img);
        assert_eq!(img, want, "case {}", case["name"]);
    }
}

#[test]
fn minmax_matches_numpy_img_as_ubyte() {
    let r = reference();
    for case in r["minmax"].as_array().unwrap() {
        let input: Vec<u16> = ints(&case["input"]);
        let want: Vec<u8> = ints(&case["expected"]);
        assert_eq!(
            minmax_to_u8(&Pixels::U16(input.clone())),
            want,
            "u16 {}",
            case["name"]
        );
        let f: Vec<f32> = input.iter().map(|&x| f32::from(x)).collect();
        assert_eq!(minmax_to_u8(&Pixels::F32(f)), want, "f32 {}", case["name"]);
    }
}

#[test]
fn rgb_png_grey_matches_opencv_bgr2gray() {
    let r = reference();
    let rgb: Vec<u8> = ints(&r["luma"]["rgb"]);
    let want: Vec<u8> = ints(&r["luma"]["expected"]);
    let buf: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_raw(8, 5, rgb).unwrap();
    let mut png = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(buf)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let d = decode_bytes(png.get_ref(), ImageKind::Png, &DecodeOptions::default()).unwrap();
    assert_eq!(d.photometric, Photometric::ColorToLuma);
    assert_eq!(d.pixels, Pixels::U8(want));
}

/// 300 × 100 image in three vertical bands: 0 | 1000 | 60000.
fn three_bands() -> Vec<u16> {
    (0..100)
        .flat_map(|_| (0..300).map(|x| [0u16, 1000, 60000][x / 100]))
        .collect()
}

#[test]
fn fit_modes_differ_as_documented() {
    let img = image(300, 100, Pixels::U16(three_bands()));
    let opts = |fit| PixelOptions {
        size: 32,
        fit,
        equalize: false,
    };

    // Stretch: all three bands, left 0, right near 255 (Catmull-Rom overshoots a little at the
    // 1000 -> 60000 edge, and that overshoot becomes the maximum).
    let s = preprocess(&img, &opts(Fit::Stretch)).unwrap();
    assert_eq!(s.len(), 32 * 32);
    assert_eq!(s[16 * 32], 0);
    assert!(s[16 * 32 + 31] >= 235, "right band {}", s[16 * 32 + 31]);
    assert_eq!(s.iter().max(), Some(&255));

    // CenterCrop: only the middle band survives -> constant -> all zeros.
    let c = preprocess(&img, &opts(Fit::CenterCrop)).unwrap();
    assert!(c.iter().all(|&x| x == 0), "center crop kept an outer band");

    // Pad: 300 × 300 with 100-row bands of the minimum (0) above and below.
    let p = preprocess(&img, &opts(Fit::Pad)).unwrap();
    assert!(
        p[..32 * 8].iter().all(|&x| x == 0),
        "top padding not at minimum"
    );
    assert!(
        p[32 * 24..].iter().all(|&x| x == 0),
        "bottom padding not at minimum"
    );
    assert!(p[16 * 32 + 31] >= 235);

    // Tall image, Pad: columns left and right are padding at the minimum (up to the filter's
    // undershoot at the content's bright right edge, which becomes the new 0).
    let tall: Vec<u16> = (0..300u32)
        .flat_map(|y| (0..100u32).map(move |x| (x + y) as u16 + 10))
        .collect();
    let p = preprocess(&image(100, 300, Pixels::U16(tall)), &opts(Fit::Pad)).unwrap();
    let edges: Vec<(u8, u8)> = (0..32).map(|y| (p[y * 32], p[y * 32 + 31])).collect();
    assert!(
        edges
            .iter()
            .all(|&(l, r)| l == edges[0].0 && r == edges[0].1 && l <= 8 && r <= 8),
        "{edges:?}"
    );
    assert!(p[16 * 32 + 16] > 100);
}

#[test]
fn u8_u16_f32_paths_agree() {
    // Smooth 2-D ramp with a bright disc, 250 × 190, in three sample types.
    let (w, h) = (250u32, 190u32);
    let base: Vec<u16> = (0..h)
        .flat_map(|y| {
            (0..w).map(move |x| {
                let d = ((x as f64 - 150.0).powi(2) + (y as f64 - 80.0).powi(2)).sqrt();
                let disc = if d < 40.0 { 120.0 } else { 0.0 };
                (x as f64 * 0.4 + y as f64 * 0.3 + disc) as u16
            })
        })
        .collect();
    let opts = PixelOptions::default();
    let a = preprocess(
        &image(w, h, Pixels::U8(base.iter().map(|&x| x as u8).collect())),
        &opts,
    )
    .unwrap();
    let b = preprocess(
        &image(w, h, Pixels::U16(base.iter().map(|&x| x * 256).collect())),
        &opts,
    )
    .unwrap();
    let c = preprocess(
        &image(
            w,
            h,
            Pixels::F32(base.iter().map(|&x| f32::from(x)).collect()),
        ),
        &opts,
    )
    .unwrap();
    for (name, other) in [("u16", &b), ("f32", &c)] {
        let worst = a
            .iter()
            .zip(other.iter())
            .map(|(&x, &y)| (i32::from(x) - i32::from(y)).abs())
            .max();
        // u8 rounds inside the resizer; equalisation can move a bin edge by a few levels.
        assert!(worst.unwrap() <= 6, "u8 vs {name}: max |diff| {worst:?}");
    }
    assert_eq!((a.iter().min(), a.iter().max()), (Some(&0), Some(&255)));
}

#[test]
fn downsampling_is_anti_aliased() {
    // 1-px checkerboard 448² -> 224²: an anti-aliased filter averages to mid-grey;
    // point sampling would return the pattern's 0/255.
    let n = 448u32;
    let cb: Vec<u8> = (0..n)
        .flat_map(|y| (0..n).map(move |x| if (x + y) % 2 == 0 { 0 } else { 255 }))
        .collect();
    let Pixels::U8(out) = resize(&image(n, n, Pixels::U8(cb)), 224, Fit::Stretch).unwrap() else {
        panic!("u8 in, u8 out");
    };
    assert_eq!(out.len(), 224 * 224);
    assert!(
        out.iter().all(|&x| (118..=137).contains(&x)),
        "range {:?}..{:?}",
        out.iter().min(),
        out.iter().max()
    );
}

#[test]
fn constant_and_invalid_inputs() {
    for pixels in [
        Pixels::U8(vec![9; 50 * 40]),
        Pixels::U16(vec![500; 50 * 40]),
        Pixels::F32(vec![-3.5; 50 * 40]),
    ] {
        let out = preprocess(&image(50, 40, pixels), &PixelOptions::default()).unwrap();
        assert_eq!(out, vec![0u8; 224 * 224]);
    }
    let nan = image(2, 2, Pixels::F32(vec![0.0, f32::NAN, 1.0, 2.0]));
    assert!(matches!(
        preprocess(&nan, &PixelOptions::default()),
        Err(PixelError::NonFinite)
    ));
    let short = image(3, 3, Pixels::U8(vec![1; 8]));
    assert!(matches!(
        preprocess(&short, &PixelOptions::default()),
        Err(PixelError::BadDimensions { .. })
    ));
    let ok = image(3, 3, Pixels::U8(vec![1; 9]));
    let zero = PixelOptions {
        size: 0,
        ..PixelOptions::default()
    };
    assert!(matches!(preprocess(&ok, &zero), Err(PixelError::ZeroSize)));
    // Upsampling a tiny image works too.
    let tiny = image(2, 1, Pixels::U16(vec![0, 1000]));
    let out = preprocess(
        &tiny,
        &PixelOptions {
            size: 8,
            fit: Fit::Stretch,
            equalize: false,
        },
    )
    .unwrap();
    assert_eq!((out[0], out[7]), (0, 255));
}
