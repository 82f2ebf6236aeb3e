//! Image decoding: one entry point for DICOM, PNG and JPEG radiographs.
//!
//! Every decoder returns a [`DecodedImage`]: one grey channel, row-major, at the file's native
//! bit depth, in MONOCHROME2 sense (higher value = brighter = more attenuation). What differs per
//! format is only how the samples are obtained:
//!
//! * DICOM ([`dicom`]): the first frame's cells (our own JPEG lossless and 12-bit decoders,
//!   dicom-pixeldata's codecs for the rest); the modality transform (Modality LUT Sequence or
//!   Rescale Slope/Intercept) is always applied, the VOI transform (VOI LUT Sequence or window)
//!   only with [`DecodeOptions::voi_lut`], MONOCHROME1 / Presentation LUT Shape INVERSE are
//!   inverted, colour becomes luminance ([`dicom_grey`], [`dicom_colour`]).
//!   JPEG 2000 / HTJ2K frames are decoded by [`j2k`] first (reduced resolution with
//!   [`DecodeOptions::j2k_min_side`], code-stream precision, colour → grey).
//! * PNG / JPEG ([`raster`]): the `image` crate; 8-bit and 16-bit grey are kept as they are,
//!   colour is reduced to OpenCV's `BGR2GRAY` luminance (what the study's `cv2.imread` +
//!   `cvtColor` does), alpha is dropped.
//!
//! The decoders never panic on bad input: third-party decoder calls run under
//! [`std::panic::catch_unwind`], and a panic comes back as [`DecodeError::DecoderPanic`].
//! No identifying attribute (names, IDs, dates) is read or returned.

pub mod dicom;
pub mod dicom_attrs;
pub mod dicom_colour;
pub mod dicom_jpeg;
pub mod dicom_grey;
pub mod dicom_lengths;
pub mod dicom_un;
pub mod jpeg12;
pub mod jpeg_complete;
#[cfg(any(feature = "j2k-rust", feature = "j2k-c"))]
pub mod j2k;
pub mod jpeg_dc;
pub mod jpeg_lossless;
pub mod jpeg_stream;
pub mod jpegls;
pub mod raster;
pub mod rle;

use std::path::{Path, PathBuf};

/// The container formats the ingest pipeline reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageKind {
    /// DICOM Part 10 file (with or without the 128-byte preamble).
    Dicom,
    /// PNG, 8- or 16-bit, grey or colour.
    Png,
    /// JPEG (baseline/progressive, 8-bit).
    Jpeg,
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

impl ImageKind {
    /// Guess the kind from the first bytes of a file (at least 132 for a DICOM preamble; a bare
    /// DICOM data set is recognised by its first element, see [`dicom::raw_dataset_syntax`]), then,
    /// if the magic bytes say nothing, from the extension (`.dcm`/`.dicom`, `.png`,
    /// `.jpg`/`.jpeg`, case-insensitive). `None` if neither matches.
    pub fn sniff(path: &Path, first_bytes: &[u8]) -> Option<ImageKind> {
        if first_bytes.len() >= 132 && &first_bytes[128..132] == b"DICM" {
            return Some(ImageKind::Dicom);
        }
        if first_bytes.starts_with(b"DICM") {
            return Some(ImageKind::Dicom);
        }
        if dicom::raw_dataset_syntax(first_bytes).is_some() {
            return Some(ImageKind::Dicom);
        }
        if first_bytes.starts_with(PNG_MAGIC) {
            return Some(ImageKind::Png);
        }
        if first_bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Some(ImageKind::Jpeg);
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "dcm" | "dicom" => Some(ImageKind::Dicom),
            "png" => Some(ImageKind::Png),
            "jpg" | "jpeg" => Some(ImageKind::Jpeg),
            _ => None,
        }
    }
}

