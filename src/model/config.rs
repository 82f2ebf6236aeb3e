//! Vision Transformer hyper-parameters ([`ViTConfig`]) and the named presets used by the study.
//!
//! The config is a burn `#[derive(Config)]`, so it serialises to JSON (run configs, export
//! sidecars, safetensors metadata) and gets `with_*` builders. One config describes both
//! checkpoint families the study uses:
//!
//! | preset | source | patch | dim | depth | heads | LayerScale |
//! |---|---|---|---|---|---|---|
//! | [`ViTConfig::vit_base_patch16_224`] | timm `vit_base_patch16_224.augreg_in21k` | 16 | 768 | 12 | 12 | no |
//! | [`ViTConfig::vit_base_patch14_dinov2`] | torch.hub `dinov2_vitb14` (LVD-142M) | 14 | 768 | 12 | 12 | yes |
//! | [`ViTConfig::vit_base_patch16_dinov3`] | `dinov3_vitb16` / timm `vit_base_patch16_dinov3.lvd1689m` (LVD-1689M) | 16 | 768 | 12 | 12 | yes (+ 4 registers, RoPE) |
//!
//! Invariant: images are square, `img_size % patch_size == 0`; the position embedding holds
//! `1 + (img_size / patch_size)^2` rows (class token first), or there is none (`rope`).

use burn::config::Config;

use super::rope::{DINOV3_ROPE_BASE, Rope};

/// Per-channel input normalisation applied at the start of [`super::VisionTransformer::forward`].
///
/// Inputs are `[B, 3, H, W]` f32 in `[0, 1]`; `None` feeds them unchanged (the data pipeline
/// normalises), the other variants apply `(x - mean) / std` per channel.
///
/// On the command line (`--input-norm`): `none`, `imagenet`, `inception`, `rad-dino`.
#[derive(Config, Debug, Copy, PartialEq)]
pub enum InputNorm {
    /// No normalisation: the model sees the `[0, 1]` input as is.
    None,
    /// ImageNet mean (0.485, 0.456, 0.406) / std (0.229, 0.224, 0.225): DINOv2 hub and HF processor.
    ImageNet,
    /// mean = std = (0.5, 0.5, 0.5): timm `augreg_in21k` ViT-B/16 (maps [0, 1] to [-1, 1]).
    Inception,
    /// mean 0.5307 / std 0.2583 on every channel: RAD-DINO's processor
    /// (`microsoft/rad-dino` `preprocessor_config.json`, `BitImageProcessor`: resize shortest
    /// edge 518, centre crop 518, rescale 1/255, then this mean/std; the chest-radiograph
    /// statistics of its pretraining data). Opt-in: the study feeds `[0, 1]` for every init.
    RadDino,
}

// Written out because burn's `Config` derive does not pass `#[value(...)]` through.
impl clap::ValueEnum for InputNorm {
    fn value_variants<'a>() -> &'a [Self] {
        &[InputNorm::None, InputNorm::ImageNet, InputNorm::Inception, InputNorm::RadDino]
    }
    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(match self {
            InputNorm::None => "none",
            InputNorm::ImageNet => "imagenet",
            InputNorm::Inception => "inception",
            InputNorm::RadDino => "rad-dino",
        }))
    }
}

impl InputNorm {
    /// `(mean, std)` per RGB channel, or `None` when no normalisation is applied.
    pub fn mean_std(&self) -> Option<([f32; 3], [f32; 3])> {
        match self {
            InputNorm::None => None,
            // torchvision / timm IMAGENET_DEFAULT_MEAN / IMAGENET_DEFAULT_STD.
            InputNorm::ImageNet => Some(([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])),
            // timm IMAGENET_INCEPTION_MEAN / IMAGENET_INCEPTION_STD.
            InputNorm::Inception => Some(([0.5; 3], [0.5; 3])),
            // https://huggingface.co/microsoft/rad-dino/blob/main/preprocessor_config.json
            // ("Upload processor", commit 364cf91): image_mean [0.5307]*3, image_std [0.2583]*3.
            InputNorm::RadDino => Some(([0.5307; 3], [0.2583; 3])),
        }
    }
}

