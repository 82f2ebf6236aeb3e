//! Building blocks of the ViT: patch embedding, fused-qkv attention, MLP, LayerScale and the
//! pre-norm transformer block.
//!
//! Field names are the timm / torch.hub checkpoint keys (`patch_embed.proj`, `attn.qkv`,
//! `attn.proj`, `mlp.fc1`, `mlp.fc2`, `ls1.gamma`, `norm1`, ...), so checkpoints load through
//! burn-store's `PyTorchToBurnAdapter` with no renaming (STYLE.md principle 4). Numerics follow
//! timm `vision_transformer.py` / DINOv2 `layers/block.py`: LayerNorm eps 1e-6, exact erf GELU,
//! softmax(q k^T / sqrt(head_dim)) v.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use super::config::ViTConfig;
use super::lora::LoraAdapter;
use super::precision::Precision;
use super::rope::AttnRope;

/// timm initialises Linear weights with trunc_normal(std=0.02); we use an untruncated normal
/// with the same std (only matters for training from scratch, which the study never does).
const INIT_STD: f64 = 0.02;

pub(crate) fn linear<B: Backend>(
    d_in: usize,
    d_out: usize,
    bias: bool,
    device: &B::Device,
) -> Linear<B> {
    LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: INIT_STD,
        })
        .init(device)
}

pub(crate) fn layer_norm<B: Backend>(cfg: &ViTConfig, device: &B::Device) -> LayerNorm<B> {
    LayerNormConfig::new(cfg.embed_dim)
        .with_epsilon(cfg.layer_norm_eps)
        .init(device)
}

/// Non-overlapping patch projection (`patch_embed.proj`: Conv2d, kernel = stride = patch).
#[derive(Module, Debug)]
pub struct PatchEmbed<B: Backend> {
    /// Conv2d `[D, C, P, P]` weight + `[D]` bias (same layout in PyTorch and burn).
    pub proj: Conv2d<B>,
}

impl<B: Backend> PatchEmbed<B> {
    /// Builds the projection for `cfg`.
    pub fn new(cfg: &ViTConfig, device: &B::Device) -> Self {
        let p = cfg.patch_size;
        let proj = Conv2dConfig::new([cfg.in_chans, cfg.embed_dim], [p, p])
            .with_stride([p, p])
            .init(device);
        Self { proj }
    }

    /// # Shapes
    /// - input: `[B, C, H, W]` with `H, W` multiples of the patch size
    /// - output: `[B, N, D]`, `N = (H / P) * (W / P)` patches in row-major order
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 3> {
        let x = self.proj.forward(x); // [B, D, H/P, W/P]
        x.flatten::<3>(2, 3) // [B, D, N]
            .swap_dims(1, 2) // [B, N, D]
    }
}

/// Multi-head self-attention with one fused `qkv` projection (timm `Attention`, DINOv2
/// `MemEffAttention`); output rows are q | k | v, each split into heads as `[H, head_dim]`.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// Linear D -> 3D (PyTorch `[3D, D]` weight; burn stores `[D, 3D]`).
    pub qkv: Linear<B>,
    /// Linear D -> D.
    pub proj: Linear<B>,
    /// Number of heads H.
    pub num_heads: usize,
    /// LoRA adapter added to `qkv` (`--finetune lora`; see [`super::lora`]).
    pub qkv_lora: Option<LoraAdapter<B>>,
    /// LoRA adapter added to `proj`.
    pub proj_lora: Option<LoraAdapter<B>>,
    /// DINOv3 rotary position embedding of q and k (`None`: learned `pos_embed` models).
    pub rope: Option<AttnRope>,
}

