//! The Vision Transformer shared by training and evaluation, with verified weight import and
//! timm-compatible export.
//!
//! | file | job |
//! |---|---|
//! | `config.rs` | [`ViTConfig`] (burn `Config`) and the study's presets |
//! | `blocks.rs` | patch embedding, fused-qkv attention, MLP, LayerScale, pre-norm block |
//! | `precision.rs` | [`Precision`]: f32, or bf16 matmuls with f32 master weights (manual autocast) |
//! | `input.rs` | [`grey_to_input`]: stored 8-bit grey → `[B, 3, H, W]` f32 on the device |
//! | `vit.rs` | [`VisionTransformer`]: `forward` `[B, 3, H, W]` in `[0, 1]` -> logits `[B, C]` |
//! | `pos_embed.rs` | one-time bicubic position-grid resampling (PyTorch-exact) |
//! | `rope.rs` | DINOv3 2-D rotary position embedding ([`Rope`]) |
//! | `dinov3_keys.rs` | DINOv3 checkpoints (timm Eva, Meta `.pth`, HF `DINOv3ViTModel`) -> our keys |
//! | `checkpoint.rs` | timm / own safetensors, torch.hub `.pth`, HF `Dinov2Model` -> timm-keyed tensors |
//! | `load_types.rs` | [`LoadTarget`], [`LoadReport`], [`LoadError`] |
//! | `weights.rs` | [`load_vit`]: infer architecture, resample, swap head, verify |
//! | `export.rs` | [`export_safetensors`]: timm-keyed safetensors + JSON sidecar |
//! | `lora.rs` | [`LoraAdapter`] on qkv/proj, merging, the frozen backbone, peft-named adapter files |
//!
//! Field names are the timm / torch.hub checkpoint keys, so checkpoints load with burn-store's
//! `PyTorchToBurnAdapter` and no renaming; only Hugging Face files need a rename table and a
//! q/k/v fusion.
//!
//! # Using an exported model in Python (timm)
//!
//! The sidecar `model.json` written next to `model.safetensors` carries `timm_model_name`,
//! `timm_kwargs` (architecture and `num_classes`), `labels` and `preprocessing`:
//!
//! ```python
//! import json, timm, safetensors.torch
//! side = json.load(open("model.json"))
//! model = timm.create_model(side["timm_model_name"], pretrained=False, **side["timm_kwargs"])
//! model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
//! ```
//!
//! Feed it images scaled to `[0, 1]` and normalised with `preprocessing.mean/std`; outputs are
//! logits in `labels` order. (`scripts/gen_tiny_vit.py --check-export` runs exactly these lines
//! and compares logits with the Rust model.)
//!
//! # Tensor layouts
//!
//! Checkpoints are PyTorch layout (Linear `[out, in]`); burn's `Linear` stores `[in, out]`.
//! Position embeddings are `[1, 1 + N, D]` with the class-token slot first; the grid is fixed
//! at load time (`img_size / patch_size`), never resampled per forward.

mod blocks;
mod checkpoint;
mod config;
mod dinov3_keys;
mod export;
mod input;
mod load_types;
mod lora;
mod pos_embed;
mod precision;
mod rope;
mod vit;
mod weights;

pub use blocks::{Attention, Block, LayerScale, Mlp, PatchEmbed};
pub use checkpoint::{
    CheckpointSource, HF_RENAMES, META_VIT_CONFIG, RawTensor, StateDict, read_checkpoint,
};
pub use config::{InputNorm, ViTConfig};
pub use dinov3_keys::{HF_DINOV3_RENAMES, META_DINOV3, ROPE_PERIODS_KEY};
pub use export::{
    ExportError, ExportOutput, ExportSidecar, Preprocessing, Sidecar, export_safetensors, timm_kwargs,
    timm_model_name,
};
pub use input::grey_to_input;
pub use lora::{LoraAdapter, LoraFileError, META_LORA_ALPHA, META_LORA_RANK, load_adapters, save_adapters};
pub use load_types::{LoadError, LoadReport, LoadTarget, PosEmbedResampling};
pub use precision::Precision;
pub use rope::{AttnRope, DINOV3_ROPE_BASE, Rope, RopeNormalize};
pub use pos_embed::{PosEmbedResample, ResampleError, resample_grid, resample_pos_embed};
pub use vit::VisionTransformer;
pub use weights::{KNOWN_EXTRAS, load_vit};
