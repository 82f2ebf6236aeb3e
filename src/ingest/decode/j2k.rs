//! JPEG 2000 in DICOM (PS3.5 A.4.4 and A.4.11: transfer syntaxes 1.2.840.10008.1.2.4.90/.91
//! and HTJ2K .201/.202/.203): the first frame's code stream is decoded here with OpenJPEG (the
//! `jpeg2k` wrapper over the pure-Rust `openjp2` port, or C OpenJPEG with the `j2k-c` feature)
//! and handed back to [`super::dicom`] as a native (Explicit VR Little Endian) one-frame data set,
//! so the modality LUT, VOI LUT and MONOCHROME1 handling are the same as for every other
//! encoding.
//!
//! What this adds over a plain full decode:
//!
//! * **Reduced resolution.** With [`DecodeOptions::j2k_min_side`] (the ingest passes its output
//!   size), only the wavelet resolution levels whose image still covers that size on both sides
//!   are decoded: OpenJPEG's reduce factor `r` (`cp_reduce`), the largest `r` not above the
//!   code stream's decomposition levels (COD/COC, ISO/IEC 15444-1 A.6.1–A.6.2) with
//!   `ceil(x1 / 2^r) − ceil(x0 / 2^r) >= min_side` for both axes (B.5, eq. B-15). The samples are
//!   then the LL band of level `r`, a low-pass (anti-aliased) image in the same value range;
//!   it equals OpenJPEG's own reduced decode (`opj_decompress -r r`), not the full decode.
//!   Lossless bit-exactness is a promise of the full-resolution path (`j2k_min_side: None`,
//!   the ingest's default) only; the reduced one is the opt-in `--fast-j2k`.
//! * **Code-stream precision.** When the SIZ precision (Ssiz, A.5.1) differs from Bits Stored
//!   (0028,0101), the code stream's precision is used, as pydicom 3 does: values are never
//!   masked to Bits Stored, and Bits Stored/High Bit of the native data set become the
//!   precision (so the MONOCHROME1 inversion uses the real range). When the code stream's
//!   signedness differs from Pixel Representation (0028,0103), the samples are reinterpreted
//!   as `precision`-bit two's complement values the way pydicom 3 does (`_apply_sign_correction`).
//!   Both come back as a note on the image.
//! * **Colour code streams** (three components: YBR_RCT, YBR_ICT or RGB, PS3.3 C.7.6.3.1.2):
//!   OpenJPEG applies the inverse multiple-component transform (RCT/ICT) itself; the RGB result
//!   becomes its ITU-R BT.601 luminance with OpenCV's `BGR2GRAY` fixed-point weights
//!   `(4899 R + 9617 G + 1868 B + 2^13) >> 14` (the weights of [`super::raster`]), so
//!   `R = G = B` gives exactly the grey. The image is flagged [`Photometric::ColorToLuma`].
//!
//! Errors: a missing or empty first frame, a code stream without SIZ, a precision above 16
//! bits, two components, or subsampled components are [`DecodeError::Unsupported`] /
//! [`DecodeError::Dicom`]; OpenJPEG failures are [`DecodeError::Dicom`] with stage
//! "decode JPEG 2000". Nothing identifying is read.

use super::{DecodeError, DecodeOptions, DecodedImage, Photometric};
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;

/// The JPEG 2000 transfer syntaxes routed here (PS3.5 Table A-1 / PS3.6 Table A-1).
pub const TRANSFER_SYNTAXES: [&str; 5] = [
    "1.2.840.10008.1.2.4.90",  // JPEG 2000 Image Compression (Lossless Only)
    "1.2.840.10008.1.2.4.91",  // JPEG 2000 Image Compression
    "1.2.840.10008.1.2.4.201", // HTJ2K (Lossless Only)
    "1.2.840.10008.1.2.4.202", // HTJ2K with RPCL Options (Lossless Only)
    "1.2.840.10008.1.2.4.203", // HTJ2K
];

/// OpenCV `BGR2GRAY` fixed-point weights for R, G, B (sum 2^14), as in [`super::raster`].
const LUMA: [i64; 3] = [4899, 9617, 1868];
const LUMA_SHIFT: u32 = 14;

/// True for a JPEG 2000 / HTJ2K transfer syntax UID (trailing NUL/space ignored).
pub fn is_j2k(uid: &str) -> bool {
    TRANSFER_SYNTAXES.contains(&uid.trim_end_matches(['\0', ' ']))
}

