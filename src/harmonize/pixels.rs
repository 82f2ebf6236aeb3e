//! The study's pixel preprocessing: decoded radiograph → `size × size` 8-bit image.
//!
//! Steps, in the study's order (paper.md §2.1):
//! 1. **Fit** to a square ([`Fit`]): `Stretch` (study default: no aspect ratio kept), `Pad`
//!    (letterbox with the image minimum *before* resizing, so the filter sees a flat border of
//!    the darkest value and the padding maps to 0 after min–max), or `CenterCrop` (keep the
//!    central square of the longer side). The crop is copied out first rather than passed as
//!    the resizer's crop box, because the resizer's kernel would still read pixels outside the
//!    box: with a copy the output depends on the central square only (crop-then-resize).
//! 2. **Resize** to `size × size` with `fast_image_resize`'s separable convolution, filter
//!    **Catmull–Rom** (cubic, a = −0.5), on the native sample type (u8, u16 or f32; no widening
//!    to f32 for u16 data). Why this filter: the kernel is scaled by the down-sampling factor, so
//!    it is properly anti-aliased (the study's `scipy.ndimage.zoom(order=2)` is not, and aliases
//!    at 8× reduction); Catmull–Rom is a cubic like the study's spline, is ~30 % faster than
//!    Lanczos3 here (rust-stack.md §4b: 2.5 vs 3.5 ms for 1841×1955→224² u16) and rings less at
//!    collimator edges and burned-in markers. Ringing matters because the next step uses the
//!    image extremes. Overshoot is clamped to the sample type's range by the resizer.
//! 3. **Min–max to 8 bit** per image, as `skimage.util.img_as_ubyte((x − min)/(max − min))`:
//!    `rint(255 · (v − min)/(max − min))` in f64 with ties to even. A constant image gives all
//!    zeros (no NaN).
//! 4. **Global histogram equalisation**, bit-exact with OpenCV's `cv2.equalizeHist`
//!    ([`equalize_hist`]), unless [`PixelOptions::equalize`] is off.
//!
//! MONOCHROME1 inversion happens in the decoder; the study inverts after step 3 (`np.invert`),
//! which is the same image. The DICOM decoder chooses the sample type from the modality values
//! alone (`ingest::decode::dicom_grey`), so every DICOM encoding of the same values takes the
//! same path through these steps.

use crate::ingest::decode::{DecodedImage, Pixels};
use fast_image_resize::{
    FilterType, ImageBufferError, PixelType, ResizeAlg, ResizeError, ResizeOptions, Resizer,
    images::{Image, ImageRef},
};

/// How a non-square image is made square (`--fit stretch|pad|center-crop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Fit {
    /// Resize width and height independently (the study; aspect ratio not kept).
    #[default]
    Stretch,
    /// Letterbox the shorter side with the image minimum, then resize.
    Pad,
    /// Keep the central square (side = shorter side), then resize.
    CenterCrop,
}

/// Pixel stage settings; `Default` is the study's: 224 px, stretch, equalise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelOptions {
    /// Output side length, pixels.
    pub size: u32,
    /// Square fitting mode.
    pub fit: Fit,
    /// Apply global histogram equalisation (`cv2.equalizeHist`) at the end.
    pub equalize: bool,
}

impl Default for PixelOptions {
    fn default() -> Self {
        PixelOptions {
            size: 224,
            fit: Fit::Stretch,
            equalize: true,
        }
    }
}

