//! Ground truth shared by every synthetic dataset: a seeded PRNG, the visible
//! "signs" a phantom can carry, and per-patient / per-image draws.
//!
//! Every dataset writer turns one [`Truth`] per image (or per study) into its
//! publisher's label vocabulary, and `draw.rs` turns the same [`Truth`] into
//! pixels, so labels and pixels always agree.

/// SplitMix64 (Steele, Lea & Flood 2014): tiny, fast, and good enough for
/// synthetic data. Same seed → same stream on every platform.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// A child stream for a named purpose, independent of how much of `self`
    /// has been consumed by the caller afterwards.
    pub(crate) fn fork(&self, salt: u64) -> Rng {
        let mut r = Rng(self.0 ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        r.next_u64();
        r
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub(crate) fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }

    /// Uniform integer in [0, n); `n == 0` gives 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
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

/// Demographics shared by all images of a patient.
#[derive(Clone, Debug)]
pub(crate) struct Patient {
    /// 0-based index within its dataset.
    pub index: usize,
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
            male: rng.chance(0.55),
            age: 18 + rng.below(72) as u32,
            count,
        });
    }
    out
}
