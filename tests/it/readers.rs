//! The store is one table for pyarrow, polars and DuckDB (hive partitioning, big binary column,
//! metadata-only and image partitions side by side). Runs `scripts/read_store.py`; CI installs
//! the three Python packages and sets `CXR_REQUIRE_PY_READERS=1`, so there a missing reader fails.

use std::process::Command;

use crate::common::{fixture, prep_ok};

#[test]
fn pyarrow_polars_and_duckdb_read_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let s = store.to_str().unwrap();
    let mut cfg = cxr::synth::SynthConfig::new(tmp.path().join("data"));
    cfg.images_per_dataset = 16;
    cfg.image_size = 48;
    let report = cxr::synth::synthesize(&cfg).unwrap();
    for (name, root, _) in report.datasets.iter().take(3) {
        prep_ok(&["ingest", name, "--root", root.to_str().unwrap(), "--out", s, "--size", "24", "--rows-per-part", "5"]);
    }
    prep_ok(&["ingest", "padchest", "--root", fixture("csv/padchest").to_str().unwrap(), "--out", s, "--metadata-only"]);
    let script = fixture("../../scripts/read_store.py");
    let out = match Command::new("python3").arg(&script).arg(&store).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(std::env::var("CXR_REQUIRE_PY_READERS").is_err(), "python3 not runnable: {e}");
            eprintln!("skipped: python3 not available ({e})");
            return;
        }
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    match out.status.code() {
        Some(0) => assert_eq!(text.matches(" OK: ").count(), 3, "{text}"),
        Some(3) if std::env::var("CXR_REQUIRE_PY_READERS").is_err() => eprintln!("skipped readers: {text}"),
        _ => panic!("readers disagree with the store:\n{text}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The store's own reader (`cxr::store::reader`): one way in for training, prediction, stats and
// validate. A part whose column has a type no store type can be cast from is a typed error
// naming the file and the column everywhere, never a panic.

/// A store of the NIH case at 16 px whose first part has `cardiomegaly` as text ("1", "0",
/// null) instead of int8: what a careless rewrite by another tool leaves.
fn store_with_text_label(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::sync::Arc;

    use arrow::array::{Array, AsArray, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Int8Type, Schema};

    let store = dir.join("store");
    let root = fixture("cases/nih-kaggle-csv-age-outliers/root");
    prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "16"]);
    let part = store.join("dataset=nih/part-00000.parquet");
    let f = std::fs::File::open(&part).unwrap();
    let batches: Vec<RecordBatch> = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let b = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let i = b.schema().index_of("cardiomegaly").unwrap();
    let old = b.column(i).as_primitive::<Int8Type>();
    let text: StringArray = (0..old.len()).map(|r| old.is_valid(r).then(|| old.value(r).to_string())).collect();
    let mut cols = b.columns().to_vec();
    cols[i] = Arc::new(text);
    let mut fields: Vec<Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = Field::new("cardiomegaly", DataType::Utf8, true);
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&part).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    (store, part)
}

/// The error is `StoreError::Column` for `part` and `column`.
fn assert_column_error(e: &cxr::store::StoreError, part: &std::path::Path, column: &str) {
    match e {
        cxr::store::StoreError::Column { path, column: c, reason } => {
            assert_eq!(path, part, "{e}");
            assert_eq!(c, column, "{e}");
            assert!(reason.contains("Utf8") && reason.contains("Int8"), "{reason}");
            let msg = e.to_string();
            assert!(msg.contains("part-00000.parquet") && msg.contains("`cardiomegaly`"), "{msg}");
        }
        other => panic!("expected a column error, got {other:?}"),
    }
}

#[test]
fn a_column_of_the_wrong_type_is_a_store_error_naming_file_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, part) = store_with_text_label(tmp.path());
    let labels = vec!["no_finding".to_string(), "cardiomegaly".to_string()];

    // Training: the part opens (footer), reading the label column is the error.
    let pf = cxr::train::data::PartFile::open(&part).unwrap();
    let all = cxr::run::config::ViewFilter::All;
    for split in ["train", "val", "test"] {
        let e = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cxr::train::data::read_rows(&pf, 0, None, split, &all, &labels, true)))
            .expect("no panic")
            .unwrap_err();
        match &e {
            cxr::train::TrainError::Store(s) => assert_column_error(s, &part, "cardiomegaly"),
            other => panic!("expected a store error, got {other:?}"),
        }
    }
    // A read that does not ask for the column is unaffected.
    let rows = cxr::train::data::read_rows(&pf, 0, None, "train", &all, &labels[..1], false).unwrap();
    assert!(!rows.is_empty());

    // Prediction's reader (StoreReader), the same error.
    let r = cxr::store::reader::StoreReader::open(&store).unwrap();
    let q = cxr::store::reader::RowQuery { findings: labels.clone(), images: true, ..Default::default() };
    let e = r.read_dataset("nih", &q, 4).unwrap().find_map(Result::err).expect("an error");
    assert_column_error(&e, &part, "cardiomegaly");

    // Stats: the conformed copy for polars goes through the same reader.
    match cxr::stats::compute(&store, Some("nih"), None) {
        Err(cxr::stats::StatsError::Store(e)) => assert_column_error(&e, &part, "cardiomegaly"),
        other => panic!("expected a store error from stats, got {other:?}"),
    }

    // Validate: a schema violation naming the file and the column, no panic.
    let v = std::panic::catch_unwind(|| cxr::store::validate::validate(&store)).expect("no panic").unwrap();
    assert_eq!(v.counts.get("schema_mismatch"), Some(&1), "{:#?}", v.violations);
    let text = format!("{:?}", v.violations);
    assert!(text.contains("part-00000.parquet") && text.contains("cardiomegaly") && text.contains("Utf8"), "{text}");
}

#[test]
fn old_meta_without_later_options_reads_and_a_broken_one_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let root = fixture("cases/nih-kaggle-csv-age-outliers/root");
    prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "16"]);
    let meta_path = store.join("_meta.json");
    let mut meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    // A store written before --full-res-jpeg / --full-res-j2k existed.
    let opts = meta["datasets"]["nih"]["options"].as_object_mut().unwrap();
    opts.remove("jpeg_dct_scaling");
    opts.remove("j2k_reduce");
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let r = cxr::store::reader::StoreReader::open(&store).unwrap();
    let o = &r.dataset("nih").unwrap().options;
    assert_eq!((o.size, o.jpeg_dct_scaling, o.j2k_reduce), (16, false, false));
    // An options entry that is not the typed layout: an error naming _meta.json, never a default size.
    meta["datasets"]["nih"]["options"]["size"] = serde_json::json!("large");
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();
    let e = cxr::store::reader::StoreReader::open(&store).err().expect("an error");
    assert!(matches!(e, cxr::store::StoreError::MetaJson { .. }), "{e:?}");
    assert!(e.to_string().contains("_meta.json"), "{e}");
}
