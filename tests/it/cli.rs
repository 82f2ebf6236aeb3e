//! Both binaries stop quietly (status 0, nothing on stderr) when the reader of their stdout goes
//! away, as in `cxr-prep schema | head -1`: write errors of kind `BrokenPipe` end the program
//! like ripgrep does, with no SIGPIPE reset and no "failed printing to stdout" panic.

use std::path::Path;
use std::process::{Command, Stdio};

use cxr::evaluate::predictions::Predictions;

/// Spawns `cmd` with stdout piped, closes the read end at once (before the child writes), and
/// returns the exit status and stderr.
fn run_with_closed_stdout(mut cmd: Command) -> (std::process::ExitStatus, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("binary runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("binary exits");
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn cxr_prep_exits_quietly_when_stdout_is_closed() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cxr-prep"));
    cmd.arg("schema");
    let (status, stderr) = run_with_closed_stdout(cmd);
    assert_eq!(status.code(), Some(0), "{status:?}\n{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn cxr_train_exits_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.parquet");
    write_predictions(&path);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cxr-train"));
    cmd.args(["evaluate", "--predictions", path.to_str().unwrap(), "--bootstrap", "10", "--format", "json"]);
    let (status, stderr) = run_with_closed_stdout(cmd);
    assert_eq!(status.code(), Some(0), "{status:?}\n{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{stderr}");
}

/// 40 test images, one finding, scores that rank positives above negatives.
fn write_predictions(path: &Path) {
    let mut p = Predictions::new(vec!["Effusion".into()]);
    for i in 0..40 {
        p.image_id.push(format!("img{i:03}"));
        p.patient_id.push(format!("pat{i:03}"));
        p.split.push("test".into());
        p.dataset.push(None);
        let y = i8::from(i % 3 == 0);
        p.y[0].push(Some(y));
        p.p[0].push(0.1 + 0.5 * f32::from(y) + 0.01 * (i % 7) as f32);
    }
    p.write(path).unwrap();
}
