//! Compute precision of the ViT's matrix products: f32 (the study) or bf16 mixed precision.
//!
//! `Bf16` is what PyTorch `torch.autocast(dtype=torch.bfloat16)` does for a ViT, by hand (burn
//! 0.21 has no autocast; `../shared/reference/gpu.md` §1): parameters stay f32 (so gradients,
//! AdamW moments, checkpoints and `--resume` records stay f32 — burn's differentiable
//! `cast` returns the gradient in the input's dtype); the inputs and weights of the six matmuls
//! of each block (`qkv`, `proj`, `fc1`, `fc2`, `q·kᵀ`, `softmax·v`) are cast to bf16, and their
//! outputs back to f32 before anything else touches them. LayerNorm, softmax (the scores are
//! cast to f32 first), GELU, the residual stream, LayerScale, the patch embedding (≈1 % of the
//! FLOPs), the head and the loss run in f32, as on autocast's fp32 list.
//!
//! Why not a pure `Cuda<bf16>` backend: an lr-1e-5 AdamW update changes a weight by ~1e-5 of
//! itself, far below bf16's half-ULP of 2⁻⁹ ≈ 2e-3 relative, so it would be rounded away.

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{FloatDType, Tensor};
use serde::{Deserialize, Serialize};

/// The precision of the ViT's matmuls; recorded as `"precision"` in a run's `config.json`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Every op in f32 (on NVIDIA tensor cores burn runs f32 matmuls as TF32). The study's.
    #[default]
    F32,
    /// bf16 matmuls with f32 master weights, f32 norms/softmax/residual/head/loss.
    Bf16,
}

impl Precision {
    /// The name used on the command line and in `config.json` (`f32`, `bf16`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }

    /// Casts a tensor to this precision's matmul dtype (a no-op for f32).
    pub fn compute<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Precision::F32 => x,
            Precision::Bf16 => x.cast(FloatDType::BF16),
        }
    }

    /// Casts a matmul result back to f32 (a no-op for f32).
    pub fn back<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Precision::F32 => x,
            Precision::Bf16 => x.cast(FloatDType::F32),
        }
    }

    /// `x · W + b` (burn `Linear`, weight `[d_in, d_out]`) with the product in this precision.
    ///
    /// # Shapes
    /// - input: `[..., d_in]` f32
    /// - output: `[..., d_out]` f32
    pub fn linear<B: Backend, const D: usize>(self, l: &Linear<B>, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Precision::F32 => l.forward(x),
            Precision::Bf16 => {
                let w = self.compute(l.weight.val());
                let b = l.bias.as_ref().map(|b: &Param<Tensor<B, 1>>| self.compute(b.val()));
                self.back(burn::tensor::module::linear(self.compute(x), w, b))
            }
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
