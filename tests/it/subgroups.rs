//! Subgroup and calibration analysis against scikit-learn / SciPy / numpy values committed in
//! `tests/fixtures/stats/subgroups.json` (from `scripts/gen_subgroup_fixtures.py`): per-group
//! AUROC, TPR/FPR/FNR, macro means and differences from the rest with stratified-bootstrap
//! intervals, p- and q-values (image and patient resampling); ECE, Brier and reliability bins
//! (10 and 7 bins) with intervals; temperature and Platt recalibration; `compare --by` gaps;
//! the `evaluate --by` CLI with its plots, files without sex/age/view, and `--store`.

use std::path::Path;
use std::process::Command;

use cxr::evaluate::attributes::Attribute;
use cxr::evaluate::bootstrap::{Ci, Resample};
use cxr::evaluate::calibration::bins::Bin;
use cxr::evaluate::calibration::recalibrate::{Fitted, Recalibration};
use cxr::evaluate::compare::{compare_with, Difference};
use cxr::evaluate::evaluation::{evaluate_with, select_split, Analysis, Evaluation, StatOptions};
use cxr::evaluate::metrics::Estimate;
use cxr::evaluate::predictions::Predictions;
use cxr::evaluate::threshold::{GivenThresholds, ThresholdSource};
use serde_json::Value;

use crate::common::fixture;

const TOL: f64 = 1e-12;
const ALL: [Attribute; 4] = [Attribute::Sex, Attribute::Age, Attribute::View, Attribute::Dataset];

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture("stats/subgroups.json")).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn texts(v: &Value) -> Vec<Option<String>> {
    v.as_array().unwrap().iter().map(|x| x.as_str().map(str::to_string)).collect()
}

/// The fixture's test and validation rows as one predictions set of model `model` (`a` or `b`).
fn predictions(r: &Value, model: &str) -> Predictions {
    let mut p = Predictions::new(texts(&r["findings"]).into_iter().flatten().collect());
    for (part, split) in [("test", "test"), ("val", "val")] {
        let s = &r[part];
        let n = s["image_id"].as_array().unwrap().len();
        p.image_id.extend(texts(&s["image_id"]).into_iter().flatten());
        p.patient_id.extend(texts(&s["patient_id"]).into_iter().flatten());
        p.split.extend(std::iter::repeat_n(split.to_string(), n));
        p.dataset.extend(texts(&s["dataset"]));
        p.sex.extend(texts(&s["sex"]));
        p.view.extend(texts(&s["view"]));
        p.age.extend(s["age"].as_array().unwrap().iter().map(|a| a.as_f64().map(|a| a as f32)));
        for f in 0..p.findings.len() {
            p.y[f].extend(s["y"][f].as_array().unwrap().iter().map(|v| v.as_i64().map(|i| i as i8)));
            p.p[f].extend(s[format!("p_{model}")][f].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32));
        }
    }
    p
}

fn opts(r: &Value, seed: u64, resample: Resample) -> StatOptions {
    StatOptions { bootstrap: r["bootstrap"].as_u64().unwrap() as usize, seed, resample, level: r["level"].as_f64().unwrap(), split: Some("test".into()) }
}

fn analysis(r: &Value, bins: usize, recalibrate: Option<Recalibration>) -> Analysis {
    Analysis {
        by: ALL.to_vec(),
        calibration_bins: bins,
        recalibrate,
        alpha: r["alpha"].as_f64().unwrap(),
        min_positives: r["min_positives"].as_u64().unwrap() as usize,
        ..Analysis::default()
    }
}

fn evaluation(r: &Value, seed: u64, resample: Resample, bins: usize, recalibrate: Option<Recalibration>) -> Evaluation {
    let all = predictions(r, "a");
    let val = select_split(&all, Some("val"), "val").unwrap();
    evaluate_with(&all, Some(&val), &opts(r, seed, resample), &analysis(r, bins, recalibrate)).unwrap()
}

