//! Shared pieces of the two JPEG decoders written for DICOM (lossless process 14 in
//! [`super::jpeg_lossless`], 12-bit extended DCT in [`super::jpeg12`]): the marker-segment
//! parser, Huffman tables (ITU-T T.81 Annex C, F.2.2.3) and the entropy-coded-segment bit reader
//! with byte un-stuffing and restart markers (T.81 B.1.1.5, F.2.2.5).
//!
//! Everything returns [`JpegError`] on malformed input; nothing here panics on any input.

/// Why a JPEG stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    /// The stream ended before the image was complete.
    #[error("JPEG stream truncated ({0})")]
    Truncated(&'static str),
    /// A marker segment or the entropy-coded data breaks a rule of T.81.
    #[error("malformed JPEG: {0}")]
    Malformed(String),
    /// A legal JPEG feature this decoder does not implement.
    #[error("unsupported JPEG: {0}")]
    Unsupported(String),
}

/// One frame component (T.81 B.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    pub id: u8,
    pub h: u8,
    pub v: u8,
    pub tq: u8,
}

/// Frame header (SOFn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// SOF marker's low nibble: 0 baseline, 1 extended, 2 progressive, 3 lossless, ...
    pub sof: u8,
    pub precision: u8,
    pub height: u16,
    pub width: u16,
    pub components: Vec<Component>,
}

/// Scan header (SOS) and where its entropy-coded data starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// (index into `Frame::components`, DC/lossless table, AC table) per scan component.
    pub components: Vec<(usize, u8, u8)>,
    /// Ss: predictor selection (lossless) or spectral start.
    pub ss: u8,
    /// Se: spectral end (63 for sequential DCT, 0 for lossless).
    pub se: u8,
    /// Al: point transform (lossless) / successive approximation low bit.
    pub al: u8,
    /// Offset of the first entropy-coded byte.
    pub data_start: usize,
}

/// A canonical Huffman table (T.81 C, F.2.2.3) with a 9-bit lookup for short codes.
#[derive(Debug, Clone)]
pub struct Huffman {
    /// `(code length, value)` for every 9-bit prefix whose code is ≤ 9 bits; length 0 = slow.
    fast: Vec<(u8, u8)>,
    maxcode: [i32; 18],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
}

const FAST: u32 = 9;

impl Huffman {
    /// Builds a table from the 16 code-length counts and the values (T.81 Annex C).
    pub fn new(counts: &[u8; 16], values: Vec<u8>) -> Result<Huffman, JpegError> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total != values.len() || total > 256 {
            return Err(JpegError::Malformed("Huffman table counts do not match its values".into()));
        }
        let mut maxcode = [-1i32; 18];
        let mut valptr = [0i32; 17];
        let mut mincode = [0i32; 17];
        let mut fast = vec![(0u8, 0u8); 1 << FAST];
        let mut code: i32 = 0;
        let mut k = 0usize;
        for len in 1..=16usize {
            let n = i32::from(counts[len - 1]);
            valptr[len] = k as i32;
            mincode[len] = code;
            for _ in 0..n {
                if len as u32 <= FAST {
                    let shift = FAST - len as u32;
                    let base = (code as usize) << shift;
                    for e in fast.iter_mut().skip(base).take(1 << shift) {
                        *e = (len as u8, values[k]);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                maxcode[len] = code - 1;
            }
            if code > (1 << len) {
                return Err(JpegError::Malformed("Huffman code lengths overflow".into()));
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        Ok(Huffman { fast, maxcode, valptr, mincode, values })
    }
}

/// Reads bits from an entropy-coded segment: `FF 00` is a data byte `FF`; any other marker
/// stops the data (zeros are fed after it, and [`BitReader::marker_seen`] tells).
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    nbits: u32,
    marker: bool,
    /// Zero bits fed after the marker / end of data (not yet consumed: `nbits` of them at most).
    padded: u32,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        BitReader { data, pos, buf: 0, nbits: 0, marker: false, padded: 0 }
    }

    fn fill(&mut self) {
        while self.nbits <= 56 {
            let mut byte = 0u8;
            if self.marker {
                self.padded += 8;
            } else {
                match self.data.get(self.pos) {
                    None => {
                        self.marker = true;
                        self.padded += 8;
                    }
                    Some(&0xFF) => match self.data.get(self.pos + 1) {
                        Some(0x00) => {
                            byte = 0xFF;
                            self.pos += 2;
                        }
                        _ => {
                            self.marker = true;
                            self.padded += 8;
                        }
                    },
                    Some(&b) => {
                        byte = b;
                        self.pos += 1;
                    }
                }
            }
            self.buf |= u64::from(byte) << (56 - self.nbits);
            self.nbits += 8;
        }
    }

    /// True when more bits were consumed than the segment holds (truncated or corrupt data:
    /// an encoder pads the last byte with 1-bits, never needs bits past the marker).
    pub fn overrun(&self) -> bool {
        self.padded > self.nbits
    }

    /// The next `n` (≤ 16) bits.
    #[inline]
    pub fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.nbits < n {
            self.fill();
        }
        let v = (self.buf >> (64 - n)) as u32;
        self.buf <<= n;
        self.nbits -= n;
        v
    }

