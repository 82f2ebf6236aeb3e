//! The end-to-end demo (`cxr-train demo`, small settings): six synthetic datasets ingested,
//! MIMIC pretraining, fit per dataset × {mimic, random}, evaluation, comparison, the table;
//! re-running continues without refitting finished cells.

use std::process::Command;

fn demo(out: &std::path::Path) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_cxr-train"))
        .args(["demo", "--out", out.to_str().unwrap(), "--n", "48", "--epochs", "2", "--bootstrap", "40", "--by", "sex,age,view", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn demo_runs_the_whole_pipeline_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let text = demo(&out);
    assert!(text.contains("SYNTHETIC DATA, SMALL MODEL"), "{text}");
    for d in cxr::manifest::dataset_names() {
        assert!(text.contains(&format!("| {d} |")), "row {d} missing:\n{text}");
        assert!(out.join("bench/reports").join(d).join("random/report.json").is_file(), "{d}");
    }
    assert!(text.contains("n/a (pretraining set)"));
    assert!(out.join("bench/runs/mimic-pretrain/checkpoints/best.safetensors").is_file());
    assert!(out.join("bench/reports/nih/report.md").is_file(), "comparison report");
    assert!(out.join("bench/reports/nih/roc_overview.png").is_file() || out.join("bench/reports/nih/roc").is_dir());
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("bench/benchmark.json")).unwrap()).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), cxr::manifest::dataset_names().len());
    // The subgroup view (--by): rows per dataset × attribute × group, in the table and the reports.
    let sub = json["subgroups"].as_array().unwrap();
    assert!(sub.iter().any(|r| r["dataset"] == "nih" && r["attribute"] == "sex" && r["group"] == "F"), "{sub:?}");
    assert!(text.contains("## Subgroups") && text.contains("| nih | 32 | age |"), "{text}");
    let cell = std::fs::read_to_string(out.join("bench/reports/nih/random/report.md")).unwrap();
    assert!(cell.contains("## Subgroups by view: macro AUROC") && cell.contains("## Reliability diagrams"), "{cell}");
    assert!(out.join("bench/reports/nih/random/reliability_overview.png").is_file());
    let cmp = std::fs::read_to_string(out.join("bench/reports/nih/report.md")).unwrap();
    assert!(cmp.contains("## Subgroups by sex: gap to the rest"), "{cmp}");
    // Resume: finished cells are not fitted again.
    let ckpt = out.join("bench/runs/nih/random/checkpoints/best.safetensors");
    let before = std::fs::metadata(&ckpt).unwrap().modified().unwrap();
    let again = demo(&out);
    assert_eq!(std::fs::metadata(&ckpt).unwrap().modified().unwrap(), before);
    assert!(again.contains("| nih |"));

    // `evaluate <RUN>` and `compare <RUN> <RUN>` on the demo's run folders.
    let runs = out.join("bench/runs/nih");
    let ev = Command::new(env!("CARGO_BIN_EXE_cxr-train"))
        .args(["evaluate", runs.join("random").to_str().unwrap(), "--bootstrap", "30", "--format", "json"])
        .output()
        .unwrap();
    assert!(ev.status.success(), "{}", String::from_utf8_lossy(&ev.stderr));
    let rep: serde_json::Value = serde_json::from_slice(&ev.stdout).unwrap();
    assert_eq!(rep["config"]["run_config"]["config"]["datasets"][0], "nih", "run config in the report");
    assert!(rep["results"]["macro_auroc"]["value"].is_number());
    let cmp = Command::new(env!("CARGO_BIN_EXE_cxr-train"))
        .args(["compare", runs.join("mimic").to_str().unwrap(), runs.join("random").to_str().unwrap(), "--bootstrap", "30"])
        .output()
        .unwrap();
    assert!(cmp.status.success(), "{}", String::from_utf8_lossy(&cmp.stderr));
    assert!(String::from_utf8_lossy(&cmp.stdout).contains("random"));
}

