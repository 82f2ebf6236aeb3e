//! JPEG-LS (ITU-T T.87 / ISO 14495-1, LOCO-I) decoder for greyscale DICOM images: transfer
//! syntaxes 1.2.840.10008.1.2.4.80 (lossless) and .81 (near-lossless), in pure Rust so the
//! default build needs no cmake (CharLS, the C++ reference, stays available behind the
//! `jpegls` feature and decodes colour files).
//!
//! Follows T.87 Annex A and the CharLS implementation of it: default thresholds (C.2.4.1.1)
//! or an LSE preset (C.2.4.1.1, id 1); gradient quantisation and the 365 regular contexts
//! (A.3–A.4); MED prediction and bias correction (A.4, A.6); Golomb-coded mapped errors with the
//! LIMIT escape (A.5); run mode with the J table and run-interruption contexts 365/366 (A.7);
//! edge samples as in A.2.1 (Ra = Rb and Rc = the previous line's first-sample Ra at a line
//! start, Rd = Rb at a line end, zeros above the first line); marker bit stuffing (after `FF`
//! only 7 bits are data). One component, point transform 0, no restart interval; anything else
//! is [`JpegError::Unsupported`] (and decodes with `--features jpegls`).

use super::jpeg_stream::JpegError;

/// A decoded greyscale JPEG-LS image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsImage {
    pub width: u32,
    pub height: u32,
    /// Sample precision P (2–16).
    pub precision: u8,
    pub samples: Vec<u16>,
}

/// Run-length order table J (T.87 A.7.1.2).
const J: [u32; 32] = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// Reads JPEG-LS entropy-coded bits: a byte after `FF` carries 7 data bits (its MSB is a
/// stuffed 0); `FF` followed by a byte ≥ 0x80 is a marker, where the data ends.
struct LsBits<'a> {
    b: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
    prev_ff: bool,
    padded: u32,
}

impl<'a> LsBits<'a> {
    fn new(b: &'a [u8], pos: usize) -> Self {
        LsBits { b, pos, acc: 0, n: 0, prev_ff: false, padded: 0 }
    }

    fn fill(&mut self) {
        while self.n <= 48 {
            match self.b.get(self.pos) {
                Some(&byte) if !(self.prev_ff && byte & 0x80 != 0) => {
                    let bits = if self.prev_ff { 7 } else { 8 };
                    self.acc |= u64::from(byte & if bits == 7 { 0x7F } else { 0xFF }) << (64 - self.n - bits);
                    self.n += bits;
                    self.prev_ff = byte == 0xFF;
                    self.pos += 1;
                }
                _ => {
                    // Marker (or end of data): feed zeros, remember how many.
                    self.n += 8;
                    self.padded += 8;
                }
            }
        }
    }

    fn bits(&mut self, k: u32) -> u32 {
        if k == 0 {
            return 0;
        }
        if self.n < k {
            self.fill();
        }
        let v = (self.acc >> (64 - k)) as u32;
        self.acc <<= k;
        self.n -= k;
        v
    }

    fn bit(&mut self) -> bool {
        self.bits(1) == 1
    }

    /// Number of 0 bits before the next 1 (at most `max`).
    fn zeros(&mut self, max: u32) -> Result<u32, JpegError> {
        let mut q = 0;
        while !self.bit() {
            q += 1;
            if q > max || self.overrun() {
                return Err(JpegError::Malformed("JPEG-LS Golomb code too long".into()));
            }
        }
        Ok(q)
    }

    fn overrun(&self) -> bool {
        self.padded > self.n
    }

    /// Drop the bits left, then require `RSTn` (bytes already consumed are data bytes only).
    fn restart(&mut self, expected: u8) -> Result<(), JpegError> {
        if self.overrun() {
            return Err(JpegError::Truncated("JPEG-LS restart interval"));
        }
        let mut p = self.pos;
        while self.b.get(p) == Some(&0xFF) && self.b.get(p + 1) == Some(&0xFF) {
            p += 1;
        }
        match (self.b.get(p), self.b.get(p + 1)) {
            (Some(0xFF), Some(&m)) if m == 0xD0 + expected => {
                *self = LsBits::new(self.b, p + 2);
                Ok(())
            }
            _ => Err(JpegError::Malformed(format!("no RST{expected} marker at a JPEG-LS restart interval boundary"))),
        }
    }
}

/// Coding parameters (T.87 C.2.4.1.1 and A.2).
struct Params {
    maxval: i32,
    near: i32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i32,
    range: i32,
    qbpp: u32,
    limit: u32,
}

/// BASIC_T1..3 of T.87 C.2.4.1.1.
const BASIC_T: [i32; 3] = [3, 7, 21];

