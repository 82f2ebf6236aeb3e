//! Source labels → unified findings, driven entirely by the manifest's `[labels]` table.

use super::HarmonizeError;
use crate::labels::{finding_index, LabelValue, FINDINGS};
use crate::manifest::{Absent, Manifest};

/// Findings a dataset layout annotates: the unified findings its annotated source labels map to.
/// Returned as a mask over [`FINDINGS`].
pub fn annotated_mask(m: &Manifest, annotated_source_labels: &[String]) -> Vec<bool> {
    let mut mask = vec![false; FINDINGS.len()];
    for s in annotated_source_labels {
        for f in m.findings_for(s).into_iter().flatten() {
            if let Some(i) = finding_index(f) {
                mask[i] = true;
            }
        }
    }
    mask
}

/// Harmonizes one row's (source label, raw value) pairs into one value per finding.
///
/// Annotated findings start at the manifest's `absent` value; findings the dataset does not
/// annotate stay [`LabelValue::Unstated`]. Several statements about one finding are OR-merged.
/// An unknown source label or an unmapped raw value is an error naming it (the row is rejected).
pub fn harmonize_labels(
    m: &Manifest,
    annotated: &[bool],
    raw: &[(String, String)],
) -> Result<Vec<LabelValue>, HarmonizeError> {
    let start = match m.labels.absent {
        Absent::Negative => LabelValue::Negative,
        Absent::Unstated => LabelValue::Unstated,
    };
    let mut out: Vec<LabelValue> =
        annotated.iter().map(|&a| if a { start } else { LabelValue::Unstated }).collect();
    for (label, value) in raw {
        let findings =
            m.findings_for(label).ok_or_else(|| HarmonizeError::UnknownLabelTerm { label: label.clone() })?;
        let v = m
            .label_value(label, value)
            .ok_or_else(|| HarmonizeError::UnrecognisedValue { label: label.clone(), value: value.clone() })?;
        for f in findings {
            let i = finding_index(f)
                .ok_or_else(|| HarmonizeError::UnknownFinding { label: label.clone(), finding: f.to_string() })?;
            out[i] = out[i].merge(v);
        }
    }
    Ok(out)
}
