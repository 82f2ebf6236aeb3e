//! DINOv3 checkpoints in their three published layouts -> our key tree (`super::checkpoint`).
//!
//! | layout | file | example keys | what changes |
//! |---|---|---|---|
//! | timm `Eva` (`vit_base_patch16_dinov3.lvd1689m`) | safetensors | `reg_token`, `blocks.N.gamma_1`, `blocks.N.attn.qkv.weight`, (`_qkvb`: `attn.q_bias`, `attn.v_bias`) | `reg_token` -> `register_tokens`, `gamma_{1,2}` -> `ls{1,2}.gamma`, q/v bias -> fused bias with a zero k third |
//! | Meta `dinov3_vitb16_pretrain_lvd1689m-73cec8be.pth` | PyTorch zip | `storage_tokens`, `rope_embed.periods`, `blocks.N.attn.qkv.bias_mask`, `blocks.N.ls1.gamma`, `mask_token` | `storage_tokens` -> `register_tokens`, bias x `bias_mask` (Meta `LinearKMaskedBias`), periods kept |
//! | HF `facebook/dinov3-vitb16-pretrain-lvd1689m` (`DINOv3ViTModel`) | safetensors | `embeddings.{cls_token,register_tokens,mask_token}`, `embeddings.patch_embeddings.weight`, `layer.N.attention.{q,k,v,o}_proj`, `layer.N.layer_scale1.lambda1`, `layer.N.mlp.{up,down}_proj`, `norm` | renamed ([`HF_DINOV3_RENAMES`]); q/k/v fused, absent k bias (`key_bias=False`) = zeros |
//!
//! Sources: timm 1.0.31 `timm/models/eva.py` (`checkpoint_filter_fn`, the `dinov3_weights`
//! branch, lines 1326-1380: the renames above and "skip the k as its supposed to be fixed at
//! 0"); Meta facebookresearch/dinov3 @ 6876159a `dinov3/layers/attention.py`
//! (`LinearKMaskedBias`: `bias * bias_mask`), `dinov3/models/vision_transformer.py` (key names);
//! transformers 5.24 `models/dinov3_vit/modeling_dinov3_vit.py` (module names) and
//! `conversion_mapping.py` (Hub files say `layer.N`, transformers 5 modules `model.layer.N`:
//! both are accepted).
//!
//! Every converted file is marked with [`META_DINOV3`] in the state dict's metadata, so the
//! loader builds a RoPE model; Meta's stored periods travel as [`ROPE_PERIODS_KEY`].

use std::collections::BTreeMap;
use std::path::Path;


use super::checkpoint::RawTensor;
use super::load_types::LoadError;

/// Metadata key set on every DINOv3 state dict (value: the layout it came from).
pub const META_DINOV3: &str = "cxr.dinov3_layout";

/// State-dict key of Meta's stored RoPE periods (`rope_embed.periods`); not a model tensor.
pub const ROPE_PERIODS_KEY: &str = "rope.periods";

/// Hugging Face `DINOv3ViTModel` key -> our key. `$1` is the block index.
pub const HF_DINOV3_RENAMES: &[(&str, &str)] = &[
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.mask_token$", "mask_token"),
    (r"^embeddings\.register_tokens$", "register_tokens"),
    // DINOv3's patch embedding is the Conv2d itself (no `.projection` as in Dinov2Model).
    (r"^embeddings\.patch_embeddings\.", "patch_embed.proj."),
    (
        r"^(?:model\.)?layer\.(\d+)\.norm([12])\.",
        "blocks.$1.norm$2.",
    ),
    (
        r"^(?:model\.)?layer\.(\d+)\.attention\.o_proj\.",
        "blocks.$1.attn.proj.",
    ),
    (
        r"^(?:model\.)?layer\.(\d+)\.layer_scale([12])\.lambda1$",
        "blocks.$1.ls$2.gamma",
    ),
    (
        r"^(?:model\.)?layer\.(\d+)\.mlp\.up_proj\.",
        "blocks.$1.mlp.fc1.",
    ),
    (
        r"^(?:model\.)?layer\.(\d+)\.mlp\.down_proj\.",
        "blocks.$1.mlp.fc2.",
    ),
    // Gated (SwiGLU) MLP of the large DINOv3 models: keep a recognisable, unsupported name.
    (
        r"^(?:model\.)?layer\.(\d+)\.mlp\.gate_proj\.",
        "blocks.$1.swiglu.gate.",
    ),
];

const HF_DINOV3_QKV: &str = r"^(?:model\.)?layer\.(\d+)\.attention\.(q|k|v)_proj\.(weight|bias)$";

/// True for a Hugging Face `DINOv3ViTModel` state dict (DINOv2's has `patch_embeddings.projection`
/// and `encoder.layer`).
pub fn is_hf_dinov3<'a>(mut keys: impl Iterator<Item = &'a String>) -> bool {
    keys.any(|k| {
        k == "embeddings.patch_embeddings.weight"
            || k.starts_with("layer.0.")
            || k.starts_with("model.layer.0.")
    })
}

/// True for a timm `Eva` DINOv3 state dict: no `pos_embed`, and EVA-style LayerScale or
/// `reg_token` (timm's DINOv2-with-registers ViT has `reg_token` too, but also `pos_embed`).
pub fn is_timm_dinov3(tensors: &BTreeMap<String, RawTensor>) -> bool {
    !tensors.contains_key("pos_embed")
        && (tensors.contains_key("reg_token") || tensors.contains_key("blocks.0.gamma_1"))
}

