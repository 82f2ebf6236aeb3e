//! evaluate/compare statistics: AUROC, Youden operating point, Benjamini–Hochberg and
//! percentiles against scikit-learn / SciPy / numpy values committed in
//! `tests/fixtures/stats/reference.json` (from `scripts/gen_stats_fixtures.py`); bootstrap
//! determinism and sanity; paired comparison; the `evaluate` and `compare` CLI end to end.

use std::path::Path;
use std::process::Command;

use cxr::evaluate::bootstrap::{percentile_ci, replicate_rng, Resample, Resampler};
use cxr::evaluate::compare::{benjamini_hochberg, compare};
use cxr::evaluate::evaluation::{evaluate, select_split, StatOptions};
use cxr::evaluate::metrics::ScoredFinding;
use cxr::evaluate::predictions::Predictions;
use cxr::fsutil::sha256_file;
use cxr::rng::Rng;
use cxr::evaluate::threshold::{youden, Confusion};
use serde_json::Value;

use crate::common::fixture;

fn reference() -> Value {
    let text = std::fs::read_to_string(fixture("stats/reference.json")).expect("fixture");
    serde_json::from_str(&text).expect("json")
}

fn labels(v: &Value) -> Vec<Option<i8>> {
    v.as_array().unwrap().iter().map(|x| x.as_i64().map(|i| i as i8)).collect()
}

