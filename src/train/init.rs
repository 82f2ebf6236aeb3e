//! Building the model of a run from `--init`, `--weights` and `--model`.
//!
//! - `random`: the `--model` preset at the run's image size, timm-like random init (seeded).
//! - `dinov2` / `imagenet`: [`load_vit`] on the file (position grid resampled once, head new);
//!   the checkpoint must be the family the init names (LayerScale for DINOv2, none for the timm
//!   ImageNet ViT) and, when `--model` is given, exactly that preset.
//! - `dinov3`: [`load_vit`] on a DINOv3 file in any of its three layouts (timm `Eva`, Meta
//!   `.pth`, HF `DINOv3ViTModel`; `crate::model` `dinov3_keys`); the checkpoint must have RoPE.
//!   No position table, so nothing is resampled at any `--size` that is a multiple of 16.
//! - `rad-dino`: [`load_vit`] on HF `microsoft/rad-dino` (`Dinov2Model` ViT-B/14, LayerScale, no
//!   registers, trained at 518 px: the 37x37 grid is resampled like any HF DINOv2 file).
//! - `mimic`: a previous run folder (or its checkpoint file); the backbone is transferred and
//!   the head is kept only when the labels are the same labels in the same order.
//!
//! Images are fed in `[0, 1]` without mean/std normalisation, as in the study, for every init
//! (paper.md §2 and §9: no mean/std normalisation for any initialisation). DINOv3 and RAD-DINO
//! were pretrained on normalised inputs — ImageNet mean/std for DINOv3
//! (`data-manifests/weights.toml`), mean 0.5307 / std 0.2583 for RAD-DINO (its Hugging Face
//! `preprocessor_config.json`) — and `--input-norm imagenet` / `--input-norm rad-dino`
//! apply those, recorded in the run's `config.json`; no init switches them on by itself.


use std::path::Path;

use burn::nn::{Initializer, LinearConfig};
use burn::prelude::*;

use super::TrainError;
use crate::run::{Init, InitReport, ModelKind, TrainConfig, checkpoint_file, resolve_weights};
use crate::model::{LoadReport, LoadTarget, ViTConfig, VisionTransformer, load_vit};

/// The preset of a known architecture, if it is one.
pub fn kind_of(cfg: &ViTConfig) -> Option<ModelKind> {
    let tiny = ViTConfig::vit_tiny_test(1);
    if cfg.rope.is_some() {
        let tiny3 = ViTConfig::vit_tiny_dinov3_test(1);
        return match (cfg.embed_dim, cfg.depth, cfg.patch_size) {
            (768, 12, 16) => Some(ModelKind::VitB16Dinov3),
            (d, n, p) if (d, n, p) == (tiny3.embed_dim, tiny3.depth, tiny3.patch_size) => {
                Some(ModelKind::TinyDinov3)
            }
            _ => None,
        };
    }
    match (
        cfg.embed_dim,
        cfg.depth,
        cfg.patch_size,
        cfg.layer_scale.is_some(),
    ) {
        (768, 12, 16, false) => Some(ModelKind::VitB16),
        (768, 12, 14, true) => Some(ModelKind::VitB14Dinov2),
        (d, n, p, _) if (d, n, p) == (tiny.embed_dim, tiny.depth, tiny.patch_size) => {
            Some(ModelKind::Tiny)
        }
        _ => None,
    }
}

/// The preset's config at `img_size` with `classes` outputs.
pub fn preset(kind: ModelKind, img_size: usize, classes: usize) -> ViTConfig {
    let mut c = match kind {
        ModelKind::VitB16 => ViTConfig::vit_base_patch16_224(classes),
        ModelKind::VitB14Dinov2 => ViTConfig::vit_base_patch14_dinov2(classes),
        ModelKind::Tiny => ViTConfig::vit_tiny_test(classes),
        ModelKind::VitB16Dinov3 => ViTConfig::vit_base_patch16_dinov3(classes),
        ModelKind::TinyDinov3 => ViTConfig::vit_tiny_dinov3_test(classes),
    };
    c.img_size = img_size;
    c
}

/// The preset of the model in `weights` (a file, or a run folder's best checkpoint), its
/// architecture inferred from the file as [`load_vit`] does, at an `img_size` px input (which
/// must be a multiple of the file's patch). Lets columns that start from scratch (a random
/// init, a MIMIC pretraining from random) take the architecture of the pretrained columns.
///
/// Errors: the file cannot be loaded ([`TrainError::Load`]), or it is not one of the presets
/// ([`TrainError::WrongArchitecture`]).
pub fn weights_kind<B: Backend>(
    weights: &Path,
    img_size: usize,
    device: &B::Device,
) -> Result<ModelKind, TrainError> {
    let file = checkpoint_file(weights, "best");
    let (_, load): (VisionTransformer<B>, LoadReport) =
        load_vit(&file, &LoadTarget::new(img_size, 1), device)?;
    kind_of(&load.config).ok_or_else(|| TrainError::WrongArchitecture {
        path: file.clone(),
        found: describe(&load.config),
        wanted: "a known preset".into(),
    })
}

