//! Crude chest-radiograph phantoms: body, two lungs, mediastinum, heart,
//! clavicles, and one visible pattern per [`Sign`].
//!
//! Coordinates are normalised: `u` runs left→right and `v` top→bottom over
//! the image, both in [0, 1]. Intensities are in [0, 1] with 1 = bright
//! (dense, MONOCHROME2 display). The patient's right lung is on the image's
//! left. A [`Layout`] fixes all geometry from a seed, so bounding boxes
//! (VinDr Kaggle) and pixels come from the same numbers.

mod anatomy;
mod signs;

use super::truth::{Rng, Side, Sign, Truth};

/// Frontal (PA/AP) or lateral projection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    Frontal,
    Lateral,
}

/// A square gray image, row-major, `size × size` values in [0, 1].
pub(crate) struct Canvas {
    pub size: u32,
    pub px: Vec<f32>,
}

impl Canvas {
    fn new(size: u32, value: f32) -> Self {
        Canvas {
            size,
            px: vec![value; (size * size) as usize],
        }
    }

    /// Applies `f(u, v, old) -> new` to every pixel whose centre lies in the
    /// normalised box `[u0, v0, u1, v1]`.
    fn paint(&mut self, b: [f32; 4], f: impl Fn(f32, f32, f32) -> f32) {
        let s = self.size as f32;
        let n = self.size as i64;
        let x0 = ((b[0] * s).floor() as i64).clamp(0, n);
        let x1 = ((b[2] * s).ceil() as i64).clamp(0, n);
        let y0 = ((b[1] * s).floor() as i64).clamp(0, n);
        let y1 = ((b[3] * s).ceil() as i64).clamp(0, n);
        for y in y0..y1 {
            let v = (y as f32 + 0.5) / s;
            let row = (y * n) as usize;
            for x in x0..x1 {
                let u = (x as f32 + 0.5) / s;
                let p = &mut self.px[row + x as usize];
                *p = f(u, v, *p);
            }
        }
    }
}

/// Axis-aligned ellipse in normalised coordinates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ellipse {
    pub cx: f32,
    pub cy: f32,
    pub rx: f32,
    pub ry: f32,
}

impl Ellipse {
    fn new(cx: f32, cy: f32, rx: f32, ry: f32) -> Self {
        Ellipse { cx, cy, rx, ry }
    }

    pub(crate) fn bbox(&self) -> [f32; 4] {
        [
            self.cx - self.rx,
            self.cy - self.ry,
            self.cx + self.rx,
            self.cy + self.ry,
        ]
    }

    /// 1 well inside, 0 outside, linear ramp over the outer `soft` fraction of the radius.
    fn weight(&self, u: f32, v: f32, soft: f32) -> f32 {
        let du = (u - self.cx) / self.rx;
        let dv = (v - self.cy) / self.ry;
        let d = (du * du + dv * dv).sqrt();
        ((1.0 - d) / soft.max(1e-3)).clamp(0.0, 1.0)
    }

    /// A point at fractional offsets (−1..1 of each radius) from the centre.
    fn at(&self, fu: f32, fv: f32) -> (f32, f32) {
        (self.cx + fu * self.rx, self.cy + fv * self.ry)
    }
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// Distance from (u, v) to the segment p–q.
fn seg_dist(u: f32, v: f32, p: (f32, f32), q: (f32, f32)) -> f32 {
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let len2 = (dx * dx + dy * dy).max(1e-9);
    let t = (((u - p.0) * dx + (v - p.1) * dy) / len2).clamp(0.0, 1.0);
    let (ex, ey) = (u - p.0 - t * dx, v - p.1 - t * dy);
    (ex * ex + ey * ey).sqrt()
}

fn seg_bbox(p: (f32, f32), q: (f32, f32), w: f32) -> [f32; 4] {
    [
        p.0.min(q.0) - w,
        p.1.min(q.1) - w,
        p.0.max(q.0) + w,
        p.1.max(q.1) + w,
    ]
}

/// Bilinear value noise on a `G × G` grid of seeded values in [0, 1).
struct ValueNoise {
    g: usize,
    vals: Vec<f32>,
}

impl ValueNoise {
    fn new(rng: &mut Rng, g: usize) -> Self {
        ValueNoise {
            g,
            vals: (0..(g + 1) * (g + 1)).map(|_| rng.f32()).collect(),
        }
    }

