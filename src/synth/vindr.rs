//! VinDr-CXR layouts, one set of images written twice:
//!
//! ```text
//! vindr/annotations/image_labels_train.csv   image_id, rad_id, 28 labels (0/1); 3 readers per image
//! vindr/annotations/image_labels_test.csv    image_id, 28 labels ("Other disease"); one consensus row
//! vindr/train/<image_id>.dicom, vindr/test/<image_id>.dicom
//! vindr-kaggle/train.csv                     image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max
//! vindr-kaggle/train/<image_id>.dicom
//! ```
//!
//! `image_id` is 32 hex digits. Each reader keeps every true finding with
//! probability 0.85 and adds a false positive with probability 0.01 per
//! label, so readers disagree sometimes. Kaggle boxes come from the same
//! phantom geometry as the pixels, jittered per reader. DICOMs are DX,
//! 16-bit with BitsStored 12 or 14; every other image is MONOCHROME1 and
//! every third carries a RescaleSlope/Intercept.

use std::path::Path;

use super::SynthError;
use super::dicom::DicomSpec;
use super::draw::{Layout, View};
use super::truth::{Rng, Sign, Truth};
use super::write::{Encoding, ImageJob, Table};

/// The 28 PhysioNet label columns (train spelling; test says "Other disease").
pub(crate) const LABELS: [&str; 28] = [
    "Aortic enlargement",
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Clavicle fracture",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Enlarged PA",
    "ILD",
    "Infiltration",
    "Lung Opacity",
    "Lung cavity",
    "Lung cyst",
    "Mediastinal shift",
    "Nodule/Mass",
    "Pleural effusion",
    "Pleural thickening",
    "Pneumothorax",
    "Pulmonary fibrosis",
    "Rib fracture",
    "Other lesion",
    "COPD",
    "Lung tumor",
    "Pneumonia",
    "Tuberculosis",
    "Other diseases",
    "No finding",
];

/// Kaggle classes 0..=13 (14 is "No finding").
pub(crate) const KAGGLE_CLASSES: [&str; 14] = [
    "Aortic enlargement",
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Consolidation",
    "ILD",
    "Infiltration",
    "Lung Opacity",
    "Nodule/Mass",
    "Other lesion",
    "Pleural effusion",
    "Pleural thickening",
    "Pneumothorax",
    "Pulmonary fibrosis",
];

/// Signs behind a VinDr label (empty: never drawn, always 0 in the truth).
fn signs_of(label: &str) -> &'static [Sign] {
    match label {
        "Aortic enlargement" => &[Sign::AorticEnlargement],
        "Atelectasis" => &[Sign::Atelectasis],
        "Calcification" => &[Sign::Calcification],
        "Cardiomegaly" => &[Sign::Cardiomegaly],
        "Clavicle fracture" => &[Sign::Fracture],
        "Consolidation" => &[Sign::Consolidation],
        "Edema" => &[Sign::Edema],
        "Emphysema" | "COPD" => &[Sign::Emphysema],
        "ILD" | "Pulmonary fibrosis" => &[Sign::Fibrosis],
        "Infiltration" => &[Sign::Infiltration],
        "Lung Opacity" => &[Sign::Consolidation, Sign::Pneumonia],
        "Nodule/Mass" => &[Sign::Nodule, Sign::Mass],
        "Pleural effusion" => &[Sign::Effusion],
        "Pleural thickening" => &[Sign::PleuralThickening],
        "Pneumothorax" => &[Sign::Pneumothorax],
        "Other lesion" => &[Sign::Hernia],
        "Lung tumor" => &[Sign::Mass],
        "Pneumonia" => &[Sign::Pneumonia],
        "Other diseases" => &[Sign::Hernia, Sign::Scoliosis],
        _ => &[],
    }
}

fn truth_label(t: &Truth, label: &str) -> bool {
    signs_of(label).iter().any(|s| t.has(*s))
}

/// One reader's 27 finding labels (without "No finding").
fn read(t: &Truth, rng: &mut Rng) -> Vec<bool> {
    LABELS[..27]
        .iter()
        .map(|l| {
            let r = rng.f32();
            if truth_label(t, l) {
                r < 0.85
            } else {
                !signs_of(l).is_empty() && r < 0.01
            }
        })
        .collect()
}

fn row01(id: &str, rad: Option<&str>, finds: &[bool]) -> Vec<String> {
    let mut row = vec![id.to_string()];
    row.extend(rad.map(str::to_string));
    row.extend(finds.iter().map(|b| if *b { "1" } else { "0" }.to_string()));
    row.push(if finds.iter().any(|b| *b) { "0" } else { "1" }.to_string());
    row
}

