//! DICOM decoding: first frame → one grey channel in MONOCHROME2 sense.
//!
//! Order of operations:
//! 1. parse the file meta group and check that a decoder exists for the transfer syntax
//!    ([`DecodeError::UnsupportedTransferSyntax`] otherwise, e.g. JPEG-LS without `jpegls`);
//! 2. parse the data set, require (7FE0,0010) Pixel Data ([`DecodeError::NoPixelData`]);
//!    read the Image Pixel module ([`super::dicom_attrs`]);
//! 3. decode the first frame's sample cells ([`first_frame`]): JPEG lossless (.57/.70) with
//!    our own process-14 decoder ([`super::jpeg_lossless`], restart intervals handled), 12-bit
//!    JPEG Extended (.51) with [`super::jpeg12`], 8-bit JPEG baseline/extended with
//!    [`super::dicom_jpeg`], native cells straight from the element, everything else with
//!    dicom-pixeldata's codecs (RLE, JPEG-LS through CharLS); only the cells are taken from
//!    it, every LUT is applied here. The code stream is read first: its size, precision and
//!    components size the decoded cells, a data set that disagrees is reconciled with a note
//!    on the image or rejected naming the disagreement, and a decoded buffer whose length is
//!    not what the code stream promises is rejected, never reinterpreted;
//! 4. grey images: stored values → modality LUT / rescale → VOI (only with
//!    [`DecodeOptions::voi_lut`]) → MONOCHROME1 / Presentation LUT Shape INVERSE inversion →
//!    sample type chosen from the values alone ([`super::dicom_grey`]); colour images: their
//!    luminance ([`super::dicom_colour`]).
//!
//! The study itself read `pixel_array` (stored values, no rescale); for CXR DICOMs the rescale is
//! identity or a positive linear map, which per-image min–max removes, so applying it changes
//! nothing for the study pipeline and is right for signed data and modality LUTs. The study
//! inverts MONOCHROME1 after its 8-bit conversion (`np.invert`), which equals `255 − x` on the
//! min–max result: the same image as inverting before.
//!
//! Only technical attributes are read (transfer syntax, image pixel module, LUTs); nothing
//! identifying is read or returned.

use super::dicom_attrs::{self, PixelModule};
use super::dicom_grey::{self, Samples};
use super::{dicom_colour, dicom_jpeg, dicom_lengths, dicom_un, jpeg12, jpeg_lossless, jpegls, rle, DecodeError, DecodeOptions, DecodedImage, Photometric};
use dicom_core::PrimitiveValue;
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTable;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// JPEG Lossless, Non-Hierarchical (Process 14).
pub const TS_JPEG_LOSSLESS: &str = "1.2.840.10008.1.2.4.57";
/// JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, Selection Value 1).
pub const TS_JPEG_LOSSLESS_SV1: &str = "1.2.840.10008.1.2.4.70";
/// JPEG Extended (Process 2 & 4): 12-bit DCT.
pub const TS_JPEG_EXTENDED: &str = "1.2.840.10008.1.2.4.51";
/// JPEG Baseline (Process 1): 8-bit DCT.
pub const TS_JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";
/// JPEG-LS Lossless and Near-Lossless.
pub const JPEG_LS: [&str; 2] = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"];
/// RLE Lossless.
pub const TS_RLE: &str = "1.2.840.10008.1.2.5";
/// Explicit VR Little Endian (what a decoded JPEG 2000 frame continues as).
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// Note recorded on images read from a data set without File Meta Information.
pub const NOTE_NO_FILE_META: &str =
    "DICOM data set without preamble, 'DICM' and File Meta Information (older tools write these): read as DCMTK and pydicom `force` do, transfer syntax inferred from the first element";

/// Note recorded on images whose data set holds a UN sequence (PS3.5 6.2.2, CP-246).
pub const NOTE_UN_SEQUENCE: &str =
    "DICOM data set with a sequence stored as UN (undefined length or a dictionary sequence; PS3.5 CP-246): its items read as Implicit VR Little Endian, as pydicom, GDCM and DCMTK do";

