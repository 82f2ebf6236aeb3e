//! The Vision Transformer: patch embedding + class token + learned absolute position
//! embedding -> pre-norm blocks -> final LayerNorm -> linear head on the class token.
//!
//! This is timm `VisionTransformer` (class-token pooling, no `fc_norm`) and torch.hub DINOv2
//! `DinoVisionTransformer.forward` (`head(x_norm_clstoken)`) in one module; the architectural
//! switches are LayerScale (`ViTConfig::layer_scale`) and, for DINOv3 (Meta
//! `dinov3/models/vision_transformer.py`, timm `Eva` with `rope_type='dinov3'`), register
//! tokens plus 2-D RoPE in place of `pos_embed` (`ViTConfig::{num_registers, rope}`; the head
//! still reads the final-norm class token, timm `global_pool='token'`). Field names are checkpoint
//! keys (`patch_embed.proj`, `cls_token`, `pos_embed`, `blocks.N.*`, `norm`, `head`).
//!
//! The position embedding has a fixed grid (`img_size / patch_size`); checkpoints trained at
//! another grid are resampled once at load time (`super::pos_embed`), never per forward, so
//! inputs must be exactly `img_size` x `img_size`. RoPE models have no grid and take any square
//! input whose side is a multiple of the patch size.

use burn::module::{Module, Param};
use burn::nn::{Initializer, LayerNorm, Linear};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::blocks::{Block, PatchEmbed, layer_norm, linear};
use super::config::{InputNorm, ViTConfig};
use super::precision::Precision;

/// timm draws `pos_embed` from trunc_normal(std=0.02) and `cls_token` from normal(std=1e-6).
const POS_EMBED_STD: f64 = 0.02;
const CLS_TOKEN_STD: f64 = 1e-6;

/// A ViT classifier whose parameter tree mirrors the timm / torch.hub key tree.
#[derive(Module, Debug)]
pub struct VisionTransformer<B: Backend> {
    /// Patch projection (`patch_embed.proj`).
    pub patch_embed: PatchEmbed<B>,
    /// Learned class token `[1, 1, D]`.
    pub cls_token: Param<Tensor<B, 3>>,
    /// Position embedding `[1, 1 + N, D]`, class-token slot first; `None` for RoPE models
    /// (DINOv3), whose positions enter in attention (`super::rope`).
    pub pos_embed: Option<Param<Tensor<B, 3>>>,
    /// Register tokens `[1, R, D]` after the class token (DINOv3 `storage_tokens`); `None` = 0.
    pub register_tokens: Option<Param<Tensor<B, 3>>>,
    /// Transformer blocks (`blocks.0` ... `blocks.{depth-1}`).
    pub blocks: Vec<Block<B>>,
    /// Final LayerNorm.
    pub norm: LayerNorm<B>,
    /// Classifier Linear D -> num_classes on the normalised class token.
    pub head: Linear<B>,
    /// Input normalisation applied first in `forward` (not a parameter).
    pub input_norm: InputNorm,
    /// Expected input side in pixels (not a parameter).
    pub img_size: usize,
    /// LayerNorm epsilon used by every norm (not a parameter; kept for [`Self::config`]).
    pub layer_norm_eps: f64,
    /// Precision of the blocks' matmuls (not a parameter; f32 unless set with
    /// [`VisionTransformer::with_precision`]). Parameters are f32 either way.
    pub precision: Precision,
}

impl ViTConfig {
    /// Builds a randomly initialised model (timm-like init; loading replaces everything but
    /// possibly the head). Panics only on an invalid config; call [`ViTConfig::validate`] first
    /// when the config comes from user input.
    pub fn init<B: Backend>(&self, device: &B::Device) -> VisionTransformer<B> {
        if let Err(reason) = self.validate() {
            panic!("invalid ViTConfig: {reason}");
        }
        let d = self.embed_dim;
        VisionTransformer {
            patch_embed: PatchEmbed::new(self, device),
            cls_token: Initializer::Normal {
                mean: 0.0,
                std: CLS_TOKEN_STD,
            }
            .init([1, 1, d], device),
            pos_embed: self.rope.is_none().then(|| {
                Initializer::Normal {
                    mean: 0.0,
                    std: POS_EMBED_STD,
                }
                .init([1, 1 + self.num_patches(), d], device)
            }),
            register_tokens: (self.num_registers > 0).then(|| {
                Initializer::Normal {
                    mean: 0.0,
                    std: POS_EMBED_STD,
                }
                .init([1, self.num_registers, d], device)
            }),
            blocks: (0..self.depth).map(|_| Block::new(self, device)).collect(),
            norm: layer_norm(self, device),
            head: linear(d, self.num_classes, true, device),
            input_norm: self.input_norm,
            img_size: self.img_size,
            layer_norm_eps: self.layer_norm_eps,
            precision: Precision::F32,
        }
    }
}

