//! Interrupted ingests: `cxr-prep ingest` killed (SIGKILL) at several points and re-run gives
//! exactly the rows of a clean run; no half-written part is ever visible; `--overwrite` starts
//! over; changed options are refused; two clean runs are identical.
//!
//! Input: the real NIH metadata excerpt (tests/fixtures/csv/nih) with a generated 8-bit PNG per
//! image, optionally extended with synthesised rows (new ids, labels cycled from the excerpt) so
//! the run lasts a few seconds in the debug build.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{copy_dir, fixture, images, labels, prep, read_batches, strings};

/// `n` distinct encoded 8-bit gray PNGs of `side²` pixels, with gradients and stripes so that
/// decoding, resizing and equalisation have work to do.
pub(crate) fn png_variants(side: u32, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let img = image::GrayImage::from_fn(side, side, |x, y| {
                let g = ((x + 2 * y) * 180 / (3 * side)) as u8;
                let stripe = if (x / (4 + k as u32) + y / 7).is_multiple_of(5) { 60 } else { 0 };
                let disk = {
                    let (dx, dy) = (x as i64 - side as i64 / 2, y as i64 - side as i64 / 3);
                    if dx * dx + dy * dy < (side as i64 / (3 + k as i64)).pow(2) { 40 } else { 0 }
                };
                image::Luma([g.saturating_add(stripe).saturating_add(disk).wrapping_add((k * 7) as u8)])
            });
            let mut buf = Cursor::new(Vec::new());
            img.write_to(&mut buf, image::ImageFormat::Png).unwrap();
            buf.into_inner()
        })
        .collect()
}

/// A NIH-layout root in `dir`: the excerpt's CSV and split lists, `extra` synthesised rows, and
/// one PNG of `side²` pixels per Image Index under `images_001/images/`. Returns the root.
pub(crate) fn nih_root(dir: &Path, side: u32, extra: usize) -> PathBuf {
    let root = dir.join("nih");
    copy_dir(&fixture("csv/nih"), &root);
    let gz = root.join("Data_Entry_2017_v2020.csv.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()).read_to_string(&mut text).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header = r.headers().unwrap().clone();
    let real: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).unwrap();
    let mut ids = Vec::new();
    for rec in &real {
        w.write_record(rec).unwrap();
        ids.push(rec[0].to_string());
    }
    for k in 0..extra {
        let mut rec: Vec<String> = real[k % real.len()].iter().map(String::from).collect();
        let patient = 90_000_000 + k / 3;
        rec[0] = format!("{patient:08}_{:03}.png", k % 3);
        rec[2] = (k % 3).to_string();
        rec[3] = patient.to_string();
        ids.push(rec[0].clone());
        w.write_record(&rec).unwrap();
    }
    std::fs::remove_file(&gz).unwrap();
    std::fs::write(root.join("Data_Entry_2017_v2020.csv"), w.into_inner().unwrap()).unwrap();
    let pngs = png_variants(side, 7);
    let img_dir = root.join("images_001/images");
    std::fs::create_dir_all(&img_dir).unwrap();
    for (i, id) in ids.iter().enumerate() {
        std::fs::write(img_dir.join(id), &pngs[i % pngs.len()]).unwrap();
    }
    root
}

/// `ingest nih` arguments: 8 rows per part, 64² output, `threads` decoding threads, then `extra`.
pub(crate) fn ingest_args(root: &Path, store: &Path, threads: usize, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(["--rows-per-part".into(), "8".into(), "--threads".into(), threads.to_string()]);
    if !extra.contains(&"--size") {
        v.extend(["--size", "64"].map(String::from));
    }
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn run_ok(args: &[String]) -> String {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::common::prep_ok(&a)
}

/// When to kill a running ingest.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// This long after the start.
    After(Duration),
    /// As soon as this many chunks are finished (`part-*.done.json` in the staging folder).
    Chunks(usize),
}

fn done_files(store: &Path) -> usize {
    std::fs::read_dir(store.join("_staging/nih"))
        .map(|rd| rd.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().ends_with(".done.json")).count())
        .unwrap_or(0)
}

