//! The study's label sets and view filters per dataset (paper.md §1.2–1.3), in our vocabulary,
//! and the resolution of `--labels` / `--views` against what the store annotates.
//!
//! Mapping of the study's column names to our vocabulary: NIH `effusion` → `pleural_effusion`,
//! VinDr `Pulmonary fibrosis` → `fibrosis`, VinDr/PadChest `Nodule/Mass` → `nodule_mass`,
//! PadChest `infiltrates` → `infiltration`, `COPD_signs` → `copd_signs`, UKA `healthy` →
//! `no_finding`; the UKA sided labels keep their sided names.
//!
//! MIMIC-CXR: the study trained MIMIC with a *reduced* subset matching each target (because it
//! loaded the pretrained head with `load_state_dict`); here the MIMIC run uses the full 10-label
//! CheXpert set, and a `--init mimic` run gets a new head for the target's own full label set,
//! so MIMIC-init AUROCs average over the same labels as the DINOv2/ImageNet runs.

use super::TrainError;
use crate::run::config::ViewFilter;

/// The study's label set of a dataset (its order = the head's output order), if known.
pub fn study_labels(dataset: &str) -> Option<&'static [&'static str]> {
    Some(match dataset {
        // vit-med HEAD data_provider.py line 72 (11 labels).
        "vindr" => &[
            "cardiomegaly",
            "pleural_effusion",
            "pneumonia",
            "atelectasis",
            "no_finding",
            "consolidation",
            "pneumothorax",
            "pleural_thickening",
            "lung_opacity",
            "fibrosis",
            "nodule_mass",
        ],
        // line 167 (10 labels); MIMIC's full set (line 276) is the same.
        "chexpert" | "mimic" => &[
            "cardiomegaly",
            "pleural_effusion",
            "pneumonia",
            "atelectasis",
            "no_finding",
            "consolidation",
            "pneumothorax",
            "lung_opacity",
            "lung_lesion",
            "fracture",
        ],
        // line 396 (14 labels; Infiltration not used).
        "nih" => &[
            "cardiomegaly",
            "pleural_effusion",
            "pneumonia",
            "atelectasis",
            "no_finding",
            "consolidation",
            "pneumothorax",
            "fibrosis",
            "emphysema",
            "hernia",
            "pleural_thickening",
            "edema",
            "nodule",
            "mass",
        ],
        // line 503 (17 labels).
        "padchest" => &[
            "cardiomegaly",
            "pleural_effusion",
            "pneumonia",
            "atelectasis",
            "no_finding",
            "consolidation",
            "pneumothorax",
            "emphysema",
            "hernia",
            "scoliosis",
            "congestion",
            "aortic_elongation",
            "kyphosis",
            "copd_signs",
            "pleural_thickening",
            "nodule_mass",
            "infiltration",
        ],
        // vit-med@d38490b lines 502–503 (9 labels).
        "uka" => &[
            "cardiomegaly",
            "congestion",
            "pleural_effusion_right",
            "pleural_effusion_left",
            "pneumonic_infiltrates_right",
            "pneumonic_infiltrates_left",
            "atelectasis_right",
            "atelectasis_left",
            "no_finding",
        ],
        _ => return None,
    })
}

/// The study's view filter of a dataset (applied to train and val rows alike).
///
/// CheXpert `view == 'Frontal'` is "not lateral" in our store: frontal rows carry PA/AP/LL and
/// `OTHER` (RL), or no view when AP/PA is empty. MIMIC keeps PA/AP; PadChest PA/AP/AP_SUPINE
/// (`AP_horizontal`); NIH, VinDr and UKA are not filtered.
pub fn study_views(dataset: &str) -> ViewFilter {
    let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    match dataset {
        "chexpert" => ViewFilter::Except(list(&["LATERAL"])),
        "mimic" => ViewFilter::Only(list(&["PA", "AP"])),
        "padchest" => ViewFilter::Only(list(&["PA", "AP", "AP_SUPINE"])),
        _ => ViewFilter::All,
    }
}

/// Parses `--views`: `study` (per dataset), `all`, `not:A,B` or a list `A,B`.
pub fn parse_views(arg: &str, dataset: &str) -> ViewFilter {
    let list = |s: &str| {
        s.split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    };
    match arg {
        "study" => study_views(dataset),
        "all" => ViewFilter::All,
        a => match a.strip_prefix("not:") {
            Some(rest) => ViewFilter::Except(list(rest)),
            None => ViewFilter::Only(list(a)),
        },
    }
}