/// True for Meta's DINOv3 layout (`storage_tokens` or `rope_embed.periods`).
pub fn is_meta_dinov3(tensors: &BTreeMap<String, RawTensor>) -> bool {
    tensors.contains_key("storage_tokens") || tensors.contains_key("rope_embed.periods")
}

/// timm `Eva` keys -> ours (see the module table).
pub fn timm_to_ours(tensors: BTreeMap<String, RawTensor>) -> BTreeMap<String, RawTensor> {
    let mut out = BTreeMap::new();
    let mut qv: BTreeMap<String, [Option<RawTensor>; 2]> = BTreeMap::new();
    for (key, t) in tensors {
        if let Some(prefix) = key.strip_suffix("attn.q_bias") {
            qv.entry(prefix.to_string()).or_default()[0] = Some(t);
            continue;
        }
        if let Some(prefix) = key.strip_suffix("attn.v_bias") {
            qv.entry(prefix.to_string()).or_default()[1] = Some(t);
            continue;
        }
        // timm recomputes its RoPE buffers; nothing under `rope.` is a weight.
        if key.starts_with("rope.") {
            continue;
        }
        let key = if key == "reg_token" {
            "register_tokens".to_string()
        } else if let Some(p) = key.strip_suffix("gamma_1") {
            format!("{p}ls1.gamma")
        } else if let Some(p) = key.strip_suffix("gamma_2") {
            format!("{p}ls2.gamma")
        } else {
            key
        };
        out.insert(key, t);
    }
    for (prefix, [q, v]) in qv {
        // Both present (timm `_qkvb`): q | zeros | v. One alone is left under its own name so
        // the load fails as incomplete instead of inventing the other.
        match (q, v) {
            (Some(q), Some(v)) => {
                out.insert(format!("{prefix}attn.qkv.bias"), fused_bias(q, None, v));
            }
            (Some(q), None) => {
                out.insert(format!("{prefix}attn.q_bias"), q);
            }
            (None, Some(v)) => {
                out.insert(format!("{prefix}attn.v_bias"), v);
            }
            (None, None) => {}
        }
    }
    out
}

/// Meta keys -> ours: `storage_tokens` renamed, `rope_embed.periods` kept as
/// [`ROPE_PERIODS_KEY`], every `qkv.bias` multiplied by its `bias_mask` (which is dropped).
pub fn meta_to_ours(tensors: BTreeMap<String, RawTensor>) -> BTreeMap<String, RawTensor> {
    let mut masks: BTreeMap<String, RawTensor> = BTreeMap::new();
    let mut out = BTreeMap::new();
    for (key, t) in tensors {
        if let Some(prefix) = key.strip_suffix("qkv.bias_mask") {
            masks.insert(format!("{prefix}qkv.bias"), t);
            continue;
        }
        let key = match key.as_str() {
            "storage_tokens" => "register_tokens".to_string(),
            "rope_embed.periods" => ROPE_PERIODS_KEY.to_string(),
            _ => key,
        };
        out.insert(key, t);
    }
    for (bias_key, mask) in masks {
        if let Some(bias) = out.get_mut(&bias_key)
            && bias.data.len() == mask.data.len()
        {
            for (b, m) in bias.data.iter_mut().zip(&mask.data) {
                *b *= *m;
            }
        }
    }
    out
}

/// Hugging Face `DINOv3ViTModel` keys -> ours ([`HF_DINOV3_RENAMES`] plus the q/k/v fusion).
pub fn hf_to_ours(
    tensors: BTreeMap<String, RawTensor>,
    path: &Path,
) -> Result<BTreeMap<String, RawTensor>, LoadError> {
    let (mut out, parts) = super::checkpoint::rename_split_qkv(tensors, HF_DINOV3_RENAMES, HF_DINOV3_QKV, path)?;
    for ((block, kind), [q, k, v]) in parts {
        let key = format!("blocks.{block}.attn.qkv.{kind}");
        let incomplete = |what: &str| LoadError::Tensor {
            path: path.to_path_buf(),
            key: key.clone(),
            reason: format!("HF q/k/v {what}"),
        };
        let fused = match (kind.as_str(), q, k, v) {
            ("weight", Some(q), Some(k), Some(v)) => {
                if q.shape != k.shape || q.shape != v.shape {
                    return Err(incomplete("weight shapes differ"));
                }
                let mut shape = q.shape.clone();
                shape[0] *= 3;
                RawTensor {
                    shape,
                    data: [q.data, k.data, v.data].concat(),
                }
            }
            // `key_bias=False` in every released config: the k third is zero.
            ("bias", Some(q), k, Some(v)) => {
                if q.shape != v.shape || k.as_ref().is_some_and(|k| k.shape != q.shape) {
                    return Err(incomplete("bias shapes differ"));
                }
                fused_bias(q, k, v)
            }
            _ => return Err(incomplete("incomplete")),
        };
        out.insert(key, fused);
    }
    Ok(out)
}

/// `[q | k | v]` with `k = 0` when absent (all `[D]`).
fn fused_bias(q: RawTensor, k: Option<RawTensor>, v: RawTensor) -> RawTensor {
    let n = q.data.len();
    let k = k.map_or_else(|| vec![0.0; n], |k| k.data);
    RawTensor {
        shape: vec![3 * n],
        data: [q.data, k, v.data].concat(),
    }
}