/// Starts the ingest and SIGKILLs it at `at`; true when it was still running when killed.
fn run_and_kill(args: &[String], store: &Path, at: KillAt) -> bool {
    let mut child: Child = Command::new(env!("CARGO_BIN_EXE_cxr-prep"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cxr-prep starts");
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let due = match at {
            KillAt::After(d) => t.elapsed() >= d,
            KillAt::Chunks(n) => done_files(store) >= n,
        };
        if due {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
        assert!(t.elapsed() < Duration::from_secs(120), "ingest neither finished nor reached {at:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Every `*.parquet` under `dataset=*/` and `_staging/*/` opens and reads completely, and every
/// finished chunk's part holds the rows its `.done.json` records.
fn assert_no_half_written_part(store: &Path) {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for top in [store.to_path_buf(), store.join("_staging")] {
        if let Ok(rd) = std::fs::read_dir(&top) {
            dirs.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| {
                p.is_dir()
                    && p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n.starts_with("dataset=") || top.ends_with("_staging")
                    })
            }));
        }
    }
    for dir in dirs {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".parquet") {
                let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&p).unwrap())
                    .unwrap_or_else(|e| panic!("half-written part visible: {}: {e}", p.display()));
                let n: usize =
                    b.build().unwrap().map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", p.display())).num_rows()).sum();
                assert!(n > 0, "{}: empty part", p.display());
            } else if let Some(stem) = name.strip_suffix(".done.json") {
                let done: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                let rows = done["rows"].as_u64().unwrap();
                let part = dir.join(format!("{stem}.parquet"));
                if rows > 0 {
                    let m = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&part).unwrap()).unwrap();
                    assert_eq!(m.metadata().file_metadata().num_rows() as u64, rows, "{}", part.display());
                }
            }
        }
    }
}

/// The resumed store holds exactly the clean store's rows: same ids (none twice, none missing),
/// labels, splits and pixels, in the same order and parts.
fn assert_same_rows(clean: &[RecordBatch], got: &[RecordBatch], what: &str) {
    let (a, b) = (strings(clean, "image_id"), strings(got, "image_id"));
    let mut sa = a.clone();
    let mut sb = b.clone();
    sa.sort();
    sb.sort();
    let dup = sb.windows(2).find(|w| w[0] == w[1]);
    assert!(dup.is_none(), "{what}: image {dup:?} stored twice");
    assert_eq!(sa, sb, "{what}: image_id multiset differs from a clean run");
    assert_eq!(a, b, "{what}: row order differs");
    assert_eq!(strings(clean, "split"), strings(got, "split"), "{what}: splits");
    for f in cxr::labels::FINDINGS {
        assert_eq!(labels(clean, f.name), labels(got, f.name), "{what}: labels of {}", f.name);
    }
    assert!(images(got).iter().all(|i| i.as_ref().is_some_and(|p| p.len() == 64 * 64)), "{what}: 64² images");
    assert!(images(clean) == images(got), "{what}: pixels differ");
    assert!(clean == got, "{what}: other columns or part layout differ");
}

/// Rows beyond the excerpt so a debug-build ingest takes ~3 s (255 rows, 32 parts).
const EXTRA_ROWS: usize = 200;

