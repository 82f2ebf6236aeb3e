//! Checkpoint files -> one in-memory state dict in timm naming and PyTorch layout (f32).
//!
//! Every supported source ends up as a [`StateDict`] whose keys are timm / torch.hub keys
//! (`patch_embed.proj.weight`, `blocks.3.attn.qkv.weight` `[3D, D]`, ...), so the rest of
//! loading (`super::weights`) is source-agnostic:
//!
//! | [`CheckpointSource`] | file | reader | key work |
//! |---|---|---|---|
//! | `Timm` | `.safetensors` (timm hub) | `safetensors` crate | none |
//! | `Cxr` | `.safetensors` from `super::export` | `safetensors` crate | none; config in metadata |
//! | `TorchHub` | `.pth` / `.pt` (torch.hub DINOv2) | burn-store `PytorchReader` | none |
//! | `HuggingFace` | `.safetensors` (`Dinov2Model`) | `safetensors` crate | rename + fuse q/k/v |
//! | `Timm` / `TorchHub` / `HuggingFace` | DINOv3: timm `Eva`, Meta `.pth`, HF `DINOv3ViTModel` | as above | `super::dinov3_keys` |
//!
//! f16 / bf16 / f64 tensors are converted to f32. The rename rules for Hugging Face live in
//! one table ([`HF_RENAMES`]) with one reason per rule (STYLE.md principle 4).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::tensor::{DType, TensorData};
use burn_store::pytorch::PytorchReader;
use regex::Regex;
use safetensors::{Dtype, SafeTensors};

use super::dinov3_keys;
use super::load_types::LoadError;

/// Safetensors metadata key under which `super::export` stores the `ViTConfig` JSON.
pub const META_VIT_CONFIG: &str = "cxr.vit_config";

/// Where a checkpoint came from (decides key handling and the default pos-embed resampling).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CheckpointSource {
    /// timm safetensors (`vit_base_patch16_224.augreg_in21k`, `vit_base_patch14_dinov2.lvd142m`).
    Timm,
    /// A file written by `super::export_safetensors` (timm naming + config metadata).
    Cxr,
    /// torch.hub DINOv2 `.pth` (`dinov2_vitb14_pretrain.pth`).
    TorchHub,
    /// Hugging Face transformers `Dinov2Model` / `Dinov2ForImageClassification` safetensors.
    HuggingFace,
}

/// One tensor: PyTorch shape and row-major f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// PyTorch shape (Linear weights `[out, in]`).
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// A whole checkpoint in timm naming.
#[derive(Debug, Clone)]
pub struct StateDict {
    /// Tensors by timm key.
    pub tensors: BTreeMap<String, RawTensor>,
    /// Safetensors `__metadata__` (empty for `.pth`).
    pub metadata: HashMap<String, String>,
    /// Detected source.
    pub source: CheckpointSource,
}

/// Hugging Face `Dinov2Model` key -> timm key. `$1` is the block index.
/// (`dinov2.` prefixes of `Dinov2ForImageClassification` are stripped before this table.)
pub const HF_RENAMES: &[(&str, &str)] = &[
    // Embeddings sit under `embeddings.` in HF, at the top level in timm / torch.hub.
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.mask_token$", "mask_token"),
    (r"^embeddings\.register_tokens$", "register_tokens"),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (
        r"^embeddings\.patch_embeddings\.projection\.",
        "patch_embed.proj.",
    ),
    // Blocks: `encoder.layer.N` is timm's `blocks.N`.
    (r"^encoder\.layer\.(\d+)\.norm([12])\.", "blocks.$1.norm$2."),
    (
        r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.",
        "blocks.$1.attn.proj.",
    ),
    // transformers >= 5 names the same projection `attention.o_proj` in its state dict.
    (
        r"^encoder\.layer\.(\d+)\.attention\.o_proj\.",
        "blocks.$1.attn.proj.",
    ),
    // LayerScale: HF `layer_scaleK.lambda1` is timm `lsK.gamma`.
    (
        r"^encoder\.layer\.(\d+)\.layer_scale([12])\.lambda1$",
        "blocks.$1.ls$2.gamma",
    ),
    (
        r"^encoder\.layer\.(\d+)\.mlp\.fc([12])\.",
        "blocks.$1.mlp.fc$2.",
    ),
    // SwiGLU MLP (ViT-g) has no counterpart in our model: keep a recognisable name.
    (
        r"^encoder\.layer\.(\d+)\.mlp\.weights_(in|out)\.",
        "blocks.$1.swiglu.$2.",
    ),
    // Final norm.
    (r"^layernorm\.", "norm."),
    // Dinov2ForImageClassification head takes cat(cls, mean(patches)) (2D inputs): not ours.
    (r"^classifier\.", "hf_classifier."),
];

