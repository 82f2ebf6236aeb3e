//! The DC-only 1/8-scale JPEG path against `jpeg-decoder` at the same scale, on every JPEG under
//! a folder: checks the pixels are identical and times both (one thread, best of `--repeat`).
//! Not a test.
//!
//! `cargo bench --bench jpeg_dc -- <DIR> [--repeat 3]` prints one JSON line: files, files the
//! fast path took, mismatches, seconds for each decoder and their ratio.

mod common;

use std::path::Path;
use std::time::Instant;

use cxr::ingest::decode::jpeg_dc::decode_dc_only;

/// `jpeg-decoder` at 1/8 scale: (width, height, pixels).
fn general(bytes: &[u8]) -> Option<(u32, u32, Vec<u8>)> {
    let mut d = jpeg_decoder::Decoder::new(bytes);
    d.read_info().ok()?;
    let info = d.info()?;
    d.scale(info.width.div_ceil(8), info.height.div_ceil(8)).ok()?;
    let px = d.decode().ok()?;
    let info = d.info()?;
    Some((u32::from(info.width), u32::from(info.height), px))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: jpeg_dc <DIR> [--repeat N]");
        std::process::exit(2);
    };
    let repeat = args.iter().position(|a| a == "--repeat").and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(3);
    let files = common::files_with_extensions(Path::new(dir), &["jpg", "jpeg"]);
    if files.is_empty() {
        eprintln!("no .jpg/.jpeg files under {dir}");
        std::process::exit(2);
    }
    let data: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).expect("read")).collect();
    let (mut fast_taken, mut mismatches) = (0, 0);
    for (bytes, path) in data.iter().zip(&files) {
        if let Some(img) = decode_dc_only(bytes, 0) {
            fast_taken += 1;
            if general(bytes) != Some((img.width, img.height, img.pixels)) {
                mismatches += 1;
                eprintln!("mismatch: {}", path.display());
            }
        }
    }
    let time = |f: &dyn Fn(&[u8]) -> usize| {
        (0..repeat)
            .map(|_| {
                let t = Instant::now();
                let n: usize = data.iter().map(|b| f(b)).sum();
                std::hint::black_box(n);
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let fast_s = time(&|b| decode_dc_only(b, 0).map_or(0, |i| i.pixels.len()));
    let general_s = time(&|b| general(b).map_or(0, |i| i.2.len()));
    println!(
        "{{\"bench\":\"jpeg_dc\",\"files\":{},\"fast_path\":{},\"mismatches\":{},\"dc_only_s\":{:.4},\"jpeg_decoder_s\":{:.4},\"speedup\":{:.2}}}",
        files.len(),
        fast_taken,
        mismatches,
        fast_s,
        general_s,
        general_s / fast_s
    );
}
