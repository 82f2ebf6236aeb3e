//! Is a JPEG complete? Decode what is complete, reject what is truncated or zero-filled.
//!
//! Partial downloads and some web exports leave JPEGs whose scan is complete but whose final EOI
//! marker is missing or followed by other bytes; libjpeg and OpenCV decode them (with a warning),
//! and so do we. A file cut inside its scan, or one whose tail was pre-allocated and never
//! written (zeros where entropy-coded data should be), is not an image: some decoders fill the
//! missing rows with grey or decode the zeros as coefficients and return wrong pixels without an
//! error. [`check`] tells the two apart from the code stream itself, before any decoder runs:
//!
//! * every scan of a sequential Huffman JPEG (SOF0/SOF1, ITU-T T.81 Annex F) is entropy-decoded
//!   symbol by symbol (no IDCT) over all its MCUs, with restart intervals; running out of data
//!   before the last MCU is *truncated*, and all components must have been scanned;
//! * a run of [`ZERO_RUN`] or more zero bytes inside the entropy-coded data that the MCUs used,
//!   or in the rest of a scan that runs out, is *zero-filled* (an encoder never writes that:
//!   every block ends in a code with one bits, and padding bits are ones, T.81 F.1.2.3); zeros
//!   after the last MCU are padding and ignored;
//! * a progressive or other JPEG is judged by its EOI marker alone (its scans are not walked).
//!
//! A complete stream comes back cut after its EOI (trailing bytes dropped) or with EOI appended.
//! Errors are [`DecodeError::IncompleteJpeg`] with a reason that says which.

use std::borrow::Cow;

use super::jpeg_stream::{next_scan, BitReader, Headers, Scan};
use super::DecodeError;

/// Zero bytes in a row that no encoder writes inside entropy-coded data.
pub const ZERO_RUN: usize = 32;

fn incomplete(reason: String) -> DecodeError {
    DecodeError::IncompleteJpeg { reason }
}

/// Walks one sequential scan's entropy-coded data over all its MCUs. Returns the byte offset
/// after the data the MCUs used, or why it is incomplete.
fn walk_scan(b: &[u8], h: &Headers, scan: &Scan) -> Result<usize, DecodeError> {
    let frame = h.frame.as_ref().ok_or_else(|| incomplete("scan before frame header".into()))?;
    let hmax = frame.components.iter().map(|c| c.h.max(1)).max().unwrap_or(1) as usize;
    let vmax = frame.components.iter().map(|c| c.v.max(1)).max().unwrap_or(1) as usize;
    let (w, ht) = (usize::from(frame.width), usize::from(frame.height));
    // (blocks per MCU of each scan component, MCU count) — T.81 A.2.
    let (blocks, mcus): (Vec<usize>, usize) = if scan.components.len() == 1 {
        let c = frame.components[scan.components[0].0];
        let cw = (w * usize::from(c.h.max(1))).div_ceil(hmax).div_ceil(8);
        let ch = (ht * usize::from(c.v.max(1))).div_ceil(vmax).div_ceil(8);
        (vec![1], cw * ch)
    } else {
        let per: Vec<usize> = scan.components.iter().map(|&(i, _, _)| usize::from(frame.components[i].h.max(1)) * usize::from(frame.components[i].v.max(1))).collect();
        (per, w.div_ceil(8 * hmax) * ht.div_ceil(8 * vmax))
    };
    // Every block costs at least two bits: a header claiming more is not this file's.
    if mcus.saturating_mul(blocks.iter().sum::<usize>()).saturating_mul(2) > b.len().saturating_mul(8) {
        return Err(incomplete(format!("truncated: the scan needs {mcus} MCUs, far more than the {} bytes hold", b.len())));
    }
    let tables: Vec<_> = scan
        .components
        .iter()
        .map(|&(_, td, ta)| (h.dc[usize::from(td)].as_ref(), h.ac[usize::from(ta)].as_ref()))
        .collect();
    let ri = usize::from(h.restart_interval);
    let mut r = BitReader::new(b, scan.data_start);
    let mut rst = 0u8;
    let malformed = |e: super::jpeg_stream::JpegError| incomplete(format!("corrupt scan data: {e}"));
    for m in 0..mcus {
        if ri > 0 && m > 0 && m % ri == 0 {
            if r.overrun() {
                return Err(incomplete(format!("truncated: the data ends after MCU {m} of {mcus}")));
            }
            r.restart(rst).map_err(malformed)?;
            rst = (rst + 1) & 7;
        }
        for (&n, &(dc, ac)) in blocks.iter().zip(&tables) {
            let (Some(dc), Some(ac)) = (dc, ac) else {
                return Err(incomplete("scan without its Huffman tables".into()));
            };
            for _ in 0..n {
                let s = r.symbol(dc).map_err(malformed)?;
                r.receive_extend(s.min(16));
                let mut k = scan.ss.max(1);
                while k <= scan.se {
                    let rs = r.symbol(ac).map_err(malformed)?;
                    let (run, size) = (rs >> 4, rs & 15);
                    if size == 0 && run != 15 {
                        break;
                    }
                    k = k.saturating_add(run + 1);
                    r.receive_extend(size);
                }
            }
        }
        if r.overrun() {
            return Err(incomplete(format!("truncated: the data ends inside MCU {} of {mcus}", m + 1)));
        }
    }
    Ok(r.position())
}

