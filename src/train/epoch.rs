//! The epoch loop of `fit`: per epoch one shuffled, augmented pass of optimizer steps (a linear
//! probe with a feature cache: head steps on the cached features, same order), the
//! validation pass, the best/last checkpoints, `last.state/` for `--resume`, `metrics.*` and
//! `curve.png`, and the early stop after `patience` epochs without a better mean val AUROC.

use std::sync::Arc;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::record::Recorder;
use burn::tensor::backend::AutodiffBackend;
use indicatif::{ProgressBar, ProgressStyle};

use super::TrainError;
use super::data::{DataIndex, Pass, spawn_batches};
use super::fit::{Adam, FitOutcome, Log, Rec};
use super::features::{FeatureBatch, Features, train_order};
use super::step::{LossSum, head_step, step, validate, validate_cached};
use crate::model::{ExportSidecar, VisionTransformer, export_safetensors, save_adapters};
use crate::run::{EpochMetrics, RunDir, STATE_JSON, STATE_MODEL, STATE_OPTIM, TrainConfig, TrainerState};

/// Steps between reads of the running loss (progress bar, divergence check). Each read waits
/// for the device, so the loop reads rarely; the epoch's end always reads.
const LOSS_READ_EVERY: usize = 25;

/// What the epoch loop trains with.
pub(super) struct Training<'a, B: AutodiffBackend> {
    pub cfg: &'a TrainConfig,
    pub index: Arc<DataIndex>,
    /// Per-label positive weights of the loss.
    pub pw: Vec<f32>,
    pub devices: &'a [B::Device],
    pub log: &'a Log<'a>,
    /// Written next to each checkpoint.
    pub sidecar: ExportSidecar,
    /// Stop after this epoch as if killed (tests of `--resume`).
    pub halt_after_epoch: Option<usize>,
    /// A linear probe's cached backbone features: steps and validation run the head on them.
    pub features: Option<&'a Features>,
}

/// One step's input: an image batch, or a linear probe's cached features.
enum StepInput {
    Images(super::data::Batch),
    Features(FeatureBatch),
}

/// One training pass over the train split.
struct PassResult {
    steps: usize,
    images: usize,
    /// The learning rate of the last step.
    lr: f64,
    /// Sum of the step losses.
    loss_sum: f64,
}

