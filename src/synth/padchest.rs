//! PadChest layout:
//!
//! ```text
//! padchest/PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz   36 columns, first header empty
//! padchest/0/<ImageID>.png, padchest/1/<ImageID>.png                 16-bit PNG, 12-bit values
//! ```
//!
//! Rows look as pandas wrote them: a leading integer index, `None`/`nan`
//! strings in DICOM columns, `Labels` as Python-list strings with stray
//! leading spaces and mixed case, and `labelCUIS` / `LocalizationsCUIS` as
//! numpy array reprs that wrap onto a second line (an embedded newline inside
//! a quoted field) once they hold more than six CUIs.

use std::path::Path;

use super::SynthError;
use super::draw::View;
use super::truth::{Rng, Side, Sign, SplitRule, Truth, patients};
use super::write::{Encoding, ImageJob, Table};

/// The exact 36-column header (first column name empty).
pub(crate) const HEADER: &str = ",ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,ViewPosition_DICOM,Projection,MethodProjection,Pediatric,Modality_DICOM,Manufacturer_DICOM,PhotometricInterpretation_DICOM,PixelRepresentation_DICOM,PixelAspectRatio_DICOM,SpatialResolution_DICOM,BitsStored_DICOM,WindowCenter_DICOM,WindowWidth_DICOM,Rows_DICOM,Columns_DICOM,XRayTubeCurrent_DICOM,Exposure_DICOM,ExposureInuAs_DICOM,ExposureTime,RelativeXRayExposure_DICOM,ReportID,Report,MethodLabel,Labels,Localizations,LabelsLocalizationsBySentence,labelCUIS,LocalizationsCUIS";

/// File name of the label table.
pub(crate) const CSV_NAME: &str = "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz";

/// (PadChest term, sign, stemmed Spanish report phrase, location terms).
const TERMS: [(&str, Sign, &str, &[&str]); 13] = [
    (
        "pleural effusion",
        Sign::Effusion,
        "derram pleural",
        &["loc pleural", "loc costophrenic angle"],
    ),
    (
        "cardiomegaly",
        Sign::Cardiomegaly,
        "cardiomegali",
        &["loc cardiac"],
    ),
    (
        "pneumonia",
        Sign::Pneumonia,
        "neumoni",
        &["loc lobar", "loc middle lobe"],
    ),
    (
        "atelectasis",
        Sign::Atelectasis,
        "atelectasi laminar",
        &["loc basal", "loc lower lobe"],
    ),
    (
        "consolidation",
        Sign::Consolidation,
        "consolidacion",
        &["loc basal", "loc lobar"],
    ),
    (
        "pneumothorax",
        Sign::Pneumothorax,
        "neumotorax",
        &["loc apical", "loc pleural"],
    ),
    ("emphysema", Sign::Emphysema, "enfisem", &["loc upper lobe"]),
    (
        "hiatal hernia",
        Sign::Hernia,
        "herni hiat",
        &["loc retrocardiac"],
    ),
    (
        "scoliosis",
        Sign::Scoliosis,
        "escoliosis",
        &["loc dorsal vertebrae"],
    ),
    (
        "aortic elongation",
        Sign::AorticEnlargement,
        "elongacion aortic",
        &["loc aortic"],
    ),
    (
        "pleural thickening",
        Sign::PleuralThickening,
        "engros pleural",
        &["loc pleural", "loc apical"],
    ),
    (
        "nodule",
        Sign::Nodule,
        "nodul pulmonar",
        &["loc lung field"],
    ),
    (
        "infiltrates",
        Sign::Infiltration,
        "infiltr",
        &["loc hemithorax"],
    ),
];

/// Terms with no sign, added at random: (term, report phrase, probability).
const EXTRAS: [(&str, &str, f32); 3] = [
    ("chronic changes", "cambi pulmonar cronic", 0.15),
    ("kyphosis", "cifosis", 0.08),
    ("unchanged", "sin cambi", 0.08),
];

fn py_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}