/// Writes both VinDr layouts; returns the image jobs and the Kaggle image count.
pub(crate) fn build(
    root: &Path,
    kaggle: &Path,
    n: usize,
    size: u32,
    mut rng: Rng,
) -> Result<(Vec<ImageJob>, usize), SynthError> {
    let n_test = (n / 6).max(2);
    let header_train = format!("image_id,rad_id,{}", LABELS.join(","));
    let header_test = format!(
        "image_id,{}",
        LABELS.join(",").replace("Other diseases", "Other disease")
    );
    let mut train = Table::new(
        root.join("annotations").join("image_labels_train.csv"),
        &header_train,
    );
    let mut test = Table::new(
        root.join("annotations").join("image_labels_test.csv"),
        &header_test,
    );
    let mut kag = Table::new(
        kaggle.join("train.csv"),
        "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max",
    );
    let mut jobs = Vec::with_capacity(n + n - n_test);
    let s = size as f32;
    for i in 0..n {
        let is_test = i >= n - n_test;
        let id = rng.hex(32);
        let truth = Truth::draw(&mut rng);
        let seed = rng.next_u64();
        let bits = if rng.chance(0.5) { 12 } else { 14 };
        let spec = DicomSpec {
            cr: false,
            sop_instance_uid: format!("2.25.{}", rng.digits(30)),
            study_uid: format!("2.25.{}", rng.digits(30)),
            series_uid: format!("2.25.{}", rng.digits(30)),
            patient_id: format!("SYNTH{i:05}"),
            male: rng.chance(0.5),
            age: 20 + rng.below(70) as u32,
            view_position: "PA".to_string(),
            bits_stored: bits,
            monochrome1: i % 2 == 1,
            rescale: match i % 3 {
                0 => Some(if i % 2 == 0 {
                    (1.0, -1024.0)
                } else {
                    (2.0, 0.0)
                }),
                _ => None,
            },
        };
        let split = if is_test { "test" } else { "train" };
        let file = format!("{id}.dicom");
        let job = |path| ImageJob {
            path,
            truth: truth.clone(),
            view: View::Frontal,
            seed,
            encoding: Encoding::Dicom(Box::new(spec.clone())),
        };
        jobs.push(job(root.join(split).join(&file)));
        if is_test {
            let finds: Vec<bool> = LABELS[..27]
                .iter()
                .map(|l| truth_label(&truth, l))
                .collect();
            test.row(row01(&id, None, &finds))?;
            continue;
        }
        jobs.push(job(kaggle.join("train").join(&file)));
        let layout = Layout::new(&truth, View::Frontal, seed);
        let mut rads: Vec<u64> = Vec::new();
        while rads.len() < 3 {
            let r = 1 + rng.below(17);
            if !rads.contains(&r) {
                rads.push(r);
            }
        }
        for r in rads {
            let rad = format!("R{r}");
            let finds = read(&truth, &mut rng);
            train.row(row01(&id, Some(&rad), &finds))?;
            let mut any = false;
            for (cid, cname) in KAGGLE_CLASSES.iter().enumerate() {
                let k = LABELS.iter().position(|l| l == cname).unwrap_or(0);
                if !finds[k] {
                    continue;
                }
                any = true;
                let mut boxes: Vec<[f32; 4]> = signs_of(cname)
                    .iter()
                    .flat_map(|sg| layout.boxes(*sg))
                    .take(3)
                    .collect();
                if boxes.is_empty() {
                    // A false positive: a small box somewhere over the lungs.
                    let (u, v) = (rng.range(0.2, 0.7), rng.range(0.25, 0.6));
                    boxes.push([u, v, u + 0.1, v + 0.1]);
                }
                for b in boxes {
                    let j: Vec<f32> = b
                        .iter()
                        .map(|x| (x + rng.range(-0.015, 0.015)).clamp(0.0, 1.0))
                        .collect();
                    let (x0, x1) = (j[0].min(j[2]), j[0].max(j[2]));
                    let (y0, y1) = (j[1].min(j[3]), j[1].max(j[3]));
                    let px: Vec<String> = [x0, y0, x1, y1]
                        .iter()
                        .map(|x| format!("{:.1}", (x * s).round()))
                        .collect();
                    kag.row([
                        id.clone(),
                        cname.to_string(),
                        cid.to_string(),
                        rad.clone(),
                        px[0].clone(),
                        px[1].clone(),
                        px[2].clone(),
                        px[3].clone(),
                    ])?;
                }
            }
            if !any {
                kag.row([
                    id.as_str(),
                    "No finding",
                    "14",
                    rad.as_str(),
                    "",
                    "",
                    "",
                    "",
                ])?;
            }
        }
    }
    train.finish(false)?;
    test.finish(false)?;
    kag.finish(false)?;
    Ok((jobs, n - n_test))
}
