//! `cxr::synth`: every dataset is written in its publisher's native layout
//! (exact file names, headers, encodings), labels track pixels, and the
//! output is byte-identical for the same seed.
//!
//! One shared corpus (48 images of 64 px per dataset) is generated once per
//! test process under `CARGO_TARGET_TMPDIR` (a folder per process); the determinism test makes two
//! small private ones in temp dirs.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cxr::synth::dicom::{FAKE_BIRTH_DATE, FAKE_PATIENT_NAME};
use cxr::synth::{SynthConfig, SynthReport, synthesize};
use dicom_dictionary_std::tags;

mod pixels;

const N: usize = 48;
const SIZE: u32 = 64;

fn corpus() -> &'static (PathBuf, SynthReport) {
    static C: OnceLock<(PathBuf, SynthReport)> = OnceLock::new();
    C.get_or_init(|| {
        // One folder per test process: CARGO_TARGET_TMPDIR lies in the build directory, which
        // concurrent checkouts may share (CARGO_BUILD_BUILD_DIR).
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("synth-shared-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let cfg = SynthConfig {
            out: out.clone(),
            images_per_dataset: N,
            image_size: SIZE,
            seed: 7,
        };
        let report = synthesize(&cfg).expect("synthesize");
        (out, report)
    })
}

fn root(name: &str) -> PathBuf {
    corpus().0.join(name)
}

fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .expect("gunzip");
        s
    } else {
        String::from_utf8(bytes).expect("utf8")
    }
}

/// Header line and data records (parsed with the `csv` crate, header skipped).
fn table(path: &Path) -> (String, Vec<csv::StringRecord>) {
    let text = read_text(path);
    let header = text.lines().next().unwrap_or("").to_string();
    let rows = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("csv record"))
        .collect();
    (header, rows)
}

#[test]
fn report_lists_every_builtin_dataset_in_manifest_order() {
    let (out, rep) = corpus();
    let names: Vec<&str> = rep.datasets.iter().map(|d| d.0.as_str()).collect();
    assert_eq!(
        names,
        ["nih", "chexpert", "mimic", "padchest", "vindr", "uka", "vindr-pcxr"]
    );
    assert_eq!(names, cxr::manifest::dataset_names());
    for (name, r, n) in &rep.datasets {
        assert_eq!(r, &out.join(name));
        assert_eq!(*n, N);
    }
    assert_eq!(rep.alternates[0].1, out.join("vindr-kaggle"));
}

#[test]
fn nih_layout_header_rows_images_and_patient_split() {
    let r = root("nih");
    let (header, rows) = table(&r.join("Data_Entry_2017_v2020.csv"));
    assert_eq!(
        header,
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]"
    );
    assert_eq!(rows.len(), N);
    let known = [
        "Atelectasis",
        "Cardiomegaly",
        "Consolidation",
        "Edema",
        "Effusion",
        "Emphysema",
        "Fibrosis",
        "Hernia",
        "Infiltration",
        "Mass",
        "Nodule",
        "Pleural_Thickening",
        "Pneumonia",
        "Pneumothorax",
    ];
    for row in &rows {
        assert_eq!(row.len(), 11, "{row:?}");
        let name = &row[0];
        let expect = format!(
            "{:08}_{:03}.png",
            row[3].parse::<u32>().unwrap(),
            row[2].parse::<u32>().unwrap()
        );
        assert_eq!(name, expect);
        assert!(
            row[1] == *"No Finding" || row[1].split('|').all(|f| known.contains(&f)),
            "{}",
            &row[1]
        );
        assert!(["PA", "AP"].contains(&&row[6]));
        let p1 = r.join("images_001/images").join(name);
        let p2 = r.join("images_002/images").join(name);
        assert!(p1.exists() ^ p2.exists(), "{name}");
    }
    let img = image::open(r.join("images_001/images/00000001_000.png")).expect("png");
    assert_eq!(img.color(), image::ColorType::L8);
    assert_eq!((img.width(), img.height()), (SIZE, SIZE));
    assert!(
        std::fs::read_dir(r.join("images_002/images"))
            .unwrap()
            .count()
            > 0
    );
    // Patient-wise split covering every image exactly once.
    let pid = |n: &str| n[..8].to_string();
    let tv = read_text(&r.join("train_val_list.txt"));
    let te = read_text(&r.join("test_list.txt"));
    let a: HashSet<String> = tv.lines().map(pid).collect();
    let b: HashSet<String> = te.lines().map(pid).collect();
    assert!(a.is_disjoint(&b) && !b.is_empty());
    assert_eq!(tv.lines().count() + te.lines().count(), N);
}