fn default_thresholds(maxval: i32, near: i32) -> (i32, i32, i32) {
    let clamp = |i: i32, j: i32| if i > maxval || i < j { j } else { i };
    let [b1, b2, b3] = BASIC_T;
    if maxval >= 128 {
        let f = (maxval.min(4095) + 128) / 256;
        let t1 = clamp(f * (b1 - 2) + 2 + 3 * near, near + 1);
        let t2 = clamp(f * (b2 - 3) + 3 + 5 * near, t1);
        let t3 = clamp(f * (b3 - 4) + 4 + 7 * near, t2);
        (t1, t2, t3)
    } else {
        let f = 256 / (maxval + 1);
        let t1 = clamp((b1 / f).max(2) + 3 * near, near + 1);
        let t2 = clamp((b2 / f).max(3) + 5 * near, t1);
        let t3 = clamp((b3 / f).max(4) + 7 * near, t2);
        (t1, t2, t3)
    }
}

fn ceil_log2(v: i32) -> u32 {
    let mut k = 0;
    while (1i64 << k) < i64::from(v) {
        k += 1;
    }
    k
}

/// Adaptive state of one scan (reset at every restart).
struct State {
    a: [i32; 367],
    b: [i32; 365],
    c: [i32; 365],
    n: [i32; 367],
    nn: [i32; 2],
    run_index: usize,
}

impl State {
    fn new(p: &Params) -> State {
        let a0 = 2.max((p.range + 32) / 64);
        State { a: [a0; 367], b: [0; 365], c: [0; 365], n: [1; 367], nn: [0; 2], run_index: 0 }
    }
}

fn golomb(r: &mut LsBits, k: u32, limit: u32, qbpp: u32) -> Result<i32, JpegError> {
    let high = r.zeros(limit)?;
    if high >= limit - (qbpp + 1) {
        return Ok(r.bits(qbpp) as i32 + 1);
    }
    if k > 16 {
        return Err(JpegError::Malformed("JPEG-LS Golomb parameter".into()));
    }
    Ok(((high as i32) << k) + r.bits(k) as i32)
}

fn reconstruct(p: &Params, px: i32, err: i32) -> i32 {
    let mut v = px + err * (2 * p.near + 1);
    if v < -p.near {
        v += p.range * (2 * p.near + 1);
    } else if v > p.maxval + p.near {
        v -= p.range * (2 * p.near + 1);
    }
    v.clamp(0, p.maxval)
}

fn quantize(p: &Params, d: i32) -> i32 {
    if d <= -p.t3 {
        -4
    } else if d <= -p.t2 {
        -3
    } else if d <= -p.t1 {
        -2
    } else if d < -p.near {
        -1
    } else if d <= p.near {
        0
    } else if d < p.t1 {
        1
    } else if d < p.t2 {
        2
    } else if d < p.t3 {
        3
    } else {
        4
    }
}

/// Regular-mode sample (A.3–A.6).
fn regular(p: &Params, s: &mut State, r: &mut LsBits, qs: i32, pred: i32) -> Result<i32, JpegError> {
    let sign = if qs < 0 { -1 } else { 1 };
    let q = qs.unsigned_abs() as usize;
    let mut k = 0;
    while (s.n[q] << k) < s.a[q] {
        k += 1;
        if k > 24 {
            return Err(JpegError::Malformed("JPEG-LS context state".into()));
        }
    }
    let px = (pred + sign * s.c[q]).clamp(0, p.maxval);
    let m = golomb(r, k, p.limit, p.qbpp)?;
    let mut err = (m >> 1) ^ -(m & 1);
    if k == 0 && p.near == 0 && 2 * s.b[q] + s.n[q] - 1 < 0 {
        err = !err;
    }
    // Context update (A.6.1, A.6.2).
    s.b[q] += err * (2 * p.near + 1);
    s.a[q] += err.abs();
    if s.n[q] == p.reset {
        s.a[q] >>= 1;
        s.b[q] >>= 1;
        s.n[q] >>= 1;
    }
    s.n[q] += 1;
    if s.b[q] + s.n[q] <= 0 {
        s.b[q] += s.n[q];
        if s.b[q] <= -s.n[q] {
            s.b[q] = -s.n[q] + 1;
        }
        if s.c[q] > -128 {
            s.c[q] -= 1;
        }
    } else if s.b[q] > 0 {
        s.b[q] -= s.n[q];
        if s.b[q] > 0 {
            s.b[q] = 0;
        }
        if s.c[q] < 127 {
            s.c[q] += 1;
        }
    }
    Ok(reconstruct(p, px, sign * err))
}

