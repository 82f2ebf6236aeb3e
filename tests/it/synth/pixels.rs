//! `cxr::synth` pixels and bytes: DICOMs decode the right way up, a label is
//! visible in the pixels, the output is byte-identical for one seed, and bad
//! configs are typed errors. Uses the shared corpus of `super`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cxr::synth::{SynthConfig, synthesize};
use dicom_dictionary_std::tags;

use super::{SIZE, root, table};

/// dicom-pixeldata's Modality LUT + file window, then MONOCHROME1
/// inversion, must show every synthetic DICOM the right way up:
/// dark air in the corner, bright mediastinum in the middle.
#[test]
fn dicoms_decode_right_way_up_after_modality_lut_window_and_inversion() {
    use dicom_pixeldata::{ConvertOptions, PixelDecoder, VoiLutOption};
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [
        root("vindr").join("train"),
        root("vindr").join("test"),
        root("uka").join("images"),
    ] {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "dicom" || x == "dcm") {
                files.push(p);
            }
        }
    }
    let (mut mono1, mut rescaled) = (0, 0);
    for p in &files {
        let obj = dicom_object::open_file(p).expect("open");
        let pi = obj
            .element(tags::PHOTOMETRIC_INTERPRETATION)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string();
        mono1 += usize::from(pi == "MONOCHROME1");
        rescaled += usize::from(obj.element(tags::RESCALE_SLOPE).is_ok());
        let opts = ConvertOptions::new().with_voi_lut(VoiLutOption::First);
        // The windowed output spans the full u16 range.
        let px: Vec<u16> = obj
            .decode_pixel_data()
            .expect("decode")
            .to_vec_with_options(&opts)
            .expect("pixels");
        assert_eq!(px.len(), (SIZE * SIZE) as usize);
        // `to_vec` ignores the photometric interpretation: invert MONOCHROME1 here.
        let at = |x: u32, y: u32| {
            let v = (px[(y * SIZE + x) as usize] / 257) as u8;
            if pi == "MONOCHROME1" { 255 - v } else { v }
        };
        let (corner, middle) = (at(1, 1), at(SIZE / 2, SIZE * 3 / 10));
        assert!(
            corner < 40 && middle > 140,
            "{} ({pi}): corner {corner}, middle {middle}",
            p.display()
        );
    }
    assert!(
        mono1 > 0 && mono1 < files.len() && rescaled > 0,
        "{mono1} MONOCHROME1, {rescaled} rescaled"
    );
}

/// Mean intensity of the lower-lung band of an 8-bit phantom.
fn lower_lung_mean(path: &Path) -> f32 {
    let img = image::open(path).expect("png").into_luma8();
    let s = img.width() as f32;
    let mut sum = 0.0;
    let mut n = 0.0;
    for (x, y, p) in img.enumerate_pixels() {
        let (u, v) = (x as f32 / s, y as f32 / s);
        if (0.64..0.72).contains(&v) && ((0.2..0.4).contains(&u) || (0.6..0.8).contains(&u)) {
            sum += p.0[0] as f32;
            n += 1.0;
        }
    }
    sum / n
}

#[test]
fn nih_effusion_label_is_visible_in_pixels() {
    let r = root("nih");
    let (_, rows) = table(&r.join("Data_Entry_2017_v2020.csv"));
    let (mut pos, mut neg) = (Vec::new(), Vec::new());
    for row in &rows {
        let p = [
            r.join("images_001/images").join(&row[0]),
            r.join("images_002/images").join(&row[0]),
        ]
        .into_iter()
        .find(|p| p.exists())
        .unwrap();
        let m = lower_lung_mean(&p);
        if row[1].split('|').any(|f| f == "Effusion") {
            pos.push(m)
        } else {
            neg.push(m)
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(!pos.is_empty() && !neg.is_empty());
    assert!(
        mean(&pos) > mean(&neg) + 10.0,
        "effusion {} vs {}",
        mean(&pos),
        mean(&neg)
    );
}

fn all_files(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>, base: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out, base);
        } else {
            out.insert(
                p.strip_prefix(base).unwrap().to_path_buf(),
                std::fs::read(&p).unwrap(),
            );
        }
    }
}

#[test]
fn same_seed_gives_byte_identical_output() {
    let run = |seed| {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SynthConfig {
            out: dir.path().to_path_buf(),
            images_per_dataset: 12,
            image_size: 48,
            seed,
        };
        synthesize(&cfg).unwrap();
        let mut files = BTreeMap::new();
        all_files(dir.path(), &mut files, dir.path());
        files
    };
    let (a, b, c) = (run(3), run(3), run(4));
    assert!(a.len() > 70, "{} files", a.len());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(&b[k] == v, "{} differs", k.display());
    }
    assert_ne!(a, c, "a different seed gives a different corpus");
}

#[test]
fn invalid_config_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SynthConfig::new(dir.path());
    cfg.images_per_dataset = 3;
    assert!(matches!(
        synthesize(&cfg),
        Err(cxr::synth::SynthError::Config { .. })
    ));
    cfg.images_per_dataset = 12;
    cfg.image_size = 8;
    assert!(matches!(
        synthesize(&cfg),
        Err(cxr::synth::SynthError::Config { .. })
    ));
}