/// Resolves `--labels` (`study`, `all` or `a,b,…`) for the datasets of a run, given each
/// dataset's annotated findings. Every label must be annotated by at least one dataset, and for
/// a single-dataset run by that dataset.
pub fn resolve_labels(
    arg: &str,
    datasets: &[(String, Vec<String>)],
) -> Result<Vec<String>, TrainError> {
    let mut out: Vec<String> = Vec::new();
    let push = |l: &str, out: &mut Vec<String>| {
        if !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    };
    match arg {
        "study" => {
            for (d, annotated) in datasets {
                let set = study_labels(d)
                    .ok_or_else(|| TrainError::NoStudyLabels { dataset: d.clone() })?;
                for l in set {
                    // A store ingested from a release that lacks one of the study's findings
                    // is an error, not a silently smaller head.
                    if !annotated.iter().any(|a| a == l) {
                        return Err(TrainError::LabelNotAnnotated {
                            label: l.to_string(),
                            datasets: d.clone(),
                        });
                    }
                    push(l, &mut out);
                }
            }
        }
        "all" => {
            for (_, annotated) in datasets {
                for l in annotated {
                    push(l, &mut out);
                }
            }
        }
        list => {
            for l in list.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                if crate::labels::finding_index(l).is_none() {
                    return Err(TrainError::UnknownLabel(l.to_string()));
                }
                if !datasets.iter().any(|(_, a)| a.iter().any(|x| x == l)) {
                    let names: Vec<&str> = datasets.iter().map(|(d, _)| d.as_str()).collect();
                    return Err(TrainError::LabelNotAnnotated {
                        label: l.to_string(),
                        datasets: names.join(", "),
                    });
                }
                push(l, &mut out);
            }
        }
    }
    if out.is_empty() {
        return Err(TrainError::NoLabels);
    }
    Ok(out)
}

/// `annotated[d][k]`: whether dataset `d` (in run order) annotates run label `k`.
pub fn annotation_mask(labels: &[String], datasets: &[(String, Vec<String>)]) -> Vec<Vec<bool>> {
    datasets
        .iter()
        .map(|(_, a)| labels.iter().map(|l| a.iter().any(|x| x == l)).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn study_sets_use_the_vocabulary() {
        for d in ["nih", "chexpert", "mimic", "padchest", "vindr", "uka"] {
            let set = study_labels(d).unwrap();
            for l in set {
                assert!(crate::labels::finding_index(l).is_some(), "{d}: {l}");
            }
        }
        assert_eq!(study_labels("nih").unwrap().len(), 14);
        assert_eq!(study_labels("padchest").unwrap().len(), 17);
        assert_eq!(study_labels("vindr").unwrap().len(), 11);
        assert_eq!(study_labels("uka").unwrap().len(), 9);
    }

    #[test]
    fn views_parse() {
        assert_eq!(
            parse_views("study", "chexpert"),
            ViewFilter::Except(vec!["LATERAL".into()])
        );
        assert_eq!(parse_views("study", "nih"), ViewFilter::All);
        assert_eq!(parse_views("all", "mimic"), ViewFilter::All);
        assert_eq!(
            parse_views("PA, AP", "mimic"),
            ViewFilter::Only(vec!["PA".into(), "AP".into()])
        );
        assert_eq!(
            parse_views("not:LATERAL,LL", "x"),
            ViewFilter::Except(vec!["LATERAL".into(), "LL".into()])
        );
    }

    #[test]
    fn labels_resolve_and_refuse() {
        let ds = vec![(
            "nih".to_string(),
            vec!["cardiomegaly".to_string(), "mass".to_string()],
        )];
        assert_eq!(
            resolve_labels("all", &ds).unwrap(),
            vec!["cardiomegaly", "mass"]
        );
        assert!(matches!(
            resolve_labels("fracture", &ds),
            Err(TrainError::LabelNotAnnotated { .. })
        ));
        assert!(matches!(
            resolve_labels("nonsense", &ds),
            Err(TrainError::UnknownLabel(_))
        ));
        assert!(matches!(
            resolve_labels("study", &ds),
            Err(TrainError::LabelNotAnnotated { .. })
        ));
    }
}
