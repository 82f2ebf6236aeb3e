//! Ground truth shared by every synthetic dataset: the seeded generator, the visible
//! "signs" a phantom can carry, per-patient / per-image draws, and the split each synthetic
//! patient is meant for.
//!
//! Every dataset writer turns one [`Truth`] per image (or per study) into its
//! publisher's label vocabulary, and `draw.rs` turns the same [`Truth`] into
//! pixels, so labels and pixels always agree.

/// The synthetic corpus's view of the crate's generator ([`crate::rng::Rng`], rand's
/// Xoshiro256++ keyed through SHA-256): the same stream plus the key it was made from, so
/// [`Rng::fork`] gives a child stream keyed `(key…, salt)`. Same seed → same stream on every
/// platform; each dataset draws from its own fork and each image is rendered from its own
/// keyed stream, so parallel rendering cannot change the output.
#[derive(Clone, Debug)]
pub(crate) struct Rng {
    key: Vec<u64>,
    stream: crate::rng::Rng,
}

impl Rng {
    /// The stream keyed `[seed]`.
    pub(crate) fn new(seed: u64) -> Self {
        Rng { key: vec![seed], stream: crate::rng::Rng::keyed(&[seed]) }
    }

    /// A child stream for a named purpose (`key…, salt`), independent of how much of `self`
    /// has been consumed by the caller afterwards.
    pub(crate) fn fork(&self, salt: u64) -> Rng {
        let mut key = self.key.clone();
        key.push(salt);
        let stream = crate::rng::Rng::keyed(&key);
        Rng { key, stream }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.stream.next_u64()
    }

    /// Uniform in [0, 1) (24 random bits).
    pub(crate) fn f32(&mut self) -> f32 {
        self.stream.unit_f32()
    }

    /// Uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }

    /// Uniform integer in [0, n) (rand's `random_range`); `n == 0` gives 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.stream.below(n)
    }

    pub(crate) fn chance(&mut self, p: f32) -> bool {
        self.f32() < p
    }

    /// `n` lowercase hex digits.
    pub(crate) fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..n)
            .map(|_| HEX[self.below(16) as usize] as char)
            .collect()
    }

    /// `n` decimal digits, the first one non-zero.
    pub(crate) fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|i| {
                let d = if i == 0 {
                    1 + self.below(9)
                } else {
                    self.below(10)
                };
                char::from(b'0' + d as u8)
            })
            .collect()
    }
}

/// A visible finding of the phantom. Each dataset maps these onto its own
/// label names (see the table in `mod.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sign {
    Cardiomegaly,
    Effusion,
    Pneumothorax,
    Consolidation,
    Pneumonia,
    Infiltration,
    Nodule,
    Mass,
    Atelectasis,
    Edema,
    Emphysema,
    Fibrosis,
    PleuralThickening,
    Hernia,
    Fracture,
    SupportDevices,
    EnlargedMediastinum,
    AorticEnlargement,
    Calcification,
    Scoliosis,
}

/// Number of [`Sign`] variants.
pub(crate) const N_SIGNS: usize = 20;

/// All signs in discriminant order.
pub(crate) const ALL_SIGNS: [Sign; N_SIGNS] = [
    Sign::Cardiomegaly,
    Sign::Effusion,
    Sign::Pneumothorax,
    Sign::Consolidation,
    Sign::Pneumonia,
    Sign::Infiltration,
    Sign::Nodule,
    Sign::Mass,
    Sign::Atelectasis,
    Sign::Edema,
    Sign::Emphysema,
    Sign::Fibrosis,
    Sign::PleuralThickening,
    Sign::Hernia,
    Sign::Fracture,
    Sign::SupportDevices,
    Sign::EnlargedMediastinum,
    Sign::AorticEnlargement,
    Sign::Calcification,
    Sign::Scoliosis,
];

/// Patient side. The phantom follows the radiographic convention: the
/// patient's right lung is on the image's left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Right,
    Left,
    Both,
}

impl Side {
    pub(crate) fn has_right(self) -> bool {
        matches!(self, Side::Right | Side::Both)
    }
    pub(crate) fn has_left(self) -> bool {
        matches!(self, Side::Left | Side::Both)
    }
}

