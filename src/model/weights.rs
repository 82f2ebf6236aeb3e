//! Loading pretrained checkpoints into [`VisionTransformer`], verified rather than trusted.
//!
//! [`load_vit`] reads any supported file (`super::checkpoint`), infers the architecture from
//! the tensors (patch size, width, depth, MLP width, LayerScale, qkv bias, trained grid),
//! resamples `pos_embed` once if the trained grid differs from the model's, decides whether
//! the head can be kept, applies the tensors through burn-store's `PyTorchToBurnAdapter`
//! (Linear `[out, in]` -> `[in, out]`, LayerNorm `weight/bias` -> `gamma/beta`), and then
//! checks burn-store's `ApplyResult` (STYLE.md principle 5):
//!
//! - missing model tensors are allowed only for `head.*`, and only when the head is
//!   re-initialised (checkpoint without head, or with another class count);
//! - unused file tensors are allowed only for the known extras in [`KNOWN_EXTRAS`];
//! - any shape disagreement is an error.
//!
//! Attention heads cannot be read from tensors: they come from [`LoadTarget::num_heads`], else
//! from the config stored by `super::export`, else `embed_dim / 64` (every ViT/DINOv2 size the
//! study uses has 64-wide heads).

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::ParamId;
use burn::tensor::TensorData;
use burn::tensor::backend::Backend;
use burn_store::{ModuleSnapshot, PyTorchToBurnAdapter, TensorSnapshot};

use super::checkpoint::{CheckpointSource, META_VIT_CONFIG, RawTensor, StateDict, read_checkpoint};
use super::config::ViTConfig;
use super::dinov3_keys::{META_DINOV3, ROPE_PERIODS_KEY};
use super::load_types::{LoadError, LoadReport, LoadTarget, PosEmbedResampling};
use super::pos_embed::{PosEmbedResample, resample_pos_embed};
use super::rope::{DINOV3_ROPE_BASE, Rope};
use super::vit::VisionTransformer;

/// File tensors that are dropped on purpose, with the reason.
pub const KNOWN_EXTRAS: &[(&str, &str)] = &[
    // DINOv2 masked-image-modelling token; only used during pretraining.
    ("mask_token", "DINOv2 iBOT mask token (pretraining only)"),
    // Older timm in21k exports carry a tanh representation layer before the 21k head.
    (
        "pre_logits.",
        "timm in21k representation layer (replaced with the head)",
    ),
    // HF Dinov2ForImageClassification head on cat(cls, mean(patches)): 2D inputs, not ours.
    (
        "hf_classifier.",
        "HF Dinov2ForImageClassification head (different pooling)",
    ),
    // DINOv3 ViT-7B pretraining: the norm of local crops' class tokens.
    (
        "local_cls_norm.",
        "DINOv3 local-crop class norm (pretraining only)",
    ),
];

/// Keys whose presence means an architecture this model does not implement.
const UNSUPPORTED: &[(&str, &str)] = &[
    // DINOv3 7B: separate norms for class/register and patch tokens.
    ("cls_norm.", "DINOv3 untied class-token norm (ViT-7B)"),
    (
        "blocks.0.attn.q_proj.",
        "unfused q/k/v projections (timm Eva qkv_fused=False)",
    ),
    (
        "register_tokens",
        "DINOv2 register tokens (dinov2_vit*_reg)",
    ),
    ("reg_token", "timm register tokens"),
    ("fc_norm.", "global-average-pool ViT (fc_norm)"),
    (".swiglu.", "SwiGLU MLP (DINOv2 ViT-g)"),
    (".q_norm.", "qk-norm attention"),
];

/// Tensor-derived architecture facts.
struct Arch {
    in_chans: usize,
    patch: usize,
    dim: usize,
    depth: usize,
    mlp_hidden: usize,
    layer_scale: bool,
    qkv_bias: bool,
    /// Trained position grid side; 0 for RoPE models (no grid).
    grid: usize,
    /// Register tokens R (`register_tokens` `[1, R, D]`).
    registers: usize,
}

fn shape_of<'a>(sd: &'a StateDict, key: &str, path: &Path) -> Result<&'a [usize], LoadError> {
    sd.tensors
        .get(key)
        .map(|t| t.shape.as_slice())
        .ok_or_else(|| LoadError::MissingKey {
            path: path.to_path_buf(),
            key: key.to_string(),
        })
}

