//! The unified finding vocabulary: one snake_case name per finding, in store column order.
//!
//! Every dataset's source labels are mapped onto these names by its manifest
//! (`data-manifests/<dataset>.toml`); the store has one `Int8` column per finding, in this order.
//! `schemas/labels.toml` is the human-readable copy of this table; a test keeps the two equal.
//!
//! Values (see [`LabelValue`]): 1 positive, 0 negative, −1 uncertain, null = the source says
//! nothing about that finding for that image. Whether a dataset *annotates* a finding at all is
//! recorded per dataset in the store metadata, so "not annotated" is never read as "negative".

/// One finding of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    /// snake_case name; also the store column name.
    pub name: &'static str,
    /// One-line definition and where the finding comes from.
    pub doc: &'static str,
}

macro_rules! findings {
    ($($name:literal => $doc:literal,)*) => {
        /// All findings, in store column order.
        pub const FINDINGS: &[Finding] = &[$(Finding { name: $name, doc: $doc },)*];
    };
}

findings! {
    "no_finding" => "No abnormal finding (NIH `No Finding`, CheXpert/MIMIC `No Finding`, VinDr `No finding`, PadChest `normal`, UKA `healthy`)",
    "atelectasis" => "Atelectasis of any type or side (UKA: left OR right)",
    "cardiomegaly" => "Enlarged cardiac silhouette",
    "consolidation" => "Airspace consolidation",
    "edema" => "Pulmonary edema",
    "pleural_effusion" => "Pleural effusion (NIH `Effusion`; UKA: left OR right); never pericardial effusion",
    "emphysema" => "Pulmonary emphysema; never subcutaneous emphysema",
    "fibrosis" => "Pulmonary fibrosis (NIH `Fibrosis`, VinDr `Pulmonary fibrosis`)",
    "hernia" => "Hernia (hiatal and diaphragmatic)",
    "infiltration" => "Infiltrates / interstitial or alveolar pattern (NIH `Infiltration`, PadChest `infiltrates` and sub-terms)",
    "mass" => "Mass (> 3 cm)",
    "nodule" => "Nodule (<= 3 cm)",
    "nodule_mass" => "Nodule or mass (VinDr `Nodule/Mass`; PadChest nodule or mass terms)",
    "pleural_thickening" => "Pleural thickening",
    "pneumonia" => "Pneumonia",
    "pneumothorax" => "Pneumothorax (UKA: left OR right)",
    "lung_opacity" => "Lung opacity (MIMIC test labels `Airspace Opacity`)",
    "lung_lesion" => "Lung lesion (CheXpert/MIMIC)",
    "fracture" => "Any bone fracture (VinDr rib or clavicle fracture included)",
    "support_devices" => "Support devices (tubes, lines, pacemakers)",
    "enlarged_cardiomediastinum" => "Enlarged cardiomediastinum",
    "pleural_other" => "Other pleural abnormality (CheXpert/MIMIC)",
    "aortic_enlargement" => "Aortic enlargement (VinDr)",
    "calcification" => "Calcification (VinDr)",
    "ild" => "Interstitial lung disease (VinDr `ILD`)",
    "other_lesion" => "Other lesion (VinDr `Other lesion`; kept apart from lung_lesion)",
    "kyphosis" => "Kyphosis (PadChest)",
    "scoliosis" => "Scoliosis (PadChest)",
    "congestion" => "Pulmonary venous congestion (UKA `congestion`, PadChest vascular redistribution terms)",
    "aortic_elongation" => "Aortic elongation (PadChest, with ascending/descending/supra-aortic sub-terms)",
    "copd_signs" => "Radiological signs of COPD (PadChest `COPD signs`)",
    "tuberculosis" => "Tuberculosis or its sequelae (VinDr, PadChest)",
    "air_trapping" => "Air trapping (PadChest)",
    "bronchiectasis" => "Bronchiectasis (PadChest)",
    "clavicle_fracture" => "Clavicle fracture (VinDr)",
    "rib_fracture" => "Rib fracture (VinDr)",
    "enlarged_pa" => "Enlarged pulmonary artery (VinDr `Enlarged PA`)",
    "lung_cavity" => "Lung cavity (VinDr)",
    "lung_cyst" => "Lung cyst (VinDr)",
    "mediastinal_shift" => "Mediastinal shift (VinDr)",
    "copd" => "Chronic obstructive pulmonary disease, a global diagnosis (VinDr `COPD`)",
    "lung_tumor" => "Lung tumor, a global diagnosis (VinDr)",
    "other_disease" => "Other disease, a global diagnosis (VinDr `Other diseases` / `Other disease`)",
    "pneumonic_infiltrates" => "Pneumonic infiltrates, left OR right (UKA)",
    "pleural_effusion_right" => "Right pleural effusion (UKA)",
    "pleural_effusion_left" => "Left pleural effusion (UKA)",
    "pneumonic_infiltrates_right" => "Right pneumonic infiltrates (UKA)",
    "pneumonic_infiltrates_left" => "Left pneumonic infiltrates (UKA)",
    "atelectasis_right" => "Right atelectasis / ventilation disturbance (UKA)",
    "atelectasis_left" => "Left atelectasis / ventilation disturbance (UKA)",
    "pneumothorax_right" => "Right pneumothorax (UKA)",
    "pneumothorax_left" => "Left pneumothorax (UKA)",
    "bronchitis" => "Bronchitis, a global diagnosis (VinDr-PCXR `Bronchitis`)",
    "bronchiolitis" => "Bronchiolitis, a global diagnosis (VinDr-PCXR `Bronchiolitis`)",
    "bronchopneumonia" => "Bronchopneumonia, a global diagnosis (VinDr-PCXR `Brocho-pneumonia`, sic); kept apart from pneumonia, which VinDr-PCXR labels separately",
    "pleuropneumonia" => "Pleuropneumonia, a global diagnosis (VinDr-PCXR `Pleuro-pneumonia`); kept apart from pneumonia",
    "situs_inversus" => "Situs inversus (VinDr-PCXR)",
    "congenital_emphysema" => "Congenital (lobar) emphysema (VinDr-PCXR); never merged into emphysema, a different disease",
    "cpam" => "Congenital pulmonary airway malformation (VinDr-PCXR `CPAM`)",
    "hyaline_membrane_disease" => "Hyaline membrane disease / neonatal respiratory distress syndrome (VinDr-PCXR)",
    "mediastinal_tumor" => "Mediastinal tumor, a global diagnosis (VinDr-PCXR)",
}

