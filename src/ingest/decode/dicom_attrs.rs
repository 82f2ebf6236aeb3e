//! The DICOM attributes that say what the pixel samples mean, read into plain values.
//!
//! * Image Pixel module (PS3.3 C.7.6.3): size, samples per pixel, bits, sign, photometric
//!   interpretation, planar configuration.
//! * Modality LUT module (PS3.3 C.11.1): a Modality LUT Sequence (0028,3000) *or* Rescale
//!   Slope/Intercept (0028,1053)/(0028,1052). The standard makes them mutually exclusive; when a
//!   file has both, the LUT wins (as in pydicom's `apply_modality_lut`).
//! * VOI LUT module (PS3.3 C.11.2): VOI LUT Sequence (0028,3010), Window Center/Width
//!   (0028,1050)/(0028,1051) and VOI LUT Function (0028,1056).
//! * Presentation LUT Shape (2050,0020) (PS3.3 C.11.6): `INVERSE` means "display inverted".
//!
//! Window and rescale are also looked up in the first Per-Frame (5200,9230) and then the Shared
//! (5200,9229) Functional Groups (Pixel Value Transformation (0028,9145), Frame VOI LUT
//! (0028,9132)) for enhanced multi-frame objects. A value stored with VR UN (written by a
//! system that did not know the attribute) is read as its dictionary VR, as pydicom does
//! ([`typed`]). Nothing identifying is read.

use super::DecodeError;
use std::borrow::Cow;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, StandardDataDictionary};
use dicom_object::InMemDicomObject;

/// Image Pixel module values (PS3.3 C.7.6.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelModule {
    /// Rows (0028,0010).
    pub rows: u32,
    /// Columns (0028,0011).
    pub cols: u32,
    /// Samples per Pixel (0028,0002): 1 (grey) or 3 (colour).
    pub samples_per_pixel: u16,
    /// Bits Allocated (0028,0100): 1 (bit-packed), 8, 16 or 32.
    pub bits_allocated: u16,
    /// Bits Stored (0028,0101).
    pub bits_stored: u16,
    /// High Bit (0028,0102); BitsStored − 1 when absent.
    pub high_bit: u16,
    /// Pixel Representation (0028,0103) = 1: two's complement samples.
    pub signed: bool,
    /// Photometric Interpretation (0028,0004), trimmed, upper case.
    pub photometric: String,
    /// Planar Configuration (0028,0006): 0 interleaved (R1G1B1R2…), 1 planar (R…G…B…).
    pub planar: u16,
    /// Number of Frames (0028,0008), 1 when absent.
    pub frames: u32,
}

/// A LUT as in PS3.3 C.11.1.1.1 / C.11.2.1.1: `data[x − first]` for `first ≤ x < first + len`,
/// the first entry below that range and the last entry above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Lut {
    /// First input value mapped (LUT Descriptor value 2), in the input's own sign.
    pub first: i32,
    /// Bits per entry (LUT Descriptor value 3): outputs lie in `0 ..= 2^bits − 1`.
    pub bits: u8,
    /// The entries (LUT Data (0028,3006)); never empty.
    pub data: Vec<u16>,
}

impl Lut {
    /// The LUT's output for input `x` (clamped to the first/last entry outside its range).
    pub fn map(&self, x: i64) -> u16 {
        let i = (x - i64::from(self.first)).clamp(0, self.data.len() as i64 - 1);
        self.data[i as usize]
    }

    /// Largest output the descriptor allows, `2^bits − 1`.
    pub fn out_max(&self) -> u32 {
        (1u32 << self.bits) - 1
    }
}

/// The modality transform (PS3.3 C.11.1): stored values → modality values.
#[derive(Debug, Clone, PartialEq)]
pub enum Modality {
    /// `slope · stored + intercept` (identity when the attributes are absent).
    Rescale { slope: f64, intercept: f64 },
    /// Modality LUT Sequence, first item.
    Lut(Lut),
}

/// VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiFunction {
    /// C.11.2.1.2.1 (the default).
    Linear,
    /// C.11.2.1.3.2.
    LinearExact,
    /// C.11.2.1.3.1.
    Sigmoid,
}

