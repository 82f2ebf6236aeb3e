//! Grey DICOM samples → [`Pixels`], by one numeric path whatever the encoding.
//!
//! 1. **Stored values** ([`stored_values`]): each sample cell shifted down by
//!    `HighBit + 1 − BitsStored`, masked to BitsStored bits and sign-extended when Pixel
//!    Representation is 1 (PS3.5 8.1.1, PS3.3 C.7.6.3.1.1), as pydicom 3 and DCMTK do.
//! 2. **Modality transform** ([`modality`], PS3.3 C.11.1): the Modality LUT Sequence when
//!    present, else `slope · x + intercept` (exact integer arithmetic when both are integers).
//! 3. **VOI transform**, only under `--voi-lut` ([`voi`], PS3.3 C.11.2): the VOI LUT Sequence
//!    when present, else the first window with its VOI LUT Function (LINEAR C.11.2.1.2.1,
//!    LINEAR_EXACT C.11.2.1.3.2, SIGMOID C.11.2.1.3.1), output range `0 ..= 65535`.
//! 4. **Inversion** when the image is MONOCHROME1 or has Presentation LUT Shape INVERSE
//!    (PS3.3 C.11.6: in the DX/CR IODs INVERSE is what accompanies MONOCHROME1, so the two
//!    together are one inversion, not two): `lo + hi − v` within the *nominal* output range of
//!    the last transform — `[slope·min + b, slope·max + b]` over the stored range, `0 ..=
//!    2^bits − 1` of a LUT, `0 ..= 65535` of a window — so it does not depend on image content.
//! 5. **Sample type from the values alone** ([`to_pixels`]): integers in `0..=255` → `U8`, in
//!    `0..=65535` → `U16`, other integers spanning at most 65535 → `U16` shifted by their
//!    minimum, anything else → `F32`. Two files with the same modality values therefore give the
//!    same `Pixels` — signed or unsigned, rescaled or not, 8 or 16 bits allocated — and so the
//!    same store pixels after resize, min–max and equalisation.

use super::dicom_attrs::{Modality, PixelModule, Voi, VoiFunction};
use super::{DecodeError, Pixels};

/// Decoded sample cells of one frame, as the codec delivered them (native order, interleaved).
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Samples {
    /// Splits little/native-endian bytes into cells of `bits_allocated` bits (8, 16 or 32).
    pub fn from_bytes(bytes: &[u8], bits_allocated: u16) -> Result<Samples, DecodeError> {
        Ok(match bits_allocated {
            8 => Samples::U8(bytes.to_vec()),
            16 => Samples::U16(bytes.chunks_exact(2).map(|c| u16::from_ne_bytes([c[0], c[1]])).collect()),
            32 => Samples::U32(bytes.chunks_exact(4).map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]])).collect()),
            b => return Err(DecodeError::Unsupported { what: "BitsAllocated", value: b.to_string() }),
        })
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::U32(v) => v.len(),
        }
    }

    /// True when there are no cells.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cell `i` widened to u32.
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Samples::U8(v) => u32::from(v[i]),
            Samples::U16(v) => u32::from(v[i]),
            Samples::U32(v) => v[i],
        }
    }
}

/// Sample values after a transform: integers when every value is one, else reals.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Int(Vec<i32>),
    Real(Vec<f32>),
}