impl<B: Backend> Attention<B> {
    /// Builds the attention for `cfg`.
    pub fn new(cfg: &ViTConfig, device: &B::Device) -> Self {
        let d = cfg.embed_dim;
        Self {
            qkv: linear(d, 3 * d, cfg.qkv_bias, device),
            proj: linear(d, d, true, device),
            num_heads: cfg.num_heads,
            qkv_lora: None,
            proj_lora: None,
            rope: cfg
                .rope
                .clone()
                .map(|rope| AttnRope::new(rope, 1 + cfg.num_registers)),
        }
    }

    /// `precision` is the matmuls' (see [`Precision`]); input and output are f32 either way.
    ///
    /// # Shapes
    /// - input: `[B, T, D]` tokens (T = 1 + N)
    /// - output: `[B, T, D]`
    pub fn forward(&self, x: Tensor<B, 3>, precision: Precision) -> Tensor<B, 3> {
        let [b, t, d] = x.dims();
        let h = self.num_heads;
        let hd = d / h;
        // bf16: the qkv product stays bf16 up to the scores (as under autocast).
        let x = precision.compute(x);
        let qkv = match precision {
            Precision::F32 => self.qkv.forward(x.clone()),
            Precision::Bf16 => burn::tensor::module::linear(
                x.clone(),
                precision.compute(self.qkv.weight.val()),
                self.qkv.bias.as_ref().map(|b| precision.compute(b.val())),
            ),
        };
        let qkv = match &self.qkv_lora {
            Some(l) => qkv + l.delta(x, precision),
            None => qkv,
        }
        .reshape([b, t, 3, h, hd]); // [B, T, 3, H, hd]
        let take = |i: usize| {
            qkv.clone()
                .narrow(2, i, 1) // [B, T, 1, H, hd]
                .reshape([b, t, h, hd]) // [B, T, H, hd]
                .swap_dims(1, 2) // [B, H, T, hd]
        };
        let (q, k, v) = (take(0), take(1), take(2));
        // DINOv3: rotate the patch tokens' q and k (`super::rope`); the k bias never acts.
        let (q, k) = match &self.rope {
            Some(r) => {
                let k_bias = self.qkv.bias.as_ref().map(|b| b.val().narrow(0, d, d));
                r.rotate(q, k, k_bias)
            }
            None => (q, k),
        };
        match precision {
            Precision::F32 => {
                // Default scale is 1/sqrt(head_dim), as in timm (`head_dim ** -0.5`). burn's
                // fused op (flash attention on CUDA for inference; decomposed under autodiff).
                let out = attention(q, k, v, None, None, AttentionModuleOptions::default()); // [B, H, T, hd]
                let out = out.swap_dims(1, 2).reshape([b, t, d]); // [B, T, D]
                match &self.proj_lora {
                    Some(l) => self.proj.forward(out.clone()) + l.delta(out, precision),
                    None => self.proj.forward(out),
                }
            }
            Precision::Bf16 => {
                // Scores in bf16, softmax in f32, probabilities back to bf16 for `· v`. q is
                // scaled by 1/sqrt(head_dim) before the product (as PyTorch's SDPA does), not the
                // T×T scores: T/hd times less traffic forward and backward (3× at 224 px, 16× at
                // 1024 px). For head_dim 64 (every ViT-B) the scale is 2⁻³, exact in bf16, so
                // the scores are bit-identical to scaling them afterwards.
                let q = q.mul_scalar((hd as f64).powf(-0.5)); // [B, H, T, hd] bf16
                let scores = precision.back(q.matmul(k.swap_dims(2, 3))); // [B, H, T, T] f32
                let p = softmax(scores, 3);
                let out = precision.compute(p).matmul(v); // [B, H, T, hd] bf16
                let out = out.swap_dims(1, 2).reshape([b, t, d]); // [B, T, D] bf16
                let proj = burn::tensor::module::linear(
                    out.clone(),
                    precision.compute(self.proj.weight.val()),
                    self.proj.bias.as_ref().map(|b| precision.compute(b.val())),
                );
                let proj = match &self.proj_lora {
                    Some(l) => proj + l.delta(out, precision),
                    None => proj,
                };
                precision.back(proj)
            }
        }
    }
}

