//! Rows are never lost over an optional field, no cell value panics, our own files read back
//! robustly (issue 11, section 2):
//! - the NIH case with impossible ages (414, 148 as in the original `Data_Entry_2017.csv`):
//!   4 rows stored with images and labels, the ages null, a counted note, exit 0;
//! - unknown sex codes, unknown/empty views and unparsable ages become null with notes; a MIMIC
//!   `subject_id` that cannot name its `pXX` folder is a reject, not a panic;
//! - seeded fuzzing of every reader's CSV cells finds no panic (DICOM headers: `robust_dicom`);
//! - part files rewritten by pyarrow (large/view types, other integer widths) read the same
//!   through every store reader; an edited run `config.json` is a clear error naming the file;
//! - `fit` skips rows with no stated label in its label set (neither trained as negatives nor counted).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float32Type, UInt64Type};

use crate::common::{copy_dir, fixture, prep, prep_ok};
// The fuzz cases draw from the crate's seeded generator (rand's Xoshiro256++).
use cxr::rng::Rng;

fn ages(batches: &[arrow::array::RecordBatch]) -> Vec<Option<f32>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name("age").unwrap().as_primitive::<Float32Type>().clone();
            (0..a.len()).map(move |i| a.is_valid(i).then(|| a.value(i))).collect::<Vec<_>>()
        })
        .collect()
}

