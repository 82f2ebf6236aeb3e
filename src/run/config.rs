//! [`TrainConfig`]: every option of one `cxr-train fit` run, saved as `<RUN>/config.json`
//! before training starts and reloaded by `--resume` (the run folder, not the command line, is
//! the truth for a resumed run).
//!
//! The enumerated options are `clap::ValueEnum`s: the command line spells them as
//! `config.json` does (`dinov2`, `vit_base_patch16_224`, `zeros`, `cosine`).
//!
//! Defaults are the study's (paper.md §4): AdamW, lr 1e-5, weight decay 0, batch 32, no
//! schedule, no clipping, uncertain → 0. Differences from the study are options, documented
//! on each field.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::{InputNorm, Precision};

/// Where the backbone weights come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// torch.hub `dinov2_vitb14` (`.pth`) or any DINOv2-keyed file: ViT-B/14 with LayerScale.
    Dinov2,
    /// timm `vit_base_patch16_224.augreg_in21k` safetensors: ViT-B/16 without LayerScale.
    Imagenet,
    /// A previous `cxr-train fit` run folder (its `checkpoints/best.safetensors`), e.g. the
    /// supervised MIMIC-CXR pretraining run; its head is kept only when the labels match.
    Mimic,
    /// Random initialisation (timm-like), the floor of the comparison.
    Random,
    /// DINOv3 ViT-B/16 (LVD-1689M): timm `vit_base_patch16_dinov3.lvd1689m` safetensors, Meta's
    /// `dinov3_vitb16_pretrain_lvd1689m-*.pth` or HF `facebook/dinov3-vitb16-pretrain-lvd1689m`;
    /// 4 registers, LayerScale, 2-D RoPE (any input size, no resampling).
    Dinov3,
    /// RAD-DINO (HF `microsoft/rad-dino`): a DINOv2 ViT-B/14 trained on chest radiographs,
    /// HF `Dinov2Model` safetensors (any DINOv2-family file with LayerScale loads).
    #[serde(rename = "rad-dino")]
    #[value(name = "rad-dino")]
    RadDino,
}


/// What uncertain (−1) and unstated (null) labels of an annotated finding become.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Uncertain {
    /// U-Zeros (the study): uncertain and unstated count as negative.
    Zeros,
    /// U-Ones: uncertain counts as positive, unstated as negative.
    Ones,
    /// Uncertain and unstated are masked out of the loss (and out of pos-weight counts).
    Ignore,
}


/// Model architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
pub enum ModelKind {
    /// timm ViT-B/16 (ImageNet-21k init).
    #[serde(rename = "vit_base_patch16_224")]
    #[value(name = "vit_base_patch16_224")]
    VitB16,
    /// DINOv2 ViT-B/14 with LayerScale.
    #[serde(rename = "vit_base_patch14_dinov2")]
    #[value(name = "vit_base_patch14_dinov2")]
    VitB14Dinov2,
    /// The 2-block, 24-wide test ViT (patch 8); for tests and CPU smoke runs.
    #[serde(rename = "tiny")]
    Tiny,
    /// DINOv3 ViT-B/16: 4 registers, LayerScale, RoPE (timm `vit_base_patch16_dinov3`).
    #[serde(rename = "vit_base_patch16_dinov3")]
    #[value(name = "vit_base_patch16_dinov3")]
    VitB16Dinov3,
    /// The 2-block, 16-wide DINOv3-style test ViT (patch 16, 2 heads, 4 registers, RoPE).
    #[serde(rename = "tiny_dinov3")]
    #[value(name = "tiny_dinov3")]
    TinyDinov3,
}


/// Learning-rate schedule over optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Constant lr (the study).
    Constant,
    /// Linear warmup over `warmup_steps`, then cosine decay to 0 at the last step.
    Cosine,
}


/// Which parameters a run trains (the follow-up study's modes, paper.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Finetune {
    /// Every parameter (the 2024 study).
    #[default]
    Full,
    /// Linear probing: the backbone is frozen (no gradient, no optimizer state), the head trains.
    Linear,
    /// LoRA adapters on every block's `attn.qkv` and `attn.proj` plus the head train; the
    /// backbone is frozen. Checkpoints are exported with the adapters merged.
    Lora,
}

/// `--feature-cache`: whether a linear probe (`--finetune linear`) computes the frozen
/// backbone's features once per split and trains the head on them (see `train::features`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FeatureCache {
    /// Features (final-norm CLS token) computed once per split without augmentation, cached in
    /// `<RUN>/features/`; every epoch trains the head on them. Ignored unless `--finetune linear`.
    #[default]
    On,
    /// The backbone's forward runs every step, on augmented images (as full and LoRA runs).
    Off,
}