/// The VOI transform chosen for `--voi-lut` (the first VOI LUT Sequence item, else the first
/// window), PS3.3 C.11.2.
#[derive(Debug, Clone, PartialEq)]
pub enum Voi {
    /// Window Center/Width with its function.
    Window { center: f64, width: f64, function: VoiFunction },
    /// VOI LUT Sequence, first item.
    Lut(Lut),
}

/// Everything the grey conversion needs besides the samples.
#[derive(Debug, Clone, PartialEq)]
pub struct GreyTransforms {
    pub modality: Modality,
    /// `None` when the file has neither a VOI LUT Sequence nor a window.
    pub voi: Option<Voi>,
    /// Presentation LUT Shape (2050,0020) is `INVERSE`.
    pub presentation_inverse: bool,
}

fn bad(what: &'static str, value: impl Into<String>) -> DecodeError {
    DecodeError::Unsupported { what, value: value.into() }
}

/// The value of `tag` as a primitive value of its VR; a UN value (raw little-endian bytes, PS3.5
/// 6.2.2) is decoded as the standard dictionary's VR for the tag: text VRs as backslash-separated
/// strings, binary VRs as little-endian numbers (pydicom's `convert_raw_data_element`).
pub fn typed(obj: &InMemDicomObject, tag: Tag) -> Option<Cow<'_, PrimitiveValue>> {
    let e = obj.get(tag)?;
    let v = e.value().primitive()?;
    if e.vr() != VR::UN {
        return Some(Cow::Borrowed(v));
    }
    let bytes = v.to_bytes();
    let VirtualVr::Exact(vr) = StandardDataDictionary.by_tag(tag)?.vr() else {
        return Some(Cow::Borrowed(v));
    };
    let le = |n: usize| bytes.chunks_exact(n).map(|c| c.to_vec()).collect::<Vec<_>>();
    Some(Cow::Owned(match vr {
        VR::US => PrimitiveValue::U16(le(2).iter().map(|c| u16::from_le_bytes([c[0], c[1]])).collect()),
        VR::SS => PrimitiveValue::I16(le(2).iter().map(|c| i16::from_le_bytes([c[0], c[1]])).collect()),
        VR::UL => PrimitiveValue::U32(le(4).iter().map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        VR::SL => PrimitiveValue::I32(le(4).iter().map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        VR::FL => PrimitiveValue::F32(le(4).iter().map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        VR::FD => PrimitiveValue::F64(le(8).iter().map(|c| f64::from_le_bytes(c[..8].try_into().unwrap_or([0; 8]))).collect()),
        VR::DS | VR::IS | VR::CS | VR::LO | VR::SH | VR::UI | VR::ST | VR::LT | VR::UT | VR::AS | VR::DA | VR::TM | VR::DT => {
            let text = String::from_utf8_lossy(&bytes);
            PrimitiveValue::Strs(text.split('\\').map(|t| t.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string()).collect())
        }
        _ => return Some(Cow::Borrowed(v)),
    }))
}

fn int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    typed(obj, tag).and_then(|v| v.to_int::<i64>().ok())
}

/// The first value of `tag` as a real number.
fn real(obj: &InMemDicomObject, tag: Tag) -> Option<f64> {
    typed(obj, tag).and_then(|v| v.to_multi_float64().ok()?.first().copied())
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    typed(obj, tag)
        .map(|v| v.to_str().into_owned())
        .map(|s| s.trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_ascii_uppercase())
}

/// The first item of sequence `tag`, if any.
fn first_item(obj: &InMemDicomObject, tag: Tag) -> Option<&InMemDicomObject> {
    obj.get(tag).and_then(|e| e.items()).and_then(|i| i.first())
}

/// `obj` itself, then the first per-frame functional group item's `group` item, then the
/// shared functional group's (PS3.3 C.7.6.16).
fn places(obj: &InMemDicomObject, group: Tag) -> Vec<&InMemDicomObject> {
    let mut v = vec![obj];
    for fg in [tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE] {
        if let Some(item) = first_item(obj, fg).and_then(|f| first_item(f, group)) {
            v.push(item);
        }
    }
    v
}

/// Reads the Image Pixel module. Errors name the attribute that is missing or out of range.
pub fn pixel_module(obj: &InMemDicomObject) -> Result<PixelModule, DecodeError> {
    let req = |tag: Tag, what: &'static str| int(obj, tag).ok_or_else(|| bad(what, "missing or not a number"));
    let rows = req(tags::ROWS, "Rows")?;
    let cols = req(tags::COLUMNS, "Columns")?;
    let bits_allocated = req(tags::BITS_ALLOCATED, "BitsAllocated")?;
    let bits_stored = int(obj, tags::BITS_STORED).unwrap_or(bits_allocated);
    let samples_per_pixel = int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if !(1..=65535).contains(&rows) || !(1..=65535).contains(&cols) {
        return Err(bad("Rows/Columns", format!("{rows} x {cols}")));
    }
    if ![1, 8, 16, 32].contains(&bits_allocated) {
        return Err(bad("BitsAllocated", bits_allocated.to_string()));
    }
    if bits_stored < 1 || bits_stored > bits_allocated {
        return Err(bad("BitsStored", bits_stored.to_string()));
    }
    let high_bit = int(obj, tags::HIGH_BIT)
        .filter(|&h| h >= bits_stored - 1 && h < bits_allocated)
        .unwrap_or(bits_stored - 1);
    let signed = match int(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) {
        0 => false,
        1 => true,
        v => return Err(bad("PixelRepresentation", v.to_string())),
    };
    let photometric = text(obj, tags::PHOTOMETRIC_INTERPRETATION)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("PhotometricInterpretation", "missing"))?;
    let planar = match int(obj, tags::PLANAR_CONFIGURATION).unwrap_or(0) {
        p @ (0 | 1) => p as u16,
        p => return Err(bad("PlanarConfiguration", p.to_string())),
    };
    let frames = text(obj, tags::NUMBER_OF_FRAMES)
        .and_then(|s| s.parse::<u32>().ok())
        .or_else(|| int(obj, tags::NUMBER_OF_FRAMES).and_then(|v| u32::try_from(v).ok()))
        .unwrap_or(1)
        .max(1);
    Ok(PixelModule {
        rows: rows as u32,
        cols: cols as u32,
        samples_per_pixel: u16::try_from(samples_per_pixel)
            .map_err(|_| bad("SamplesPerPixel", samples_per_pixel.to_string()))?,
        bits_allocated: bits_allocated as u16,
        bits_stored: bits_stored as u16,
        high_bit: high_bit as u16,
        signed,
        photometric,
        planar,
        frames,
    })
}

