//! DINOv3's 2-D rotary position embedding (RoPE): no learned position table, so any input whose
//! sides are multiples of the patch size works without resampling.
//!
//! The reference is Meta's `RopePositionEmbedding` (facebookresearch/dinov3 @ 6876159a,
//! `dinov3/layers/rope_position_encoding.py`, `forward` and `_init_weights`) and its ports
//! (timm 1.0.31 `timm/layers/pos_embed_sincos.py` `RotaryEmbeddingDinoV3` lines 1381-1600 and
//! `_build_grid` lines 116-188; transformers 5.24 `models/dinov3_vit/modeling_dinov3_vit.py`
//! `DINOv3ViTRopePositionEmbedding` and `apply_rotary_pos_emb`):
//!
//! - **Periods**: `base^(2i / (head_dim / 2))` for `i in 0..head_dim/4`, base 100 for every
//!   released DINOv3 ViT (Meta `hub/backbones.py` `pos_embed_rope_base=100`; timm
//!   `rope_temperature=100`; HF `rope_theta=100.0`). transformers writes the same thing as
//!   `inv_freq = 1 / base ** arange(0, 1, 4 / head_dim)`. Meta's `.pth` stores the periods as the
//!   persistent buffer `rope_embed.periods`, rounded to bf16 in the released files (timm's note in
//!   `_compute_periods`); Meta's own model uses those stored values, so cxr does too when it
//!   loads a Meta file, and computes them in f32 otherwise (timm, HF).
//! - **Coordinates**: patch centres `(arange(0.5, S) / S)` per axis ("separate" normalisation,
//!   the released default; "min"/"max" divide by `min(H, W)`/`max(H, W)`), mapped to `[-1, 1]`
//!   by `2c - 1`, row (y) coordinate first ("ij" meshgrid), patches in row-major order.
//! - **Angles**: `2π · coord / period`, laid out `[y·p0 .. y·p(k-1), x·p0 .. x·p(k-1)]`
//!   (`k = head_dim / 4`), then tiled twice to `head_dim` ("rotate-half" layout).
//! - **Rotation**: `x·cos + rotate_half(x)·sin` with `rotate_half([a, b]) = [-b, a]` over the
//!   whole head dimension, applied to q and k of the **patch tokens only**; the class and register
//!   tokens (the first `1 + R` tokens) are left unrotated.
//! - **Training-time augmentations** (shift / jitter / `rescale_coords=2` in the released
//!   config) are applied only in `training` mode by Meta and HF, and timm's released DINOv3
//!   models set none; they are pretraining augmentations, disabled at evaluation. cxr never
//!   applies them (fine-tuning uses the evaluation geometry, as timm does).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// RoPE base of every released DINOv3 ViT (see the module docs for the three sources).
pub const DINOV3_ROPE_BASE: f64 = 100.0;

/// How patch-centre coordinates are normalised (Meta `normalize_coords`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RopeNormalize {
    /// Each axis by its own patch count (the released DINOv3 default).
    #[default]
    Separate,
    /// Both axes by `min(H, W)`.
    Min,
    /// Both axes by `max(H, W)`.
    Max,
}

/// The rotary embedding of one attention layer (a constant, not a parameter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rope {
    /// `head_dim / 4` periods (see module docs).
    pub periods: Vec<f32>,
    /// Coordinate normalisation.
    #[serde(default)]
    pub normalize_coords: RopeNormalize,
}

impl Rope {
    /// DINOv3 RoPE for `head_dim`-wide heads with `base` (100 for the released models), periods
    /// computed in f64 and rounded to f32.
    pub fn dinov3(head_dim: usize, base: f64) -> Self {
        let half = (head_dim / 2) as f64;
        let periods = (0..head_dim / 4)
            .map(|i| base.powf(2.0 * i as f64 / half) as f32)
            .collect();
        Self {
            periods,
            normalize_coords: RopeNormalize::Separate,
        }
    }

    /// Head width this RoPE rotates (`4 * periods`).
    pub fn head_dim(&self) -> usize {
        4 * self.periods.len()
    }

    /// `(sin, cos)` for a `gh x gw` patch grid, each `[gh * gw, head_dim]` row-major.
    pub fn sin_cos(&self, gh: usize, gw: usize) -> (Vec<f32>, Vec<f32>) {
        let (dh, dw) = match self.normalize_coords {
            RopeNormalize::Separate => (gh as f64, gw as f64),
            RopeNormalize::Min => (gh.min(gw) as f64, gh.min(gw) as f64),
            RopeNormalize::Max => (gh.max(gw) as f64, gh.max(gw) as f64),
        };
        let k = self.periods.len();
        let hd = 4 * k;
        let mut sin = Vec::with_capacity(gh * gw * hd);
        let mut cos = Vec::with_capacity(gh * gw * hd);
        let mut angles = vec![0f64; 2 * k];
        for y in 0..gh {
            // Coordinates in f32 as the references compute them, then angles in f64.
            let cy = (2.0 * ((y as f32 + 0.5) / dh as f32) - 1.0) as f64;
            for x in 0..gw {
                let cx = (2.0 * ((x as f32 + 0.5) / dw as f32) - 1.0) as f64;
                for (i, p) in self.periods.iter().enumerate() {
                    angles[i] = 2.0 * std::f64::consts::PI * cy / *p as f64;
                    angles[k + i] = 2.0 * std::f64::consts::PI * cx / *p as f64;
                }
                for _ in 0..2 {
                    sin.extend(angles.iter().map(|a| a.sin() as f32));
                    cos.extend(angles.iter().map(|a| a.cos() as f32));
                }
            }
        }
        (sin, cos)
    }

