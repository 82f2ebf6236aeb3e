//! DICOM decoding: first frame → one grey channel, modality LUT applied, MONOCHROME1 inverted.
//!
//! Order of operations (dicom-pixeldata's [`ConvertOptions`] order, set explicitly here):
//! 1. parse the file meta group and check that a decoder exists for the transfer syntax
//!    ([`DecodeError::UnsupportedTransferSyntax`] otherwise, e.g. JPEG-LS without `jpegls`);
//! 2. parse the data set, require (7FE0,0010) Pixel Data ([`DecodeError::NoPixelData`]);
//! 3. decode the first frame only (`decode_pixel_data_frame(0)`);
//! 4. convert with the modality LUT (Rescale Slope/Intercept) always on and the VOI LUT
//!    (window) off unless [`DecodeOptions::voi_lut`];
//! 5. invert MONOCHROME1 ourselves (dicom-pixeldata's `to_vec` does not).
//!
//! Output sample type, chosen to keep the native depth and avoid f32 where it is not needed:
//!
//! | case | output | MONOCHROME1 inversion |
//! |---|---|---|
//! | VOI on, BitsAllocated 8 / >8 | `U8` / `U16` (the VOI LUT's full range 0..=255 / 0..=65535) | `255 − v` / `65535 − v` |
//! | VOI off, unsigned, identity rescale, BitsAllocated 8 / 16 | `U8` / `U16` (stored values) | `(2^BitsStored − 1) − v` |
//! | anything else (signed, rescaled, 32-bit) | `F32` (rescaled values) | `lo + hi − v`, `[lo, hi]` = rescaled stored range |
//!
//! The inversion reflects samples within their *nominal* range (from BitsStored and the
//! rescale), not within the image's own min/max, so it does not depend on image content; after
//! the pixel stage's per-image min–max both give the same result. The study inverts after its
//! 8-bit conversion (`np.invert`), which equals `255 − x` on the min–max result: the same image.
//!
//! The study itself read `pixel_array` (stored values, no rescale); for CXR DICOMs the rescale is
//! identity or a positive linear map, which per-image min–max removes, so applying it changes
//! nothing for the study pipeline and is right for signed data.
//!
//! Only technical attributes are read (transfer syntax and the image pixel module through
//! dicom-pixeldata); nothing identifying is read or returned.

use super::{DecodeError, DecodeOptions, DecodedImage, Photometric, Pixels};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTable;
use dicom_pixeldata::{
    ConvertOptions, DecodedPixelData, ModalityLutOption, PixelDecoder, PixelRepresentation,
    VoiLutOption,
};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// Decode a DICOM Part 10 byte stream (with or without the 128-byte preamble).
pub fn decode_dicom(bytes: &[u8], opts: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let body = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        &bytes[128..]
    } else {
        bytes
    };
    if !body.starts_with(b"DICM") {
        return Err(DecodeError::Dicom {
            stage: "parse",
            source: "no DICM magic (not a DICOM Part 10 file)".into(),
        });
    }

    // 1. Transfer syntax, from the meta group alone (cheap, and unknown syntaxes fail cleanly).
    let meta = FileMetaTable::from_reader(body).map_err(|e| DecodeError::Dicom {
        stage: "parse meta",
        source: Box::new(e),
    })?;
    let uid = meta
        .transfer_syntax()
        .trim_end_matches(['\0', ' '])
        .to_string();
    match TransferSyntaxRegistry.get(&uid) {
        Some(ts) if ts.can_decode_all() => {}
        _ => return Err(DecodeError::UnsupportedTransferSyntax { uid }),
    }

    // 2. Data set.
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(body)
        .map_err(|e| DecodeError::Dicom {
            stage: "parse",
            source: Box::new(e),
        })?;
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Err(DecodeError::NoPixelData);
    }
    let frames = obj
        .get(tags::NUMBER_OF_FRAMES)
        .and_then(|e| e.to_int::<u32>().ok())
        .unwrap_or(1);

    // JPEG 2000: decoded in j2k.rs (reduced resolution, code-stream precision, colour -> grey),
    // then continued as a native one-frame data set.
    #[cfg(any(feature = "j2k-rust", feature = "j2k-c"))]
    let (obj, j2k) = super::j2k::route(obj, &uid, frames, opts)?;

    // 3. First frame.
    let decoded = obj
        .decode_pixel_data_frame(0)
        .map_err(|e| DecodeError::Dicom {
            stage: "decode pixel data",
            source: Box::new(e),
        })?;
    let mut img = convert(&decoded, opts)?;
    img.frames = frames.max(1);
    #[cfg(any(feature = "j2k-rust", feature = "j2k-c"))]
    j2k.apply(&mut img);
    Ok(img)
}