fn close(got: Option<f64>, want: &Value, what: &str) {
    match want.as_f64() {
        None => assert_eq!(got, None, "{what}: expected undefined"),
        Some(w) => {
            let g = got.unwrap_or_else(|| panic!("{what}: undefined, expected {w}"));
            assert!((g - w).abs() <= TOL, "{what}: {g} vs {w}");
        }
    }
}

fn close_ci(got: Option<Ci>, want: &Value, what: &str) {
    if want.is_null() {
        assert_eq!(got, None, "{what}: expected no interval");
        return;
    }
    let g = got.unwrap_or_else(|| panic!("{what}: no interval"));
    assert_eq!(g.replicates as u64, want["replicates"].as_u64().unwrap(), "{what}: replicates");
    close(Some(g.lo), &want["lo"], &format!("{what} lo"));
    close(Some(g.hi), &want["hi"], &format!("{what} hi"));
}

fn close_estimate(got: &Estimate, value: &Value, ci: &Value, what: &str) {
    close(got.value, value, what);
    close_ci(got.ci, ci, what);
}

/// A difference against the fixture's `{delta, ci, p, q}` (or `null`).
fn close_difference(got: Option<&Difference>, want: &Value, what: &str) {
    if want.is_null() {
        assert!(got.is_none(), "{what}: expected no comparison");
        return;
    }
    let d = got.unwrap_or_else(|| panic!("{what}: no comparison"));
    close_estimate(&d.delta, &want["delta"], &want["ci"], &format!("{what} Δ"));
    close(d.p_value, &want["p"], &format!("{what} p"));
    close(d.q_value, want.get("q").unwrap_or(&Value::Null), &format!("{what} q"));
}

fn close_bins(got: &[Bin], want: &Value, what: &str) {
    let want = want.as_array().unwrap();
    assert_eq!(got.len(), want.len(), "{what}: bins");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!((g.lo, g.hi), (w["lo"].as_f64().unwrap(), w["hi"].as_f64().unwrap()), "{what} bin {k}: edges");
        assert_eq!(g.n as u64, w["n"].as_u64().unwrap(), "{what} bin {k}: n");
        close(g.mean_p, &w["mean_p"], &format!("{what} bin {k} mean_p"));
        close(g.frac_pos, &w["frac_pos"], &format!("{what} bin {k} frac_pos"));
    }
}

/// The subgroups of `ev` against one resampling case of the fixture.
fn check_subgroups(ev: &Evaluation, want: &Value, case: &str) {
    for a in want["attributes"].as_array().unwrap() {
        let name = a["attribute"].as_str().unwrap();
        let got: Vec<_> = ev.subgroups.iter().filter(|s| s.info.attribute.name() == name).collect();
        let groups = a["groups"].as_array().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g["group"].as_str().unwrap()).collect();
        assert_eq!(got.iter().map(|s| s.info.group.as_str()).collect::<Vec<_>>(), names, "{case} {name}: groups in order");
        for (s, w) in got.iter().zip(groups) {
            let at = format!("{case} {name}={}", s.info.group);
            assert_eq!(s.info.n_images as u64, w["n_images"].as_u64().unwrap(), "{at}: images");
            assert_eq!(s.info.n_patients as u64, w["n_patients"].as_u64().unwrap(), "{at}: patients");
            assert_eq!(s.info.compared, w["compared"].as_bool().unwrap(), "{at}: compared");
            assert_eq!(s.info.macro_over, texts(&a["macro_over"]).into_iter().flatten().collect::<Vec<_>>(), "{at}: macro over");
            close_estimate(&s.macro_auroc, &w["macro"], &w["macro_ci"], &format!("{at} macro"));
            close_difference(s.macro_vs_rest.as_ref(), &w["macro_vs_rest"], &format!("{at} macro vs rest"));
            for (f, wf) in s.findings.iter().zip(w["findings"].as_array().unwrap()) {
                let at = format!("{at} {}", f.finding);
                assert_eq!((f.n_pos as u64, f.n_neg as u64), (wf["n_pos"].as_u64().unwrap(), wf["n_neg"].as_u64().unwrap()), "{at}: counts");
                close_estimate(&f.auroc, &wf["auroc"], &wf["auroc_ci"], &format!("{at} AUROC"));
                for (k, (e, rate)) in [&f.tpr, &f.fpr, &f.fnr].into_iter().zip(["TPR", "FPR", "FNR"]).enumerate() {
                    close_estimate(e, &wf["rates"][k], &wf["rates_ci"][k], &format!("{at} {rate}"));
                }
                close_difference(f.auroc_vs_rest.as_ref(), &wf["vs_rest"], &format!("{at} AUROC vs rest"));
            }
        }
    }
}