    fn at(&self, u: f32, v: f32) -> f32 {
        let gu = u.clamp(0.0, 1.0) * self.g as f32;
        let gv = v.clamp(0.0, 1.0) * self.g as f32;
        let (i, j) = ((gu as usize).min(self.g - 1), (gv as usize).min(self.g - 1));
        let (fu, fv) = (gu - i as f32, gv - j as f32);
        let w = self.g + 1;
        let a = lerp(self.vals[j * w + i], self.vals[j * w + i + 1], fu);
        let b = lerp(
            self.vals[(j + 1) * w + i],
            self.vals[(j + 1) * w + i + 1],
            fu,
        );
        lerp(a, b, fv)
    }
}

/// All geometry of one phantom, fixed from the truth and a seed.
pub(crate) struct Layout {
    view: View,
    body: Ellipse,
    /// Index 0 = patient's right (image left), 1 = patient's left.
    lungs: [Ellipse; 2],
    lung_value: f32,
    heart: Ellipse,
    aorta: Ellipse,
    upper_mediastinum_hw: f32,
    spine_amp: f32,
    noise_seed: u64,
    /// Patch centres and radii chosen per sign (normalised).
    nodule: Ellipse,
    mass: Ellipse,
    blobs: Vec<(usize, Ellipse)>,
    calcs: Vec<Ellipse>,
    truth: Truth,
}

impl Layout {
    /// Geometry for `truth` seen in `view`; `seed` drives jitter and noise.
    pub(crate) fn new(truth: &Truth, view: View, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let j = |r: &mut Rng, a: f32| r.range(-a, a);
        let emph = truth.has(Sign::Emphysema);
        let grow = if emph { 1.12 } else { 1.0 };
        let (body, lungs, heart) = match view {
            View::Frontal => {
                let ry = (0.27 + j(&mut rng, 0.02)) * grow;
                let cy = 0.45 + (grow - 1.0) * 0.2 + j(&mut rng, 0.015);
                let rx = 0.14 + j(&mut rng, 0.01);
                let heart_rx = if truth.has(Sign::Cardiomegaly) {
                    0.2 + 0.03 * truth.severity(Sign::Cardiomegaly)
                } else {
                    0.12
                };
                (
                    Ellipse::new(0.5, 0.55, 0.45 + j(&mut rng, 0.02), 0.52),
                    [
                        Ellipse::new(0.31, cy, rx, ry),
                        Ellipse::new(0.69, cy, rx * 0.95, ry),
                    ],
                    Ellipse::new(0.54, 0.64, heart_rx, 0.11 + j(&mut rng, 0.01)),
                )
            }
            View::Lateral => {
                let l = Ellipse::new(0.52, 0.45, 0.26 * grow, 0.3 * grow);
                let heart_r = if truth.has(Sign::Cardiomegaly) {
                    0.19
                } else {
                    0.12
                };
                (
                    Ellipse::new(0.5, 0.55, 0.42, 0.52),
                    [l, l],
                    Ellipse::new(0.38, 0.63, heart_r, 0.12),
                )
            }
        };
        let pick = |r: &mut Rng, lung: &Ellipse, rad: f32| {
            let (u, v) = lung.at(r.range(-0.45, 0.45), r.range(-0.5, 0.4));
            Ellipse::new(u, v, rad, rad)
        };
        let side_lungs = |s: Side| -> Vec<usize> {
            match s {
                Side::Right => vec![0],
                Side::Left => vec![1],
                Side::Both => vec![0, 1],
            }
        };
        let nod_lung = lungs[side_lungs(truth.side(Sign::Nodule))[0]];
        let nodule = pick(&mut rng, &nod_lung, 0.035);
        let mass_lung = lungs[side_lungs(truth.side(Sign::Mass))[0]];
        let mass = pick(&mut rng, &mass_lung, 0.085);
        let mut blobs = Vec::new();
        for k in side_lungs(truth.side(Sign::Infiltration)) {
            for _ in 0..10 {
                blobs.push((k, pick(&mut rng, &lungs[k], 0.028)));
            }
        }
        let calcs = (0..5)
            .map(|i| pick(&mut rng, &lungs[i % 2], 0.015))
            .collect();
        let aorta_r = if truth.has(Sign::AorticEnlargement) {
            0.065
        } else {
            0.035
        };
        Layout {
            view,
            body,
            lungs,
            lung_value: if emph { 0.08 } else { 0.18 + j(&mut rng, 0.02) },
            heart,
            aorta: Ellipse::new(0.57, 0.27, aorta_r, aorta_r),
            upper_mediastinum_hw: if truth.has(Sign::EnlargedMediastinum) {
                0.12
            } else {
                0.06
            },
            spine_amp: if truth.has(Sign::Scoliosis) {
                0.08
            } else {
                0.0
            },
            noise_seed: rng.next_u64(),
            nodule,
            mass,
            blobs,
            calcs,
            truth: truth.clone(),
        }
    }

    /// Lungs carrying a lateralised sign (one ellipse twice in a lateral view).
    fn lungs_of(&self, s: Sign) -> Vec<usize> {
        let mut v = Vec::new();
        if self.truth.right(s) {
            v.push(0);
        }
        // A lateral view has one lung field: draw a bilateral sign once.
        if self.truth.left(s) && (v.is_empty() || self.view != View::Lateral) {
            v.push(1);
        }
        v
    }

    /// +1 when medial is towards larger `u` (image-left lung), −1 otherwise.
    fn medial(&self, k: usize) -> f32 {
        if self.view == View::Lateral || k == 0 {
            1.0
        } else {
            -1.0
        }
    }

