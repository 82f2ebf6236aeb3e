//! Normal anatomy of the phantom: mediastinum, spine (S-curved with
//! scoliosis), clavicles (broken with a fracture), heart and aortic knob
//! (enlarged with cardiomegaly / aortic enlargement).

use super::{Canvas, Layout, View, lerp, seg_bbox, seg_dist};
use crate::synth::truth::Sign;

impl Layout {
    pub(super) fn anatomy(&self, c: &mut Canvas) {
        let amp = self.spine_amp;
        let spine_u = move |v: f32| 0.5 + amp * (std::f32::consts::PI * v * 1.4).sin();
        match self.view {
            View::Frontal => {
                let hw = self.upper_mediastinum_hw;
                let low = self.heart.cy;
                c.paint([0.3, 0.03, 0.7, low], |u, v, o| {
                    let w = if v < 0.42 { hw } else { 0.075 };
                    let t = ((w - (u - 0.5).abs()) / 0.02).clamp(0.0, 1.0);
                    lerp(o, 0.66, t)
                });
                c.paint([0.35, 0.0, 0.65, 1.0], |u, v, o| {
                    let t = ((0.022 - (u - spine_u(v)).abs()) / 0.01).clamp(0.0, 1.0);
                    lerp(o, 0.8, t)
                });
                for (p, q) in [((0.14, 0.17), (0.45, 0.21)), ((0.55, 0.21), (0.86, 0.17))] {
                    self.clavicle(c, p, q);
                }
            }
            View::Lateral => {
                c.paint([0.7, 0.05, 0.9, 0.95], |u, _v, o| {
                    lerp(o, 0.78, ((0.05 - (u - 0.8).abs()) / 0.015).clamp(0.0, 1.0))
                });
            }
        }
        let (h, a) = (self.heart, self.aorta);
        c.paint(h.bbox(), |u, v, o| lerp(o, 0.72, h.weight(u, v, 0.12)));
        let abright = if self.truth.has(Sign::AorticEnlargement) {
            0.76
        } else {
            0.68
        };
        c.paint(a.bbox(), |u, v, o| lerp(o, abright, a.weight(u, v, 0.2)));
    }

    /// Draws a clavicle from p to q; a fracture on that side breaks it with a gap and a step.
    fn clavicle(&self, c: &mut Canvas, p: (f32, f32), q: (f32, f32)) {
        let right_side = p.0 < 0.5;
        let broken = if right_side {
            self.truth.right(Sign::Fracture)
        } else {
            self.truth.left(Sign::Fracture)
        };
        let segs: Vec<((f32, f32), (f32, f32))> = if broken {
            let m1 = (lerp(p.0, q.0, 0.45), lerp(p.1, q.1, 0.45));
            let m2 = (lerp(p.0, q.0, 0.62), lerp(p.1, q.1, 0.62) + 0.045);
            vec![(p, m1), (m2, (q.0, q.1 + 0.045))]
        } else {
            vec![(p, q)]
        };
        for (a, b) in segs {
            c.paint(seg_bbox(a, b, 0.02), |u, v, o| {
                lerp(
                    o,
                    0.85,
                    ((0.016 - seg_dist(u, v, a, b)) / 0.006).clamp(0.0, 1.0),
                )
            });
        }
    }
}
