//! Text metadata as people save it (issue 18, kind 4): a UTF-8 byte-order mark, CRLF line ends
//! and trailing white space in any CSV or list file of any layout give the store the published
//! files give; and the ingest itself refuses a patient in two splits, naming the patient and the
//! rows and files that put them there.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use cxr::rng::Rng;
use cxr::synth::{synthesize, SynthConfig};

use crate::common::{copy_dir, fixture, prep, prep_ok, read_batches, strings};

/// The NIH case of the shared folder (`nih-split-lists-bom-crlf`): the official split lists
/// saved by Windows Notepad (BOM, CRLF). The Data Entry file and images are issue 11's NIH case.
fn nih_root_with_lists(dir: &Path, test: &[&str], train_val: &[&str]) -> PathBuf {
    let root = dir.join("nih");
    copy_dir(&fixture("cases/nih-kaggle-csv-age-outliers/root"), &root);
    let list = |names: &[&str]| [b"\xEF\xBB\xBF".as_slice(), names.iter().map(|n| format!("{n}\r\n")).collect::<String>().as_bytes()].concat();
    std::fs::write(root.join("test_list.txt"), list(test)).unwrap();
    std::fs::write(root.join("train_val_list.txt"), list(train_val)).unwrap();
    root
}

/// (image id, split) of every stored row.
fn splits(store: &Path, dataset: &str) -> Vec<(String, String)> {
    let b = read_batches(store, dataset);
    strings(&b, "image_id").into_iter().zip(strings(&b, "split")).map(|(i, s)| (i.unwrap(), s.unwrap())).collect()
}

#[test]
fn nih_split_lists_with_a_byte_order_mark_and_crlf_keep_patients_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let root = nih_root_with_lists(tmp.path(), &["90000001_000.png", "90000001_001.png"], &["90000002_000.png", "90000003_000.png"]);
    let store = tmp.path().join("store");
    prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "16"]);
    for (id, split) in splits(&store, "nih") {
        let want_test = id.starts_with("90000001_");
        assert_eq!(split == "test", want_test, "{id} in {split}");
    }
    let v = prep(&["validate", store.to_str().unwrap()]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}

#[test]
fn a_patient_in_two_splits_fails_the_ingest_naming_patient_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    // The test list names one of patient 90000001's two images: the lists disagree.
    let root = nih_root_with_lists(tmp.path(), &["90000001_001.png"], &["90000001_000.png", "90000002_000.png", "90000003_000.png"]);
    let store = tmp.path().join("store");
    let out = prep(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "16"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("Patient `90000001` would be in two splits"), "{err}");
    assert!(err.contains("90000001_000.png") && err.contains("90000001_001.png"), "{err}");
    assert!(err.contains("test_list.txt") && err.contains("Data_Entry_2017.csv"), "{err}");
    // Nothing was swapped in.
    assert!(!store.join("dataset=nih").exists());
}

/// Every metadata text file under `root` (CSV, list, gzip-compressed CSV) rewritten the way an
/// editor saves it: a UTF-8 byte-order mark, CRLF line ends, spaces or tabs after some lines.
fn resave_as_people_do(root: &Path, rng: &mut Rng) -> usize {
    let mut n = 0;
    for path in crate::common::walk_files(root) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let gz = name.ends_with(".csv.gz");
        if !(gz || name.ends_with(".csv") || name.ends_with(".txt")) {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        let text = if gz {
            let mut s = String::new();
            flate2::read::MultiGzDecoder::new(&raw[..]).read_to_string(&mut s).unwrap();
            s
        } else {
            String::from_utf8(raw).unwrap()
        };
        let mut out = String::from("\u{feff}");
        for line in text.lines() {
            out.push_str(line);
            out.push_str(["", " ", "\t", "  "][rng.below(4)]);
            out.push_str("\r\n");
        }
        let bytes = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(out.as_bytes()).unwrap();
            e.finish().unwrap()
        } else {
            out.into_bytes()
        };
        std::fs::write(&path, bytes).unwrap();
        n += 1;
    }
    n
}

/// Every stored metadata column of every row, in row order, as text.
fn rows(store: &Path, dataset: &str) -> Vec<String> {
    let b = read_batches(store, dataset);
    let n = b.iter().map(|x| x.num_rows()).sum();
    let mut out = vec![String::new(); n];
    let schema = b[0].schema();
    for f in schema.fields() {
        if ["image", "height", "width"].contains(&f.name().as_str()) {
            continue;
        }
        let mut i = 0;
        for batch in &b {
            let col = batch.column_by_name(f.name()).unwrap();
            for r in 0..batch.num_rows() {
                let v = arrow::util::display::array_value_to_string(col, r).unwrap();
                out[i].push_str(&format!("{}={v};", f.name()));
                i += 1;
            }
        }
    }
    out
}

#[test]
fn every_layout_reads_bom_crlf_and_trailing_space_like_the_published_files() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = SynthConfig::new(tmp.path().join("data"));
    cfg.images_per_dataset = 24;
    cfg.image_size = 32;
    let report = synthesize(&cfg).unwrap();
    let mut rng = Rng::new(18);
    for (name, root, n) in report.datasets.iter().chain(&report.alternates) {
        let plain = tmp.path().join(format!("plain-{}", root.file_name().unwrap().to_string_lossy()));
        let saved = tmp.path().join(format!("saved-{}", root.file_name().unwrap().to_string_lossy()));
        let copy = tmp.path().join(format!("copy-{}", root.file_name().unwrap().to_string_lossy()));
        copy_dir(root, &copy);
        assert!(resave_as_people_do(&copy, &mut rng) > 0, "{name}: no metadata file rewritten");
        for (r, s) in [(root, &plain), (&copy, &saved)] {
            let out = prep_ok(&["ingest", name, "--root", r.to_str().unwrap(), "--out", s.to_str().unwrap(), "--metadata-only", "--strict"]);
            assert!(out.contains(&format!("{n} rows written")), "{name}: {out}");
        }
        assert_eq!(rows(&plain, name), rows(&saved, name), "{name}: the re-saved metadata gives other rows");
    }
}
