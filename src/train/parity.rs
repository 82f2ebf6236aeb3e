//! `cxr-train bench --parity`: the same random weights and batch through two backends or
//! precisions, compared on the training forward's logits, the inference forward's logits and
//! the head's weight gradient, each as the largest deviation relative to the reference's scale.

use burn::module::{AutodiffModule, Module};
use burn::prelude::*;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use super::TrainError;
use super::bench::{Numerics, RandomBatch};
use super::loss::masked_bce;
use crate::model::{Precision, ViTConfig, VisionTransformer};
use crate::run::config::ModelKind;

/// Logits and head-weight gradient of one forward + backward, and the logits of the inference
/// forward (`valid()`: no autodiff, the path of validation, `predict` and the feature cache,
/// where burn-cuda may pick its flash-attention kernel, which the autodiff forward never runs).
#[derive(Debug, Clone)]
pub struct ParityOutputs {
    /// `[n, K]` row-major.
    pub logits: Vec<f32>,
    /// `[D, K]` row-major (burn's Linear layout).
    pub head_grad: Vec<f32>,
    /// `[n, K]` row-major: the same batch through `model.valid()`.
    pub valid_logits: Vec<f32>,
}

/// The random model's weights as bytes (f32), to load the very same model on any backend.
pub fn random_weights(cfg: &ViTConfig, seed: u64) -> Result<Vec<u8>, TrainError> {
    type Cpu = crate::runtime::Cpu;
    let device = crate::runtime::cpu_device();
    <Cpu as Backend>::seed(&device, seed);
    let model = cfg.init::<Cpu>(&device).fork(&device);
    BinBytesRecorder::<FullPrecisionSettings>::default()
        .record(model.into_record(), ())
        .map_err(|e| TrainError::State { path: "parity weights".into(), reason: e.to_string() })
}

/// The model of [`random_weights`] on backend `B`, computing in `precision`.
pub fn model_from_weights<B: Backend>(
    cfg: &ViTConfig,
    weights: &[u8],
    precision: Precision,
    device: &B::Device,
) -> Result<VisionTransformer<B>, TrainError> {
    let record = BinBytesRecorder::<FullPrecisionSettings>::default()
        .load(weights.to_vec(), device)
        .map_err(|e| TrainError::State { path: "parity weights".into(), reason: e.to_string() })?;
    Ok(cfg.init::<B>(device).load_record(record).with_precision(precision))
}

/// One forward + backward of the model given by `weights` on backend `B` in `precision`.
pub fn parity_outputs<B: AutodiffBackend>(
    cfg: &ViTConfig,
    weights: &[u8],
    precision: Precision,
    batch: &RandomBatch,
    device: &B::Device,
) -> Result<ParityOutputs, TrainError> {
    let state = |e: String| TrainError::State { path: "parity weights".into(), reason: e };
    let model = model_from_weights::<B>(cfg, weights, precision, device)?;
    let (x, y, m, pw) = batch.tensors::<B>(device);
    let valid_logits = model.valid().forward(x.clone().inner());
    let logits = model.forward(x);
    let loss = masked_bce(logits.clone(), y, m, pw);
    let grads = loss.backward();
    let head_grad = model
        .head
        .weight
        .grad(&grads)
        .ok_or_else(|| state("the head weight got no gradient".into()))?;
    let read = |d: TensorData| -> Result<Vec<f32>, TrainError> {
        d.convert::<f32>().into_vec::<f32>().map_err(|e| state(format!("{e:?}")))
    };
    Ok(ParityOutputs {
        logits: read(logits.into_data())?,
        head_grad: read(head_grad.into_data())?,
        valid_logits: read(valid_logits.into_data())?,
    })
}

/// `max |a − b| / max |b|`: the largest deviation relative to the reference's scale (`b` is
/// the reference). `f64::INFINITY` when lengths differ or a value is not finite.
pub fn max_rel_err(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.iter().chain(b).any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let scale = b.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs())).max(1e-12);
    let dev = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (&x, &y)| m.max((f64::from(x) - f64::from(y)).abs()));
    dev / scale
}

