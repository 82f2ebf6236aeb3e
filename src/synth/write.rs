//! Output helpers for the synthetic corpus: directories, CSV tables (plain or
//! gzip, written the way pandas writes them: `\n` line ends, minimal quoting),
//! and image jobs (8-bit PNG, 16-bit PNG, JPEG, DICOM) run in parallel.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ImageBuffer, Luma};
use rayon::prelude::*;

use super::SynthError;
use super::dicom::{DicomSpec, write_dicom};
use super::draw::{Layout, View};
use super::truth::Truth;

/// How one image is stored on disk.
#[derive(Clone, Debug)]
pub(crate) enum Encoding {
    /// 8-bit grayscale PNG (NIH).
    Png8,
    /// 16-bit grayscale PNG holding values in `0..=max` (PadChest: 4095).
    Png16 { max: u16 },
    /// 8-bit grayscale baseline JPEG.
    Jpeg { quality: u8 },
    /// DICOM file (VinDr, UKA).
    Dicom(Box<DicomSpec>),
}

/// One image to render and encode.
#[derive(Clone, Debug)]
pub(crate) struct ImageJob {
    pub path: PathBuf,
    pub truth: Truth,
    pub view: View,
    /// Seed of the phantom's geometry jitter and noise.
    pub seed: u64,
    pub encoding: Encoding,
}

/// Creates `dir` and its parents.
pub(crate) fn mkdir(dir: &Path) -> Result<(), SynthError> {
    fs::create_dir_all(dir).map_err(|source| SynthError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to `path` (creating parent folders), gzip-compressed when
/// `gzip` is set. The gzip header carries no name and mtime 0, so output is
/// byte-identical across runs.
pub(crate) fn write_file(path: &Path, bytes: &[u8], gzip: bool) -> Result<(), SynthError> {
    if let Some(parent) = path.parent() {
        mkdir(parent)?;
    }
    let io = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::create(path).map_err(io)?;
    let mut w = BufWriter::new(file);
    if gzip {
        let mut gz = GzEncoder::new(w, Compression::default());
        gz.write_all(bytes).map_err(io)?;
        w = gz.finish().map_err(io)?;
    } else {
        w.write_all(bytes).map_err(io)?;
    }
    w.flush().map_err(io)
}

/// An in-memory CSV table written with the `csv` crate's minimal quoting
/// (fields with `,`, `"` or newlines are quoted), like pandas' `to_csv`.
pub(crate) struct Table {
    path: PathBuf,
    w: csv::Writer<Vec<u8>>,
}

impl Table {
    /// A table destined for `path`; the header is written verbatim as `header`
    /// (so NIH's unquoted bracket commas survive) followed by `\n`.
    pub(crate) fn new(path: PathBuf, header: &str) -> Self {
        let mut buf = header.as_bytes().to_vec();
        buf.push(b'\n');
        let w = csv::WriterBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_writer(buf);
        Table { path, w }
    }

    /// Appends one record.
    pub(crate) fn row<I, S>(&mut self, fields: I) -> Result<(), SynthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let path = &self.path;
        self.w
            .write_record(fields)
            .map_err(|source| SynthError::Csv {
                path: path.clone(),
                source,
            })
    }

    /// Writes the table to its path, gzip-compressed when `gzip` is set.
    pub(crate) fn finish(self, gzip: bool) -> Result<(), SynthError> {
        let path = self.path;
        let bytes = self.w.into_inner().map_err(|e| SynthError::Io {
            path: path.clone(),
            source: e.into_error(),
        })?;
        write_file(&path, &bytes, gzip)
    }
}

/// Writes a text file made of `lines`, each ended by `\n`.
pub(crate) fn write_lines(path: &Path, lines: &[String]) -> Result<(), SynthError> {
    let mut s = String::new();
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    write_file(path, s.as_bytes(), false)
}

/// Renders and encodes all jobs in parallel (rayon). Each job is independent
/// and seeded, so the bytes do not depend on scheduling.
pub(crate) fn run_jobs(jobs: &[ImageJob], size: u32) -> Result<(), SynthError> {
    jobs.par_iter().try_for_each(|job| run_job(job, size))
}

fn run_job(job: &ImageJob, size: u32) -> Result<(), SynthError> {
    let canvas = Layout::new(&job.truth, job.view, job.seed).render(size);
    if let Some(parent) = job.path.parent() {
        mkdir(parent)?;
    }
    let path = &job.path;
    let img_err = |source| SynthError::Image {
        path: path.clone(),
        source,
    };
    match &job.encoding {
        Encoding::Png8 | Encoding::Jpeg { .. } => {
            let px: Vec<u8> = canvas
                .px
                .iter()
                .map(|p| (p * 255.0).round() as u8)
                .collect();
            let buf: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_raw(size, size, px)
                .ok_or_else(|| SynthError::Config {
                    reason: format!("bad buffer size for {}", path.display()),
                })?;
            let mut out = Vec::new();
            match job.encoding {
                Encoding::Jpeg { quality } => {
                    buf.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
                }
                _ => buf.write_with_encoder(PngEncoder::new(&mut out)),
            }
            .map_err(img_err)?;
            write_file(path, &out, false)
        }
        Encoding::Png16 { max } => {
            let m = *max as f32;
            let px: Vec<u16> = canvas.px.iter().map(|p| (p * m).round() as u16).collect();
            let buf: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_raw(size, size, px)
                .ok_or_else(|| SynthError::Config {
                    reason: format!("bad buffer size for {}", path.display()),
                })?;
            let mut out = Vec::new();
            buf.write_with_encoder(PngEncoder::new(&mut out))
                .map_err(img_err)?;
            write_file(path, &out, false)
        }
        Encoding::Dicom(spec) => write_dicom(path, &canvas, spec),
    }
}