/// Probability that an image is drawn with no sign at all.
pub(crate) const P_HEALTHY: f32 = 0.35;
/// Probability of each sign in a non-healthy image; prevalence of each sign
/// is therefore about (1 − 0.35) × 0.30 ≈ 20 %.
pub(crate) const P_SIGN: f32 = 0.30;

/// The findings of one image (or one study: views of a study share it).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Truth {
    present: [bool; N_SIGNS],
    side: [Side; N_SIGNS],
    /// Visual strength in [0.6, 1.0]; above 0.85 counts as "severe" (UKA grade 4).
    severity: [f32; N_SIGNS],
}

impl Truth {
    /// A truth with no findings.
    pub(crate) fn healthy() -> Self {
        Truth {
            present: [false; N_SIGNS],
            side: [Side::Both; N_SIGNS],
            severity: [0.0; N_SIGNS],
        }
    }

    /// Draws a fresh truth: healthy with [`P_HEALTHY`], otherwise each sign
    /// independently with [`P_SIGN`] (at least one sign).
    pub(crate) fn draw(rng: &mut Rng) -> Self {
        let mut t = Truth::healthy();
        if rng.chance(P_HEALTHY) {
            return t;
        }
        for s in ALL_SIGNS {
            if rng.chance(P_SIGN) {
                t.set(s, rng);
            } else {
                // Keep the stream length independent of the outcome.
                rng.next_u64();
                rng.next_u64();
            }
        }
        if !t.any() {
            let s = ALL_SIGNS[rng.below(N_SIGNS as u64) as usize];
            t.set(s, rng);
        }
        t
    }

    fn set(&mut self, s: Sign, rng: &mut Rng) {
        let i = s as usize;
        self.present[i] = true;
        self.severity[i] = rng.range(0.6, 1.0);
        // Pneumothorax, nodule, mass and fracture stay on one side; the rest
        // may be bilateral (each side then carries the sign in ~2/3 of cases).
        let both_ok = !matches!(
            s,
            Sign::Pneumothorax | Sign::Nodule | Sign::Mass | Sign::Fracture
        );
        self.side[i] = match rng.below(if both_ok { 3 } else { 2 }) {
            0 => Side::Right,
            1 => Side::Left,
            _ => Side::Both,
        };
    }

    /// A follow-up image of the same patient: unchanged (40 %), a fresh draw
    /// (30 %), or one sign toggled (30 %). Keeps the healthy share near
    /// [`P_HEALTHY`] across follow-ups.
    pub(crate) fn evolve(&self, rng: &mut Rng) -> Self {
        let r = rng.f32();
        if r < 0.4 {
            return self.clone();
        }
        if r < 0.7 {
            return Truth::draw(rng);
        }
        let mut t = self.clone();
        let s = ALL_SIGNS[rng.below(N_SIGNS as u64) as usize];
        if t.has(s) {
            t.present[s as usize] = false;
        } else {
            t.set(s, rng);
        }
        t
    }

    pub(crate) fn has(&self, s: Sign) -> bool {
        self.present[s as usize]
    }

    pub(crate) fn side(&self, s: Sign) -> Side {
        self.side[s as usize]
    }

    /// Intensity scale in [0.6, 1.0] (0 when absent).
    pub(crate) fn severity(&self, s: Sign) -> f32 {
        if self.has(s) {
            self.severity[s as usize]
        } else {
            0.0
        }
    }

    /// Present on the patient's right (or both sides).
    pub(crate) fn right(&self, s: Sign) -> bool {
        self.has(s) && self.side(s).has_right()
    }

    /// Present on the patient's left (or both sides).
    pub(crate) fn left(&self, s: Sign) -> bool {
        self.has(s) && self.side(s).has_left()
    }

    pub(crate) fn any(&self) -> bool {
        self.present.iter().any(|p| *p)
    }
}

/// The split a synthetic patient is meant for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    /// The deterministic stratified rule over a patient's 0-based index: in every block of ten
    /// patients, indices 0 and 5 are test, 1 is val and the other seven train (20 % / 10 % /
    /// 70 %, the manifests' `test_fraction` / `val_fraction`). Any dataset with at least three
    /// patients therefore has all three splits, whatever the seed (a random draw left PadChest
    /// at 48 images without a val patient).
    pub(crate) fn of_patient(index: usize) -> Split {
        match index % 10 {
            0 | 5 => Split::Test,
            1 => Split::Val,
            _ => Split::Train,
        }
    }

    /// The store's split name (`train`, `val`, `test`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