/// Decoding switches. The study's settings are the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeOptions {
    /// Apply the DICOM VOI LUT (first window / VOI LUT sequence). Default `false`: the study
    /// uses the stored values without windowing. Ignored for PNG/JPEG.
    pub voi_lut: bool,
    /// Decode JPEGs at a reduced DCT scale (1/2, 1/4 or 1/8: an exact block average of the
    /// frequency content, so still anti-aliased) when both sides stay at least this many pixels
    /// — the ingest passes its output size. `None`: always full resolution (bit-exact with a
    /// full decode). Ignored for PNG and DICOM.
    pub jpeg_min_side: Option<u32>,
    /// Decode JPEG 2000 DICOM only up to the wavelet resolution level whose image still has both
    /// sides at least this many pixels (OpenJPEG's reduce factor, see [`j2k`]) — the ingest
    /// passes its output size. `None`: full resolution (bit-exact for lossless files).
    pub j2k_min_side: Option<u32>,
}

/// Decoded samples, one channel, row-major, `width * height` long.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    /// 8-bit samples (PNG/JPEG 8-bit; DICOM whose values are integers in 0..=255).
    U8(Vec<u8>),
    /// 16-bit unsigned samples (PNG 16-bit; DICOM whose values are integers in 0..=65535, or
    /// other integers spanning at most 65535, shifted by their minimum).
    U16(Vec<u16>),
    /// Real-valued samples (DICOM whose modality values are not all integers, or span more
    /// than 65535).
    F32(Vec<f32>),
}

impl Pixels {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Pixels::U8(v) => v.len(),
            Pixels::U16(v) => v.len(),
            Pixels::F32(v) => v.len(),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample type's name (`"u8"`, `"u16"`, `"f32"`), for logs and store metadata.
    pub fn type_name(&self) -> &'static str {
        match self {
            Pixels::U8(_) => "u8",
            Pixels::U16(_) => "u16",
            Pixels::F32(_) => "f32",
        }
    }
}

/// What the source said about the meaning of its grey levels, and what was done about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Photometric {
    /// Higher = brighter in the source; samples unchanged.
    Monochrome2,
    /// DICOM MONOCHROME1 (higher = darker); the samples were inverted
    /// (reflected within their nominal range, see [`dicom`]).
    Monochrome1Inverted,
    /// Colour source (RGB/RGBA/YBR) reduced to luminance.
    ColorToLuma,
}

/// One decoded radiograph.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedImage {
    /// Columns, pixels.
    pub width: u32,
    /// Rows, pixels.
    pub height: u32,
    /// `width * height` samples, row-major, MONOCHROME2 sense.
    pub pixels: Pixels,
    /// Significant bits per sample in the source (DICOM BitsStored; 8 or 16 for PNG/JPEG).
    pub bits_stored: u8,
    /// Source interpretation and the inversion applied.
    pub photometric: Photometric,
    /// Frames in the source (only the first is decoded).
    pub frames: u32,
    /// What the decoder had to decide about this file (e.g. a JPEG 2000 precision that differs
    /// from Bits Stored); the ingest counts them into its summary notes. Usually empty.
    pub notes: Vec<String>,
}

