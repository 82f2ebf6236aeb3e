//! Position-embedding resampling, done once at load time on the CPU (pure Rust, f32).
//!
//! A checkpoint's `pos_embed` `[1, 1 + M*M, D]` was trained on an `M x M` patch grid
//! (DINOv2: 37x37 at 518 px); a model at another resolution needs a `G x G` grid
//! (224 px / patch 14 -> 16x16). The class-token row is kept; the `M x M x D` patch part is
//! resampled with PyTorch's bicubic kernel, reproduced here rather than through burn's
//! `interpolate` (whose options default to align_corners = true and which has no antialias):
//!
//! | [`PosEmbedResample`] | reproduces | PyTorch call |
//! |---|---|---|
//! | `Dinov2Hub` (default) | torch.hub DINOv2 `interpolate_pos_encoding` | `F.interpolate(x, scale_factor=((G+0.1)/M,)*2, mode="bicubic", align_corners=False, antialias=False)` |
//! | `BicubicSize` | HF `Dinov2Model.interpolate_pos_encoding` (transformers >= 4.44) | `F.interpolate(x, size=(G, G), mode="bicubic", align_corners=False, antialias=False)` |
//! | `BicubicAntialias` | timm `resample_abs_pos_embed` (loading at another `img_size`) | `F.interpolate(x, size=(G, G), mode="bicubic", align_corners=False, antialias=True)` |
//!
//! Kernel facts (aten `UpSample.h` / `UpSampleKernel.cpp`): without antialias the source
//! coordinate is `s * (i + 0.5) - 0.5` with `s = 1 / scale_factor` when a scale factor is
//! given (else `in / out`), 4 taps with Keys' a = -0.75 and border indices clamped; with
//! antialias the PIL-style filter uses a = -0.5, support `2 * s` when downsampling, and
//! normalised weights over the in-range taps. The DINOv2 `+0.1` offset therefore changes
//! the sampling positions (s = 37/16.1, not 37/16), which is why the modes differ slightly.

use serde::{Deserialize, Serialize};

/// How a checkpoint's position grid is resampled to the model's grid.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PosEmbedResample {
    /// torch.hub DINOv2: bicubic, scale factor `(G + offset) / M`, no antialias (offset 0.1
    /// in every released hub model: `interpolate_offset=0.1`).
    Dinov2Hub {
        /// `interpolate_offset` of the hub model (0.1).
        offset: f64,
    },
    /// Bicubic to an explicit size, no antialias (Hugging Face `Dinov2Model`).
    BicubicSize,
    /// Antialiased bicubic to an explicit size (timm `resample_abs_pos_embed` default).
    BicubicAntialias,
}

impl Default for PosEmbedResample {
    fn default() -> Self {
        PosEmbedResample::Dinov2Hub { offset: 0.1 }
    }
}

/// Why a grid cannot be resampled.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ResampleError {
    /// The data length is not `prefix + h * w` rows of `dim`.
    #[error("pos_embed has {len} values, expected ({prefix} + {h}x{w}) x {dim}")]
    BadLength {
        len: usize,
        prefix: usize,
        h: usize,
        w: usize,
        dim: usize,
    },
    /// The DINOv2 scale factor does not give back the requested grid (DINOv2 asserts this too).
    #[error("scale factor {scale} on a {src}-grid gives {got} rows, not the requested {dst}")]
    ScaleMismatch {
        src: usize,
        dst: usize,
        scale: f64,
        got: usize,
    },
    /// Empty source or target grid.
    #[error("empty grid ({src} -> {dst})")]
    Empty { src: usize, dst: usize },
}

/// For every output index: the (input index, weight) taps along one axis.
type Taps = Vec<Vec<(usize, f32)>>;

/// Keys' cubic convolution weights for fractional offset `t` (aten `get_cubic_upsample_coefficients`, A = -0.75).
fn cubic_coefficients(t: f32) -> [f32; 4] {
    const A: f32 = -0.75;
    let conv1 = |x: f32| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let conv2 = |x: f32| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    let x2 = 1.0 - t;
    [conv2(t + 1.0), conv1(t), conv1(x2), conv2(x2 + 1.0)]
}

/// Non-antialiased bicubic taps; `scale` = input step per output pixel (f32 as in aten).
fn cubic_taps(in_size: usize, out_size: usize, scale: f32) -> Taps {
    (0..out_size)
        .map(|i| {
            let real = scale * (i as f32 + 0.5) - 0.5;
            let base = real.floor();
            let t = real - base;
            let w = cubic_coefficients(t);
            let last = in_size as i64 - 1;
            (0..4)
                .map(|k| {
                    let idx = (base as i64 - 1 + k as i64).clamp(0, last) as usize;
                    (idx, w[k])
                })
                .collect()
        })
        .collect()
}

/// PIL / aten antialias bicubic filter (a = -0.5).
fn aa_filter(x: f32) -> f32 {
    const A: f32 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Antialiased bicubic taps (aten `_compute_index_ranges_weights` with antialias = true).
fn antialias_taps(in_size: usize, out_size: usize) -> Taps {
    let scale = in_size as f32 / out_size as f32;
    let support = if scale >= 1.0 { 2.0 * scale } else { 2.0 };
    let invscale = if scale >= 1.0 { 1.0 / scale } else { 1.0 };
    (0..out_size)
        .map(|i| {
            let center = scale * (i as f32 + 0.5);
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64).max(0) as usize;
            let mut taps: Vec<(usize, f32)> = (xmin..xmax)
                .map(|j| (j, aa_filter((j as f32 - center + 0.5) * invscale)))
                .collect();
            let total: f32 = taps.iter().map(|(_, w)| w).sum();
            if total != 0.0 {
                taps.iter_mut().for_each(|(_, w)| *w /= total);
            }
            taps
        })
        .collect()
}

