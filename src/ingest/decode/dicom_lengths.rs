//! A bound on declared element lengths, checked before dicom-object parses a file.
//!
//! dicom-object allocates the length an element header declares before it reads the value, so
//! one damaged length field (up to 4 GiB) costs seconds and gigabytes per file before the read
//! fails. [`check_lengths`] walks the element headers (PS3.5 §7.1: tag, VR in explicit VR
//! syntaxes, 16- or 32-bit length; items and delimiters §7.5) and fails as soon as a defined
//! length runs past the end of the bytes, so such a file is an ordinary reject.

/// VRs with a 16-bit length in explicit VR (PS3.5 Table 7.1-2). Every other VR, and an unknown
/// one (which parsers read as UN), has a 2-byte reserved field and a 32-bit length (Table 7.1-1).
const SHORT_VRS: [&[u8; 2]; 21] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN", b"SH",
    b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US",
];
/// Undefined length (PS3.5 §7.1.1).
const UNDEFINED: u32 = 0xFFFF_FFFF;

/// The encoding of a stretch of elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    pub explicit_vr: bool,
    pub big_endian: bool,
}

impl Encoding {
    /// The encoding of a transfer syntax UID; `None` for deflated syntaxes (not walkable).
    pub fn of(uid: &str) -> Option<Encoding> {
        match uid {
            "1.2.840.10008.1.2" => Some(Encoding { explicit_vr: false, big_endian: false }),
            "1.2.840.10008.1.2.2" => Some(Encoding { explicit_vr: true, big_endian: true }),
            u if u.ends_with(".99") || u == "1.2.840.10008.1.2.1.99" => None,
            _ => Some(Encoding { explicit_vr: true, big_endian: false }),
        }
    }
}

fn u16_at(b: &[u8], i: usize, be: bool) -> Option<u16> {
    let s: [u8; 2] = b.get(i..i + 2)?.try_into().ok()?;
    Some(if be { u16::from_be_bytes(s) } else { u16::from_le_bytes(s) })
}

