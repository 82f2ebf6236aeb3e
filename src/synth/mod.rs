//! Synthetic corpus generator: a small set of chest-X-ray phantoms written in
//! each built-in dataset's NATIVE layout (file names, CSV headers, encodings), so the
//! ingest code and the end-to-end demo run anywhere without the real data.
//!
//! One internal `Truth` (`truth.rs`) per image (per study for CheXpert/MIMIC)
//! drives both the pixels (`draw.rs`) and every dataset's labels, so labels
//! are learnable from pixels. Everything is deterministic from
//! [`SynthConfig::seed`] (`crate::rng`'s keyed Xoshiro256++; images are rendered in parallel but each
//! from its own seed, so the output is byte-identical run to run).
//!
//! | sign (truth)         | drawn as                                      | NIH                | CheXpert / MIMIC                 | PadChest             | VinDr                               | UKA                       |
//! |----------------------|-----------------------------------------------|--------------------|----------------------------------|----------------------|-------------------------------------|---------------------------|
//! | cardiomegaly         | wide heart blob                               | Cardiomegaly       | Cardiomegaly                     | cardiomegaly         | Cardiomegaly                        | cardiomegaly              |
//! | effusion (R/L/both)  | bright band with meniscus at a lung base      | Effusion           | Pleural Effusion                 | pleural effusion     | Pleural effusion                    | pleural_effusion_right/left |
//! | pneumothorax (R/L)   | very dark, textureless lateral apex           | Pneumothorax       | Pneumothorax                     | pneumothorax         | Pneumothorax                        | pneumothorax_right/left   |
//! | consolidation (R/L/b)| broad soft lobar patch across a lower lung    | Consolidation      | Consolidation, Lung Opacity      | consolidation        | Consolidation, Lung Opacity         | pneumonic_infiltrates_*   |
//! | pneumonia (R/L/b)    | three soft bright blobs, mid zone             | Pneumonia          | Pneumonia, Lung Opacity          | pneumonia            | Pneumonia, Lung Opacity             | pneumonic_infiltrates_*   |
//! | infiltration (R/L/b) | ten small bright spots scattered in a lung    | Infiltration       | –                                | infiltrates          | Infiltration                        | pneumonic_infiltrates_*   |
//! | nodule               | small bright disc (r ≈ 3.5 % of width)        | Nodule             | Lung Lesion                      | nodule               | Nodule/Mass                         | –                         |
//! | mass                 | large bright disc (r ≈ 8.5 %)                 | Mass               | Lung Lesion                      | –                    | Nodule/Mass, Lung tumor             | –                         |
//! | atelectasis (R/L/b)  | bright wedge from hilum to lateral base       | Atelectasis        | Atelectasis                      | atelectasis          | Atelectasis                         | atelectasis_right/left    |
//! | edema                | bright streaks radiating from both hila       | Edema              | Edema                            | –                    | Edema                               | congestion                |
//! | emphysema            | larger, darker lungs                          | Emphysema          | –                                | emphysema, COPD signs| Emphysema, COPD                     | –                         |
//! | fibrosis (R/L/both)  | reticular grid over the lower lung            | Fibrosis           | –                                | –                    | ILD, Pulmonary fibrosis             | –                         |
//! | pleural thickening   | bright rim along the lateral upper lung wall  | Pleural_Thickening | Pleural Other                    | pleural thickening   | Pleural thickening                  | –                         |
//! | hernia               | retrocardiac blob with a dark gas bubble      | Hernia             | –                                | hiatal hernia        | Other lesion, Other disease(s)      | –                         |
//! | fracture (R/L)       | broken, stepped clavicle                      | –                  | Fracture                         | –                    | Clavicle fracture                   | –                         |
//! | support devices      | midline tube + pacemaker box and lead         | –                  | Support Devices                  | –                    | –                                   | –                         |
//! | enlarged mediastinum | wide upper mediastinum                        | –                  | Enlarged Cardiomediastinum       | –                    | –                                   | –                         |
//! | aortic enlargement   | large bright aortic knob                      | –                  | –                                | aortic elongation    | Aortic enlargement                  | –                         |
//! | calcification        | five tiny very bright dots                    | –                  | –                                | –                    | Calcification                       | –                         |
//! | scoliosis            | S-curved spine                                | –                  | –                                | scoliosis            | Other disease(s)                    | –                         |
//!
//! VinDr-PCXR draws from the same signs (see `vindr::PCXR`): Bronchitis = edema streaks,
//! Brocho-pneumonia = pneumonia blobs, Bronchiolitis = emphysema, Pneumonia = consolidation,
//! Pleuro-pneumonia = effusion, Lung tumor = mass, Other disease = hernia or scoliosis.
//!
//! Each image is healthy with probability 0.35; otherwise each sign is present
//! with probability 0.30, so every sign has a prevalence of about 20 %
//! (unions such as Lung Opacity about 33 %). Noise in the labels mimics each
//! source: CheXpert/MIMIC positives are sometimes `-1.0` (uncertain) and
//! negatives mostly blank; VinDr's three readers each miss a finding with
//! probability 0.15; UKA grades 3–4 are positive, 0–2 negative.