/// Note recorded on images whose implicit-VR data set has text where the dictionary says SQ.
pub const NOTE_TEXT_IN_SEQUENCE: &str =
    "DICOM implicit-VR data set with text in a sequence attribute the decoder does not use (e.g. an anonymiser's name in (0012,0064)): that attribute skipped, as pydicom and GDCM read the file";

/// Note recorded on images whose data set is Implicit VR under an Explicit VR transfer syntax.
pub const NOTE_IMPLICIT_UNDER_EXPLICIT: &str =
    "DICOM data set encoded in Implicit VR Little Endian although the File Meta's transfer syntax is explicit VR: read as implicit, as pydicom does";

/// Implicit VR Little Endian.
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";

/// Decode a DICOM Part 10 byte stream (with or without the 128-byte preamble), or a bare data
/// set without File Meta Information ([`raw_dataset_syntax`]), as DCMTK and pydicom (`force`)
/// read them; such images carry [`NOTE_NO_FILE_META`]. What pydicom also reads is read the same
/// way, with a note on the image: sequences stored as UN ([`super::dicom_un`],
/// [`NOTE_UN_SEQUENCE`]) and an implicit-VR data set under an explicit-VR transfer syntax
/// ([`NOTE_IMPLICIT_UNDER_EXPLICIT`]).
pub fn decode_dicom(bytes: &[u8], opts: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    let body = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        &bytes[128..]
    } else {
        bytes
    };
    if !body.starts_with(b"DICM") {
        let Some(uid) = raw_dataset_syntax(bytes) else {
            return Err(DecodeError::Dicom {
                stage: "parse",
                source: "no DICM magic (not a DICOM Part 10 file) and no data set element at the start".into(),
            });
        };
        let (obj, mut notes) = read_bare(bytes, uid, uid, "parse data set without File Meta")?;
        let mut img = decode_object(&obj, uid, opts)?;
        notes.push(NOTE_NO_FILE_META.to_string());
        img.notes.extend(notes);
        return Ok(img);
    }

    // 1. Transfer syntax, from the meta group alone (cheap, and unknown syntaxes fail cleanly).
    bound_lengths(&body[4..], None)?;
    let meta = FileMetaTable::from_reader(body).map_err(|e| DecodeError::Dicom {
        stage: "parse meta",
        source: Box::new(e),
    })?;
    let uid = meta.transfer_syntax().trim_end_matches(['\0', ' ']).to_string();
    match TransferSyntaxRegistry.get(&uid) {
        Some(ts) if ts.can_decode_all() => {}
        // Greyscale JPEG-LS: our own decoder (first_frame) when CharLS is not built in.
        Some(_) if JPEG_LS.contains(&uid.as_str()) => {}
        _ => return Err(DecodeError::UnsupportedTransferSyntax { uid }),
    }

    // 2. Data set.
    let enc = dicom_lengths::Encoding::of(&uid);
    let data_set = meta_len(&body[4..]).map(|n| &body[4 + n..]).unwrap_or(&[]);
    let explicit_le = enc.is_some_and(|e| e.explicit_vr && !e.big_endian);
    if explicit_le && data_set.len() >= 8 && !VRS.iter().any(|v| v[..] == data_set[4..6]) {
        let (obj, mut notes) = read_bare(data_set, IMPLICIT_VR_LE, &uid, "parse")?;
        let native = if uid == EXPLICIT_VR_LE { IMPLICIT_VR_LE } else { uid.as_str() };
        let mut img = decode_object(&obj, native, opts)?;
        notes.push(NOTE_IMPLICIT_UNDER_EXPLICIT.to_string());
        img.notes.extend(notes);
        return Ok(img);
    }
    let mut notes = Vec::new();
    let rewritten = match enc {
        Some(e) if e.explicit_vr => match dicom_un::reencode(&body[4..], e.big_endian) {
            Ok(Some(v)) => {
                notes.push(NOTE_UN_SEQUENCE.to_string());
                Some([b"DICM".as_slice(), &v].concat())
            }
            _ => None,
        },
        Some(_) => match dicom_un::drop_text_in_implicit_sequences(data_set) {
            Ok(Some(v)) => {
                notes.push(NOTE_TEXT_IN_SEQUENCE.to_string());
                Some([&body[..body.len() - data_set.len()], &v].concat())
            }
            _ => None,
        },
        None => None,
    };
    let body = rewritten.as_deref().unwrap_or(body);
    if let Some(enc) = enc {
        bound_lengths(&body[4..], Some(enc))?;
    }
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(body)
        .map_err(|e| DecodeError::Dicom { stage: "parse", source: Box::new(e) })?;
    let mut img = decode_object(&obj, &uid, opts)?;
    img.notes.extend(notes);
    Ok(img)
}

