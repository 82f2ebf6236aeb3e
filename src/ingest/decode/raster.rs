//! PNG and JPEG decoding through the `image` crate, to one grey channel at native depth.
//!
//! * 8-bit grey (NIH, CheXpert, MIMIC-CXR-JPG) → [`Pixels::U8`] unchanged.
//! * 16-bit grey (PadChest: 16-bit container, 10/12 significant bits) → [`Pixels::U16`]
//!   unchanged. The study read these with `cv2.imread`, which keeps only the top 8 bits; we keep
//!   all 16 and let the per-image min–max of the pixel stage do the scaling (for a 12-bit image
//!   in a 16-bit container the study's reduction throws away 4 of the 12 bits).
//! * Grey + alpha → the grey channel.
//! * RGB / RGBA (a few NIH files are RGBA) → luminance with OpenCV's fixed-point `BGR2GRAY`
//!   weights, `(4899 R + 9617 G + 1868 B + 2^13) >> 14`, which is what the study's
//!   `cv2.imread` + `cvtColor(BGR2GRAY)` computes; alpha is dropped as `cv2.imread` does. For
//!   grey images stored as RGB(A) all three channels are equal and this equals channel 0
//!   (torchxrayvision's choice for NIH), so the two conventions agree on real data.
//! * Float RGB(A) → the same weights in f32.

use super::{DecodeError, DecodedImage, ImageKind, Photometric, Pixels};
use image::{DynamicImage, ImageFormat};

/// OpenCV `BGR2GRAY` fixed-point weights (sum 2^14) for R, G, B.
const LUMA_R: u32 = 4899;
const LUMA_G: u32 = 9617;
const LUMA_B: u32 = 1868;
const LUMA_SHIFT: u32 = 14;

/// Luminance of one RGB sample with OpenCV's rounding; `T` is u8 or u16.
#[inline]
fn luma_int(r: u32, g: u32, b: u32) -> u32 {
    (r * LUMA_R + g * LUMA_G + b * LUMA_B + (1 << (LUMA_SHIFT - 1))) >> LUMA_SHIFT
}

/// Decode PNG or JPEG bytes. `kind` must be [`ImageKind::Png`] or [`ImageKind::Jpeg`].
pub fn decode_raster(bytes: &[u8], kind: ImageKind) -> Result<DecodedImage, DecodeError> {
    let format = match kind {
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Dicom => return Err(DecodeError::UnknownFormat),
    };
    let dynimg = image::load_from_memory_with_format(bytes, format)
        .map_err(|source| DecodeError::Image { kind, source })?;
    let (width, height) = (dynimg.width(), dynimg.height());
    let (pixels, bits_stored, photometric) = to_grey(dynimg)?;
    Ok(DecodedImage {
        width,
        height,
        pixels,
        bits_stored,
        photometric,
        frames: 1,
        notes: Vec::new(),
    })
}

/// Decodes a JPEG at the smallest DCT scale (1/8, 1/4, 1/2) that keeps both sides at least
/// `min_side` pixels. `None` when no reduction is possible (small image, CMYK): decode normally.
///
/// The 1/8 scale of a baseline greyscale JPEG (CheXpert, MIMIC-CXR-JPG) goes through
/// [`super::jpeg_dc`], which skips the AC coefficients instead of decoding them; its output is
/// bit-identical to `jpeg-decoder`'s, which handles every other case.
pub fn decode_jpeg_reduced(bytes: &[u8], min_side: u32) -> Result<Option<DecodedImage>, DecodeError> {
    if let Some(img) = super::jpeg_dc::decode_dc_only(bytes, min_side) {
        return Ok(Some(DecodedImage {
            width: img.width,
            height: img.height,
            pixels: Pixels::U8(img.pixels),
            bits_stored: 8,
            photometric: Photometric::Monochrome2,
            frames: 1,
            notes: Vec::new(),
        }));
    }
    let jerr = |source| DecodeError::Jpeg { source };
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.read_info().map_err(jerr)?;
    let Some(info) = d.info() else { return Ok(None) };
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let Some(k) = [8u32, 4, 2].into_iter().find(|k| w.div_ceil(*k) >= min_side && h.div_ceil(*k) >= min_side) else {
        return Ok(None);
    };
    if !matches!(info.pixel_format, jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::RGB24) {
        return Ok(None);
    }
    d.scale(w.div_ceil(k) as u16, h.div_ceil(k) as u16).map_err(jerr)?;
    let raw = d.decode().map_err(jerr)?;
    let Some(info) = d.info() else { return Ok(None) };
    let pixels = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => luma_u8(&raw, 3),
        _ => raw,
    };
    Ok(Some(DecodedImage {
        width: u32::from(info.width),
        height: u32::from(info.height),
        pixels: Pixels::U8(pixels),
        bits_stored: 8,
        photometric: if info.pixel_format == jpeg_decoder::PixelFormat::RGB24 { Photometric::ColorToLuma } else { Photometric::Monochrome2 },
        frames: 1,
        notes: Vec::new(),
    }))
}

