//! The study's label sets and view filters per dataset, and the resolution of `--labels` /
//! `--views` against what the store annotates.
//!
//! The per-dataset knowledge is not here: each `data-manifests/<dataset>.toml` has a `[study]`
//! table (its label set in head output order, in our vocabulary, with the study's source lines as
//! comments, and its view filter; paper.md §1.2–1.3). This module only reads it.

use super::TrainError;
use crate::manifest::{Manifest, StudyViews};
use crate::run::config::ViewFilter;

/// The study's label set of a built-in dataset (its order = the head's output order), if its
/// manifest defines one.
pub fn study_labels(dataset: &str) -> Option<Vec<String>> {
    Manifest::builtin(dataset).ok()?.study.map(|s| s.labels)
}

/// The study's view filter of a built-in dataset (applied to train and val rows alike); every
/// row for a dataset whose manifest defines none.
pub fn study_views(dataset: &str) -> ViewFilter {
    let views = Manifest::builtin(dataset).ok().and_then(|m| m.study).map(|s| s.views).unwrap_or_default();
    view_filter(&views)
}

/// A manifest's `study.views` as a run's view filter.
pub fn view_filter(v: &StudyViews) -> ViewFilter {
    match (&v.only, &v.except) {
        (Some(only), _) => ViewFilter::Only(only.clone()),
        (None, Some(except)) => ViewFilter::Except(except.clone()),
        (None, None) => ViewFilter::All,
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
                for l in &set {
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
    fn every_builtin_dataset_has_a_study_set_in_the_vocabulary() {
        for d in crate::manifest::dataset_names() {
            let set = study_labels(d).unwrap_or_else(|| panic!("{d}: no [study] labels"));
            for l in &set {
                assert!(crate::labels::finding_index(l).is_some(), "{d}: {l}");
            }
        }
        // Sizes and order per dataset: tests/it/vocabulary.rs.
        assert_eq!(study_labels("no-such-dataset"), None);
        assert_eq!(study_views("no-such-dataset"), ViewFilter::All);
    }

    #[test]
    fn views_parse() {
        assert_eq!(
            parse_views("study", "chexpert"),
            ViewFilter::Except(vec!["LATERAL".into()])
        );
        assert_eq!(parse_views("study", "nih"), ViewFilter::All);
        assert_eq!(parse_views("study", "mimic"), ViewFilter::Only(vec!["PA".into(), "AP".into()]));
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
