//! Sequences stored as UN (PS3.5 6.2.2, CP-246), re-encoded so that dicom-object reads the file
//! the way pydicom, GDCM and DCMTK do.
//!
//! A system that does not know an attribute (a vendor's private sequence, Philips groups
//! 2001/2005; a newer standard sequence such as UDI Sequence (0018,100A)) writes it with VR UN.
//! The value stays what it was: a sequence encoded in *Implicit VR Little Endian*, whatever
//! the file's transfer syntax. With an undefined length (the common case) dicom-object reads the
//! items as explicit VR and fails ("could not read data set token", dicom-rs issue 169); with a
//! defined length it keeps the bytes, so a standard sequence read that way would be lost.
//!
//! The same module handles the implicit-VR counterpart pydicom also reads: a standard sequence
//! tag whose value is text, not items ([`drop_text_in_implicit_sequences`]).
//!
//! [`reencode`] walks an explicit-VR data set (little or big endian) and writes it again with:
//! every UN element of undefined length, and every UN element of defined length whose tag the
//! standard dictionary lists as SQ, written as an SQ of undefined length whose items' elements
//! are transcoded from implicit VR (nested undefined-length elements and dictionary sequences
//! become SQ again; other elements keep their bytes with VR UN, the way pydicom keeps a value it
//! cannot type). Sequences and items around them are written with undefined lengths and
//! delimitation items, so no enclosing length has to be recomputed; everything else is copied
//! byte for byte. Returns `None` when the data set has no such element (the bytes are used as
//! they are). Errors (a length past the end, a missing delimiter) are messages naming the byte
//! offset; the caller then parses the original bytes, whose length check names the damage.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// VRs with a 16-bit length in explicit VR (PS3.5 Table 7.1-2).
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH",
    b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];
const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQ_END: (u16, u16) = (0xFFFE, 0xE0DD);
/// Nesting deeper than this is refused (a damaged file must not exhaust the stack).
const MAX_DEPTH: usize = 64;

/// True when the standard dictionary gives `tag` the VR SQ.
fn dictionary_sq(tag: (u16, u16)) -> bool {
    StandardDataDictionary.by_tag(Tag(tag.0, tag.1)).is_some_and(|e| matches!(e.vr(), VirtualVr::Exact(VR::SQ)))
}

/// What [`Writer::header`] found.
enum Step {
    /// The stretch ends; continue after this offset.
    Done(usize),
    /// An element or item header: tag and 32-bit length.
    Next((u16, u16), u32),
}

struct Writer<'a> {
    b: &'a [u8],
    /// Byte order of the file's data set (tags and lengths of what is written).
    be: bool,
    out: Vec<u8>,
    changed: bool,
    depth: usize,
}

