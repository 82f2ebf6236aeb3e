//! RLE Lossless (PS3.5 Annex G, transfer syntax `1.2.840.10008.1.2.5`), read code stream first.
//!
//! A frame is a 64-byte header — the number of segments and up to 15 segment offsets — and the
//! segments, each one byte plane of one sample compressed with PackBits (G.3.1): a header byte
//! `n` in `0..=127` copies the next `n + 1` bytes, `-127..=-1` repeats the next byte `1 − n`
//! times, `-128` does nothing. Segment `s · B + b` holds byte `b` (most significant first) of
//! sample `s` for `B` bytes per sample (G.2).
//!
//! What the stream says is checked against the data set before a cell is made: the segment
//! count must be Samples per Pixel × Bits Allocated / 8, and every segment must decode to
//! exactly Rows × Columns bytes (a shorter one is truncated, a longer one belongs to another
//! image); either is an error naming both numbers, never zero-filled or shifted cells.
//! 8, 16 and 32 bits allocated are decoded (as pydicom does; dicom-pixeldata stops at 16).

use super::dicom_grey::Samples;

/// Decodes one RLE frame into interleaved sample cells (`spp` samples of `bytes_per_sample`
/// bytes per pixel, `pixels` pixels). Errors name the disagreement.
pub fn decode(frame: &[u8], pixels: usize, spp: usize, bytes_per_sample: usize) -> Result<Samples, String> {
    if frame.len() < 64 {
        return Err(format!("RLE frame of {} bytes has no 64-byte header", frame.len()));
    }
    let word = |i: usize| u32::from_le_bytes([frame[4 * i], frame[4 * i + 1], frame[4 * i + 2], frame[4 * i + 3]]) as usize;
    let segments = word(0);
    let want = spp * bytes_per_sample;
    if segments != want {
        return Err(format!(
            "RLE header has {segments} segment(s), Samples per Pixel {spp} x Bits Allocated {} need {want}",
            bytes_per_sample * 8
        ));
    }
    if !(1..=15).contains(&segments) {
        return Err(format!("RLE header declares {segments} segments (1 to 15 allowed)"));
    }
    let mut planes = Vec::with_capacity(segments);
    for k in 0..segments {
        let start = word(k + 1);
        let end = if k + 1 < segments { word(k + 2) } else { frame.len() };
        if start < 64 || start > end || end > frame.len() {
            return Err(format!("RLE segment {k} offsets {start}..{end} outside the {}-byte frame", frame.len()));
        }
        let plane = packbits(&frame[start..end], pixels);
        if plane.len() != pixels {
            return Err(format!(
                "RLE segment {k} decodes to {} bytes, Rows x Columns need {pixels} ({})",
                plane.len(),
                if plane.len() < pixels { "truncated" } else { "longer than the image" }
            ));
        }
        planes.push(plane);
    }
    // Interleave: pixel p, sample s, byte b (MSB first) -> cell value.
    let cell = |p: usize, s: usize| planes[s * bytes_per_sample..(s + 1) * bytes_per_sample].iter().fold(0u32, |v, pl| (v << 8) | u32::from(pl[p]));
    let n = pixels * spp;
    Ok(match bytes_per_sample {
        1 => Samples::U8((0..n).map(|i| cell(i / spp, i % spp) as u8).collect()),
        2 => Samples::U16((0..n).map(|i| cell(i / spp, i % spp) as u16).collect()),
        _ => Samples::U32((0..n).map(|i| cell(i / spp, i % spp)).collect()),
    })
}

/// PackBits-decodes `seg`, stopping once more than `limit` bytes are out (what exceeds the
/// plane is reported by the caller; a padding byte at the end of an even-length segment
/// decodes to nothing).
fn packbits(seg: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit);
    let mut i = 0usize;
    while i < seg.len() && out.len() <= limit {
        let n = seg[i] as i8;
        i += 1;
        if n >= 0 {
            let k = n as usize + 1;
            let end = (i + k).min(seg.len());
            out.extend_from_slice(&seg[i..end]);
            i = end;
        } else if n != -128 {
            let Some(&b) = seg.get(i) else { break };
            out.extend(std::iter::repeat_n(b, 1 + (-(n as i32)) as usize));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(segments: &[Vec<u8>]) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(&(segments.len() as u32).to_le_bytes());
        let mut off = 64u32;
        let mut body = Vec::new();
        for (k, s) in segments.iter().enumerate() {
            h[4 + 4 * k..8 + 4 * k].copy_from_slice(&off.to_le_bytes());
            off += s.len() as u32;
            body.extend(s);
        }
        [h, body].concat()
    }

    #[test]
    fn planes_interleave_msb_first_and_lengths_are_checked() {
        // 4 pixels, 16 bit: MSB plane = run of 4 x 0x01, LSB plane = literal 1 2 3 4.
        let f = frame(&[vec![0xFD, 0x01], vec![0x03, 1, 2, 3, 4]]);
        assert_eq!(decode(&f, 4, 1, 2).unwrap(), Samples::U16(vec![0x0101, 0x0102, 0x0103, 0x0104]));
        // The same stream said to be 8-bit: the segment count disagrees.
        assert!(decode(&f, 4, 1, 1).unwrap_err().contains("2 segment(s)"));
        // A segment one byte short is truncated, never zero-filled.
        let short = frame(&[vec![0xFD, 0x01], vec![0x02, 1, 2, 3]]);
        assert!(decode(&short, 4, 1, 2).unwrap_err().contains("truncated"));
        // 32 bit: four planes.
        let f = frame(&[vec![0x00, 0x12], vec![0x00, 0x34], vec![0x00, 0x56], vec![0x00, 0x78]]);
        assert_eq!(decode(&f, 1, 1, 4).unwrap(), Samples::U32(vec![0x1234_5678]));
        for cut in 0..f.len() {
            let _ = decode(&f[..cut], 1, 1, 4);
        }
    }
}