    fn hilum(&self, k: usize) -> (f32, f32) {
        self.lungs[k].at(0.55 * self.medial(k), -0.05)
    }

    fn wedge(&self, k: usize) -> [(f32, f32); 3] {
        let l = &self.lungs[k];
        let m = self.medial(k);
        [self.hilum(k), l.at(-0.85 * m, 0.55), l.at(-0.1 * m, 0.85)]
    }

    fn pneumothorax_box(&self, k: usize) -> [f32; 4] {
        let l = &self.lungs[k];
        let lat = -self.medial(k);
        let (u0, u1) = if lat < 0.0 {
            (l.cx - l.rx, l.cx + 0.2 * l.rx)
        } else {
            (l.cx - 0.2 * l.rx, l.cx + l.rx)
        };
        [u0, l.cy - l.ry, u1, l.cy - 0.15 * l.ry]
    }

    fn effusion_top(&self, k: usize) -> f32 {
        let l = &self.lungs[k];
        l.cy + l.ry * (0.75 - 0.35 * self.truth.severity(Sign::Effusion))
    }

    /// Normalised boxes `[x0, y0, x1, y1]` where `s` is drawn (empty when absent).
    pub(crate) fn boxes(&self, s: Sign) -> Vec<[f32; 4]> {
        if !self.truth.has(s) {
            return Vec::new();
        }
        let per_lung =
            |f: &dyn Fn(usize) -> [f32; 4]| self.lungs_of(s).into_iter().map(f).collect();
        match s {
            Sign::Cardiomegaly => vec![self.heart.bbox()],
            Sign::AorticEnlargement => vec![self.aorta.bbox()],
            Sign::Nodule => vec![self.nodule.bbox()],
            Sign::Mass => vec![self.mass.bbox()],
            Sign::Hernia => vec![self.hernia().bbox()],
            Sign::Calcification => self.calcs.iter().map(|c| c.bbox()).collect(),
            Sign::Infiltration => self.blobs.iter().map(|(_, b)| b.bbox()).collect(),
            Sign::Pneumothorax => per_lung(&|k| self.pneumothorax_box(k)),
            Sign::Effusion => per_lung(&|k| {
                let l = self.lungs[k].bbox();
                [l[0], self.effusion_top(k) - 0.03, l[2], l[3]]
            }),
            Sign::Atelectasis => per_lung(&|k| {
                let w = self.wedge(k);
                let us = w.map(|p| p.0);
                let vs = w.map(|p| p.1);
                [
                    us.iter().cloned().fold(1.0, f32::min),
                    vs.iter().cloned().fold(1.0, f32::min),
                    us.iter().cloned().fold(0.0, f32::max),
                    vs.iter().cloned().fold(0.0, f32::max),
                ]
            }),
            Sign::Consolidation => per_lung(&|k| self.consolidation(k).bbox()),
            Sign::Pneumonia => per_lung(&|k| self.pneumonia(k).bbox()),
            _ => per_lung(&|k| self.lungs[k].bbox()),
        }
    }

    fn consolidation(&self, k: usize) -> Ellipse {
        // A broad, lobar patch spanning most of the lung's width (unlike the
        // round discs of nodule/mass).
        let (u, v) = self.lungs[k].at(0.0, 0.35);
        Ellipse::new(u, v, self.lungs[k].rx * 0.95, self.lungs[k].ry * 0.3)
    }

    fn pneumonia(&self, k: usize) -> Ellipse {
        let (u, v) = self.lungs[k].at(-0.25 * self.medial(k), -0.05);
        Ellipse::new(u, v, self.lungs[k].rx * 0.5, self.lungs[k].ry * 0.25)
    }

    fn hernia(&self) -> Ellipse {
        Ellipse::new(self.heart.cx - 0.02, self.heart.cy + 0.03, 0.065, 0.05)
    }

    /// Renders the phantom at `size × size` pixels.
    pub(crate) fn render(&self, size: u32) -> Canvas {
        let mut c = Canvas::new(size, 0.04);
        let mut rng = Rng::new(self.noise_seed);
        let tex = ValueNoise::new(&mut rng, 20);
        let body = self.body;
        c.paint(body.bbox(), |u, v, o| lerp(o, 0.5, body.weight(u, v, 0.06)));
        let lv = self.lung_value;
        let lungs = if self.view == View::Lateral {
            &self.lungs[..1]
        } else {
            &self.lungs[..]
        };
        for l in lungs {
            let l = *l;
            c.paint(l.bbox(), |u, v, o| {
                lerp(o, lv + 0.09 * (tex.at(u, v) - 0.5), l.weight(u, v, 0.12))
            });
        }
        self.anatomy(&mut c);
        self.signs(&mut c, &mut rng);
        // Fine per-pixel noise everywhere (the image's own stream), then clamp.
        for p in c.px.iter_mut() {
            let r = rng.f32();
            *p = (*p + 0.04 * (r - 0.5)).clamp(0.0, 1.0);
        }
        c
    }
}