impl<B: Backend> VisionTransformer<B> {
    /// The same model computing its matmuls in `precision` (parameters untouched).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Final-norm token sequence (timm `forward_features`, DINOv2 `x_norm`).
    ///
    /// # Shapes
    /// - input: `[B, 3, H, W]` f32, `H = W = img_size` (RoPE models: any square side that is a
    ///   multiple of the patch size), values in `[0, 1]` (normalised here per `input_norm`)
    /// - output: `[B, 1 + R + N, D]`, class token first, then the R register tokens
    pub fn forward_features(&self, images: Tensor<B, 4>) -> Tensor<B, 3> {
        let x = self.normalize(images);
        let x = self.patch_embed.forward(x); // [B, N, D]
        let [b, _, d] = x.dims();
        let cls = self.cls_token.val().expand([b, 1, d]); // [B, 1, D]
        let x = Tensor::cat(vec![cls, x], 1); // [B, 1 + N, D]
        let x = match &self.pos_embed {
            Some(pos) => x + pos.val(), // [B, 1 + N, D]
            None => x,
        };
        // Registers go after the class token and carry no position (DINOv3 `prepare_tokens`).
        let mut x = match &self.register_tokens {
            Some(reg) => {
                let r = reg.dims()[1];
                let cls = x.clone().narrow(1, 0, 1);
                let n = x.dims()[1] - 1;
                let patches = x.narrow(1, 1, n);
                Tensor::cat(vec![cls, reg.val().expand([b, r, d]), patches], 1) // [B, 1 + R + N, D]
            }
            None => x,
        };
        for block in &self.blocks {
            x = block.forward(x, self.precision);
        }
        self.norm.forward(x)
    }

    /// Final-norm class token (DINOv2 `x_norm_clstoken`, HF `Dinov2Model.pooler_output`).
    ///
    /// # Shapes
    /// - input: `[B, 3, img_size, img_size]`
    /// - output: `[B, D]`
    pub fn forward_cls(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self.forward_features(images); // [B, 1 + N, D]
        let [b, _, d] = x.dims();
        x.narrow(1, 0, 1).reshape([b, d]) // [B, D]
    }

    /// Class logits (before sigmoid / softmax).
    ///
    /// # Shapes
    /// - input: `[B, 3, img_size, img_size]`
    /// - output: `[B, num_classes]`
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        self.head.forward(self.forward_cls(images))
    }

    /// Token width D.
    pub fn embed_dim(&self) -> usize {
        self.cls_token.dims()[2]
    }

    /// Number of classifier outputs.
    pub fn num_classes(&self) -> usize {
        self.head.weight.dims()[1]
    }

    /// The configuration this model corresponds to, read back from its tensors.
    pub fn config(&self) -> ViTConfig {
        let [d, c, p, _] = self.patch_embed.proj.weight.dims();
        let first = self.blocks.first();
        let heads = first.map_or(1, |b| b.attn.num_heads);
        let hidden = first.map_or(4 * d, |b| b.mlp.fc1.weight.dims()[1]);
        let layer_scale = first.and_then(|b| b.ls1.as_ref()).map(|_| 1.0);
        let qkv_bias = first.is_none_or(|b| b.attn.qkv.bias.is_some());
        let rope = first
            .and_then(|b| b.attn.rope.as_ref())
            .map(|r| r.rope.clone());
        let registers = self.register_tokens.as_ref().map_or(0, |r| r.dims()[1]);
        ViTConfig::new(
            self.img_size,
            p,
            d,
            self.blocks.len(),
            heads,
            self.num_classes(),
        )
        .with_mlp_ratio(hidden as f64 / d as f64)
        .with_layer_scale(layer_scale)
        .with_qkv_bias(qkv_bias)
        .with_layer_norm_eps(self.layer_norm_eps)
        .with_in_chans(c)
        .with_input_norm(self.input_norm)
        .with_num_registers(registers)
        .with_rope(rope)
    }

    /// Patches per image side of the position grid (`img_size / patch` for RoPE models, which
    /// have no fixed grid).
    pub fn grid_size(&self) -> usize {
        match &self.pos_embed {
            Some(pos) => ((pos.dims()[1] - 1) as f64).sqrt().round() as usize,
            None => self.img_size / self.patch_embed.proj.weight.dims()[2],
        }
    }

    /// # Shapes
    /// - input / output: `[B, C, H, W]`
    fn normalize(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self.input_norm.mean_std() {
            None => x,
            Some((mean, std)) => {
                let device = x.device();
                let mean = Tensor::<B, 1>::from_floats(mean, &device).reshape([1, 3, 1, 1]);
                let std = Tensor::<B, 1>::from_floats(std, &device).reshape([1, 3, 1, 1]);
                (x - mean) / std
            }
        }
    }
}
