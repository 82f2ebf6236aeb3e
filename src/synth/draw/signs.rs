//! The visible pattern of each [`Sign`] on a phantom (see the table in
//! `synth/mod.rs`). Every pattern is large enough to survive resizing to
//! 32–64 px: bright bands, patches, discs, wedges, streaks, dark apices.

use super::{Canvas, Ellipse, Layout, lerp, seg_bbox, seg_dist};
use crate::synth::truth::{Rng, Sign};

/// Barycentric inside-test for triangle `t`; returns a soft weight in [0, 1].
fn tri_weight(u: f32, v: f32, t: &[(f32, f32); 3]) -> f32 {
    let [(x1, y1), (x2, y2), (x3, y3)] = *t;
    let det = (y2 - y3) * (x1 - x3) + (x3 - x2) * (y1 - y3);
    if det.abs() < 1e-9 {
        return 0.0;
    }
    let a = ((y2 - y3) * (u - x3) + (x3 - x2) * (v - y3)) / det;
    let b = ((y3 - y1) * (u - x3) + (x1 - x3) * (v - y3)) / det;
    let c = 1.0 - a - b;
    (a.min(b).min(c) / 0.08).clamp(0.0, 1.0)
}

fn add_ellipse(c: &mut Canvas, e: Ellipse, delta: f32, soft: f32, mask: Option<Ellipse>) {
    c.paint(e.bbox(), |u, v, o| {
        let m = mask.map_or(1.0, |l| l.weight(u, v, 0.1));
        o + delta * e.weight(u, v, soft) * m
    });
}

impl Layout {
    /// Paints every present sign onto `c`.
    pub(super) fn signs(&self, c: &mut Canvas, rng: &mut Rng) {
        let t = &self.truth;
        for k in self.lungs_of(Sign::Effusion) {
            let l = self.lungs[k];
            let top = self.effusion_top(k);
            c.paint(
                [l.cx - l.rx, top - 0.1, l.cx + l.rx, l.cy + l.ry],
                |u, v, o| {
                    // Meniscus: the fluid line rises towards the lateral wall.
                    let menisc = top - 0.08 * l.ry * ((u - l.cx) / l.rx).abs();
                    let w = ((v - menisc) / 0.015).clamp(0.0, 1.0) * l.weight(u, v, 0.05);
                    lerp(o, 0.64, w)
                },
            );
        }
        for k in self.lungs_of(Sign::Pneumothorax) {
            let l = self.lungs[k];
            let b = self.pneumothorax_box(k);
            c.paint(b, |u, v, o| {
                let edge = ((v - b[1]).min(b[3] - v).min((u - b[0]).min(b[2] - u)) / 0.015)
                    .clamp(0.0, 1.0);
                lerp(o, 0.02, edge * l.weight(u, v, 0.05))
            });
        }
        for k in self.lungs_of(Sign::Consolidation) {
            add_ellipse(
                c,
                self.consolidation(k),
                0.4 * t.severity(Sign::Consolidation),
                0.6,
                Some(self.lungs[k]),
            );
        }
        for k in self.lungs_of(Sign::Pneumonia) {
            let p = self.pneumonia(k);
            let d = 0.32 * t.severity(Sign::Pneumonia);
            for (fu, fv) in [(-0.5, 0.0), (0.4, -0.3), (0.2, 0.5)] {
                let e = Ellipse::new(p.cx + fu * p.rx, p.cy + fv * p.ry, p.rx * 0.6, p.ry * 0.7);
                add_ellipse(c, e, d, 0.6, Some(self.lungs[k]));
            }
        }
        if t.has(Sign::Infiltration) {
            let d = 0.3 * t.severity(Sign::Infiltration);
            for (k, b) in &self.blobs {
                add_ellipse(c, *b, d, 0.5, Some(self.lungs[*k]));
            }
        }
        if t.has(Sign::Nodule) {
            add_ellipse(c, self.nodule, 0.45, 0.2, None);
        }
        if t.has(Sign::Mass) {
            add_ellipse(c, self.mass, 0.45, 0.15, None);
        }
        for k in self.lungs_of(Sign::Atelectasis) {
            let w = self.wedge(k);
            let l = self.lungs[k];
            let d = 0.38 * t.severity(Sign::Atelectasis);
            c.paint(l.bbox(), |u, v, o| {
                o + d * tri_weight(u, v, &w) * l.weight(u, v, 0.1)
            });
        }
        if t.has(Sign::Edema) {
            self.edema(c, rng);
        }
        if t.has(Sign::Fibrosis) {
            let d = 0.24 * t.severity(Sign::Fibrosis);
            for k in self.lungs_of(Sign::Fibrosis) {
                let l = self.lungs[k];
                c.paint([l.cx - l.rx, l.cy, l.cx + l.rx, l.cy + l.ry], |u, v, o| {
                    let (fu, fv) = ((u * 26.0).fract(), (v * 26.0).fract());
                    let grid = if fu < 0.25 || fv < 0.25 { 1.0 } else { 0.3 };
                    o + d * grid * l.weight(u, v, 0.15)
                });
            }
        }
        for k in self.lungs_of(Sign::PleuralThickening) {
            let l = self.lungs[k];
            let lat = -self.medial(k);
            c.paint(l.bbox(), |u, v, o| {
                let du = (u - l.cx) / l.rx;
                let dv = (v - l.cy) / l.ry;
                let d = (du * du + dv * dv).sqrt();
                let rim = if d > 0.82 && d < 1.0 && du * lat > 0.2 && dv < 0.5 {
                    1.0
                } else {
                    0.0
                };
                lerp(o, 0.62, rim)
            });
        }
        if t.has(Sign::Hernia) {
            let h = self.hernia();
            c.paint(h.bbox(), |u, v, o| lerp(o, 0.82, h.weight(u, v, 0.15)));
            let bubble = Ellipse::new(h.cx, h.cy - 0.015, 0.04, 0.018);
            c.paint(bubble.bbox(), |u, v, o| {
                lerp(o, 0.08, bubble.weight(u, v, 0.3))
            });
        }
        if t.has(Sign::SupportDevices) {
            self.devices(c);
        }
        if t.has(Sign::Calcification) {
            for e in &self.calcs {
                let e = *e;
                c.paint(e.bbox(), |u, v, o| lerp(o, 0.97, e.weight(u, v, 0.3)));
            }
        }
    }

