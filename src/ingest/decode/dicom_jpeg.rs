//! JPEG Baseline (Process 1, `1.2.840.10008.1.2.4.50`) and 8-bit JPEG Extended (Process 2 & 4,
//! `.51`) frames in DICOM, read code stream first.
//!
//! The frame header (SOF, ITU-T T.81 B.2.2) says what the samples are: its size, precision and
//! number of components are read before anything is decoded, and they, not the data set, size
//! the decoded buffer. A data set that disagrees is handled as PS3.5 8.2.1 and DCMTK `dcmdjpeg`
//! do:
//!
//! * **Bits Allocated / Bits Stored** other than the code stream's 8-bit precision (an 8-bit
//!   radiograph in a 16-bit container, common in Philips exports): the samples are the code
//!   stream's 8-bit values, with a note on the image; never two 8-bit samples read as one
//!   16-bit sample.
//! * **Rows / Columns / Samples per Pixel** that differ from the frame header: rejected, naming
//!   both (the data set would describe another image).
//! * A decoded buffer whose length is not what the frame header promises: rejected, never
//!   reinterpreted.
//!
//! Colour: PS3.5 8.2.1 lets the Photometric Interpretation say whether the components were
//! colour-transformed. `YBR_FULL_422` / `YBR_FULL` components are returned as decoded (chroma
//! upsampled, interleaved, as `YBR_FULL`), so the caller takes Y, the luminance by definition;
//! `RGB` is taken as stored unless a complete Adobe APP14 marker says the encoder transformed it
//! to YCbCr (what
//! pydicom 3 and libjpeg do: an RGB stream without a marker is not a YCbCr stream) and reduced
//! to luminance by the caller. Errors are [`DecodeError::Dicom`] (stage "decode pixel data").

use super::dicom::RawFrame;
use super::dicom_attrs::PixelModule;
use super::dicom_grey::Samples;
use super::jpeg_stream::{next_scan, Headers};
use super::DecodeError;

fn reject(msg: String) -> DecodeError {
    DecodeError::Dicom { stage: "decode pixel data", source: msg.into() }
}

/// The transform flag of a complete Adobe APP14 marker segment before the first scan (T.872
/// 6.5.3: 0 none, 1 YCbCr, 2 YCCK); `None` without one. A segment too short to hold the flag is
/// no marker (pydicom's libjpeg ignores it too).
fn adobe_transform(b: &[u8]) -> Option<u8> {
    let mut pos = 2usize;
    while pos + 4 <= b.len() && b[pos] == 0xFF {
        let m = b[pos + 1];
        if m == 0xDA || m == 0xD9 {
            return None;
        }
        if m == 0xD8 || m == 0x01 || m == 0xFF {
            pos += if m == 0xFF { 1 } else { 2 };
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[pos + 2], b[pos + 3]]));
        if m == 0xEE && len >= 14 && b.get(pos + 4..pos + 9) == Some(b"Adobe") {
            return b.get(pos + 15).copied();
        }
        pos += 2 + len;
    }
    None
}

/// Decodes one 8-bit DCT frame (`stream`: its code stream) of a data set described by `pm`.
pub fn decode_frame(stream: &[u8], pm: &PixelModule) -> Result<RawFrame, DecodeError> {
    let stream = &*super::jpeg_complete::check(stream)?;
    let mut h = Headers::default();
    next_scan(stream, 2, &mut h).map_err(|e| reject(format!("JPEG frame header: {e}")))?;
    let f = h.frame.ok_or_else(|| reject("JPEG stream without a frame header".into()))?;
    let comps = f.components.len();
    let (w, ht) = (u32::from(f.width), u32::from(f.height));
    if w != pm.cols || ht != pm.rows || comps != usize::from(pm.samples_per_pixel) {
        return Err(reject(format!(
            "JPEG stream is {w}x{ht} with {comps} component(s), the data set says {}x{} with Samples per Pixel {}",
            pm.cols, pm.rows, pm.samples_per_pixel
        )));
    }
    if f.precision != 8 {
        return Err(reject(format!("JPEG DCT stream of precision {} (8 expected here)", f.precision)));
    }
    let ybr = comps == 3 && pm.photometric.starts_with("YBR_FULL");
    let data = if ybr {
        // The Y component is the luminance by definition: kept as decoded (zune-jpeg's YCbCr
        // output), no round trip through RGB, which clips saturated colours.
        use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
        let o = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::YCbCr);
        zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(stream), o)
            .decode()
            .map_err(|e| reject(format!("JPEG decoding failed: {e:?}")))?
    } else {
        let mut d = jpeg_decoder::Decoder::new(stream);
        if comps == 3 {
            let t = if adobe_transform(stream) == Some(1) { jpeg_decoder::ColorTransform::YCbCr } else { jpeg_decoder::ColorTransform::RGB };
            d.set_color_transform(t);
        }
        d.decode().map_err(|e| DecodeError::Dicom { stage: "decode pixel data", source: Box::new(e) })?
    };
    let promised = w as usize * ht as usize * comps;
    if data.len() != promised {
        return Err(reject(format!(
            "JPEG decoder returned {} bytes, the frame header promises {promised} ({w}x{ht}, {comps} component(s), 8 bits)",
            data.len()
        )));
    }
    let mut notes = Vec::new();
    if pm.bits_allocated != 8 || pm.bits_stored != 8 {
        notes.push(format!(
            "JPEG code-stream precision 8 with Bits Allocated {} / Bits Stored {}: the code stream's 8-bit samples are used (as DCMTK dcmdjpeg)",
            pm.bits_allocated, pm.bits_stored
        ));
    }
    Ok(RawFrame {
        width: w,
        height: ht,
        samples: Samples::U8(data),
        photometric: match comps {
            _ if ybr => "YBR_FULL".to_string(),
            3 => "RGB".to_string(),
            _ => pm.photometric.clone(),
        },
        planar: 0,
        bits_stored: 8,
        high_bit: 7,
        notes,
    })
}