fn u32_at(b: &[u8], i: usize, be: bool) -> Option<u32> {
    let s: [u8; 4] = b.get(i..i + 4)?.try_into().ok()?;
    Some(if be { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
}

/// Walks the elements of `bytes` from the start: the File Meta group (group 0002, always
/// explicit VR little endian) while it lasts, then the data set in `data_set` encoding
/// (`None`: stop after the File Meta group, for when the transfer syntax is not read yet). Defined lengths must fit
/// in the bytes left; undefined-length elements and items (sequences, encapsulated pixel data)
/// and explicit-VR sequences are walked into, defined-length items (a sequence's items, pixel
/// data fragments) are skipped whole. Fewer than 12 bytes at the end are left to the parser.
/// Returns a message naming the offset and tag of the first length that does not fit.
pub fn check_lengths(bytes: &[u8], data_set: Option<Encoding>) -> Result<(), String> {
    let meta = Encoding { explicit_vr: true, big_endian: false };
    let mut i = 0usize;
    while i + 12 <= bytes.len() {
        let group_le = u16_at(bytes, i, false).ok_or("truncated element tag")?;
        let enc = match (group_le == 0x0002, data_set) {
            (true, _) => meta,
            (false, Some(enc)) => enc,
            (false, None) => return Ok(()),
        };
        let be = enc.big_endian;
        let (Some(group), Some(elem)) = (u16_at(bytes, i, be), u16_at(bytes, i + 2, be)) else {
            return Err(format!("truncated element tag at byte {i}"));
        };
        let (header, len, walk_into) = if group == 0xFFFE {
            // Item, item delimitation, sequence delimitation: tag + 32-bit length, no VR.
            let len = u32_at(bytes, i + 4, be).ok_or_else(|| format!("truncated item at byte {i}"))?;
            (8usize, len, false)
        } else if enc.explicit_vr {
            let vr = bytes.get(i + 4..i + 6).ok_or_else(|| format!("truncated element header at byte {i}"))?;
            if SHORT_VRS.iter().any(|v| v.as_slice() == vr) {
                let len = u16_at(bytes, i + 6, be).ok_or_else(|| format!("truncated element header at byte {i}"))?;
                (8, u32::from(len), false)
            } else {
                let len = u32_at(bytes, i + 8, be).ok_or_else(|| format!("truncated element header at byte {i}"))?;
                (12, len, vr == b"SQ")
            }
        } else {
            let len = u32_at(bytes, i + 4, be).ok_or_else(|| format!("truncated element header at byte {i}"))?;
            (8, len, false)
        };
        let start = i + header;
        // File Meta Information Group Length (0002,0000) UL: the meta reader takes its value as
        // the number of bytes to read.
        if (group, elem) == (0x0002, 0x0000) && len == 4 {
            let group_len = u32_at(bytes, start, false).unwrap_or(0) as usize;
            if group_len > bytes.len().saturating_sub(start + 4) {
                return Err(format!("File Meta group length {group_len} runs past the end of the file"));
            }
        }
        if len == UNDEFINED {
            i = start; // its content (items, fragments, elements) follows
            continue;
        }
        let left = bytes.len().saturating_sub(start);
        if len as usize > left {
            return Err(format!(
                "element ({group:04X},{elem:04X}) at byte {i} declares {len} bytes but only {left} follow"
            ));
        }
        i = if walk_into { start } else { start + len as usize };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPLICIT: Option<Encoding> = Some(Encoding { explicit_vr: true, big_endian: false });
    const IMPLICIT: Option<Encoding> = Some(Encoding { explicit_vr: false, big_endian: false });

    #[test]
    fn fitting_lengths_pass_and_overlong_ones_are_named() {
        // (0028,0010) US 2 = 4, then (7FE0,0010) OW 4 bytes.
        let mut ok = vec![0x28, 0x00, 0x10, 0x00, b'U', b'S', 2, 0, 4, 0];
        ok.extend([0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 4, 0, 0, 0, 1, 2, 3, 4]);
        assert_eq!(check_lengths(&ok, EXPLICIT), Ok(()));
        let mut bad = ok.clone();
        bad[18] = 0xFF; // OW length 4 -> 0x...FF04
        bad[19] = 0x7F;
        let e = check_lengths(&bad, EXPLICIT).unwrap_err();
        assert!(e.contains("(7FE0,0010)") && e.contains("only 4 follow"), "{e}");
        // Implicit VR: 32-bit lengths.
        let imp = [0x28, 0x00, 0x10, 0x00, 2, 0, 0, 0, 4, 0, 0x28, 0x00, 0x11, 0x00, 2, 0, 0, 0, 4, 0];
        assert_eq!(check_lengths(&imp, IMPLICIT), Ok(()));
        let mut imp_bad = imp;
        imp_bad[7] = 0x40; // 0x40000002 bytes
        assert!(check_lengths(&imp_bad, IMPLICIT).unwrap_err().contains("(0028,0010)"));
        // Only the File Meta group is walked without a data set encoding.
        let mut meta = vec![0x02, 0x00, 0x10, 0x00, b'U', b'I', 2, 0, b'1', 0];
        meta.extend(imp_bad);
        assert_eq!(check_lengths(&meta, None), Ok(()));
        assert!(check_lengths(&meta, IMPLICIT).is_err());
    }

    #[test]
    fn undefined_lengths_and_items_are_walked_into() {
        // (7FE0,0010) OB undefined: offset table item (0), one fragment of 2 bytes, delimiter.
        let mut b = vec![0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        b.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        b.extend([0xFE, 0xFF, 0x00, 0xE0, 2, 0, 0, 0, 9, 9]);
        b.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        assert_eq!(check_lengths(&b, EXPLICIT), Ok(()));
        let mut bad = b.clone();
        bad[24] = 200; // the fragment claims 200 bytes
        assert!(check_lengths(&bad, EXPLICIT).unwrap_err().contains("(FFFE,E000)"));
    }
}