/// All values of a LUT Data / LUT Descriptor element as unsigned 16-bit words. OW values may
/// come as bytes (little endian pairs) or words; US/SS as numbers.
fn words(obj: &InMemDicomObject, tag: Tag) -> Option<Vec<u16>> {
    let e = obj.get(tag)?;
    match e.value().primitive()? {
        PrimitiveValue::U16(v) => Some(v.to_vec()),
        PrimitiveValue::I16(v) => Some(v.iter().map(|&x| x as u16).collect()),
        PrimitiveValue::U8(v) => Some(v.chunks_exact(2).map(|p| u16::from_le_bytes([p[0], p[1]])).collect()),
        other => other.to_multi_int::<i64>().ok().map(|v| v.iter().map(|&x| x as u16).collect()),
    }
}

/// Parses one LUT item (PS3.3 C.11.1.1.1): LUT Descriptor `[entries (0 = 65536), first mapped
/// value, bits per entry]` and LUT Data. `signed_input`: the first mapped value is read as
/// two's complement when the LUT's input can be negative (the descriptor is then SS, or US
/// holding the SS bit pattern).
fn parse_lut(item: &InMemDicomObject, what: &'static str, signed_input: bool) -> Result<Lut, DecodeError> {
    let desc = words(item, tags::LUT_DESCRIPTOR).ok_or_else(|| bad(what, "LUT Descriptor missing"))?;
    let [n, first, bits] = desc[..] else {
        return Err(bad(what, format!("LUT Descriptor with {} values", desc.len())));
    };
    let n = if n == 0 { 65536 } else { usize::from(n) };
    let first = if signed_input { i32::from(first as i16) } else { i32::from(first) };
    if !(1..=16).contains(&bits) {
        return Err(bad(what, format!("LUT Descriptor bits per entry {bits}")));
    }
    let mut data = words(item, tags::LUT_DATA).ok_or_else(|| bad(what, "LUT Data missing"))?;
    // 8-bit entries packed two per 16-bit word (PS3.3 C.11.1.1.1, OW with bits ≤ 8).
    if bits <= 8 && data.len() * 2 == n + (n % 2) && data.len() != n {
        data = data.iter().flat_map(|w| [w & 0xFF, w >> 8]).take(n).collect();
    }
    if data.len() != n {
        return Err(bad(what, format!("LUT Data has {} entries, descriptor says {n}", data.len())));
    }
    let max = (1u32 << bits) - 1;
    if let Some(v) = data.iter().find(|&&v| u32::from(v) > max) {
        return Err(bad(what, format!("LUT entry {v} exceeds {bits} bits")));
    }
    Ok(Lut { first, bits: bits as u8, data })
}