/// Step 1: the first `n` cells as stored values (shifted, masked, sign-extended).
pub fn stored_values(s: &Samples, n: usize, pm: &PixelModule) -> Result<Vec<i32>, DecodeError> {
    if s.len() < n {
        return Err(DecodeError::BadDimensions { width: pm.cols, height: pm.rows, samples: s.len() });
    }
    let bits = u32::from(pm.bits_stored);
    if bits == 32 && !pm.signed {
        // Values up to 2^32 − 1 do not fit the i32 path; no radiograph uses them.
        if (0..n).any(|i| s.get(i) > i32::MAX as u32) {
            return Err(DecodeError::Unsupported { what: "BitsStored", value: "32 (unsigned, above 2^31)".into() });
        }
    }
    let shift = u32::from(pm.high_bit + 1 - pm.bits_stored);
    let mask: u64 = (1u64 << bits) - 1;
    let sign: u64 = 1u64 << (bits - 1);
    let one = |c: u32| -> i32 {
        let v = (u64::from(c) >> shift) & mask;
        if pm.signed && v & sign != 0 { (v as i64 - (1i64 << bits)) as i32 } else { v as i32 }
    };
    Ok(match s {
        // Fast paths for the usual cases: no shift, nothing to mask or extend.
        Samples::U16(v) if shift == 0 && bits == 16 && !pm.signed => v[..n].iter().map(|&x| i32::from(x)).collect(),
        Samples::U8(v) if shift == 0 && bits == 8 && !pm.signed => v[..n].iter().map(|&x| i32::from(x)).collect(),
        Samples::U8(v) => v[..n].iter().map(|&c| one(u32::from(c))).collect(),
        Samples::U16(v) => v[..n].iter().map(|&c| one(u32::from(c))).collect(),
        Samples::U32(v) => v[..n].iter().map(|&c| one(c)).collect(),
    })
}

/// Smallest and largest stored value for `bits` bits, two's complement if `signed`.
pub fn stored_range(bits: u16, signed: bool) -> (f64, f64) {
    let bits = i32::from(bits);
    if signed { (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0) } else { (0.0, 2f64.powi(bits) - 1.0) }
}

/// Reals that are all integers (and fit i32) become `Int`, so the sample type never depends on
/// how the integers were obtained.
fn settle(v: Vec<f32>) -> Values {
    if v.iter().all(|x| x.fract() == 0.0 && x.abs() < 2.0e9) {
        Values::Int(v.into_iter().map(|x| x as i32).collect())
    } else {
        Values::Real(v)
    }
}

/// Step 2: stored values → modality values, with the transform's nominal output range.
pub fn modality(stored: Vec<i32>, m: &Modality, bits_stored: u16, signed: bool) -> (Values, (f64, f64)) {
    match m {
        Modality::Lut(lut) => {
            let v = stored.iter().map(|&x| i32::from(lut.map(i64::from(x)))).collect();
            (Values::Int(v), (0.0, f64::from(lut.out_max())))
        }
        &Modality::Rescale { slope, intercept } => {
            let (smin, smax) = stored_range(bits_stored, signed);
            let (a, b) = (slope * smin + intercept, slope * smax + intercept);
            let range = (a.min(b), a.max(b));
            if slope == 1.0 && intercept == 0.0 {
                return (Values::Int(stored), range);
            }
            if slope.fract() == 0.0 && intercept.fract() == 0.0 && a.abs().max(b.abs()) < 2.0e9 {
                let (s, i) = (slope as i64, intercept as i64);
                return (Values::Int(stored.iter().map(|&x| (s * i64::from(x) + i) as i32).collect()), range);
            }
            let v = stored.iter().map(|&x| (slope * f64::from(x) + intercept) as f32).collect();
            (settle(v), range)
        }
    }
}

/// Largest output of a window (PS3.3 C.11.2.1.2: `ymax`); `ymin` is 0.
pub const WINDOW_OUT_MAX: f64 = 65535.0;

/// One window function value, PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT),
/// C.11.2.1.3.1 (SIGMOID), with `ymin = 0`, `ymax` = [`WINDOW_OUT_MAX`]. The width has been
/// checked (`≥ 1` for LINEAR, `> 0` otherwise).
pub fn window(x: f64, c: f64, w: f64, f: VoiFunction) -> f64 {
    let ymax = WINDOW_OUT_MAX;
    match f {
        VoiFunction::Linear => {
            if x <= c - 0.5 - (w - 1.0) / 2.0 {
                0.0
            } else if x > c - 0.5 + (w - 1.0) / 2.0 {
                ymax
            } else if w == 1.0 {
                // The interval is empty for w = 1: a threshold at c − 0.5.
                ymax
            } else {
                ((x - (c - 0.5)) / (w - 1.0) + 0.5) * ymax
            }
        }
        VoiFunction::LinearExact => {
            if x <= c - w / 2.0 {
                0.0
            } else if x > c + w / 2.0 {
                ymax
            } else {
                ((x - c) / w + 0.5) * ymax
            }
        }
        VoiFunction::Sigmoid => ymax / (1.0 + (-4.0 * (x - c) / w).exp()),
    }
}

