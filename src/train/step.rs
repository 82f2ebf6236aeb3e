//! The per-batch math of `fit`: one optimizer step (single device or data-parallel over
//! several, through burn's `MultiGradientsParams` + `Optimizer::step_multi`) and the validation
//! pass (val loss and exact AUROC per dataset and label), and their linear-probe forms on cached
//! features ([`head_step`], [`validate_cached`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use burn::module::Module;
use burn::optim::{GradientsParams, MultiGradientsParams, Optimizer};
use burn::prelude::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::backend::{AutodiffBackend, DeviceOps};

use super::TrainError;
use crate::run::config::TrainConfig;
use super::data::{Batch, DataIndex, Pass, spawn_batches};
use super::features::{FeatureBatch, SplitFeatures};
use super::loss::{bce_elements, masked_bce};
use crate::auroc::auroc;
use crate::model::{VisionTransformer, grey_to_input};

/// The batch loss of a step, still on the device: reading it is a device sync, so the loop
/// sums these on the device and reads the sum only when it reports (see [`LossSum`]).
pub type DeviceLoss<B> = Tensor<<B as AutodiffBackend>::InnerBackend, 1>;

/// One optimizer step; returns the model and the batch loss on the device (one `[1]` tensor
/// per device that got a shard). Nothing here reads the device: no sync per step.
///
/// With one device: forward, backward, `Optimizer::step`. With several (data-parallel, burn's
/// own multi-device path): the batch is cut into one contiguous shard per device, each device
/// runs a forked copy of the model on its shard with the loss `Σ_shard(l·m) / Σ_batch(m)` (so
/// the shard gradients sum to the full-batch gradient exactly), and the per-device gradients
/// go to `Optimizer::step_multi` as a `MultiGradientsParams`, which sums them on one device per
/// parameter and updates there. Shards are launched one after another from this thread; on
/// CUDA the kernels run asynchronously, so devices overlap.
pub fn step<B: AutodiffBackend, O: Optimizer<VisionTransformer<B>, B>>(
    model: VisionTransformer<B>,
    optim: &mut O,
    b: Batch,
    cfg: &TrainConfig,
    pw: &[f32],
    lr: f64,
    devices: &[B::Device],
) -> (VisionTransformer<B>, Vec<DeviceLoss<B>>) {
    let (s, k) = (cfg.image_size, cfg.labels.len());
    if devices.len() == 1 {
        let device = &devices[0];
        let (x, y, m) = tensors::<B>(b, s, k, device);
        let loss = masked_bce(
            model.forward(x),
            y,
            m,
            Tensor::<B, 1>::from_floats(pw, device),
        );
        let value = loss.clone().inner();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        return (optim.step(lr, model, grads), vec![value]);
    }
    let total_mask = b.mask.iter().map(|&v| f64::from(v)).sum::<f64>().max(1.0);
    let per = b.n.div_ceil(devices.len());
    let mut multi = MultiGradientsParams::default();
    let mut values = Vec::new();
    for (i, device) in devices.iter().enumerate() {
        let (lo, hi) = (i * per, ((i + 1) * per).min(b.n));
        if lo >= hi {
            break;
        }
        let shard = Batch {
            images: b.images[lo * s * s..hi * s * s].to_vec(),
            n: hi - lo,
            targets: b.targets[lo * k..hi * k].to_vec(),
            mask: b.mask[lo * k..hi * k].to_vec(),
            ds: b.ds[lo..hi].to_vec(),
        };
        let local = model.clone().fork(device);
        let (x, y, m) = tensors::<B>(shard, s, k, device);
        let pw_t = Tensor::<B, 1>::from_floats(pw, device);
        let loss = (bce_elements(local.forward(x), y, pw_t) * m)
            .sum()
            .div_scalar(total_mask);
        values.push(loss.clone().inner());
        multi.grads.push((
            GradientsParams::from_grads(loss.backward(), &local),
            device.id(),
        ));
    }
    (optim.step_multi(lr, model, multi), values)
}