/// Reads the modality transform, VOI transform and presentation shape of a grey image.
/// `signed`: Pixel Representation is two's complement (the modality LUT's input sign).
/// `want_voi`: read the VOI attributes (only under `--voi-lut`, so that a malformed window
/// never costs a row that does not use it).
pub fn grey_transforms(obj: &InMemDicomObject, signed: bool, want_voi: bool) -> Result<GreyTransforms, DecodeError> {
    let modality = if let Some(item) = first_item(obj, tags::MODALITY_LUT_SEQUENCE) {
        Modality::Lut(parse_lut(item, "Modality LUT Sequence", signed)?)
    } else {
        let pvt = places(obj, tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE);
        let get = |tag: Tag| pvt.iter().find_map(|o| real(o, tag));
        let slope = get(tags::RESCALE_SLOPE).unwrap_or(1.0);
        let intercept = get(tags::RESCALE_INTERCEPT).unwrap_or(0.0);
        if !slope.is_finite() || !intercept.is_finite() || slope == 0.0 {
            return Err(bad("Rescale Slope/Intercept", format!("{slope} / {intercept}")));
        }
        Modality::Rescale { slope, intercept }
    };
    // The VOI LUT's input is the modality output: signed when it can be negative.
    let voi_signed = match &modality {
        Modality::Lut(_) => false,
        Modality::Rescale { intercept, .. } => signed || *intercept < 0.0,
    };
    let voi = if !want_voi {
        None
    } else if let Some(item) = first_item(obj, tags::VOILUT_SEQUENCE) {
        Some(Voi::Lut(parse_lut(item, "VOI LUT Sequence", voi_signed)?))
    } else {
        let voi_places = places(obj, tags::FRAME_VOILUT_SEQUENCE);
        let first_f = |tag: Tag| voi_places.iter().find_map(|o| real(o, tag));
        match (first_f(tags::WINDOW_CENTER), first_f(tags::WINDOW_WIDTH)) {
            (Some(center), Some(width)) => {
                let function = match voi_places.iter().find_map(|o| text(o, tags::VOILUT_FUNCTION)).as_deref() {
                    None | Some("") | Some("LINEAR") => VoiFunction::Linear,
                    Some("LINEAR_EXACT") => VoiFunction::LinearExact,
                    Some("SIGMOID") => VoiFunction::Sigmoid,
                    Some(other) => return Err(bad("VOI LUT Function", other)),
                };
                Some(Voi::Window { center, width, function })
            }
            _ => None,
        }
    };
    let presentation_inverse = text(obj, tags::PRESENTATION_LUT_SHAPE).as_deref() == Some("INVERSE");
    Ok(GreyTransforms { modality, voi, presentation_inverse })
}