    /// Bright streaks radiating from both hila plus a perihilar haze.
    fn edema(&self, c: &mut Canvas, rng: &mut Rng) {
        let d = 0.3 * self.truth.severity(Sign::Edema);
        let ks: &[usize] = if self.view == super::View::Lateral {
            &[0]
        } else {
            &[0, 1]
        };
        for &k in ks {
            let h = self.hilum(k);
            let haze = Ellipse::new(h.0, h.1, 0.09, 0.11);
            add_ellipse(c, haze, d * 0.4, 0.8, Some(self.lungs[k]));
            for i in 0..7 {
                let ang =
                    std::f32::consts::PI * (0.55 + 0.9 * i as f32 / 6.0) + rng.range(-0.1, 0.1);
                let dir = -self.medial(k);
                let q = (h.0 + dir * 0.14 * ang.sin().abs(), h.1 - 0.14 * ang.cos());
                let l = self.lungs[k];
                c.paint(seg_bbox(h, q, 0.012), |u, v, o| {
                    o + d
                        * ((0.008 - seg_dist(u, v, h, q)) / 0.004).clamp(0.0, 1.0)
                        * l.weight(u, v, 0.1)
                });
            }
        }
    }

    /// Endotracheal tube down the midline and a pacemaker box with its lead.
    fn devices(&self, c: &mut Canvas) {
        let (p, q) = ((0.505, 0.0), (0.505, 0.36));
        c.paint(seg_bbox(p, q, 0.01), |u, v, o| {
            lerp(
                o,
                0.97,
                ((0.006 - seg_dist(u, v, p, q)) / 0.003).clamp(0.0, 1.0),
            )
        });
        let b = [0.74, 0.12, 0.82, 0.17];
        c.paint(b, |_, _, _| 0.98);
        let (r, s) = ((0.76, 0.17), (self.heart.cx, self.heart.cy));
        c.paint(seg_bbox(r, s, 0.01), |u, v, o| {
            lerp(
                o,
                0.95,
                ((0.004 - seg_dist(u, v, r, s)) / 0.002).clamp(0.0, 1.0),
            )
        });
    }
}
