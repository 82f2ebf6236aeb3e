//! ViT parity, weight import/export and load-verification tests (tiny models, no Python).
//!
//! Fixtures in `tests/fixtures/model/` come from `scripts/gen_tiny_vit.py` (see ORIGIN.md):
//! random-weight timm / torch.hub / Hugging Face models (width 24, depth 2, 2 heads, patch 8)
//! with reference outputs computed by PyTorch on two 32x32 inputs.
//!
//! The `real_*` tests are `#[ignore]`d: they need the study's pretrained files in
//! `$CXR_WEIGHTS_DIR` (names and sha256 in `data-manifests/weights.toml`) and run with
//! `CXR_WEIGHTS_DIR=/path/to/weights cargo test --test it model::real_weights -- --ignored`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use burn::tensor::{DType, Tensor, TensorData};
use cxr::model::{
    CheckpointSource, ExportSidecar, LoadError, LoadTarget, PosEmbedResample, Preprocessing,
    ViTConfig, export_safetensors, load_vit, resample_grid,
};
use safetensors::SafeTensors;

type B = Flex;

/// Max absolute difference allowed between our f32 outputs and PyTorch's. Both sides run f32
/// with different summation orders (gemm blocking, softmax, LayerNorm reductions) through two
/// blocks on O(1) activations, which gives ~1e-6 differences; 1e-4 leaves headroom while
/// staying 3 orders of magnitude below the smallest real discrepancy the tests must catch
/// (hub vs antialiased pos-embed resampling changes the CLS features by 0.11).
const ABS_TOL: f32 = 1e-4;
/// Tolerance for the resampled grids alone (one separable bicubic pass in f32).
const GRID_TOL: f32 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/model")
        .join(name)
}

/// All tensors of a safetensors fixture as (shape, f32 values).
fn read_all(name: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            let vals = v
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (k, (v.shape().to_vec(), vals))
        })
        .collect()
}

fn expected(key: &str) -> Vec<f32> {
    read_all("expected.safetensors").remove(key).unwrap().1
}

