//! `cxr-train predict` and `cxr-train export` through the binary: a run folder's checkpoint
//! exports to timm naming and back without changing outputs, and predictions carry the stored
//! labels next to the probabilities.

use std::process::Command;

use burn::backend::Flex;
use cxr::evaluate::predictions::Predictions;
use cxr::model::{ViTConfig, VisionTransformer};

use crate::common::{export_test_model, prep_ok, read_batches, strings};

fn train_bin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args).output().unwrap()
}

#[test]
fn predict_from_a_run_folder_and_export_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    // A small store of synthetic NIH images at 32 px.
    let mut cfg = cxr::synth::SynthConfig::new(tmp.path().join("data"));
    cfg.images_per_dataset = 24;
    cfg.image_size = 64;
    let report = cxr::synth::synthesize(&cfg).unwrap();
    let (_, nih_root, n) = &report.datasets[0];
    let store = tmp.path().join("store");
    prep_ok(&["ingest", "nih", "--root", nih_root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", "32"]);

    // A run folder whose best checkpoint is a tiny random ViT with two labels.
    let labels = ["cardiomegaly", "pleural_effusion"];
    let device = Default::default();
    let model: VisionTransformer<Flex> = ViTConfig::vit_tiny_test(2).init(&device);
    let ckpt = tmp.path().join("run/checkpoints/best.safetensors");
    std::fs::create_dir_all(ckpt.parent().unwrap()).unwrap();
    export_test_model(&model, &ckpt, &labels);
    let run = tmp.path().join("run");

    let preds_path = tmp.path().join("preds.parquet");
    let out = train_bin(&[
        "predict", "--weights", run.to_str().unwrap(), "--store", store.to_str().unwrap(), "--split", "all",
        "--out", preds_path.to_str().unwrap(), "--batch", "7",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let preds = Predictions::read(&preds_path).unwrap();
    assert_eq!(preds.findings, labels);
    assert_eq!(preds.len(), *n);
    assert!(preds.p.iter().flatten().all(|p| (0.0..=1.0).contains(p)));
    // y_F is the stored label of the same image, and sex, age and view its stored ones.
    let b = read_batches(&store, "nih");
    let ids = strings(&b, "image_id");
    let eff = crate::common::labels(&b, "pleural_effusion");
    let (sex, view) = (strings(&b, "sex"), strings(&b, "view"));
    let age: Vec<Option<f32>> = b
        .iter()
        .flat_map(|b| {
            let a = b.column_by_name("age").unwrap().as_any().downcast_ref::<arrow::array::Float32Array>().unwrap().clone();
            (0..a.len()).map(move |i| arrow::array::Array::is_valid(&a, i).then(|| a.value(i)))
        })
        .collect();
    assert!(sex.iter().any(Option::is_some) && age.iter().any(Option::is_some), "the synthetic NIH has sex and age");
    for (i, id) in preds.image_id.iter().enumerate() {
        let j = ids.iter().position(|x| x.as_deref() == Some(id.as_str())).unwrap();
        assert_eq!(preds.y[1][i], eff[j], "{id}");
        assert_eq!((preds.sex_of(i), preds.age_of(i), preds.view_of(i)), (sex[j].as_deref(), age[j], view[j].as_deref()), "{id}");
    }

    // Export the run, then predict with the exported file: identical probabilities.
    let exported = tmp.path().join("export/model.safetensors");
    let out = train_bin(&["export", run.to_str().unwrap(), "--out", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let side_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(exported.with_extension("json")).unwrap()).unwrap();
    assert_eq!(side_json["labels"], serde_json::json!(labels));
    assert_eq!(side_json["key_convention"], "timm");
    let preds2_path = tmp.path().join("preds2.parquet");
    let out = train_bin(&[
        "predict", "--weights", exported.to_str().unwrap(), "--store", store.to_str().unwrap(), "--split", "all",
        "--out", preds2_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(Predictions::read(&preds2_path).unwrap(), preds);

    // Clear errors: no labels for a raw file, a dataset the store lacks, a GPU in a CPU build.
    let raw = crate::common::fixture("model/timm_vit_p8.safetensors");
    let out = train_bin(&["predict", "--weights", raw.to_str().unwrap(), "--store", store.to_str().unwrap(), "--out", "x.parquet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--labels"));
    let out = train_bin(&["predict", "--weights", run.to_str().unwrap(), "--store", store.to_str().unwrap(), "--dataset", "mimic", "--out", "x.parquet"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the store"));
    if !cfg!(feature = "cuda-base") {
        let out = train_bin(&["predict", "--weights", run.to_str().unwrap(), "--store", store.to_str().unwrap(), "--out", "x.parquet", "--device", "cuda:0"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("--features cuda"));
    }
}

/// pandas/pyarrow write Snappy-compressed Parquet by default: such predictions files are read.
#[test]
fn snappy_predictions_from_other_tools_are_read() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;

    let tmp = tempfile::tempdir().unwrap();
    let mut p = Predictions::new(vec!["edema".into()]);
    for i in 0..5 {
        p.image_id.push(format!("i{i}"));
        p.patient_id.push(format!("p{i}"));
        p.split.push("test".into());
        p.dataset.push(None);
        p.sex.push([Some("F".to_string()), Some("M".into()), None][i % 3].clone());
        p.age.push((i != 2).then_some(20.0 * i as f32));
        p.view.push((i != 4).then(|| "PA".to_string()));
        p.y[0].push(Some((i % 2) as i8));
        p.p[0].push(i as f32 / 5.0);
    }
    let plain = tmp.path().join("plain.parquet");
    p.write(&plain).unwrap();
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&plain).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect();
    let snappy = tmp.path().join("snappy.parquet");
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let mut w = ArrowWriter::try_new(std::fs::File::create(&snappy).unwrap(), batches[0].schema(), Some(props)).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
    assert_eq!(Predictions::read(&snappy).unwrap(), p);
}
