//! UKA-CXR (private) in this project's own CSV template:
//!
//! ```text
//! uka/UKA_CXR_labels.csv    image_id, patient_id, split, image_path, view, sex, age,
//!                           10 graded findings (integers 0–5, blank = not assessed), healthy (0/1)
//! uka/images/<image_id>.dcm  CR DICOM (about half)
//! uka/images/<image_id>.jpg  8-bit JPEG (the rest)
//! ```
//!
//! Grades follow the group's binarisation (paper.md §8.2): a finding that is
//! present is graded 3 or 4 (4 when severe); an absent one 0, 1 or 2, so
//! "positive iff grade ∈ {3, 4}" recovers the truth. Cardiomegaly is
//! occasionally 5 (not assessable, negative). `healthy` is 1 iff the phantom
//! carries no sign at all. Views are mostly supine AP.

use std::path::Path;

use super::SynthError;
use super::dicom::DicomSpec;
use super::draw::View;
use super::truth::{Rng, Sign, Truth, patients};
use super::write::{Encoding, ImageJob, Table};

pub(crate) const HEADER: &str = "image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,pleural_effusion_right,pleural_effusion_left,pneumonic_infiltrates_right,pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,pneumothorax_right,pneumothorax_left,healthy";

/// Grade of one finding: 3–4 when present (4 above severity 0.85), else 0–2.
fn grade(present: bool, severity: f32, rng: &mut Rng) -> u8 {
    let r = rng.f32();
    if present {
        if severity > 0.85 { 4 } else { 3 }
    } else if r < 0.75 {
        0
    } else if r < 0.88 {
        1
    } else {
        2
    }
}

/// Pneumonic infiltrates on one side: pneumonia, consolidation or infiltration there.
fn infiltrates(t: &Truth, right: bool) -> (bool, f32) {
    let signs = [Sign::Pneumonia, Sign::Consolidation, Sign::Infiltration];
    let on = |s: Sign| if right { t.right(s) } else { t.left(s) };
    let present = signs.iter().any(|s| on(*s));
    let sev = signs
        .iter()
        .filter(|s| on(**s))
        .map(|s| t.severity(*s))
        .fold(0.0, f32::max);
    (present, sev)
}

/// The 10 graded cells, blank (not assessed) with probability 0.02 each.
fn grades(t: &Truth, rng: &mut Rng) -> Vec<String> {
    let mut g = Vec::with_capacity(10);
    let cardio = grade(
        t.has(Sign::Cardiomegaly),
        t.severity(Sign::Cardiomegaly),
        rng,
    );
    g.push(if cardio == 0 && rng.chance(0.03) {
        5
    } else {
        cardio
    });
    g.push(grade(t.has(Sign::Edema), t.severity(Sign::Edema), rng));
    let e = Sign::Effusion;
    g.push(grade(t.right(e), t.severity(e), rng));
    g.push(grade(t.left(e), t.severity(e), rng));
    for right in [true, false] {
        let (p, sev) = infiltrates(t, right);
        g.push(grade(p, sev, rng));
    }
    for s in [Sign::Atelectasis, Sign::Pneumothorax] {
        g.push(grade(t.right(s), t.severity(s), rng));
        g.push(grade(t.left(s), t.severity(s), rng));
    }
    g.into_iter()
        .map(|v| {
            if rng.chance(0.02) {
                String::new()
            } else {
                v.to_string()
            }
        })
        .collect()
}

/// Writes `UKA_CXR_labels.csv` under `root`; returns the image jobs.
pub(crate) fn build(root: &Path, n: usize, mut rng: Rng) -> Result<Vec<ImageJob>, SynthError> {
    let mut table = Table::new(root.join("UKA_CXR_labels.csv"), HEADER);
    let mut jobs = Vec::with_capacity(n);
    let mut next_id = 1_000_000u64;
    for p in patients(&mut rng, n, 4) {
        let split = p.split.as_str();
        let patient_id = format!("{:06}", 200_000 + p.index * 7 + rng.below(7) as usize);
        let mut truth = Truth::draw(&mut rng);
        for k in 0..p.count {
            if k > 0 {
                truth = truth.evolve(&mut rng);
            }
            next_id += 1 + rng.below(20);
            let image_id = next_id.to_string();
            let dicom = rng.chance(0.5);
            let rel = format!("images/{image_id}.{}", if dicom { "dcm" } else { "jpg" });
            let view = if rng.chance(0.85) { "AP" } else { "PA" };
            let age = p.age + k as u32;
            let mut row = vec![
                image_id.clone(),
                patient_id.clone(),
                split.to_string(),
                rel.clone(),
                view.to_string(),
                if p.male { "M" } else { "F" }.to_string(),
                age.to_string(),
            ];
            row.extend(grades(&truth, &mut rng));
            row.push(if truth.any() { "0" } else { "1" }.to_string());
            table.row(&row)?;
            let encoding = if dicom {
                Encoding::Dicom(Box::new(DicomSpec {
                    cr: true,
                    sop_instance_uid: format!("2.25.{}", rng.digits(30)),
                    study_uid: format!("2.25.{}", rng.digits(30)),
                    series_uid: format!("2.25.{}", rng.digits(30)),
                    patient_id: format!("SYNTH{patient_id}"),
                    male: p.male,
                    age,
                    view_position: view.to_string(),
                    bits_stored: 12,
                    monochrome1: rng.chance(0.5),
                    rescale: if rng.chance(0.3) {
                        Some((1.0, -1024.0))
                    } else {
                        None
                    },
                }))
            } else {
                Encoding::Jpeg { quality: 90 }
            };
            jobs.push(ImageJob {
                path: root.join(&rel),
                truth: truth.clone(),
                view: View::Frontal,
                seed: rng.next_u64(),
                encoding,
            });
        }
    }
    table.finish(false)?;
    Ok(jobs)
}