/// Runs saved before `--feature-cache` existed ran the backbone every step: they resume as `off`.
fn feature_cache_before_option() -> FeatureCache {
    FeatureCache::Off
}

impl TrainConfig {
    /// Whether this run trains its head on cached backbone features (linear probe, cache on).
    pub fn uses_feature_cache(&self) -> bool {
        self.finetune == Finetune::Linear && self.feature_cache == FeatureCache::On
    }

    /// `full`, `linear`, or `lora (r R, alpha A)`: the fine-tuning mode as logs and tables say it.
    pub fn finetune_name(&self) -> String {
        self.finetune.describe(self.lora_rank, self.lora_alpha)
    }
}

impl Finetune {
    /// `full`, `linear`, or `lora (r R, alpha A)`.
    pub fn describe(self, lora_rank: usize, lora_alpha: f64) -> String {
        match self {
            Finetune::Full => "full".into(),
            Finetune::Linear => "linear".into(),
            Finetune::Lora => format!("lora (r {lora_rank}, alpha {lora_alpha})"),
        }
    }
}

fn default_lora_rank() -> usize {
    8
}

fn default_lora_alpha() -> f64 {
    16.0
}

/// Every option of a run. Serialised to `config.json` (with provenance added by the run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The store root.
    pub store: PathBuf,
    /// Datasets trained on together (one = the study; several = pooled with the masked loss).
    pub datasets: Vec<String>,
    /// Head outputs, in order (vocabulary names); resolved from `--labels` before saving.
    pub labels: Vec<String>,
    /// Per dataset, the views kept (`None` = every row, including rows with no view).
    pub views: Vec<(String, ViewFilter)>,
    pub uncertain: Uncertain,
    pub init: Init,
    /// Weights file or run folder given with `--weights` (`None` for random init).
    pub weights: Option<PathBuf>,
    /// Architecture asked for with `--model` (`None` = inferred from the weights; ViT-B/16 for
    /// random init). The architecture actually built is `vit_config` in `config.json`.
    pub model: Option<ModelKind>,
    /// Input side in pixels; must equal the store's ingest size (no resizing at train time);
    /// 0 in a request = the store's size.
    pub image_size: usize,
    /// Normalisation inside the model's forward. `None` = the study (images in `[0, 1]`, even
    /// for DINOv2/timm weights that were trained on normalised inputs); `Inception` centres
    /// inputs to `[-1, 1]`, which a randomly initialised ViT needs to leave the label-prior
    /// plateau quickly.
    pub input_norm: InputNorm,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// AdamW epsilon (PyTorch default 1e-8; burn's default would be 1e-5).
    pub adam_eps: f64,
    pub schedule: Schedule,
    pub warmup_steps: usize,
    /// Per-parameter-tensor L2-norm clipping (burn `GradientClippingConfig::Norm`); `None` = off.
    pub grad_clip: Option<f64>,
    /// Stop after this many epochs without a better mean val AUROC (`None` = never).
    pub patience: Option<usize>,
    /// Seeds model init, data order and augmentation.
    pub seed: u64,
    /// Row groups (256 rows each) read and shuffled together; bounds memory.
    pub shuffle_window: usize,
    /// Augmentation: horizontal flip probability (0.5 in the study).
    pub flip_p: f64,
    /// Augmentation: rotation range in degrees, uniform in ±this (7 in the study).
    pub rotate_deg: f64,
    /// Batches prepared ahead of the training step.
    pub prefetch: usize,
    /// Matmul precision (`f32`, the study's, or `bf16` mixed precision with f32 master
    /// weights; see [`Precision`]). Runs saved before this option existed read as f32.
    #[serde(default)]
    pub precision: Precision,
    /// What trains: `full` (the study), `linear` (head only) or `lora`. Runs saved before this
    /// option existed read as full.
    #[serde(default)]
    pub finetune: Finetune,
    /// LoRA rank r (`--finetune lora`; default 8).
    #[serde(default = "default_lora_rank")]
    pub lora_rank: usize,
    /// LoRA alpha; adapters are scaled by alpha / r (default 16, peft's common choice with r 8).
    #[serde(default = "default_lora_alpha")]
    pub lora_alpha: f64,
    /// Linear probes: train the head on backbone features computed once (`on`, the default) or
    /// run the backbone every step with augmentation (`off`). Runs saved before this option
    /// existed read as `off` (what they did).
    #[serde(default = "feature_cache_before_option")]
    pub feature_cache: FeatureCache,
}