/// Position of a finding in [`FINDINGS`] (= its store column order), if it exists.
pub fn finding_index(name: &str) -> Option<usize> {
    FINDINGS.iter().position(|f| f.name == name)
}

/// A harmonized label value. Stored as Int8 (1, 0, −1) or null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelValue {
    /// The source says nothing about the finding for this image (stored as null).
    Unstated,
    /// Stated absent (0).
    Negative,
    /// Stated uncertain (−1), e.g. CheXpert/MIMIC `-1.0`.
    Uncertain,
    /// Stated present (1).
    Positive,
}

impl LabelValue {
    /// The stored Int8 value; `None` for [`LabelValue::Unstated`].
    pub fn to_i8(self) -> Option<i8> {
        match self {
            LabelValue::Unstated => None,
            LabelValue::Negative => Some(0),
            LabelValue::Uncertain => Some(-1),
            LabelValue::Positive => Some(1),
        }
    }

    /// OR-merge of two statements about one finding (e.g. left and right side, or two source
    /// labels mapped to the same finding): positive wins, then uncertain, then negative.
    pub fn merge(self, other: LabelValue) -> LabelValue {
        self.max(other)
    }
}

/// Renders the vocabulary as the TOML document kept in `schemas/labels.toml`.
pub fn vocabulary_toml() -> String {
    let mut s = String::from(
        "# Unified finding vocabulary of the cxr store, in store column order.\n\
         # Generated from src/labels.rs (`cxr-prep schema --write` rewrites it); a test keeps them equal.\n\
         # Values: 1 positive, 0 negative, -1 uncertain, null = unstated by the source.\n\n",
    );
    for f in FINDINGS {
        s.push_str(&format!("[[finding]]\nname = \"{}\"\ndoc = \"{}\"\n\n", f.name, f.doc.replace('"', "\\\"")));
    }
    s
}