fn notes(store: &Path, ds: &str) -> Vec<String> {
    let meta = crate::common::meta(store);
    meta["datasets"][ds]["notes"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn nih_impossible_ages_are_null_and_the_rows_are_stored() {
    let root = fixture("cases/nih-kaggle-csv-age-outliers/root");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    let out = prep(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let note = "age: 2 values out of range (0..=120 years) stored as null (first: row 2, `414`)";
    assert!(stdout.contains(note), "{stdout}");
    assert!(notes(&store, "nih").contains(&note.to_string()));
    let meta = crate::common::meta(&store);
    assert_eq!(meta["datasets"]["nih"]["rows"], 4);
    assert_eq!(meta["datasets"]["nih"]["rejects"], 0);
    let b = crate::common::read_batches(&store, "nih");
    let ids = crate::common::strings(&b, "image_id");
    let want_ids = ["90000001_000.png", "90000001_001.png", "90000002_000.png", "90000003_000.png"];
    assert_eq!(ids, want_ids.map(|s| Some(s.to_string())));
    assert_eq!(ages(&b), vec![Some(58.0), None, None, Some(37.0)]);
    assert!(crate::common::images(&b).iter().all(|i| i.as_ref().is_some_and(|p| p.len() == 224 * 224)));
    assert_eq!(crate::common::labels(&b, "cardiomegaly"), vec![Some(1), Some(0), Some(0), Some(0)]);
    assert_eq!(crate::common::labels(&b, "no_finding"), vec![Some(0), Some(1), Some(0), Some(0)]);
    assert_eq!(crate::common::labels(&b, "atelectasis"), vec![Some(0), Some(0), Some(1), Some(0)]);
    assert_eq!(crate::common::labels(&b, "nodule"), vec![Some(0), Some(0), Some(0), Some(1)]);
    let sex = crate::common::strings(&b, "sex");
    assert_eq!(sex, ["M", "M", "F", "F"].map(|s| Some(s.to_string())));
}

#[test]
fn unusable_optional_cells_become_null_with_counted_notes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("chexpert");
    let dir = root.join("CheXpert-v1.0-small");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("train.csv"),
        "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly\n\
         CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg,Female,68,Frontal,AP,,1.0\n\
         CheXpert-v1.0-small/train/patient00002/study1/view1_frontal.jpg,Unknown,sixty,Frontal,XX,1.0,\n\
         CheXpert-v1.0-small/train/patient00003/study1/view1_frontal.jpg,Male,200,Frontal,,,0.0\n\
         CheXpert-v1.0-small/train/patient00004/study1/view1_frontal.jpg,Male,nan,Frontal,PA,,-1.0\n\
         CheXpert-v1.0-small/train/patient00005/study1/view1_frontal.jpg,Male,40,Frontal,PA,,2.0\n",
    )
    .unwrap();
    let store = tmp.path().join("s");
    let out = prep(&[
        "ingest", "chexpert", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only",
        "--max-reject-fraction", "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let n = notes(&store, "chexpert");
    for want in [
        "age: 1 values out of range (0..=120 years) stored as null (first: row 3, `200`)",
        "age: 2 values that are not a number of years stored as null (first: row 2, `sixty`)",
        "sex: 1 values other than M/F/O (Male/Female/Other) stored as null (first: row 2, `Unknown`)",
        "view: 1 empty view cells stored as null (first: row 3)",
        "view: 1 values not in the manifest's view map stored as null (first: row 2, `XX`)",
    ] {
        assert!(n.contains(&want.to_string()), "missing `{want}` in {n:#?}");
    }
    // A label value that means nothing (2.0) still rejects its row; the others are all stored.
    let meta = crate::common::meta(&store);
    assert_eq!(meta["datasets"]["chexpert"]["rows"], 4);
    assert_eq!(meta["datasets"]["chexpert"]["rejects"], 1);
    let b = crate::common::read_batches(&store, "chexpert");
    assert_eq!(ages(&b), vec![Some(68.0), None, None, None]);
    assert_eq!(crate::common::strings(&b, "view"), vec![Some("AP".into()), None, None, Some("PA".into())]);
    assert_eq!(crate::common::strings(&b, "sex"), vec![Some("F".into()), None, Some("M".into()), Some("M".into())]);
    assert_eq!(crate::common::labels(&b, "cardiomegaly"), vec![Some(1), None, Some(0), Some(-1)]);
}

#[test]
fn nih_rows_with_an_empty_finding_labels_cell_have_every_finding_null() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("nih");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("Data_Entry_2017_v2020.csv"),
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position\n\
         1_000.png,Mass,0,1,40,M,PA\n2_000.png,,0,2,41,F,PA\n3_000.png,Mass|Bogus,0,3,42,F,AP\n",
    )
    .unwrap();
    let store = tmp.path().join("s");
    let out = prep(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only", "--max-reject-fraction", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let n = notes(&store, "nih");
    assert!(n.contains(&"labels: 1 rows with an empty Finding Labels cell stored with every finding null (first: row 2)".to_string()), "{n:?}");
    let b = crate::common::read_batches(&store, "nih");
    assert_eq!(crate::common::labels(&b, "mass"), vec![Some(1), None]);
    assert_eq!(crate::common::labels(&b, "no_finding"), vec![Some(0), None]);
    // An unknown term still rejects its row.
    assert_eq!(crate::common::rejects(&store, "nih").len(), 1);
}

#[test]
fn mimic_subject_ids_that_name_no_folder_are_rejects_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mimic");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("mimic-cxr-2.0.0-metadata.csv"),
        "dicom_id,subject_id,study_id,ViewPosition\nd1,10000032,50414267,PA\nd2,1,50414268,PA\nd3,1é,50414269,AP\nd4,é1234,50414270,\nd5,12345678,50414271,SIDEWAYS\n",
    )
    .unwrap();
    std::fs::write(
        root.join("mimic-cxr-2.0.0-chexpert.csv"),
        "subject_id,study_id,Cardiomegaly,No Finding\n10000032,50414267,1.0,\n",
    )
    .unwrap();
    let store = tmp.path().join("s");
    let out = prep(&[
        "ingest", "mimic", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only",
        "--max-reject-fraction", "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let rejects = crate::common::rejects(&store, "mimic");
    let rows: Vec<&str> = rejects.iter().map(|r| r["row"].as_str()).collect();
    assert_eq!(rows, ["2", "3", "4"], "{rejects:?}");
    assert!(rejects.iter().all(|r| r["reason"].contains("subject_id") && r["file"].contains("metadata")), "{rejects:?}");
    let b = crate::common::read_batches(&store, "mimic");
    assert_eq!(crate::common::strings(&b, "image_id"), vec![Some("d1".into()), Some("d5".into())]);
    assert_eq!(crate::common::labels(&b, "cardiomegaly"), vec![Some(1), None]);
    let n = notes(&store, "mimic");
    assert!(n.iter().any(|x| x.starts_with("labels: 1 rows whose study has no row in mimic-cxr-2.0.0-chexpert.csv")), "{n:?}");
    assert!(n.iter().any(|x| x.contains("`SIDEWAYS`")), "{n:?}");
}

// ---------------------------------------------------------------------------------------------
// Fuzzing

/// Cell values: half plausible (so rows reach the deeper code), the rest random text.
const PLAUSIBLE: &[&str] = &[
    "0", "1", "1.0", "0.0", "-1.0", "2", "PA", "AP", "L", "Lateral", "Frontal", "LATERAL", "M", "F", "Male", "Unknown",
    "58", "414", "058Y", "-3", "nan", "inf", "1e30", "10000032", "50414267", "1", "é1", "['pleural effusion', ' cardiomegaly']",
    "['']", "[]", "['open", "No Finding", "Cardiomegaly|Effusion", "Hernia|", "20140915", "2é140915", "1932.0", "train",
    "validate", "test", "CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg", "patient/study", "../../etc/passwd",
    "/abs/x.dcm", "12.0", "a.png", "R1", "Aortic enlargement", "No finding", "１２", "\u{feff}x", "\0",
];
const ALPHABET: &[char] = &[
    'a', 'Z', '0', '1', '9', '.', '-', '+', 'e', 'Y', ' ', ',', '"', '\'', '\n', '\r', '|', '[', ']', '/', '\\', 'é', '中', '😀',
    '\u{feff}', '\0', '\t', ';',
];

fn fuzz_cell(rng: &mut Rng) -> String {
    match rng.below(10) {
        0..=4 => PLAUSIBLE[rng.below(PLAUSIBLE.len())].to_string(),
        5 => String::new(),
        _ => (0..rng.below(14)).map(|_| ALPHABET[rng.below(ALPHABET.len())]).collect(),
    }
}

/// A CSV with `header` and random rows (some short, some long); sometimes raw random bytes.
fn fuzz_csv(rng: &mut Rng, path: &Path, header: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let ncol = header.split(',').count();
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    for _ in 0..rng.below(12) + 1 {
        let n = match rng.below(8) {
            0 => rng.below(ncol + 1),
            1 => ncol + rng.below(3),
            _ => ncol,
        };
        let rec: Vec<String> = (0..n).map(|_| fuzz_cell(rng)).collect();
        w.write_record(&rec).unwrap();
    }
    let mut bytes = format!("{header}\n").into_bytes();
    bytes.extend(w.into_inner().unwrap());
    if rng.below(6) == 0 {
        bytes.extend((0..rng.below(64)).map(|_| rng.next_u64() as u8));
    }
    std::fs::write(path, bytes).unwrap();
}

/// (dataset, [(file under the root, header)]) for every reader layout.
fn layouts() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    vec![
        ("nih", vec![
            ("Data_Entry_2017_v2020.csv", "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"),
            ("test_list.txt", "a.png"),
        ]),
        ("chexpert", vec![
            ("CheXpert-v1.0-small/train.csv", "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly,Edema"),
            ("CheXpert-v1.0-small/valid.csv", "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Cardiomegaly,Edema"),
        ]),
        ("mimic", vec![
            ("mimic-cxr-2.0.0-metadata.csv", "dicom_id,subject_id,study_id,ViewPosition"),
            ("mimic-cxr-2.0.0-chexpert.csv", "subject_id,study_id,Atelectasis,Cardiomegaly,No Finding"),
            ("mimic-cxr-2.0.0-split.csv", "dicom_id,study_id,subject_id,split"),
        ]),
        ("padchest", vec![(
            "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv",
            ",ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,Projection,Labels",
        )]),
        ("vindr", vec![
            ("annotations/image_labels_train.csv", "image_id,rad_id,Aortic enlargement,Cardiomegaly,No finding"),
            ("annotations/image_labels_test.csv", "image_id,Aortic enlargement,Cardiomegaly,No finding"),
        ]),
        ("vindr", vec![("train.csv", "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max")]),
        ("uka", vec![(
            "UKA_CXR_labels.csv",
            "image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,pleural_effusion_right,healthy",
        )]),
    ]
}

#[test]
fn fuzzed_csv_cells_never_panic_in_any_reader() {
    use cxr::ingest::decode::DecodeOptions;
    use cxr::harmonize::pixels::PixelOptions;
    use cxr::prep::process::{process, row_reject, Context};

    let tmp = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_C5C5);
    let (mut cases, mut rows, mut stored, mut rejected) = (0, 0, 0, 0);
    let mut panics = Vec::new();
    for (li, (dataset, files)) in layouts().into_iter().enumerate() {
        let m = cxr::manifest::Manifest::builtin(dataset).unwrap();
        for case in 0..40 {
            let root = tmp.path().join(format!("{li}-{case}"));
            for (file, header) in &files {
                fuzz_csv(&mut rng, &root.join(file), header);
            }
            cases += 1;
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let mut counts = (0, 0, 0);
                let Ok(src) = cxr::ingest::open_source(&m, &root) else { return counts };
                let annotated = cxr::harmonize::label_map::annotated_mask(&m, &src.annotated);
                let ctx = Context {
                    manifest: &m,
                    annotated: &annotated,
                    seed: 7,
                    root: &root,
                    root_canon: root.canonicalize().unwrap(),
                    metadata_only: true,
                    decode: DecodeOptions::default(),
                    pixels: PixelOptions::default(),
                };
                for r in src.records {
                    counts.0 += 1;
                    let outcome = match r {
                        Ok(rec) => process(&ctx, "fuzz.csv", rec).map(|_| ()).map_err(Box::new),
                        Err(e) => Err(Box::new(row_reject(e))),
                    };
                    match outcome {
                        Ok(_) => counts.1 += 1,
                        Err(rej) => {
                            assert!(!rej.reason.is_empty() && rej.row > 0, "a reject names its row: {rej:?}");
                            counts.2 += 1;
                        }
                    }
                }
                counts
            }));
            match outcome {
                Ok((r, s, j)) => {
                    rows += r;
                    stored += s;
                    rejected += j;
                }
                Err(_) => panics.push(format!("{dataset} case {case}: {}", root.display())),
            }
        }
    }
    assert!(panics.is_empty(), "readers panicked on {} of {cases} cases:\n{}", panics.len(), panics.join("\n"));
    // The cases reach the row code: many rows, some stored, some rejected. (A VinDr image with a
    // damaged reader row is rejected as a whole, not stored from a partial vote: fewer stored.)
    assert!(rows > 1500 && stored > 50 && rejected > 100, "rows {rows}, stored {stored}, rejected {rejected}");
}