/// Run-interruption sample (A.7.2).
fn interruption(p: &Params, s: &mut State, r: &mut LsBits, ra: i32, rb: i32) -> Result<i32, JpegError> {
    let ri = usize::from((ra - rb).abs() <= p.near);
    let q = 365 + ri;
    let temp = s.a[q] + (s.n[q] >> 1) * ri as i32;
    let mut k = 0;
    while (s.n[q] << k) < temp {
        k += 1;
        if k > 24 {
            return Err(JpegError::Malformed("JPEG-LS context state".into()));
        }
    }
    let limit = p.limit - J[s.run_index] - 1;
    let em = golomb(r, k, limit, p.qbpp)?;
    let t = em + ri as i32;
    let map = t & 1;
    let abs = (t + map) / 2;
    let negative = (k != 0 || 2 * s.nn[ri] >= s.n[q]) == (map == 1);
    let err = if negative { -abs } else { abs };
    if err < 0 {
        s.nn[ri] += 1;
    }
    s.a[q] += (em + 1 - ri as i32) >> 1;
    if s.n[q] == p.reset {
        s.a[q] >>= 1;
        s.n[q] >>= 1;
        s.nn[ri] >>= 1;
    }
    s.n[q] += 1;
    Ok(if ri == 1 {
        reconstruct(p, ra, err)
    } else {
        reconstruct(p, rb, if rb < ra { -err } else { err })
    })
}

fn be16(b: &[u8], at: usize) -> Result<u16, JpegError> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]])).ok_or(JpegError::Truncated("JPEG-LS marker segment"))
}

/// The sample precision P of a JPEG-LS stream's SOF55 header, if it has one.
pub fn precision(b: &[u8]) -> Option<u8> {
    let i = b.windows(2).position(|w| w == [0xFF, 0xF7])?;
    b.get(i + 4).copied()
}