/// The first run of at least [`ZERO_RUN`] zero bytes in `b[from..to]`, as its start.
fn zero_run(b: &[u8], from: usize, to: usize) -> Option<usize> {
    let mut run = 0usize;
    for (i, &x) in b.get(from..to)?.iter().enumerate() {
        run = if x == 0 { run + 1 } else { 0 };
        if run == ZERO_RUN {
            return Some(from + i + 1 - ZERO_RUN);
        }
    }
    None
}

/// Position of the EOI marker that ends the stream, searching from `from`.
fn eoi_from(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < b.len() {
        if b[i] == 0xFF && b[i + 1] == 0xD9 {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Checks that the JPEG `b` is complete (see the module docs) and returns the bytes to decode:
/// `b` up to and including its EOI, or `b` with EOI appended when it ends without one after a
/// complete scan. Headers a decoder would refuse anyway are left to it (`b` comes back as is).
pub fn check(b: &[u8]) -> Result<Cow<'_, [u8]>, DecodeError> {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return Ok(Cow::Borrowed(b));
    }
    let mut h = Headers::default();
    let Ok(Some(mut scan)) = next_scan(b, 2, &mut h) else {
        return Ok(Cow::Borrowed(b)); // no scan at all: the decoder names what is wrong
    };
    let Some(frame) = h.frame.clone() else { return Ok(Cow::Borrowed(b)) };
    if frame.sof > 1 {
        // Progressive, lossless, arithmetic: complete when the EOI is there.
        return match eoi_from(b, scan.data_start) {
            Some(e) => Ok(Cow::Borrowed(&b[..e + 2])),
            None => Err(incomplete(format!("truncated: SOF{} JPEG without its EOI marker (its scans are not checked)", frame.sof))),
        };
    }
    let mut scanned = vec![false; frame.components.len()];
    loop {
        let zero_filled = |z: usize| incomplete(format!("zero-filled: {ZERO_RUN}+ zero bytes inside the scan data from byte {z} (an unfinished download?)"));
        // Zeros where the scan's data should be either run out before the last MCU or are
        // decoded as coefficients: either way the zero run is what is reported.
        let end = walk_scan(b, &h, &scan).map_err(|e| zero_run(b, scan.data_start, b.len()).map_or(e, zero_filled))?;
        if let Some(z) = zero_run(b, scan.data_start, end) {
            return Err(zero_filled(z));
        }
        for &(i, _, _) in &scan.components {
            scanned[i] = true;
        }
        // After the scan: EOI, another scan, or the end of the bytes (possibly padding).
        let rest = &b[end.min(b.len())..];
        let at_eoi = rest.iter().position(|&x| x != 0xFF).is_some_and(|p| rest.get(p) == Some(&0xD9) && p > 0);
        if at_eoi {
            let e = end + rest.iter().position(|&x| x == 0xD9).unwrap_or(0) + 1;
            if scanned.iter().all(|&s| s) {
                return Ok(Cow::Borrowed(&b[..e.min(b.len())]));
            }
            return Err(incomplete("truncated: EOI before every component was scanned".into()));
        }
        match next_scan(b, end, &mut h) {
            Ok(Some(s)) => scan = s,
            _ if scanned.iter().all(|&s| s) => {
                let mut v = b[..end.min(b.len())].to_vec();
                v.extend_from_slice(&[0xFF, 0xD9]);
                return Ok(Cow::Owned(v));
            }
            _ => return Err(incomplete("truncated: the file ends before every component was scanned".into())),
        }
    }
}
