//! `scripts/gpu-check.sh --device cpu`: the GPU check's plan, deadline, timeouts and summary,
//! proven without a GPU (the tiny test ViT stands in for every ViT-B). The GPU machine is lent
//! for 15 minutes, one command of at most 600 s returning at most 8 files, so the script must end
//! by its own deadline and leave a summary of whatever finished, whatever failed or hung.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the check on the CPU with `deadline` seconds and extra environment; returns the exit
/// code and the wall time.
fn gpu_check(out: &Path, deadline: u64, env: &[(&str, &str)]) -> (Option<i32>, Duration) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gpu-check.sh");
    let t = Instant::now();
    let o = Command::new("bash")
        .arg(script)
        .arg(out)
        .args(["--binary", env!("CARGO_BIN_EXE_cxr-train"), "--device", "cpu"])
        .args(["--deadline", &deadline.to_string()])
        .envs(env.iter().copied())
        .output()
        .expect("bash runs");
    let wall = t.elapsed();
    if !o.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&o.stderr));
    }
    (o.status.code(), wall)
}

/// steps.tsv as step name -> (status, exit code).
fn steps(out: &Path) -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(out.join("steps.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), (f[2].to_string(), f[3].to_string()))
        })
        .collect()
}

fn jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// What the device tool brings back: at most 8 files, names of letters, digits, `.`, `_`, `-`.
fn assert_returnable(out: &Path) {
    let names: Vec<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.len() <= 8, "{names:?}");
    for n in &names {
        assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)), "{n}");
    }
}

/// The burn cells of the plan, in order, as steps.tsv names them on the CPU (the DINOv2 cell has
/// no tiny stand-in and is not planned there).
const CELLS: [&str; 5] = [
    "burn tiny 32px full b128 bf16",
    "burn tiny 32px full b128 f32",
    "burn tiny 32px full b32 bf16",
    "burn tiny_dinov3 32px full b128 bf16",
    "burn tiny 32px full b256 bf16",
];

#[test]
fn the_whole_plan_runs_on_the_cpu_and_summarises_every_cell() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, wall) = gpu_check(&out, 300, &[]);
    assert_eq!(code, Some(0));
    assert!(wall < Duration::from_secs(310), "{wall:?}");
    assert_returnable(&out);

    let st = steps(&out);
    assert_eq!(st["environment"].0, "ok");
    assert_eq!(st["parity tiny b4 (all configurations)"].0, "ok", "{st:?}");
    assert_eq!(st["parity tiny b2 (fused only)"].0, "ok", "{st:?}");
    for cell in CELLS {
        assert_eq!(st[cell].0, "ok", "{cell}: {st:?}");
    }
    // No torch here (CI): named as skipped, not failed. Where torch is installed it must run.
    let torch = &st["torch (timm), one process"].0;
    assert!(torch == "skipped" || torch == "ok", "{torch}");

    // Every burn cell wrote a finite JSON line; parity printed every comparison.
    let bench = jsonl(&out.join("bench.jsonl"));
    assert_eq!(bench.len(), 5);
    assert_eq!(st.len(), 1 + 2 + 1 + 5, "one record per planned step: {st:?}");
    for r in &bench {
        assert_eq!(r["finite"], true, "{r}");
        assert!(r["images_per_s"].as_f64().unwrap() > 0.0, "{r}");
    }
    let parity = jsonl(&out.join("parity.jsonl"));
    assert_eq!(parity.len(), 6 + 6, "tiny b4: 2 precisions x 3 quantities, twice");
    assert!(parity.iter().all(|r| r["pass"] == true), "{parity:?}");

    // One table row per cell, with the figure and parity's verdict in it.
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    let row = summary
        .lines()
        .find(|l| l.starts_with("| tiny | 32 | full | 128 | bf16 |"))
        .unwrap_or_else(|| panic!("{summary}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert!(cells[6].parse::<f64>().unwrap() > 0.0, "{row}");
    assert!(cells[13].starts_with("ok"), "{row}");
    assert!(summary.contains("| tiny_dinov3 | 32 | full | 128 | bf16 |"), "{summary}");
    let log = std::fs::read_to_string(out.join("log.txt")).unwrap();
    assert!(log.contains("parity: all 6 comparisons within tolerance"), "{log}");
}

#[test]
fn a_short_deadline_skips_what_does_not_fit_and_still_summarises() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, wall) = gpu_check(&out, 25, &[]);
    assert_eq!(code, Some(0));
    assert!(wall < Duration::from_secs(35), "{wall:?}");
    assert_returnable(&out);
    let st = steps(&out);
    assert_eq!(st["environment"].0, "ok");
    let skipped: Vec<&String> = st.iter().filter(|(_, (s, _))| s == "skipped").map(|(n, _)| n).collect();
    // Every planned step after the environment: 2 parity steps, the torch step, 5 cells.
    assert_eq!(skipped.len(), 8, "{st:?}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("| parity tiny b4 (all configurations) | **skipped** |"), "{summary}");
    assert!(summary.contains("| tiny | 32 | full | 128 | bf16 | skipped ("), "{summary}");
}

#[test]
fn a_hung_step_is_killed_at_its_timeout_and_the_plan_goes_on_to_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A million timed steps never end: the headline cell must be cut at the deadline.
    let (code, wall) = gpu_check(&out, 45, &[("GPU_CHECK_STEPS", "1000000"), ("GPU_CHECK_MIN_LEFT", "8")]);
    assert_eq!(code, Some(0));
    assert!(wall < Duration::from_secs(55), "{wall:?}");
    assert_returnable(&out);
    let st = steps(&out);
    assert_eq!(st["parity tiny b4 (all configurations)"].0, "ok", "{st:?}");
    let (status, rc) = &st[CELLS[0]];
    assert_eq!(status, "timeout", "{st:?}");
    assert!(rc == "124" || rc == "137", "{rc}");
    assert_eq!(st["burn tiny_dinov3 32px full b128 bf16"].0, "skipped", "{st:?}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("| tiny | 32 | full | 128 | bf16 | timeout (exit 12"), "{summary}");
}