impl Writer<'_> {
    fn u16_at(&self, i: usize, be: bool) -> Result<u16, String> {
        let s: [u8; 2] = self.b.get(i..i + 2).and_then(|s| s.try_into().ok()).ok_or(format!("truncated at byte {i}"))?;
        Ok(if be { u16::from_be_bytes(s) } else { u16::from_le_bytes(s) })
    }

    fn u32_at(&self, i: usize, be: bool) -> Result<u32, String> {
        let s: [u8; 4] = self.b.get(i..i + 4).and_then(|s| s.try_into().ok()).ok_or(format!("truncated at byte {i}"))?;
        Ok(if be { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
    }

    fn tag_at(&self, i: usize, be: bool) -> Result<(u16, u16), String> {
        Ok((self.u16_at(i, be)?, self.u16_at(i + 2, be)?))
    }

    fn put16(&mut self, v: u16) {
        self.out.extend(if self.be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn put32(&mut self, v: u32) {
        self.out.extend(if self.be { v.to_be_bytes() } else { v.to_le_bytes() });
    }

    fn put_tag(&mut self, (g, e): (u16, u16)) {
        self.put16(g);
        self.put16(e);
    }

    /// An explicit-VR header with a 32-bit length (`vr` is OB/OW/SQ/UN/…).
    fn put_long_header(&mut self, tag: (u16, u16), vr: &[u8; 2], len: u32) {
        self.put_tag(tag);
        self.out.extend(vr);
        self.out.extend([0, 0]);
        self.put32(len);
    }

    fn copy(&mut self, from: usize, to: usize) -> Result<(), String> {
        let s = self.b.get(from..to).ok_or(format!("value at byte {from} runs past the end"))?;
        self.out.extend_from_slice(s);
        Ok(())
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH { Err(format!("sequences nested deeper than {MAX_DEPTH}")) } else { Ok(()) }
    }

    /// Explicit-VR elements from `pos` to `end` (defined length), or to an Item Delimitation
    /// Item (consumed) when `end` is `None` (or the end of the bytes at the top level).
    fn explicit(&mut self, mut pos: usize, end: Option<usize>, top: bool) -> Result<usize, String> {
        loop {
            if end.is_some_and(|e| pos >= e) || (top && pos + 8 > self.b.len()) {
                if top {
                    self.copy(pos, self.b.len())?;
                    return Ok(self.b.len());
                }
                return Ok(pos);
            }
            // The File Meta group is explicit VR little endian in every file.
            let be = self.be && self.u16_at(pos, false)? != 0x0002;
            let tag = self.tag_at(pos, be)?;
            if tag == ITEM_END && end.is_none() && !top {
                return Ok(pos + 8);
            }
            let vr: [u8; 2] = self.b.get(pos + 4..pos + 6).and_then(|s| s.try_into().ok()).ok_or(format!("truncated at byte {pos}"))?;
            if SHORT_VRS.iter().any(|v| **v == vr) {
                let len = usize::from(self.u16_at(pos + 6, be)?);
                self.copy(pos, pos + 8 + len)?;
                pos += 8 + len;
                continue;
            }
            let len = self.u32_at(pos + 8, be)?;
            let un_sequence = &vr == b"UN" && (len == UNDEFINED || dictionary_sq(tag));
            if &vr == b"SQ" || un_sequence {
                self.changed |= un_sequence;
                pos = self.sequence(tag, pos + 12, len, un_sequence)?;
                continue;
            }
            if len == UNDEFINED {
                // Encapsulated Pixel Data: fragments (items of defined length) up to the
                // Sequence Delimitation Item, copied as they are.
                let mut p = pos + 12;
                loop {
                    let t = self.tag_at(p, self.be)?;
                    let l = self.u32_at(p + 4, self.be)? as usize;
                    p += 8;
                    if t == SEQ_END {
                        break;
                    }
                    if t != ITEM || l == UNDEFINED as usize {
                        return Err(format!("unexpected {:04X},{:04X} in undefined-length element at byte {pos}", t.0, t.1));
                    }
                    p += l;
                }
                self.copy(pos, p)?;
                pos = p;
                continue;
            }
            let next = pos + 12 + len as usize;
            self.copy(pos, next)?;
            pos = next;
        }
    }

    /// The tag and 32-bit length at `pos` (byte order `be`), or where the stretch ends: at
    /// `end` (defined length), or after `delimiter` when the length is undefined.
    fn header(&self, pos: usize, end: Option<usize>, be: bool, delimiter: (u16, u16)) -> Result<Step, String> {
        if end.is_some_and(|e| pos >= e) {
            return Ok(Step::Done(pos));
        }
        let tag = self.tag_at(pos, be)?;
        if tag == delimiter && end.is_none() {
            return Ok(Step::Done(pos + 8));
        }
        Ok(Step::Next(tag, self.u32_at(pos + 4, be)?))
    }

    /// Writes sequence `tag` whose items start at `start` (value length `len`, possibly
    /// undefined) as an SQ of undefined length with a Sequence Delimitation Item; returns the
    /// offset after it. `implicit`: the items are Implicit VR Little Endian.
    fn sequence(&mut self, tag: (u16, u16), start: usize, len: u32, implicit: bool) -> Result<usize, String> {
        self.put_long_header(tag, b"SQ", UNDEFINED);
        let stop = (len != UNDEFINED).then(|| start + len as usize);
        self.enter()?;
        let pos = self.items(start, stop, implicit)?;
        self.depth -= 1;
        self.put_tag(SEQ_END);
        self.put32(0);
        Ok(pos)
    }

    /// The items of a sequence from `pos` to `end`, or to the Sequence Delimitation Item
    /// (consumed); each written with undefined length. `implicit`: the items' content is
    /// Implicit VR Little Endian (a UN sequence), and so are their tags and lengths.
    fn items(&mut self, mut pos: usize, end: Option<usize>, implicit: bool) -> Result<usize, String> {
        let be = self.be && !implicit;
        loop {
            let (tag, len) = match self.header(pos, end, be, SEQ_END)? {
                Step::Done(at) => return Ok(at),
                Step::Next(tag, len) => (tag, len),
            };
            if tag != ITEM {
                return Err(format!("expected an item at byte {pos}, found ({:04X},{:04X})", tag.0, tag.1));
            }
            self.put_tag(ITEM);
            self.put32(UNDEFINED);
            let stop = (len != UNDEFINED).then(|| pos + 8 + len as usize);
            if stop.is_some_and(|s| s > self.b.len()) {
                return Err(format!("item at byte {pos} runs past the end"));
            }
            pos = if implicit { self.implicit(pos + 8, stop)? } else { self.explicit(pos + 8, stop, false)? };
            self.put_tag(ITEM_END);
            self.put32(0);
        }
    }

    /// Implicit VR Little Endian elements of a UN sequence's item, written as explicit VR:
    /// undefined lengths and dictionary sequences as SQ, everything else as UN with its bytes.
    fn implicit(&mut self, mut pos: usize, end: Option<usize>) -> Result<usize, String> {
        loop {
            let (tag, len) = match self.header(pos, end, false, ITEM_END)? {
                Step::Done(at) => return Ok(at),
                Step::Next(tag, len) => (tag, len),
            };
            if len == UNDEFINED || dictionary_sq(tag) {
                pos = self.sequence(tag, pos + 8, len, true)?;
                continue;
            }
            let next = pos + 8 + len as usize;
            if next > self.b.len() {
                return Err(format!("element ({:04X},{:04X}) at byte {pos} runs past the end", tag.0, tag.1));
            }
            self.put_long_header(tag, b"UN", len);
            self.copy(pos + 8, next)?;
            pos = next;
        }
    }
}

/// Re-encodes the explicit-VR data set `bytes` (File Meta group first, if present) with its UN
/// sequences as SQ (see the module docs). `big_endian`: the data set's byte order (Explicit VR
/// Big Endian). `Ok(None)`: nothing to change.
pub fn reencode(bytes: &[u8], big_endian: bool) -> Result<Option<Vec<u8>>, String> {
    // Cheap test first: no "UN" VR bytes before the Pixel Data element (which comes last, and
    // whose compressed bytes hold any pattern) means no UN element to re-encode.
    let tag = if big_endian { [0x7F, 0xE0, 0x00, 0x10] } else { [0xE0, 0x7F, 0x10, 0x00] };
    let head = bytes.windows(4).position(|w| w == tag).map_or(bytes, |i| &bytes[..i]);
    if !head.windows(2).any(|w| w == b"UN") {
        return Ok(None);
    }
    let mut w = Writer { b: bytes, be: big_endian, out: Vec::with_capacity(bytes.len() + 256), changed: false, depth: 0 };
    w.explicit(0, None, true)?;
    Ok(w.changed.then_some(w.out))
}

/// Sequence attributes the decoder reads (PS3.3 C.11.1, C.11.2, C.7.6.16): never dropped by
/// [`drop_text_in_implicit_sequences`], so a damaged one is still an error.
const READ_SEQUENCES: [(u16, u16); 4] = [(0x0028, 0x3000), (0x0028, 0x3010), (0x5200, 0x9229), (0x5200, 0x9230)];

/// The end of an undefined-length implicit-VR value starting at `pos` (its items or fragments
/// up to the Sequence Delimitation Item).
fn skip_undefined(b: &[u8], mut pos: usize, depth: usize) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(format!("sequences nested deeper than {MAX_DEPTH}"));
    }
    let w = Writer { b, be: false, out: Vec::new(), changed: false, depth: 0 };
    loop {
        let tag = w.tag_at(pos, false)?;
        let len = w.u32_at(pos + 4, false)?;
        pos += 8;
        match tag {
            SEQ_END | ITEM_END => return Ok(pos),
            _ if len == UNDEFINED => pos = skip_undefined(b, pos, depth + 1)?,
            _ => pos = pos.checked_add(len as usize).filter(|&p| p <= b.len()).ok_or(format!("value at byte {pos} runs past the end"))?,
        }
    }
}

/// An Implicit VR Little Endian data set (`bytes` start at its first element) without the
/// top-level elements whose dictionary VR is SQ but whose defined-length value holds no item —
/// e.g. an anonymiser's name written into De-identification Method Code Sequence (0012,0064)
/// (fo-dicom issue 2183). pydicom and GDCM read such files (the value is only parsed when
/// asked for); dicom-object parses every sequence and fails. Sequences the decoder reads are
/// kept (their damage stays an error). `Ok(None)`: nothing to drop. Errors name the byte offset.
pub fn drop_text_in_implicit_sequences(bytes: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let w = Writer { b: bytes, be: false, out: Vec::new(), changed: false, depth: 0 };
    let mut out: Option<Vec<u8>> = None;
    let mut pos = 0usize;
    while pos + 8 <= bytes.len() {
        let tag = w.tag_at(pos, false)?;
        let len = w.u32_at(pos + 4, false)?;
        let next = if len == UNDEFINED {
            skip_undefined(bytes, pos + 8, 0)?
        } else {
            (pos + 8).checked_add(len as usize).filter(|&p| p <= bytes.len()).ok_or(format!("value at byte {pos} runs past the end"))?
        };
        let value = &bytes[pos + 8..next];
        let not_items = len != UNDEFINED && !value.is_empty() && !value.starts_with(&[0xFE, 0xFF, 0x00, 0xE0]);
        if not_items && dictionary_sq(tag) && !READ_SEQUENCES.contains(&tag) {
            out.get_or_insert_with(|| bytes[..pos].to_vec());
        } else if let Some(o) = out.as_mut() {
            o.extend_from_slice(&bytes[pos..next]);
        }
        pos = next;
    }
    if let Some(o) = out.as_mut() {
        o.extend_from_slice(&bytes[pos..]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le_tag(g: u16, e: u16) -> Vec<u8> {
        [g.to_le_bytes(), e.to_le_bytes()].concat()
    }

    #[test]
    fn undefined_length_un_becomes_an_explicit_sequence() {
        // (0008,0060) CS "CR", (2001,105F) UN undefined: one item (undefined) holding
        // (2001,1060) implicit "AB" and an item delimiter; sequence delimiter; (0028,0010) US 4.
        // The same data set with the sequence header VR `seq_vr` and the inner element's
        // header: implicit (tag, 32-bit length) in the input, explicit UN in the output.
        let data_set = |seq_vr: &[u8; 2], inner_vr: Option<&[u8; 2]>| {
            let mut b = le_tag(0x0008, 0x0060);
            b.extend(b"CS\x02\x00CR");
            b.extend(le_tag(0x2001, 0x105F));
            b.extend(seq_vr);
            b.extend(b"\x00\x00\xFF\xFF\xFF\xFF");
            b.extend(le_tag(0xFFFE, 0xE000));
            b.extend([0xFF; 4]);
            b.extend(le_tag(0x2001, 0x1060));
            if let Some(vr) = inner_vr {
                b.extend(vr);
                b.extend([0, 0]);
            }
            b.extend(2u32.to_le_bytes());
            b.extend(b"AB");
            b.extend(le_tag(0xFFFE, 0xE00D));
            b.extend([0; 4]);
            b.extend(le_tag(0xFFFE, 0xE0DD));
            b.extend([0; 4]);
            b.extend(le_tag(0x0028, 0x0010));
            b.extend(b"US\x02\x00\x04\x00");
            b
        };
        let b = data_set(b"UN", None);
        let out = reencode(&b, false).unwrap().expect("changed");
        let want = data_set(b"SQ", Some(b"UN"));
        assert_eq!(out, want);
        // Without UN sequences nothing changes; a UN leaf of defined length stays.
        let mut plain = le_tag(0x0009, 0x1001);
        plain.extend(b"UN\x00\x00");
        plain.extend(2u32.to_le_bytes());
        plain.extend(b"xy");
        assert_eq!(reencode(&plain, false).unwrap(), None);
        // A cut file is an error, not a panic.
        for cut in 0..b.len() {
            let _ = reencode(&b[..cut], false);
        }
    }

    #[test]
    fn text_in_an_implicit_sequence_tag_is_dropped_items_are_kept() {
        let el = |g: u16, e: u16, v: &[u8]| [le_tag(g, e), (v.len() as u32).to_le_bytes().to_vec(), v.to_vec()].concat();
        let text = el(0x0012, 0x0064, b"Siemens Healthcare Header Anonymizer");
        let rows = el(0x0028, 0x0010, &[4, 0]);
        let b = [text.clone(), rows.clone()].concat();
        assert_eq!(drop_text_in_implicit_sequences(&b).unwrap(), Some(rows.clone()));
        // A real (empty-item) sequence stays, and so does text in a sequence the decoder reads.
        let item = [le_tag(0xFFFE, 0xE000), vec![0; 4]].concat();
        let seq = el(0x0012, 0x0064, &item);
        assert_eq!(drop_text_in_implicit_sequences(&[seq, rows.clone()].concat()).unwrap(), None);
        let lut = el(0x0028, 0x3000, b"text");
        assert_eq!(drop_text_in_implicit_sequences(&[lut, rows].concat()).unwrap(), None);
        for cut in 0..b.len() {
            let _ = drop_text_in_implicit_sequences(&b[..cut]);
        }
    }
}