/// Per-group AUROCs, error rates, macro means and differences from the rest equal the
/// reference on the fixture, with image and with patient resampling.
#[test]
fn subgroups_match_sklearn_on_groups_that_differ() {
    let r = reference();
    let ev = evaluation(&r, r["subgroups"]["images"]["seed"].as_u64().unwrap(), Resample::Images, 10, None);
    for (f, t) in ev.findings.iter().zip(r["thresholds"].as_array().unwrap()) {
        assert_eq!(f.operating_point.as_ref().unwrap().threshold, t.as_f64(), "{}: Youden threshold on val", f.finding);
    }
    check_subgroups(&ev, &r["subgroups"]["images"], "images");
    // The groups differ as built: women and AP_SUPINE films below the rest, men above.
    let macro_delta = |attr: Attribute, g: &str| ev.subgroups.iter().find(|s| s.info.attribute == attr && s.info.group == g).unwrap().macro_vs_rest.as_ref().unwrap().delta.value.unwrap();
    assert!(macro_delta(Attribute::Sex, "F") < -0.1 && macro_delta(Attribute::View, "AP_SUPINE") < -0.05);
    // A known group without a Nodule positive: undefined there, a warning, and Nodule out of the view's macro.
    let supine = ev.subgroups.iter().find(|s| s.info.attribute == Attribute::View && s.info.group == "AP_SUPINE").unwrap();
    assert!(supine.findings[2].auroc.value.is_none() && !supine.info.macro_over.contains(&"Nodule".to_string()));
    assert!(supine.warnings.iter().any(|w| w.starts_with("Nodule: 0 positives") && w.contains("undefined")), "{:?}", supine.warnings);
    assert!(supine.warnings.iter().any(|w| w.contains("unstable")), "{:?}", supine.warnings);

    let ev = evaluation(&r, r["subgroups"]["patients"]["seed"].as_u64().unwrap(), Resample::Patients, 10, None);
    check_subgroups(&ev, &r["subgroups"]["patients"], "patients");
}

/// ECE, Brier score and reliability bins (10 and 7 bins) equal numpy's / scikit-learn's, with
/// intervals from the same replicates; temperature and Platt fits equal SciPy's, and the
/// calibration after them too.
#[test]
fn calibration_matches_numpy_and_sklearn() {
    let r = reference();
    let cal = &r["calibration"];
    let seed = cal["seed"].as_u64().unwrap();
    let check = |got: &[(String, usize, Estimate, Estimate, Vec<Bin>)], want: &Value, what: &str| {
        for ((finding, n, ece, brier, bins), w) in got.iter().zip(want.as_array().unwrap()) {
            let at = format!("{what} {finding}");
            assert_eq!(finding.as_str(), w["finding"].as_str().unwrap());
            assert_eq!(*n as u64, w["n"].as_u64().unwrap(), "{at}: n");
            close_estimate(ece, &w["ece"], &w["ece_ci"], &format!("{at} ECE"));
            close_estimate(brier, &w["brier"], &w["brier_ci"], &format!("{at} Brier"));
            close_bins(bins, &w["bins"], &at);
        }
    };
    for (bins, key) in [(10, "bins10"), (7, "bins7")] {
        let ev = evaluation(&r, seed, Resample::Images, bins, None);
        let got: Vec<_> = ev.calibration.iter().map(|c| (c.finding.clone(), c.n, c.ece, c.brier, c.bins.clone())).collect();
        check(&got, &cal[key], key);
        assert!(ev.calibration.iter().all(|c| c.recalibrated.is_none()));
    }
    for (method, key) in [(Recalibration::Temperature, "temperature"), (Recalibration::Platt, "platt")] {
        let ev = evaluation(&r, seed, Resample::Images, 10, Some(method));
        let mut got = Vec::new();
        for (c, w) in ev.calibration.iter().zip(cal[key].as_array().unwrap()) {
            let a = c.recalibrated.as_ref().unwrap_or_else(|| panic!("{key} {}: not recalibrated ({:?})", c.finding, c.note));
            let rel = |g: f64, w: &Value| ((g - w.as_f64().unwrap()) / w.as_f64().unwrap()).abs();
            match a.fitted {
                Fitted::Temperature { temperature } => assert!(rel(temperature, &w["temperature"]) < 1e-9, "{}: T {temperature} vs {}", c.finding, w["temperature"]),
                Fitted::Platt { slope, intercept } => {
                    assert!(rel(slope, &w["slope"]) < 1e-9 && rel(intercept, &w["intercept"]) < 1e-9, "{}: {slope}, {intercept} vs {}, {}", c.finding, w["slope"], w["intercept"]);
                }
            }
            got.push((c.finding.clone(), c.n, a.ece, a.brier, a.bins.clone()));
        }
        check(&got, &cal[key], key);
    }
    // Recalibrating needs validation predictions.
    let all = predictions(&r, "a");
    let err = evaluate_with(&all, None, &opts(&r, seed, Resample::Images), &analysis(&r, 10, Some(Recalibration::Platt))).unwrap_err();
    assert!(err.to_string().contains("--val-predictions"), "{err}");
}

