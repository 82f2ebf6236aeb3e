//! `cxr-prep validate`: a store built from the real NIH excerpt validates (exit 0); copies of it
//! with one corruption each (a patient moved to another split, a duplicated image id, a label
//! value 3, an image of the wrong byte length, a truncated part, a wrong schema version, …) are
//! reported with the file that holds the problem (exit 1), and nothing else is reported.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BinaryArray, Int8Array, RecordBatch, StringArray};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{copy_dir, fixture, meta, prep, prep_ok};

/// A metadata-only store of the real NIH excerpt, 8 rows per part (7 parts).
fn metadata_store(dir: &Path) -> PathBuf {
    let store = dir.join("valid");
    let root = fixture("csv/nih");
    prep_ok(&[
        "ingest",
        "nih",
        "--root",
        root.to_str().unwrap(),
        "--out",
        store.to_str().unwrap(),
        "--metadata-only",
        "--rows-per-part",
        "8",
    ]);
    store
}

/// A store with 16² images of the excerpt (generated PNGs), 8 rows per part.
fn image_store(dir: &Path) -> PathBuf {
    let root = crate::resume::nih_root(dir, 48, 0);
    let store = dir.join("valid-images");
    let args = crate::resume::ingest_args(&root, &store, 2, &["--size", "16"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    prep_ok(&a);
    store
}

/// A copy of `store` to corrupt.
fn copy(store: &Path, name: &str) -> PathBuf {
    let to = store.parent().unwrap().join(name);
    copy_dir(store, &to);
    to
}

fn part(store: &Path, i: usize) -> PathBuf {
    store.join(format!("dataset=nih/part-{i:05}.parquet"))
}

fn read_part(path: &Path) -> RecordBatch {
    let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = r.map(|b| b.unwrap()).collect();
    assert_eq!(batches.len(), 1, "one batch per small part");
    batches.into_iter().next().unwrap()
}

fn write_part(path: &Path, batch: &RecordBatch) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(cxr::store::writer::writer_properties())).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// Rewrites part `i` with column `col` replaced by `f(old column)`.
fn rewrite_column(store: &Path, i: usize, col: &str, f: impl Fn(&ArrayRef) -> ArrayRef) {
    let path = part(store, i);
    let batch = read_part(&path);
    let idx = batch.schema().index_of(col).unwrap();
    let mut cols = batch.columns().to_vec();
    cols[idx] = f(&cols[idx]);
    write_part(&path, &RecordBatch::try_new(batch.schema(), cols).unwrap());
}

/// A string column with row `row` set to `value`.
fn set_string(a: &ArrayRef, row: usize, value: &str) -> ArrayRef {
    let s = a.as_string::<i32>();
    Arc::new((0..s.len()).map(|i| Some(if i == row { value } else { s.value(i) })).collect::<StringArray>())
}

/// `cxr-prep validate --json`: exit code, violation kinds, the report text.
fn run_validate(store: &Path) -> (Option<i32>, BTreeSet<String>, serde_json::Value, String) {
    let out = prep(&["validate", "--json", store.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let kinds =
        json["violations"].as_array().unwrap().iter().map(|v| v["kind"].as_str().unwrap().to_string()).collect();
    let text = String::from_utf8_lossy(&prep(&["validate", store.to_str().unwrap()]).stdout).into_owned();
    (out.status.code(), kinds, json, text)
}

/// Asserts exit 1, exactly the violation kinds `want`, and a text report naming `file`.
fn assert_reported(store: &Path, want: &[&str], file: &str) -> String {
    let (code, kinds, json, text) = run_validate(store);
    assert_eq!(code, Some(1), "violations exit 1:\n{text}");
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    assert_eq!(kinds, want, "reported kinds:\n{text}");
    assert!(text.contains(file), "the report names `{file}`:\n{text}");
    assert!(json["violation_count"].as_u64().unwrap() >= 1);
    text
}

#[test]
fn valid_stores_pass() {
    let tmp = tempfile::tempdir().unwrap();
    for store in [metadata_store(tmp.path()), image_store(tmp.path())] {
        let (code, kinds, json, text) = run_validate(&store);
        assert_eq!(code, Some(0), "{text}");
        assert!(kinds.is_empty() && json["warning_count"] == 0, "{text}");
        assert_eq!(json["rows"], 55, "{text}");
        assert_eq!(json["part_files"], 7, "{text}");
        assert!(text.contains("OK"), "{text}");
    }
}

#[test]
fn patient_moved_to_another_split_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "moved");
    // The first row whose patient already appeared earlier: move it to another split.
    let mut seen = std::collections::HashSet::new();
    let (mut target, mut patient) = (None, String::new());
    'outer: for i in 0..7 {
        let b = read_part(&part(&store, i));
        let pats = b.column_by_name("patient_id").unwrap().as_string::<i32>();
        for r in 0..b.num_rows() {
            if !seen.insert(pats.value(r).to_string()) {
                let split = b.column_by_name("split").unwrap().as_string::<i32>().value(r).to_string();
                target = Some((i, r, split));
                patient = pats.value(r).to_string();
                break 'outer;
            }
        }
    }
    let (i, r, split) = target.expect("the excerpt has a patient with two images");
    let other = if split == "test" { "train" } else { "test" };
    rewrite_column(&store, i, "split", |a| set_string(a, r, other));
    // The split counts in _meta.json no longer match either.
    let text =
        assert_reported(&store, &["patient_in_two_splits", "row_count"], &format!("part-{i:05}.parquet row {r}"));
    assert!(text.contains(&format!("`{patient}`")), "{text}");
}