impl<B: AutodiffBackend> Training<'_, B> {
    fn run(&self) -> &RunDir {
        self.log.run
    }

    /// Trains from `state` until the last epoch, an early stop or `halt_after_epoch`.
    pub fn epochs(
        &self,
        mut model: VisionTransformer<B>,
        mut optim: Adam<B>,
        mut state: TrainerState,
    ) -> Result<FitOutcome, TrainError> {
        let cfg = self.cfg;
        let mut outcome = FitOutcome {
            run: self.run().root.clone(),
            metrics: vec![],
            best_epoch: state.best_epoch,
            best_auroc: state.best_auroc,
            stopped_early: false,
            halted: false,
        };
        let stop_now = |s: &TrainerState| cfg.patience.is_some_and(|p| s.bad_epochs >= p);
        outcome.stopped_early = stop_now(&state);
        while state.epochs_done < cfg.epochs && !outcome.stopped_early {
            let epoch = state.epochs_done + 1;
            let t0 = Instant::now();
            let pass;
            (model, pass) = self.train_pass(model, &mut optim, &mut state, epoch)?;
            let train_secs = t0.elapsed().as_secs_f64();
            let device = &self.devices[0];
            let (val_loss, per_ds, mean) = match self.features {
                Some(f) => validate_cached(&model.valid().fork(device), &f.val, &self.index, cfg, &self.pw)?,
                None => validate(&model.valid().fork(device), &self.index, cfg, &self.pw)?,
            };
            let m = EpochMetrics {
                epoch,
                steps: pass.steps,
                lr: pass.lr,
                train_loss: pass.loss_sum / pass.steps.max(1) as f64,
                val_loss,
                val_auroc_mean: mean,
                val_auroc: per_ds,
                images_per_s: pass.images as f64 / train_secs.max(1e-9),
                seconds: t0.elapsed().as_secs_f64(),
            };
            let better = self.record_epoch(&model, &optim, &mut state, m.clone())?;
            self.log.say(&format!(
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
                self.log.say(&format!(
                    "early stop: no better val AUROC for {} epochs",
                    state.bad_epochs
                ))?;
                outcome.stopped_early = true;
            }
            if self.halt_after_epoch == Some(epoch) {
                outcome.halted = true;
                break;
            }
        }
        outcome.best_epoch = state.best_epoch;
        outcome.best_auroc = state.best_auroc;
        outcome.metrics = state.metrics;
        Ok(outcome)
    }

    /// One pass of optimizer steps over the shuffled, augmented train split of `epoch`.
    fn train_pass(
        &self,
        mut model: VisionTransformer<B>,
        optim: &mut Adam<B>,
        state: &mut TrainerState,
        epoch: usize,
    ) -> Result<(VisionTransformer<B>, PassResult), TrainError> {
        let cfg = self.cfg;
        let steps = self.index.steps_per_epoch(cfg.batch);
        let total_steps = steps * cfg.epochs;
        let t0 = Instant::now();
        let bar = if self.log.progress {
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
            units: self.index.train.clone(),
            batch: cfg.batch,
            shuffle: Some((cfg.seed, epoch as u64)),
            window: cfg.shuffle_window,
            flip_p: cfg.flip_p,
            rotate_deg: cfg.rotate_deg,
            drop_last: true,
            prefetch: cfg.prefetch,
        };
        let mut done = PassResult { steps: 0, images: 0, lr: cfg.lr, loss_sum: 0.0 };
        // Step losses are summed on the device and read every LOSS_READ_EVERY steps and at
        // the end: no step waits for the device (a NaN is caught at the next read).
        let mut losses = LossSum::default();
        // A linear probe with cached features replays the uncached pass's row order on them.
        let inputs: Box<dyn Iterator<Item = Result<StepInput, TrainError>>> = match self.features {
            Some(f) => Box::new(
                train_order(&self.index.train, cfg.batch, cfg.seed, epoch as u64, cfg.shuffle_window)
                    .into_iter()
                    .map(|rows| Ok(StepInput::Features(f.train.gather(&rows)))),
            ),
            None => Box::new(spawn_batches(self.index.clone(), pass).into_iter().map(|b| b.map(StepInput::Images))),
        };
        for input in inputs {
            done.lr = cfg.lr_at(state.global_step, total_steps);
            let values;
            (model, values) = match input? {
                StepInput::Images(b) => {
                    done.images += b.n;
                    step(model, optim, b, cfg, &self.pw, done.lr, self.devices)
                }
                StepInput::Features(f) => {
                    done.images += f.n;
                    head_step(model, optim, f, &self.pw, done.lr, &self.devices[0])
                }
            };
            losses.add(values);
            state.global_step += 1;
            done.steps += 1;
            if done.steps.is_multiple_of(LOSS_READ_EVERY) || done.steps == steps {
                done.loss_sum = losses.read();
                if !done.loss_sum.is_finite() {
                    return Err(TrainError::Diverged {
                        epoch,
                        step: state.global_step,
                        loss: done.loss_sum,
                    });
                }
                let ips = done.images as f64 / t0.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "loss {:.4} {ips:.0} img/s",
                    done.loss_sum / done.steps as f64
                ));
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        // The workers end the channel early only if they died (a panic): never train on a
        // silently shortened epoch.
        if done.steps != steps {
            return Err(TrainError::Worker);
        }
        Ok((model, done))
    }

    /// Keeps the checkpoints of a finished epoch (best when it [`TrainerState::improves`],
    /// always last), then `last.state/` and the metrics; returns whether it is the new best.
    fn record_epoch(
        &self,
        model: &VisionTransformer<B>,
        optim: &Adam<B>,
        state: &mut TrainerState,
        m: EpochMetrics,
    ) -> Result<bool, TrainError> {
        let run = self.run();
        let better = state.improves(m.val_auroc_mean);
        if better {
            export_safetensors(model, &run.checkpoint("best"), &self.sidecar)?;
            save_lora(model, &run.checkpoint("best"))?;
            state.best_auroc = m.val_auroc_mean;
            state.best_epoch = Some(m.epoch);
            state.bad_epochs = 0;
        } else {
            state.bad_epochs += 1;
        }
        export_safetensors(model, &run.checkpoint("last"), &self.sidecar)?;
        save_lora(model, &run.checkpoint("last"))?;
        state.epochs_done = m.epoch;
        state.metrics.push(m);
        save_state(run, model, optim, state)?;
        run.write_metrics(&state.metrics)?;
        Ok(better)
    }
}