/// `benchmark --cells K/N`: two shards started together on one shared folder (shard 2's only
/// cell needs the MIMIC pretraining that shard 1 runs, so it waits for it), then the assembly
/// run without --cells fits nothing and writes the table.
#[test]
fn cells_split_the_matrix_and_a_final_run_assembles_the_table() {
    let store = crate::train::store().to_str().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bench");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "benchmark", "--store", &store, "--datasets", "nih", "--mimic", "auto", "--random",
            "--model", "tiny", "--epochs", "1", "--batch", "16", "--lr", "2e-3",
            "--input-norm", "inception", "--bootstrap", "20", "--quiet",
            "--out", out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let spawn = |k: &str| {
        Command::new(env!("CARGO_BIN_EXE_cxr-train"))
            .args(args(&["--cells", k, "--poll-secs", "1"]))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (second, first) = (spawn("2/2"), spawn("1/2"));
    let (second, first) = (second.wait_with_output().unwrap(), first.wait_with_output().unwrap());
    for (o, k) in [(&first, 1), (&second, 2)] {
        assert!(o.status.success(), "shard {k}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let said = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(said(&first).contains("mimic pretraining") && said(&first).contains("nih × random"), "{}", said(&first));
    assert!(said(&second).contains("nih × mimic") && !said(&second).contains("random"), "{}", said(&second));
    let runs = out.join("runs");
    let ckpts = [
        runs.join("mimic-pretrain/checkpoints/best.safetensors"),
        runs.join("nih/mimic/checkpoints/best.safetensors"),
        runs.join("nih/random/checkpoints/best.safetensors"),
    ];
    let stamps: Vec<_> = ckpts.iter().map(|p| std::fs::metadata(p).unwrap().modified().unwrap()).collect();
    assert!(runs.join("mimic-pretrain/done.json").is_file());
    assert!(!out.join("benchmark.md").exists(), "shards write no table");

    let o = Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args(&[])).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("| nih |"), "{table}");
    assert!(table.contains("mimic") && table.contains("random"), "{table}");
    let again: Vec<_> = ckpts.iter().map(|p| std::fs::metadata(p).unwrap().modified().unwrap()).collect();
    assert_eq!(stamps, again, "the assembly run fitted nothing");
    assert!(out.join("benchmark.md").is_file());

    let bad = Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args(&["--cells", "3/2"])).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("K/N"));
}

/// `benchmark --sizes 32,48`: each resolution reads its own store (`{size}` in --store), fits
/// in `<OUT>/size-<S>/` (the 32 px ImageNet-style weights resampled to 48 px at load), and one
/// table has a row per dataset × resolution.
#[test]
fn sizes_run_the_matrix_per_resolution_into_one_table() {
    use cxr::model::{export_safetensors, ExportSidecar, Preprocessing, ViTConfig, VisionTransformer};
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = cxr::synth::SynthConfig::new(tmp.path().join("data"));
    cfg.images_per_dataset = 40;
    cfg.image_size = 64;
    let report = cxr::synth::synthesize(&cfg).unwrap();
    let (_, root, _) = report.datasets.iter().find(|d| d.0 == "nih").unwrap();
    for size in ["32", "48"] {
        let store = tmp.path().join(format!("store-{size}"));
        crate::common::prep_ok(&["ingest", "nih", "--root", root.to_str().unwrap(), "--out", store.to_str().unwrap(), "--size", size]);
    }
    let weights = tmp.path().join("init.safetensors");
    let model: VisionTransformer<burn::backend::Flex> = ViTConfig::vit_tiny_test(2).init(&Default::default());
    let side = ExportSidecar {
        labels: vec!["cardiomegaly".into(), "edema".into()],
        preprocessing: Preprocessing { image_size: 32, resize: "-".into(), grayscale_to_rgb: true, mean: [0.0; 3], std: [1.0; 3] },
        timm_model_name: None,
    };
    export_safetensors(&model, &weights, &side).unwrap();
    let out = tmp.path().join("bench");
    let imagenet = format!("imagenet={}", weights.display());
    let args = |store: &str| -> Vec<String> {
        [
            "benchmark", "--store", store, "--sizes", "32,48", "--datasets", "nih", "--mimic", "none", "--random",
            "--weights", &imagenet, "--model", "tiny", "--epochs", "1", "--batch", "8", "--lr", "1e-3",
            "--input-norm", "inception", "--bootstrap", "20", "--quiet", "--out", out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let placeholder = tmp.path().join("store-{size}");
    let o = Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args(placeholder.to_str().unwrap())).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("| dataset | px |") && table.contains("Fine-tuning: full."), "{table}");
    assert!(table.contains("| nih | 32 |") && table.contains("| nih | 48 |"), "{table}");
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("benchmark.json")).unwrap()).unwrap();
    let sizes: Vec<_> = json["rows"].as_array().unwrap().iter().map(|r| r["image_size"].as_u64().unwrap()).collect();
    assert_eq!(sizes, [32, 48]);
    for size in [32, 48] {
        for init in ["imagenet", "random"] {
            let rc = out.join(format!("size-{size}/runs/nih/{init}/config.json"));
            let rc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&rc).unwrap()).unwrap();
            assert_eq!(rc["config"]["image_size"], size, "{init} at {size}");
            assert_eq!(rc["vit_config"]["img_size"], size, "{init} at {size}");
            assert!(rc["config"]["store"].as_str().unwrap().ends_with(&format!("store-{size}")));
            if init == "imagenet" {
                // The 32 px weights' position grid is resampled at load for 48 px only.
                assert_eq!(rc["init"]["load"]["resampled_pos_embed"].is_null(), size == 32, "{}", rc["init"]);
            }
        }
        assert!(out.join(format!("size-{size}/benchmark.md")).is_file());
    }
    // Several sizes need the placeholder.
    let plain = tmp.path().join("store-32");
    let o = Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args(plain.to_str().unwrap())).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("{size}"), "{}", String::from_utf8_lossy(&o.stderr));
}