/// cxr-prep's default `--split-seed` (`StoredOptions::default()`), under which
/// [`SplitRule::id_for`] places hashed patients in their target split.
pub(crate) const INGEST_SPLIT_SEED: u64 = 0;

/// Where `cxr-prep ingest` puts a row of one dataset: the built-in manifest's `[split]` rule
/// applied by [`crate::harmonize::split::assign`] with [`INGEST_SPLIT_SEED`]. Datasets whose
/// split (or validation part) is a hash of the patient id get ids chosen through this rule, so
/// the split a synthetic patient is meant for is the split the store gives it.
pub(crate) struct SplitRule(crate::manifest::SplitSpec);

/// Candidate ids tried by [`SplitRule::id_for_all`] before giving up: the rarest target (val in
/// two layouts at once, VinDr's PhysioNet carve and Kaggle hash, 1 % of ids) is found within
/// 10 000 tries except with probability 0.99^10000 (about e^-100).
const MAX_ID_TRIES: usize = 10_000;

impl SplitRule {
    /// The rule of a built-in dataset (`nih`, `chexpert`, `padchest`, …).
    pub(crate) fn builtin(dataset: &str) -> Result<SplitRule, super::SynthError> {
        crate::manifest::Manifest::builtin(dataset)
            .map(|m| SplitRule(m.split))
            .map_err(|e| super::SynthError::Config { reason: format!("built-in manifest {dataset}: {e}") })
    }

    /// The split the ingest gives a row with patient id `id` and official split value `official`.
    pub(crate) fn split_of(&self, official: Option<&str>, id: &str) -> Option<&'static str> {
        crate::harmonize::split::assign(&self.0, INGEST_SPLIT_SEED, official, id).ok()
    }

    /// The first id from `next` that the ingest places in `want` (see [`Self::split_of`]).
    pub(crate) fn id_for(
        &self,
        want: Split,
        official: Option<&str>,
        next: impl FnMut() -> String,
    ) -> Result<String, super::SynthError> {
        self.id_for_all(&[(official, want)], next)
    }

    /// The first id from `next` that the ingest places in the wanted split under every
    /// `(official split value, wanted split)` of `wants`: one pair per layout the id is written
    /// in (VinDr's train images are in the PhysioNet layout, official `train`, and the Kaggle
    /// layout, no official split).
    pub(crate) fn id_for_all(
        &self,
        wants: &[(Option<&str>, Split)],
        mut next: impl FnMut() -> String,
    ) -> Result<String, super::SynthError> {
        for _ in 0..MAX_ID_TRIES {
            let id = next();
            if wants.iter().all(|(official, want)| self.split_of(*official, &id) == Some(want.as_str())) {
                return Ok(id);
            }
        }
        let wanted: Vec<&str> = wants.iter().map(|(_, w)| w.as_str()).collect();
        Err(super::SynthError::Config {
            reason: format!("no patient id for split {} in {MAX_ID_TRIES} tries", wanted.join(" + ")),
        })
    }
}

/// Demographics shared by all images of a patient.
#[derive(Clone, Debug)]
pub(crate) struct Patient {
    /// 0-based index within its dataset.
    pub index: usize,
    /// The split it is meant for ([`Split::of_patient`]).
    pub split: Split,
    pub male: bool,
    /// Age in years at the first image.
    pub age: u32,
    /// Number of images (NIH, PadChest, UKA) or studies (CheXpert, MIMIC).
    pub count: usize,
}

/// Splits `total` items into patients with 1–`max_per` items each.
pub(crate) fn patients(rng: &mut Rng, total: usize, max_per: usize) -> Vec<Patient> {
    let mut out = Vec::new();
    let mut left = total;
    while left > 0 {
        let count = (1 + rng.below(max_per.max(1) as u64) as usize).min(left);
        left -= count;
        out.push(Patient {
            index: out.len(),
            split: Split::of_patient(out.len()),
            male: rng.chance(0.55),
            age: 18 + rng.below(72) as u32,
            count,
        });
    }
    out
}
