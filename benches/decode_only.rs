//! Decode-only and decode+preprocess throughput over a folder of images, with the ingest's own
//! decoders, on N threads — the reference the ingest benchmark is compared with
//! (`scripts/bench_ingest.py`). Not a test.
//!
//! `cargo bench --bench decode_only -- <DIR> [--threads 2] [--preprocess] [--size 224] [--dct]`
//! (`--dct`: JPEGs at the reduced DCT scale covering `--size`, as the ingest does by default)
//! prints one JSON line: files, seconds, images/s.

mod common;

use std::path::Path;
use std::time::Instant;

use cxr::harmonize::pixels::{preprocess, PixelOptions};
use cxr::ingest::decode::{decode_file, DecodeOptions};
use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: decode_only <DIR> [--threads N] [--preprocess] [--size N]");
        std::process::exit(2);
    };
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse::<usize>().ok());
    let threads = opt("--threads").unwrap_or(2);
    let size = opt("--size").unwrap_or(224) as u32;
    let with_pre = args.iter().any(|a| a == "--preprocess");
    // `--dct`: decode JPEGs at the reduced DCT scale the ingest uses by default.
    let decode_opts = DecodeOptions { jpeg_min_side: args.iter().any(|a| a == "--dct").then_some(size), ..DecodeOptions::default() };
    let files = common::files_with_extensions(Path::new(dir), &["jpg", "jpeg", "png", "dcm", "dicom"]);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    let px = PixelOptions { size, ..PixelOptions::default() };
    let t = Instant::now();
    let failed: usize = pool.install(|| {
        files
            .par_iter()
            .map(|f| match decode_file(f, &decode_opts) {
                Ok(img) if with_pre => usize::from(preprocess(&img, &px).is_err()),
                Ok(_) => 0,
                Err(_) => 1,
            })
            .sum()
    });
    let s = t.elapsed().as_secs_f64();
    println!(
        "{{\"bench\":\"{}\",\"files\":{},\"failed\":{},\"threads\":{},\"seconds\":{:.3},\"images_per_s\":{:.2}}}",
        if with_pre { "decode+preprocess" } else { "decode" },
        files.len(),
        failed,
        threads,
        s,
        files.len() as f64 / s
    );
}