/// Why an image could not be preprocessed.
#[derive(Debug, thiserror::Error)]
pub enum PixelError {
    /// `size` is 0.
    #[error("output size must be positive")]
    ZeroSize,
    /// Width/height are 0 or do not match the sample count.
    #[error("bad input dimensions {width}x{height} with {samples} samples")]
    BadDimensions {
        width: u32,
        height: u32,
        samples: usize,
    },
    /// f32 input containing NaN or ±inf.
    #[error("input has non-finite samples")]
    NonFinite,
    /// The resizer rejected the buffers.
    #[error("resize buffer error")]
    Buffer(#[source] ImageBufferError),
    /// The resizer failed.
    #[error("resize failed")]
    Resize(#[source] ResizeError),
}

/// Resize filter used by [`resize`] (see the module doc for the choice).
pub const RESIZE_ALG: ResizeAlg = ResizeAlg::Convolution(FilterType::CatmullRom);

/// Full study pipeline: fit + resize, min–max to u8, optional equalisation.
/// Returns `size * size` bytes, row-major.
pub fn preprocess(img: &DecodedImage, opts: &PixelOptions) -> Result<Vec<u8>, PixelError> {
    let shifted = integral_to_u16(img);
    let small = resize(shifted.as_ref().unwrap_or(img), opts.size, opts.fit)?;
    let mut out = minmax_to_u8(&small);
    if opts.equalize {
        equalize_hist(&mut out);
    }
    Ok(out)
}

/// Integer-valued real samples spanning at most 16 bits are shifted by their minimum into
/// `u16` (min–max ignores the shift) so the faster u16 resize path is used. The DICOM decoder
/// already chooses the sample type from the values alone (`ingest::decode::dicom_grey`), so
/// this only matters for callers that build `F32` images of integers themselves. `None` when
/// the image is not such a case.
fn integral_to_u16(img: &DecodedImage) -> Option<DecodedImage> {
    let Pixels::F32(v) = &img.pixels else { return None };
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &x in v {
        if !x.is_finite() || x.fract() != 0.0 {
            return None;
        }
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if v.is_empty() || hi - lo > 65535.0 {
        return None;
    }
    let pixels = Pixels::U16(v.iter().map(|&x| (x - lo) as u16).collect());
    Some(DecodedImage { pixels, ..img.clone() })
}

/// Steps 1–2: fit to a square and resize to `size × size`, keeping the sample type.
pub fn resize(img: &DecodedImage, size: u32, fit: Fit) -> Result<Pixels, PixelError> {
    if size == 0 {
        return Err(PixelError::ZeroSize);
    }
    let (w, h) = (img.width, img.height);
    let n = w as usize * h as usize;
    if w == 0 || h == 0 || img.pixels.len() != n {
        return Err(PixelError::BadDimensions {
            width: w,
            height: h,
            samples: img.pixels.len(),
        });
    }
    Ok(match &img.pixels {
        Pixels::U8(v) => Pixels::U8(fit_resize(v, w, h, size, fit, PixelType::U8)?),
        Pixels::U16(v) => Pixels::U16(fit_resize(v, w, h, size, fit, PixelType::U16)?),
        Pixels::F32(v) => {
            if v.iter().any(|x| !x.is_finite()) {
                return Err(PixelError::NonFinite);
            }
            Pixels::F32(fit_resize(v, w, h, size, fit, PixelType::F32)?)
        }
    })
}

/// Sample types the resizer handles natively.
trait Sample: bytemuck::Pod + PartialOrd {}
impl Sample for u8 {}
impl Sample for u16 {}
impl Sample for f32 {}

fn fit_resize<T: Sample>(
    v: &[T],
    w: u32,
    h: u32,
    size: u32,
    fit: Fit,
    pt: PixelType,
) -> Result<Vec<T>, PixelError> {
    match fit {
        Fit::Stretch => resize_plane(v, w, h, size, pt),
        Fit::CenterCrop => {
            if w == h {
                return resize_plane(v, w, h, size, pt);
            }
            let (cropped, side) = crop_square(v, w, h);
            resize_plane(&cropped, side, side, size, pt)
        }
        Fit::Pad => {
            if w == h {
                return resize_plane(v, w, h, size, pt);
            }
            let (padded, side) = pad_square(v, w, h);
            resize_plane(&padded, side, side, size, pt)
        }
    }
}

/// Letterbox to a centred square of side `max(w, h)`, filled with the minimum sample.
fn pad_square<T: Sample>(v: &[T], w: u32, h: u32) -> (Vec<T>, u32) {
    let fill = v
        .iter()
        .copied()
        .fold(v[0], |m, x| if x < m { x } else { m });
    let side = w.max(h);
    let (x0, y0) = (((side - w) / 2) as usize, ((side - h) / 2) as usize);
    let (w, side_us) = (w as usize, side as usize);
    let mut out = vec![fill; side_us * side_us];
    for (r, row) in v.chunks_exact(w).enumerate() {
        let start = (y0 + r) * side_us + x0;
        out[start..start + w].copy_from_slice(row);
    }
    (out, side)
}

/// Copy the central `min(w, h)` square (offset rounded down).
fn crop_square<T: Sample>(v: &[T], w: u32, h: u32) -> (Vec<T>, u32) {
    let side = w.min(h) as usize;
    let (x0, y0) = ((w as usize - side) / 2, (h as usize - side) / 2);
    let w = w as usize;
    let mut out = Vec::with_capacity(side * side);
    for row in v.chunks_exact(w).skip(y0).take(side) {
        out.extend_from_slice(&row[x0..x0 + side]);
    }
    (out, side as u32)
}

/// Resize one plane to `size × size`.
fn resize_plane<T: Sample>(
    v: &[T],
    w: u32,
    h: u32,
    size: u32,
    pt: PixelType,
) -> Result<Vec<T>, PixelError> {
    let src = ImageRef::new(w, h, bytemuck::cast_slice(v), pt).map_err(PixelError::Buffer)?;
    let mut dst = Image::new(size, size, pt);
    let opts = ResizeOptions::new().resize_alg(RESIZE_ALG);
    Resizer::new()
        .resize(&src, &mut dst, &opts)
        .map_err(PixelError::Resize)?;
    // The destination buffer need not be aligned for T: copy out element-wise.
    Ok(bytemuck::pod_collect_to_vec(dst.buffer()))
}

/// Step 3: per-image min–max to 8 bit, `rint(255 · (v − min)/(max − min))` (ties to even),
/// evaluated in f64 in numpy's order. Constant image → zeros.
pub fn minmax_to_u8(p: &Pixels) -> Vec<u8> {
    fn scale<T: Copy + Into<f64>>(v: &[T]) -> Vec<u8> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &x in v {
            let x: f64 = x.into();
            lo = lo.min(x);
            hi = hi.max(x);
        }
        let range = hi - lo;
        if !range.is_finite() || range <= 0.0 {
            return vec![0; v.len()];
        }
        v.iter()
            .map(|&x| {
                let unit = (x.into() - lo) / range;
                (unit * 255.0).round_ties_even().clamp(0.0, 255.0) as u8
            })
            .collect()
    }
    match p {
        Pixels::U8(v) => scale(v),
        Pixels::U16(v) => scale(v),
        Pixels::F32(v) => scale(v),
    }
}

/// Step 4: global histogram equalisation in place, bit-exact with OpenCV 4.x `cv2.equalizeHist`:
/// `lut[i] = saturate_cast<u8>(cumsum(i) · 255/(N − hist[first]))` in f32 with round-half-even,
/// where `cumsum` excludes the first occupied bin (which maps to 0); a one-value image is left
/// unchanged (OpenCV fills it with its own value).
pub fn equalize_hist(img: &mut [u8]) {
    if img.is_empty() {
        return;
    }
    let mut hist = [0usize; 256];
    for &x in img.iter() {
        hist[x as usize] += 1;
    }
    let total = img.len();
    let first = hist.iter().position(|&c| c > 0).unwrap_or(0);
    if hist[first] == total {
        return;
    }
    let scale = 255.0f32 / (total - hist[first]) as f32;
    let mut lut = [0u8; 256];
    let mut sum = 0usize;
    for i in first + 1..256 {
        sum += hist[i];
        lut[i] = (sum as f32 * scale).round_ties_even().clamp(0.0, 255.0) as u8;
    }
    for x in img.iter_mut() {
        *x = lut[*x as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_square_centres_and_fills_with_min() {
        let v: Vec<u16> = vec![5, 6, 7, 8, 9, 10]; // 3 wide, 2 high
        let (p, side) = pad_square(&v, 3, 2);
        assert_eq!(side, 3);
        assert_eq!(p, vec![5, 6, 7, 8, 9, 10, 5, 5, 5]);
        let (p, side) = pad_square(&v, 1, 6);
        assert_eq!(side, 6);
        assert_eq!(&p[0..6], &[5, 5, 5, 5, 5, 5]);
        assert_eq!(p[6 + 2], 6); // row 1, column 2 (x0 = 2)
    }

    #[test]
    fn crop_square_takes_the_centre() {
        let v: Vec<u8> = (0..12).collect(); // 4 wide, 3 high
        assert_eq!(crop_square(&v, 4, 3), (vec![0, 1, 2, 4, 5, 6, 8, 9, 10], 3));
        let v: Vec<u8> = (0..10).collect(); // 2 wide, 5 high -> rows 1..3
        assert_eq!(crop_square(&v, 2, 5), (vec![2, 3, 4, 5], 2));
    }

    #[test]
    fn minmax_ties_round_to_even() {
        // 255 * 1/2 = 127.5 -> 128 (even); 255 * 1/6 = 42.5 -> 42 (even)
        assert_eq!(minmax_to_u8(&Pixels::U16(vec![0, 1, 2])), vec![0, 128, 255]);
        assert_eq!(minmax_to_u8(&Pixels::U8(vec![0, 1, 6])), vec![0, 42, 255]);
        assert_eq!(minmax_to_u8(&Pixels::F32(vec![3.0; 4])), vec![0; 4]);
    }
}