/// Bytes of the File Meta group (group 0002, explicit VR little endian) at the start of `b`.
fn meta_len(b: &[u8]) -> Option<usize> {
    let mut i = 0usize;
    while b.get(i..i + 2)? == [0x02, 0x00] {
        let vr = b.get(i + 4..i + 6)?;
        i += if [b"OB", b"OW", b"SQ", b"UN", b"UT", b"UC", b"UR"].iter().any(|v| v[..] == *vr) {
            12 + u32::from_le_bytes(b.get(i + 8..i + 12)?.try_into().ok()?) as usize
        } else {
            8 + usize::from(u16::from_le_bytes(b.get(i + 6..i + 8)?.try_into().ok()?))
        };
    }
    Some(i)
}

/// Parses a data set without File Meta (`bytes` start at its first element) encoded as transfer
/// syntax `uid`, with UN sequences re-encoded for explicit VR (see [`decode_dicom`]); the notes
/// say what was re-encoded. The object's File Meta gets `meta_uid` (what its pixel data is:
/// an encapsulated syntax whose data set was written implicit keeps its codec). `stage` names
/// the step in errors.
fn read_bare(bytes: &[u8], uid: &str, meta_uid: &str, stage: &'static str) -> Result<(DefaultDicomObject, Vec<String>), DecodeError> {
    let ts = TransferSyntaxRegistry.get(uid).ok_or_else(|| DecodeError::UnsupportedTransferSyntax { uid: uid.into() })?;
    let enc = dicom_lengths::Encoding::of(uid);
    let mut notes = Vec::new();
    let rewritten = match enc {
        Some(e) if e.explicit_vr => dicom_un::reencode(bytes, e.big_endian).ok().flatten().inspect(|_| notes.push(NOTE_UN_SEQUENCE.to_string())),
        Some(_) => dicom_un::drop_text_in_implicit_sequences(bytes).ok().flatten().inspect(|_| notes.push(NOTE_TEXT_IN_SEQUENCE.to_string())),
        None => None,
    };
    let bytes = rewritten.as_deref().unwrap_or(bytes);
    bound_lengths(bytes, enc)?;
    let obj = InMemDicomObject::read_dataset_with_ts(bytes, ts)
        .map_err(|e| DecodeError::Dicom { stage, source: Box::new(e) })?
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(meta_uid).media_storage_sop_class_uid("").media_storage_sop_instance_uid(""))
        .map_err(|e| DecodeError::Dicom { stage, source: Box::new(e) })?;
    Ok((obj, notes))
}

/// Fails on a declared element length that runs past the end of `bytes`, before dicom-object
/// would allocate it (see [`dicom_lengths`]).
fn bound_lengths(bytes: &[u8], data_set: Option<dicom_lengths::Encoding>) -> Result<(), DecodeError> {
    dicom_lengths::check_lengths(bytes, data_set)
        .map_err(|e| DecodeError::Dicom { stage: "parse", source: format!("damaged element header: {e}").into() })
}

/// Value representations of PS3.5 Table 6.2-1 (to tell explicit from implicit VR).
const VRS: [&[u8; 2]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF", b"OL", b"OV",
    b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];

/// The transfer syntax of a bare data set (no preamble, no 'DICM', no File Meta), inferred as
/// DCMTK does from its first element: a little-endian tag of group 0008 (Identifying, where
/// every image data set starts: Specific Character Set, Image Type, SOP Class…), then a
/// known VR (Explicit VR Little Endian) or a 32-bit length (Implicit VR Little Endian, what old
/// tools wrote). `None` when the bytes do not start like a data set.
pub fn raw_dataset_syntax(b: &[u8]) -> Option<&'static str> {
    if b.len() < 8 || b[0] != 0x08 || b[1] != 0x00 {
        return None;
    }
    let vr = [b[4], b[5]];
    if VRS.iter().any(|v| **v == vr) {
        Some("1.2.840.10008.1.2.1")
    } else {
        let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        (len == 0xFFFF_FFFF || (len as usize) < b.len()).then_some("1.2.840.10008.1.2")
    }
}

