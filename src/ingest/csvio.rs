//! Finding and opening published metadata files: official names under the root, plain or
//! gzip-compressed (detected by magic bytes, not by name), parsed with the `csv` crate.
//!
//! Text as people save it reads the same as the published file: a UTF-8 byte-order mark
//! (Windows Notepad, Excel "CSV UTF-8") is dropped before any reader sees the first byte
//! ([`open_maybe_gz`]), CRLF and CR line ends end a record or a list line, and cells, headers
//! and list lines are trimmed of surrounding white space ([`cell`], [`list_lines`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use super::record::Nulled;
use super::IngestError;
use crate::manifest::Manifest;

/// Finds a metadata file of the manifest role `role` under `root` (each official name is tried
/// as given, with `.gz` appended and with `.gz` removed).
pub fn find_file(m: &Manifest, role: &str, root: &Path) -> Option<PathBuf> {
    let spec = m.files.get(role)?;
    for name in &spec.names {
        let mut cands = vec![root.join(name)];
        if let Some(stripped) = name.strip_suffix(".gz") {
            cands.push(root.join(stripped));
        } else {
            cands.push(root.join(format!("{name}.gz")));
        }
        if let Some(found) = cands.into_iter().find(|p| p.is_file()) {
            return Some(found);
        }
    }
    None
}

/// Like [`find_file`], for a file the dataset cannot be read without.
pub fn require_file(m: &Manifest, role: &str, root: &Path) -> Result<PathBuf, IngestError> {
    find_file(m, role, root).ok_or_else(|| IngestError::MissingMetadata {
        dataset: m.dataset.clone(),
        root: root.to_path_buf(),
        names: m.files.get(role).map(|s| s.names.clone()).unwrap_or_default(),
    })
}

/// The UTF-8 encoding of U+FEFF, the byte-order mark some editors put at the start of a file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Opens a file for reading, transparently decompressing gzip and dropping a leading UTF-8
/// byte-order mark (of the decompressed text). Errors: [`IngestError::ReadMetadata`].
pub fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read + Send>, IngestError> {
    let io = |source| IngestError::ReadMetadata { path: path.to_path_buf(), source };
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    let f = File::open(path).map_err(io)?;
    let mut r: Box<dyn BufRead + Send> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::with_capacity(1 << 20, MultiGzDecoder::new(f)))
    } else {
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    // `fill_buf` returns at least the first 3 bytes of any file that has them (a gzip member's
    // first inflate already yields far more), so the mark is never split across two fills.
    if r.fill_buf().map_err(io)?.starts_with(UTF8_BOM) {
        r.consume(UTF8_BOM.len());
    }
    Ok(r)
}