mod chexpert;
pub mod dicom;
mod draw;
mod mimic;
mod nih;
mod padchest;
mod truth;
mod uka;
mod vindr;
mod write;

use std::path::PathBuf;

use truth::Rng;

/// What to generate and where.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    /// Output folder; each dataset gets `<out>/<name>/`.
    pub out: PathBuf,
    /// Images per dataset (default 120; at least 12).
    pub images_per_dataset: usize,
    /// Side of every (square) image in pixels (default 256; at least 32).
    pub image_size: u32,
    /// PRNG seed; the same seed gives byte-identical output.
    pub seed: u64,
}

impl SynthConfig {
    /// Defaults (120 images of 256 px per dataset, seed 0) writing into `out`.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        SynthConfig {
            out: out.into(),
            images_per_dataset: 120,
            image_size: 256,
            seed: 0,
        }
    }
}

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct SynthReport {
    /// `(dataset, root to pass as --root, images)` for every built-in dataset, in manifest
    /// order: nih, chexpert, mimic, padchest, vindr (PhysioNet layout), uka, vindr-pcxr.
    pub datasets: Vec<(String, PathBuf, usize)>,
    /// Alternative layouts of the same data: `("vindr", <out>/vindr-kaggle, images)`
    /// for the Kaggle VinBigData `train.csv` layout.
    pub alternates: Vec<(String, PathBuf, usize)>,
}

/// Errors while writing the corpus.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("invalid synth config: {reason}")]
    Config { reason: String },
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CSV error writing {path}")]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    #[error("image encoding error for {path}")]
    Image {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("DICOM error writing {path}")]
    Dicom {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Writes every built-in dataset (plus the VinDr Kaggle layout) under `cfg.out`, in manifest
/// order (`manifest::MANIFESTS`); a dataset without a generator here is a `Config` error.
///
/// Existing files with the same names are overwritten; nothing else is removed.
pub fn synthesize(cfg: &SynthConfig) -> Result<SynthReport, SynthError> {
    if cfg.images_per_dataset < 12 {
        return Err(SynthError::Config {
            reason: format!("images_per_dataset {} < 12", cfg.images_per_dataset),
        });
    }
    if !(32..=4096).contains(&cfg.image_size) {
        return Err(SynthError::Config {
            reason: format!("image_size {} not in 32..=4096", cfg.image_size),
        });
    }
    let base = Rng::new(cfg.seed);
    let n = cfg.images_per_dataset;
    let mut report = SynthReport::default();
    let mut jobs = Vec::new();
    // Every built-in dataset, in manifest order; dataset i draws from fork i + 1.
    for (i, name) in crate::manifest::dataset_names().into_iter().enumerate() {
        let rng = base.fork(i as u64 + 1);
        let root = cfg.out.join(name);
        let js = match name {
            "nih" => nih::build(&root, n, rng)?,
            "chexpert" => chexpert::build(&root, n, rng)?,
            "mimic" => mimic::build(&root, n, cfg.image_size, rng)?,
            "padchest" => padchest::build(&root, n, cfg.image_size, rng)?,
            "vindr" => {
                let kaggle = cfg.out.join("vindr-kaggle");
                let (js, n_kaggle) = vindr::build(&vindr::CXR, &root, Some(&kaggle), n, cfg.image_size, rng)?;
                report.alternates.push((name.to_string(), kaggle, n_kaggle));
                js
            }
            "vindr-pcxr" => vindr::build(&vindr::PCXR, &root, None, n, cfg.image_size, rng)?.0,
            "uka" => uka::build(&root, n, rng)?,
            other => {
                return Err(SynthError::Config { reason: format!("no synthetic generator for dataset `{other}`") })
            }
        };
        jobs.extend(js);
        report.datasets.push((name.to_string(), root, n));
    }
    write::run_jobs(&jobs, cfg.image_size)?;
    Ok(report)
}