#[test]
fn chexpert_layout_header_values_and_laterals() {
    let r = root("chexpert");
    let header = "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Enlarged Cardiomediastinum,Cardiomegaly,Lung Opacity,Lung Lesion,Edema,Consolidation,Pneumonia,Atelectasis,Pneumothorax,Pleural Effusion,Pleural Other,Fracture,Support Devices";
    let mut total = 0;
    let mut seen: HashSet<String> = HashSet::new();
    for split in ["train", "valid"] {
        let (h, rows) = table(&r.join(format!("CheXpert-v1.0-small/{split}.csv")));
        assert_eq!(h, header);
        total += rows.len();
        for row in &rows {
            assert_eq!(row.len(), 19);
            assert!(
                row[0].starts_with(&format!("CheXpert-v1.0-small/{split}/patient")),
                "{}",
                &row[0]
            );
            assert!(r.join(&row[0]).exists(), "{}", &row[0]);
            let lateral = &row[3] == "Lateral";
            assert_eq!(lateral, row[0].ends_with("_lateral.jpg"));
            assert_eq!(lateral, row[4].is_empty());
            for v in row.iter().skip(5) {
                assert!(["1.0", "0.0", "-1.0", ""].contains(&v), "{v}");
                seen.insert(v.to_string());
            }
        }
    }
    assert_eq!(total, N);
    assert_eq!(seen.len(), 4, "all four CheXpert value kinds appear");
    let img =
        image::open(r.join("CheXpert-v1.0-small/train/patient00001/study1/view1_frontal.jpg"))
            .expect("jpeg");
    assert_eq!(img.color(), image::ColorType::L8);
}

#[test]
fn mimic_gz_tables_ids_and_study_level_labels() {
    let r = root("mimic");
    let (h, meta) = table(&r.join("mimic-cxr-2.0.0-metadata.csv.gz"));
    assert_eq!(
        h,
        "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns,StudyDate,StudyTime,ProcedureCodeSequence_CodeMeaning,ViewCodeSequence_CodeMeaning,PatientOrientationCodeSequence_CodeMeaning"
    );
    assert_eq!(meta.len(), N);
    let mut per_study: HashMap<String, usize> = HashMap::new();
    for m in &meta {
        let (did, subj, study) = (&m[0], &m[1], &m[2]);
        assert_eq!(did.len(), 44);
        assert!(
            did.split('-')
                .all(|g| g.len() == 8 && g.chars().all(|c| c.is_ascii_hexdigit()))
        );
        assert!(subj.len() == 8 && subj.starts_with('1'));
        assert!(study.len() == 8 && study.starts_with('5'));
        let p = r.join(format!("files/p{}/p{subj}/s{study}/{did}.jpg", &subj[..2]));
        assert!(p.exists(), "{}", p.display());
        *per_study.entry(study.to_string()).or_default() += 1;
    }
    assert!(per_study.values().all(|c| (1..=3).contains(c)));
    assert!(meta.iter().any(|m| &m[4] == "LATERAL" || &m[4] == "LL"));
    assert!(meta.iter().any(|m| m[4].is_empty()));
    let (h, labels) = table(&r.join("mimic-cxr-2.0.0-chexpert.csv.gz"));
    assert_eq!(
        h,
        "subject_id,study_id,Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices"
    );
    let studies: HashSet<&str> = labels.iter().map(|l| l.get(1).unwrap()).collect();
    assert_eq!(studies.len(), labels.len(), "one row per study");
    assert!(labels.len() <= per_study.len() && labels.len() > per_study.len() / 2);
    let (h, split) = table(&r.join("mimic-cxr-2.0.0-split.csv.gz"));
    assert_eq!(h, "dicom_id,study_id,subject_id,split");
    assert_eq!(split.len(), N);
    let kinds: HashSet<&str> = split.iter().map(|s| s.get(3).unwrap()).collect();
    assert_eq!(kinds, HashSet::from(["train", "validate", "test"]));
}

