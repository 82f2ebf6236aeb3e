//! The training loop of `cxr-train fit`: resolve the request against the store, build the
//! model, then per epoch train (AdamW, optional warmup + cosine, optional clipping), validate on
//! the `val` split (per-dataset, per-label AUROC; mean over defined ones), keep the best and
//! last checkpoints, stop early after `patience` epochs without improvement, and leave a state
//! that `--resume` continues from exactly (same epochs, same data order).

//!
//! `fit` decides how the run starts ([`Start`]), resolves the request against the store,
//! builds or restores the model and optimizer for that start, and hands them to the epoch loop
//! ([`super::epoch`]).

use std::path::PathBuf;
use std::sync::Arc;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamW, AdamWConfig, Optimizer};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;

use super::TrainError;
use super::data::DataIndex;
use super::epoch::Training;
use super::features::{self, FeatureKey};
use super::init::build_model;
use super::loss::pos_weights;
use super::resolve::resolve;
use crate::model::{ExportSidecar, Preprocessing, VisionTransformer};
use crate::run::config::Finetune;
use crate::run::{
    DataSummary, EpochMetrics, InitReport, LabelCount, RunConfig, RunDir, STATE_JSON, STATE_MODEL, STATE_OPTIM,
    StoreFingerprint, TrainConfig, TrainerState,
};

/// One `fit` invocation.
#[derive(Debug, Clone)]
pub struct FitRequest {
    /// Options; `labels`/`views` are filled from `labels_arg`/`views_arg`, `image_size` 0 = store's.
    pub config: TrainConfig,
    /// `--labels`: `study`, `all` or `a,b,…`.
    pub labels_arg: String,
    /// `--views`: `study`, `all`, `not:A,B` or `A,B` (applied to every dataset).
    pub views_arg: String,
    pub out: PathBuf,
    /// Continue the run in `out` from its last checkpoint (options come from its config.json).
    pub resume: bool,
    /// Stop the process's training after this epoch as if killed (tests of `--resume`).
    pub halt_after_epoch: Option<usize>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Device description recorded in config.json.
    pub device_name: String,
}

/// How a `fit` ended.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    pub run: PathBuf,
    pub metrics: Vec<EpochMetrics>,
    pub best_epoch: Option<usize>,
    pub best_auroc: Option<f64>,
    pub stopped_early: bool,
    pub halted: bool,
}

pub(super) type Rec = BinFileRecorder<FullPrecisionSettings>;

/// How a run starts, decided once from `--resume` and what the run folder holds.
#[derive(Debug)]
pub enum Start {
    /// A new run in an empty (or absent) folder: `config.json` is written.
    Fresh,
    /// `--resume` of a run killed before its first epoch finished: it has a config but no
    /// state, and restarts from epoch 1 with the saved options (the seeded init makes that the
    /// same run).
    Restart(Box<RunConfig>),
    /// `--resume` after a finished epoch: model, optimizer and trainer state come from
    /// `checkpoints/last.state/`, the options from `config.json`.
    Resume(Box<RunConfig>, TrainerState),
}

impl Start {
    /// Reads the run folder: a fresh run refuses a folder that already holds a run; a resumed
    /// one needs its `config.json` and continues from `last.state/` when there is one.
    pub fn decide(resume: bool, run: &RunDir) -> Result<Start, TrainError> {
        if !resume {
            if run.config().exists() {
                return Err(TrainError::RunDir {
                    path: run.root.clone(),
                    reason: "already holds a run; pass --resume to continue it or choose another --out"
                        .into(),
                });
            }
            return Ok(Start::Fresh);
        }
        let saved = Box::new(RunConfig::read(&run.config())?);
        let state_file = run.state_dir().join(STATE_JSON);
        Ok(if state_file.is_file() {
            Start::Resume(saved, RunDir::read_json::<TrainerState>(&state_file)?)
        } else {
            Start::Restart(saved)
        })
    }

    /// The saved `config.json` of a resumed run.
    pub fn saved(&self) -> Option<&RunConfig> {
        match self {
            Start::Fresh => None,
            Start::Restart(rc) | Start::Resume(rc, _) => Some(rc),
        }
    }
}

/// Events go to `train.log`, and to stderr when a progress bar is drawn.
pub(super) struct Log<'a> {
    pub run: &'a RunDir,
    pub progress: bool,
}

impl Log<'_> {
    pub fn say(&self, line: &str) -> Result<(), TrainError> {
        if self.progress {
            eprintln!("{line}");
        }
        Ok(self.run.log(line)?)
    }
}

/// The optimizer of a run: AdamW with the run's weight decay, epsilon and clipping.
pub(super) type Adam<B> = OptimizerAdaptor<AdamW, VisionTransformer<B>, B>;