/// Steps 4–5: LUTs, sample type, MONOCHROME1 inversion.
fn convert(d: &DecodedPixelData<'_>, opts: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let conv_err = |e: dicom_pixeldata::Error| DecodeError::Dicom {
        stage: "convert pixels",
        source: Box::new(e),
    };
    let (width, height) = (d.columns(), d.rows());
    let bits_alloc = d.bits_allocated();
    let bits_stored = d.bits_stored();
    if bits_alloc != 8 && bits_alloc != 16 && bits_alloc != 32 {
        return Err(DecodeError::Unsupported {
            what: "BitsAllocated",
            value: bits_alloc.to_string(),
        });
    }
    if bits_stored == 0 || bits_stored > bits_alloc {
        return Err(DecodeError::Unsupported {
            what: "BitsStored",
            value: bits_stored.to_string(),
        });
    }
    let frames = d.number_of_frames();
    let pi = d.photometric_interpretation();
    match d.samples_per_pixel() {
        1 if pi.is_monochrome() => {}
        3 => return colour(d, width, height, frames),
        spp => {
            return Err(DecodeError::Unsupported {
                what: "SamplesPerPixel/PhotometricInterpretation",
                value: format!("{spp} / {pi}"),
            });
        }
    }
    let mono1 = matches!(pi, dicom_pixeldata::PhotometricInterpretation::Monochrome1);
    let photometric = if mono1 {
        Photometric::Monochrome1Inverted
    } else {
        Photometric::Monochrome2
    };

    let rescale =
        d.rescale()
            .map_err(conv_err)?
            .first()
            .copied()
            .unwrap_or(dicom_pixeldata::Rescale {
                slope: 1.0,
                intercept: 0.0,
            });
    let signed = d.pixel_representation() == PixelRepresentation::Signed;
    let identity = rescale.slope == 1.0 && rescale.intercept == 0.0;

    let (pixels, out_bits) = if opts.voi_lut {
        let o = ConvertOptions::new()
            .with_modality_lut(ModalityLutOption::Default)
            .with_voi_lut(VoiLutOption::First);
        if bits_alloc == 8 {
            let mut v: Vec<u8> = d.to_vec_with_options(&o).map_err(conv_err)?;
            if mono1 {
                v.iter_mut().for_each(|x| *x = u8::MAX - *x);
            }
            (Pixels::U8(v), 8)
        } else {
            let mut v: Vec<u16> = d.to_vec_with_options(&o).map_err(conv_err)?;
            if mono1 {
                v.iter_mut().for_each(|x| *x = u16::MAX - *x);
            }
            (Pixels::U16(v), 16)
        }
    } else {
        let o = ConvertOptions::new()
            .with_modality_lut(ModalityLutOption::Default)
            .with_voi_lut(VoiLutOption::Identity);
        if identity && !signed && bits_alloc == 8 {
            let mut v: Vec<u8> = d.to_vec_with_options(&o).map_err(conv_err)?;
            if mono1 {
                let top = ((1u32 << bits_stored) - 1) as u8;
                v.iter_mut().for_each(|x| *x = top.saturating_sub(*x));
            }
            (Pixels::U8(v), bits_stored)
        } else if identity && !signed && bits_alloc == 16 {
            let mut v: Vec<u16> = d.to_vec_with_options(&o).map_err(conv_err)?;
            if mono1 {
                let top = ((1u32 << bits_stored) - 1) as u16;
                v.iter_mut().for_each(|x| *x = top.saturating_sub(*x));
            }
            (Pixels::U16(v), bits_stored)
        } else {
            let mut v: Vec<f32> = d.to_vec_with_options(&o).map_err(conv_err)?;
            if mono1 {
                let (smin, smax) = stored_range(bits_stored, signed);
                let lo = rescale.slope * smin + rescale.intercept;
                let hi = rescale.slope * smax + rescale.intercept;
                let sum = (lo + hi) as f32;
                v.iter_mut().for_each(|x| *x = sum - *x);
            }
            (Pixels::F32(v), bits_stored)
        }
    };
    Ok(DecodedImage {
        width,
        height,
        pixels,
        bits_stored: out_bits.min(u8::MAX as u16) as u8,
        photometric,
        frames,
        notes: Vec::new(),
    })
}

/// Smallest and largest stored value for `bits` bits, two's complement if `signed`.
fn stored_range(bits: u16, signed: bool) -> (f64, f64) {
    let bits = i32::from(bits);
    if signed {
        (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0)
    } else {
        (0.0, 2f64.powi(bits) - 1.0)
    }
}

/// Three-sample (RGB after decoding) DICOM → OpenCV luminance, like the PNG/JPEG path.
fn colour(
    d: &DecodedPixelData<'_>,
    width: u32,
    height: u32,
    frames: u32,
) -> Result<DecodedImage, DecodeError> {
    let o = ConvertOptions::new().with_modality_lut(ModalityLutOption::None);
    let conv_err = |e: dicom_pixeldata::Error| DecodeError::Dicom {
        stage: "convert pixels",
        source: Box::new(e),
    };
    let luma = |r: u32, g: u32, b: u32| (r * 4899 + g * 9617 + b * 1868 + (1 << 13)) >> 14;
    let pixels = if d.bits_allocated() == 8 {
        let v: Vec<u8> = d.to_vec_with_options(&o).map_err(conv_err)?;
        Pixels::U8(
            v.chunks_exact(3)
                .map(|p| luma(p[0].into(), p[1].into(), p[2].into()) as u8)
                .collect(),
        )
    } else {
        let v: Vec<u16> = d.to_vec_with_options(&o).map_err(conv_err)?;
        Pixels::U16(
            v.chunks_exact(3)
                .map(|p| luma(p[0].into(), p[1].into(), p[2].into()) as u16)
                .collect(),
        )
    };
    Ok(DecodedImage {
        width,
        height,
        pixels,
        bits_stored: d.bits_stored().min(16) as u8,
        photometric: Photometric::ColorToLuma,
        frames,
        notes: Vec::new(),
    })
}