/// Two-layer MLP with exact (erf) GELU (`nn.GELU()` default in timm and DINOv2).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Linear D -> hidden.
    pub fc1: Linear<B>,
    /// Linear hidden -> D.
    pub fc2: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    /// Builds the MLP for `cfg`.
    pub fn new(cfg: &ViTConfig, device: &B::Device) -> Self {
        let hidden = cfg.mlp_hidden();
        Self {
            fc1: linear(cfg.embed_dim, hidden, true, device),
            fc2: linear(hidden, cfg.embed_dim, true, device),
        }
    }

    /// `precision` is the two matmuls' (GELU runs in f32); input and output are f32.
    ///
    /// # Shapes
    /// - input: `[B, T, D]`
    /// - output: `[B, T, D]`
    pub fn forward(&self, x: Tensor<B, 3>, precision: Precision) -> Tensor<B, 3> {
        let x = precision.linear(&self.fc1, x); // [B, T, hidden]
        precision.linear(&self.fc2, gelu(x)) // [B, T, D]
    }
}

/// Per-channel residual scaling (DINOv2 / timm `LayerScale`, key `ls{1,2}.gamma`).
#[derive(Module, Debug)]
pub struct LayerScale<B: Backend> {
    /// `[D]` scale, initialised to the config's `layer_scale` value.
    pub gamma: Param<Tensor<B, 1>>,
}

impl<B: Backend> LayerScale<B> {
    /// A `[dim]` scale filled with `init`.
    pub fn new(dim: usize, init: f64, device: &B::Device) -> Self {
        Self {
            gamma: Initializer::Constant { value: init }.init([dim], device),
        }
    }

    /// # Shapes
    /// - input: `[B, T, D]`
    /// - output: `[B, T, D]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let d = self.gamma.dims()[0];
        x * self.gamma.val().reshape([1, 1, d])
    }
}

/// Pre-norm transformer block: `x + ls1(attn(norm1(x)))`, then `x + ls2(mlp(norm2(x)))`.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// LayerNorm before attention.
    pub norm1: LayerNorm<B>,
    /// Self-attention.
    pub attn: Attention<B>,
    /// LayerScale after attention (DINOv2 only).
    pub ls1: Option<LayerScale<B>>,
    /// LayerNorm before the MLP.
    pub norm2: LayerNorm<B>,
    /// Feed-forward MLP.
    pub mlp: Mlp<B>,
    /// LayerScale after the MLP (DINOv2 only).
    pub ls2: Option<LayerScale<B>>,
}

impl<B: Backend> Block<B> {
    /// Builds one block for `cfg`.
    pub fn new(cfg: &ViTConfig, device: &B::Device) -> Self {
        let ls = || {
            cfg.layer_scale
                .map(|v| LayerScale::new(cfg.embed_dim, v, device))
        };
        Self {
            norm1: layer_norm(cfg, device),
            attn: Attention::new(cfg, device),
            ls1: ls(),
            norm2: layer_norm(cfg, device),
            mlp: Mlp::new(cfg, device),
            ls2: ls(),
        }
    }

    /// `precision` is the matmuls' (see [`Precision`]); the residual stream stays f32.
    ///
    /// # Shapes
    /// - input: `[B, T, D]`
    /// - output: `[B, T, D]`
    pub fn forward(&self, x: Tensor<B, 3>, precision: Precision) -> Tensor<B, 3> {
        let a = self.attn.forward(self.norm1.forward(x.clone()), precision);
        let a = match &self.ls1 {
            Some(ls) => ls.forward(a),
            None => a,
        };
        let x = x + a;
        let m = self.mlp.forward(self.norm2.forward(x.clone()), precision);
        let m = match &self.ls2 {
            Some(ls) => ls.forward(m),
            None => m,
        };
        x + m
    }
}