#[test]
fn padchest_header_multiline_cells_ids_and_16bit_pngs() {
    let r = root("padchest");
    let (h, rows) = table(&r.join("PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv.gz"));
    assert_eq!(
        h,
        ",ImageID,ImageDir,StudyDate_DICOM,StudyID,PatientID,PatientBirth,PatientSex_DICOM,ViewPosition_DICOM,Projection,MethodProjection,Pediatric,Modality_DICOM,Manufacturer_DICOM,PhotometricInterpretation_DICOM,PixelRepresentation_DICOM,PixelAspectRatio_DICOM,SpatialResolution_DICOM,BitsStored_DICOM,WindowCenter_DICOM,WindowWidth_DICOM,Rows_DICOM,Columns_DICOM,XRayTubeCurrent_DICOM,Exposure_DICOM,ExposureInuAs_DICOM,ExposureTime,RelativeXRayExposure_DICOM,ReportID,Report,MethodLabel,Labels,Localizations,LabelsLocalizationsBySentence,labelCUIS,LocalizationsCUIS"
    );
    assert_eq!(rows.len(), N);
    let mut multiline = 0;
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 36);
        assert_eq!(&row[0], i.to_string());
        let (img, pid) = (&row[1], &row[5]);
        let (stem, suffix) = img.trim_end_matches(".png").split_once('_').unwrap();
        assert!(stem.len() == 38 && suffix.len() == 6, "{img}");
        assert!((36..=39).contains(&pid.len()) && pid.chars().all(|c| c.is_ascii_digit()));
        assert!(["PA", "AP", "AP_horizontal", "L"].contains(&&row[9]));
        assert!(
            row[31].starts_with('[') && row[31].ends_with(']'),
            "{}",
            &row[31]
        );
        assert!(r.join(&row[2]).join(img).exists());
        if row[34].contains('\n') || row[35].contains('\n') {
            multiline += 1;
        }
    }
    assert!(multiline > 0, "some CUI cells wrap onto a second line");
    assert!(
        rows.iter().any(|r| r[31].contains("', ' ")),
        "a label with a stray leading space"
    );
    assert!(rows.iter().any(|r| &r[31] == "['normal']"));
    let first = rows[0][1].to_string();
    let img = image::open(r.join(&rows[0][2]).join(first))
        .expect("png")
        .into_luma16();
    assert_eq!(img.dimensions(), (SIZE, SIZE));
    let max = img.pixels().map(|p| p.0[0]).max().unwrap();
    assert!(
        max <= 4095 && max > 255,
        "12-bit values in a 16-bit PNG, max {max}"
    );
}

fn dicom_fields(path: &Path) -> (String, String, String, u16, u16) {
    let obj = dicom_object::open_file(path).expect("open dicom");
    let s = |t| {
        obj.element(t)
            .expect("element")
            .to_str()
            .expect("str")
            .trim()
            .to_string()
    };
    let bits: u16 = obj.element(tags::BITS_STORED).unwrap().to_int().unwrap();
    let px = obj.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
    let corner = u16::from_le_bytes([px[0], px[1]]);
    (
        s(tags::PHOTOMETRIC_INTERPRETATION),
        s(tags::PATIENT_NAME),
        s(tags::PATIENT_BIRTH_DATE),
        bits,
        corner,
    )
}