/// numpy `str(array)` of CUIs: space-separated, wrapped after six items.
fn np_list(items: &[String]) -> String {
    let mut s = String::from("[");
    for (i, c) in items.iter().enumerate() {
        if i > 0 {
            s.push_str(if i % 6 == 0 { "\n " } else { " " });
        }
        s.push_str(&format!("'{c}'"));
    }
    s.push(']');
    s
}

/// A stable fake UMLS CUI (`C` + 7 digits) for a term (FNV-1a hash).
fn cui(term: &str) -> String {
    let h = term.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("C{:07}", h % 10_000_000)
}

fn side_loc(s: Side) -> &'static str {
    match s {
        Side::Right => "loc right",
        Side::Left => "loc left",
        Side::Both => "loc bilateral",
    }
}

/// The label-derived text cells of one row, in CSV order:
/// Report, Labels, Localizations, LabelsLocalizationsBySentence, labelCUIS, LocalizationsCUIS.
fn label_cells(t: &Truth, rng: &mut Rng) -> [String; 6] {
    let mut terms: Vec<(String, String, Vec<String>)> = Vec::new();
    for (term, sign, phrase, locs) in TERMS {
        if t.has(sign) {
            let mut l: Vec<String> = locs.iter().map(|s| s.to_string()).collect();
            l.push(side_loc(t.side(sign)).to_string());
            terms.push((term.to_string(), phrase.to_string(), l));
            if sign == Sign::Emphysema && rng.chance(0.5) {
                terms.push(("COPD signs".into(), "sign epoc".into(), vec![]));
            }
        }
    }
    for (term, phrase, p) in EXTRAS {
        if rng.chance(p) {
            terms.push((term.into(), phrase.into(), vec![]));
        }
    }
    if !t.any() && rng.chance(0.05) {
        return [
            " .".into(),
            "['']".into(),
            "[]".into(),
            "[['']]".into(),
            "['']".into(),
            "[]".into(),
        ];
    }
    // No PadChest term applies (healthy, or only signs PadChest does not name here).
    if terms.iter().all(|x| EXTRAS.iter().any(|e| e.0 == x.0)) {
        terms.insert(0, ("normal".into(), "sin hallazg patolog".into(), vec![]));
    }
    // Shuffle (Fisher–Yates) so the order varies like the real lists.
    for i in (1..terms.len()).rev() {
        terms.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let report = format!(
        " {} .",
        terms
            .iter()
            .map(|x| x.1.as_str())
            .collect::<Vec<_>>()
            .join(" . ")
    );
    let labels: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, x)| {
            if i > 0 && rng.chance(0.4) {
                format!(" {}", x.0)
            } else {
                x.0.clone()
            }
        })
        .collect();
    let mut locs: Vec<String> = Vec::new();
    for l in terms.iter().flat_map(|x| x.2.iter()) {
        if !locs.contains(l) {
            locs.push(l.clone());
        }
    }
    let sentences: Vec<String> = terms
        .iter()
        .map(|x| {
            py_list(
                &std::iter::once(x.0.clone())
                    .chain(x.2.iter().cloned())
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let label_cuis: Vec<String> = terms
        .iter()
        .filter(|x| x.0 != "normal")
        .map(|x| cui(&x.0))
        .collect();
    let loc_cuis: Vec<String> = locs.iter().map(|l| cui(l)).collect();
    [
        report,
        py_list(&labels),
        py_list(&locs),
        format!("[{}]", sentences.join(", ")),
        np_list(&label_cuis),
        np_list(&loc_cuis),
    ]
}

fn base36(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    (0..n).map(|_| A[rng.below(36) as usize] as char).collect()
}

/// Writes the gzipped label table under `root`; returns the image jobs.
pub(crate) fn build(
    root: &Path,
    n: usize,
    size: u32,
    mut rng: Rng,
) -> Result<Vec<ImageJob>, SynthError> {
    let mut table = Table::new(root.join(CSV_NAME), HEADER);
    let mut jobs = Vec::with_capacity(n);
    let mut row_idx = 0usize;
    let rule = SplitRule::builtin("padchest")?;
    for p in patients(&mut rng, n, 4) {
        // PadChest has no official split: the ingest hashes the patient id, so ids are drawn
        // until the hash agrees with the split the patient is meant for.
        let patient_id = rule.id_for(p.split, None, || {
            let len = 36 + rng.below(4) as usize;
            rng.digits(len)
        })?;
        let mut truth = Truth::draw(&mut rng);
        let (mut study, mut study_year, mut report_id, mut lateral_ok) =
            (String::new(), 0, 0, false);
        let mut date = String::new();
        let mut cells = label_cells(&truth, &mut rng);
        for k in 0..p.count {
            let lateral = lateral_ok && rng.chance(0.6);
            if !lateral {
                if k > 0 {
                    truth = truth.evolve(&mut rng);
                }
                study = rng.digits(38);
                study_year = 2014 + rng.below(4) as u32;
                date = format!(
                    "{study_year}{:02}{:02}",
                    1 + rng.below(12),
                    1 + rng.below(28)
                );
                report_id = 4_000_000 + rng.below(2_000_000);
                cells = label_cells(&truth, &mut rng);
            }
            let (projection, vp_dicom, view) = if lateral {
                (
                    "L",
                    if rng.chance(0.5) { "LATERAL" } else { "LL" },
                    View::Lateral,
                )
            } else {
                match rng.below(20) {
                    0..=10 => (
                        "PA",
                        if rng.chance(0.5) {
                            "POSTEROANTERIOR"
                        } else {
                            "PA"
                        },
                        View::Frontal,
                    ),
                    11..=13 => ("AP", "AP", View::Frontal),
                    _ => ("AP_horizontal", "nan", View::Frontal),
                }
            };
            lateral_ok = projection == "PA" && !lateral;
            let image_id = format!("{study}_{}.png", base36(&mut rng, 6));
            let dir = if row_idx < n.div_ceil(2) { "0" } else { "1" };
            let philips = rng.chance(0.5);
            let mut row = vec![
                row_idx.to_string(),
                image_id.clone(),
                dir.to_string(),
                date.clone(),
                study.clone(),
                patient_id.clone(),
                format!("{}.0", study_year - p.age),
                if p.male { "M" } else { "F" }.to_string(),
                vp_dicom.to_string(),
                projection.to_string(),
                "Manual review of DICOM fields".to_string(),
                "No".to_string(),
                if philips { "DX" } else { "CR" }.to_string(),
                if philips {
                    "PhilipsMedicalSystems"
                } else {
                    "ImagingDynamicsCompanyLtd"
                }
                .to_string(),
                "MONOCHROME2".to_string(),
                "0".to_string(),
                "None".to_string(),
                if philips { "0.148" } else { "None" }.to_string(),
                "12".to_string(),
                "2047.5".to_string(),
                "4095".to_string(),
                size.to_string(),
                size.to_string(),
                if philips {
                    "None".to_string()
                } else {
                    (200 + 50 * rng.below(5)).to_string()
                },
                (1 + rng.below(10)).to_string(),
                (1000 * (1 + rng.below(10))).to_string(),
                (5 + rng.below(20)).to_string(),
                if philips {
                    (250 + rng.below(200)).to_string()
                } else {
                    "None".to_string()
                },
                report_id.to_string(),
            ];
            row.push(cells[0].clone());
            row.push(
                if rng.chance(0.27) {
                    "Physician"
                } else {
                    "RNN_model"
                }
                .to_string(),
            );
            row.extend(cells[1..].iter().cloned());
            table.row(&row)?;
            jobs.push(ImageJob {
                path: root.join(dir).join(&image_id),
                truth: truth.clone(),
                view,
                seed: rng.next_u64(),
                encoding: Encoding::Png16 { max: 4095 },
            });
            row_idx += 1;
        }
    }
    table.finish(true)?;
    Ok(jobs)
}