/// Reduce any supported `DynamicImage` to one channel at native depth.
fn to_grey(img: DynamicImage) -> Result<(Pixels, u8, Photometric), DecodeError> {
    use Photometric::{ColorToLuma, Monochrome2};
    Ok(match img {
        DynamicImage::ImageLuma8(b) => (Pixels::U8(b.into_raw()), 8, Monochrome2),
        DynamicImage::ImageLuma16(b) => (Pixels::U16(b.into_raw()), 16, Monochrome2),
        DynamicImage::ImageLumaA8(b) => {
            let v = b.into_raw().chunks_exact(2).map(|p| p[0]).collect();
            (Pixels::U8(v), 8, Monochrome2)
        }
        DynamicImage::ImageLumaA16(b) => {
            let v = b.into_raw().chunks_exact(2).map(|p| p[0]).collect();
            (Pixels::U16(v), 16, Monochrome2)
        }
        DynamicImage::ImageRgb8(b) => (Pixels::U8(luma_u8(b.as_raw(), 3)), 8, ColorToLuma),
        DynamicImage::ImageRgba8(b) => (Pixels::U8(luma_u8(b.as_raw(), 4)), 8, ColorToLuma),
        DynamicImage::ImageRgb16(b) => (Pixels::U16(luma_u16(b.as_raw(), 3)), 16, ColorToLuma),
        DynamicImage::ImageRgba16(b) => (Pixels::U16(luma_u16(b.as_raw(), 4)), 16, ColorToLuma),
        DynamicImage::ImageRgb32F(b) => (Pixels::F32(luma_f32(b.as_raw(), 3)), 32, ColorToLuma),
        DynamicImage::ImageRgba32F(b) => (Pixels::F32(luma_f32(b.as_raw(), 4)), 32, ColorToLuma),
        other => {
            return Err(DecodeError::Unsupported {
                what: "colour type",
                value: format!("{:?}", other.color()),
            });
        }
    })
}

/// Interleaved 8-bit RGB(A) (`step` samples per pixel) → OpenCV luminance.
fn luma_u8(raw: &[u8], step: usize) -> Vec<u8> {
    raw.chunks_exact(step)
        .map(|p| luma_int(p[0].into(), p[1].into(), p[2].into()) as u8)
        .collect()
}

/// Interleaved 16-bit RGB(A) → luminance with the same fixed-point weights (no overflow in
/// u32). OpenCV uses float weights for 16-bit input, so results can differ from it by 1.
fn luma_u16(raw: &[u16], step: usize) -> Vec<u16> {
    raw.chunks_exact(step)
        .map(|p| luma_int(p[0].into(), p[1].into(), p[2].into()) as u16)
        .collect()
}

/// Interleaved f32 RGB(A) → luminance with the same weights.
fn luma_f32(raw: &[f32], step: usize) -> Vec<f32> {
    let s = (1u32 << LUMA_SHIFT) as f32;
    let (wr, wg, wb) = (LUMA_R as f32 / s, LUMA_G as f32 / s, LUMA_B as f32 / s);
    raw.chunks_exact(step)
        .map(|p| wr * p[0] + wg * p[1] + wb * p[2])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_matches_opencv_fixed_point() {
        // cv2.cvtColor(np.uint8([[[b, g, r]]]), cv2.COLOR_BGR2GRAY) for (r,g,b):
        // (255,0,0) -> 76, (0,255,0) -> 150, (0,0,255) -> 29, (10,20,30) -> 18
        assert_eq!(luma_u8(&[255, 0, 0], 3), vec![76]);
        assert_eq!(luma_u8(&[0, 255, 0], 3), vec![150]);
        assert_eq!(luma_u8(&[0, 0, 255, 7], 4), vec![29]);
        assert_eq!(luma_u8(&[10, 20, 30], 3), vec![18]);
        // equal channels give the channel back
        assert_eq!(luma_u8(&[200, 200, 200], 3), vec![200]);
        assert_eq!(luma_u16(&[40000, 40000, 40000], 3), vec![40000]);
    }
}