/// Steps 2–4 on a parsed object whose transfer syntax is `uid`.
fn decode_object(obj: &DefaultDicomObject, uid: &str, opts: &DecodeOptions) -> Result<DecodedImage, DecodeError> {
    if obj.get(tags::PIXEL_DATA).is_none() {
        return Err(DecodeError::NoPixelData);
    }
    // JPEG 2000: the first frame is decoded in j2k.rs (reduced resolution, code-stream
    // precision, colour -> grey) into a native one-frame data set, which continues here.
    #[cfg(any(feature = "j2k-rust", feature = "j2k-c"))]
    if super::j2k::is_j2k(uid) {
        let frames = obj.get(tags::NUMBER_OF_FRAMES).and_then(|e| e.to_int::<u32>().ok()).unwrap_or(1);
        let (native, outcome) = super::j2k::to_native(obj.clone(), frames, opts)?;
        let mut img = decode_object(&native, EXPLICIT_VR_LE, opts)?;
        img.frames = frames.max(1);
        outcome.apply(&mut img);
        return Ok(img);
    }
    let pm = dicom_attrs::pixel_module(obj)?;
    let frame = first_frame(obj, uid, &pm)?;
    let (width, height) = (frame.width, frame.height);
    let n = width as usize * height as usize;
    let pm = PixelModule { cols: width, rows: height, ..pm };
    let pm_frame = PixelModule { bits_stored: frame.bits_stored, high_bit: frame.high_bit, ..pm.clone() };
    match pm.samples_per_pixel {
        1 if frame.photometric == "MONOCHROME1" || frame.photometric == "MONOCHROME2" => {}
        3 => {
            let luma = dicom_colour::luminance(&frame.samples, n, &pm_frame, &frame.photometric, frame.planar)?;
            return Ok(DecodedImage {
                width,
                height,
                pixels: dicom_grey::to_pixels(luma),
                bits_stored: frame.bits_stored.min(16) as u8,
                photometric: Photometric::ColorToLuma,
                frames: pm.frames,
                notes: frame.notes,
            });
        }
        spp => {
            return Err(DecodeError::Unsupported {
                what: "SamplesPerPixel/PhotometricInterpretation",
                value: format!("{spp} / {}", frame.photometric),
            })
        }
    }
    let stored = dicom_grey::stored_values(&frame.samples, n, &pm_frame)?;
    let t = dicom_attrs::grey_transforms(obj, pm.signed, opts.voi_lut)?;
    let (mut values, mut range) = dicom_grey::modality(stored, &t.modality, frame.bits_stored, pm.signed);
    let mut bits = match &t.modality {
        dicom_attrs::Modality::Lut(l) => l.bits,
        dicom_attrs::Modality::Rescale { .. } => frame.bits_stored.min(255) as u8,
    };
    if let Some(voi) = t.voi.as_ref().filter(|_| opts.voi_lut) {
        (values, range, bits) = dicom_grey::voi(&values, voi)?;
    }
    let inverted = frame.photometric == "MONOCHROME1" || t.presentation_inverse;
    if inverted {
        values = dicom_grey::invert(values, range);
    }
    Ok(DecodedImage {
        width,
        height,
        pixels: dicom_grey::to_pixels(values),
        bits_stored: bits,
        photometric: if inverted { Photometric::Monochrome1Inverted } else { Photometric::Monochrome2 },
        frames: pm.frames,
        notes: frame.notes,
    })
}