/// `--init` as the command line spells it (`rad-dino`, `dinov3`, ...).
fn init_name(init: Init) -> String {
    serde_json::to_value(init)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn describe(cfg: &ViTConfig) -> String {
    format!(
        "{} (patch {}, dim {}, depth {}, LayerScale {}, RoPE {})",
        kind_of(cfg).map_or("custom ViT".to_string(), |k| serde_json::to_string(&k)
            .unwrap_or_default()),
        cfg.patch_size,
        cfg.embed_dim,
        cfg.depth,
        if cfg.layer_scale.is_some() {
            "yes"
        } else {
            "no"
        },
        if cfg.rope.is_some() { "yes" } else { "no" }
    )
}

/// Builds the run's model. `cfg.model` = the `--model` the user gave (`None` = infer from the
/// weights, or ViT-B/16 for random). Returns the model, the preset used, and a report.
pub fn build_model<B: Backend>(
    cfg: &TrainConfig,
    device: &B::Device,
) -> Result<(VisionTransformer<B>, ModelKind, InitReport), TrainError> {
    let model = cfg.model;
    B::seed(device, cfg.seed);
    let k = cfg.labels.len();
    let size = cfg.image_size;
    let mut report = InitReport {
        weights_file: None,
        weights_sha256: None,
        source_labels: None,
        head_reinitialized: true,
        load: None,
    };
    if cfg.init == Init::Random {
        let kind = model.unwrap_or(ModelKind::VitB16);
        let vc = preset(kind, size, k).with_input_norm(cfg.input_norm);
        vc.validate()
            .map_err(|r| TrainError::Option(format!("--size {size} for {}: {r}", describe(&vc))))?;
        return Ok((vc.init(device), kind, report));
    }
    let given = cfg.weights.as_ref().ok_or_else(|| {
        TrainError::Option(format!("--init {} needs --weights FILE|RUN", init_name(cfg.init)))
    })?;
    let (file, source_labels, stored) = if cfg.init == Init::Mimic {
        let w = resolve_weights(given, None).map_err(|e| TrainError::Weights(format!("{e}")))?;
        (w.file, Some(w.labels), w.vit_config)
    } else {
        if !given.is_file() {
            return Err(TrainError::Weights(format!(
                "`{}` is not a file",
                given.display()
            )));
        }
        (given.clone(), None, None)
    };
    let mut target = LoadTarget::new(size, k);
    target.num_heads = stored.as_ref().map(|c| c.num_heads);
    target.input_norm = cfg.input_norm;
    let (mut vit, load): (VisionTransformer<B>, LoadReport) = load_vit(&file, &target, device)?;
    let found = &load.config;
    let family_ok = match cfg.init {
        Init::Dinov2 | Init::RadDino => found.layer_scale.is_some() && found.rope.is_none(),
        Init::Imagenet => found.layer_scale.is_none() && found.rope.is_none(),
        Init::Dinov3 => found.rope.is_some(),
        Init::Mimic | Init::Random => true,
    };
    let kind = kind_of(found);
    let preset_ok = model.is_none_or(|m| Some(m) == kind);
    if !family_ok || !preset_ok {
        let wanted = match model {
            Some(m) => serde_json::to_string(&m).unwrap_or_default(),
            None => format!(
                "a {} checkpoint",
                init_name(cfg.init)
            ),
        };
        return Err(TrainError::WrongArchitecture {
            path: file,
            found: describe(found),
            wanted,
        });
    }
    let kind = kind.ok_or_else(|| TrainError::WrongArchitecture {
        path: file.clone(),
        found: describe(found),
        wanted: "a known preset".into(),
    })?;
    // A same-sized head with other labels is not the same head: re-initialise it.
    let same_labels = source_labels.as_deref() == Some(cfg.labels.as_slice());
    report.head_reinitialized = load.head_reinitialized || !same_labels;
    if !load.head_reinitialized && !same_labels {
        vit.head = LinearConfig::new(vit.embed_dim(), k)
            .with_initializer(Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            })
            .init(device);
    }
    report.weights_sha256 = Some(
        crate::fsutil::sha256_file(&file).map_err(|source| TrainError::Io { path: file.clone(), source })?,
    );
    report.weights_file = Some(file);
    report.source_labels = source_labels;
    report.load = Some(load);
    Ok((vit, kind, report))
}
