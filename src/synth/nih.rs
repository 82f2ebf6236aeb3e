//! NIH ChestX-ray14 layout:
//!
//! ```text
//! nih/Data_Entry_2017_v2020.csv        11 data fields (header commas inside [..] unquoted)
//! nih/train_val_list.txt, test_list.txt patient-wise split, one image name per line
//! nih/images_001/images/00000001_000.png 8-bit gray PNG (first half of names)
//! nih/images_002/images/...              (second half)
//! ```

use std::path::Path;

use super::SynthError;
use super::draw::View;
use super::truth::{Rng, Sign, Split, SplitRule, Truth, patients};
use super::write::{Encoding, ImageJob, Table, write_lines};

/// The exact header line of `Data_Entry_2017_v2020.csv`.
pub(crate) const HEADER: &str = "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]";

/// NIH finding names (alphabetical, as they appear pipe-joined) and their sign.
const FINDINGS: [(&str, Sign); 14] = [
    ("Atelectasis", Sign::Atelectasis),
    ("Cardiomegaly", Sign::Cardiomegaly),
    ("Consolidation", Sign::Consolidation),
    ("Edema", Sign::Edema),
    ("Effusion", Sign::Effusion),
    ("Emphysema", Sign::Emphysema),
    ("Fibrosis", Sign::Fibrosis),
    ("Hernia", Sign::Hernia),
    ("Infiltration", Sign::Infiltration),
    ("Mass", Sign::Mass),
    ("Nodule", Sign::Nodule),
    ("Pleural_Thickening", Sign::PleuralThickening),
    ("Pneumonia", Sign::Pneumonia),
    ("Pneumothorax", Sign::Pneumothorax),
];

/// `Finding Labels` value for a truth: pipe-joined names or `No Finding`.
fn finding_labels(t: &Truth) -> String {
    let names: Vec<&str> = FINDINGS
        .iter()
        .filter(|(_, s)| t.has(*s))
        .map(|(n, _)| *n)
        .collect();
    if names.is_empty() {
        "No Finding".to_string()
    } else {
        names.join("|")
    }
}

/// Writes the CSV and split lists under `root`; returns the image jobs.
pub(crate) fn build(root: &Path, n: usize, mut rng: Rng) -> Result<Vec<ImageJob>, SynthError> {
    let pats = patients(&mut rng, n, 4);
    let mut table = Table::new(root.join("Data_Entry_2017_v2020.csv"), HEADER);
    let mut names = Vec::with_capacity(n);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    let mut jobs = Vec::with_capacity(n);
    // Patient ids count up; a train or val patient skips ids until the ingest's val carve (a
    // hash of the id) agrees with the split it is meant for.
    let rule = SplitRule::builtin("nih")?;
    let mut last_id = 0u64;
    for p in &pats {
        let is_test = p.split == Split::Test;
        let official = if is_test { "test" } else { "train" };
        let id = rule.id_for(p.split, Some(official), || {
            last_id += 1;
            last_id.to_string()
        })?;
        let mut truth = Truth::draw(&mut rng);
        for k in 0..p.count {
            if k > 0 {
                truth = truth.evolve(&mut rng);
            }
            let name = format!("{id:0>8}_{k:03}.png");
            let view = if rng.chance(0.6) { "PA" } else { "AP" };
            let (w, h) = (2000 + rng.below(1000), 2000 + rng.below(1000));
            let spacing = ["0.143", "0.168", "0.139"][rng.below(3) as usize];
            table.row([
                name.clone(),
                finding_labels(&truth),
                k.to_string(),
                id.clone(),
                (p.age + k as u32 / 2).to_string(),
                if p.male { "M" } else { "F" }.to_string(),
                view.to_string(),
                w.to_string(),
                h.to_string(),
                spacing.to_string(),
                spacing.to_string(),
            ])?;
            if is_test { &mut test } else { &mut train }.push(name.clone());
            names.push((name, truth.clone(), rng.next_u64()));
        }
    }
    table.finish(false)?;
    write_lines(&root.join("train_val_list.txt"), &train)?;
    write_lines(&root.join("test_list.txt"), &test)?;
    let half = names.len().div_ceil(2);
    for (i, (name, truth, seed)) in names.into_iter().enumerate() {
        let dir = if i < half { "images_001" } else { "images_002" };
        jobs.push(ImageJob {
            path: root.join(dir).join("images").join(name),
            truth,
            view: View::Frontal,
            seed,
            encoding: Encoding::Png8,
        });
    }
    Ok(jobs)
}
