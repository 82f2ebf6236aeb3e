//! LoRA (Hu et al. 2021, arXiv 2106.09685) on the attention projections, and the frozen
//! backbone of linear probing and LoRA fine-tuning.
//!
//! An adapter adds `scale · B(A(x))` to a Linear `W x + b`: `A` projects `in → r` (rank `r`),
//! `B` projects `r → out`, `scale = alpha / r`. As in peft (`peft/tuners/lora/layer.py`,
//! `reset_lora_parameters`): `A` is Kaiming-uniform with `a = √5` (bound `1/√in`, which is burn's
//! default Linear initializer), `B` is zero, so an adapted model starts equal to its base.
//! Adapters sit on `attn.qkv` and `attn.proj` of every block (`qkv_lora`, `proj_lora` in
//! [`super::Attention`]).
//!
//! [`VisionTransformer::merge_lora`] folds each adapter into its Linear: in burn's `[in, out]`
//! layout `W' = W + scale · A·B`, i.e. in timm's `[out, in]` layout `W' = W + scale · B·A` with
//! peft's `lora_B` `[out, r]` and `lora_A` `[r, in]` — peft's `merge_and_unload`
//! (`tests/it/finetune.rs` checks equality to 1e-6 on `scripts/gen_lora_fixture.py`'s output).
//! An export of a LoRA model is merged ([`super::export_safetensors`]), so it is a plain timm ViT.
//!
//! Adapter files ([`save_adapters`], [`load_adapters`]) use peft's saved key names
//! (`base_model.model.blocks.N.attn.qkv.lora_A.weight` `[r, in]`, `…lora_B.weight` `[out, r]`,
//! f32) with `cxr.lora_rank` / `cxr.lora_alpha` in the safetensors metadata.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::precision::Precision;
use super::vit::VisionTransformer;

/// Metadata keys of an adapter file.
pub const META_LORA_RANK: &str = "cxr.lora_rank";
/// See [`META_LORA_RANK`].
pub const META_LORA_ALPHA: &str = "cxr.lora_alpha";
/// peft's prefix of saved adapter keys (`get_peft_model_state_dict`).
const PEFT_PREFIX: &str = "base_model.model.";

/// One low-rank adapter of a Linear `in → out`.
#[derive(Module, Debug)]
pub struct LoraAdapter<B: Backend> {
    /// `A`: Linear `in → r`, no bias (peft `lora_A`, PyTorch `[r, in]`; burn stores `[in, r]`).
    pub lora_a: Linear<B>,
    /// `B`: Linear `r → out`, no bias, zero at start (peft `lora_B`, PyTorch `[out, r]`).
    pub lora_b: Linear<B>,
    /// `alpha / r` (not a parameter).
    pub scale: f64,
}

impl<B: Backend> LoraAdapter<B> {
    /// A rank-`rank` adapter for a Linear `d_in → d_out` with `scale = alpha / rank`.
    pub fn new(d_in: usize, d_out: usize, rank: usize, alpha: f64, device: &B::Device) -> Self {
        let lora_a = LinearConfig::new(d_in, rank)
            .with_bias(false)
            // peft: kaiming_uniform_(a=√5) → gain √(2/(1+5)) = 1/√3, bound 1/√in.
            .with_initializer(Initializer::KaimingUniform {
                gain: 1.0 / 3f64.sqrt(),
                fan_out_only: false,
            })
            .init(device);
        let lora_b = LinearConfig::new(rank, d_out)
            .with_bias(false)
            .with_initializer(Initializer::Zeros)
            .init(device);
        Self { lora_a, lora_b, scale: alpha / rank as f64 }
    }

    /// Rank r.
    pub fn rank(&self) -> usize {
        self.lora_a.weight.dims()[1]
    }

    /// `scale · B(A(x))` with both products in `precision`'s compute dtype; `x` must already be
    /// in that dtype (it is the operand of the adapted Linear), and so is the result.
    ///
    /// # Shapes
    /// - input: `[B, T, in]`
    /// - output: `[B, T, out]`
    pub fn delta(&self, x: Tensor<B, 3>, precision: Precision) -> Tensor<B, 3> {
        let a = precision.compute(self.lora_a.weight.val());
        let b = precision.compute(self.lora_b.weight.val());
        let h = burn::tensor::module::linear(x, a, None); // [B, T, r]
        burn::tensor::module::linear(h, b, None).mul_scalar(self.scale) // [B, T, out]
    }