// ---------------------------------------------------------------------------------------------
// Our own files

/// The NIH case ingested at 16 px: the store the committed rewritten parts were made from.
fn small_store(dir: &Path) -> PathBuf {
    let root = fixture("cases/nih-kaggle-csv-age-outliers/root");
    let store = dir.join("store");
    prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "16"]);
    store
}

fn samples(store: &Path) -> Vec<cxr::store::reader::StoredSample> {
    let r = cxr::store::reader::StoreReader::open(store).unwrap();
    let q = cxr::store::reader::RowQuery {
        splits: None,
        views: Some(vec!["PA".into(), "AP".into()]),
        images: true,
        findings: vec!["cardiomegaly".into(), "no_finding".into(), "nodule".into(), "pleural_effusion".into()],
    };
    r.read_dataset("nih", &q, 3).unwrap().flat_map(|b| b.unwrap()).collect()
}

#[test]
fn parts_rewritten_by_pyarrow_read_the_same_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let store = small_store(tmp.path());
    let part = store.join("dataset=nih/part-00000.parquet");
    // The committed original is what this ingest writes (same values), so the rewrites are of it.
    let read = |p: &Path| {
        let f = std::fs::File::open(p).unwrap();
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap();
        r.map(|b| b.unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(read(&part), read(&fixture("robust/original.parquet")), "ingest output changed: regenerate the fixtures");
    let base = samples(&store);
    assert_eq!(base.len(), 4);
    let base_validate = cxr::store::validate::validate(&store).unwrap();
    assert_eq!(base_validate.violation_count, 0, "{base_validate:?}");
    let base_stats = cxr::stats::compute(&store, Some("nih"), None).unwrap();
    for name in ["rewritten_large.parquet", "rewritten_view.parquet"] {
        let other = tmp.path().join(name);
        copy_dir(&store, &other);
        std::fs::copy(fixture(&format!("robust/{name}")), other.join("dataset=nih/part-00000.parquet")).unwrap();
        assert_eq!(samples(&other), base, "{name}: StoreReader");
        let v = cxr::store::validate::validate(&other).unwrap();
        assert_eq!(v.violation_count, 0, "{name}: {:#?}", v.violations);
        assert!(v.counts.contains_key("foreign_encoding"), "{name}: the rewrite is reported as a warning");
        let s = cxr::stats::compute(&other, Some("nih"), None).unwrap();
        assert_eq!(format!("{s:?}"), format!("{base_stats:?}"), "{name}: stats");
        // The training reader: label columns and images of the train and val rows.
        let labels = vec!["cardiomegaly".to_string(), "no_finding".to_string()];
        for split in ["train", "val", "test"] {
            let rows = |p: &Path| {
                let pf = cxr::train::data::PartFile::open(p).unwrap();
                let all = cxr::run::config::ViewFilter::All;
                cxr::train::data::read_rows(&pf, 0, None, split, &all, &labels, true)
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.labels, r.pixels))
                    .collect::<Vec<_>>()
            };
            assert_eq!(rows(&other.join("dataset=nih/part-00000.parquet")), rows(&part), "{name}: train reader, {split}");
        }
    }
}