/// The first frame's sample cells as the codec delivered them.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame {
    /// Columns and rows of the decoded cells (the data set's, unless a codec decoded at a
    /// reduced resolution).
    pub width: u32,
    pub height: u32,
    pub samples: Samples,
    /// Photometric interpretation of the cells: the file's, except `RGB` where the codec
    /// converted colour (JPEG and JPEG 2000 decoders return RGB).
    pub photometric: String,
    /// Planar configuration of the cells (decoders return interleaved cells).
    pub planar: u16,
    /// Significant bits per cell (BitsStored, unless the code stream says otherwise).
    pub bits_stored: u16,
    /// Bit of the cell holding the value's most significant bit.
    pub high_bit: u16,
    /// What the codec step reconciled between the data set and the code stream (see
    /// [`super::DecodedImage::notes`]).
    pub notes: Vec<String>,
}

impl RawFrame {
    /// A grey frame of `pm`'s size decoded by one of our own codecs (JPEG lossless, 12-bit
    /// JPEG, JPEG-LS) into 16-bit cells holding `bits` significant bits.
    fn grey_u16(pm: &PixelModule, samples: Vec<u16>, bits: u16) -> RawFrame {
        RawFrame {
            width: pm.cols,
            height: pm.rows,
            samples: Samples::U16(samples),
            photometric: pm.photometric.clone(),
            planar: 0,
            bits_stored: bits,
            high_bit: bits - 1,
            notes: Vec::new(),
        }
    }
}

/// The bytes of frame 0 of encapsulated pixel data: the fragments up to the one that ends the
/// first code stream (a JPEG frame may span fragments; PS3.5 A.4).
fn first_frame_stream(obj: &DefaultDicomObject) -> Result<Vec<u8>, DecodeError> {
    let err = |what: &str| DecodeError::Dicom { stage: "read pixel data", source: what.to_string().into() };
    let pd = obj.get(tags::PIXEL_DATA).ok_or(DecodeError::NoPixelData)?;
    let fragments = pd.value().fragments().ok_or_else(|| err("encapsulated transfer syntax but native pixel data"))?;
    let mut out = Vec::new();
    for f in fragments {
        out.extend_from_slice(f);
        let end = out.iter().rposition(|&b| b != 0).unwrap_or(0);
        if end >= 1 && out[end - 1] == 0xFF && out[end] == 0xD9 {
            break;
        }
    }
    if out.is_empty() {
        return Err(err("no pixel data fragments"));
    }
    Ok(out)
}

