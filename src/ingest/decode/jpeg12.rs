//! JPEG extended sequential DCT, Huffman coded, **12-bit** samples (ITU-T T.81 process 4,
//! SOF1 with P = 12): DICOM transfer syntax 1.2.840.10008.1.2.4.51 as CR/DX archives use it.
//! jpeg-decoder 0.3 and zune-jpeg refuse 12-bit DCT, so this small decoder handles it.
//!
//! Scope: one component (greyscale; any sampling factors, which a single component ignores),
//! one sequential scan, 8- or 16-bit quantisation tables, restart intervals. Colour, progressive,
//! arithmetic and hierarchical streams are [`JpegError::Unsupported`].
//!
//! Per block (T.81 F.2.2): DC difference + prediction (reset to 0 at each restart), AC run/size
//! symbols, dequantisation in zig-zag order, then the inverse DCT of A.3.3,
//! `f(x,y) = ¼ Σu Σv C(u) C(v) F(u,v) cos((2x+1)uπ/16) cos((2y+1)vπ/16)`, computed separably in
//! f64 and rounded, plus the level shift 2^(P−1), clamped to `0 ..= 2^P − 1`. This is the exact
//! IDCT; libjpeg-turbo's default integer IDCT (islow) approximates it and differs by at most a
//! grey level or two (the tests bound it against libjpeg-turbo 3).

use super::jpeg_stream::{next_scan, BitReader, Headers, JpegError};

/// Natural (row-major) index of the k-th zig-zag coefficient (T.81 Figure A.6).
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
    54, 47, 55, 62, 63,
];

/// A decoded greyscale image: row-major samples of `precision` bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyImage {
    pub width: u32,
    pub height: u32,
    pub precision: u8,
    pub samples: Vec<u16>,
}

/// The sample precision of a JPEG stream's frame header (`None` if there is none).
pub fn precision(b: &[u8]) -> Option<u8> {
    let mut h = Headers::default();
    next_scan(b, 2, &mut h).ok()?;
    h.frame.map(|f| f.precision)
}