#[test]
fn a_label_value_that_does_not_fit_is_an_error_not_a_panic() {
    use std::sync::Arc;
    let tmp = tempfile::tempdir().unwrap();
    let store = small_store(tmp.path());
    let part = store.join("dataset=nih/part-00000.parquet");
    let f = std::fs::File::open(&part).unwrap();
    let b: Vec<_> = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let b = &b[0];
    let i = b.schema().index_of("cardiomegaly").unwrap();
    let mut cols = b.columns().to_vec();
    cols[i] = Arc::new(arrow::array::Int32Array::from(vec![300; b.num_rows()]));
    let mut fields: Vec<arrow::datatypes::Field> = b.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[i] = arrow::datatypes::Field::new("cardiomegaly", arrow::datatypes::DataType::Int32, true);
    let batch = arrow::array::RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&part).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let r = cxr::store::reader::StoreReader::open(&store).unwrap();
    let q = cxr::store::reader::RowQuery { findings: vec!["cardiomegaly".into()], ..Default::default() };
    let e = r.read_dataset("nih", &q, 8).unwrap().find_map(Result::err).expect("an error");
    let msg = format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default());
    assert!(msg.contains("cardiomegaly"), "{msg}");
    let pf = cxr::train::data::PartFile::open(&part).unwrap();
    let all = cxr::run::config::ViewFilter::All;
    let e = cxr::train::data::read_rows(&pf, 0, None, "train", &all, &["cardiomegaly".to_string()], false).unwrap_err();
    assert!(format!("{e} {:?}", e).contains("cardiomegaly"), "{e:?}");
}