    /// `scale · A·B` in burn's `[in, out]` layout: what merging adds to the weight.
    pub fn delta_weight(&self) -> Tensor<B, 2> {
        self.lora_a
            .weight
            .val()
            .matmul(self.lora_b.weight.val())
            .mul_scalar(self.scale)
    }

    /// `linear` with this adapter folded into its weight (bias unchanged).
    pub fn merge_into(&self, mut linear: Linear<B>) -> Linear<B> {
        let delta = self.delta_weight().detach();
        linear.weight = linear.weight.map(|w| w + delta);
        linear
    }
}

/// Sets `require_grad` on every float parameter of a module.
struct Trainable;

impl<B: Backend> ModuleMapper<B> for Trainable {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        param.set_require_grad(true)
    }
}

/// Counts parameters that train and all parameters.
#[derive(Default)]
struct CountTrainable {
    trainable: usize,
    total: usize,
}

impl<B: Backend> ModuleVisitor<B> for CountTrainable {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let n = param.shape().num_elements();
        self.total += n;
        if param.is_require_grad() {
            self.trainable += n;
        }
    }
}

impl<B: Backend> VisionTransformer<B> {
    /// `(trainable, total)` parameter counts (trainable = requires a gradient; on a backend
    /// without autodiff nothing does).
    pub fn trainable_params(&self) -> (usize, usize) {
        let mut c = CountTrainable::default();
        self.visit(&mut c);
        (c.trainable, c.total)
    }

    /// Adds a rank-`rank` adapter with `scale = alpha / rank` to `attn.qkv` and `attn.proj`
    /// of every block (replacing any there).
    pub fn with_lora(mut self, rank: usize, alpha: f64, device: &B::Device) -> Self {
        let d = self.embed_dim();
        for block in &mut self.blocks {
            let qkv_out = block.attn.qkv.weight.dims()[1];
            block.attn.qkv_lora = Some(LoraAdapter::new(d, qkv_out, rank, alpha, device));
            block.attn.proj_lora = Some(LoraAdapter::new(d, d, rank, alpha, device));
        }
        self
    }

    /// Whether any block carries an adapter.
    pub fn has_lora(&self) -> bool {
        self.blocks
            .iter()
            .any(|b| b.attn.qkv_lora.is_some() || b.attn.proj_lora.is_some())
    }

    /// The same model with every adapter folded into its Linear and removed (see module docs);
    /// a model without adapters is returned unchanged.
    pub fn merge_lora(mut self) -> Self {
        for block in &mut self.blocks {
            let attn = &mut block.attn;
            if let Some(l) = attn.qkv_lora.take() {
                attn.qkv = l.merge_into(attn.qkv.clone());
            }
            if let Some(l) = attn.proj_lora.take() {
                attn.proj = l.merge_into(attn.proj.clone());
            }
        }
        self
    }

    /// Freezes the backbone: no parameter but the head's and the adapters' requires a gradient,
    /// so they get no gradient, no optimizer state and no weight decay (burn's optimizers only
    /// step parameters that have a gradient). Linear probing: a model without adapters.
    pub fn freeze_backbone(self) -> Self {
        let mut m = self.no_grad();
        m.head = m.head.map(&mut Trainable);
        for block in &mut m.blocks {
            let attn = &mut block.attn;
            attn.qkv_lora = attn.qkv_lora.take().map(|l| l.map(&mut Trainable));
            attn.proj_lora = attn.proj_lora.take().map(|l| l.map(&mut Trainable));
        }
        m
    }
}

/// Why an adapter file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum LoraFileError {
    #[error("`{path}`: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("cannot read or write `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `(peft key, adapter, PyTorch-layout shape)` of every adapter, blocks in order.
fn adapter_keys<B: Backend>(model: &VisionTransformer<B>) -> Vec<(String, &LoraAdapter<B>)> {
    let mut out = Vec::new();
    for (i, block) in model.blocks.iter().enumerate() {
        for (name, l) in [("qkv", &block.attn.qkv_lora), ("proj", &block.attn.proj_lora)] {
            if let Some(l) = l {
                out.push((format!("{PEFT_PREFIX}blocks.{i}.attn.{name}"), l));
            }
        }
    }
    out
}