    /// Decodes one Huffman symbol.
    #[inline]
    pub fn symbol(&mut self, h: &Huffman) -> Result<u8, JpegError> {
        if self.nbits < 16 {
            self.fill();
        }
        let peek = (self.buf >> (64 - FAST)) as usize;
        let (len, val) = h.fast[peek];
        if len > 0 {
            self.buf <<= len;
            self.nbits -= u32::from(len);
            return Ok(val);
        }
        let mut code = 0i32;
        for len in 1..=16usize {
            code = (code << 1) | self.bits(1) as i32;
            if code <= h.maxcode[len] && h.maxcode[len] >= 0 {
                let i = h.valptr[len] + code - h.mincode[len];
                return h.values.get(i as usize).copied().ok_or_else(|| JpegError::Malformed("bad Huffman code".into()));
            }
        }
        if self.overrun() {
            Err(JpegError::Truncated("entropy-coded data"))
        } else {
            Err(JpegError::Malformed("bad Huffman code".into()))
        }
    }

    /// `RECEIVE(s)` then `EXTEND` (T.81 F.2.2.1): a signed value of magnitude category `s` ≤ 16.
    #[inline]
    pub fn receive_extend(&mut self, s: u8) -> i32 {
        if s == 0 {
            return 0;
        }
        let s = u32::from(s.min(16));
        let v = self.bits(s) as i32;
        if v < (1 << (s - 1)) { v - (1 << s) + 1 } else { v }
    }

    /// At a restart boundary: drop the bits left in the byte, then require marker `RSTn`
    /// with `n = expected` (T.81 F.2.2.5; fill bytes `FF` before it are allowed).
    pub fn restart(&mut self, expected: u8) -> Result<(), JpegError> {
        if self.overrun() {
            return Err(JpegError::Truncated("restart interval"));
        }
        self.buf = 0;
        self.nbits = 0;
        self.marker = false;
        self.padded = 0;
        let mut p = self.pos;
        while self.data.get(p) == Some(&0xFF) && self.data.get(p + 1) == Some(&0xFF) {
            p += 1;
        }
        match (self.data.get(p), self.data.get(p + 1)) {
            (Some(0xFF), Some(&m)) if m == 0xD0 + expected => {
                self.pos = p + 2;
                Ok(())
            }
            (Some(0xFF), Some(&m)) => Err(JpegError::Malformed(format!(
                "marker FF{m:02X} where RST{expected} was expected"
            ))),
            _ => Err(JpegError::Malformed(format!("no RST{expected} marker at a restart interval boundary"))),
        }
    }

    /// Byte offset after the data consumed so far (the next marker once the scan is done).
    pub fn position(&self) -> usize {
        self.pos
    }
}

fn be16(b: &[u8], at: usize) -> Result<u16, JpegError> {
    b.get(at..at + 2)
        .map(|s| u16::from_be_bytes([s[0], s[1]]))
        .ok_or(JpegError::Truncated("marker segment"))
}

/// Tables and headers collected while walking the marker segments.
#[derive(Default)]
pub struct Headers {
    pub frame: Option<Frame>,
    pub dc: [Option<Huffman>; 4],
    pub ac: [Option<Huffman>; 4],
    /// Quantisation tables in zig-zag order (16-bit entries allowed for 12-bit).
    pub dqt: [Option<[u16; 64]>; 4],
    pub restart_interval: u16,
}