#[test]
fn an_edited_run_config_is_a_clear_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.json");
    let cases = [
        ("garbage", "not json {".to_string()),
        ("empty", String::new()),
        ("missing field", r#"{"tool": "cxr"}"#.to_string()),
        ("wrong type", r#"{"tool": 5, "created_at": [], "config": "x"}"#.to_string()),
    ];
    for (what, text) in cases {
        std::fs::write(&path, text).unwrap();
        let e = catch_unwind(|| cxr::run::RunConfig::read(&path)).expect("no panic").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("config.json"), "{what}: {msg}");
        // predict reads the same file for a run folder.
        let p = catch_unwind(|| cxr::evaluate::predict::predict_run::<cxr::runtime::Cpu>(tmp.path(), "test", None, &cxr::runtime::cpu_device()))
            .expect("no panic")
            .unwrap_err();
        assert!(p.to_string().contains("config.json"), "{what}: {p}");
    }
}

#[test]
fn fit_skips_rows_without_a_stated_label() {
    use cxr::train::data::{DataIndex, DatasetParts};
    // The PadChest excerpt: rows 24 and 27 have no Labels and are stored with every finding null.
    let root = fixture("csv/padchest");
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("s");
    prep_ok(&["ingest", "padchest", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--metadata-only"]);
    let b = crate::common::read_batches(&store, "padchest");
    let splits = crate::common::strings(&b, "split");
    let rows: Vec<u64> = b
        .iter()
        .flat_map(|x| x.column_by_name("source_row").unwrap().as_primitive::<UInt64Type>().values().to_vec())
        .collect();
    let labels = vec!["pleural_effusion".to_string(), "cardiomegaly".to_string()];
    let effusion = crate::common::labels(&b, "pleural_effusion");
    let count = |split: &str, unlabelled: bool| {
        rows.iter().zip(&splits).filter(|(r, s)| s.as_deref() == Some(split) && ((**r == 24 || **r == 27) == unlabelled)).count()
    };
    let positives = rows
        .iter()
        .zip(&splits)
        .zip(&effusion)
        .filter(|((_, s), e)| s.as_deref() == Some("train") && **e == Some(1))
        .count() as u64;
    assert!(count("train", true) + count("val", true) > 0, "an unlabelled row in train or val (change the fixture rows)");
    let cfg: cxr::run::config::TrainConfig = serde_json::from_value(serde_json::json!({
        "store": store, "datasets": ["padchest"], "labels": labels, "views": [], "uncertain": "zeros",
        "init": "random", "weights": null, "model": "tiny", "image_size": 16, "input_norm": "None",
        "epochs": 1, "batch": 2, "lr": 1.0, "weight_decay": 0.0, "adam_eps": 1e-8, "schedule": "constant",
        "warmup_steps": 0, "grad_clip": null, "patience": null, "seed": 0, "shuffle_window": 1,
        "flip_p": 0.5, "rotate_deg": 7.0, "prefetch": 1
    }))
    .unwrap();
    let parts = crate::common::parts(&store, "padchest");
    let ds = DatasetParts { name: "padchest".into(), parts, views: cxr::run::config::ViewFilter::All };
    let index = DataIndex::build(&cfg, vec![ds], vec![vec![true, true]]).unwrap();
    assert_eq!(index.train_rows(), count("train", false));
    assert_eq!(index.val_rows(), count("val", false));
    assert_eq!(index.skipped_unlabelled, (count("train", true) as u64, count("val", true) as u64));
    // Counted rows (the pos-weight denominators) are the labelled train rows only.
    assert_eq!(index.train_counts[0], (count("train", false) as u64, positives));
}
