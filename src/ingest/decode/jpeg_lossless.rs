//! JPEG lossless, non-hierarchical, Huffman coded (ITU-T T.81 process 14, SOF3): the DICOM
//! transfer syntaxes 1.2.840.10008.1.2.4.57 and .70 (selection value 1).
//!
//! Written here because the decoder in our dependency tree (jpeg-decoder 0.3) does not reset
//! the predictor at restart markers, which silently corrupts every file written with a
//! restart interval (DRI). This decoder follows T.81 Annex H:
//!
//! * prediction (H.1.2.1, Table H.1): the first sample of the scan **and of every restart
//!   interval** is predicted by `2^(P − Pt − 1)`; the rest of that first row by `Ra`; the
//!   first column of the other rows by `Rb`; every other sample by the scan's selection value
//!   1–7 (`Ra`, `Rb`, `Rc`, `Ra + Rb − Rc`, `Ra + ((Rb − Rc) >> 1)`, `Rb + ((Ra − Rc) >> 1)`,
//!   `(Ra + Rb) / 2`);
//! * reconstruction modulo 2^16, difference category 16 = 32768 (H.1.2.2, Table H.2);
//! * point transform: predictions use the reduced values, the output is shifted left by Pt;
//! * interleaved scans (several components with 1×1 sampling) and one scan per component.
//!
//! Restart intervals must hold whole rows of MCUs (as libjpeg-turbo 3 requires for lossless
//! files); anything else, arithmetic coding, hierarchical files and subsampled components
//! are reported as [`JpegError::Unsupported`], never decoded wrongly.

use super::jpeg_stream::{next_scan, BitReader, Headers, JpegError};

/// A decoded lossless image: `components` samples per pixel, interleaved, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LosslessImage {
    pub width: u32,
    pub height: u32,
    /// Sample precision P (2–16 bits).
    pub precision: u8,
    pub components: usize,
    pub samples: Vec<u16>,
}

/// Decodes a complete JPEG lossless (SOF3) stream.
pub fn decode(b: &[u8]) -> Result<LosslessImage, JpegError> {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return Err(JpegError::Malformed("no SOI marker".into()));
    }
    let mut h = Headers::default();
    let mut pos = 2;
    let mut planes: Vec<Vec<u16>> = Vec::new();
    let mut done: Vec<bool> = Vec::new();
    while let Some(scan) = next_scan(b, pos, &mut h)? {
        let frame = h.frame.clone().ok_or_else(|| JpegError::Malformed("scan before frame".into()))?;
        if frame.sof != 3 {
            return Err(JpegError::Unsupported(format!("SOF{} is not lossless Huffman (SOF3)", frame.sof)));
        }
        if !(2..=16).contains(&frame.precision) {
            return Err(JpegError::Malformed(format!("precision {}", frame.precision)));
        }
        let (w, hgt) = (usize::from(frame.width), usize::from(frame.height));
        if w == 0 || hgt == 0 {
            return Err(JpegError::Unsupported("zero width or height".into()));
        }
        if planes.is_empty() {
            let n = w.checked_mul(hgt).ok_or_else(|| JpegError::Malformed("size".into()))?;
            // Every sample costs at least one bit of entropy-coded data: a header claiming more
            // samples than that is corrupt (and must not make us allocate for it).
            if n.saturating_mul(frame.components.len()) > b.len().saturating_mul(8) {
                return Err(JpegError::Truncated("lossless data shorter than the frame size needs"));
            }
            planes = vec![vec![0u16; n]; frame.components.len()];
            done = vec![false; frame.components.len()];
        }
        if scan.components.len() > 1 && frame.components.iter().any(|c| c.h != 1 || c.v != 1) {
            return Err(JpegError::Unsupported("interleaved lossless scan with subsampled components".into()));
        }
        if !(1..=7).contains(&scan.ss) {
            return Err(JpegError::Malformed(format!("predictor selection {}", scan.ss)));
        }
        if scan.al >= frame.precision {
            return Err(JpegError::Malformed(format!("point transform {} ≥ precision", scan.al)));
        }
        let ri = usize::from(h.restart_interval);
        if ri > 0 && ri % w != 0 {
            return Err(JpegError::Unsupported(format!(
                "restart interval {ri} is not a whole number of rows of {w} samples"
            )));
        }
        let mut tables = Vec::with_capacity(scan.components.len());
        for &(_, td, _) in &scan.components {
            tables.push(h.dc[usize::from(td)].clone().ok_or_else(|| JpegError::Malformed(format!("missing Huffman table {td}")))?);
        }
        let rows_per_interval = if ri == 0 { usize::MAX } else { ri / w };
        let p = frame.precision - scan.al;
        let initial: i32 = 1 << (p - 1);
        let mut r = BitReader::new(b, scan.data_start);
        let mut rst = 0u8;
        for y in 0..hgt {
            let restarted = y > 0 && y % rows_per_interval == 0;
            if restarted {
                r.restart(rst)?;
                rst = (rst + 1) & 7;
            }
            if r.overrun() {
                return Err(JpegError::Truncated("lossless scan data"));
            }
            let first_row = y == 0 || y % rows_per_interval == 0;
            for x in 0..w {
                for (k, &(ci, _, _)) in scan.components.iter().enumerate() {
                    let plane = &mut planes[ci];
                    let i = y * w + x;
                    let pred: i32 = if first_row {
                        if x == 0 { initial } else { i32::from(plane[i - 1]) }
                    } else if x == 0 {
                        i32::from(plane[i - w])
                    } else {
                        let (ra, rb, rc) = (i32::from(plane[i - 1]), i32::from(plane[i - w]), i32::from(plane[i - w - 1]));
                        match scan.ss {
                            1 => ra,
                            2 => rb,
                            3 => rc,
                            4 => ra + rb - rc,
                            5 => ra + ((rb - rc) >> 1),
                            6 => rb + ((ra - rc) >> 1),
                            _ => (ra + rb) >> 1,
                        }
                    };
                    let s = r.symbol(&tables[k])?;
                    let diff = match s {
                        0..=15 => r.receive_extend(s),
                        16 => 32768,
                        _ => return Err(JpegError::Malformed(format!("difference category {s}"))),
                    };
                    plane[i] = (pred + diff) as u16; // modulo 2^16 (H.1.2.2)
                }
            }
        }
        if r.overrun() {
            return Err(JpegError::Truncated("lossless scan data"));
        }
        for &(ci, _, _) in &scan.components {
            if scan.al > 0 {
                planes[ci].iter_mut().for_each(|v| *v <<= scan.al);
            }
            done[ci] = true;
        }
        pos = r.position();
    }
    let frame = h.frame.ok_or(JpegError::Truncated("no frame header"))?;
    if planes.is_empty() || done.iter().any(|d| !d) {
        return Err(JpegError::Truncated("a component has no scan"));
    }
    let nc = planes.len();
    let samples = if nc == 1 {
        planes.pop().unwrap_or_default()
    } else {
        let n = planes[0].len();
        let mut out = Vec::with_capacity(n * nc);
        for i in 0..n {
            out.extend(planes.iter().map(|pl| pl[i]));
        }
        out
    };
    Ok(LosslessImage {
        width: u32::from(frame.width),
        height: u32::from(frame.height),
        precision: frame.precision,
        components: nc,
        samples,
    })
}