/// Step 3: modality values → VOI output (integers), with the output's nominal range and
/// significant bits. Errors on a width the function does not allow.
pub fn voi(values: &Values, v: &Voi) -> Result<(Values, (f64, f64), u8), DecodeError> {
    let xs: Box<dyn Iterator<Item = f64> + '_> = match values {
        Values::Int(v) => Box::new(v.iter().map(|&x| f64::from(x))),
        Values::Real(v) => Box::new(v.iter().map(|&x| f64::from(x))),
    };
    match v {
        &Voi::Window { center, width, function } => {
            let ok = match function {
                VoiFunction::Linear => width >= 1.0,
                _ => width > 0.0,
            };
            if !ok || !center.is_finite() || !width.is_finite() {
                return Err(DecodeError::Unsupported {
                    what: "Window Center/Width",
                    value: format!("{center} / {width} ({function:?})"),
                });
            }
            let out = xs.map(|x| window(x, center, width, function).round().clamp(0.0, WINDOW_OUT_MAX) as i32).collect();
            Ok((Values::Int(out), (0.0, WINDOW_OUT_MAX), 16))
        }
        Voi::Lut(lut) => {
            let out = xs.map(|x| i32::from(lut.map(x.round() as i64))).collect();
            Ok((Values::Int(out), (0.0, f64::from(lut.out_max())), lut.bits))
        }
    }
}

/// Step 4: reflect within `[lo, hi]`: `lo + hi − v`.
pub fn invert(values: Values, (lo, hi): (f64, f64)) -> Values {
    let sum = lo + hi;
    match values {
        Values::Int(v) if sum.fract() == 0.0 && sum.abs() < 4.0e9 => {
            let s = sum as i64;
            let out: Vec<i64> = v.iter().map(|&x| s - i64::from(x)).collect();
            if out.iter().all(|&x| i32::try_from(x).is_ok()) {
                Values::Int(out.into_iter().map(|x| x as i32).collect())
            } else {
                Values::Real(out.into_iter().map(|x| x as f32).collect())
            }
        }
        Values::Int(v) => settle(v.iter().map(|&x| (sum - f64::from(x)) as f32).collect()),
        Values::Real(v) => settle(v.iter().map(|&x| (sum - f64::from(x)) as f32).collect()),
    }
}

