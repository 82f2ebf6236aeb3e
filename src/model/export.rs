//! Export a trained [`VisionTransformer`] as timm-naming safetensors plus a JSON sidecar.
//! A model with LoRA adapters is exported merged (`W + scale·B·A`, see `super::lora`).
//!
//! The weights file uses timm keys and PyTorch layout (Linear `[out, in]`, LayerNorm
//! `weight/bias`; burn-store's `BurnToPyTorchAdapter` does the conversion), so it loads with
//! `timm.create_model(name, **timm_kwargs)` + `load_state_dict` (see `super` docs for the three
//! Python lines) and back into Rust with `super::load_vit`. The model config is also stored in
//! the safetensors `__metadata__` (`cxr.vit_config`), so reloading needs no sidecar.
//!
//! DINOv3 (RoPE) models are written under timm `Eva` names (`reg_token`, `blocks.N.gamma_1`,
//! `attn.q_bias`/`v_bias`) for `vit_base_patch16_dinov3[_qkvb]` with `global_pool='token'`.
//!
//! The sidecar (`<weights stem>.json`) holds what the weights cannot: labels in output order,
//! preprocessing, the timm model name with constructor kwargs, and the weights' sha256.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::checkpoint::META_VIT_CONFIG;
use super::config::ViTConfig;
use super::vit::VisionTransformer;

/// Version of the sidecar JSON layout.
pub const SIDECAR_VERSION: u32 = 1;

/// Image preprocessing the exported model expects (documented for Python users).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Square input side in pixels.
    pub image_size: usize,
    /// How images were resized to `image_size` (e.g. "bilinear, no crop").
    pub resize: String,
    /// Grey X-rays are replicated to 3 channels.
    pub grayscale_to_rgb: bool,
    /// Per-channel mean a timm user must subtract (pixel values scaled to [0, 1] first). timm
    /// models do not normalise inside `forward`, so this must include our model's
    /// `input_norm` (checked by [`export_safetensors`]); all zeros when no normalisation.
    pub mean: [f32; 3],
    /// Per-channel std a timm user must divide by (all ones when no normalisation).
    pub std: [f32; 3],
}

/// The sidecar file (`<weights stem>.json`) as written by [`export_safetensors`] and read back
/// by `run::sidecar`. Every field is optional when read, because a user may hand-write a
/// sidecar for foreign weights with only `labels`; [`export_safetensors`] fills them all.
/// Unknown fields are ignored; a field of the wrong type fails to parse.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sidecar {
    /// Layout version ([`SIDECAR_VERSION`]).
    pub sidecar_version: Option<u32>,
    /// File name of the weights this describes.
    pub weights_file: Option<String>,
    /// Lowercase hex sha256 of the weights file.
    pub weights_sha256: Option<String>,
    /// Tensor naming convention of the weights (`"timm"`).
    pub key_convention: Option<String>,
    /// timm model name ([`timm_model_name`] unless the caller chose one).
    pub timm_model_name: Option<String>,
    /// timm constructor kwargs ([`timm_kwargs`]).
    pub timm_kwargs: Option<BTreeMap<String, serde_json::Value>>,
    /// Output labels in logit order.
    pub labels: Option<Vec<String>>,
    /// Square input side in pixels.
    pub image_size: Option<usize>,
    /// The preprocessing the model expects.
    pub preprocessing: Option<Preprocessing>,
    /// What the model outputs, in words.
    pub output: Option<String>,
    /// The model configuration.
    pub vit_config: Option<ViTConfig>,
}