#[test]
fn killed_ingest_resumes_to_the_rows_of_a_clean_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = nih_root(tmp.path(), 512, EXTRA_ROWS);
    // Rejects too (3 missing images, 1 undecodable): a resumed run must not count them twice.
    let mut pngs: Vec<PathBuf> =
        std::fs::read_dir(root.join("images_001/images")).unwrap().map(|e| e.unwrap().path()).collect();
    pngs.sort();
    for i in [3, 100, 200] {
        std::fs::remove_file(&pngs[i]).unwrap();
    }
    std::fs::write(&pngs[150], b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let clean_store = tmp.path().join("clean");
    let t = Instant::now();
    run_ok(&ingest_args(&root, &clean_store, 2, &[]));
    let clean_secs = t.elapsed().as_secs_f64();
    let clean = read_batches(&clean_store, "nih");
    assert_eq!(strings(&clean, "image_id").len(), 55 + EXTRA_ROWS - 4);
    let clean_rejects = std::fs::read_to_string(clean_store.join("_rejects/nih.csv")).unwrap();
    assert_eq!(clean_rejects.lines().count(), 1 + 4, "{clean_rejects}");
    let clean_meta = crate::common::meta(&clean_store)["datasets"]["nih"].clone();
    // Each scenario: kills in sequence (a resumed run killed again), then a run to completion.
    let scenarios: [&[KillAt]; 4] = [
        &[KillAt::After(Duration::from_millis(40))],
        &[KillAt::Chunks(12)],
        &[KillAt::Chunks(24)],
        &[KillAt::Chunks(6), KillAt::Chunks(20), KillAt::Chunks(32)],
    ];
    for (i, kills) in scenarios.iter().enumerate() {
        let store = tmp.path().join(format!("s{i}"));
        let args = ingest_args(&root, &store, 2, &[]);
        for (j, at) in kills.iter().enumerate() {
            let killed = run_and_kill(&args, &store, *at);
            // The last kill of the chain may come after the run finished; the others may not.
            assert!(
                killed || j + 1 == kills.len() && kills.len() > 1,
                "scenario {i}: run finished before {at:?} (clean run {clean_secs:.1} s)"
            );
            assert_no_half_written_part(&store);
        }
        let out = run_ok(&args);
        assert!(!store.join("_staging").exists(), "scenario {i}: staging folder left\n{out}");
        assert_same_rows(&clean, &read_batches(&store, "nih"), &format!("scenario {i} {kills:?}"));
        let rejects = std::fs::read_to_string(store.join("_rejects/nih.csv")).unwrap();
        assert_eq!(rejects, clean_rejects, "scenario {i}: rejects");
        let meta = crate::common::meta(&store)["datasets"]["nih"].clone();
        for key in ["rows", "rejects", "rejects_by_reason", "splits", "options", "annotated_findings"] {
            assert_eq!(meta[key], clean_meta[key], "scenario {i}: _meta.json {key}");
        }
        let report = cxr::store::validate::validate(&store).unwrap();
        assert!(report.is_ok() && report.warning_count == 0, "scenario {i}: {report}");
    }
}

#[test]
fn killed_excerpt_ingest_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = nih_root(tmp.path(), 512, 0);
    let (clean_store, store) = (tmp.path().join("clean"), tmp.path().join("s"));
    run_ok(&ingest_args(&root, &clean_store, 1, &[]));
    let args = ingest_args(&root, &store, 1, &[]);
    assert!(run_and_kill(&args, &store, KillAt::Chunks(3)), "killed before the end");
    assert_no_half_written_part(&store);
    let summary: serde_json::Value =
        serde_json::from_str(&run_ok(&[args.clone(), vec!["--json".into()]].concat())).unwrap();
    assert!(summary["resumed_parts"].as_u64().unwrap() >= 3, "{summary}");
    assert_same_rows(&read_batches(&clean_store, "nih"), &read_batches(&store, "nih"), "excerpt");
}

#[test]
fn overwrite_discards_an_interrupted_ingest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = nih_root(tmp.path(), 512, EXTRA_ROWS);
    let store = tmp.path().join("s");
    let args = ingest_args(&root, &store, 2, &[]);
    assert!(run_and_kill(&args, &store, KillAt::Chunks(8)));
    // Other options on an interrupted ingest: refused, the staged parts kept.
    let changed = ingest_args(&root, &store, 2, &["--size", "32"]);
    let out = prep(&changed.iter().map(String::as_str).collect::<Vec<_>>());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--overwrite") && err.contains("_staging"), "{err}");
    assert!(done_files(&store) >= 8, "staged chunks kept");
    let summary: serde_json::Value =
        serde_json::from_str(&run_ok(&[args.clone(), vec!["--overwrite".into(), "--json".into()]].concat())).unwrap();
    assert_eq!(summary["resumed_parts"], 0, "--overwrite starts over: {summary}");
    assert_eq!(summary["images"].as_u64().unwrap(), (55 + EXTRA_ROWS) as u64, "every image decoded again: {summary}");
    assert_no_half_written_part(&store);
}

#[test]
fn changed_size_is_refused_without_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let root = nih_root(tmp.path(), 256, 0);
    let store = tmp.path().join("s");
    run_ok(&ingest_args(&root, &store, 2, &[]));
    let before = read_batches(&store, "nih");
    let changed = ingest_args(&root, &store, 2, &["--size", "32"]);
    let a: Vec<&str> = changed.iter().map(String::as_str).collect();
    let out = prep(&a);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "refused as a fatal error: {err}");
    for word in ["--overwrite", "size", "64", "32"] {
        assert!(err.contains(word), "message names `{word}`: {err}");
    }
    assert!(read_batches(&store, "nih") == before, "refused run left the partition alone");
    run_ok(&[changed, vec!["--overwrite".into()]].concat());
    let after = read_batches(&store, "nih");
    assert!(images(&after).iter().all(|i| i.as_ref().is_some_and(|p| p.len() == 32 * 32)), "rebuilt at 32²");
    assert_eq!(crate::common::meta(&store)["datasets"]["nih"]["options"]["size"], 32);
}