impl Default for TrainConfig {
    /// The study's options (paper.md §4): AdamW lr 1e-5, no weight decay, batch 32, 10 epochs,
    /// constant schedule, no clipping, U-Zeros, flip p 0.5 + rotation ±7°, f32; no store,
    /// datasets or labels yet (a request fills them), random init, image size 0 (= the store's).
    fn default() -> Self {
        TrainConfig {
            store: PathBuf::new(),
            datasets: vec![],
            labels: vec![],
            views: vec![],
            uncertain: Uncertain::Zeros,
            init: Init::Random,
            weights: None,
            model: None,
            image_size: 0,
            input_norm: InputNorm::None,
            epochs: 10,
            batch: 32,
            lr: 1e-5,
            weight_decay: 0.0,
            // PyTorch's AdamW default (burn's own default would be 1e-5).
            adam_eps: 1e-8,
            schedule: Schedule::Constant,
            warmup_steps: 0,
            grad_clip: None,
            patience: None,
            seed: 0,
            shuffle_window: 16,
            flip_p: 0.5,
            rotate_deg: 7.0,
            prefetch: 4,
            precision: Precision::F32,
            finetune: Finetune::Full,
            lora_rank: default_lora_rank(),
            lora_alpha: default_lora_alpha(),
            feature_cache: FeatureCache::On,
        }
    }
}

/// Which rows of a dataset are kept, by the store's `view` column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViewFilter {
    /// Every row.
    All,
    /// Only rows whose view is one of these (rows without a view are dropped).
    Only(Vec<String>),
    /// Every row whose view is not one of these (rows without a view are kept).
    Except(Vec<String>),
}

impl ViewFilter {
    /// Whether a row with this view is kept.
    pub fn keeps(&self, view: Option<&str>) -> bool {
        match (self, view) {
            (ViewFilter::All, _) => true,
            (ViewFilter::Only(list), Some(v)) => list.iter().any(|w| w == v),
            (ViewFilter::Only(_), None) => false,
            (ViewFilter::Except(list), Some(v)) => !list.iter().any(|w| w == v),
            (ViewFilter::Except(_), None) => true,
        }
    }
}

impl TrainConfig {
    /// Checks the values a run can be resumed with (a `config.json` may have been edited):
    /// datasets and labels present, labels in the vocabulary, and [`Self::check_options`].
    pub fn check(&self) -> Result<(), String> {
        if self.datasets.is_empty() {
            return Err("`datasets` is empty".into());
        }
        if self.labels.is_empty() {
            return Err("`labels` is empty".into());
        }
        if let Some(l) = self.labels.iter().find(|l| crate::labels::finding_index(l).is_none()) {
            return Err(format!("label `{l}` is not a finding of the vocabulary"));
        }
        self.check_options()
    }

