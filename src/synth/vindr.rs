//! The VinDr family's layouts, one generator parametrised by a [`Release`]:
//!
//! ```text
//! VinDr-CXR (CXR), one set of images written twice:
//! vindr/annotations/image_labels_train.csv   image_id, rad_id, 28 labels (0/1); 3 readers per image
//! vindr/annotations/image_labels_test.csv    image_id, 28 labels ("Other disease"); one consensus row
//! vindr/train/<image_id>.dicom, vindr/test/<image_id>.dicom
//! vindr-kaggle/train.csv                     image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max
//! vindr-kaggle/train/<image_id>.dicom
//!
//! VinDr-PCXR (PCXR), pediatric:
//! vindr-pcxr/image_labels_train.csv          image_id, rad_ID, 15 diseases (0/1); 1 reader per image
//! vindr-pcxr/image_labels_test.csv           image_id, rad_ID, 15 diseases; one row per image
//! vindr-pcxr/train/<image_id>.dicom, vindr-pcxr/test/<image_id>.dicom
//! ```
//!
//! `image_id` is 32 hex digits. Each train reader keeps every true finding with
//! probability 0.85 and adds a false positive with probability 0.01 per
//! label, so readers disagree sometimes; test rows are the truth. Kaggle boxes come
//! from the same phantom geometry as the pixels, jittered per reader. DICOMs are DX,
//! 16-bit with BitsStored 12 or 14; every other image is MONOCHROME1 and
//! every third carries a RescaleSlope/Intercept.

use std::path::Path;

use super::SynthError;
use super::dicom::DicomSpec;
use super::draw::{Layout, View};
use super::truth::{Rng, Sign, Split, SplitRule, Truth};
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

/// The 15 VinDr-PCXR disease columns, in file order (spellings as published, sic).
pub(crate) const PCXR_LABELS: [&str; 15] = [
    "No finding",
    "Bronchitis",
    "Brocho-pneumonia",
    "Other disease",
    "Bronchiolitis",
    "Situs inversus",
    "Pneumonia",
    "Pleuro-pneumonia",
    "Diagphramatic hernia",
    "Tuberculosis",
    "Congenital emphysema",
    "CPAM",
    "Hyaline membrane disease",
    "Mediastinal tumor",
    "Lung tumor",
];

/// What differs between the VinDr-family releases.
pub(crate) struct Release {
    /// The built-in manifest (its `[split]` rule places the images).
    dataset: &'static str,
    /// Label columns in file order (train spelling); `No finding` is set when no other is.
    labels: &'static [&'static str],
    /// Test-header spellings that differ from train: `(train, test)`.
    test_renames: &'static [(&'static str, &'static str)],
    /// Folder of the label CSVs under the root (`""`: the root).
    csv_dir: &'static str,
    /// Header of the reader column.
    rad_column: &'static str,
    /// The test CSV has the reader column too.
    test_has_reader: bool,
    /// Readers per train image.
    readers: usize,
    /// Patient ages: `min + below(span)` years.
    age: (u32, u64),
    /// Signs behind a label.
    signs: fn(&str) -> &'static [Sign],
}

/// VinDr-CXR 1.0.0 (PhysioNet), plus the Kaggle layout.
pub(crate) const CXR: Release = Release {
    dataset: "vindr",
    labels: &LABELS,
    test_renames: &[("Other diseases", "Other disease")],
    csv_dir: "annotations",
    rad_column: "rad_id",
    test_has_reader: false,
    readers: 3,
    age: (20, 70),
    signs: signs_of,
};

/// VinDr-PCXR 1.0.0 (PhysioNet), pediatric.
pub(crate) const PCXR: Release = Release {
    dataset: "vindr-pcxr",
    labels: &PCXR_LABELS,
    test_renames: &[],
    csv_dir: "",
    rad_column: "rad_ID",
    test_has_reader: true,
    readers: 1,
    age: (0, 11),
    signs: pcxr_signs_of,
};

/// Signs behind a VinDr-PCXR disease (empty: never drawn, always 0 in the truth). Phantom
/// stand-ins: bronchitis as perihilar streaks (the edema sign), bronchiolitis as hyperinflation
/// (the emphysema sign), bronchopneumonia as patchy blobs, lobar pneumonia as consolidation.
fn pcxr_signs_of(label: &str) -> &'static [Sign] {
    match label {
        "Bronchitis" => &[Sign::Edema],
        "Brocho-pneumonia" => &[Sign::Pneumonia],
        "Bronchiolitis" => &[Sign::Emphysema],
        "Pneumonia" => &[Sign::Consolidation],
        "Pleuro-pneumonia" => &[Sign::Effusion],
        "Lung tumor" => &[Sign::Mass],
        "Other disease" => &[Sign::Hernia, Sign::Scoliosis],
        _ => &[],
    }
}

/// Signs behind a VinDr-CXR label (empty: never drawn, always 0 in the truth).
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

fn truth_label(r: &Release, t: &Truth, label: &str) -> bool {
    (r.signs)(label).iter().any(|s| t.has(*s))
}