/// Caller-provided sidecar content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportSidecar {
    /// Class names in output (logit) order.
    pub labels: Vec<String>,
    /// Preprocessing description.
    pub preprocessing: Preprocessing,
    /// timm model name; `None` = derived from the config ([`timm_model_name`]).
    pub timm_model_name: Option<String>,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Labels do not match the head.
    #[error("{count} labels for a head with {classes} outputs")]
    LabelCount { count: usize, classes: usize },
    /// The sidecar's mean/std disagree with the normalisation the model applies in `forward`.
    #[error("sidecar mean/std {given:?} differ from the model's input_norm {model:?}")]
    Preprocessing {
        given: ([f32; 3], [f32; 3]),
        model: ([f32; 3], [f32; 3]),
    },
    /// A model tensor could not be read back.
    #[error("tensor `{key}`: {reason}")]
    Tensor { key: String, reason: String },
    /// Serialisation failed.
    #[error("cannot write {path}")]
    Safetensors {
        path: PathBuf,
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// The sidecar or file could not be written.
    #[error("cannot write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// JSON encoding failed.
    #[error("cannot encode JSON for {path}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Paths and hash of a finished export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOutput {
    /// The weights file.
    pub weights: PathBuf,
    /// The sidecar JSON.
    pub sidecar: PathBuf,
    /// sha256 of the weights file, hex.
    pub sha256: String,
}

/// timm registry name of the architecture family (`vit_base_patch16_224` or
/// `vit_base_patch14_dinov2` for the study's models); the kwargs in the sidecar override size.
pub fn timm_model_name(cfg: &ViTConfig) -> String {
    if cfg.rope.is_some() {
        // timm `eva.py`: vit_{small,base,large}_patch16_dinov3[_qkvb].
        let size = match (cfg.embed_dim, cfg.depth) {
            (384, 12) => "small",
            (1024, 24) => "large",
            _ => "base",
        };
        let bias = if cfg.qkv_bias { "_qkvb" } else { "" };
        return format!("vit_{size}_patch16_dinov3{bias}");
    }
    let size = match (cfg.embed_dim, cfg.depth) {
        (192, 12) => "tiny",
        (384, 12) => "small",
        (1024, 24) => "large",
        _ => "base",
    };
    if cfg.layer_scale.is_some() {
        format!("vit_{size}_patch14_dinov2")
    } else {
        format!("vit_{size}_patch16_224")
    }
}

/// timm `VisionTransformer` (or, for DINOv3, `Eva`) constructor kwargs that rebuild exactly
/// this architecture.
pub fn timm_kwargs(cfg: &ViTConfig) -> BTreeMap<String, serde_json::Value> {
    let mut kw = BTreeMap::new();
    kw.insert("img_size".into(), cfg.img_size.into());
    kw.insert("patch_size".into(), cfg.patch_size.into());
    kw.insert("embed_dim".into(), cfg.embed_dim.into());
    kw.insert("depth".into(), cfg.depth.into());
    kw.insert("num_heads".into(), cfg.num_heads.into());
    kw.insert("mlp_ratio".into(), cfg.mlp_ratio.into());
    kw.insert("num_classes".into(), cfg.num_classes.into());
    if cfg.rope.is_some() {
        // The `vit_*_patch16_dinov3` preset fixes RoPE (base 100), LayerScale, eps 1e-5, no
        // abs pos embed and the qkv bias layout; the sizes above override it. `global_pool=
        // 'token'` is the class-token head cxr trains (timm's default for Eva is 'avg').
        kw.insert("num_reg_tokens".into(), cfg.num_registers.into());
        kw.insert("global_pool".into(), "token".into());
    } else {
        kw.insert("qkv_bias".into(), cfg.qkv_bias.into());
        kw.insert(
            "init_values".into(),
            cfg.layer_scale.map_or(serde_json::Value::Null, Into::into),
        );
    }
    kw
}

/// One tensor of a DINOv3 (RoPE) model under timm `Eva` names (timm `eva.py`
/// `checkpoint_filter_fn` in reverse): `register_tokens` -> `reg_token`, `ls{1,2}.gamma` ->
/// `gamma_{1,2}`, a fused qkv bias -> `q_bias` + `v_bias` (the k third is always zero, see
/// `super::rope`; timm keeps it as a zero buffer). Returns `(key, shape, f32 LE bytes)`.
fn eva_tensors(
    key: String,
    shape: Vec<usize>,
    values: Vec<f32>,
) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    if let Some(prefix) = key.strip_suffix("attn.qkv.bias") {
        let d = values.len() / 3;
        return vec![
            (format!("{prefix}attn.q_bias"), vec![d], bytes(&values[..d])),
            (
                format!("{prefix}attn.v_bias"),
                vec![d],
                bytes(&values[2 * d..]),
            ),
        ];
    }
    let key = if key == "register_tokens" {
        "reg_token".to_string()
    } else if let Some(p) = key.strip_suffix("ls1.gamma") {
        format!("{p}gamma_1")
    } else if let Some(p) = key.strip_suffix("ls2.gamma") {
        format!("{p}gamma_2")
    } else {
        key
    };
    vec![(key, shape, bytes(&values))]
}