    /// Checks the options of a request before its labels are resolved: weights for every init
    /// but random, positive batch/epochs/window/prefetch, finite positive learning rate and
    /// epsilon, flip probability in [0, 1].
    pub fn check_options(&self) -> Result<(), String> {
        if self.init != Init::Random && self.weights.is_none() {
            let init = serde_json::to_string(&self.init).unwrap_or_default();
            return Err(format!("--init {} needs --weights (a file, or a run folder for mimic)", init.trim_matches('"')));
        }
        for (name, v) in [("batch", self.batch), ("epochs", self.epochs), ("shuffle_window", self.shuffle_window), ("prefetch", self.prefetch)] {
            if v == 0 {
                return Err(format!("`{name}` must be positive"));
            }
        }
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.lr) || !positive(self.adam_eps) || self.grad_clip.is_some_and(|c| !positive(c)) {
            return Err("`lr`, `adam_eps` and `grad_clip` must be finite and positive".into());
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0 && self.rotate_deg.is_finite()) {
            return Err("`weight_decay` must be finite and >= 0, `rotate_deg` finite".into());
        }
        if self.finetune == Finetune::Lora && (self.lora_rank == 0 || !(self.lora_alpha.is_finite() && self.lora_alpha > 0.0)) {
            return Err("`lora_rank` must be positive and `lora_alpha` finite and positive".into());
        }
        if !(0.0..=1.0).contains(&self.flip_p) {
            return Err(format!("`flip_p` {} is not a probability", self.flip_p));
        }
        Ok(())
    }

    /// The view filter of a dataset (`All` when none was recorded).
    pub fn view_filter(&self, dataset: &str) -> ViewFilter {
        self.views
            .iter()
            .find(|(d, _)| d == dataset)
            .map_or(ViewFilter::All, |(_, v)| v.clone())
    }

    /// Learning rate at optimizer step `step` (0-based) of `total` steps.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let warm = self.warmup_steps;
        if warm > 0 && step < warm {
            return self.lr * (step + 1) as f64 / warm as f64;
        }
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine => {
                let span = total.saturating_sub(warm).max(1) as f64;
                let t = (step.saturating_sub(warm)) as f64 / span;
                0.5 * self.lr * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_filters() {
        let except = ViewFilter::Except(vec!["LATERAL".into()]);
        assert!(except.keeps(Some("PA")) && except.keeps(None) && !except.keeps(Some("LATERAL")));
        let only = ViewFilter::Only(vec!["PA".into(), "AP".into()]);
        assert!(only.keeps(Some("AP")) && !only.keeps(None) && !only.keeps(Some("LL")));
    }

    /// The command line spells every enumerated option as `config.json` does.
    #[test]
    fn cli_names_are_the_config_names() {
        use clap::ValueEnum;
        fn same<T: ValueEnum + Serialize>() -> Vec<String> {
            T::value_variants()
                .iter()
                .map(|v| {
                    let cli = v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default();
                    assert_eq!(serde_json::to_value(v).unwrap(), serde_json::Value::String(cli.clone()));
                    cli
                })
                .collect()
        }
        assert_eq!(same::<Init>(), ["dinov2", "imagenet", "mimic", "random", "dinov3", "rad-dino"]);
        assert_eq!(same::<Uncertain>(), ["zeros", "ones", "ignore"]);
        assert_eq!(
            same::<ModelKind>(),
            ["vit_base_patch16_224", "vit_base_patch14_dinov2", "tiny", "vit_base_patch16_dinov3", "tiny_dinov3"]
        );
        assert_eq!(same::<Schedule>(), ["constant", "cosine"]);
        assert_eq!(same::<Finetune>(), ["full", "linear", "lora"]);
        assert_eq!(same::<FeatureCache>(), ["on", "off"]);
        let norms: Vec<_> = InputNorm::value_variants().iter().map(|v| v.to_possible_value().unwrap().get_name().to_string()).collect();
        assert_eq!(norms, ["none", "imagenet", "inception", "rad-dino"]);
    }

    #[test]
    fn a_pretrained_init_needs_weights() {
        let cfg = TrainConfig { init: Init::Dinov2, ..TrainConfig::default() };
        assert_eq!(cfg.check_options().unwrap_err(), "--init dinov2 needs --weights (a file, or a run folder for mimic)");
        assert!(TrainConfig { weights: Some("w.pth".into()), ..cfg }.check_options().is_ok());
        assert!(TrainConfig { batch: 0, ..TrainConfig::default() }.check_options().is_err());
    }

    #[test]
    fn warmup_then_cosine() {
        let cfg: TrainConfig = serde_json::from_value(serde_json::json!({
            "store": "s", "datasets": ["nih"], "labels": ["mass"], "views": [], "uncertain": "zeros",
            "init": "random", "weights": null, "model": "tiny", "image_size": 32, "input_norm": "None",
            "epochs": 1, "batch": 2, "lr": 1.0, "weight_decay": 0.0, "adam_eps": 1e-8, "schedule": "cosine",
            "warmup_steps": 4, "grad_clip": null, "patience": null, "seed": 0, "shuffle_window": 1,
            "flip_p": 0.5, "rotate_deg": 7.0, "prefetch": 1
        }))
        .unwrap();
        assert_eq!(cfg.lr_at(0, 14), 0.25);
        assert_eq!(cfg.lr_at(3, 14), 1.0);
        assert!((cfg.lr_at(4, 14) - 1.0).abs() < 1e-12);
        assert!((cfg.lr_at(9, 14) - 0.5).abs() < 1e-12);
        assert!(cfg.lr_at(13, 14) < 0.03);
        // A config.json written before --finetune existed is a full fine-tuning run.
        assert_eq!((cfg.finetune, cfg.lora_rank, cfg.lora_alpha), (Finetune::Full, 8, 16.0));
        // ... and one written before --feature-cache ran its backbone every step.
        assert_eq!(cfg.feature_cache, FeatureCache::Off);
        let constant = TrainConfig {
            schedule: Schedule::Constant,
            warmup_steps: 0,
            ..cfg
        };
        assert_eq!(constant.lr_at(13, 14), 1.0);
    }
}