/// Walks marker segments from `pos` (after SOI, or after a scan's data) up to the next SOS,
/// updating `h`. Returns `Ok(None)` at EOI (or at the end of the data after at least one scan).
pub fn next_scan(b: &[u8], mut pos: usize, h: &mut Headers) -> Result<Option<Scan>, JpegError> {
    loop {
        // Skip to a marker: fill bytes FF, and tolerate stray bytes after a scan's data.
        while pos < b.len() && b[pos] != 0xFF {
            pos += 1;
        }
        while pos + 1 < b.len() && b[pos + 1] == 0xFF {
            pos += 1;
        }
        if pos + 1 >= b.len() {
            return if h.frame.is_some() { Ok(None) } else { Err(JpegError::Truncated("no frame header")) };
        }
        let m = b[pos + 1];
        pos += 2;
        match m {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xD9 => return Ok(None),
            _ => {}
        }
        let len = usize::from(be16(b, pos)?);
        if len < 2 || pos + len > b.len() {
            return Err(JpegError::Truncated("marker segment"));
        }
        let seg = &b[pos + 2..pos + len];
        let next = pos + len;
        match m {
            0xC0..=0xCF if m != 0xC4 && m != 0xC8 && m != 0xCC => {
                if h.frame.is_some() {
                    return Err(JpegError::Unsupported("more than one frame (hierarchical)".into()));
                }
                if seg.len() < 6 {
                    return Err(JpegError::Truncated("frame header"));
                }
                let nf = usize::from(seg[5]);
                if nf == 0 || seg.len() < 6 + 3 * nf {
                    return Err(JpegError::Malformed("frame header component count".into()));
                }
                let components = (0..nf)
                    .map(|i| {
                        let c = &seg[6 + 3 * i..9 + 3 * i];
                        Component { id: c[0], h: c[1] >> 4, v: c[1] & 15, tq: c[2] & 3 }
                    })
                    .collect();
                h.frame = Some(Frame {
                    sof: m - 0xC0,
                    precision: seg[0],
                    height: u16::from_be_bytes([seg[1], seg[2]]),
                    width: u16::from_be_bytes([seg[3], seg[4]]),
                    components,
                });
            }
            0xC4 => {
                let mut s = seg;
                while !s.is_empty() {
                    if s.len() < 17 {
                        return Err(JpegError::Truncated("Huffman table"));
                    }
                    let (class, id) = (s[0] >> 4, usize::from(s[0] & 15));
                    let mut counts = [0u8; 16];
                    counts.copy_from_slice(&s[1..17]);
                    let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    if s.len() < 17 + n || id > 3 || class > 1 {
                        return Err(JpegError::Malformed("Huffman table segment".into()));
                    }
                    let t = Huffman::new(&counts, s[17..17 + n].to_vec())?;
                    if class == 0 { h.dc[id] = Some(t) } else { h.ac[id] = Some(t) }
                    s = &s[17 + n..];
                }
            }
            0xDB => {
                let mut s = seg;
                while !s.is_empty() {
                    let (pq, id) = (s[0] >> 4, usize::from(s[0] & 15));
                    let size = if pq == 0 { 64 } else { 128 };
                    if s.len() < 1 + size || id > 3 {
                        return Err(JpegError::Malformed("quantisation table segment".into()));
                    }
                    let mut q = [0u16; 64];
                    for (k, e) in q.iter_mut().enumerate() {
                        *e = if pq == 0 { u16::from(s[1 + k]) } else { u16::from_be_bytes([s[1 + 2 * k], s[2 + 2 * k]]) };
                    }
                    h.dqt[id] = Some(q);
                    s = &s[1 + size..];
                }
            }
            0xDD => h.restart_interval = be16(seg, 0)?,
            0xDA => {
                let ns = usize::from(*seg.first().ok_or(JpegError::Truncated("scan header"))?);
                if ns == 0 || ns > 4 || seg.len() < 4 + 2 * ns {
                    return Err(JpegError::Malformed("scan header".into()));
                }
                let frame = h.frame.as_ref().ok_or_else(|| JpegError::Malformed("scan before frame header".into()))?;
                let mut components = Vec::with_capacity(ns);
                for i in 0..ns {
                    let (cs, t) = (seg[1 + 2 * i], seg[2 + 2 * i]);
                    let idx = frame
                        .components
                        .iter()
                        .position(|c| c.id == cs)
                        .ok_or_else(|| JpegError::Malformed(format!("scan component {cs} not in the frame")))?;
                    components.push((idx, (t >> 4) & 3, t & 3));
                }
                let p = 1 + 2 * ns;
                return Ok(Some(Scan { components, ss: seg[p], se: seg[p + 1], al: seg[p + 2] & 15, data_start: next }));
            }
            0xDC => return Err(JpegError::Unsupported("DNL marker (height defined after the scan)".into())),
            _ => {} // APPn, COM, DAC, EXP, ...: skipped
        }
        pos = next;
    }
}