/// Step 3: decode the first frame's cells.
pub fn first_frame(obj: &DefaultDicomObject, uid: &str, pm: &PixelModule) -> Result<RawFrame, DecodeError> {
    if uid == TS_JPEG_LOSSLESS || uid == TS_JPEG_LOSSLESS_SV1 {
        let stream = first_frame_stream(obj)?;
        let img = jpeg_lossless::decode(&stream).map_err(|e| DecodeError::Dicom { stage: "decode pixel data", source: Box::new(e) })?;
        if img.width != pm.cols || img.height != pm.rows || img.components != usize::from(pm.samples_per_pixel) {
            return Err(DecodeError::Dicom {
                stage: "decode pixel data",
                source: format!(
                    "JPEG lossless stream is {}x{}x{}, the data set says {}x{}x{}",
                    img.width, img.height, img.components, pm.cols, pm.rows, pm.samples_per_pixel
                )
                .into(),
            });
        }
        // The code stream's precision is what the samples hold (PS3.5 A.4.1: it equals
        // BitsStored in a conformant file; the larger of the two never masks a value).
        let bits = pm.bits_stored.max(u16::from(img.precision)).min(pm.bits_allocated.max(16));
        return Ok(RawFrame::grey_u16(pm, img.samples, bits));
    }
    if JPEG_LS.contains(&uid) && !cfg!(feature = "jpegls") {
        if pm.samples_per_pixel != 1 {
            return Err(DecodeError::UnsupportedTransferSyntax { uid: uid.to_string() });
        }
        let stream = first_frame_stream(obj)?;
        let img = jpegls::decode(&stream)
            .map_err(|e| DecodeError::Dicom { stage: "decode pixel data", source: format!("JPEG-LS: {e}").into() })?;
        if img.width != pm.cols || img.height != pm.rows {
            return Err(DecodeError::Dicom {
                stage: "decode pixel data",
                source: format!("JPEG-LS stream is {}x{}, the data set says {}x{}", img.width, img.height, pm.cols, pm.rows).into(),
            });
        }
        let bits = pm.bits_stored.max(u16::from(img.precision)).min(16);
        return Ok(RawFrame::grey_u16(pm, img.samples, bits));
    }
    if uid == TS_JPEG_BASELINE || uid == TS_JPEG_EXTENDED {
        let stream = first_frame_stream(obj)?;
        if jpeg12::precision(&stream) == Some(12) && pm.samples_per_pixel == 1 {
            let img = jpeg12::decode(&stream).map_err(|e| DecodeError::Dicom { stage: "decode pixel data", source: Box::new(e) })?;
            if img.width != pm.cols || img.height != pm.rows {
                return Err(DecodeError::Dicom {
                    stage: "decode pixel data",
                    source: format!("JPEG stream is {}x{}, the data set says {}x{}", img.width, img.height, pm.cols, pm.rows).into(),
                });
            }
            return Ok(RawFrame::grey_u16(pm, img.samples, 12));
        }
        return dicom_jpeg::decode_frame(&stream, pm);
    }
    let pd = obj.get(tags::PIXEL_DATA).ok_or(DecodeError::NoPixelData)?;
    if pd.value().fragments().is_none() {
        // Native: the first frame's cells straight from the element (PS3.5 8.1.1). YBR_FULL_422
        // holds two cells per pixel (Y1 Y2 Cb Cr per pair of columns, PS3.3 C.7.6.3.1.2).
        let n = pm.rows as usize * pm.cols as usize;
        let cells = if pm.photometric == "YBR_FULL_422" { n * 2 } else { n * usize::from(pm.samples_per_pixel) };
        let value = pd.value().primitive().ok_or(DecodeError::NoPixelData)?;
        let samples = native_cells(value, cells, pm.bits_allocated, uid == TS_EXPLICIT_BE)?;
        return Ok(RawFrame {
            width: pm.cols,
            height: pm.rows,
            samples,
            photometric: pm.photometric.clone(),
            planar: pm.planar,
            bits_stored: pm.bits_stored,
            high_bit: pm.high_bit,
            notes: Vec::new(),
        });
    }
    codec_frame(obj, uid, pm)
}

/// Explicit VR Big Endian (retired).
const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

/// The first `cells` sample cells of native Pixel Data (PS3.5 8.1.1, 8.2) as dicom-object holds
/// the value: OW words (already in machine order), OL/OB bytes, or words that pair into 32-bit
/// cells (in a big-endian file the first word is the high one). Bits Allocated 1: bits packed
/// least significant first (PS3.5 8.1.1), one cell each. Errors: fewer cells than the frame
/// needs, or a Bits Allocated other than 1, 8, 16, 32.
fn native_cells(value: &PrimitiveValue, cells: usize, bits_allocated: u16, big_endian: bool) -> Result<Samples, DecodeError> {
    let short = |have: usize, need: usize| DecodeError::Dicom {
        stage: "read pixel data",
        source: format!("PixelData has {have} bytes, the first frame needs {need}").into(),
    };
    let need = (cells * usize::from(bits_allocated)).div_ceil(8);
    let samples = match (value, bits_allocated) {
        (PrimitiveValue::U16(w), 16) => Samples::U16(w.get(..cells).ok_or_else(|| short(w.len() * 2, need))?.to_vec()),
        (PrimitiveValue::U32(w), 32) => Samples::U32(w.get(..cells).ok_or_else(|| short(w.len() * 4, need))?.to_vec()),
        (PrimitiveValue::U16(w), 32) => {
            let w = w.get(..cells * 2).ok_or_else(|| short(w.len() * 2, need))?;
            let pair = |p: &[u16]| if big_endian { (u32::from(p[0]) << 16) | u32::from(p[1]) } else { u32::from(p[0]) | (u32::from(p[1]) << 16) };
            Samples::U32(w.chunks_exact(2).map(pair).collect())
        }
        (other, _) => {
            let bytes = other.to_bytes();
            let b = bytes.get(..need).ok_or_else(|| short(bytes.len(), need))?;
            match bits_allocated {
                1 => Samples::U8((0..cells).map(|i| (b[i / 8] >> (i % 8)) & 1).collect()),
                8 => Samples::U8(b.to_vec()),
                16 if big_endian => Samples::U16(b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect()),
                32 if big_endian => Samples::U32(b.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect()),
                _ => Samples::from_bytes(b, bits_allocated)?,
            }
        }
    };
    Ok(samples)
}