/// Decodes a greyscale JPEG-LS stream.
pub fn decode(b: &[u8]) -> Result<LsImage, JpegError> {
    if b.len() < 4 || b[0] != 0xFF || b[1] != 0xD8 {
        return Err(JpegError::Malformed("no SOI marker".into()));
    }
    let mut pos = 2;
    let (mut precision, mut width, mut height) = (0u8, 0usize, 0usize);
    let mut preset: Option<(i32, i32, i32, i32, i32)> = None;
    let mut restart = 0usize;
    let (near, data_start) = loop {
        while pos < b.len() && b[pos] != 0xFF {
            pos += 1;
        }
        while pos + 1 < b.len() && b[pos + 1] == 0xFF {
            pos += 1;
        }
        if pos + 3 >= b.len() {
            return Err(JpegError::Truncated("JPEG-LS headers"));
        }
        let m = b[pos + 1];
        let len = usize::from(be16(b, pos + 2)?);
        let seg = b.get(pos + 4..pos + 2 + len).ok_or(JpegError::Truncated("JPEG-LS marker segment"))?;
        if len < 2 {
            return Err(JpegError::Malformed("marker segment length".into()));
        }
        match m {
            0xF7 => {
                if seg.len() < 6 {
                    return Err(JpegError::Truncated("SOF55"));
                }
                precision = seg[0];
                height = usize::from(u16::from_be_bytes([seg[1], seg[2]]));
                width = usize::from(u16::from_be_bytes([seg[3], seg[4]]));
                if seg[5] != 1 {
                    return Err(JpegError::Unsupported(format!("JPEG-LS with {} components (build with --features jpegls)", seg[5])));
                }
            }
            0xF8 => {
                if seg.first() == Some(&1) && seg.len() >= 11 {
                    let v = |i: usize| i32::from(u16::from_be_bytes([seg[i], seg[i + 1]]));
                    preset = Some((v(1), v(3), v(5), v(7), v(9)));
                } else {
                    return Err(JpegError::Unsupported("JPEG-LS LSE other than preset parameters".into()));
                }
            }
            0xDD => restart = usize::from(be16(seg, 0)?),
            0xDA => {
                if seg.len() < 6 || seg[0] != 1 {
                    return Err(JpegError::Unsupported("JPEG-LS scan with more than one component".into()));
                }
                let (near, pt) = (i32::from(seg[3]), seg[5] & 15);
                if pt != 0 {
                    return Err(JpegError::Unsupported("JPEG-LS point transform".into()));
                }
                break (near, pos + 2 + len);
            }
            0xD9 => return Err(JpegError::Truncated("JPEG-LS stream without scan")),
            0xC0..=0xCF if m != 0xC4 && m != 0xCC && m != 0xC8 => {
                return Err(JpegError::Unsupported(format!("marker FF{m:02X} is not JPEG-LS")));
            }
            _ => {}
        }
        pos += 2 + len;
    };
    if restart != 0 {
        // Not produced by the encoders DICOM archives use and not covered by a reference file
        // here: refused rather than guessed.
        return Err(JpegError::Unsupported("JPEG-LS restart interval (build with --features jpegls)".into()));
    }
    if !(2..=16).contains(&precision) || width == 0 || height == 0 {
        return Err(JpegError::Malformed(format!("JPEG-LS frame {width}x{height}, precision {precision}")));
    }
    if width * height > b.len().saturating_mul(8).saturating_mul(64) {
        return Err(JpegError::Truncated("JPEG-LS data shorter than the frame size needs"));
    }
    let mut maxval = (1i32 << precision) - 1;
    let (mut t, mut reset) = (None, 64);
    if let Some((mv, t1, t2, t3, rs)) = preset {
        if mv > 0 {
            maxval = mv;
        }
        if t1 > 0 && t2 > 0 && t3 > 0 {
            t = Some((t1, t2, t3));
        }
        if rs > 0 {
            reset = rs;
        }
    }
    if near < 0 || near > (maxval / 2).min(255) {
        return Err(JpegError::Malformed(format!("NEAR {near}")));
    }
    let (t1, t2, t3) = t.unwrap_or_else(|| default_thresholds(maxval, near));
    let range = (maxval + 2 * near) / (2 * near + 1) + 1;
    let qbpp = ceil_log2(range);
    let bpp = 2.max(ceil_log2(maxval + 1));
    let limit = 2 * (bpp + bpp.max(8));
    let p = Params { maxval, near, t1, t2, t3, reset, range, qbpp, limit };

    // Line buffers with one extra sample on each side (index 0 = left edge, w + 1 = right).
    let w = width;
    let mut prev = vec![0i32; w + 2];
    let mut cur = vec![0i32; w + 2];
    let mut out = Vec::with_capacity(w * height);
    let mut r = LsBits::new(b, data_start);
    let mut s = State::new(&p);
    let lines_per_interval = if restart == 0 { usize::MAX } else { restart.max(1) };
    let mut rst = 0u8;
    for y in 0..height {
        if y > 0 && y % lines_per_interval == 0 {
            r.restart(rst)?;
            rst = (rst + 1) & 7;
            s = State::new(&p);
            prev.iter_mut().for_each(|v| *v = 0);
        }
        prev[w + 1] = prev[w];
        cur[0] = prev[1];
        let mut x = 1;
        while x <= w {
            let (ra, rb, rc, rd) = (cur[x - 1], prev[x], prev[x - 1], prev[x + 1]);
            let (q1, q2, q3) = (quantize(&p, rd - rb), quantize(&p, rb - rc), quantize(&p, rc - ra));
            let qs = (q1 * 9 + q2) * 9 + q3;
            if qs != 0 {
                let pred = if rc >= ra.max(rb) {
                    ra.min(rb)
                } else if rc <= ra.min(rb) {
                    ra.max(rb)
                } else {
                    ra + rb - rc
                };
                cur[x] = regular(&p, &mut s, &mut r, qs, pred)?;
                x += 1;
                continue;
            }
            // Run mode (A.7.1): runs of Ra, ended by the line end or an interruption sample.
            let left = w - x + 1;
            let mut run = 0usize;
            while r.bit() {
                let count = (1usize << J[s.run_index]).min(left - run);
                run += count;
                if count == 1 << J[s.run_index] {
                    s.run_index = (s.run_index + 1).min(31);
                }
                if run == left {
                    break;
                }
                if r.overrun() {
                    return Err(JpegError::Truncated("JPEG-LS run"));
                }
            }
            if run != left {
                run += r.bits(J[s.run_index]) as usize;
            }
            if run > left {
                return Err(JpegError::Malformed("JPEG-LS run past the line end".into()));
            }
            cur[x..x + run].iter_mut().for_each(|v| *v = ra);
            x += run;
            if x <= w {
                cur[x] = interruption(&p, &mut s, &mut r, ra, prev[x])?;
                s.run_index = s.run_index.saturating_sub(1);
                x += 1;
            }
        }
        if r.overrun() {
            return Err(JpegError::Truncated("JPEG-LS scan data"));
        }
        out.extend(cur[1..=w].iter().map(|&v| v as u16));
        std::mem::swap(&mut prev, &mut cur);
        cur[0] = 0;
    }
    if r.overrun() {
        return Err(JpegError::Truncated("JPEG-LS scan data"));
    }
    Ok(LsImage { width: width as u32, height: height as u32, precision, samples: out })
}
