//! MIMIC-CXR-JPG layout:
//!
//! ```text
//! mimic/mimic-cxr-2.0.0-metadata.csv.gz   one row per image (12 columns)
//! mimic/mimic-cxr-2.0.0-chexpert.csv.gz   one row PER STUDY (subject_id, study_id, 14 labels)
//! mimic/mimic-cxr-2.0.0-split.csv.gz      dicom_id, study_id, subject_id, split (train/validate/test)
//! mimic/files/p1X/p1XXXXXXX/s5XXXXXXX/<dicom_id>.jpg   8-bit JPEG
//! ```
//!
//! `subject_id` has 8 digits starting with 1, `study_id` 8 digits starting
//! with 5, `dicom_id` is five dash-separated groups of 8 hex digits.
//! Studies hold 1–3 images (frontal, then LATERAL/LL, sometimes a second
//! frontal); ViewPosition is sometimes empty. About 3 % of studies have no
//! CheXpert row, as in the real release.

use std::collections::HashSet;
use std::path::Path;

use super::SynthError;
use super::chexpert;
use super::draw::View;
use super::truth::{Rng, Split, Truth, patients};
use super::write::{Encoding, ImageJob, Table};

pub(crate) const METADATA_HEADER: &str = "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,PatientOrientationCodeSequence_CodeMeaning";
pub(crate) const CHEXPERT_HEADER: &str = "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices";
pub(crate) const SPLIT_HEADER: &str = "dicom_id,study_id,subject_id,split";

/// A fresh integer in `lo..lo + span` not yet in `used`.
fn unique(rng: &mut Rng, used: &mut HashSet<u64>, lo: u64, span: u64) -> u64 {
    loop {
        let v = lo + rng.below(span);
        if used.insert(v) {
            return v;
        }
    }
}

fn dicom_id(rng: &mut Rng) -> String {
    (0..5).map(|_| rng.hex(8)).collect::<Vec<_>>().join("-")
}

/// Writes the three gzipped CSVs under `root`; returns the image jobs.
pub(crate) fn build(
    root: &Path,
    n: usize,
    size: u32,
    mut rng: Rng,
) -> Result<Vec<ImageJob>, SynthError> {
    let mut meta = Table::new(
        root.join("mimic-cxr-2.0.0-metadata.csv.gz"),
        METADATA_HEADER,
    );
    let mut split_t = Table::new(root.join("mimic-cxr-2.0.0-split.csv.gz"), SPLIT_HEADER);
    let mut label_rows: Vec<(u64, u64, Vec<String>)> = Vec::new();
    let label_cols: Vec<&str> = CHEXPERT_HEADER.split(',').skip(2).collect();
    let (mut used_subj, mut used_study) = (HashSet::new(), HashSet::new());
    let mut jobs = Vec::with_capacity(n);
    let mut left = n;
    for p in patients(&mut rng, n, 3) {
        if left == 0 {
            break;
        }
        let subject = unique(&mut rng, &mut used_subj, 10_000_000, 10_000_000);
        let split = match p.split {
            Split::Test => "test",
            Split::Val => "validate",
            Split::Train => "train",
        };
        let mut truth = Truth::draw(&mut rng);
        for s in 0..p.count {
            if left == 0 {
                break;
            }
            if s > 0 {
                truth = truth.evolve(&mut rng);
            }
            let study = unique(&mut rng, &mut used_study, 50_000_000, 10_000_000);
            let n_img = (1 + rng.below(3) as usize).min(left);
            left -= n_img;
            let portable = n_img == 1 && rng.chance(0.6);
            let desc = if portable {
                "CHEST (PORTABLE AP)"
            } else {
                "CHEST (PA AND LAT)"
            };
            let date = format!(
                "21{:02}{:02}{:02}",
                10 + rng.below(80),
                1 + rng.below(12),
                1 + rng.below(28)
            );
            let time = format!(
                "{:02}{:02}{:02}.{:03}",
                rng.below(24),
                rng.below(60),
                rng.below(60),
                rng.below(1000)
            );
            for i in 0..n_img {
                let (vp, meaning, orient, view) = match (i, portable) {
                    (_, true) => ("AP", "antero-posterior", "Recumbent", View::Frontal),
                    (1, false) if rng.chance(0.3) => ("LL", "left lateral", "Erect", View::Lateral),
                    (1, false) => ("LATERAL", "lateral", "Erect", View::Lateral),
                    _ if rng.chance(0.5) => ("AP", "antero-posterior", "Erect", View::Frontal),
                    _ => ("PA", "postero-anterior", "Erect", View::Frontal),
                };
                // ~8 % of images carry no view information at all.
                let (vp, meaning, orient) = if rng.chance(0.08) {
                    ("", "", "")
                } else {
                    (vp, meaning, orient)
                };
                let did = dicom_id(&mut rng);
                meta.row([
                    did.as_str(),
                    &subject.to_string(),
                    &study.to_string(),
                    desc,
                    vp,
                    &size.to_string(),
                    &size.to_string(),
                    &date,
                    &time,
                    desc,
                    meaning,
                    orient,
                ])?;
                split_t.row([
                    did.as_str(),
                    &study.to_string(),
                    &subject.to_string(),
                    split,
                ])?;
                let rel = format!(
                    "files/p{}/p{subject}/s{study}/{did}.jpg",
                    &subject.to_string()[..2]
                );
                jobs.push(ImageJob {
                    path: root.join(rel),
                    truth: truth.clone(),
                    view,
                    seed: rng.next_u64(),
                    encoding: Encoding::Jpeg { quality: 95 },
                });
            }
            let vals = chexpert::values(&truth, &mut rng, false);
            if !rng.chance(0.03) {
                // Reorder from CheXpert column order to MIMIC's alphabetical order.
                let row = label_cols
                    .iter()
                    .map(|c| {
                        chexpert::LABELS
                            .iter()
                            .position(|l| l == c)
                            .map_or(String::new(), |k| vals[k].clone())
                    })
                    .collect();
                label_rows.push((subject, study, row));
            }
        }
    }
    label_rows.sort_by_key(|(subj, st, _)| (*subj, *st));
    let mut labels = Table::new(
        root.join("mimic-cxr-2.0.0-chexpert.csv.gz"),
        CHEXPERT_HEADER,
    );
    for (subj, st, vals) in label_rows {
        let mut row = vec![subj.to_string(), st.to_string()];
        row.extend(vals);
        labels.row(&row)?;
    }
    labels.finish(true)?;
    meta.finish(true)?;
    split_t.finish(true)?;
    Ok(jobs)
}