/// The non-empty lines of a list file (one entry a line; LF, CRLF or CR line ends; each line
/// trimmed of white space; a leading byte-order mark dropped by [`open_maybe_gz`]).
/// Errors: [`IngestError::ReadMetadata`], also for text that is not UTF-8.
pub fn list_lines(path: &Path) -> Result<Vec<String>, IngestError> {
    let mut text = String::new();
    open_maybe_gz(path)?
        .read_to_string(&mut text)
        .map_err(|source| IngestError::ReadMetadata { path: path.to_path_buf(), source })?;
    Ok(text.split(['\n', '\r']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect())
}

/// A CSV reader with its header indexed by name.
pub struct Csv {
    pub path: PathBuf,
    pub reader: csv::Reader<Box<dyn Read + Send>>,
    pub header: Vec<String>,
    index: HashMap<String, usize>,
}

impl Csv {
    /// Opens a CSV (flexible record lengths: NIH's header has unquoted commas inside brackets
    /// and some copies end rows with a trailing comma).
    pub fn open(path: &Path) -> Result<Csv, IngestError> {
        let reader = open_maybe_gz(path)?;
        let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(true).from_reader(reader);
        let header: Vec<String> = reader
            .headers()
            .map_err(|source| IngestError::Csv { path: path.to_path_buf(), source })?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
            .collect();
        let index = header.iter().enumerate().map(|(i, h)| (h.clone(), i)).collect();
        Ok(Csv { path: path.to_path_buf(), reader, header, index })
    }

    /// Column index of the first header spelling present.
    pub fn col(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.index.get(*n).copied())
    }

    /// Like [`Csv::col`], failing with the file name when no spelling is present.
    pub fn require_col(&self, names: &[&str]) -> Result<usize, IngestError> {
        self.col(names).ok_or_else(|| IngestError::MissingColumn {
            path: self.path.clone(),
            names: names.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// Header columns that are source labels of the manifest, as (index, name).
    pub fn label_columns(&self, m: &Manifest) -> Vec<(usize, String)> {
        self.header
            .iter()
            .enumerate()
            .filter(|(_, h)| m.labels.map.contains_key(h.as_str()))
            .map(|(i, h)| (i, h.clone()))
            .collect()
    }

    /// Reads every record into a closure, stopping on a fatal CSV error. Used for the small
    /// side files that are joined into the main stream (label and split tables).
    pub fn for_each(mut self, mut f: impl FnMut(u64, &csv::StringRecord)) -> Result<(), IngestError> {
        let mut rec = csv::StringRecord::new();
        let mut row = 0;
        loop {
            match self.reader.read_record(&mut rec) {
                Ok(true) => {
                    row += 1;
                    f(row, &rec);
                }
                Ok(false) => return Ok(()),
                Err(source) => return Err(IngestError::Csv { path: self.path.clone(), source }),
            }
        }
    }

    /// Turns the CSV into a record stream: `parse` maps each row to a record or a row error;
    /// a CSV syntax error on one record becomes a row error and reading continues.
    pub fn into_records<T: Send + 'static>(
        self,
        file_label: String,
        mut parse: impl FnMut(u64, u64, &csv::StringRecord) -> Result<T, String> + Send + 'static,
    ) -> Box<dyn Iterator<Item = Result<T, super::RowError>> + Send> {
        let mut reader = self.reader;
        let mut rec = csv::StringRecord::new();
        let mut row = 0u64;
        let mut stopped = false;
        Box::new(std::iter::from_fn(move || {
            if stopped {
                return None;
            }
            let line = reader.position().line();
            let row_error = |row, line, reason| super::RowError {
                file: file_label.clone(),
                row,
                line,
                image_id: None,
                reason,
            };
            match reader.read_record(&mut rec) {
                Ok(false) => None,
                Ok(true) => {
                    row += 1;
                    let line = rec.position().map(|p| p.line()).unwrap_or(line);
                    Some(parse(row, line, &rec).map_err(|reason| row_error(row, line, reason)))
                }
                Err(e) => {
                    row += 1;
                    // An I/O error (e.g. a truncated gzip stream) cannot be skipped past.
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        stopped = true;
                        Some(Err(row_error(row, line, format!("metadata file unreadable from here on: {e}"))))
                    } else {
                        Some(Err(row_error(row, line, format!("malformed CSV record: {e}"))))
                    }
                }
            }
        }))
    }
}

/// The trimmed text of a cell, empty when the row is short.
pub fn cell(rec: &csv::StringRecord, idx: Option<usize>) -> &str {
    idx.and_then(|i| rec.get(i)).unwrap_or("").trim()
}

/// The (source label, raw value) pairs of a record's label columns, and the same as the verbatim
/// JSON object kept in `source_labels`.
pub fn label_cells(rec: &csv::StringRecord, cols: &[(usize, String)]) -> (Vec<(String, String)>, serde_json::Value) {
    let labels: Vec<(String, String)> = cols.iter().map(|(i, h)| (h.clone(), cell(rec, Some(*i)).to_string())).collect();
    let src: serde_json::Map<String, serde_json::Value> =
        labels.iter().map(|(h, v)| (h.clone(), v.clone().into())).collect();
    (labels, serde_json::Value::Object(src))
}

/// A cell as an owned non-empty string.
pub fn opt_cell(rec: &csv::StringRecord, idx: Option<usize>) -> Option<String> {
    let c = cell(rec, idx);
    (!c.is_empty()).then(|| c.to_string())
}

/// Oldest age kept, in years. The oldest verified human lived 122 years; the original NIH
/// `Data_Entry_2017.csv` has ages 148–155 and 411–414, which are typing errors.
pub const MAX_AGE_YEARS: f32 = 120.0;

/// Parses an age cell: years as a number, optionally with a trailing `Y` (older NIH copies).
/// Empty → `None`; a value that is not a number or is outside 0..=[`MAX_AGE_YEARS`] → `None`
/// with a [`Nulled`] note (the row is kept: age is optional).
pub fn age_cell(raw: &str, nulled: &mut Vec<Nulled>) -> Option<f32> {
    let t = raw.trim().trim_end_matches(['Y', 'y']);
    if t.is_empty() {
        return None;
    }
    match t.parse::<f32>() {
        Ok(a) if (0.0..=MAX_AGE_YEARS).contains(&a) => Some(a),
        Ok(a) if a.is_finite() => {
            nulled.push(Nulled::new("age", "values out of range (0..=120 years) stored as null", raw.trim()));
            None
        }
        _ => {
            nulled.push(Nulled::new("age", "values that are not a number of years stored as null", raw.trim()));
            None
        }
    }
}

/// A view cell: `None` when the column is absent or the cell empty; an empty cell of a present
/// column is counted as a [`Nulled`] note. Unknown values are judged later, by the manifest's view map.
pub fn view_cell(rec: &csv::StringRecord, idx: Option<usize>, nulled: &mut Vec<Nulled>) -> Option<String> {
    let v = opt_cell(rec, idx);
    if v.is_none() && idx.is_some() {
        nulled.push(Nulled::new("view", "empty view cells stored as null", ""));
    }
    v
}

/// Path of `path` relative to `root` for messages and the store (`source_path`).
pub fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().into_owned()
}