/// One optimizer step of a linear probe on cached features (see [`super::features`]): the
/// head's forward on `f.x` `[n, D]`, the masked BCE with `pos_weight` as [`step`], backward
/// and `Optimizer::step` on `device` (the frozen backbone gets no gradient). Returns the model
/// and the batch loss on the device.
pub fn head_step<B: AutodiffBackend, O: Optimizer<VisionTransformer<B>, B>>(
    model: VisionTransformer<B>,
    optim: &mut O,
    f: FeatureBatch,
    pw: &[f32],
    lr: f64,
    device: &B::Device,
) -> (VisionTransformer<B>, Vec<DeviceLoss<B>>) {
    let k = pw.len();
    let x = Tensor::<B, 2>::from_data(TensorData::new(f.x, [f.n, f.d]), device);
    let y = Tensor::<B, 2>::from_data(TensorData::new(f.meta.targets, [f.n, k]), device);
    let m = Tensor::<B, 2>::from_data(TensorData::new(f.meta.mask, [f.n, k]), device);
    let loss = masked_bce(model.head.forward(x), y, m, Tensor::<B, 1>::from_floats(pw, device));
    let value = loss.clone().inner();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), vec![value])
}

/// Val loss and AUROC of a linear probe on the cached val features (batches of `--batch` in
/// the val split's order, as [`validate`]).
pub fn validate_cached<B: Backend>(
    model: &VisionTransformer<B>,
    val: &SplitFeatures,
    index: &Arc<DataIndex>,
    cfg: &TrainConfig,
    pw: &[f32],
) -> Result<(f64, PerDataset, Option<f64>), TrainError> {
    let device = model.cls_token.device();
    let pw_t = Tensor::<B, 1>::from_floats(pw, &device);
    let rows: Vec<usize> = (0..val.n).collect();
    let batches = rows.chunks(cfg.batch.max(1)).map(|r| {
        let f = val.gather(r);
        let x = Tensor::<B, 2>::from_data(TensorData::new(f.x, [f.n, f.d]), &device);
        Ok((model.head.forward(x), f.meta))
    });
    score(batches, index, cfg, &pw_t)
}

/// Running sum of step losses kept on the device(s); [`LossSum::read`] is the only sync.
#[derive(Debug)]
pub struct LossSum<B: Backend> {
    /// One running `[1]` sum per device slot.
    sums: Vec<Option<Tensor<B, 1>>>,
}

impl<B: Backend> Default for LossSum<B> {
    fn default() -> Self {
        LossSum { sums: Vec::new() }
    }
}

impl<B: Backend> LossSum<B> {
    /// Adds one step's losses (one per device; slot `i` stays on device `i`).
    pub fn add(&mut self, values: Vec<Tensor<B, 1>>) {
        if self.sums.len() < values.len() {
            self.sums.resize_with(values.len(), || None);
        }
        for (slot, v) in self.sums.iter_mut().zip(values) {
            *slot = Some(match slot.take() {
                Some(acc) => acc + v,
                None => v,
            });
        }
    }

    /// The sum so far (waits for the device to finish the queued work).
    pub fn read(&self) -> f64 {
        self.sums
            .iter()
            .flatten()
            .map(|t| f64::from(t.clone().into_scalar().elem::<f32>()))
            .sum()
    }
}

/// Batch → `(images [n,3,s,s], targets [n,K], mask [n,K])` on `device`; the images go up as
/// u8 (see [`grey_to_input`]). The batch is consumed: nothing is copied on the host.
pub fn tensors<B: Backend>(
    b: Batch,
    s: usize,
    k: usize,
    device: &B::Device,
) -> (Tensor<B, 4>, Tensor<B, 2>, Tensor<B, 2>) {
    (
        grey_to_input::<B>(b.images, b.n, s, s, device),
        Tensor::from_data(TensorData::new(b.targets, [b.n, k]), device),
        Tensor::from_data(TensorData::new(b.mask, [b.n, k]), device),
    )
}

/// dataset → label → val AUROC (`None`: one class only).
pub type PerDataset = BTreeMap<String, BTreeMap<String, Option<f64>>>;