/// What the JPEG 2000 step did that the generic conversion cannot know; applied to the
/// converted image by [`J2kOutcome::apply`]. The default (nothing done) is a no-op.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct J2kOutcome {
    /// Notes for the ingest summary (precision/sign differences).
    pub notes: Vec<String>,
    /// Three components were reduced to luminance.
    pub colour: bool,
    /// The reduce factor used (0 = full resolution).
    pub reduce: u32,
}

impl J2kOutcome {
    /// Record the notes and the colour-to-grey reduction on the converted image.
    pub fn apply(self, img: &mut DecodedImage) {
        if self.colour {
            img.photometric = Photometric::ColorToLuma;
        }
        img.notes.extend(self.notes);
    }
}

/// What the main header of a code stream says (ISO/IEC 15444-1 A.5.1 SIZ, A.6.1 COD,
/// A.6.2 COC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodestreamInfo {
    /// Image area on the reference grid, `[x0, x1) × [y0, y1)`.
    pub x0: u32,
    pub x1: u32,
    pub y0: u32,
    pub y1: u32,
    /// Per component: (precision in bits, signed).
    pub components: Vec<(u8, bool)>,
    /// Smallest number of wavelet decomposition levels over COD and every COC; 0 if absent.
    pub levels: u8,
    /// COD multiple-component transform flag (SGcod).
    pub mct: bool,
}

fn bad(msg: impl Into<String>) -> DecodeError {
    DecodeError::Dicom {
        stage: "read JPEG 2000 header",
        source: msg.into().into(),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?)))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The raw code stream inside `data`: `data` itself when it starts with SOC (FF4F), or the
/// contents of the `jp2c` box when it is a JP2 file (ISO/IEC 15444-1 I.5.4, some writers put
/// JP2 files into DICOM).
pub fn codestream(data: &[u8]) -> Result<&[u8], DecodeError> {
    if data.starts_with(&[0xFF, 0x4F]) {
        return Ok(data);
    }
    if data.get(4..8) == Some(b"jP  ") {
        let mut at = 0usize;
        while at + 8 <= data.len() {
            let lbox = be32(data, at).unwrap_or(0) as u64;
            let tbox = &data[at + 4..at + 8];
            let (header, len) = match lbox {
                0 => (8u64, (data.len() - at) as u64),
                1 => {
                    let hi = u64::from(be32(data, at + 8).ok_or_else(|| bad("truncated JP2 box"))?);
                    let lo = u64::from(be32(data, at + 12).ok_or_else(|| bad("truncated JP2 box"))?);
                    (16, (hi << 32) | lo)
                }
                n => (8, n),
            };
            if len < header {
                return Err(bad("bad JP2 box length"));
            }
            let start = at + header as usize;
            let end = (at as u64 + len).min(data.len() as u64) as usize;
            if tbox == b"jp2c" {
                return data.get(start..end).ok_or_else(|| bad("truncated jp2c box"));
            }
            at = end;
        }
        return Err(bad("JP2 file without a jp2c code-stream box"));
    }
    Err(bad("no JPEG 2000 SOC marker at the start of the frame"))
}