/// Trains one run on `devices` (the first holds the model between steps; several devices
/// train data-parallel, see [`super::step`]); see the module docs.
pub fn fit<B: AutodiffBackend>(
    req: FitRequest,
    devices: &[B::Device],
) -> Result<FitOutcome, TrainError> {
    let device = devices
        .first()
        .ok_or_else(|| TrainError::Option("no device given".into()))?;
    let run = RunDir::new(&req.out);
    let log = Log { run: &run, progress: req.progress };
    let start = Start::decide(req.resume, &run)?;
    let mut cfg = start.saved().map_or_else(|| req.config.clone(), |s| s.config.clone());
    cfg.check_options().map_err(TrainError::Option)?;
    let fresh = matches!(start, Start::Fresh);
    let (parts, annotated, store_fp) = resolve(&mut cfg, &req.labels_arg, &req.views_arg, fresh)?;
    if let Some(s) = start.saved()
        && s.store.meta_sha256 != store_fp.meta_sha256
    {
        log.say("warning: the store's _meta.json changed since the run started")?;
    }
    let store_sha = store_fp.meta_sha256.clone();
    let index = Arc::new(DataIndex::build(&cfg, parts, annotated)?);
    let pw = pos_weights(&index.train_counts);

    let (model, state, resumed, rc) = match start {
        Start::Fresh | Start::Restart(_) => {
            let (model, _kind, init) = build_model::<B>(&cfg, device)?;
            let model = adapt(model, &cfg, device);
            // burn initialises parameters lazily, and a clone of a not-yet-initialised parameter
            // draws its own random values; fork() materialises them once, so the per-device
            // copies of data-parallel steps (and any later clone) share one initialisation.
            let model = model.fork(device);
            let rc = run_config(&cfg, &model, init, store_fp, &index, &pw, &req.device_name);
            run.create()?;
            if fresh {
                RunDir::write_json(&run.config(), &rc)?;
            } else {
                log.say("resume: no finished epoch yet, restarting from epoch 1")?;
            }
            let (trainable, total) = model.trainable_params();
            log.say(&format!(
                "start: {} train / {} val rows, {} labels, {} steps/epoch, precision {}, finetune {}: {trainable} of {total} parameters train",
                rc.data.train_rows,
                rc.data.val_rows,
                cfg.labels.len(),
                rc.data.steps_per_epoch,
                cfg.precision,
                cfg.finetune_name(),
            ))?;
            (model, TrainerState::new(), false, rc)
        }
        Start::Resume(rc, state) => {
            let model = load_model::<B>(&run, &rc, device)?;
            // A kill between saving the state and rewriting the metrics leaves them one epoch
            // behind: the state is the truth.
            run.write_metrics(&state.metrics)?;
            log.say(&format!(
                "resume after epoch {} on {}",
                state.epochs_done, req.device_name
            ))?;
            (model, state, true, *rc)
        }
    };
    let (skip_train, skip_val) = index.skipped_unlabelled;
    if skip_train + skip_val > 0 {
        log.say(&format!(
            "note: {skip_train} train / {skip_val} val rows have no stated value for any run label and are skipped"
        ))?;
    }
    let model = model.with_precision(cfg.precision);
    for (l, &(_, p)) in cfg.labels.iter().zip(&index.train_counts) {
        if p == 0 {
            log.say(&format!(
                "warning: `{l}` has no positive train row; pos_weight 1"
            ))?;
        }
    }
    let features = if cfg.uses_feature_cache() {
        if cfg.flip_p > 0.0 || cfg.rotate_deg != 0.0 {
            log.say(&format!(
                "note: --feature-cache on: the linear probe trains on features of unaugmented images (flip p {} and rotation ±{}° are not applied; --feature-cache off keeps them)",
                cfg.flip_p, cfg.rotate_deg
            ))?;
        }
        if devices.len() > 1 {
            log.say("note: --feature-cache on: the head trains on the first device only")?;
        }
        let keys = ["train", "val"].map(|split| FeatureKey::new(&cfg, &rc.vit_config, &rc.init, &store_sha, &index, split));
        Some(features::prepare(keys, &model.valid(), &index, &cfg, &log)?)
    } else {
        None
    };
    let optim = optimizer::<B>(&cfg, resumed.then(|| run.state_dir().join(STATE_OPTIM)), device)?;
    let training = Training {
        sidecar: checkpoint_sidecar(&cfg),
        cfg: &cfg,
        index,
        pw,
        devices,
        log: &log,
        halt_after_epoch: req.halt_after_epoch,
        features: features.as_ref(),
    };
    training.epochs(model, optim, state)
}