/// Val loss (masked, pos-weighted like training) and AUROC per dataset and label.
pub fn validate<B: Backend>(
    model: &VisionTransformer<B>,
    index: &Arc<DataIndex>,
    cfg: &TrainConfig,
    pw: &[f32],
) -> Result<(f64, PerDataset, Option<f64>), TrainError> {
    let device = model.cls_token.device();
    let pw_t = Tensor::<B, 1>::from_floats(pw, &device);
    let k = cfg.labels.len();
    let pass = Pass {
        units: index.val.clone(),
        batch: cfg.batch,
        shuffle: None,
        window: 1,
        flip_p: 0.0,
        rotate_deg: 0.0,
        drop_last: false,
        prefetch: cfg.prefetch,
    };
    let batches = spawn_batches(index.clone(), pass).into_iter().map(|batch| {
        let b = batch?;
        let meta = Batch { images: vec![], n: b.n, targets: b.targets.clone(), mask: b.mask.clone(), ds: b.ds.clone() };
        let (x, _, _) = tensors::<B>(b, cfg.image_size, k, &device);
        Ok((model.forward(x), meta))
    });
    score(batches, index, cfg, &pw_t)
}

/// Val loss and AUROC from `(logits [n, K], batch)` pairs covering the val split once (the
/// batch's targets, mask and datasets; its images are not used): the image pass of
/// [`validate`] and the cached-feature pass of a linear probe share it.
pub fn score<B: Backend>(
    batches: impl Iterator<Item = Result<(Tensor<B, 2>, Batch), TrainError>>,
    index: &Arc<DataIndex>,
    cfg: &TrainConfig,
    pw_t: &Tensor<B, 1>,
) -> Result<(f64, PerDataset, Option<f64>), TrainError> {
    let device = pw_t.device();
    let k = cfg.labels.len();
    let nd = index.datasets.len();
    // [dataset][label] -> (targets, probabilities) over unmasked rows
    let mut acc: Vec<Vec<(Vec<bool>, Vec<f32>)>> = vec![vec![(vec![], vec![]); k]; nd];
    let mut loss_sum = LossSum::<B>::default();
    let mut count = 0.0f64;
    let mut seen = 0usize;
    for out in batches {
        let (logits, b) = out?;
        seen += b.n;
        count += b.mask.iter().map(|&v| f64::from(v)).sum::<f64>();
        let (targets, mask, ds, n) = (b.targets, b.mask, b.ds, b.n);
        let y = Tensor::<B, 2>::from_data(TensorData::new(targets.clone(), [n, k]), &device);
        let m = Tensor::<B, 2>::from_data(TensorData::new(mask.clone(), [n, k]), &device);
        loss_sum.add(vec![(bce_elements(logits.clone(), y, pw_t.clone()) * m).sum()]);
        let p = sigmoid(logits)
            .into_data()
            .into_vec::<f32>()
            .map_err(|e| TrainError::State {
                path: PathBuf::new(),
                reason: format!("{e:?}"),
            })?;
        for i in 0..n {
            for j in 0..k {
                if mask[i * k + j] > 0.0 {
                    let slot = &mut acc[ds[i]][j];
                    slot.0.push(targets[i * k + j] > 0.5);
                    slot.1.push(p[i * k + j]);
                }
            }
        }
    }
    if seen != index.val_rows() {
        return Err(TrainError::Worker);
    }
    let mut per: PerDataset = BTreeMap::new();
    let mut defined = Vec::new();
    for (d, labels) in acc.iter().enumerate() {
        let entry = per.entry(index.datasets[d].name.clone()).or_default();
        for (j, (y, p)) in labels.iter().enumerate() {
            if !index.annotated[d][j] {
                continue;
            }
            let a = auroc(y, p);
            if let Some(v) = a {
                defined.push(v);
            }
            entry.insert(cfg.labels[j].clone(), a);
        }
    }
    let mean = (!defined.is_empty()).then(|| defined.iter().sum::<f64>() / defined.len() as f64);
    Ok((loss_sum.read() / count.max(1.0), per, mean))
}