fn infer_arch(sd: &StateDict, path: &Path, rope: bool) -> Result<Arch, LoadError> {
    let bad = |reason: String| LoadError::Inference {
        path: path.to_path_buf(),
        reason,
    };
    let pe = shape_of(sd, "patch_embed.proj.weight", path)?;
    let [dim, in_chans, ph, pw] = *pe else {
        return Err(bad(format!(
            "patch_embed.proj.weight has shape {pe:?}, expected [D, C, P, P]"
        )));
    };
    if ph != pw {
        return Err(bad(format!("non-square patches {ph}x{pw}")));
    }
    let depth = sd
        .tensors
        .keys()
        .filter_map(|k| {
            k.strip_prefix("blocks.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map(|m| m + 1)
        .ok_or_else(|| bad("no `blocks.N.*` tensors".into()))?;
    let fc1 = shape_of(sd, "blocks.0.mlp.fc1.weight", path)?;
    let registers = match sd
        .tensors
        .get("register_tokens")
        .map(|t| t.shape.as_slice())
    {
        None => 0,
        Some(&[1, r, d]) if d == dim => r,
        Some(other) => {
            return Err(bad(format!(
                "register_tokens has shape {other:?}, expected [1, R, {dim}]"
            )));
        }
    };
    let arch = |grid| Arch {
        in_chans,
        patch: ph,
        dim,
        depth,
        mlp_hidden: fc1[0],
        layer_scale: sd.tensors.contains_key("blocks.0.ls1.gamma"),
        qkv_bias: sd.tensors.contains_key("blocks.0.attn.qkv.bias"),
        grid,
        registers,
    };
    if rope {
        // DINOv3: positions come from RoPE; a stray table would be a different model.
        if sd.tensors.contains_key("pos_embed") {
            return Err(bad(
                "a DINOv3 (RoPE) checkpoint with a pos_embed table".into()
            ));
        }
        return Ok(arch(0));
    }
    let pos = shape_of(sd, "pos_embed", path)?;
    let [1, tokens, pdim] = *pos else {
        return Err(bad(format!(
            "pos_embed has shape {pos:?}, expected [1, 1 + M*M, D]"
        )));
    };
    let patches = tokens.saturating_sub(1);
    let grid = (patches as f64).sqrt().round() as usize;
    if grid * grid != patches || pdim != dim {
        return Err(bad(format!(
            "pos_embed {pos:?} is not [1, 1 + M*M, {dim}] (class-token slot expected)"
        )));
    }
    Ok(arch(grid))
}

/// The `ViTConfig` stored by `super::export` in the safetensors metadata, if any.
fn stored_config(sd: &StateDict, path: &Path) -> Result<Option<ViTConfig>, LoadError> {
    sd.metadata
        .get(META_VIT_CONFIG)
        .map(|json| {
            serde_json::from_str(json).map_err(|e| LoadError::Inference {
                path: path.to_path_buf(),
                reason: format!("bad `{META_VIT_CONFIG}` metadata: {e}"),
            })
        })
        .transpose()
}

fn num_heads(
    stored: Option<&ViTConfig>,
    target: &LoadTarget,
    dim: usize,
    path: &Path,
) -> Result<usize, LoadError> {
    if let Some(h) = target.num_heads.or(stored.map(|c| c.num_heads)) {
        return Ok(h);
    }
    // ViT-S/B/L/g all use 64-wide heads (384/6, 768/12, 1024/16, 1536/24).
    if dim.is_multiple_of(64) {
        return Ok(dim / 64);
    }
    Err(LoadError::Inference {
        path: path.to_path_buf(),
        reason: format!("embed_dim {dim} is not a multiple of 64: set LoadTarget::num_heads"),
    })
}

/// Loads a checkpoint (timm / own safetensors, torch.hub `.pth`, HF `Dinov2Model`
/// safetensors) into a model for `target`, verifying that every tensor found its place.
pub fn load_vit<B: Backend>(
    path: &Path,
    target: &LoadTarget,
    device: &B::Device,
) -> Result<(VisionTransformer<B>, LoadReport), LoadError> {
    let pb = || path.to_path_buf();
    let mut sd = read_checkpoint(path)?;
    let dinov3 = sd.metadata.contains_key(META_DINOV3);
    for (pattern, what) in UNSUPPORTED {
        // Registers are part of DINOv3; with a learned table (DINOv2-reg) they are not supported.
        if dinov3 && *pattern == "register_tokens" {
            continue;
        }
        if sd
            .tensors
            .keys()
            .any(|k| k.starts_with(pattern) || (pattern.starts_with('.') && k.contains(pattern)))
        {
            return Err(LoadError::Unsupported {
                path: pb(),
                what: what.to_string(),
            });
        }
    }
    let arch = infer_arch(&sd, path, dinov3)?;
    let stored = stored_config(&sd, path)?;
    let heads = num_heads(stored.as_ref(), target, arch.dim, path)?;
    // timm and DINOv2 use 1e-6, DINOv3 1e-5 (Meta `layernormbf16`, timm `eps=1e-5`, HF
    // `layer_norm_eps`); our own exports record theirs.
    let default_eps = if dinov3 { 1e-5 } else { 1e-6 };
    let eps = stored.as_ref().map_or(default_eps, |c| c.layer_norm_eps);
    let periods = sd.tensors.remove(ROPE_PERIODS_KEY);
    let rope = if dinov3 {
        Some(dinov3_rope(
            stored.as_ref(),
            periods,
            arch.dim / heads,
            path,
        )?)
    } else {
        None
    };
    let mut arch = arch;
    let mut dropped = Vec::new();
    if dinov3 && arch.qkv_bias && zero_qkv_biases(&sd) {
        // The released ViT-B/L/H+ biases are all zero (timm `eva.py` `checkpoint_filter_fn`:
        // "the distilled b,l,h models ended up with all zero biases"): drop them and build
        // timm's `vit_base_patch16_dinov3` (qkv_bias=False), the same function.
        let keys: Vec<String> = sd
            .tensors
            .keys()
            .filter(|k| k.ends_with("attn.qkv.bias"))
            .cloned()
            .collect();
        for k in keys {
            sd.tensors.remove(&k);
            dropped.push(k);
        }
        arch.qkv_bias = false;
    }
    let config = ViTConfig::new(
        target.img_size,
        arch.patch,
        arch.dim,
        arch.depth,
        heads,
        target.num_classes,
    )
    .with_mlp_ratio(arch.mlp_hidden as f64 / arch.dim as f64)
    .with_layer_scale(arch.layer_scale.then_some(1.0))
    .with_qkv_bias(arch.qkv_bias)
    .with_in_chans(arch.in_chans)
    .with_layer_norm_eps(eps)
    .with_input_norm(target.input_norm)
    .with_num_registers(arch.registers)
    .with_rope(rope);
    config
        .validate()
        .map_err(|reason| LoadError::Config { path: pb(), reason })?;

    // Position grid: resample once, here.
    let grid = config.grid_size();
    let mut resampled = None;
    if !dinov3 && arch.grid != grid {
        let method = target.resample.unwrap_or(match sd.source {
            CheckpointSource::HuggingFace => PosEmbedResample::BicubicSize,
            _ => PosEmbedResample::default(),
        });
        let pos = sd
            .tensors
            .get_mut("pos_embed")
            .ok_or_else(|| LoadError::MissingKey {
                path: pb(),
                key: "pos_embed".into(),
            })?;
        pos.data = resample_pos_embed(&pos.data, 1, arch.dim, arch.grid, grid, method)
            .map_err(|source| LoadError::Resample { path: pb(), source })?;
        pos.shape = vec![1, 1 + grid * grid, arch.dim];
        resampled = Some(PosEmbedResampling {
            from_grid: arch.grid,
            to_grid: grid,
            method,
        });
    }

    // Head: keep only an exact match for the requested classes.
    let checkpoint_classes = sd.tensors.get("head.weight").map(|t| t.shape[0]);
    let head_fits = sd
        .tensors
        .get("head.weight")
        .is_some_and(|t| t.shape == [target.num_classes, arch.dim])
        && sd
            .tensors
            .get("head.bias")
            .is_some_and(|t| t.shape == [target.num_classes]);
    let drop_keys: Vec<String> = sd
        .tensors
        .keys()
        .filter(|k| {
            (!head_fits && k.starts_with("head."))
                || KNOWN_EXTRAS
                    .iter()
                    .any(|(p, _)| k.as_str() == *p || k.starts_with(p))
        })
        .cloned()
        .collect();
    for k in drop_keys {
        sd.tensors.remove(&k);
        dropped.push(k);
    }

    let mut model = config.init::<B>(device);
    let snapshots = to_snapshots(sd.tensors);
    let result = model.apply(snapshots, None, Some(Box::new(PyTorchToBurnAdapter)), false);

    if !result.errors.is_empty() {
        let details = result.errors.iter().map(|e| e.to_string()).collect();
        return Err(LoadError::ShapeMismatch {
            path: pb(),
            details,
        });
    }
    let missing: Vec<String> = result.missing.iter().map(|(p, _)| p.clone()).collect();
    let bad_missing: Vec<String> = missing
        .iter()
        .filter(|p| head_fits || !p.starts_with("head."))
        .cloned()
        .collect();
    if !bad_missing.is_empty() || !result.unused.is_empty() {
        return Err(LoadError::Incomplete {
            path: pb(),
            missing: bad_missing,
            unused: result.unused.clone(),
        });
    }
    let report = LoadReport {
        source: sd.source,
        config,
        applied: result.applied.clone(),
        missing,
        unused: dropped,
        resampled_pos_embed: resampled,
        head_reinitialized: !head_fits,
        checkpoint_classes,
        checkpoint_grid: arch.grid,
    };
    Ok((model, report))
}

/// True when every fused qkv bias of the state dict is exactly zero.
fn zero_qkv_biases(sd: &StateDict) -> bool {
    sd.tensors
        .iter()
        .filter(|(k, _)| k.ends_with("attn.qkv.bias"))
        .all(|(_, t)| t.data.iter().all(|v| *v == 0.0))
}

/// The RoPE of a DINOv3 checkpoint: our export's stored config, else Meta's stored periods,
/// else base 100 computed for `head_dim` (see `super::rope`).
fn dinov3_rope(
    stored: Option<&ViTConfig>,
    periods: Option<RawTensor>,
    head_dim: usize,
    path: &Path,
) -> Result<Rope, LoadError> {
    if let Some(rope) = stored.and_then(|c| c.rope.clone()) {
        return Ok(rope);
    }
    let mut rope = Rope::dinov3(head_dim, DINOV3_ROPE_BASE);
    if let Some(p) = periods {
        if p.data.len() != rope.periods.len() {
            return Err(LoadError::Inference {
                path: path.to_path_buf(),
                reason: format!(
                    "{} RoPE periods for head_dim {head_dim} (expected head_dim / 4): wrong num_heads?",
                    p.data.len()
                ),
            });
        }
        rope.periods = p.data;
    }
    Ok(rope)
}

/// LayerNorm modules of the key tree (`norm`, `blocks.N.norm1`, `blocks.N.norm2`).
const LAYER_NORMS: &[&str] = &["norm", "norm1", "norm2"];

/// Wraps timm-keyed tensors as burn-store snapshots (path = key split at dots; the container
/// types come from the model during `apply`, which is what the adapter needs to transpose
/// Linear weights).
///
/// LayerNorm `weight`/`bias` are renamed to burn's `gamma`/`beta` here rather than by the
/// adapter: burn-store 0.21's applier finds them under the PyTorch name but still lists the
/// PyTorch name as unused, which would defeat the unused-tensor check.
fn to_snapshots(tensors: BTreeMap<String, RawTensor>) -> Vec<TensorSnapshot> {
    tensors
        .into_iter()
        .map(|(key, t)| {
            let mut path: Vec<String> = key.split('.').map(str::to_string).collect();
            let n = path.len();
            if n >= 2 && LAYER_NORMS.contains(&path[n - 2].as_str()) {
                match path[n - 1].as_str() {
                    "weight" => path[n - 1] = "gamma".into(),
                    "bias" => path[n - 1] = "beta".into(),
                    _ => {}
                }
            }
            TensorSnapshot::from_data(
                TensorData::new(t.data, t.shape),
                path,
                Vec::new(),
                ParamId::new(),
            )
        })
        .collect()
}