/// Writes the adapters of `model` to `path` (peft key names, PyTorch layout, f32).
pub fn save_adapters<B: Backend>(model: &VisionTransformer<B>, path: &Path) -> Result<(), LoraFileError> {
    let fmt = |reason: String| LoraFileError::Format { path: path.to_path_buf(), reason };
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let (mut rank, mut alpha) = (0, 0.0);
    for (key, l) in adapter_keys(model) {
        rank = l.rank();
        alpha = l.scale * rank as f64;
        // burn [in, r] / [r, out] → PyTorch [r, in] / [out, r].
        for (suffix, w) in [("lora_A", &l.lora_a.weight), ("lora_B", &l.lora_b.weight)] {
            let t = w.val().transpose();
            let shape = t.dims().to_vec();
            let values = t.into_data().convert::<f32>().into_vec::<f32>().map_err(|e| fmt(format!("{e:?}")))?;
            tensors.push((format!("{key}.{suffix}.weight"), shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()));
        }
    }
    if tensors.is_empty() {
        return Err(fmt("the model has no LoRA adapters".into()));
    }
    let views = tensors
        .iter()
        .map(|(k, s, b)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (k.clone(), v)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fmt(e.to_string()))?;
    let meta = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (META_LORA_RANK.to_string(), rank.to_string()),
        (META_LORA_ALPHA.to_string(), alpha.to_string()),
    ]);
    let bytes = safetensors::serialize(views, Some(meta)).map_err(|e| fmt(e.to_string()))?;
    crate::fsutil::write_atomic(path, &bytes).map_err(|source| LoraFileError::Io { path: path.to_path_buf(), source })
}

/// Loads adapters from a peft-named file (as [`save_adapters`] writes, or peft's
/// `adapter_model.safetensors` of a timm ViT with `target_modules=["qkv", "proj"]`) into a
/// model that already has adapters of the same rank ([`VisionTransformer::with_lora`]).
/// Every adapter of the model must be in the file, with its shape.
pub fn load_adapters<B: Backend>(
    mut model: VisionTransformer<B>,
    path: &Path,
) -> Result<VisionTransformer<B>, LoraFileError> {
    let fmt = |reason: String| LoraFileError::Format { path: path.to_path_buf(), reason };
    let bytes = std::fs::read(path).map_err(|source| LoraFileError::Io { path: path.to_path_buf(), source })?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| fmt(e.to_string()))?;
    let device = model.cls_token.device();
    let read = |key: &str, want: [usize; 2]| -> Result<Tensor<B, 2>, LoraFileError> {
        let view = st.tensor(key).map_err(|_| fmt(format!("no tensor `{key}`")))?;
        if view.dtype() != Dtype::F32 || view.shape() != want {
            return Err(fmt(format!("`{key}` is {:?} {:?}, expected F32 {want:?}", view.dtype(), view.shape())));
        }
        let values: Vec<f32> = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        // PyTorch [rows, cols] → burn's transposed Linear layout.
        Ok(Tensor::<B, 2>::from_data(TensorData::new(values, want), &device).transpose())
    };
    let keys: Vec<String> = adapter_keys(&model).into_iter().map(|(k, _)| k).collect();
    if keys.is_empty() {
        return Err(fmt("the model has no LoRA adapters to load into".into()));
    }
    let mut it = keys.iter();
    for block in &mut model.blocks {
        for l in [&mut block.attn.qkv_lora, &mut block.attn.proj_lora].into_iter().flatten() {
            let key = it.next().ok_or_else(|| fmt("adapter count changed".into()))?;
            let [d_in, r] = l.lora_a.weight.dims();
            let d_out = l.lora_b.weight.dims()[1];
            let a = read(&format!("{key}.lora_A.weight"), [r, d_in])?;
            let b = read(&format!("{key}.lora_B.weight"), [d_out, r])?;
            // Keep each parameter's id and whether it trains.
            l.lora_a.weight = l.lora_a.weight.clone().map(|old| a.set_require_grad(old.is_require_grad()));
            l.lora_b.weight = l.lora_b.weight.clone().map(|old| b.set_require_grad(old.is_require_grad()));
        }
    }
    Ok(model)
}