#[test]
fn duplicate_image_id_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "dup");
    let first = read_part(&part(&store, 0)).column_by_name("image_id").unwrap().as_string::<i32>().value(0).to_string();
    rewrite_column(&store, 2, "image_id", |a| set_string(a, 5, &first));
    let text = assert_reported(&store, &["duplicate_image_id"], "dataset=nih/part-00002.parquet row 5");
    assert!(text.contains("part-00000.parquet row 0"), "names the first occurrence: {text}");
}

#[test]
fn label_value_outside_the_code_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "label3");
    rewrite_column(&store, 3, "atelectasis", |a| {
        let v = a.as_primitive::<arrow::datatypes::Int8Type>();
        Arc::new(
            (0..v.len())
                .map(|i| if i == 1 { Some(3) } else { v.is_valid(i).then(|| v.value(i)) })
                .collect::<Int8Array>(),
        )
    });
    let text = assert_reported(&store, &["bad_label_value"], "part-00003.parquet row 1");
    assert!(text.contains("atelectasis") && text.contains("= 3"), "{text}");
}

#[test]
fn value_in_an_unannotated_finding_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "unannotated");
    let annotated: Vec<String> =
        serde_json::from_value(meta(&store)["datasets"]["nih"]["annotated_findings"].clone()).unwrap();
    let f = cxr::labels::FINDINGS.iter().find(|f| !annotated.iter().any(|a| a == f.name)).unwrap().name;
    rewrite_column(&store, 1, f, |a| Arc::new((0..a.len()).map(|i| (i == 4).then_some(1i8)).collect::<Int8Array>()));
    let text = assert_reported(&store, &["unannotated_finding"], "part-00001.parquet row 4");
    assert!(text.contains(f), "{text}");
}

#[test]
fn image_of_wrong_byte_length_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&image_store(tmp.path()), "short-image");
    rewrite_column(&store, 1, "image", |a| {
        let b = a.as_binary::<i32>();
        Arc::new(
            (0..b.len()).map(|i| Some(if i == 2 { &b.value(i)[..255] } else { b.value(i) })).collect::<BinaryArray>(),
        )
    });
    let text = assert_reported(&store, &["image_length"], "part-00001.parquet row 2");
    assert!(text.contains("255 bytes") && text.contains("256"), "{text}");
}