    /// Rotates the patch tokens of `q` and `k`; the first `prefix` tokens (class + registers)
    /// pass unchanged. The patch grid is square (`sqrt(T - prefix)` per side, as every cxr input
    /// is). `k_bias` (the k third of a fused qkv bias, `[H * hd]`) is subtracted from `k` first:
    /// DINOv3 keeps the key bias at zero (Meta `LinearKMaskedBias`, timm's non-persistent zero
    /// `k_bias`, HF `key_bias=False`), so a fused bias's k part never acts and gets no gradient.
    ///
    /// # Shapes
    /// - `q`, `k`: `[B, H, T, hd]` (any float dtype; sin/cos follow it)
    /// - `k_bias`: `[H * hd]`
    /// - output: `[B, H, T, hd]` each
    pub fn rotate<B: Backend>(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        prefix: usize,
        k_bias: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let (k, side) = self.prepare(&q, k, prefix, k_bias);
        let table = self.sin_cos(side, side);
        self.rotate_with(q, k, prefix, table)
    }

    /// Removes the k bias and returns the patch grid side (checked square and `head_dim` wide).
    fn prepare<B: Backend>(
        &self,
        q: &Tensor<B, 4>,
        k: Tensor<B, 4>,
        prefix: usize,
        k_bias: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 4>, usize) {
        let [_, h, t, hd] = q.dims();
        let k = match k_bias {
            Some(bias) => k - bias.cast(q.dtype()).reshape([1, h, 1, hd]),
            None => k,
        };
        let n = t.saturating_sub(prefix);
        let side = (n as f64).sqrt().round() as usize;
        if n == 0 || side * side != n || hd != self.head_dim() {
            // Not a square patch grid of this width: a caller bug that validate() prevents.
            panic!(
                "RoPE: {n} patch tokens of width {hd} are not a square grid for head_dim {}",
                self.head_dim()
            );
        }
        (k, side)
    }

    /// [`Self::rotate`] with precomputed `(sin, cos)` `[N, hd]` of the square patch grid.
    fn rotate_with<B: Backend>(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        prefix: usize,
        (sin, cos): (Vec<f32>, Vec<f32>),
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let [_, _, t, hd] = q.dims();
        let n = t - prefix;
        let device = q.device();
        let dtype = q.dtype();
        let sin = Tensor::<B, 2>::from_data(TensorData::new(sin, [n, hd]), &device)
            .cast(dtype)
            .reshape([1, 1, n, hd]);
        let cos = Tensor::<B, 2>::from_data(TensorData::new(cos, [n, hd]), &device)
            .cast(dtype)
            .reshape([1, 1, n, hd]);
        let rot = |x: Tensor<B, 4>| {
            let pre = x.clone().narrow(2, 0, prefix); // [B, H, prefix, hd]
            let pat = x.narrow(2, prefix, n); // [B, H, N, hd]
            let x1 = pat.clone().narrow(3, 0, hd / 2);
            let x2 = pat.clone().narrow(3, hd / 2, hd / 2);
            let half = Tensor::cat(vec![x2.neg(), x1], 3); // rotate_half: [-x2, x1]
            let pat = pat * cos.clone() + half * sin.clone(); // [B, H, N, hd]
            Tensor::cat(vec![pre, pat], 2) // [B, H, T, hd]
        };
        (rot(q), rot(k))
    }
}

/// `(sin, cos)`, each `[N, head_dim]` row-major.
type SinCos = (Vec<f32>, Vec<f32>);

/// The RoPE of one attention layer plus how many leading tokens it leaves unrotated.
#[derive(Debug, Clone)]
pub struct AttnRope {
    /// Periods and coordinate normalisation.
    pub rope: Rope,
    /// Class token + register tokens (`1 + R`), never rotated.
    pub prefix: usize,
    /// Host-side `(sin, cos)` per grid side, computed once (1024 px: 4096 x 64 values each).
    cache: Arc<Mutex<HashMap<usize, SinCos>>>,
}

impl AttnRope {
    /// `rope` for a model with `prefix` = 1 + registers leading tokens.
    pub fn new(rope: Rope, prefix: usize) -> Self {
        Self {
            rope,
            prefix,
            cache: Arc::default(),
        }
    }

    /// [`Rope::rotate`] with the sin/cos table of the grid cached.
    ///
    /// # Shapes
    /// - `q`, `k`: `[B, H, T, hd]`; `k_bias`: `[H * hd]`; output `[B, H, T, hd]` each
    pub fn rotate<B: Backend>(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        k_bias: Option<Tensor<B, 1>>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let (k, side) = self.rope.prepare(&q, k, self.prefix, k_bias);
        let table = {
            let mut cache = self
                .cache
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            cache
                .entry(side)
                .or_insert_with(|| self.rope.sin_cos(side, side))
                .clone()
        };
        self.rope.rotate_with(q, k, self.prefix, table)
    }
}