#[test]
fn vindr_physionet_and_kaggle_layouts_and_dicoms() {
    let r = root("vindr");
    let labels = "Aortic enlargement,Atelectasis,Calcification,Cardiomegaly,Clavicle fracture,Consolidation,Edema,Emphysema,Enlarged PA,ILD,Infiltration,Lung Opacity,Lung cavity,Lung cyst,Mediastinal shift,Nodule/Mass,Pleural effusion,Pleural thickening,Pneumothorax,Pulmonary fibrosis,Rib fracture,Other lesion,COPD,Lung tumor,Pneumonia,Tuberculosis,Other diseases,No finding";
    let (h, train) = table(&r.join("annotations/image_labels_train.csv"));
    assert_eq!(h, format!("image_id,rad_id,{labels}"));
    let (h, test) = table(&r.join("annotations/image_labels_test.csv"));
    assert_eq!(
        h,
        format!(
            "image_id,{}",
            labels.replace("Other diseases", "Other disease")
        )
    );
    let mut per_image: BTreeMap<String, Vec<csv::StringRecord>> = BTreeMap::new();
    for row in &train {
        assert_eq!(row.len(), 30);
        assert!(row.iter().skip(2).all(|v| v == "0" || v == "1"));
        per_image
            .entry(row[0].to_string())
            .or_default()
            .push(row.clone());
    }
    assert!(per_image.values().all(|v| v.len() == 3));
    assert_eq!(per_image.len() + test.len(), N);
    assert!(
        per_image
            .values()
            .any(|v| v[0].iter().skip(2).ne(v[1].iter().skip(2))),
        "readers disagree sometimes"
    );
    for id in per_image.keys() {
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(r.join("train").join(format!("{id}.dicom")).exists());
    }
    for row in &test {
        assert_eq!(row.len(), 29);
        assert!(r.join("test").join(format!("{}.dicom", &row[0])).exists());
    }
    let k = root("vindr-kaggle");
    let (h, boxes) = table(&k.join("train.csv"));
    assert_eq!(
        h,
        "image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max"
    );
    for b in &boxes {
        if &b[1] == "No finding" {
            assert_eq!(&b[2], "14");
            assert!(b.iter().skip(4).all(|v| v.is_empty()));
        } else {
            let v: Vec<f32> = b.iter().skip(4).map(|x| x.parse().unwrap()).collect();
            assert!(v[0] <= v[2] && v[1] <= v[3] && v[2] <= SIZE as f32);
        }
        assert!(k.join("train").join(format!("{}.dicom", &b[0])).exists());
    }
    // MONOCHROME1 stores inverted values: the dark air corner is near max.
    let mut kinds = HashSet::new();
    for id in per_image.keys() {
        let (pi, name, birth, bits, corner) =
            dicom_fields(&r.join("train").join(format!("{id}.dicom")));
        assert_eq!(
            (name.as_str(), birth.as_str()),
            (FAKE_PATIENT_NAME, FAKE_BIRTH_DATE)
        );
        assert!(bits == 12 || bits == 14);
        let max = (1u32 << bits) - 1;
        match pi.as_str() {
            "MONOCHROME1" => assert!(u32::from(corner) > max / 2, "{corner}"),
            "MONOCHROME2" => assert!(u32::from(corner) < max / 2, "{corner}"),
            other => panic!("{other}"),
        }
        kinds.insert(pi);
    }
    assert_eq!(kinds.len(), 2);
}