/// `compare --by`: each model's macro AUROC and gap per group, and the paired test of the gap
/// difference, equal the reference.
#[test]
fn subgroup_gaps_between_models_match_the_reference() {
    let r = reference();
    let test = |m: &str| select_split(&predictions(&r, m), Some("test"), m).unwrap();
    let g = &r["gaps"];
    let o = opts(&r, g["seed"].as_u64().unwrap(), Resample::Images);
    let cmp = compare_with(&[("a".into(), test("a")), ("b".into(), test("b"))], None, &o, r["alpha"].as_f64().unwrap(), &ALL).unwrap();
    for a in g["attributes"].as_array().unwrap() {
        let name = a["attribute"].as_str().unwrap();
        let got: Vec<_> = cmp.subgroups.iter().filter(|s| s.info.attribute.name() == name).collect();
        assert_eq!(got.len(), a["groups"].as_array().unwrap().len(), "{name}");
        for (s, w) in got.iter().zip(a["groups"].as_array().unwrap()) {
            let at = format!("{name}={}", s.info.group);
            assert_eq!(s.info.group, w["group"].as_str().unwrap());
            close(s.models[0].macro_auroc.value, &w["macro_a"], &format!("{at} macro a"));
            close_estimate(&s.models[1].macro_auroc, &w["macro_b"], &w["macro_b_ci"], &format!("{at} macro b"));
            close(s.models[0].gap.value, &w["gap_a"], &format!("{at} gap a"));
            close_estimate(&s.models[1].gap, &w["gap_b"], &w["gap_b_ci"], &format!("{at} gap b"));
            close_difference(s.gap_vs_reference.first().map(|d| &d.difference), &w["delta"], &format!("{at} Δgap"));
        }
    }
}