fn inputs() -> Tensor<B, 4> {
    let (shape, data) = read_all("expected.safetensors").remove("inputs").unwrap();
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts `max |got - want| <= ABS_TOL` and prints the difference (`--nocapture` shows it).
#[track_caller]
fn assert_close(got: &[f32], want: &[f32]) {
    let diff = max_abs_diff(got, want);
    eprintln!(
        "{}: max |diff| = {diff:.3e}",
        std::panic::Location::caller()
    );
    assert!(diff <= ABS_TOL, "max |diff| = {diff}");
}

fn to_vec<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

/// Tiny fixtures have 12-wide heads, so the `embed_dim / 64` rule cannot apply.
fn tiny_target(num_classes: usize) -> LoadTarget {
    LoadTarget {
        num_heads: Some(2),
        ..LoadTarget::new(32, num_classes)
    }
}

#[test]
fn timm_vit_logits_match_timm() {
    let (model, report) = load_vit::<B>(
        &fixture("timm_vit_p8.safetensors"),
        &tiny_target(5),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(report.source, CheckpointSource::Timm);
    assert!(!report.head_reinitialized);
    assert_eq!(report.checkpoint_classes, Some(5));
    assert!(report.resampled_pos_embed.is_none());
    assert!(
        report.missing.is_empty() && report.unused.is_empty(),
        "{report:?}"
    );
    assert_eq!(
        report.applied.len(),
        read_all("timm_vit_p8.safetensors").len()
    );
    assert_eq!(report.config.layer_scale, None);
    assert_close(
        &to_vec(model.forward(inputs())),
        &expected("timm_vit_logits"),
    );
}

#[test]
fn timm_vit_head_is_reinitialized_for_another_class_count() {
    let (model, report) = load_vit::<B>(
        &fixture("timm_vit_p8.safetensors"),
        &tiny_target(3),
        &Default::default(),
    )
    .unwrap();
    assert!(report.head_reinitialized);
    let mut missing = report.missing.clone();
    missing.sort();
    assert_eq!(missing, ["head.bias", "head.weight"]);
    assert!(report.unused.contains(&"head.weight".to_string()));
    assert_eq!(model.forward(inputs()).dims(), [2, 3]);
    assert_close(
        &to_vec(model.forward_cls(inputs())),
        &expected("timm_vit_cls"),
    );
}

#[test]
fn timm_dinov2_pos_embed_is_resampled_like_torch_hub() {
    let (model, report) = load_vit::<B>(
        &fixture("timm_dinov2_p8_g7.safetensors"),
        &tiny_target(3),
        &Default::default(),
    )
    .unwrap();
    let rs = report.resampled_pos_embed.unwrap();
    assert_eq!((rs.from_grid, rs.to_grid), (7, 4));
    assert_eq!(rs.method, PosEmbedResample::Dinov2Hub { offset: 0.1 });
    assert_eq!(report.config.layer_scale, Some(1.0));
    assert!(report.head_reinitialized && report.checkpoint_classes.is_none());
    assert_close(
        &to_vec(model.forward_cls(inputs())),
        &expected("dinov2_cls_hub"),
    );
}

#[test]
fn timm_dinov2_antialias_option_matches_timm_resample() {
    let target = LoadTarget {
        resample: Some(PosEmbedResample::BicubicAntialias),
        ..tiny_target(3)
    };
    let (model, _) = load_vit::<B>(
        &fixture("timm_dinov2_p8_g7.safetensors"),
        &target,
        &Default::default(),
    )
    .unwrap();
    assert_close(
        &to_vec(model.forward_cls(inputs())),
        &expected("dinov2_cls_timm_aa"),
    );
}

#[test]
fn torch_hub_pth_loads_and_drops_mask_token() {
    let (model, report) = load_vit::<B>(
        &fixture("hub_dinov2_p8_g7.pth"),
        &tiny_target(3),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(report.source, CheckpointSource::TorchHub);
    assert_eq!(report.unused, vec!["mask_token".to_string()]);
    assert_close(
        &to_vec(model.forward_cls(inputs())),
        &expected("dinov2_cls_hub"),
    );
}

#[test]
fn hf_dinov2_fused_qkv_matches_pooler_output() {
    let (model, report) = load_vit::<B>(
        &fixture("hf_dinov2_p8_g7.safetensors"),
        &tiny_target(3),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    assert_eq!(
        report.resampled_pos_embed.unwrap().method,
        PosEmbedResample::BicubicSize
    );
    assert!(report.unused.contains(&"mask_token".to_string()));
    assert_close(&to_vec(model.forward_cls(inputs())), &expected("hf_pooled"));
}

#[test]
fn hf_hub_checkpoint_names_are_fused_too() {
    // `facebook/dinov2-*` on the Hub (transformers 4.x names): attention.attention.{query,key,value}
    // and attention.output.dense. Rewrite the transformers-5 fixture to those names.
    let tmp = tempfile::tempdir().unwrap();
    let path = edited("hf_dinov2_p8_g7.safetensors", tmp.path(), |t| {
        let renamed: HashMap<_, _> = t
            .drain()
            .map(|(k, v)| {
                let k = k
                    .replace("attention.q_proj", "attention.attention.query")
                    .replace("attention.k_proj", "attention.attention.key")
                    .replace("attention.v_proj", "attention.attention.value")
                    .replace("attention.o_proj", "attention.output.dense");
                (k, v)
            })
            .collect();
        assert!(renamed.contains_key("encoder.layer.1.attention.attention.value.bias"));
        *t = renamed;
    });
    let (model, report) = load_vit::<B>(&path, &tiny_target(3), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    assert_close(&to_vec(model.forward_cls(inputs())), &expected("hf_pooled"));
}

#[test]
fn pos_embed_resampling_matches_torch_interpolate() {
    let cases = read_all("pos_embed_resample.safetensors");
    let mut checked = 0;
    for (src, dst) in [(7usize, 4usize), (5, 9), (37, 16)] {
        let (shape, grid) = &cases[&format!("grid_{src}")];
        let c = shape[1];
        // NCHW -> HWC (our layout: pos_embed rows are positions, columns channels).
        let hwc: Vec<f32> = (0..src * src)
            .flat_map(|p| (0..c).map(move |ch| grid[ch * src * src + p]))
            .collect();
        for (mode, method) in [
            ("hub", PosEmbedResample::Dinov2Hub { offset: 0.1 }),
            ("size", PosEmbedResample::BicubicSize),
            ("aa", PosEmbedResample::BicubicAntialias),
        ] {
            let out = resample_grid(&hwc, (src, src), (dst, dst), c, method).unwrap();
            let (_, want) = &cases[&format!("{mode}_{src}_{dst}")];
            let want_hwc: Vec<f32> = (0..dst * dst)
                .flat_map(|p| (0..c).map(move |ch| want[ch * dst * dst + p]))
                .collect();
            let diff = max_abs_diff(&out, &want_hwc);
            eprintln!("{mode} {src}->{dst}: max |diff| = {diff:.3e}");
            assert!(diff <= GRID_TOL, "{mode} {src}->{dst}: max |diff| = {diff}");
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
}

/// Writes the timm fixture with `edit` applied to its tensor map; returns the file path.
fn edited_timm(
    dir: &Path,
    edit: impl FnOnce(&mut HashMap<String, (Vec<usize>, Vec<f32>)>),
) -> PathBuf {
    edited("timm_vit_p8.safetensors", dir, edit)
}

/// Writes fixture `name` with `edit` applied to its tensor map; returns the file path.
fn edited(
    name: &str,
    dir: &Path,
    edit: impl FnOnce(&mut HashMap<String, (Vec<usize>, Vec<f32>)>),
) -> PathBuf {
    let mut tensors = read_all(name);
    edit(&mut tensors);
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(k, (s, v))| (k, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views = owned.iter().map(|(k, s, b)| {
        (
            k.clone(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap(),
        )
    });
    let path = dir.join("edited.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    path
}

#[test]
fn half_precision_checkpoint_loads_like_its_rounded_f32_copy() {
    // f16 -> f32 conversion path: an f16 file and an f32 file holding the same f16-rounded
    // values must give bit-identical logits.
    let tmp = tempfile::tempdir().unwrap();
    let tensors = read_all("timm_vit_p8.safetensors");
    let mut half_bytes: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut rounded = HashMap::new();
    for (k, (shape, vals)) in tensors {
        let half = TensorData::new(vals, shape.clone()).convert_dtype(DType::F16);
        half_bytes.push((k.clone(), shape.clone(), half.as_bytes().to_vec()));
        let back = half.convert::<f32>().to_vec::<f32>().unwrap();
        rounded.insert(k, (shape, back));
    }
    let views = half_bytes.iter().map(|(k, s, b)| {
        (
            k.clone(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F16, s.clone(), b).unwrap(),
        )
    });
    let half_path = tmp.path().join("half.safetensors");
    std::fs::write(&half_path, safetensors::serialize(views, None).unwrap()).unwrap();
    let f32_path = edited("timm_vit_p8.safetensors", tmp.path(), |t| *t = rounded);

    let (from_half, _) = load_vit::<B>(&half_path, &tiny_target(5), &Default::default()).unwrap();
    let (from_f32, _) = load_vit::<B>(&f32_path, &tiny_target(5), &Default::default()).unwrap();
    let (a, b) = (
        to_vec(from_half.forward(inputs())),
        to_vec(from_f32.forward(inputs())),
    );
    assert_eq!(a, b);
    // And the rounding itself moved the logits (the test would be vacuous otherwise).
    assert!(max_abs_diff(&a, &expected("timm_vit_logits")) > 0.0);
}

// Export round trips (safetensors + sidecar), load-verification errors, real checkpoints.
mod dinov3;
mod dinov3_runs;
mod export;
mod load_errors;
mod real_dinov3;
mod real_weights;