/// VinDr-PCXR: the release-root CSVs with `rad_ID` and the 15 disease columns as published
/// (sic), one reader row per train image, `No finding` exactly when no disease is marked,
/// pediatric ages, no Kaggle layout.
#[test]
fn vindr_pcxr_layout_one_reader_per_image() {
    let r = root("vindr-pcxr");
    let labels = "No finding,Bronchitis,Brocho-pneumonia,Other disease,Bronchiolitis,Situs inversus,Pneumonia,Pleuro-pneumonia,Diagphramatic hernia,Tuberculosis,Congenital emphysema,CPAM,Hyaline membrane disease,Mediastinal tumor,Lung tumor";
    let (h, train) = table(&r.join("image_labels_train.csv"));
    assert_eq!(h, format!("image_id,rad_ID,{labels}"));
    let (h, test) = table(&r.join("image_labels_test.csv"));
    assert_eq!(h, format!("image_id,rad_ID,{labels}"));
    assert!(!r.join("annotations").exists());
    let ids: HashSet<&str> = train.iter().map(|row| &row[0]).collect();
    assert_eq!(ids.len(), train.len(), "one row per train image");
    assert_eq!(train.len() + test.len(), N);
    assert_eq!(test.len(), N / 6);
    for (rows, split) in [(&train, "train"), (&test, "test")] {
        for row in rows.iter() {
            assert_eq!(row.len(), 17);
            let marks: Vec<bool> = row.iter().skip(2).map(|v| v == "1").collect();
            assert!(row.iter().skip(2).all(|v| v == "0" || v == "1"));
            assert_eq!(marks[0], !marks[1..].iter().any(|m| *m), "No finding iff nothing else");
            assert!(r.join(split).join(format!("{}.dicom", &row[0])).exists());
        }
    }
    for d in ["Bronchitis", "Brocho-pneumonia", "Bronchiolitis", "Pneumonia", "Other disease"] {
        let k = 2 + labels.split(',').position(|l| l == d).unwrap();
        assert!(train.iter().any(|row| &row[k] == "1"), "{d} has train positives");
    }
    let dicom = dicom_object::open_file(r.join("train").join(format!("{}.dicom", &train[0][0]))).unwrap();
    let age = dicom.element(tags::PATIENT_AGE).unwrap().to_str().unwrap().to_string();
    let years: u32 = age.trim().trim_end_matches('Y').parse().unwrap();
    assert!(years <= 10, "pediatric age {age}");
    assert_eq!(corpus().1.alternates.len(), 1, "only VinDr-CXR has a Kaggle layout");
}

#[test]
fn uka_template_grades_and_mixed_image_formats() {
    let r = root("uka");
    let (h, rows) = table(&r.join("UKA_CXR_labels.csv"));
    assert_eq!(
        h,
        "image_id,patient_id,split,image_path,view,sex,age,cardiomegaly,congestion,pleural_effusion_right,pleural_effusion_left,pneumonic_infiltrates_right,pneumonic_infiltrates_left,atelectasis_right,atelectasis_left,pneumothorax_right,pneumothorax_left,healthy"
    );
    assert_eq!(rows.len(), N);
    let mut exts = HashSet::new();
    for row in &rows {
        assert!(["train", "val", "test"].contains(&&row[2]));
        assert!(r.join(&row[3]).exists());
        exts.insert(row[3].rsplit('.').next().unwrap().to_string());
        let grades: Vec<Option<u8>> = (7..17).map(|i| row[i].parse().ok()).collect();
        assert!((7..17).all(|i| row[i].is_empty() || row[i].parse::<u8>().is_ok_and(|g| g <= 5)));
        let positive = grades.iter().any(|g| matches!(g, Some(3 | 4)));
        assert!(["0", "1"].contains(&&row[17]));
        if positive {
            assert_eq!(&row[17], "0", "a grade 3/4 finding is never healthy");
        }
    }
    assert_eq!(exts, HashSet::from(["dcm".to_string(), "jpg".to_string()]));
    let dcm = rows.iter().find(|r| r[3].ends_with(".dcm")).unwrap();
    let (_, name, _, bits, _) = dicom_fields(&r.join(&dcm[3]));
    assert_eq!((name.as_str(), bits), (FAKE_PATIENT_NAME, 12));
}
