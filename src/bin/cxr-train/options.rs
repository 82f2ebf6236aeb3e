//! The training options `fit`, `benchmark` and `demo` share. Every default is the library's
//! (`TrainConfig::default()`, the study's options), never written out here.

use clap::Args;

use cxr::model::{InputNorm, Precision};
use cxr::run::config::{FeatureCache, Finetune};
use cxr::train::{ModelKind, Schedule, TrainConfig, Uncertain};

/// The library's defaults.
pub fn defaults() -> TrainConfig {
    TrainConfig::default()
}

/// Options of every fit.
#[derive(Args, Clone)]
pub struct TrainOptions {
    /// Architecture preset (default: from the weights; ViT-B/16 for random)
    // clap lists every `ModelKind` value ("[possible values: …]") from the ValueEnum itself.
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Head labels: `study` (the study's set per dataset), `all` (every annotated finding) or a,b,…
    #[arg(long, default_value = "study")]
    pub labels: String,
    /// Views kept: `study` (CheXpert not lateral, MIMIC PA/AP, PadChest PA/AP/AP_SUPINE, others all), `all`, `A,B` or `not:A,B`
    #[arg(long, default_value = "study")]
    pub views: String,
    /// Uncertain (−1) and unstated labels of annotated findings: zeros (the study), ones, ignore (masked)
    #[arg(long, value_enum, default_value_t = defaults().uncertain)]
    pub uncertain: Uncertain,
    /// Input normalisation inside the model: none (the study: [0, 1]), imagenet, inception ([-1, 1]), rad-dino (RAD-DINO's processor: mean 0.5307, std 0.2583)
    #[arg(long, value_enum, default_value_t = defaults().input_norm)]
    pub input_norm: InputNorm,
    #[arg(long, default_value_t = defaults().epochs)]
    pub epochs: usize,
    #[arg(long, default_value_t = defaults().batch)]
    pub batch: usize,
    #[arg(long, default_value_t = defaults().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = defaults().weight_decay)]
    pub weight_decay: f64,
    /// Learning-rate schedule: constant (the study) or cosine (to 0 at the last step)
    #[arg(long, value_enum, default_value_t = defaults().schedule)]
    pub schedule: Schedule,
    /// Linear warmup steps before the schedule
    #[arg(long, default_value_t = defaults().warmup_steps)]
    pub warmup_steps: usize,
    /// Stop after this many epochs without a better mean val AUROC
    #[arg(long)]
    pub patience: Option<usize>,
    /// Seeds model init, data order and augmentation
    #[arg(long, default_value_t = defaults().seed)]
    pub seed: u64,
    /// Matmul precision: f32 (the study) or bf16 (mixed precision: bf16 matmuls, f32 master weights, optimizer state and checkpoints)
    #[arg(long, value_enum, default_value_t = defaults().precision)]
    pub precision: Precision,
    /// What trains: full (the study), linear (frozen backbone, head only) or lora (adapters on attn.qkv/proj + head; exports merged)
    #[arg(long, value_enum, default_value_t = defaults().finetune)]
    pub finetune: Finetune,
    /// LoRA rank r (--finetune lora)
    #[arg(long, default_value_t = defaults().lora_rank)]
    pub lora_rank: usize,
    /// LoRA alpha; adapters are scaled by alpha / r (--finetune lora)
    #[arg(long, default_value_t = defaults().lora_alpha)]
    pub lora_alpha: f64,
    /// --finetune linear: on (default) computes the frozen backbone's features once per split, without augmentation, and trains the head on them; off runs the backbone every step with augmentation
    #[arg(long, value_enum, default_value_t = defaults().feature_cache)]
    pub feature_cache: FeatureCache,
}

impl TrainOptions {
    /// `base` with these options set.
    pub fn apply(&self, base: TrainConfig) -> TrainConfig {
        TrainConfig {
            model: self.model,
            uncertain: self.uncertain,
            input_norm: self.input_norm,
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            weight_decay: self.weight_decay,
            schedule: self.schedule,
            warmup_steps: self.warmup_steps,
            patience: self.patience,
            seed: self.seed,
            precision: self.precision,
            finetune: self.finetune,
            lora_rank: self.lora_rank,
            lora_alpha: self.lora_alpha,
            feature_cache: self.feature_cache,
            ..base
        }
    }
}