/// Parse SIZ, COD and COC of a code stream's main header (up to the first SOT).
pub fn parse_header(cs: &[u8]) -> Result<CodestreamInfo, DecodeError> {
    if !cs.starts_with(&[0xFF, 0x4F]) {
        return Err(bad("no SOC marker"));
    }
    let trunc = || bad("truncated main header");
    let mut at = 2usize;
    let mut info: Option<CodestreamInfo> = None;
    let mut cod_levels: Option<u8> = None;
    let mut coc_min: Option<u8> = None;
    let mut mct = false;
    loop {
        let marker = be16(cs, at).ok_or_else(trunc)?;
        if marker == 0xFF90 || marker == 0xFF93 || marker == 0xFFD9 {
            break; // SOT / SOD / EOC: end of the main header
        }
        if marker >> 8 != 0xFF {
            return Err(bad(format!("expected a marker at byte {at}, found {marker:#06x}")));
        }
        let len = be16(cs, at + 2).ok_or_else(trunc)? as usize;
        if len < 2 || at + 2 + len > cs.len() {
            return Err(trunc());
        }
        let seg = &cs[at + 4..at + 2 + len];
        match marker {
            0xFF51 => {
                // SIZ: Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz, {Ssiz XRsiz YRsiz}
                let f = |i: usize| be32(seg, 2 + 4 * i).ok_or_else(trunc);
                let (x1, y1, x0, y0) = (f(0)?, f(1)?, f(2)?, f(3)?);
                let csiz = be16(seg, 34).ok_or_else(trunc)? as usize;
                let mut components = Vec::with_capacity(csiz);
                for c in 0..csiz {
                    let ssiz = *seg.get(36 + 3 * c).ok_or_else(trunc)?;
                    let (dx, dy) = (*seg.get(37 + 3 * c).ok_or_else(trunc)?, *seg.get(38 + 3 * c).ok_or_else(trunc)?);
                    if dx != 1 || dy != 1 {
                        return Err(DecodeError::Unsupported {
                            what: "JPEG 2000 component subsampling",
                            value: format!("component {c}: {dx}x{dy}"),
                        });
                    }
                    components.push(((ssiz & 0x7F) + 1, ssiz & 0x80 != 0));
                }
                if x1 <= x0 || y1 <= y0 || components.is_empty() {
                    return Err(bad("empty image in SIZ"));
                }
                info = Some(CodestreamInfo { x0, x1, y0, y1, components, levels: 0, mct: false });
            }
            0xFF52 => {
                // COD: Scod, SGcod (progression, layers(2), MCT), SPcod (levels, ...)
                mct = *seg.get(4).ok_or_else(trunc)? != 0;
                cod_levels = Some(*seg.get(5).ok_or_else(trunc)?);
            }
            0xFF53 => {
                // COC: Ccoc (1 byte, 2 if Csiz >= 257), Scoc, SPcoc (levels, ...)
                let wide = info.as_ref().is_some_and(|i| i.components.len() >= 257);
                let l = *seg.get(if wide { 3 } else { 2 }).ok_or_else(trunc)?;
                coc_min = Some(coc_min.map_or(l, |m| m.min(l)));
            }
            _ => {}
        }
        at += 2 + len;
    }
    let mut info = info.ok_or_else(|| bad("no SIZ marker"))?;
    let cod = cod_levels.ok_or_else(|| bad("no COD marker"))?;
    info.levels = coc_min.map_or(cod, |c| c.min(cod));
    info.mct = mct;
    Ok(info)
}

/// Side length of `[a0, a1)` at reduce factor `r` (ISO/IEC 15444-1 eq. B-15).
fn reduced_len(a0: u32, a1: u32, r: u32) -> u32 {
    let d = 1u64 << r;
    (u64::from(a1).div_ceil(d) - u64::from(a0).div_ceil(d)) as u32
}

/// The largest reduce factor `r <= levels` whose image keeps both sides `>= min_side`
/// (0 when even one halving would go below it).
pub fn reduce_factor(info: &CodestreamInfo, min_side: u32) -> u32 {
    let mut r = 0u32;
    while r < u32::from(info.levels)
        && r < 31
        && reduced_len(info.x0, info.x1, r + 1) >= min_side
        && reduced_len(info.y0, info.y1, r + 1) >= min_side
    {
        r += 1;
    }
    r
}

/// The first frame's encoded bytes: all fragments for one frame; otherwise the Basic Offset
/// Table's first frame, one fragment per frame, or the fragments up to the first one that
/// ends with EOC (FFD9, possibly followed by one padding byte).
fn first_frame(obj: &DefaultDicomObject, frames: u32) -> Result<Vec<u8>, DecodeError> {
    let elem = obj.get(tags::PIXEL_DATA).ok_or(DecodeError::NoPixelData)?;
    let Value::PixelSequence(seq) = elem.value() else {
        return Err(bad("JPEG 2000 transfer syntax with native (not encapsulated) Pixel Data"));
    };
    let frags = seq.fragments();
    if frags.is_empty() {
        return Err(bad("encapsulated Pixel Data without fragments"));
    }
    let take: usize = if frames <= 1 {
        frags.len()
    } else if let [0, next, ..] = seq.offset_table() {
        // Fragments (8-byte item header each) before the second frame's offset.
        let mut off = 0u64;
        frags.iter().take_while(|f| {
            let inside = off < u64::from(*next);
            off += f.len() as u64 + 8;
            inside
        })
        .count()
    } else if frags.len() == frames as usize {
        1
    } else {
        let ends = |f: &[u8]| f.ends_with(&[0xFF, 0xD9]) || f.ends_with(&[0xFF, 0xD9, 0]);
        frags.iter().position(|f| ends(f)).map_or(frags.len(), |i| i + 1)
    };
    let out: Vec<u8> = frags[..take.max(1)].iter().flat_map(|f| f.iter().copied()).collect();
    if out.is_empty() {
        return Err(bad("empty first frame"));
    }
    Ok(out)
}