/// Matches HF's split attention projections (fused into `attn.qkv` after renaming): the Hub
/// checkpoints (`facebook/dinov2-*`, transformers 4.x) use `attention.attention.{query,key,value}`,
/// transformers >= 5 state dicts use `attention.{q,k,v}_proj`.
const HF_QKV: &str = r"^encoder\.layer\.(\d+)\.attention\.(?:attention\.(query|key|value)|(q|k|v)_proj)\.(weight|bias)$";

/// Reads `path` into a timm-naming state dict, detecting the source from the extension and keys.
pub fn read_checkpoint(path: &Path) -> Result<StateDict, LoadError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "pth" | "pt" | "bin" | "ckpt" => read_pytorch(path),
        _ => read_safetensors(path),
    }
}

fn read_pytorch(path: &Path) -> Result<StateDict, LoadError> {
    let pb = || path.to_path_buf();
    let mut reader =
        PytorchReader::new(path).map_err(|source| LoadError::Pytorch { path: pb(), source })?;
    // Training checkpoints wrap the weights; the hub files are plain state dicts.
    if !reader.keys().iter().any(|k| k.ends_with("cls_token")) {
        for key in ["model", "state_dict", "teacher"] {
            if let Ok(r) = PytorchReader::with_top_level_key(path, key) {
                reader = r;
                break;
            }
        }
    }
    let mut tensors = BTreeMap::new();
    for (key, snap) in reader.into_tensors() {
        let data = snap.to_data().map_err(|e| LoadError::Tensor {
            path: pb(),
            key: key.clone(),
            reason: e.to_string(),
        })?;
        let shape = data.shape.to_vec();
        let values = to_f32(data, path, &key)?;
        tensors.insert(
            strip_wrappers(&key),
            RawTensor {
                shape,
                data: values,
            },
        );
    }
    let mut metadata = HashMap::new();
    let tensors = dinov3_layout(tensors, &mut metadata);
    Ok(StateDict {
        tensors,
        metadata,
        source: CheckpointSource::TorchHub,
    })
}

fn read_safetensors(path: &Path) -> Result<StateDict, LoadError> {
    let pb = || path.to_path_buf();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io { path: pb(), source })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes)
        .map_err(|source| LoadError::Safetensors { path: pb(), source })?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|source| LoadError::Safetensors { path: pb(), source })?;
    let mut tensors = BTreeMap::new();
    for (key, view) in st.tensors() {
        let dtype = match view.dtype() {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::BF16 => DType::BF16,
            Dtype::F64 => DType::F64,
            other => {
                return Err(LoadError::Tensor {
                    path: pb(),
                    key,
                    reason: format!("unsupported dtype {other:?}"),
                });
            }
        };
        let shape = view.shape().to_vec();
        let values = if dtype == DType::F32 {
            // Fast path (every checkpoint the study uses): decode in place, no extra copy.
            view.data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        } else {
            let data = TensorData::from_bytes_vec(view.data().to_vec(), shape.clone(), dtype);
            to_f32(data, path, &key)?
        };
        tensors.insert(
            strip_wrappers(&key),
            RawTensor {
                shape,
                data: values,
            },
        );
    }
    let is_hf = tensors
        .keys()
        .any(|k| k.starts_with("embeddings.patch_embeddings."));
    let source = if is_hf {
        CheckpointSource::HuggingFace
    } else if metadata.contains_key(META_VIT_CONFIG) {
        CheckpointSource::Cxr
    } else {
        CheckpointSource::Timm
    };
    let mut metadata = metadata;
    let tensors = if is_hf && dinov3_keys::is_hf_dinov3(tensors.keys()) {
        metadata.insert(dinov3_keys::META_DINOV3.into(), "huggingface".into());
        dinov3_keys::hf_to_ours(tensors, path)?
    } else if is_hf {
        hf_to_timm(tensors, path)?
    } else {
        dinov3_layout(tensors, &mut metadata)
    };
    Ok(StateDict {
        tensors,
        metadata,
        source,
    })
}

/// Converts a timm `Eva` or Meta DINOv3 state dict to our keys (marking it in `metadata`);
/// anything else passes unchanged.
fn dinov3_layout(
    tensors: BTreeMap<String, RawTensor>,
    metadata: &mut HashMap<String, String>,
) -> BTreeMap<String, RawTensor> {
    if dinov3_keys::is_meta_dinov3(&tensors) {
        metadata.insert(dinov3_keys::META_DINOV3.into(), "meta".into());
        dinov3_keys::meta_to_ours(tensors)
    } else if dinov3_keys::is_timm_dinov3(&tensors) {
        metadata.insert(dinov3_keys::META_DINOV3.into(), "timm".into());
        dinov3_keys::timm_to_ours(tensors)
    } else {
        tensors
    }
}