/// Tolerance of a comparison against an f32 reference (max |Δ| over max |reference|):
/// - f32 on the CPU: 1e-3 (IEEE f32 on both sides; only summation order differs);
/// - f32 where either side is CUDA: 5e-3, since f32 matmuls run as TF32 there (10-bit
///   mantissa, unit round-off 2⁻¹¹ ≈ 4.9e-4): a numpy emulation of TF32 ViT-B/16 at batch 4
///   gave logits errors of 0.95–1.6e-3 and head-gradient errors of 6–9e-4 over three seeds
///   (`../shared/reference/gpu-first-run.md` §1.3), so 1e-3 would fail a correct backend;
/// - bf16: 2e-2 (8-bit mantissa; measured on the CPU for ViT-B/16 at batch 2: logits 1.4e-2,
///   head gradient 7.3e-3; the TF32/bf16 emulation gave 0.68–1.3e-2).
pub fn parity_tolerance(precision: Precision, numerics: Numerics) -> f64 {
    match (precision, numerics) {
        (Precision::F32, Numerics::Cpu) => 1e-3,
        (Precision::F32, Numerics::Cuda) => 5e-3,
        (Precision::Bf16, _) => 2e-2,
    }
}

/// One parity comparison (one JSON line of `cxr-train bench --parity`).
#[derive(Debug, Clone, Serialize)]
pub struct ParityCheck {
    pub bench: &'static str,
    pub model: ModelKind,
    /// What ran, e.g. `cuda:0 fused bf16`.
    pub candidate: String,
    /// What it is compared with, e.g. `cpu f32`.
    pub reference: String,
    /// `logits` (training forward), `valid_logits` (inference forward) or `head_grad`.
    pub quantity: &'static str,
    pub max_rel_err: f64,
    pub tolerance: f64,
    pub pass: bool,
}

/// Compares `candidate` with `reference` on logits and head gradient at `tolerance`.
pub fn compare_outputs(
    model: ModelKind,
    candidate: (&str, &ParityOutputs),
    reference: (&str, &ParityOutputs),
    tolerance: f64,
) -> Vec<ParityCheck> {
    let check = |quantity, a: &[f32], b: &[f32]| {
        let err = max_rel_err(a, b);
        ParityCheck {
            bench: "parity",
            model,
            candidate: candidate.0.into(),
            reference: reference.0.into(),
            quantity,
            max_rel_err: err,
            tolerance,
            pass: err <= tolerance,
        }
    };
    // Both forwards are compared with the reference's training-forward logits: in exact
    // arithmetic the two paths compute the same function (no dropout in a bench model).
    vec![
        check("logits", &candidate.1.logits, &reference.1.logits),
        check("valid_logits", &candidate.1.valid_logits, &reference.1.logits),
        check("head_grad", &candidate.1.head_grad, &reference.1.head_grad),
    ]
}

/// Comparisons as they are made: each is handed to `sink` at once (so a run killed later keeps
/// what it finished) and counted.
pub struct ParityReport<F> {
    model: ModelKind,
    sink: F,
    /// Comparisons made so far.
    pub checks: usize,
    /// Comparisons beyond their tolerance.
    pub failed: usize,
}

impl<F: FnMut(&ParityCheck) -> std::io::Result<()>> ParityReport<F> {
    /// A report on `model`'s comparisons, each passed to `sink` (e.g. printed) when made.
    pub fn new(model: ModelKind, sink: F) -> Self {
        ParityReport { model, sink, checks: 0, failed: 0 }
    }

    /// Compares `out` (computed in `precision` on `numerics`) with `against` at
    /// [`parity_tolerance`]; errors are the sink's.
    pub fn add(
        &mut self,
        name: &str,
        precision: Precision,
        numerics: Numerics,
        out: &ParityOutputs,
        against: (&str, &ParityOutputs),
    ) -> std::io::Result<()> {
        let tolerance = parity_tolerance(precision, numerics);
        for c in compare_outputs(self.model, (name, out), against, tolerance) {
            (self.sink)(&c)?;
            self.checks += 1;
            self.failed += usize::from(!c.pass);
        }
        Ok(())
    }
}

impl std::fmt::Display for ParityCheck {
    /// `ok`/`FAIL`, candidate, reference, quantity, error and tolerance on one line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<5} {:<28} vs {:<24} {:<12} max rel err {:.2e} (tolerance {:.0e})",
            if self.pass { "ok" } else { "FAIL" },
            self.candidate,
            self.reference,
            self.quantity,
            self.max_rel_err,
            self.tolerance
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_is_against_the_reference_scale() {
        assert_eq!(max_rel_err(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert!((max_rel_err(&[1.0, 2.02], &[1.0, 2.0]) - 0.01).abs() < 1e-6);
        assert!((max_rel_err(&[0.1, -4.0], &[0.0, -4.0]) - 0.025).abs() < 1e-6);
        assert_eq!(max_rel_err(&[1.0], &[1.0, 2.0]), f64::INFINITY);
        assert_eq!(max_rel_err(&[f32::NAN], &[1.0]), f64::INFINITY);
    }

}