/// Bytes per sample cell of a code stream of `precision` bits (the decoders' output cells).
fn cell_bytes(precision: u16) -> usize {
    if precision <= 8 { 1 } else if precision <= 16 { 2 } else { 4 }
}

/// The first frame of the remaining codecs, code stream first: RLE Lossless with
/// [`super::rle`] (segment count and lengths checked against the data set), JPEG-LS with
/// dicom-pixeldata's CharLS, whose cells are sized by the stream's precision (SOF-55; an 8-bit
/// stream in a 16-bit container comes back as bytes).
fn codec_frame(obj: &DefaultDicomObject, uid: &str, pm: &PixelModule) -> Result<RawFrame, DecodeError> {
    let reject = |msg: String| DecodeError::Dicom { stage: "decode pixel data", source: msg.into() };
    let n = pm.rows as usize * pm.cols as usize * usize::from(pm.samples_per_pixel);
    let mut notes = Vec::new();
    let mut bits_allocated = pm.bits_allocated;
    if uid == TS_RLE {
        // One fragment per frame (PS3.5 A.4.2).
        let pd = obj.get(tags::PIXEL_DATA).ok_or(DecodeError::NoPixelData)?;
        let frame = pd.value().fragments().and_then(|f| f.first()).ok_or_else(|| reject("no RLE fragment".into()))?;
        let pixels = pm.rows as usize * pm.cols as usize;
        let samples = rle::decode(frame, pixels, usize::from(pm.samples_per_pixel), usize::from(pm.bits_allocated / 8)).map_err(reject)?;
        return Ok(RawFrame {
            width: pm.cols,
            height: pm.rows,
            samples,
            photometric: pm.photometric.clone(),
            planar: 0,
            bits_stored: pm.bits_stored,
            high_bit: pm.high_bit,
            notes,
        });
    }
    let precision = if JPEG_LS.contains(&uid) { first_frame_stream(obj).ok().and_then(|s| jpegls::precision(&s)) } else { None };
    let decoded = obj
        .decode_pixel_data_frame(0)
        .map_err(|e| DecodeError::Dicom { stage: "decode pixel data", source: Box::new(e) })?;
    // CharLS returns interleaved cells, colour as RGB.
    let photometric = if pm.samples_per_pixel == 3 { "RGB".to_string() } else { pm.photometric.clone() };
    // CharLS: a JPEG-LS stream may declare more bits than BitsStored (near-lossless
    // reconstruction can exceed it); use the larger so no value is masked (as jpegls.rs does).
    let data = decoded.data();
    if let Some(p) = precision.map(u16::from) {
        // The cells CharLS returns are sized by the code stream's precision.
        let cells = cell_bytes(p);
        if data.len() != n * cells {
            return Err(reject(format!(
                "JPEG-LS decoder returned {} bytes, the {p}-bit code stream promises {}",
                data.len(),
                n * cells
            )));
        }
        if cells * 8 != usize::from(pm.bits_allocated) {
            notes.push(format!(
                "JPEG-LS code-stream precision {p} with Bits Allocated {}: the code stream's samples are used",
                pm.bits_allocated
            ));
            bits_allocated = (cells * 8) as u16;
        }
    } else if data.len() != n * usize::from(pm.bits_allocated / 8) {
        return Err(reject(format!(
            "decoder returned {} bytes, Rows x Columns x Samples per Pixel x Bits Allocated promise {}",
            data.len(),
            n * usize::from(pm.bits_allocated / 8)
        )));
    }
    let bits_stored = match precision {
        Some(p) => pm.bits_stored.max(u16::from(p)).min(bits_allocated),
        None => pm.bits_stored,
    };
    Ok(RawFrame {
        width: pm.cols,
        height: pm.rows,
        samples: Samples::from_bytes(data, bits_allocated)?,
        photometric,
        planar: 0,
        bits_stored,
        high_bit: bits_stored - 1,
        notes,
    })
}