/// Next to a checkpoint of a LoRA run (which is exported merged), its adapters as
/// `<name>.lora.safetensors` (peft key names; see [`crate::model::save_adapters`]).
fn save_lora<B: AutodiffBackend>(
    model: &VisionTransformer<B>,
    checkpoint: &std::path::Path,
) -> Result<(), TrainError> {
    if !model.has_lora() {
        return Ok(());
    }
    let path = checkpoint.with_extension("lora.safetensors");
    save_adapters(model, &path).map_err(|e| TrainError::State {
        path,
        reason: e.to_string(),
    })
}

/// Writes model + optimizer records and the trainer state into `last.state/`. They are written
/// into a fresh `tempfile` folder next to it (`.last.state.<random>.tmp`), which then replaces
/// the old state by two renames (the old folder into a second temporary folder that is deleted
/// when dropped, the new one into place): a kill mid-save leaves the previous state intact, and
/// what a killed save left behind is removed by the next one ([`crate::fsutil::remove_stale_temps`]).
fn save_state<B: AutodiffBackend>(
    run: &RunDir,
    model: &VisionTransformer<B>,
    optim: &Adam<B>,
    state: &TrainerState,
) -> Result<(), TrainError> {
    let dir = run.state_dir();
    let parent = dir.parent().unwrap_or(std::path::Path::new("."));
    let ioerr = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    let serr = |path: &std::path::Path, reason: String| TrainError::State {
        path: path.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(parent).map_err(ioerr(parent))?;
    crate::fsutil::remove_stale_temps(&dir).map_err(ioerr(parent))?;
    // The fixed temporary name of cxr before the tempfile switch.
    let _ = std::fs::remove_dir_all(dir.with_extension("tmp"));
    let temp = || {
        tempfile::Builder::new()
            .prefix(".last.state.")
            .suffix(".tmp")
            .tempdir_in(parent)
            .map_err(ioerr(parent))
    };
    let new = temp()?;
    model
        .clone()
        .save_file(new.path().join(STATE_MODEL), &Rec::new())
        .map_err(|e| serr(new.path(), e.to_string()))?;
    Recorder::<B>::record(&Rec::new(), optim.to_record(), new.path().join(STATE_OPTIM))
        .map_err(|e| serr(new.path(), e.to_string()))?;
    RunDir::write_json(&new.path().join(STATE_JSON), state)?;
    let old = temp()?;
    let previous = old.path().join("last.state");
    if dir.exists() {
        std::fs::rename(&dir, &previous).map_err(ioerr(&dir))?;
    }
    let new = new.keep();
    if let Err(source) = std::fs::rename(&new, &dir) {
        // Put the previous state back; the new one goes.
        let _ = std::fs::rename(&previous, &dir);
        let _ = std::fs::remove_dir_all(&new);
        return Err(TrainError::Io { path: dir, source });
    }
    Ok(())
}