fn scores(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn auroc_matches_sklearn() {
    let r = reference();
    for c in r["auroc"].as_array().unwrap() {
        let (y, p) = (labels(&c["y"]), scores(&c["p"]));
        let f = ScoredFinding::new(&y, &p);
        let name = c["name"].as_str().unwrap();
        assert_eq!(f.counts(), (c["n_pos"].as_u64().unwrap() as usize, c["n_neg"].as_u64().unwrap() as usize), "{name}");
        match c["expected"].as_f64() {
            None => assert_eq!(f.auroc(), None, "{name}: single class must be undefined, not 0.5"),
            Some(e) => {
                let got = f.auroc().unwrap_or_else(|| panic!("{name}: undefined"));
                assert!((got - e).abs() <= 1e-12, "{name}: {got} vs sklearn {e}");
                // The rank-sum implementation used by `predict` agrees too.
                let rank = cxr::auroc::auroc_stated(&y, &p).0.unwrap();
                assert!((rank - e).abs() <= 1e-12, "{name}: rank {rank} vs {e}");
            }
        }
    }
}

#[test]
fn youden_operating_point_matches_sklearn() {
    let r = reference();
    for c in r["youden"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let val = ScoredFinding::new(&labels(&c["val_y"]), &scores(&c["val_p"]));
        let y = youden(&val).unwrap();
        assert_eq!(y.threshold, c["threshold"].as_f64(), "{name}: threshold");
        assert!((y.j - c["j"].as_f64().unwrap()).abs() <= 1e-12, "{name}: J");
        let test = ScoredFinding::new(&labels(&c["test_y"]), &scores(&c["test_p"]));
        let m = Confusion::at(&test, y.threshold, |_| 1).metrics();
        for (k, key) in ["sensitivity", "specificity", "accuracy", "f1"].iter().enumerate() {
            let e = c[key].as_f64().unwrap();
            let got = m[k].unwrap();
            assert!((got - e).abs() <= 1e-12, "{name}: {key} {got} vs sklearn {e}");
        }
    }
}

#[test]
fn benjamini_hochberg_matches_scipy() {
    let r = reference();
    for c in r["bh"].as_array().unwrap() {
        let q = benjamini_hochberg(&floats(&c["p"]));
        for (a, b) in q.iter().zip(floats(&c["q"])) {
            assert!((a - b).abs() <= 1e-9, "{q:?} vs scipy {:?}", c["q"]);
        }
    }
}

#[test]
fn percentile_interval_matches_numpy() {
    let r = reference();
    for c in r["percentile"].as_array().unwrap() {
        let ci = percentile_ci(floats(&c["values"]).into_iter().map(Some), c["level"].as_f64().unwrap()).unwrap();
        assert!((ci.lo - c["lo"].as_f64().unwrap()).abs() <= 1e-12);
        assert!((ci.hi - c["hi"].as_f64().unwrap()).abs() <= 1e-12);
    }
    assert_eq!(percentile_ci([None, None], 0.95), None);
}

/// The bootstrap's generator (rand's Xoshiro256++ keyed through SHA-256, `random_range` by
/// Canon's method) draws exactly what the independent Python re-implementation in
/// `scripts/gen_stats_fixtures.py` draws: raw 64-bit words and bounded indices, including
/// bounds above 2^32 (the 64-bit path) and bounds where Canon's second draw decides.
#[test]
fn bootstrap_stream_matches_the_python_reimplementation() {
    let r = reference();
    let cases = r["rng"].as_array().unwrap();
    assert!(!cases.is_empty());
    for c in cases {
        let (seed, rep) = (c["seed"].as_u64().unwrap(), c["replicate"].as_u64().unwrap());
        let mut g = replicate_rng(seed, rep);
        let words: Vec<u64> = (0..c["next_u64"].as_array().unwrap().len()).map(|_| g.next_u64()).collect();
        let want: Vec<u64> = c["next_u64"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(words, want, "seed {seed} replicate {rep}: raw words");
        for b in c["below"].as_array().unwrap() {
            let n = b["n"].as_u64().unwrap();
            let want: Vec<u64> = b["draws"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            let mut g = replicate_rng(seed, rep);
            let got: Vec<u64> = if n <= u32::MAX as u64 {
                want.iter().map(|_| g.below(n as usize) as u64).collect()
            } else {
                want.iter().map(|_| g.below(n)).collect()
            };
            assert_eq!(got, want, "seed {seed} replicate {rep}: below({n})");
        }
    }
}

/// Bootstrap intervals and p-values equal a Python re-implementation of the same replicate
/// draws scored by scikit-learn on the materialised resampled data sets (images and patients).
#[test]
fn bootstrap_matches_sklearn_on_the_same_replicates() {
    let r = reference();
    for c in r["bootstrap"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let patients: Vec<String> = c["patient_id"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        let model = |key: &str| {
            let mut p = Predictions::new(vec!["common".into(), "rare".into()]);
            p.image_id = (0..patients.len()).map(|i| format!("img{i}")).collect();
            p.patient_id = patients.clone();
            p.split = vec!["test".into(); patients.len()];
            p.dataset = vec![None; patients.len()];
            p.y = (0..2).map(|k| labels(&c["y"][k])).collect();
            p.p = (0..2).map(|k| scores(&c[key][k])).collect();
            p
        };
        let resample = if c["resample"] == "patients" { Resample::Patients } else { Resample::Images };
        let o = StatOptions {
            bootstrap: c["bootstrap"].as_u64().unwrap() as usize,
            seed: c["seed"].as_u64().unwrap(),
            resample,
            level: c["level"].as_f64().unwrap(),
            split: None,
        };
        let cmp = compare(&[("a".into(), model("p_a")), ("b".into(), model("p_b"))], None, &o, 0.05).unwrap();
        let close = |got: Option<cxr::evaluate::bootstrap::Ci>, want: &Value, what: &str| {
            let g = got.unwrap_or_else(|| panic!("{name} {what}: no interval"));
            assert_eq!(g.replicates as u64, want["replicates"].as_u64().unwrap(), "{name} {what}: replicates used");
            assert!((g.lo - want["lo"].as_f64().unwrap()).abs() <= 1e-12, "{name} {what}: lo {} vs {}", g.lo, want["lo"]);
            assert!((g.hi - want["hi"].as_f64().unwrap()).abs() <= 1e-12, "{name} {what}: hi {} vs {}", g.hi, want["hi"]);
        };
        let pair = &cmp.pairs[0];
        for k in 0..2 {
            close(cmp.models[0].auroc[k].ci, &c["a"][k], "AUROC a");
            close(cmp.models[1].auroc[k].ci, &c["b"][k], "AUROC b");
            close(pair.findings[k].delta.ci, &c["delta"][k], "delta");
            let p = pair.findings[k].p_value.unwrap();
            assert!((p - c["p_value"][k].as_f64().unwrap()).abs() <= 1e-12, "{name}: p {p} vs {}", c["p_value"][k]);
        }
        close(cmp.models[0].macro_auroc.ci, &c["macro_a"], "macro a");
        close(pair.macro_auroc.delta.ci, &c["macro_delta"], "macro delta");
        assert!((pair.macro_auroc.p_value.unwrap() - c["macro_p_value"].as_f64().unwrap()).abs() <= 1e-12);
        // `evaluate` draws the same replicates as `compare`.
        let ev = evaluate(&model("p_a"), None, &o).unwrap();
        close(ev.findings[1].auroc.ci, &c["a"][1], "evaluate AUROC a");
    }
}

/// Predictions of a model on `n` test images (2 per patient) with findings `Effusion` (30%,
/// separable with strength `skill`), `Nodule` (3 positives) and `Hernia` (no positive), plus
/// uncertain/unstated labels. Labels depend only on `n`, scores also on `noise_seed`.
fn synthetic(n: usize, skill: f32, noise_seed: u64) -> Predictions {
    let findings = vec!["Effusion".to_string(), "Nodule".into(), "Hernia".into()];
    let mut p = Predictions::new(findings);
    let mut lab = Rng::keyed(&[1, 0]);
    let mut noise = Rng::keyed(&[noise_seed, 1]);
    let u = |g: &mut Rng| g.unit() as f32;
    for i in 0..n {
        p.image_id.push(format!("img{i:04}"));
        p.patient_id.push(format!("pat{:04}", i / 2));
        p.split.push(if i % 10 == 9 { "val".into() } else { "test".into() });
        p.dataset.push(Some("synthetic".into()));
        let e = match u(&mut lab) {
            x if x < 0.3 => Some(1),
            x if x < 0.95 => Some(0),
            x if x < 0.975 => Some(-1),
            _ => None,
        };
        let nod = Some(i8::from(i % 97 == 5));
        let y = [e, nod, Some(0)];
        for (f, &yf) in y.iter().enumerate() {
            let base = if yf == Some(1) { skill } else { 0.0 };
            p.y[f].push(yf);
            p.p[f].push((base + u(&mut noise)) / (1.0 + skill));
        }
    }
    p
}

fn opts(bootstrap: usize, seed: u64) -> StatOptions {
    StatOptions { bootstrap, seed, resample: Resample::Images, level: 0.95, split: Some("test".into()) }
}

#[test]
fn evaluate_is_seeded_honest_and_nan_free() {
    let all = synthetic(300, 0.8, 3);
    let test = select_split(&all, Some("test"), "test").unwrap();
    let ev = evaluate(&test, None, &opts(200, 7)).unwrap();
    let again = evaluate(&test, None, &opts(200, 7)).unwrap();
    let other = evaluate(&test, None, &opts(200, 8)).unwrap();
    let json = |e: &cxr::evaluate::evaluation::Evaluation| serde_json::to_string(e).unwrap();
    assert_eq!(json(&ev), json(&again), "same seed, same results");
    assert_ne!(json(&ev), json(&other), "another seed moves the intervals");
    // The NaN-free guarantee: serde_json writes NaN as null, so check every number is finite.
    fn finite(v: &Value) -> bool {
        match v {
            Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
            Value::Array(a) => a.iter().all(finite),
            Value::Object(o) => o.values().all(finite),
            _ => true,
        }
    }
    assert!(finite(&serde_json::to_value(&ev).unwrap()));

    let [eff, nod, her] = [&ev.findings[0], &ev.findings[1], &ev.findings[2]];
    // Single class: undefined, not 0.5, and outside the macro mean.
    assert_eq!(her.auroc.value, None);
    assert_eq!(ev.undefined, vec!["Hernia".to_string()]);
    assert_eq!(ev.macro_over, vec!["Effusion".to_string(), "Nodule".into()]);
    // Intervals contain their point estimates; Effusion is defined in every replicate, the
    // rare Nodule (3 positives) is not: skipped replicates are counted.
    for e in [&eff.auroc, &nod.auroc, &ev.macro_auroc] {
        let (v, ci) = (e.value.unwrap(), e.ci.unwrap());
        assert!(ci.lo <= v && v <= ci.hi, "{v} outside [{}, {}]", ci.lo, ci.hi);
    }
    assert_eq!(eff.auroc.ci.unwrap().replicates, 200);
    assert!(nod.auroc.ci.unwrap().replicates < 200);
    assert_eq!(ev.macro_auroc.ci.unwrap().replicates, nod.auroc.ci.unwrap().replicates);
    let mean = (eff.auroc.value.unwrap() + nod.auroc.value.unwrap()) / 2.0;
    assert!((ev.macro_auroc.value.unwrap() - mean).abs() < 1e-15);
    // Thresholds chosen on test unless validation predictions are given.
    let op = eff.operating_point.as_ref().unwrap();
    assert_eq!(op.source, cxr::evaluate::threshold::ThresholdSource::Test);
    let val = select_split(&all, Some("val"), "val").unwrap();
    let with_val = evaluate(&test, Some(&val), &opts(50, 7)).unwrap();
    let vop = with_val.findings[0].operating_point.as_ref().unwrap();
    assert_eq!(vop.source, cxr::evaluate::threshold::ThresholdSource::Validation);
    let vs = ScoredFinding::new(&val.y[0], &val.p[0]);
    assert_eq!(vop.threshold, youden(&vs).unwrap().threshold);
    // Hernia has one class on val too → no threshold, said in a note.
    assert!(with_val.findings[2].operating_point.is_none());
    assert_eq!(with_val.findings[2].note.as_deref(), Some("single class on validation: no threshold"));
}

#[test]
fn patient_resampling_keeps_patients_together() {
    let ids: Vec<String> = (0..40).map(|i| format!("p{}", i / 4)).collect();
    let rs = Resampler::new(&ids, Resample::Patients, 11);
    assert_eq!(rs.n_units(), 10);
    let mut w = vec![0u32; 40];
    for r in 0..50 {
        rs.weights(r, &mut w);
        assert_eq!(w.iter().sum::<u32>(), 40);
        for p in 0..10 {
            assert!(w[4 * p..4 * p + 4].iter().all(|&x| x == w[4 * p]), "replicate {r}: {w:?}");
        }
    }
    let ri = Resampler::new(&ids, Resample::Images, 11);
    ri.weights(0, &mut w);
    assert_eq!(w.iter().sum::<u32>(), 40);
    // Replicates do not depend on the thread schedule: serial draws equal the parallel run.
    let par = ri.replicates(20, |w| w.to_vec());
    for (r, pw) in par.iter().enumerate() {
        ri.weights(r as u64, &mut w);
        assert_eq!(&w, pw);
    }
}

#[test]
fn paired_comparison_p_values() {
    let a = synthetic(400, 0.3, 5);
    let strong = synthetic(400, 3.0, 6);
    // Identical models: Δ = 0 in every replicate, p = 1, nothing significant.
    let same = compare(&[("a".into(), a.clone()), ("b".into(), a.clone())], None, &opts(300, 1), 0.05).unwrap();
    let pair = &same.pairs[0];
    assert_eq!(pair.macro_auroc.p_value, Some(1.0));
    assert_eq!(pair.macro_auroc.delta.value, Some(0.0));
    for d in &pair.findings {
        assert!(d.p_value.is_none() || d.p_value == Some(1.0), "{d:?}");
        assert!(!d.significant);
    }
    // A clearly better model: smallest possible p on Effusion and the macro mean.
    let cmp = compare(&[("weak".into(), a.clone()), ("strong".into(), strong.clone())], None, &opts(300, 1), 0.05).unwrap();
    let pair = &cmp.pairs[0];
    assert!(pair.findings[0].delta.value.unwrap() > 0.2);
    assert!(pair.findings[0].p_value.unwrap() <= 2.0 / 301.0 + 1e-12, "{:?}", pair.findings[0]);
    assert!(pair.findings[0].significant && pair.macro_auroc.significant);
    assert_eq!(pair.findings[2].p_value, None, "single-class finding has no test");
    let ps: Vec<f64> = pair.findings.iter().filter_map(|d| d.p_value).collect();
    let qs: Vec<f64> = pair.findings.iter().filter_map(|d| d.q_value).collect();
    assert_eq!(qs, benjamini_hochberg(&ps));
    // Paired: each model's intervals in `compare` equal `evaluate` with the same seed, and
    // matching is by image_id, not row order.
    let test = select_split(&strong, Some("test"), "t").unwrap();
    let ev = evaluate(&test, None, &opts(300, 1)).unwrap();
    assert_eq!(cmp.models[1].auroc[0], ev.findings[0].auroc);
    let mut shuffled = strong.clone();
    let n = shuffled.len();
    let perm: Vec<usize> = (0..n).rev().collect();
    shuffled.image_id = perm.iter().map(|&i| strong.image_id[i].clone()).collect();
    shuffled.patient_id = perm.iter().map(|&i| strong.patient_id[i].clone()).collect();
    shuffled.split = perm.iter().map(|&i| strong.split[i].clone()).collect();
    shuffled.y = strong.y.iter().map(|c| perm.iter().map(|&i| c[i]).collect()).collect();
    shuffled.p = strong.p.iter().map(|c| perm.iter().map(|&i| c[i]).collect()).collect();
    let cmp2 = compare(&[("weak".into(), a.clone()), ("strong".into(), shuffled)], None, &opts(300, 1), 0.05).unwrap();
    assert_eq!(serde_json::to_string(&cmp2.pairs).unwrap(), serde_json::to_string(&cmp.pairs).unwrap());
    // A NaN score is an error naming the image, not a NaN in the report.
    let mut nan = a.clone();
    nan.p[1][3] = f32::NAN;
    let err = evaluate(&nan, None, &opts(10, 1)).unwrap_err().to_string();
    assert!(err.contains("p_Nodule") && err.contains("img0003"), "{err}");
    // Disagreeing labels are an error, not a silent comparison.
    let mut bad = a.clone();
    bad.y[0][0] = Some(if a.y[0][0] == Some(1) { 0 } else { 1 });
    assert!(compare(&[("a".into(), a), ("bad".into(), bad)], None, &opts(10, 1), 0.05).is_err());
}

fn cxr_train(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cxr-train")).args(args).output().expect("cxr-train runs")
}

fn is_png_with_colour(path: &Path) -> bool {
    let img = image::open(path).expect("png decodes").to_rgb8();
    img.pixels().any(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2])
}

#[test]
fn evaluate_and_compare_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
    synthetic(200, 0.5, 5).write(&a).unwrap();
    synthetic(200, 2.0, 6).write(&b).unwrap();
    let out = dir.path().join("eval");
    let o = cxr_train(&["evaluate", "--predictions", a.to_str().unwrap(), "--bootstrap", "40", "--format", "json", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rep: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["inputs"][0]["sha256"].as_str().unwrap(), sha256_file(&a).unwrap());
    assert_eq!(rep["results"]["threshold_source"], "test");
    assert_eq!(rep["results"]["findings"][2]["auroc"]["value"], Value::Null);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("ON THE TEST SET ITSELF") && md.contains("| Hernia | 0 |"), "{md}");
    assert!(is_png_with_colour(&out.join("roc_overview.png")));
    assert!(is_png_with_colour(&out.join("roc/Effusion.png")));
    assert!(!out.join("roc/Hernia.png").exists(), "no ROC curve for a single-class finding");

    let o = cxr_train(&["evaluate", "--predictions", a.to_str().unwrap(), "--val-predictions", a.to_str().unwrap(), "--bootstrap", "20"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && text.contains("chosen on the validation predictions"), "{text}");

    let out = dir.path().join("cmp");
    let o = cxr_train(&[
        "compare", a.to_str().unwrap(), b.to_str().unwrap(), "--names", "weak,strong", "--bootstrap", "40",
        "--format", "md", "--out", out.to_str().unwrap(),
    ]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(md.contains("## strong − weak") && md.contains("Benjamini–Hochberg"), "{md}");
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(rep["results"]["reference"], "weak");
    assert!(is_png_with_colour(&out.join("roc/Effusion.png")));
    // Unknown split: a clear error, exit code 2.
    let o = cxr_train(&["evaluate", "--predictions", a.to_str().unwrap(), "--split", "holdout"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("splits present: test, val"));
}