#[test]
fn two_clean_runs_are_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let root = nih_root(tmp.path(), 256, 40);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(&ingest_args(&root, &a, 1, &[]));
    run_ok(&ingest_args(&root, &b, 2, &[]));
    let (ba, bb) = (read_batches(&a, "nih"), read_batches(&b, "nih"));
    assert_same_rows(&ba, &bb, "1 vs 2 threads");
    let (ma, mb) = (crate::common::meta(&a), crate::common::meta(&b));
    for key in ["rows", "splits", "options", "annotated_findings", "metadata_files"] {
        assert_eq!(ma["datasets"]["nih"][key], mb["datasets"]["nih"][key], "_meta.json {key}");
    }
}

/// Names of `candidates` blocker folders, ordered by where they fall in the directory order of a
/// staging folder holding `chunks` chunk records (`part-NNNNN.parquet`, `.done.json` and
/// `options.json`), found by building the same folder in `scratch` (same file system).
fn blockers_in_dir_order(scratch: &Path, chunks: usize, candidates: usize) -> Vec<String> {
    std::fs::create_dir_all(scratch).unwrap();
    std::fs::write(scratch.join("options.json"), b"").unwrap();
    for i in 0..chunks {
        std::fs::write(scratch.join(format!("part-{i:05}.parquet")), b"").unwrap();
        std::fs::write(scratch.join(format!("part-{i:05}.done.json")), b"").unwrap();
    }
    for k in 0..candidates {
        std::fs::create_dir(scratch.join(format!("blocker-{k}"))).unwrap();
    }
    std::fs::read_dir(scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("blocker-"))
        .collect()
}

/// An ingest that dies during its final cleanup (the chunk records deleted before the swap)
/// leaves a staging folder the same command resumes. The cleanup is stopped deterministically: a
/// folder planted in the staging folder makes its `remove_file` fail there, after the entries
/// before it in directory order are gone. Found by this test: the cleanup deleted `options.json`
/// in directory order with the rest, and the re-run then refused ("made with other options",
/// exit 2); `store::staging::Staging::swap_in` now removes it only after the swap.
#[test]
fn ingest_dying_in_the_final_cleanup_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = nih_root(tmp.path(), 8, 45);
    let chunks = 55 + 45;
    let args = |store: &Path| -> Vec<String> {
        let (r, s) = (root.to_str().unwrap(), store.to_str().unwrap());
        ["ingest", "nih", "--root", r, "--out", s, "--metadata-only", "--rows-per-part", "1"].map(String::from).to_vec()
    };
    let clean_store = tmp.path().join("clean");
    run_ok(&args(&clean_store));
    let clean = read_batches(&clean_store, "nih");
    let order = blockers_in_dir_order(&tmp.path().join("scratch"), chunks, 40);
    // First, middle and last in directory order: the last one comes after options.json.
    for blocker in [&order[0], &order[order.len() / 2], &order[order.len() - 1]] {
        let store = tmp.path().join(format!("s-{blocker}"));
        let a = args(&store);
        let child = Command::new(env!("CARGO_BIN_EXE_cxr-prep"))
            .args(&a)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let staging = store.join("_staging/nih");
        while !staging.join("options.json").exists() {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::fs::create_dir(staging.join(blocker)).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "the planted folder {blocker} stops the cleanup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let left: Vec<String> = std::fs::read_dir(&staging)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        std::fs::remove_dir(staging.join(blocker)).unwrap();
        assert_no_half_written_part(&store);
        let out = prep(&a.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            out.status.success(),
            "cleanup stopped at {blocker} ({} files left, options.json {}): {}",
            left.len(),
            left.iter().any(|n| n == "options.json"),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(read_batches(&store, "nih") == clean, "cleanup stopped at {blocker}: rows differ");
    }
}