/// Resamples a channel-last grid `[h, w, c]` to `[out_h, out_w, c]` (rows first, then columns).
fn resample_hwc(src: &[f32], w: usize, c: usize, ty: &Taps, tx: &Taps) -> Vec<f32> {
    let out_h = ty.len();
    let out_w = tx.len();
    let mut rows = vec![0f32; out_h * w * c]; // [out_h, w, c]
    for (oy, taps) in ty.iter().enumerate() {
        for &(iy, wy) in taps {
            let src_row = &src[iy * w * c..(iy + 1) * w * c];
            let dst_row = &mut rows[oy * w * c..(oy + 1) * w * c];
            dst_row
                .iter_mut()
                .zip(src_row)
                .for_each(|(d, s)| *d += wy * s);
        }
    }
    let mut out = vec![0f32; out_h * out_w * c]; // [out_h, out_w, c]
    for oy in 0..out_h {
        for (ox, taps) in tx.iter().enumerate() {
            let dst = &mut out[(oy * out_w + ox) * c..(oy * out_w + ox + 1) * c];
            for &(ix, wx) in taps {
                let s = &rows[(oy * w + ix) * c..(oy * w + ix + 1) * c];
                dst.iter_mut().zip(s).for_each(|(d, v)| *d += wx * v);
            }
        }
    }
    out
}

/// Taps along one axis from `src` to `dst` cells for `method`.
fn axis_taps(src: usize, dst: usize, method: PosEmbedResample) -> Result<Taps, ResampleError> {
    if src == 0 || dst == 0 {
        return Err(ResampleError::Empty { src, dst });
    }
    Ok(match method {
        PosEmbedResample::Dinov2Hub { offset } => {
            let scale_factor = (dst as f64 + offset) / src as f64;
            // aten output size for a scale factor: floor(in * scale) (double precision).
            let got = (src as f64 * scale_factor).floor() as usize;
            if got != dst {
                return Err(ResampleError::ScaleMismatch {
                    src,
                    dst,
                    scale: scale_factor,
                    got,
                });
            }
            // aten `compute_scales_value`: 1 / scale computed in double, stored as float.
            cubic_taps(src, dst, (1.0 / scale_factor) as f32)
        }
        PosEmbedResample::BicubicSize => cubic_taps(src, dst, src as f32 / dst as f32),
        PosEmbedResample::BicubicAntialias => antialias_taps(src, dst),
    })
}

/// Resamples a channel-last grid `[src_h, src_w, c]` to `[dst_h, dst_w, c]`.
///
/// Equivalent to `F.interpolate` on the `[1, c, src_h, src_w]` permutation of the data.
pub fn resample_grid(
    src: &[f32],
    (src_h, src_w): (usize, usize),
    (dst_h, dst_w): (usize, usize),
    c: usize,
    method: PosEmbedResample,
) -> Result<Vec<f32>, ResampleError> {
    if src.len() != src_h * src_w * c {
        return Err(ResampleError::BadLength {
            len: src.len(),
            prefix: 0,
            h: src_h,
            w: src_w,
            dim: c,
        });
    }
    let ty = axis_taps(src_h, dst_h, method)?;
    let tx = axis_taps(src_w, dst_w, method)?;
    Ok(resample_hwc(src, src_w, c, &ty, &tx))
}

/// Resamples a flattened position embedding `[prefix + src*src, dim]` (prefix = class-token
/// rows, kept unchanged) to `[prefix + dst*dst, dim]`.
pub fn resample_pos_embed(
    pos: &[f32],
    prefix: usize,
    dim: usize,
    src: usize,
    dst: usize,
    method: PosEmbedResample,
) -> Result<Vec<f32>, ResampleError> {
    if pos.len() != (prefix + src * src) * dim {
        return Err(ResampleError::BadLength {
            len: pos.len(),
            prefix,
            h: src,
            w: src,
            dim,
        });
    }
    let (head, grid) = pos.split_at(prefix * dim);
    let resized = resample_grid(grid, (src, src), (dst, dst), dim, method)?;
    let mut out = Vec::with_capacity((prefix + dst * dst) * dim);
    out.extend_from_slice(head);
    out.extend_from_slice(&resized);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_identity_for_non_antialias_modes() {
        let src: Vec<f32> = (0..2 * 3 * 3).map(|v| v as f32 * 0.37 - 1.0).collect();
        let out = resample_grid(&src, (3, 3), (3, 3), 2, PosEmbedResample::BicubicSize).unwrap();
        assert_eq!(out, src);
    }

    #[test]
    fn cubic_weights_sum_to_one() {
        for t in [0.0f32, 0.25, 0.5, 0.9] {
            let s: f32 = cubic_coefficients(t).iter().sum();
            assert!((s - 1.0).abs() < 1e-6, "t={t} sum={s}");
        }
    }

    #[test]
    fn hub_mode_rejects_a_grid_the_offset_cannot_reach() {
        // floor(4 * (2 + 5.0) / 4) = 7 != 2.
        let err = axis_taps(4, 2, PosEmbedResample::Dinov2Hub { offset: 5.0 }).unwrap_err();
        assert!(matches!(err, ResampleError::ScaleMismatch { got: 7, .. }));
    }
}