/// `config.json` of a run starting from `model`.
fn run_config<B: AutodiffBackend>(
    cfg: &TrainConfig,
    model: &VisionTransformer<B>,
    init: InitReport,
    store: StoreFingerprint,
    index: &DataIndex,
    pw: &[f32],
    device_name: &str,
) -> RunConfig {
    let labels = cfg
        .labels
        .iter()
        .zip(&index.train_counts)
        .zip(pw)
        .map(|((l, &(n, p)), w)| {
            (
                l.clone(),
                LabelCount { counted: n, positives: p, pos_weight: *w },
            )
        })
        .collect();
    RunConfig {
        tool: format!("cxr {}", env!("CARGO_PKG_VERSION")),
        created_at: chrono::Utc::now().to_rfc3339(),
        config: cfg.clone(),
        vit_config: model.config(),
        init,
        store,
        data: DataSummary {
            train_rows: index.train_rows(),
            val_rows: index.val_rows(),
            steps_per_epoch: index.steps_per_epoch(cfg.batch),
            skipped_unlabelled: index.skipped_unlabelled,
            labels,
        },
        device: device_name.to_string(),
    }
}

/// `--finetune` applied to a freshly built model: LoRA adapters (seeded like the rest of the
/// init) for `lora`, and the frozen backbone for `linear` and `lora` (see
/// [`VisionTransformer::freeze_backbone`]: frozen parameters get no gradient, no AdamW state
/// and no weight decay).
pub fn adapt<B: AutodiffBackend>(
    model: VisionTransformer<B>,
    cfg: &TrainConfig,
    device: &B::Device,
) -> VisionTransformer<B> {
    adapt_with(model, cfg.finetune, cfg.lora_rank, cfg.lora_alpha, device)
}

/// [`adapt`] from the mode and LoRA settings alone (`cxr-train bench --finetune`).
pub fn adapt_with<B: AutodiffBackend>(
    model: VisionTransformer<B>,
    finetune: Finetune,
    lora_rank: usize,
    lora_alpha: f64,
    device: &B::Device,
) -> VisionTransformer<B> {
    match finetune {
        Finetune::Full => model,
        Finetune::Linear => model.freeze_backbone(),
        Finetune::Lora => model.with_lora(lora_rank, lora_alpha, device).freeze_backbone(),
    }
}

/// The model saved in `last.state/` of a resumed run (with its adapters and frozen backbone:
/// burn's record loading keeps each parameter's `require_grad`).
fn load_model<B: AutodiffBackend>(
    run: &RunDir,
    rc: &RunConfig,
    device: &B::Device,
) -> Result<VisionTransformer<B>, TrainError> {
    let path = run.state_dir().join(STATE_MODEL);
    adapt(rc.vit_config.init::<B>(device), &rc.config, device)
        .load_file(path.clone(), &Rec::new(), device)
        .map_err(|e| TrainError::State {
            path,
            reason: e.to_string(),
        })
}

/// AdamW with the run's options; its moments are loaded from `record` when resuming.
fn optimizer<B: AutodiffBackend>(
    cfg: &TrainConfig,
    record: Option<PathBuf>,
    device: &B::Device,
) -> Result<Adam<B>, TrainError> {
    let mut optim_cfg = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .with_epsilon(cfg.adam_eps as f32);
    if let Some(c) = cfg.grad_clip {
        optim_cfg = optim_cfg.with_grad_clipping(Some(
            burn::grad_clipping::GradientClippingConfig::Norm(c as f32),
        ));
    }
    let optim = optim_cfg.init::<B, VisionTransformer<B>>();
    let Some(path) = record else {
        return Ok(optim);
    };
    let rec = Recorder::<B>::load(&Rec::new(), path.clone(), device).map_err(|e| {
        TrainError::State {
            path,
            reason: e.to_string(),
        }
    })?;
    Ok(optim.load_record(rec))
}

/// The sidecar written next to every checkpoint: labels and preprocessing.
fn checkpoint_sidecar(cfg: &TrainConfig) -> ExportSidecar {
    ExportSidecar {
        labels: cfg.labels.clone(),
        preprocessing: Preprocessing {
            image_size: cfg.image_size,
            resize: format!(
                "stored by cxr-prep at {0}x{0} (8-bit grey); no resize at train time",
                cfg.image_size
            ),
            grayscale_to_rgb: true,
            mean: cfg.input_norm.mean_std().map_or([0.0; 3], |m| m.0),
            std: cfg.input_norm.mean_std().map_or([1.0; 3], |m| m.1),
        },
        timm_model_name: None,
    }
}
