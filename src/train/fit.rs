//! The training loop of `cxr-train fit`: resolve the request against the store, build the
//! model, then per epoch train (AdamW, optional warmup + cosine, optional clipping), validate on
//! the `val` split (per-dataset, per-label AUROC; mean over defined ones), keep the best and
//! last checkpoints, stop early after `patience` epochs without improvement, and leave a state
//! that `--resume` continues from exactly (same epochs, same data order).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamWConfig, Optimizer};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};

use super::TrainError;
use crate::run::config::TrainConfig;
use super::data::{DataIndex, Pass, spawn_batches};
use super::init::build_model;
use super::loss::pos_weights;
use super::resolve::resolve;
use crate::run::{DataSummary, EpochMetrics, RunConfig, RunDir, STATE_JSON, STATE_MODEL, STATE_OPTIM, TrainerState};
use super::step::{LossSum, step, validate};
use crate::model::{ExportSidecar, Preprocessing, VisionTransformer, export_safetensors};

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

type Rec = BinFileRecorder<FullPrecisionSettings>;

/// Steps between reads of the running loss (progress bar, divergence check). Each read waits
/// for the device, so the loop reads rarely; the epoch's end always reads.
const LOSS_READ_EVERY: usize = 25;

/// Trains one run on `devices` (the first holds the model between steps; several devices
/// train data-parallel, see [`step`]); see the module docs.
pub fn fit<B: AutodiffBackend>(
    req: FitRequest,
    devices: &[B::Device],
) -> Result<FitOutcome, TrainError> {
    let device = devices
        .first()
        .ok_or_else(|| TrainError::Option("no device given".into()))?;
    let run = RunDir::new(&req.out);
    // Events go to train.log, and to stderr when a progress bar is drawn.
    let say = |line: &str| -> Result<(), TrainError> {
        if req.progress {
            eprintln!("{line}");
        }
        Ok(run.log(line)?)
    };
    let fresh = !req.resume;
    let (mut cfg, saved) = if fresh {
        if run.config().exists() {
            return Err(TrainError::RunDir {
                path: run.root.clone(),
                reason: "already holds a run; pass --resume to continue it or choose another --out"
                    .into(),
            });
        }
        (req.config.clone(), None)
    } else {
        let saved = RunConfig::read(&run.config())?;
        (saved.config.clone(), Some(saved))
    };
    // A run killed before its first epoch finished has a config but no state: it restarts from
    // epoch 1 with the saved options (the seeded init makes that the same run).
    let state_file = run.state_dir().join(STATE_JSON);
    let from_state = !fresh && state_file.is_file();
    let mut state = if from_state {
        RunDir::read_json::<TrainerState>(&state_file)?
    } else {
        TrainerState::new()
    };
    let (parts, annotated, store_fp) = resolve(&mut cfg, &req.labels_arg, &req.views_arg, fresh)?;
    if let Some(s) = &saved
        && s.store.meta_sha256 != store_fp.meta_sha256
    {
        say("warning: the store's _meta.json changed since the run started")?;
    }
    let index = Arc::new(DataIndex::build(&cfg, parts, annotated)?);
    let pw = pos_weights(&index.train_counts);
    let steps = index.steps_per_epoch(cfg.batch);
    let total_steps = steps * cfg.epochs;

    let model: VisionTransformer<B> = match saved.filter(|_| from_state) {
        None => {
            let (model, _kind, init) = build_model::<B>(&cfg, device)?;
            // burn initialises parameters lazily, and a clone of a not-yet-initialised parameter
            // draws its own random values; fork() materialises them once, so the per-device
            // copies of data-parallel steps (and any later clone) share one initialisation.
            let model = model.fork(device);
            let labels = cfg
                .labels
                .iter()
                .zip(&index.train_counts)
                .zip(&pw)
                .map(|((l, &(n, p)), w)| {
                    (
                        l.clone(),
                        serde_json::json!({ "counted": n, "positives": p, "pos_weight": w }),
                    )
                })
                .collect();
            let rc = RunConfig {
                tool: format!("cxr {}", env!("CARGO_PKG_VERSION")),
                created_at: chrono::Utc::now().to_rfc3339(),
                config: cfg.clone(),
                vit_config: model.config(),
                init,
                store: store_fp,
                data: DataSummary {
                    train_rows: index.train_rows(),
                    val_rows: index.val_rows(),
                    steps_per_epoch: steps,
                    skipped_unlabelled: index.skipped_unlabelled,
                    labels,
                },
                device: req.device_name.clone(),
            };
            run.create()?;
            if fresh {
                RunDir::write_json(&run.config(), &rc)?;
            } else {
                say("resume: no finished epoch yet, restarting from epoch 1")?;
            }
            say(&format!(
                "start: {} train / {} val rows, {} labels, {steps} steps/epoch, precision {}",
                rc.data.train_rows,
                rc.data.val_rows,
                cfg.labels.len(),
                cfg.precision
            ))?;
            model
        }
        Some(rc) => {
            let path = run.state_dir().join(STATE_MODEL);
            let model = rc
                .vit_config
                .init::<B>(device)
                .load_file(path.clone(), &Rec::new(), device)
                .map_err(|e| TrainError::State {
                    path,
                    reason: e.to_string(),
                })?;
            // A kill between saving the state and rewriting the metrics leaves them one epoch
            // behind: the state is the truth.
            run.write_metrics(&state.metrics)?;
            say(&format!(
                "resume after epoch {} on {}",
                state.epochs_done, req.device_name
            ))?;
            model
        }
    };
    let (skip_train, skip_val) = index.skipped_unlabelled;
    if skip_train + skip_val > 0 {
        say(&format!(
            "note: {skip_train} train / {skip_val} val rows have no stated value for any run label and are skipped"
        ))?;
    }
    let mut model = model.with_precision(cfg.precision);
    for (l, &(_, p)) in cfg.labels.iter().zip(&index.train_counts) {
        if p == 0 {
            say(&format!(
                "warning: `{l}` has no positive train row; pos_weight 1"
            ))?;
        }
    }

    let mut optim_cfg = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .with_epsilon(cfg.adam_eps as f32);
    if let Some(c) = cfg.grad_clip {
        optim_cfg = optim_cfg.with_grad_clipping(Some(
            burn::grad_clipping::GradientClippingConfig::Norm(c as f32),
        ));
    }
    let mut optim = optim_cfg.init::<B, VisionTransformer<B>>();
    if from_state {
        let path = run.state_dir().join(STATE_OPTIM);
        let rec = Recorder::<B>::load(&Rec::new(), path.clone(), device).map_err(|e| {
            TrainError::State {
                path,
                reason: e.to_string(),
            }
        })?;
        optim = optim.load_record(rec);
    }
    let sidecar = ExportSidecar {
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
    };

    let mut outcome = FitOutcome {
        run: run.root.clone(),
        metrics: vec![],
        best_epoch: state.best_epoch,
        best_auroc: state.best_auroc,
        stopped_early: false,
        halted: false,
    };
    let stop_now = |s: &TrainerState| cfg.patience.is_some_and(|p| s.bad_epochs >= p);
    if stop_now(&state) {
        outcome.stopped_early = true;
    }
    while state.epochs_done < cfg.epochs && !outcome.stopped_early {
        let epoch = state.epochs_done + 1;
        let t0 = Instant::now();
        let bar = if req.progress {
            ProgressBar::new(steps as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(format!("{epoch}/{}", cfg.epochs));
        let pass = Pass {
            units: index.train.clone(),
            batch: cfg.batch,
            shuffle: Some((cfg.seed, epoch as u64)),
            window: cfg.shuffle_window,
            flip_p: cfg.flip_p,
            rotate_deg: cfg.rotate_deg,
            drop_last: true,
            prefetch: cfg.prefetch,
        };
        let (mut n_steps, mut n_images, mut lr) = (0usize, 0usize, cfg.lr);
        // Step losses are summed on the device and read every LOSS_READ_EVERY steps and at
        // the end: no step waits for the device (a NaN is caught at the next read).
        let mut losses = LossSum::default();
        let mut loss_sum = 0.0f64;
        for batch in spawn_batches(index.clone(), pass) {
            let b = batch?;
            lr = cfg.lr_at(state.global_step, total_steps);
            n_images += b.n;
            let values;
            (model, values) = step(model, &mut optim, b, &cfg, &pw, lr, devices);
            losses.add(values);
            state.global_step += 1;
            n_steps += 1;
            if n_steps % LOSS_READ_EVERY == 0 || n_steps == steps {
                loss_sum = losses.read();
                if !loss_sum.is_finite() {
                    return Err(TrainError::Diverged {
                        epoch,
                        step: state.global_step,
                        loss: loss_sum,
                    });
                }
                let ips = n_images as f64 / t0.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "loss {:.4} {ips:.0} img/s",
                    loss_sum / n_steps as f64
                ));
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        // The workers end the channel early only if they died (a panic): never train on a
        // silently shortened epoch.
        if n_steps != steps {
            return Err(TrainError::Worker);
        }
        let train_secs = t0.elapsed().as_secs_f64();
        let (val_loss, per_ds, mean) = validate(&model.valid().fork(device), &index, &cfg, &pw)?;
        let m = EpochMetrics {
            epoch,
            steps: n_steps,
            lr,
            train_loss: loss_sum / n_steps.max(1) as f64,
            val_loss,
            val_auroc_mean: mean,
            val_auroc: per_ds,
            images_per_s: n_images as f64 / train_secs.max(1e-9),
            seconds: t0.elapsed().as_secs_f64(),
        };
        let better = match (mean, state.best_auroc) {
            (Some(a), Some(b)) => a > b,
            (Some(_), None) => true,
            (None, _) => state.best_epoch.is_none(),
        };
        if better {
            export_safetensors(&model, &run.checkpoint("best"), &sidecar)?;
            state.best_auroc = mean;
            state.best_epoch = Some(epoch);
            state.bad_epochs = 0;
        } else {
            state.bad_epochs += 1;
        }
        export_safetensors(&model, &run.checkpoint("last"), &sidecar)?;
        state.epochs_done = epoch;
        state.metrics.push(m.clone());
        save_state(&run, &model, &optim, &state)?;
        run.write_metrics(&state.metrics)?;
        say(&format!(
            "epoch {epoch}: train loss {:.4}, val loss {:.4}, val AUROC {}, {:.0} img/s, {:.1} s{}",
            m.train_loss,
            m.val_loss,
            mean.map_or("n/a".into(), |a| format!("{a:.4}")),
            m.images_per_s,
            m.seconds,
            if better { ", new best" } else { "" }
        ))?;
        outcome.metrics.push(m);
        if stop_now(&state) && state.epochs_done < cfg.epochs {
            say(&format!(
                "early stop: no better val AUROC for {} epochs",
                state.bad_epochs
            ))?;
            outcome.stopped_early = true;
        }
        if req.halt_after_epoch == Some(epoch) {
            outcome.halted = true;
            break;
        }
    }
    outcome.best_epoch = state.best_epoch;
    outcome.best_auroc = state.best_auroc;
    outcome.metrics = state.metrics;
    Ok(outcome)
}

/// Writes model + optimizer records and the trainer state into `last.state` (temp dir + rename,
/// so a kill mid-save leaves the previous state intact).
fn save_state<B: AutodiffBackend, O: Optimizer<VisionTransformer<B>, B>>(
    run: &RunDir,
    model: &VisionTransformer<B>,
    optim: &O,
    state: &TrainerState,
) -> Result<(), TrainError> {
    let dir = run.state_dir();
    let tmp = dir.with_extension("tmp");
    let serr = |path: &std::path::Path, reason: String| TrainError::State {
        path: path.to_path_buf(),
        reason,
    };
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|source| TrainError::Io {
        path: tmp.clone(),
        source,
    })?;
    model
        .clone()
        .save_file(tmp.join(STATE_MODEL), &Rec::new())
        .map_err(|e| serr(&tmp, e.to_string()))?;
    Recorder::<B>::record(&Rec::new(), optim.to_record(), tmp.join(STATE_OPTIM))
        .map_err(|e| serr(&tmp, e.to_string()))?;
    RunDir::write_json(&tmp.join(STATE_JSON), state)?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).map_err(|source| TrainError::Io {
        path: dir.clone(),
        source,
    })
}