/// One reader's marks, aligned with `r.labels` (`No finding` set after the others).
fn read(r: &Release, t: &Truth, rng: &mut Rng) -> Vec<bool> {
    let mut finds: Vec<bool> = r
        .labels
        .iter()
        .map(|l| {
            if *l == "No finding" {
                return false;
            }
            let x = rng.f32();
            if truth_label(r, t, l) {
                x < 0.85
            } else {
                !(r.signs)(l).is_empty() && x < 0.01
            }
        })
        .collect();
    set_no_finding(r, &mut finds);
    finds
}

/// The truth's labels, aligned with `r.labels`.
fn consensus(r: &Release, t: &Truth) -> Vec<bool> {
    let mut finds: Vec<bool> = r.labels.iter().map(|l| *l != "No finding" && truth_label(r, t, l)).collect();
    set_no_finding(r, &mut finds);
    finds
}

fn set_no_finding(r: &Release, finds: &mut [bool]) {
    if let Some(k) = r.labels.iter().position(|l| *l == "No finding") {
        finds[k] = !finds.iter().enumerate().any(|(i, b)| i != k && *b);
    }
}

fn row01(id: &str, rad: Option<&str>, finds: &[bool]) -> Vec<String> {
    let mut row = vec![id.to_string()];
    row.extend(rad.map(str::to_string));
    row.extend(finds.iter().map(|b| if *b { "1" } else { "0" }.to_string()));
    row
}

/// Writes the release's layout under `root` and, with `kaggle`, the Kaggle layout of the same
/// train images; returns the image jobs and the Kaggle image count (0 without `kaggle`).
pub(crate) fn build(
    release: &Release,
    root: &Path,
    kaggle: Option<&Path>,
    n: usize,
    size: u32,
    mut rng: Rng,
) -> Result<(Vec<ImageJob>, usize), SynthError> {
    let r = release;
    let n_test = (n / 6).max(2);
    let header_train = format!("image_id,{},{}", r.rad_column, r.labels.join(","));
    let test_labels: Vec<&str> = r
        .labels
        .iter()
        .map(|l| r.test_renames.iter().find(|(a, _)| a == l).map_or(*l, |(_, b)| *b))
        .collect();
    let test_rad = if r.test_has_reader { format!("{},", r.rad_column) } else { String::new() };
    let header_test = format!("image_id,{test_rad}{}", test_labels.join(","));
    let csv_dir = root.join(r.csv_dir);
    let mut train = Table::new(csv_dir.join("image_labels_train.csv"), &header_train);
    let mut test = Table::new(csv_dir.join("image_labels_test.csv"), &header_test);
    let mut kag = kaggle.map(|k| {
        Table::new(k.join("train.csv"), "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max")
    });
    let mut jobs = Vec::with_capacity(n + n - n_test);
    let s = size as f32;
    // VinDr has no patient id: the ingest carves val (PhysioNet) or val and test (Kaggle) by a
    // hash of the image id. A train image's id is therefore redrawn until the hash agrees with
    // the split planned for it ([`Split::of_patient`] of its index among the train images, so
    // any n with three train images has all three splits). The first candidate is the main
    // stream's draw and redraws come from a fork, so the rest of the stream is unchanged.
    let rule = SplitRule::builtin(r.dataset)?;
    let mut redraw = rng.fork(0x1D5);
    for i in 0..n {
        let is_test = i >= n - n_test;
        let mut first = Some(rng.hex(32));
        let mut candidate = || first.take().unwrap_or_else(|| redraw.hex(32));
        let id = if is_test {
            candidate()
        } else {
            let plan = Split::of_patient(i);
            let physionet = if plan == Split::Val { Split::Val } else { Split::Train };
            let wants = [(Some("train"), physionet), (None, plan)];
            rule.id_for_all(&wants[..if kaggle.is_some() { 2 } else { 1 }], candidate)?
        };
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
            age: r.age.0 + rng.below(r.age.1) as u32,
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
            let rad = r.test_has_reader.then(|| format!("R{}", 1 + i % 3));
            test.row(row01(&id, rad.as_deref(), &consensus(r, &truth)))?;
            continue;
        }
        if let Some(k) = kaggle {
            jobs.push(job(k.join("train").join(&file)));
        }
        let layout = Layout::new(&truth, View::Frontal, seed);
        let mut rads: Vec<u64> = Vec::new();
        while rads.len() < r.readers {
            let x = 1 + rng.below(17);
            if !rads.contains(&x) {
                rads.push(x);
            }
        }
        for x in rads {
            let rad = format!("R{x}");
            let finds = read(r, &truth, &mut rng);
            train.row(row01(&id, Some(&rad), &finds))?;
            let Some(kag) = kag.as_mut() else { continue };
            let mut any = false;
            for (cid, cname) in KAGGLE_CLASSES.iter().enumerate() {
                let k = r.labels.iter().position(|l| l == cname).unwrap_or(0);
                if !finds[k] {
                    continue;
                }
                any = true;
                let mut boxes: Vec<[f32; 4]> = (r.signs)(cname)
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
    let n_kaggle = match kag {
        Some(kag) => {
            kag.finish(false)?;
            n - n_test
        }
        None => 0,
    };
    Ok((jobs, n_kaggle))
}
