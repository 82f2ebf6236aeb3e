//! Split assignment: the official split where the dataset has one, otherwise a deterministic
//! patient-level split from a hash of (seed, patient id). Where the official split has no
//! validation part, `val_fraction` of the train patients are carved out by the same hash, so a
//! patient never lands in two splits.

use sha2::{Digest, Sha256};

use crate::manifest::SplitSpec;

/// Uniform number in [0, 1) from (seed, salt, patient id); stable across runs and machines.
pub fn hash01(seed: u64, salt: &str, patient: &str) -> f64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(patient.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// The split of one row: `official` is the dataset's own split value for it, if any.
pub fn assign(spec: &SplitSpec, seed: u64, official: Option<&str>, patient: &str) -> Result<&'static str, super::HarmonizeError> {
    let Some(raw) = official else {
        let u = hash01(seed, "split", patient);
        return Ok(if u < spec.test_fraction {
            "test"
        } else if u < spec.test_fraction + spec.val_fraction {
            "val"
        } else {
            "train"
        });
    };
    let raw = raw.trim();
    let mapped = spec.map.get(raw).map(String::as_str).unwrap_or(raw);
    let split = match mapped {
        "train" => "train",
        "val" => "val",
        "test" => "test",
        other => return Err(super::HarmonizeError::UnknownSplit { value: other.to_string() }),
    };
    if split == "train" && spec.carve_val && hash01(seed, "carve-val", patient) < spec.val_fraction {
        return Ok("val");
    }
    Ok(split)
}

/// Normalised sex: `M`, `F`, `O` (other), or `None` (unknown/empty).
pub fn normalize_sex(raw: Option<&str>) -> Option<&'static str> {
    match raw?.trim().to_ascii_uppercase().as_str() {
        "M" | "MALE" => Some("M"),
        "F" | "FEMALE" => Some("F"),
        "O" | "OTHER" => Some("O"),
        _ => None,
    }
}