/// Step 5: the sample type from the values alone (see the module doc).
pub fn to_pixels(values: Values) -> Pixels {
    match values {
        Values::Real(v) => Pixels::F32(v),
        Values::Int(v) => {
            let (lo, hi) = v.iter().fold((i32::MAX, i32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            if v.is_empty() {
                Pixels::U8(Vec::new())
            } else if lo >= 0 && hi <= 255 {
                Pixels::U8(v.into_iter().map(|x| x as u8).collect())
            } else if lo >= 0 && hi <= 65535 {
                Pixels::U16(v.into_iter().map(|x| x as u16).collect())
            } else if i64::from(hi) - i64::from(lo) <= 65535 {
                Pixels::U16(v.into_iter().map(|x| (i64::from(x) - i64::from(lo)) as u16).collect())
            } else {
                Pixels::F32(v.into_iter().map(|x| x as f32).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::dicom_attrs::Lut;

    fn map_lut(lut: &Lut, xs: &[i32]) -> Vec<u16> {
        xs.iter().map(|&x| lut.map(i64::from(x))).collect()
    }

    fn pm(bits_allocated: u16, bits_stored: u16, high_bit: u16, signed: bool) -> PixelModule {
        PixelModule {
            rows: 1,
            cols: 4,
            samples_per_pixel: 1,
            bits_allocated,
            bits_stored,
            high_bit,
            signed,
            photometric: "MONOCHROME2".into(),
            planar: 0,
            frames: 1,
        }
    }

    #[test]
    fn stored_values_mask_shift_and_sign_extend() {
        // 12 bits stored in 16, garbage (overlay) bits above: masked.
        let s = Samples::U16(vec![0xF123, 0x0FFF, 0x0800, 0x0001]);
        assert_eq!(stored_values(&s, 4, &pm(16, 12, 11, false)).unwrap(), vec![0x123, 4095, 2048, 1]);
        assert_eq!(stored_values(&s, 4, &pm(16, 12, 11, true)).unwrap(), vec![0x123, -1, -2048, 1]);
        // High bit 15 with 12 bits stored: the value sits in the top bits.
        let s = Samples::U16(vec![0xFFF0, 0x0010]);
        assert_eq!(stored_values(&s, 2, &pm(16, 12, 15, false)).unwrap(), vec![4095, 1]);
        assert!(stored_values(&Samples::U8(vec![1]), 2, &pm(8, 8, 7, false)).is_err());
    }

    #[test]
    fn window_functions_follow_ps3_3() {
        // LINEAR c=2048 w=4096: x <= 0 -> 0, x > 4095 -> ymax, midpoint 2047.5 -> ymax/2.
        assert_eq!(window(0.0, 2048.0, 4096.0, VoiFunction::Linear), 0.0);
        assert_eq!(window(4096.0, 2048.0, 4096.0, VoiFunction::Linear), WINDOW_OUT_MAX);
        assert!((window(2047.5, 2048.0, 4096.0, VoiFunction::Linear) - WINDOW_OUT_MAX / 2.0).abs() < 1e-9);
        // LINEAR_EXACT c=100 w=50: 75 -> 0, 125 -> ymax, 100 -> ymax/2.
        assert_eq!(window(75.0, 100.0, 50.0, VoiFunction::LinearExact), 0.0);
        assert_eq!(window(125.0, 100.0, 50.0, VoiFunction::LinearExact), WINDOW_OUT_MAX);
        assert_eq!(window(100.0, 100.0, 50.0, VoiFunction::LinearExact), WINDOW_OUT_MAX / 2.0);
        // SIGMOID: centre -> ymax/2, one width above -> ymax / (1 + e^-4).
        assert_eq!(window(10.0, 10.0, 5.0, VoiFunction::Sigmoid), WINDOW_OUT_MAX / 2.0);
        let y = window(15.0, 10.0, 5.0, VoiFunction::Sigmoid);
        assert!((y - WINDOW_OUT_MAX / (1.0 + (-4f64).exp())).abs() < 1e-9);
    }

    #[test]
    fn sample_type_depends_on_values_only() {
        assert!(matches!(to_pixels(Values::Int(vec![0, 255])), Pixels::U8(_)));
        assert!(matches!(to_pixels(Values::Int(vec![0, 256])), Pixels::U16(_)));
        assert_eq!(to_pixels(Values::Int(vec![-10, 5])), Pixels::U16(vec![0, 15]));
        assert!(matches!(to_pixels(Values::Int(vec![-40000, 40000])), Pixels::F32(_)));
        assert!(matches!(to_pixels(settle(vec![1.0, 2.0])), Pixels::U8(_)));
        assert!(matches!(to_pixels(settle(vec![1.5, 2.0])), Pixels::F32(_)));
        // A signed, rescaled twin: stored x − 2048 with intercept 2048 gives the unsigned values.
        let unsigned: Vec<i32> = vec![0, 100, 4095];
        let signed: Vec<i32> = unsigned.iter().map(|x| x - 2048).collect();
        let m = Modality::Rescale { slope: 1.0, intercept: 2048.0 };
        let (a, ra) = modality(unsigned.clone(), &Modality::Rescale { slope: 1.0, intercept: 0.0 }, 12, false);
        let (b, rb) = modality(signed, &m, 12, true);
        assert_eq!(a, b);
        assert_eq!(ra, rb);
        assert_eq!(invert(a, ra), invert(b, rb));
    }

    #[test]
    fn lut_clamps_outside_its_range() {
        let lut = Lut { first: -2, bits: 8, data: vec![10, 20, 30] };
        assert_eq!(map_lut(&lut, &[-5, -2, -1, 0, 1, 99]), vec![10, 10, 20, 30, 30, 30]);
        assert_eq!(lut.out_max(), 255);
    }
}