/// Writes `model` to `path` (timm-naming safetensors) and the sidecar to `path` with a
/// `.json` extension.
pub fn export_safetensors<B: Backend>(
    model: &VisionTransformer<B>,
    path: &Path,
    sidecar: &ExportSidecar,
) -> Result<ExportOutput, ExportError> {
    // LoRA adapters are folded into qkv/proj: the file is a plain timm ViT (see `super::lora`).
    let merged;
    let model = if model.has_lora() {
        merged = model.clone().merge_lora();
        &merged
    } else {
        model
    };
    let cfg = model.config();
    if sidecar.labels.len() != cfg.num_classes {
        return Err(ExportError::LabelCount {
            count: sidecar.labels.len(),
            classes: cfg.num_classes,
        });
    }
    if let Some(model_norm) = cfg.input_norm.mean_std() {
        let given = (sidecar.preprocessing.mean, sidecar.preprocessing.std);
        if given != model_norm {
            return Err(ExportError::Preprocessing {
                given,
                model: model_norm,
            });
        }
    }
    // [(timm key, shape, little-endian f32 bytes)]
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for snap in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
        let key = snap.full_path();
        let data = snap.to_data().map_err(|e| ExportError::Tensor {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        let shape = data.shape.to_vec();
        let values = data
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| ExportError::Tensor {
                key: key.clone(),
                reason: format!("{e:?}"),
            })?;
        if cfg.rope.is_some() {
            tensors.extend(eva_tensors(key, shape, values));
        } else {
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push((key, shape, bytes));
        }
    }
    let views = tensors
        .iter()
        .map(|(k, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (k.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ExportError::Safetensors {
            path: path.to_path_buf(),
            source,
        })?;
    let cfg_json = serde_json::to_string(&cfg).map_err(|source| ExportError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let mut meta = HashMap::new();
    // "format": "pt" is what `safetensors.torch.save_file` writes and timm/HF tooling expects.
    meta.insert("format".to_string(), "pt".to_string());
    meta.insert(META_VIT_CONFIG.to_string(), cfg_json);
    let bytes =
        safetensors::serialize(views, Some(meta)).map_err(|source| ExportError::Safetensors {
            path: path.to_path_buf(),
            source,
        })?;
    crate::fsutil::write_atomic(path, &bytes).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));

    let name = sidecar
        .timm_model_name
        .clone()
        .unwrap_or_else(|| timm_model_name(&cfg));
    let doc = Sidecar {
        sidecar_version: Some(SIDECAR_VERSION),
        weights_file: path.file_name().map(|n| n.to_string_lossy().into_owned()),
        weights_sha256: Some(sha256.clone()),
        key_convention: Some("timm".into()),
        timm_model_name: Some(name),
        timm_kwargs: Some(timm_kwargs(&cfg)),
        labels: Some(sidecar.labels.clone()),
        image_size: Some(cfg.img_size),
        preprocessing: Some(sidecar.preprocessing.clone()),
        output: Some("logits (apply sigmoid per label for multi-label probabilities)".into()),
        vit_config: Some(cfg.clone()),
    };
    let sidecar_path = path.with_extension("json");
    let text = serde_json::to_string_pretty(&doc).map_err(|source| ExportError::Json {
        path: sidecar_path.clone(),
        source,
    })?;
    crate::fsutil::write_atomic(&sidecar_path, text.as_bytes()).map_err(|source| ExportError::Io {
        path: sidecar_path.clone(),
        source,
    })?;
    Ok(ExportOutput {
        weights: path.to_path_buf(),
        sidecar: sidecar_path,
        sha256,
    })
}