/// `--threshold`: given thresholds replace Youden's J for the whole population and for every
/// group, whose rates are then the plain counts at those thresholds (no bootstrap: no intervals).
#[test]
fn given_thresholds_set_the_operating_point_of_every_group() {
    let r = reference();
    let all = predictions(&r, "a");
    let val = select_split(&all, Some("val"), "val").unwrap();
    let mut an = analysis(&r, 10, None);
    an.thresholds = GivenThresholds::parse(&["0.5".into(), "Nodule=0.9".into()]).unwrap();
    let ev = evaluate_with(&all, Some(&val), &StatOptions { bootstrap: 0, ..opts(&r, 1, Resample::Images) }, &an).unwrap();
    let given = [0.5, 0.5, 0.9];
    for (f, t) in ev.findings.iter().zip(given) {
        let op = f.operating_point.as_ref().unwrap();
        assert_eq!((op.source, op.threshold), (ThresholdSource::Given, Some(t)), "{}", f.finding);
    }
    let test = select_split(&all, Some("test"), "test").unwrap();
    for s in ev.subgroups.iter().filter(|s| s.info.attribute == Attribute::Sex) {
        for (k, f) in s.findings.iter().enumerate() {
            let (mut tp, mut fn_, mut fp, mut tn) = (0usize, 0usize, 0usize, 0usize);
            for i in (0..test.len()).filter(|&i| Attribute::Sex.group_of(&test, i).as_deref().unwrap_or("unknown") == s.info.group) {
                let call = f64::from(test.p[k][i]) >= given[k];
                match (test.y[k][i], call) {
                    (Some(1), true) => tp += 1,
                    (Some(1), false) => fn_ += 1,
                    (Some(0), true) => fp += 1,
                    (Some(0), false) => tn += 1,
                    _ => {}
                }
            }
            let ratio = |a: usize, b: usize| (a + b > 0).then(|| a as f64 / (a + b) as f64);
            assert_eq!([f.tpr.value, f.fpr.value, f.fnr.value], [ratio(tp, fn_), ratio(fp, tn), ratio(fn_, tp)], "sex={} {}", s.info.group, f.finding);
            assert!(f.tpr.ci.is_none() && f.auroc.ci.is_none());
        }
    }
    let notes = cxr::evaluate::report::all_evaluation_notes(&ev).join("\n");
    assert!(notes.contains("given with --threshold") && !notes.contains("Youden's J chosen"), "{notes}");
}

fn cxr_train(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args).output().expect("cxr-train runs")
}

fn has_colour(path: &Path) -> bool {
    let img = image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
    img.pixels().any(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2])
}

/// `path` rewritten without the columns `drop` (a file from before they existed).
fn without_columns(path: &Path, drop: &[&str]) {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let batches: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap().map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let keep: Vec<usize> = (0..schema.fields().len()).filter(|&i| !drop.contains(&schema.field(i).name().as_str())).collect();
    let batches: Vec<_> = batches.iter().map(|b| b.project(&keep).unwrap()).collect();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batches[0].schema(), None).unwrap();
    for b in &batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// The CLI end to end: `evaluate --by sex,age,view --recalibrate platt` reports per-group
