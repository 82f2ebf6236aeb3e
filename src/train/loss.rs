//! Targets, mask and the masked binary cross-entropy with logits.
//!
//! For each image and run label: a finding the image's dataset does not annotate is masked
//! (mask 0); otherwise 1 → positive, 0 → negative, and uncertain (−1) / unstated (null) follow
//! [`Uncertain`]. The loss is PyTorch's `BCEWithLogitsLoss(pos_weight=w)` per element,
//! `w·y·softplus(−x) + (1−y)·softplus(x)`, averaged over the unmasked elements (with no mask it
//! equals PyTorch's `reduction='mean'`). A masked element contributes exactly zero loss and
//! zero gradient.

use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::run::config::Uncertain;

/// Writes targets `y` and mask `m` (each `K` long) for one image's stored labels.
pub fn encode_targets(
    labels: &[Option<i8>],
    annotated: &[bool],
    policy: Uncertain,
    y: &mut [f32],
    m: &mut [f32],
) {
    for (j, (&v, &ann)) in labels.iter().zip(annotated).enumerate() {
        let (yy, mm) = match (ann, v, policy) {
            (false, _, _) => (0.0, 0.0),
            (true, Some(1), _) => (1.0, 1.0),
            (true, Some(0), _) => (0.0, 1.0),
            (true, _, Uncertain::Ignore) => (0.0, 0.0),
            (true, Some(-1), Uncertain::Ones) => (1.0, 1.0),
            // Unstated, uncertain under U-Zeros, and any other stored value: negative.
            (true, _, _) => (0.0, 1.0),
        };
        y[j] = yy;
        m[j] = mm;
    }
}

/// Per-label positive weight `(N − P) / P` from `(N, P)` counts (N = unmasked train rows).
/// A label without positives gets 1.0 (the study's `+1e-15` would give ~1e18); the caller
/// logs it.
pub fn pos_weights(counts: &[(u64, u64)]) -> Vec<f32> {
    counts
        .iter()
        .map(|&(n, p)| {
            if p == 0 {
                1.0
            } else {
                (n - p) as f32 / p as f32
            }
        })
        .collect()
}

/// `softplus(x) = log(1 + eˣ)`, computed as `max(x, 0) + log1p(e^{−|x|})` (no overflow).
fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    relu(x.clone()) + x.abs().neg().exp().log1p()
}

/// Element-wise loss `[B, K]` (before masking).
///
/// # Shapes
/// - `logits`, `targets`: `[B, K]`; `pos_weight`: `[K]`
pub fn bce_elements<B: Backend>(
    logits: Tensor<B, 2>,
    targets: Tensor<B, 2>,
    pos_weight: Tensor<B, 1>,
) -> Tensor<B, 2> {
    let pw = pos_weight.unsqueeze::<2>(); // [1, K]
    let pos = targets.clone() * pw * softplus(logits.clone().neg());
    let neg = targets.neg().add_scalar(1.0) * softplus(logits);
    pos + neg
}

/// Mean of the element-wise loss over unmasked elements (0 when everything is masked).
///
/// # Shapes
/// - `logits`, `targets`, `mask`: `[B, K]`; `pos_weight`: `[K]`; output: `[1]`
pub fn masked_bce<B: Backend>(
    logits: Tensor<B, 2>,
    targets: Tensor<B, 2>,
    mask: Tensor<B, 2>,
    pos_weight: Tensor<B, 1>,
) -> Tensor<B, 1> {
    let count = mask.clone().sum().clamp_min(1.0);
    // Multiplying by the mask (not selecting) keeps shapes static; the masked elements' loss is
    // finite (stable softplus), so their product with 0 and its gradient are exactly 0.
    (bce_elements(logits, targets, pos_weight) * mask).sum() / count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_follows_policy_and_annotation() {
        let labels = [Some(1), Some(0), Some(-1), None, Some(1)];
        let ann = [true, true, true, true, false];
        let (mut y, mut m) = ([9.0; 5], [9.0; 5]);
        encode_targets(&labels, &ann, Uncertain::Zeros, &mut y, &mut m);
        assert_eq!(
            (y, m),
            ([1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0])
        );
        encode_targets(&labels, &ann, Uncertain::Ones, &mut y, &mut m);
        assert_eq!(
            (y, m),
            ([1.0, 0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0])
        );
        encode_targets(&labels, &ann, Uncertain::Ignore, &mut y, &mut m);
        assert_eq!(
            (y, m),
            ([1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0, 0.0])
        );
    }

    #[test]
    fn pos_weight_formula() {
        assert_eq!(
            pos_weights(&[(10, 2), (10, 0), (4, 4)]),
            vec![4.0, 1.0, 0.0]
        );
    }
}

#[cfg(test)]
mod overfit {
    use super::*;
    use crate::model::ViTConfig;
    use burn::backend::Autodiff;
    use burn::optim::{AdamWConfig, GradientsParams, Optimizer};

    type B = Autodiff<crate::runtime::Cpu>;

    /// The tiny ViT + masked loss + AdamW fit one fixed batch: the plumbing moves the loss.
    #[test]
    fn one_batch_overfits() {
        let device = Default::default();
        <B as Backend>::seed(&device, 11);
        let mut model = ViTConfig::vit_tiny_test(3).init::<B>(&device);
        let mut optim = AdamWConfig::new()
            .with_weight_decay(0.0)
            .with_epsilon(1e-8)
            .init();
        let n = 8;
        // Images whose brightness encodes the labels.
        let mut img = vec![0.0f32; n * 3 * 32 * 32];
        let mut y = vec![0.0f32; n * 3];
        for i in 0..n {
            for j in 0..3 {
                y[i * 3 + j] = ((i >> j) & 1) as f32;
            }
            let v = 0.1 + 0.25 * y[i * 3] + 0.5 * y[i * 3 + 1];
            img[i * 3072..(i + 1) * 3072]
                .iter_mut()
                .enumerate()
                .for_each(|(p, o)| *o = if p % 32 < 16 { v } else { 0.3 * y[i * 3 + 2] });
        }
        let x = Tensor::<B, 4>::from_data(TensorData::new(img, [n, 3, 32, 32]), &device);
        let t = Tensor::<B, 2>::from_data(TensorData::new(y, [n, 3]), &device);
        let m = Tensor::<B, 2>::ones([n, 3], &device);
        let pw = Tensor::<B, 1>::ones([3], &device);
        let mut losses = vec![];
        for _ in 0..60 {
            let loss = masked_bce(model.forward(x.clone()), t.clone(), m.clone(), pw.clone());
            losses.push(loss.clone().into_scalar());
            let g = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-3, model, g);
        }
        eprintln!("{:?}", losses.iter().step_by(10).collect::<Vec<_>>());
        assert!(losses[59] < 0.5 * losses[0], "{losses:?}");
    }
}