/// Hyper-parameters of a pre-norm ViT with class-token pooling (timm `VisionTransformer`,
/// torch.hub DINOv2 `DinoVisionTransformer` without registers).
#[derive(Config, Debug, PartialEq)]
pub struct ViTConfig {
    /// Input image side in pixels (square images).
    pub img_size: usize,
    /// Patch side in pixels (16 for ViT-B/16, 14 for DINOv2 ViT-B/14).
    pub patch_size: usize,
    /// Token width D.
    pub embed_dim: usize,
    /// Number of transformer blocks.
    pub depth: usize,
    /// Attention heads; `embed_dim % num_heads == 0`.
    pub num_heads: usize,
    /// Classifier outputs (the head is a Linear D -> num_classes on the final-norm CLS token).
    pub num_classes: usize,
    /// MLP hidden width = round(embed_dim * mlp_ratio); 4.0 for every model in the study.
    #[config(default = 4.0)]
    pub mlp_ratio: f64,
    /// LayerScale init value (`Some(1.0)` for DINOv2, whose trained gammas are then loaded);
    /// `None` = no LayerScale (timm ViT-B/16).
    #[config(default = "None")]
    pub layer_scale: Option<f64>,
    /// Bias on the fused qkv projection (true for both timm ViT-B/16 and DINOv2).
    #[config(default = true)]
    pub qkv_bias: bool,
    /// LayerNorm epsilon: 1e-6 in timm `vision_transformer.py` (`partial(nn.LayerNorm, eps=1e-6)`)
    /// and DINOv2 `vision_transformer.py`; note burn's LayerNorm default is 1e-5.
    #[config(default = 1e-6)]
    pub layer_norm_eps: f64,
    /// Input channels (3: RGB; grey X-rays are replicated by the data pipeline).
    #[config(default = 3)]
    pub in_chans: usize,
    /// Normalisation applied inside `forward`.
    #[config(default = "InputNorm::None")]
    pub input_norm: InputNorm,
    /// Register tokens inserted after the class token (DINOv3: 4, Meta `storage_tokens`, timm
    /// `reg_token`, HF `register_tokens`); 0 for ViT-B/16 and DINOv2. Supported only with RoPE.
    #[config(default = 0)]
    pub num_registers: usize,
    /// 2-D rotary position embedding instead of a learned `pos_embed` (DINOv3, see
    /// `super::rope`); `None` = learned absolute position table.
    #[config(default = "None")]
    pub rope: Option<Rope>,
}

impl ViTConfig {
    /// timm `vit_base_patch16_224` (augreg in21k weights in the study): 224 px, patch 16, 768-d,
    /// 12 blocks, 12 heads, no LayerScale.
    pub fn vit_base_patch16_224(num_classes: usize) -> Self {
        ViTConfig::new(224, 16, 768, 12, 12, num_classes)
    }

    /// torch.hub `dinov2_vitb14` used at 224 px (16x16 patch grid; the checkpoint's 37x37
    /// position grid is resampled at load time): patch 14, 768-d, 12 blocks, 12 heads, LayerScale.
    pub fn vit_base_patch14_dinov2(num_classes: usize) -> Self {
        ViTConfig::new(224, 14, 768, 12, 12, num_classes).with_layer_scale(Some(1.0))
    }

    /// DINOv3 ViT-B/16 (`dinov3_vitb16`, timm `vit_base_patch16_dinov3`): patch 16, 768-d, 12
    /// blocks, 12 heads, 4 registers, LayerScale, RoPE base 100, LayerNorm eps 1e-5, no qkv bias
    /// (the released ViT-B biases are all zero: timm `eva.py` `vit_base_patch16_dinov3`
    /// `qkv_bias=False` and its `checkpoint_filter_fn` note). `img_size` is any multiple of 16.
    /// LayerScale init 1.0 as for DINOv2 (a loader's convention: the trained gammas replace it;
    /// Meta initialises 1e-5 for pretraining from scratch).
    pub fn vit_base_patch16_dinov3(num_classes: usize) -> Self {
        ViTConfig::new(224, 16, 768, 12, 12, num_classes)
            .with_layer_scale(Some(1.0))
            .with_qkv_bias(false)
            .with_layer_norm_eps(1e-5)
            .with_num_registers(4)
            .with_rope(Some(Rope::dinov3(64, DINOV3_ROPE_BASE)))
    }

