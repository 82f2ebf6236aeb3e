//! Training-time augmentation on stored 8-bit grey images, and the seeded PRNG that drives it
//! and the data order.
//!
//! The study (paper.md §2.2) uses torchvision `RandomHorizontalFlip(p=0.5)` then
//! `RandomRotation(degrees=7)`; torchvision's rotation defaults are nearest-neighbour sampling,
//! rotation about the image centre, and fill 0 outside the source. [`augment_into`] does both
//! in one inverse-mapped pass into one 8-bit plane (nearest-neighbour sampling keeps the stored
//! grey levels exact), so an augmented image costs one pass over its pixels; the device turns it
//! into the model's `[3, H, W]` f32 `[0, 1]` input (`train::step::images_tensor`).

/// SplitMix64: small, fast, and good enough for shuffles and augmentation draws. Every stream
/// is derived from `(seed, purpose, epoch, index)`, so a resumed run draws the same numbers.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A stream keyed by several integers (seed, purpose, epoch, …).
    pub fn keyed(keys: &[u64]) -> Rng {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        for &k in keys {
            r.0 ^= k.wrapping_mul(0xD6E8_FEB8_6659_FD93);
            r.next_u64();
        }
        r
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// One augmentation draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aug {
    pub flip: bool,
    /// Counter-clockwise rotation in degrees.
    pub angle_deg: f64,
}

impl Aug {
    /// No augmentation (validation).
    pub const NONE: Aug = Aug {
        flip: false,
        angle_deg: 0.0,
    };

    /// Draws flip (probability `flip_p`) and an angle uniform in `[-max_deg, max_deg]`.
    pub fn draw(rng: &mut Rng, flip_p: f64, max_deg: f64) -> Aug {
        let flip = rng.unit() < flip_p;
        let angle_deg = (rng.unit() * 2.0 - 1.0) * max_deg;
        Aug { flip, angle_deg }
    }
}

/// Writes `src` (`h × w` grey bytes) flipped/rotated by `aug` into `dst` (`h × w` grey bytes,
/// row-major); pixels rotated in from outside the source are 0 (torchvision's fill).
pub fn augment_into(src: &[u8], h: usize, w: usize, aug: Aug, dst: &mut [u8]) {
    let plane = h * w;
    debug_assert_eq!(src.len(), plane);
    debug_assert_eq!(dst.len(), plane);
    let first = dst;
    if aug.angle_deg == 0.0 {
        for y in 0..h {
            let row = &src[y * w..(y + 1) * w];
            let out = &mut first[y * w..(y + 1) * w];
            if aug.flip {
                for (o, &v) in out.iter_mut().zip(row.iter().rev()) {
                    *o = v;
                }
            } else {
                out.copy_from_slice(row);
            }
        }
    } else {
        // Output pixel (x, y) samples the source at R(-θ)·(p − c) + c (inverse mapping), then
        // the flip mirrors x; nearest neighbour; outside the source → 0 (torchvision fill).
        let (s, c) = aug.angle_deg.to_radians().sin_cos();
        let (cx, cy) = ((w as f64 - 1.0) * 0.5, (h as f64 - 1.0) * 0.5);
        for y in 0..h {
            let dy = y as f64 - cy;
            // Image y points down, so a counter-clockwise turn on screen is clockwise in
            // (x, y) coordinates: the inverse rotation uses +θ here. Source coordinates move by
            // (c, s) per output pixel; +0.5 then truncation is round-half-up (coordinates ≥ 0).
            let mut sx = c * -cx - s * dy + cx + 0.5;
            let mut sy = s * -cx + c * dy + cy + 0.5;
            let out = &mut first[y * w..(y + 1) * w];
            for o in out.iter_mut() {
                *o = if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                    let ix = sx as usize;
                    let ix = if aug.flip { w - 1 - ix } else { ix };
                    src[sy as usize * w + ix]
                } else {
                    0
                };
                sx += c;
                sy += s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(v: u8) -> u8 {
        v
    }

    #[test]
    fn identity_flip_and_rotation() {
        let (h, w) = (4, 5);
        let src: Vec<u8> = (0..(h * w) as u8).collect();
        let mut dst = vec![0u8; h * w];
        augment_into(&src, h, w, Aug::NONE, &mut dst);
        assert_eq!(dst, src);
        augment_into(
            &src,
            h,
            w,
            Aug {
                flip: true,
                angle_deg: 0.0,
            },
            &mut dst,
        );
        assert_eq!(dst[0], px(src[w - 1]));
        assert_eq!(dst[w], px(src[2 * w - 1]));
        // A tiny rotation keeps the centre pixel and (nearest neighbour) all of them here.
        augment_into(
            &src,
            h,
            w,
            Aug {
                flip: false,
                angle_deg: 0.1,
            },
            &mut dst,
        );
        assert_eq!(dst[2 * w + 2], px(src[2 * w + 2]));
        // 90° on a square image maps corners to corners; the rest of the test image is filled.
        let sq: Vec<u8> = (0..9).collect();
        let mut out = vec![0u8; 9];
        augment_into(
            &sq,
            3,
            3,
            Aug {
                flip: false,
                angle_deg: 90.0,
            },
            &mut out,
        );
        let got = out;
        // Counter-clockwise on screen: the top-right pixel (2) moves to the top-left.
        assert_eq!(got, vec![2, 5, 8, 1, 4, 7, 0, 3, 6]);
    }

    #[test]
    fn rng_is_keyed_and_uniform_enough() {
        let a: Vec<u64> = (0..4).map(|_| Rng::keyed(&[1, 2]).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            Rng::keyed(&[1, 2]).next_u64(),
            Rng::keyed(&[1, 3]).next_u64()
        );
        let mut r = Rng::keyed(&[7]);
        let flips = (0..10_000)
            .filter(|_| Aug::draw(&mut r, 0.5, 7.0).flip)
            .count();
        assert!((4_700..5_300).contains(&flips), "{flips}");
    }
}
