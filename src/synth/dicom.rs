//! Writes a phantom as a real DICOM file (Explicit VR Little Endian, native
//! 16-bit pixels) with dicom-rs.
//!
//! Stored values use `BitsStored` bits. MONOCHROME1 files store inverted
//! values (`max − v`), so that a reader that inverts MONOCHROME1 gets the
//! phantom back. With a rescale, the modality value is
//! `stored × slope + intercept`; window centre/width are given in modality
//! units. Patient name and birth date are obviously fake constants
//! ([`FAKE_PATIENT_NAME`], [`FAKE_BIRTH_DATE`]) so tests can check they never
//! leave the DICOM.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::SynthError;
use super::draw::Canvas;

/// The PatientName written into every synthetic DICOM.
pub const FAKE_PATIENT_NAME: &str = "SYNTH^PATIENT";
/// The PatientBirthDate written into every synthetic DICOM.
pub const FAKE_BIRTH_DATE: &str = "19000101";

/// Header values of one synthetic DICOM.
#[derive(Clone, Debug)]
pub(crate) struct DicomSpec {
    /// Digital X-Ray (`DX`) or Computed Radiography (`CR`).
    pub cr: bool,
    pub sop_instance_uid: String,
    pub study_uid: String,
    pub series_uid: String,
    pub patient_id: String,
    pub male: bool,
    /// Age in years.
    pub age: u32,
    /// `PA`, `AP`, ...
    pub view_position: String,
    /// 12 or 14.
    pub bits_stored: u16,
    pub monochrome1: bool,
    /// `(slope, intercept)` when a Modality LUT rescale is written.
    pub rescale: Option<(f64, f64)>,
}

fn strs(vals: &[String]) -> PrimitiveValue {
    PrimitiveValue::Strs(vals.iter().cloned().collect())
}

/// Writes `canvas` to `path` as described by `spec`.
pub(crate) fn write_dicom(
    path: &Path,
    canvas: &Canvas,
    spec: &DicomSpec,
) -> Result<(), SynthError> {
    let max = (1u32 << spec.bits_stored) - 1;
    let maxf = max as f32;
    let pixels: Vec<u16> = canvas
        .px
        .iter()
        .map(|p| {
            let s = (p * maxf).round() as u32;
            (if spec.monochrome1 {
                max - s.min(max)
            } else {
                s.min(max)
            }) as u16
        })
        .collect();
    let (slope, intercept) = spec.rescale.unwrap_or((1.0, 0.0));
    let center = (max as f64 / 2.0) * slope + intercept;
    let width = max as f64 * slope;
    let n = canvas.size as u16;
    let (sop_class, modality) = if spec.cr {
        (uids::COMPUTED_RADIOGRAPHY_IMAGE_STORAGE, "CR")
    } else {
        (uids::DIGITAL_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION, "DX")
    };
    let mut elems = vec![
        DataElement::new(tags::SOP_CLASS_UID, VR::UI, PrimitiveValue::from(sop_class)),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(spec.sop_instance_uid.as_str()),
        ),
        DataElement::new(tags::STUDY_DATE, VR::DA, PrimitiveValue::from("20200101")),
        DataElement::new(tags::MODALITY, VR::CS, PrimitiveValue::from(modality)),
        DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::from(FAKE_PATIENT_NAME),
        ),
        DataElement::new(
            tags::PATIENT_ID,
            VR::LO,
            PrimitiveValue::from(spec.patient_id.as_str()),
        ),
        DataElement::new(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            PrimitiveValue::from(FAKE_BIRTH_DATE),
        ),
        DataElement::new(
            tags::PATIENT_SEX,
            VR::CS,
            PrimitiveValue::from(if spec.male { "M" } else { "F" }),
        ),
        DataElement::new(
            tags::PATIENT_AGE,
            VR::AS,
            PrimitiveValue::from(format!("{:03}Y", spec.age.min(999))),
        ),
        DataElement::new(
            tags::BODY_PART_EXAMINED,
            VR::CS,
            PrimitiveValue::from("CHEST"),
        ),
        DataElement::new(
            tags::VIEW_POSITION,
            VR::CS,
            PrimitiveValue::from(spec.view_position.as_str()),
        ),
        DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(spec.study_uid.as_str()),
        ),
        DataElement::new(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(spec.series_uid.as_str()),
        ),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from(if spec.monochrome1 {
                "MONOCHROME1"
            } else {
                "MONOCHROME2"
            }),
        ),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(n)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(n)),
        DataElement::new(
            tags::PIXEL_SPACING,
            VR::DS,
            strs(&["0.139".into(), "0.139".into()]),
        ),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(
            tags::BITS_STORED,
            VR::US,
            PrimitiveValue::from(spec.bits_stored),
        ),
        DataElement::new(
            tags::HIGH_BIT,
            VR::US,
            PrimitiveValue::from(spec.bits_stored - 1),
        ),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        DataElement::new(
            tags::WINDOW_CENTER,
            VR::DS,
            PrimitiveValue::from(format!("{center}")),
        ),
        DataElement::new(
            tags::WINDOW_WIDTH,
            VR::DS,
            PrimitiveValue::from(format!("{width}")),
        ),
        DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(pixels.into())),
    ];
    if let Some((s, i)) = spec.rescale {
        elems.push(DataElement::new(
            tags::RESCALE_INTERCEPT,
            VR::DS,
            PrimitiveValue::from(format!("{i}")),
        ));
        elems.push(DataElement::new(
            tags::RESCALE_SLOPE,
            VR::DS,
            PrimitiveValue::from(format!("{s}")),
        ));
        elems.push(DataElement::new(
            tags::RESCALE_TYPE,
            VR::LO,
            PrimitiveValue::from("US"),
        ));
    }
    let obj = InMemDicomObject::from_element_iter(elems);
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .map_err(|e| SynthError::Dicom {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
    file.write_to_file(path).map_err(|e| SynthError::Dicom {
        path: path.to_path_buf(),
        source: Box::new(e),
    })
}