/// AUROCs equal to the reference in `results.subgroups`, calibration in `results.calibration`,
/// and writes reliability diagrams; a file without sex/age/view still evaluates.
#[test]
fn evaluate_by_cli_reports_subgroups_calibration_and_plots() {
    let r = reference();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preds.parquet");
    predictions(&r, "a").write(&file).unwrap();
    let out = dir.path().join("report");
    let f = file.to_str().unwrap();
    let o = cxr_train(&[
        "evaluate", "--predictions", f, "--val-predictions", f, "--by", "sex,age,view", "--recalibrate", "platt",
        "--bootstrap", "200", "--seed", "11", "--format", "json", "--out", out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rep: Value = serde_json::from_slice(&o.stdout).unwrap();
    let res = &rep["results"];
    let subgroups = res["subgroups"].as_array().unwrap();
    for a in r["subgroups"]["images"]["attributes"].as_array().unwrap().iter().filter(|a| a["attribute"] != "dataset") {
        for w in a["groups"].as_array().unwrap() {
            let s = subgroups.iter().find(|s| s["attribute"] == a["attribute"] && s["group"] == w["group"]).unwrap_or_else(|| panic!("{w}"));
            assert_eq!(s["n_images"], w["n_images"]);
            close(s["macro_auroc"]["value"].as_f64(), &w["macro"], "JSON macro");
            for (gf, wf) in s["findings"].as_array().unwrap().iter().zip(w["findings"].as_array().unwrap()) {
                close(gf["auroc"]["value"].as_f64(), &wf["auroc"], "JSON AUROC");
                close(gf["fnr"]["value"].as_f64(), &wf["rates"][2], "JSON FNR");
                assert!(gf.get("tpr").is_some() && gf.get("fpr").is_some() && gf.get("n_pos").is_some());
            }
        }
    }
    assert!(!subgroups.iter().any(|s| s["attribute"] == "dataset"), "only the attributes asked for");
    for (c, w) in res["calibration"].as_array().unwrap().iter().zip(r["calibration"]["bins10"].as_array().unwrap()) {
        assert_eq!(c["finding"], w["finding"]);
        close(c["ece"]["value"].as_f64(), &w["ece"], "JSON ECE");
        close(c["brier"]["value"].as_f64(), &w["brier"], "JSON Brier");
        let bins = c["bins"].as_array().unwrap();
        assert_eq!(bins.len(), 10);
        assert!(["lo", "hi", "n", "mean_p", "frac_pos"].iter().all(|k| bins[0].get(k).is_some()));
        assert_eq!(c["recalibrated"]["fitted"]["method"], "platt");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for s in ["## Subgroups by sex: macro AUROC", "## Subgroups by age: per finding", "## Calibration", "## Reliability diagrams", "| 80+ |", "Seyyed-Kalantari"] {
        assert!(md.contains(s), "report.md lacks {s}:\n{md}");
    }
    for png in ["reliability_overview.png", "reliability/Effusion.png", "reliability/No_Finding.png", "roc_overview.png"] {
        assert!(has_colour(&out.join(png)), "{png}");
    }

    // A file from before sex/age/view (and dataset) still evaluates; --by puts every image in `unknown`.
    without_columns(&file, &["sex", "age", "view", "dataset"]);
    let o = cxr_train(&["evaluate", "--predictions", f, "--by", "sex,age", "--bootstrap", "20", "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rep: Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups: Vec<&str> = rep["results"]["subgroups"].as_array().unwrap().iter().map(|s| s["group"].as_str().unwrap()).collect();
    assert_eq!(groups, ["unknown", "unknown"]);
    assert!(rep["results"]["warnings"].to_string().contains("give --store"), "{}", rep["results"]["warnings"]);
    assert!(rep["results"]["calibration"][0]["ece"]["value"].is_number());
}

/// `evaluate --store`: a predictions file without sex, age, view or dataset gets them from the
/// store by image id, and its groups are the store's.
#[test]
fn evaluate_store_joins_the_attributes() {
    let store = crate::train::store();
    let b = crate::common::read_batches(store, "nih");
    let ids = crate::common::strings(&b, "image_id");
    let sex = crate::common::strings(&b, "sex");
    let mut p = Predictions::new(vec!["x".into()]);
    for (i, id) in ids.iter().enumerate() {
        p.image_id.push(id.clone().unwrap());
        p.patient_id.push(format!("p{i}"));
        p.split.push("test".into());
        p.y[0].push(Some((i % 3 == 0) as i8));
        p.p[0].push(((i * 7) % 10) as f32 / 10.0);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.parquet");
    p.write(&file).unwrap();
    without_columns(&file, &["sex", "age", "view", "dataset"]);
    let o = cxr_train(&[
        "evaluate", "--predictions", file.to_str().unwrap(), "--store", store.to_str().unwrap(), "--by", "sex,view,dataset",
        "--bootstrap", "10", "--format", "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("sex/age/view of {} images from the store", ids.len())));
    let rep: Value = serde_json::from_slice(&o.stdout).unwrap();
    let groups = rep["results"]["subgroups"].as_array().unwrap();
    let count = |attr: &str, g: &str| groups.iter().find(|s| s["attribute"] == attr && s["group"] == g).map_or(0, |s| s["n_images"].as_u64().unwrap());
    for g in ["F", "M"] {
        let want = sex.iter().filter(|s| s.as_deref() == Some(g)).count() as u64;
        assert!(want > 0);
        assert_eq!(count("sex", g), want, "sex={g}");
    }
    assert_eq!(count("dataset", "nih"), ids.len() as u64, "the dataset found by image id");
    assert_eq!(count("view", "unknown"), crate::common::strings(&b, "view").iter().filter(|v| v.is_none()).count() as u64);
}