#[test]
fn truncated_part_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "truncated");
    let p = part(&store, 3);
    let len = std::fs::metadata(&p).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
    f.set_len(len / 2).unwrap();
    assert_reported(&store, &["unreadable_part"], "dataset=nih/part-00003.parquet");
}

#[test]
fn part_with_another_schema_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "schema");
    let p = part(&store, 4);
    let b = read_part(&p);
    let keep: Vec<usize> = (0..b.num_columns()).filter(|i| b.schema().field(*i).name() != "age").collect();
    write_part(&p, &b.project(&keep).unwrap());
    let text = assert_reported(&store, &["schema_mismatch"], "part-00004.parquet");
    assert!(text.contains("age"), "{text}");
}

#[test]
fn wrong_schema_version_and_counts_in_meta_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let valid = metadata_store(tmp.path());
    for (name, key, value, kind) in
        [("version", "schema_version", "99", "schema_version"), ("rows", "rows", "56", "row_count")]
    {
        let store = copy(&valid, name);
        let path = store.join("_meta.json");
        let mut m = meta(&store);
        if key == "schema_version" {
            m[key] = value.parse::<u64>().unwrap().into();
        } else {
            m["datasets"]["nih"][key] = value.parse::<u64>().unwrap().into();
        }
        std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
        let text = assert_reported(&store, &[kind], "_meta.json");
        assert!(text.contains(value), "{text}");
    }
    let store = copy(&valid, "no-meta");
    std::fs::remove_file(store.join("_meta.json")).unwrap();
    assert_reported(&store, &["meta_missing"], "_meta.json");
}

#[test]
fn leftovers_are_warnings_not_violations() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "leftovers");
    std::fs::write(store.join("dataset=nih/part-00009.parquet.tmp"), b"half").unwrap();
    std::fs::create_dir_all(store.join("_staging/nih")).unwrap();
    let (code, kinds, json, text) = run_validate(&store);
    assert_eq!(code, Some(0), "{text}");
    assert!(kinds.is_empty(), "{text}");
    assert_eq!(json["warning_count"], 2, "{text}");
    assert!(text.contains("part-00009.parquet.tmp") && text.contains("_staging"), "{text}");
}

#[test]
fn missing_store_is_a_fatal_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = prep(&["validate", tmp.path().join("nowhere").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_reported(&empty, &["meta_missing"], "_meta.json");
}

#[test]
fn many_violations_are_counted_but_listed_up_to_the_cap() {
    let tmp = tempfile::tempdir().unwrap();
    let store = copy(&metadata_store(tmp.path()), "many");
    for i in 0..7 {
        rewrite_column(&store, i, "edema", |a| Arc::new((0..a.len()).map(|_| Some(-2i8)).collect::<Int8Array>()));
    }
    let (code, kinds, json, text) = run_validate(&store);
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["bad_label_value"], "{text}");
    assert_eq!(json["counts"]["bad_label_value"], 55, "{text}");
    assert_eq!(json["violation_count"], 55, "{text}");
    let cap = cxr::store::validate::MAX_LISTED_PER_KIND;
    assert_eq!(json["violations"].as_array().unwrap().len(), cap, "{text}");
    assert!(text.contains(&format!("{} issues not listed", 55 - cap)), "{text}");
}

#[test]
fn store_of_all_real_excerpts_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("all");
    for d in ["nih", "chexpert", "padchest", "vindr"] {
        let root = fixture("csv").join(d);
        prep_ok(&[
            "ingest", d, "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only",
            "--rows-per-part", "16", "--max-reject-fraction", "1",
        ]);
    }
    let (code, kinds, json, text) = run_validate(&store);
    assert_eq!(code, Some(0), "{text}");
    assert!(kinds.is_empty(), "{text}");
    assert_eq!(json["datasets"].as_array().unwrap().len(), 4, "{text}");
}
