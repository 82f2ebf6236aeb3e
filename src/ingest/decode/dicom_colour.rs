//! Three-sample DICOM images → one luminance plane (PS3.3 C.7.6.3.1.2).
//!
//! A radiograph saved as colour (secondary capture, some exports) becomes its luminance:
//!
//! | Photometric Interpretation | samples | luminance |
//! |---|---|---|
//! | `RGB`, Planar Configuration 0 or 1 | R G B per pixel, or R plane, G plane, B plane | OpenCV `BGR2GRAY`: `(4899 R + 9617 G + 1868 B + 2^13) >> 14` (the PNG/JPEG path's formula) |
//! | `YBR_FULL`, Planar Configuration 0 or 1 | Y Cb Cr | `Y` itself (PS3.3 defines `Y = 0.299 R + 0.587 G + 0.114 B`, the same weights) |
//! | `YBR_FULL_422` (uncompressed) | `Y1 Y2 Cb Cr` per pair of columns | `Y` itself |
//!
//! With R = G = B (a grey image stored as colour) every row gives exactly the grey value: the
//! OpenCV weights sum to 2^14, and Y of a grey is the grey. Compressed colour (JPEG, JPEG 2000)
//! arrives here as RGB: the codec has already converted YCbCr. Other interpretations
//! (`YBR_PARTIAL_*`, `PALETTE COLOR`, retired `ARGB`/`CMYK`/`HSV`) are rejected by name.

use super::dicom_attrs::PixelModule;
use super::dicom_grey::{Samples, Values};
use super::DecodeError;

/// Luminance of an interleaved or planar 3-sample frame with interpretation `pi` (what the
/// codec delivered; see the module doc), `n = rows × cols` values.
pub fn luminance(s: &Samples, n: usize, pm: &PixelModule, pi: &str, planar: u16) -> Result<Values, DecodeError> {
    let need = match pi {
        "YBR_FULL_422" => n * 2,
        _ => n * 3,
    };
    if s.len() < need {
        return Err(DecodeError::BadDimensions { width: pm.cols, height: pm.rows, samples: s.len() });
    }
    // Colour samples are unsigned (PS3.3 C.7.6.3.1.1); mask to BitsStored like the grey path.
    let mask: u64 = (1u64 << pm.bits_stored) - 1;
    let shift = u32::from(pm.high_bit + 1 - pm.bits_stored);
    let at = |i: usize| ((u64::from(s.get(i)) >> shift) & mask) as u32;
    // (index of sample c of pixel p)
    let idx = |p: usize, c: usize| if planar == 1 { c * n + p } else { p * 3 + c };
    let out: Vec<i32> = match pi {
        "RGB" => (0..n)
            .map(|p| {
                let (r, g, b) = (u64::from(at(idx(p, 0))), u64::from(at(idx(p, 1))), u64::from(at(idx(p, 2))));
                ((r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14) as i32
            })
            .collect(),
        "YBR_FULL" => (0..n).map(|p| at(idx(p, 0)) as i32).collect(),
        "YBR_FULL_422" => {
            if planar != 0 || !pm.cols.is_multiple_of(2) {
                return Err(DecodeError::Unsupported {
                    what: "YBR_FULL_422 layout",
                    value: format!("planar {planar}, {} columns", pm.cols),
                });
            }
            // Each pair of columns is Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2).
            (0..n).map(|p| at((p / 2) * 4 + p % 2) as i32).collect()
        }
        other => {
            return Err(DecodeError::Unsupported {
                what: "SamplesPerPixel/PhotometricInterpretation",
                value: format!("3 / {other}"),
            })
        }
    };
    Ok(Values::Int(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pm(cols: u32) -> PixelModule {
        PixelModule {
            rows: 1,
            cols,
            samples_per_pixel: 3,
            bits_allocated: 8,
            bits_stored: 8,
            high_bit: 7,
            signed: false,
            photometric: "RGB".into(),
            planar: 0,
            frames: 1,
        }
    }

    #[test]
    fn grey_as_colour_gives_the_grey() {
        let grey = [0u8, 17, 128, 255];
        let inter: Vec<u8> = grey.iter().flat_map(|&g| [g, g, g]).collect();
        let planar: Vec<u8> = (0..3).flat_map(|_| grey).collect();
        let ybr: Vec<u8> = grey.iter().flat_map(|&g| [g, 128, 128]).collect();
        let ybr422: Vec<u8> = grey.chunks(2).flat_map(|p| [p[0], p[1], 128, 128]).collect();
        let want = Values::Int(grey.iter().map(|&g| i32::from(g)).collect());
        let p = pm(4);
        assert_eq!(luminance(&Samples::U8(inter), 4, &p, "RGB", 0).unwrap(), want);
        assert_eq!(luminance(&Samples::U8(planar), 4, &p, "RGB", 1).unwrap(), want);
        assert_eq!(luminance(&Samples::U8(ybr), 4, &p, "YBR_FULL", 0).unwrap(), want);
        assert_eq!(luminance(&Samples::U8(ybr422), 4, &p, "YBR_FULL_422", 0).unwrap(), want);
        assert!(luminance(&Samples::U8(vec![0; 12]), 4, &p, "YBR_PARTIAL_420", 0).is_err());
    }
}