    /// Tiny DINOv3-style ViT for tests (the shape of `scripts/gen_tiny_dinov3.py`'s models):
    /// 32 px, patch 16, 16-d, 2 blocks, 2 heads (head_dim 8), 4 registers, RoPE.
    pub fn vit_tiny_dinov3_test(num_classes: usize) -> Self {
        ViTConfig::new(32, 16, 16, 2, 2, num_classes)
            .with_layer_scale(Some(1.0))
            .with_qkv_bias(false)
            .with_layer_norm_eps(1e-5)
            .with_num_registers(4)
            .with_rope(Some(Rope::dinov3(8, DINOV3_ROPE_BASE)))
    }

    /// Tiny ViT for tests: 32 px, patch 8 (4x4 grid), 24-d, 2 blocks, 2 heads.
    pub fn vit_tiny_test(num_classes: usize) -> Self {
        ViTConfig::new(32, 8, 24, 2, 2, num_classes)
    }

    /// Tiny DINOv2-style ViT for tests: [`Self::vit_tiny_test`] plus LayerScale.
    pub fn vit_tiny_dinov2_test(num_classes: usize) -> Self {
        Self::vit_tiny_test(num_classes).with_layer_scale(Some(1.0))
    }

    /// Patches per image side (`img_size / patch_size`).
    pub fn grid_size(&self) -> usize {
        self.img_size / self.patch_size
    }

    /// Number of patch tokens N (without the class token).
    pub fn num_patches(&self) -> usize {
        self.grid_size() * self.grid_size()
    }

    /// MLP hidden width (`embed_dim * mlp_ratio`, rounded to the nearest integer).
    pub fn mlp_hidden(&self) -> usize {
        (self.embed_dim as f64 * self.mlp_ratio).round() as usize
    }

    /// Checks the divisibility invariants; returns a human-readable reason when violated.
    pub fn validate(&self) -> Result<(), String> {
        if self.patch_size == 0 || !self.img_size.is_multiple_of(self.patch_size) {
            return Err(format!(
                "img_size {} is not a multiple of patch_size {}",
                self.img_size, self.patch_size
            ));
        }
        if self.num_heads == 0 || !self.embed_dim.is_multiple_of(self.num_heads) {
            return Err(format!(
                "embed_dim {} is not divisible by num_heads {}",
                self.embed_dim, self.num_heads
            ));
        }
        if let Some(rope) = &self.rope {
            let hd = self.embed_dim / self.num_heads;
            if rope.head_dim() != hd {
                return Err(format!(
                    "RoPE has {} periods for head_dim {hd} (needs head_dim / 4)",
                    rope.periods.len()
                ));
            }
        } else if self.num_registers > 0 {
            return Err("register tokens are supported only with RoPE (DINOv3)".to_string());
        }
        if self.depth == 0 || self.num_classes == 0 || self.in_chans == 0 {
            return Err("depth, num_classes and in_chans must be positive".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::InputNorm;

    #[test]
    fn input_norm_statistics() {
        assert_eq!(InputNorm::None.mean_std(), None);
        assert_eq!(InputNorm::ImageNet.mean_std(), Some(([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])));
        assert_eq!(InputNorm::Inception.mean_std(), Some(([0.5; 3], [0.5; 3])));
        // microsoft/rad-dino preprocessor_config.json: one grey statistic on all three channels.
        assert_eq!(InputNorm::RadDino.mean_std(), Some(([0.5307; 3], [0.2583; 3])));
    }
}