/// `c[x][u] = C(u)/2 · cos((2x+1)uπ/16)`, C(0) = 1/√2.
fn idct_table() -> [[f64; 8]; 8] {
    let mut c = [[0.0; 8]; 8];
    for (x, row) in c.iter_mut().enumerate() {
        for (u, e) in row.iter_mut().enumerate() {
            let cu = if u == 0 { std::f64::consts::FRAC_1_SQRT_2 } else { 1.0 };
            *e = cu / 2.0 * (((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0).cos();
        }
    }
    c
}

/// Decodes a 12-bit (or 8-bit) sequential Huffman DCT greyscale JPEG.
pub fn decode(b: &[u8]) -> Result<GreyImage, JpegError> {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return Err(JpegError::Malformed("no SOI marker".into()));
    }
    let mut h = Headers::default();
    let scan = next_scan(b, 2, &mut h)?.ok_or(JpegError::Truncated("no scan"))?;
    let frame = h.frame.clone().ok_or(JpegError::Truncated("no frame header"))?;
    if frame.sof > 1 {
        return Err(JpegError::Unsupported(format!("SOF{} is not sequential Huffman DCT", frame.sof)));
    }
    if frame.precision != 8 && frame.precision != 12 {
        return Err(JpegError::Malformed(format!("DCT precision {}", frame.precision)));
    }
    if frame.components.len() != 1 || scan.components.len() != 1 {
        return Err(JpegError::Unsupported(format!("{} components (only greyscale is decoded)", frame.components.len())));
    }
    if scan.ss != 0 || scan.se != 63 {
        return Err(JpegError::Malformed("sequential scan must cover coefficients 0..63".into()));
    }
    let (w, hgt) = (usize::from(frame.width), usize::from(frame.height));
    if w == 0 || hgt == 0 {
        return Err(JpegError::Unsupported("zero width or height".into()));
    }
    let (_, td, ta) = scan.components[0];
    let dc = h.dc[usize::from(td)].clone().ok_or_else(|| JpegError::Malformed("missing DC table".into()))?;
    let ac = h.ac[usize::from(ta)].clone().ok_or_else(|| JpegError::Malformed("missing AC table".into()))?;
    let q = h.dqt[usize::from(frame.components[0].tq)].ok_or_else(|| JpegError::Malformed("missing quantisation table".into()))?;
    let (bw, bh) = (w.div_ceil(8), hgt.div_ceil(8));
    // Every block costs at least two bits (a DC and an end-of-block code): a header claiming
    // more blocks than that is corrupt (and must not make us allocate for it).
    if (bw * bh).saturating_mul(2) > b.len().saturating_mul(8) {
        return Err(JpegError::Truncated("DCT data shorter than the frame size needs"));
    }
    let stride = bw * 8;
    let mut plane = vec![0u16; stride * bh * 8];
    let c = idct_table();
    let shift = f64::from(1u32 << (frame.precision - 1));
    let top = f64::from((1u32 << frame.precision) - 1);
    let ri = usize::from(h.restart_interval);
    let mut r = BitReader::new(b, scan.data_start);
    let mut pred: i32 = 0;
    let mut rst = 0u8;
    let mut coef = [0i32; 64];
    let mut tmp = [0f64; 64];
    for blk in 0..bw * bh {
        if ri > 0 && blk > 0 && blk % ri == 0 {
            r.restart(rst)?;
            rst = (rst + 1) & 7;
            pred = 0;
        }
        if blk % bw == 0 && r.overrun() {
            return Err(JpegError::Truncated("DCT scan data"));
        }
        coef.fill(0);
        let s = r.symbol(&dc)?;
        if s > 15 {
            return Err(JpegError::Malformed(format!("DC category {s}")));
        }
        pred = pred.wrapping_add(r.receive_extend(s));
        coef[0] = pred * i32::from(q[0]);
        let mut k = 1;
        while k < 64 {
            let rs = r.symbol(&ac)?;
            let (run, size) = (usize::from(rs >> 4), rs & 15);
            if size == 0 {
                if run == 15 {
                    k += 16;
                    continue;
                }
                break;
            }
            k += run;
            if k > 63 {
                return Err(JpegError::Malformed("AC run past coefficient 63".into()));
            }
            coef[ZIGZAG[k]] = r.receive_extend(size) * i32::from(q[k]);
            k += 1;
        }
        // Rows: tmp[v][x] = Σu c[x][u] F(u, v)   (F indexed [v*8 + u]: v = row frequency).
        for v in 0..8 {
            let row = &coef[v * 8..v * 8 + 8];
            if row.iter().all(|&x| x == 0) {
                tmp[v * 8..v * 8 + 8].fill(0.0);
                continue;
            }
            for x in 0..8 {
                tmp[v * 8 + x] = (0..8).map(|u| c[x][u] * f64::from(row[u])).sum();
            }
        }
        let (bx, by) = (blk % bw, blk / bw);
        for y in 0..8 {
            let out = &mut plane[(by * 8 + y) * stride + bx * 8..][..8];
            for (x, o) in out.iter_mut().enumerate() {
                let f: f64 = (0..8).map(|v| c[y][v] * tmp[v * 8 + x]).sum();
                *o = (f + shift).round().clamp(0.0, top) as u16;
            }
        }
    }
    if r.overrun() {
        return Err(JpegError::Truncated("DCT scan data"));
    }
    let samples = if stride == w && bh * 8 == hgt {
        plane
    } else {
        (0..hgt).flat_map(|y| plane[y * stride..y * stride + w].iter().copied()).collect()
    };
    Ok(GreyImage { width: u32::from(frame.width), height: u32::from(frame.height), precision: frame.precision, samples })
}
