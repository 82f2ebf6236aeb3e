//! CheXpert (small) layout:
//!
//! ```text
//! chexpert/CheXpert-v1.0-small/train.csv, valid.csv   19 columns, values 1.0 / 0.0 / -1.0 / blank
//! chexpert/CheXpert-v1.0-small/{train,valid}/patientNNNNN/studyN/viewN_{frontal,lateral}.jpg
//! ```
//!
//! Labels are per study (laterals repeat their study's labels). The
//! CheXpert-style value writer here is shared with MIMIC-CXR.

use std::path::Path;

use super::SynthError;
use super::draw::View;
use super::truth::{Rng, Sign, Split, SplitRule, Truth, patients};
use super::write::{Encoding, ImageJob, Table};

/// The exact header of `train.csv` and `valid.csv`.
pub(crate) const HEADER: &str = "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices";

/// The 14 CheXpert label columns in `train.csv` order.
pub(crate) const LABELS: [&str; 14] = [
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
];

/// Whether the CheXpert label `name` is positive for `t` (`No Finding`: no
/// other label except Support Devices is positive).
pub(crate) fn positive(t: &Truth, name: &str) -> bool {
    match name {
        "No Finding" => LABELS[1..13].iter().all(|l| !positive(t, l)),
        "Enlarged Cardiomediastinum" => t.has(Sign::EnlargedMediastinum),
        "Cardiomegaly" => t.has(Sign::Cardiomegaly),
        "Lung Opacity" => t.has(Sign::Consolidation) || t.has(Sign::Pneumonia),
        "Lung Lesion" => t.has(Sign::Nodule) || t.has(Sign::Mass),
        "Edema" => t.has(Sign::Edema),
        "Consolidation" => t.has(Sign::Consolidation),
        "Pneumonia" => t.has(Sign::Pneumonia),
        "Atelectasis" => t.has(Sign::Atelectasis),
        "Pneumothorax" => t.has(Sign::Pneumothorax),
        "Pleural Effusion" => t.has(Sign::Effusion),
        "Pleural Other" => t.has(Sign::PleuralThickening),
        "Fracture" => t.has(Sign::Fracture),
        "Support Devices" => t.has(Sign::SupportDevices),
        _ => false,
    }
}

/// CheXpert-labeler style values for one study, in [`LABELS`] order.
///
/// With `certain` (validation sets) every value is `1.0` or `0.0`. Otherwise
/// positives are `1.0` (88 %) or `-1.0`; negatives are blank (75 %), `0.0`,
/// or, when the study is not "No Finding", sometimes `-1.0`. `No Finding` is
/// only ever `1.0` or blank, as in the real files.
pub(crate) fn values(t: &Truth, rng: &mut Rng, certain: bool) -> Vec<String> {
    let no_finding = positive(t, "No Finding");
    LABELS
        .iter()
        .map(|name| {
            let pos = positive(t, name);
            let r = rng.f32();
            let v = if certain {
                if pos { "1.0" } else { "0.0" }
            } else if *name == "No Finding" {
                if pos { "1.0" } else { "" }
            } else if pos {
                if r < 0.88 { "1.0" } else { "-1.0" }
            } else if r < 0.75 {
                ""
            } else if r < 0.97 || no_finding {
                "0.0"
            } else {
                "-1.0"
            };
            v.to_string()
        })
        .collect()
}

/// Writes `train.csv` / `valid.csv` under `root`; returns the image jobs.
pub(crate) fn build(root: &Path, n: usize, mut rng: Rng) -> Result<Vec<ImageJob>, SynthError> {
    let n_valid = (n / 10).max(2);
    let mut jobs = Vec::with_capacity(n);
    // Patient ids count up; a train.csv patient skips ids until the ingest's val carve (a hash
    // of the id) agrees with the split it is meant for (its test share stays train: CheXpert's
    // test split is valid.csv).
    let rule = SplitRule::builtin("chexpert")?;
    let mut last_patient = 0u32;
    for (split, count) in [("train", n - n_valid), ("valid", n_valid)] {
        let csv_path = root
            .join("CheXpert-v1.0-small")
            .join(format!("{split}.csv"));
        let mut table = Table::new(csv_path, HEADER);
        let mut left = count;
        // Over-provision patients; stop when `count` images are written.
        let max_studies = if split == "train" { 3 } else { 1 };
        for p in patients(&mut rng, count, max_studies) {
            if left == 0 {
                break;
            }
            let want = match (split, p.split) {
                ("valid", _) => Split::Test,
                (_, Split::Val) => Split::Val,
                _ => Split::Train,
            };
            let pid = rule.id_for(want, Some(split), || {
                last_patient += 1;
                format!("patient{last_patient:05}")
            })?;
            let mut truth = Truth::draw(&mut rng);
            for s in 0..p.count {
                if left == 0 {
                    break;
                }
                if s > 0 {
                    truth = truth.evolve(&mut rng);
                }
                let lateral = split == "train" && left >= 2 && rng.chance(0.3);
                let labels = values(&truth, &mut rng, split == "valid");
                let age = (p.age + s as u32).to_string();
                let sex = if p.male { "Male" } else { "Female" };
                let ap = if rng.chance(0.8) { "AP" } else { "PA" };
                let views: &[(&str, &str, &str, View)] = if lateral {
                    &[
                        ("view1_frontal", "Frontal", ap, View::Frontal),
                        ("view2_lateral", "Lateral", "", View::Lateral),
                    ]
                } else {
                    &[("view1_frontal", "Frontal", ap, View::Frontal)]
                };
                for (file, fl, appa, view) in views {
                    let rel = format!(
                        "CheXpert-v1.0-small/{split}/{pid}/study{}/{file}.jpg",
                        s + 1
                    );
                    let mut row = vec![
                        rel.clone(),
                        sex.to_string(),
                        age.clone(),
                        fl.to_string(),
                        appa.to_string(),
                    ];
                    row.extend(labels.iter().cloned());
                    table.row(&row)?;
                    jobs.push(ImageJob {
                        path: root.join(&rel),
                        truth: truth.clone(),
                        view: *view,
                        seed: rng.next_u64(),
                        encoding: Encoding::Jpeg { quality: 90 },
                    });
                    left -= 1;
                }
            }
        }
        table.finish(false)?;
    }
    Ok(jobs)
}