/// Converts any float dtype to a row-major f32 vector.
fn to_f32(data: TensorData, path: &Path, key: &str) -> Result<Vec<f32>, LoadError> {
    data.convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| LoadError::Tensor {
            path: path.to_path_buf(),
            key: key.to_string(),
            reason: format!("{e:?}"),
        })
}

/// Strips the prefixes of wrapped checkpoints (`module.` from DataParallel, `dinov2.` from
/// `Dinov2ForImageClassification`).
fn strip_wrappers(key: &str) -> String {
    let mut k = key;
    for prefix in ["module.", "dinov2."] {
        k = k.strip_prefix(prefix).unwrap_or(k);
    }
    k.to_string()
}

/// Renames HF keys to timm keys ([`HF_RENAMES`]) and fuses `query|key|value` into `attn.qkv`
/// (rows q, then k, then v: timm's `qkv.reshape(B, N, 3, H, hd)` order).
fn hf_to_timm(
    tensors: BTreeMap<String, RawTensor>,
    path: &Path,
) -> Result<BTreeMap<String, RawTensor>, LoadError> {
    let (mut out, parts) = rename_split_qkv(tensors, HF_RENAMES, HF_QKV, path)?;
    for ((block, kind), [q, k, v]) in parts {
        let key = format!("blocks.{block}.attn.qkv.{kind}");
        let (Some(q), Some(k), Some(v)) = (q, k, v) else {
            return Err(LoadError::Tensor {
                path: path.to_path_buf(),
                key,
                reason: "HF query/key/value incomplete".into(),
            });
        };
        if q.shape != k.shape || q.shape != v.shape {
            return Err(LoadError::Tensor {
                path: path.to_path_buf(),
                key,
                reason: "HF query/key/value shapes differ".into(),
            });
        }
        let mut shape = q.shape.clone();
        shape[0] *= 3;
        let data = [q.data, k.data, v.data].concat();
        out.insert(key, RawTensor { shape, data });
    }
    Ok(out)
}

/// The q/k/v tensors of split-attention checkpoints: `(block, "weight"|"bias") -> [q, k, v]`.
pub(super) type QkvParts = BTreeMap<(usize, String), [Option<RawTensor>; 3]>;

/// Renames the keys of `tensors` by the first matching rule of `renames` (regex, replacement;
/// unmatched keys are kept) and sets aside the q/k/v tensors that the regex `qkv` matches, whose
/// captures are the block index first, `weight|bias` last and the projection name (`query`,
/// `q`, `key`, …: slot by its first letter) in the first other group that matched. Used by the
/// HF ViT/DINOv2 ([`HF_RENAMES`]) and DINOv3 (`dinov3_keys`) conversions, which fuse the parts
/// themselves. A bad regex is a [`LoadError::Inference`] naming `path`.
pub(super) fn rename_split_qkv(
    tensors: BTreeMap<String, RawTensor>,
    renames: &[(&str, &str)],
    qkv: &str,
    path: &Path,
) -> Result<(BTreeMap<String, RawTensor>, QkvParts), LoadError> {
    let bad = |e: regex::Error| LoadError::Inference {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let rules: Vec<(Regex, &str)> = renames
        .iter()
        .map(|(p, r)| Regex::new(p).map(|re| (re, *r)))
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    let qkv_re = Regex::new(qkv).map_err(bad)?;
    let mut out = BTreeMap::new();
    let mut parts = QkvParts::new();
    for (key, t) in tensors {
        if let Some(c) = qkv_re.captures(&key) {
            let block: usize = c[1].parse().unwrap_or(usize::MAX);
            let last = c.len() - 1;
            let which = (2..last).find_map(|i| c.get(i)).map_or("", |m| m.as_str());
            let slot = match which.as_bytes().first() {
                Some(b'q') => 0,
                Some(b'k') => 1,
                _ => 2,
            };
            parts.entry((block, c[last].to_string())).or_default()[slot] = Some(t);
            continue;
        }
        let renamed = rules
            .iter()
            .find(|(re, _)| re.is_match(&key))
            .map(|(re, rep)| re.replace(&key, *rep).into_owned())
            .unwrap_or(key);
        out.insert(renamed, t);
    }
    Ok((out, parts))
}
