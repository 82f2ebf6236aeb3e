//! One small reader per published layout family (a manifest's `reader` key picks it): parse the
//! published files into `RawRecord`s. Label, view and split *decisions* are not made here (they
//! come from the manifest, in `harmonize`).
//!
//! | reader | metadata | images | label style |
//! |---|---|---|---|
//! | nih | `Data_Entry_2017_v2020.csv` (+ split lists) | 8-bit PNG | `|`-joined tokens |
//! | chexpert | `train.csv`, `valid.csv` | 8-bit JPEG | 1.0 / 0.0 / −1.0 / blank columns |
//! | mimic | metadata + chexpert + split `.csv.gz` | 8-bit JPEG (or DICOM) | per-study columns |
//! | padchest | `PADCHEST_…_160K_01.02.19.csv.gz` | 16-bit PNG | Python-list terms |
//! | vindr | PhysioNet `image_labels_*.csv` or Kaggle `train.csv` (VinDr-CXR, VinDr-PCXR) | DICOM | reader majority (`min_votes`) / consensus |
//! | uka | `UKA_CXR_labels.csv` (cxr template) | DICOM or JPEG | per-side grades 0–5 |

pub mod chexpert;
pub mod mimic;
pub mod nih;
pub mod padchest;
pub mod uka;
pub mod vindr;