fn uint(obj: &DefaultDicomObject, tag: dicom_core::Tag) -> Option<u16> {
    obj.get(tag).and_then(|e| e.to_int::<u16>().ok())
}

/// [`to_native`] for a JPEG 2000 transfer syntax `uid`; any other object comes back unchanged
/// with a no-op outcome.
pub fn route(
    obj: DefaultDicomObject,
    uid: &str,
    frames: u32,
    opts: &DecodeOptions,
) -> Result<(DefaultDicomObject, J2kOutcome), DecodeError> {
    if is_j2k(uid) { to_native(obj, frames, opts) } else { Ok((obj, J2kOutcome::default())) }
}

/// Decode the first frame of a JPEG 2000 DICOM object and return the object rewritten as a
/// native one-frame data set (Explicit VR LE; Rows/Columns of the decoded, possibly reduced,
/// image; Bits Stored = High Bit + 1 = code-stream precision; one sample per pixel), plus what
/// was done. `frames` is the object's Number of Frames.
pub fn to_native(
    mut obj: DefaultDicomObject,
    frames: u32,
    opts: &DecodeOptions,
) -> Result<(DefaultDicomObject, J2kOutcome), DecodeError> {
    let frame = first_frame(&obj, frames)?;
    let cs = codestream(&frame)?;
    let info = parse_header(cs)?;
    let mut out = J2kOutcome::default();

    let (prec, signed) = info.components[0];
    if info.components.iter().any(|&c| c != (prec, signed)) {
        return Err(DecodeError::Unsupported {
            what: "JPEG 2000 components of different precision/sign",
            value: format!("{:?}", info.components),
        });
    }
    if prec > 16 {
        return Err(DecodeError::Unsupported { what: "JPEG 2000 precision", value: format!("{prec} bits (at most 16)") });
    }
    let ncomp = info.components.len();
    if ncomp == 2 || ncomp > 4 {
        return Err(DecodeError::Unsupported { what: "JPEG 2000 component count", value: ncomp.to_string() });
    }

    let reduce = opts.j2k_min_side.map_or(0, |m| reduce_factor(&info, m));
    let decode = |r: u32| {
        jpeg2k::Image::from_bytes_with(cs, jpeg2k::DecodeParameters::new().reduce(r)).map_err(|e| DecodeError::Dicom {
            stage: "decode JPEG 2000",
            source: Box::new(e),
        })
    };
    // A tile-part header may lower the decomposition levels below the main header's; then the
    // reduced decode fails and the full one is the answer.
    let (image, reduce) = match decode(reduce) {
        Ok(img) => (img, reduce),
        Err(_) if reduce > 0 => (decode(0)?, 0),
        Err(e) => return Err(e),
    };
    out.reduce = reduce;
    let comps = image.components();
    if comps.len() != ncomp {
        return Err(bad(format!("decoder returned {} components, SIZ says {ncomp}", comps.len())));
    }
    let (w, h) = (comps[0].width(), comps[0].height());
    let n = w as usize * h as usize;
    if w == 0 || h == 0 || w > u32::from(u16::MAX) || h > u32::from(u16::MAX) {
        return Err(DecodeError::BadDimensions { width: w, height: h, samples: n });
    }
    if comps.iter().any(|c| c.width() != w || c.height() != h || c.data().len() != n) {
        return Err(bad("decoded components differ in size"));
    }

    // Size and components: the code stream's (what OpenJPEG decoded), noted when the data set
    // says otherwise.
    let (ds_rows, ds_cols) = (uint(&obj, tags::ROWS), uint(&obj, tags::COLUMNS));
    if reduce == 0 && (ds_cols != Some(w as u16) || ds_rows != Some(h as u16)) {
        out.notes.push(format!(
            "JPEG 2000 code stream is {w}x{h}, Rows/Columns say {}x{}: the code stream's size is used",
            ds_cols.map_or("?".into(), |c| c.to_string()),
            ds_rows.map_or("?".into(), |r| r.to_string())
        ));
    }
    let ds_spp = uint(&obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if usize::from(ds_spp) != ncomp {
        out.notes.push(format!("JPEG 2000 code stream has {ncomp} component(s), Samples per Pixel says {ds_spp}: the code stream's are used"));
    }

    // Precision and sign: the code stream's, as pydicom 3.
    let ds_bits = uint(&obj, tags::BITS_STORED);
    let ds_signed = uint(&obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    if ds_bits != Some(u16::from(prec)) {
        out.notes.push(format!(
            "JPEG 2000 code-stream precision {prec} differs from Bits Stored {}: decoded with the code stream's precision (as pydicom 3), values not masked",
            ds_bits.map_or("(absent)".to_string(), |b| b.to_string())
        ));
    }
    let sign_fix = signed != ds_signed && ncomp == 1;
    if sign_fix {
        out.notes.push(format!(
            "JPEG 2000 code stream is {} but Pixel Representation says {}: samples reinterpreted as {prec}-bit {} values (as pydicom 3)",
            if signed { "signed" } else { "unsigned" },
            if ds_signed { "signed" } else { "unsigned" },
            if ds_signed { "signed" } else { "unsigned" },
        ));
    }
    let out_signed = if ncomp == 1 { ds_signed } else { signed };
    let reinterpret = |v: i32| -> i32 {
        if !sign_fix {
            return v;
        }
        let m = 1i64 << prec;
        let u = i64::from(v).rem_euclid(m); // the P-bit pattern
        if out_signed && u >= m / 2 { (u - m) as i32 } else { u as i32 }
    };

    let samples: Vec<i32> = if ncomp >= 3 {
        out.colour = true;
        let (r, g, b) = (comps[0].data(), comps[1].data(), comps[2].data());
        (0..n)
            .map(|i| {
                let y = LUMA[0] * i64::from(r[i]) + LUMA[1] * i64::from(g[i]) + LUMA[2] * i64::from(b[i]);
                ((y + (1 << (LUMA_SHIFT - 1))) >> LUMA_SHIFT) as i32
            })
            .collect()
    } else {
        comps[0].data().iter().map(|&v| reinterpret(v)).collect()
    };

    // Range check: every sample must fit the declared precision and sign (never mask).
    let (lo, hi) = if out_signed { (-(1i64 << (prec - 1)), (1i64 << (prec - 1)) - 1) } else { (0, (1i64 << prec) - 1) };
    if let Some(v) = samples.iter().find(|&&v| i64::from(v) < lo || i64::from(v) > hi) {
        return Err(bad(format!("decoded sample {v} outside the {prec}-bit range")));
    }

    let ds_alloc = uint(&obj, tags::BITS_ALLOCATED).unwrap_or(16);
    let alloc: u16 = if prec <= 8 && ds_alloc == 8 { 8 } else { 16 };
    let pixel_value = if alloc == 8 {
        PrimitiveValue::U8(samples.iter().map(|&v| v as u8).collect())
    } else {
        PrimitiveValue::U16(samples.iter().map(|&v| v as u16).collect())
    };

    obj.update_meta(|m| m.set_transfer_syntax(&EXPLICIT_VR_LITTLE_ENDIAN));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    obj.put(us(tags::ROWS, h as u16));
    obj.put(us(tags::COLUMNS, w as u16));
    obj.put(us(tags::SAMPLES_PER_PIXEL, 1));
    obj.put(us(tags::BITS_ALLOCATED, alloc));
    obj.put(us(tags::BITS_STORED, u16::from(prec)));
    obj.put(us(tags::HIGH_BIT, u16::from(prec) - 1));
    obj.put(us(tags::PIXEL_REPRESENTATION, u16::from(out_signed)));
    obj.remove_element(tags::PLANAR_CONFIGURATION);
    obj.remove_element(tags::NUMBER_OF_FRAMES);
    if out.colour {
        obj.put(DataElement::new(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, PrimitiveValue::from("MONOCHROME2")));
    }
    obj.put(DataElement::new(tags::PIXEL_DATA, if alloc == 8 { VR::OB } else { VR::OW }, pixel_value));
    Ok((obj, out))
}