/// Why an image could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The file could not be read.
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Zero-byte input.
    #[error("empty input")]
    Empty,
    /// Neither magic bytes nor extension identify the format.
    #[error("unknown image format")]
    UnknownFormat,
    /// The DICOM data set could not be parsed or its pixel data not decoded.
    #[error("DICOM {stage} failed")]
    Dicom {
        /// Which step failed ("parse", "decode pixel data", "convert pixels").
        stage: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The DICOM object has no (7FE0,0010) Pixel Data.
    #[error("DICOM object has no PixelData")]
    NoPixelData,
    /// No decoder is built in for this transfer syntax (e.g. JPEG-LS without the `jpegls`
    /// feature: the message then names the feature to enable).
    #[error("unsupported DICOM transfer syntax {uid}{}", feature_hint(.uid))]
    UnsupportedTransferSyntax { uid: String },
    /// An image property this decoder does not handle (e.g. 4 samples per pixel).
    #[error("unsupported {what}: {value}")]
    Unsupported { what: &'static str, value: String },
    /// PNG/JPEG decoding failed (truncated, corrupt, unsupported colour type).
    #[error("{kind:?} decoding failed")]
    Image {
        kind: ImageKind,
        #[source]
        source: image::ImageError,
    },
    /// A JPEG whose scan is cut short or zero-filled ([`jpeg_complete`]); the reason says which.
    #[error("incomplete JPEG: {reason}")]
    IncompleteJpeg { reason: String },
    /// The reduced-scale JPEG decoder failed (truncated or corrupt JPEG).
    #[error("JPEG decoding failed")]
    Jpeg {
        #[source]
        source: jpeg_decoder::Error,
    },
    /// Width or height is 0, or the sample count does not match width × height.
    #[error("bad dimensions {width}x{height} with {samples} samples")]
    BadDimensions {
        width: u32,
        height: u32,
        samples: usize,
    },
    /// A third-party decoder panicked; the panic was caught.
    #[error("decoder panicked: {message}")]
    DecoderPanic { message: String },
}

/// JPEG-LS Lossless (.80) and Near-Lossless (.81), PS3.5 A.4.3.
const JPEG_LS_UIDS: [&str; 2] = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"];

/// What to enable for a transfer syntax this build cannot decode ("" when nothing would help).
fn feature_hint(uid: &str) -> &'static str {
    if JPEG_LS_UIDS.contains(&uid) && !cfg!(feature = "jpegls") {
        " (colour JPEG-LS is not handled by the built-in greyscale decoder; rebuild with `cargo build --features jpegls`, which needs cmake and a C++ compiler for CharLS)"
    } else {
        ""
    }
}

/// Read and decode one file. The kind is sniffed from the content first, the extension second.
pub fn decode_file(path: &Path, opts: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let head = &bytes[..bytes.len().min(132)];
    let kind = ImageKind::sniff(path, head).ok_or(DecodeError::UnknownFormat)?;
    decode_bytes(&bytes, kind, opts)
}

/// Decode an in-memory file of a known kind.
pub fn decode_bytes(
    bytes: &[u8],
    kind: ImageKind,
    opts: &DecodeOptions,
) -> Result<DecodedImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    // A JPEG is decoded only when complete: cut after its EOI, or EOI appended after a complete
    // scan; truncated and zero-filled files are errors saying which.
    let complete = if kind == ImageKind::Jpeg { Some(catch_panic(|| jpeg_complete::check(bytes))?) } else { None };
    let bytes = complete.as_deref().unwrap_or(bytes);
    let img = match kind {
        ImageKind::Dicom => catch_panic(|| dicom::decode_dicom(bytes, opts))?,
        ImageKind::Jpeg if opts.jpeg_min_side.is_some() => catch_panic(|| {
            match raster::decode_jpeg_reduced(bytes, opts.jpeg_min_side.unwrap_or(0))? {
                Some(img) => Ok(img),
                None => raster::decode_raster(bytes, kind),
            }
        })?,
        ImageKind::Png | ImageKind::Jpeg => catch_panic(|| raster::decode_raster(bytes, kind))?,
    };
    let expected = img.width as usize * img.height as usize;
    if img.width == 0 || img.height == 0 || img.pixels.len() != expected {
        return Err(DecodeError::BadDimensions {
            width: img.width,
            height: img.height,
            samples: img.pixels.len(),
        });
    }
    Ok(img)
}

/// Run `f`, turning a panic inside it into [`DecodeError::DecoderPanic`].
fn catch_panic<T>(f: impl FnOnce() -> Result<T, DecodeError>) -> Result<T, DecodeError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let message = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "non-string panic payload".to_string()
            };
            Err(DecodeError::DecoderPanic { message })
        }
    }
}
