//! ViT parity, weight import/export and load-verification tests (tiny models, no Python).
//!
//! Fixtures in `tests/fixtures/model/` come from `scripts/gen_tiny_vit.py` (see ORIGIN.md):
//! random-weight timm / torch.hub / Hugging Face models (width 24, depth 2, 2 heads, patch 8)
//! with reference outputs computed by PyTorch on two 32x32 inputs.
//!
//! The `real_*` tests are `#[ignore]`d: they need the study's pretrained files in
//! `$CXR_WEIGHTS_DIR` (names and sha256 in `data-manifests/weights.toml`) and run with
//! `CXR_WEIGHTS_DIR=/path/to/weights cargo test --test it model::real_ -- --ignored`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use cxr::model::{
    CheckpointSource, ExportSidecar, LoadError, LoadTarget, PosEmbedResample, Preprocessing, ViTConfig,
    export_safetensors, load_vit, resample_grid,
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
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/model").join(name)
}

/// All tensors of a safetensors fixture as (shape, f32 values).
fn read_all(name: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            let vals = v.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
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
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Asserts `max |got - want| <= ABS_TOL` and prints the difference (`--nocapture` shows it).
#[track_caller]
fn assert_close(got: &[f32], want: &[f32]) {
    let diff = max_abs_diff(got, want);
    eprintln!("{}: max |diff| = {diff:.3e}", std::panic::Location::caller());
    assert!(diff <= ABS_TOL, "max |diff| = {diff}");
}

fn to_vec<const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

/// Tiny fixtures have 12-wide heads, so the `embed_dim / 64` rule cannot apply.
fn tiny_target(num_classes: usize) -> LoadTarget {
    LoadTarget { num_heads: Some(2), ..LoadTarget::new(32, num_classes) }
}

#[test]
fn timm_vit_logits_match_timm() {
    let (model, report) = load_vit::<B>(&fixture("timm_vit_p8.safetensors"), &tiny_target(5), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::Timm);
    assert!(!report.head_reinitialized);
    assert_eq!(report.checkpoint_classes, Some(5));
    assert!(report.resampled_pos_embed.is_none());
    assert!(report.missing.is_empty() && report.unused.is_empty(), "{report:?}");
    assert_eq!(report.applied.len(), read_all("timm_vit_p8.safetensors").len());
    assert_eq!(report.config.layer_scale, None);
    assert_close(&to_vec(model.forward(inputs())), &expected("timm_vit_logits"));
}

#[test]
fn timm_vit_head_is_reinitialized_for_another_class_count() {
    let (model, report) = load_vit::<B>(&fixture("timm_vit_p8.safetensors"), &tiny_target(3), &Default::default()).unwrap();
    assert!(report.head_reinitialized);
    let mut missing = report.missing.clone();
    missing.sort();
    assert_eq!(missing, ["head.bias", "head.weight"]);
    assert!(report.unused.contains(&"head.weight".to_string()));
    assert_eq!(model.forward(inputs()).dims(), [2, 3]);
    assert_close(&to_vec(model.forward_cls(inputs())), &expected("timm_vit_cls"));
}

#[test]
fn timm_dinov2_pos_embed_is_resampled_like_torch_hub() {
    let (model, report) =
        load_vit::<B>(&fixture("timm_dinov2_p8_g7.safetensors"), &tiny_target(3), &Default::default()).unwrap();
    let rs = report.resampled_pos_embed.unwrap();
    assert_eq!((rs.from_grid, rs.to_grid), (7, 4));
    assert_eq!(rs.method, PosEmbedResample::Dinov2Hub { offset: 0.1 });
    assert_eq!(report.config.layer_scale, Some(1.0));
    assert!(report.head_reinitialized && report.checkpoint_classes.is_none());
    assert_close(&to_vec(model.forward_cls(inputs())), &expected("dinov2_cls_hub"));
}

#[test]
fn timm_dinov2_antialias_option_matches_timm_resample() {
    let target = LoadTarget { resample: Some(PosEmbedResample::BicubicAntialias), ..tiny_target(3) };
    let (model, _) = load_vit::<B>(&fixture("timm_dinov2_p8_g7.safetensors"), &target, &Default::default()).unwrap();
    assert_close(&to_vec(model.forward_cls(inputs())), &expected("dinov2_cls_timm_aa"));
}

#[test]
fn torch_hub_pth_loads_and_drops_mask_token() {
    let (model, report) = load_vit::<B>(&fixture("hub_dinov2_p8_g7.pth"), &tiny_target(3), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::TorchHub);
    assert_eq!(report.unused, vec!["mask_token".to_string()]);
    assert_close(&to_vec(model.forward_cls(inputs())), &expected("dinov2_cls_hub"));
}

#[test]
fn hf_dinov2_fused_qkv_matches_pooler_output() {
    let (model, report) = load_vit::<B>(&fixture("hf_dinov2_p8_g7.safetensors"), &tiny_target(3), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    assert_eq!(report.resampled_pos_embed.unwrap().method, PosEmbedResample::BicubicSize);
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
        let hwc: Vec<f32> = (0..src * src).flat_map(|p| (0..c).map(move |ch| grid[ch * src * src + p])).collect();
        for (mode, method) in [
            ("hub", PosEmbedResample::Dinov2Hub { offset: 0.1 }),
            ("size", PosEmbedResample::BicubicSize),
            ("aa", PosEmbedResample::BicubicAntialias),
        ] {
            let out = resample_grid(&hwc, (src, src), (dst, dst), c, method).unwrap();
            let (_, want) = &cases[&format!("{mode}_{src}_{dst}")];
            let want_hwc: Vec<f32> = (0..dst * dst).flat_map(|p| (0..c).map(move |ch| want[ch * dst * dst + p])).collect();
            let diff = max_abs_diff(&out, &want_hwc);
            eprintln!("{mode} {src}->{dst}: max |diff| = {diff:.3e}");
            assert!(diff <= GRID_TOL, "{mode} {src}->{dst}: max |diff| = {diff}");
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
}

fn sidecar(labels: usize) -> ExportSidecar {
    ExportSidecar {
        labels: (0..labels).map(|i| format!("finding_{i}")).collect(),
        preprocessing: Preprocessing {
            image_size: 32,
            resize: "bilinear, no crop".into(),
            grayscale_to_rgb: true,
            mean: [0.0; 3],
            std: [1.0; 3],
        },
        timm_model_name: None,
    }
}

#[test]
fn export_round_trip_gives_identical_logits() {
    let (model, _) = load_vit::<B>(&fixture("timm_vit_p8.safetensors"), &tiny_target(5), &Default::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // CXR_EXPORT_DIR keeps the export for `scripts/gen_tiny_vit.py --check-export` (timm check).
    let dir = std::env::var_os("CXR_EXPORT_DIR").map(PathBuf::from).unwrap_or_else(|| tmp.path().to_path_buf());
    let path = dir.join("model.safetensors");
    let out = export_safetensors(&model, &path, &sidecar(5)).unwrap();
    assert_eq!(out.sha256.len(), 64);

    // Same keys and shapes as the timm file it came from (timm naming, PyTorch layout).
    let original = read_all("timm_vit_p8.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let exported = SafeTensors::deserialize(&bytes).unwrap();
    let mut keys: Vec<_> = exported.names().into_iter().map(str::to_string).collect();
    keys.sort();
    let mut want: Vec<_> = original.keys().cloned().collect();
    want.sort();
    assert_eq!(keys, want);
    for (k, (shape, _)) in &original {
        assert_eq!(exported.tensor(k).unwrap().shape(), shape.as_slice(), "{k}");
    }

    let side: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out.sidecar).unwrap()).unwrap();
    assert_eq!(side["timm_model_name"], "vit_base_patch16_224");
    assert_eq!(side["timm_kwargs"]["num_heads"], 2);
    assert_eq!(side["labels"][4], "finding_4");

    // Reload without a head-count hint: the config travels in the safetensors metadata.
    let (back, report) = load_vit::<B>(&path, &LoadTarget::new(32, 5), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::Cxr);
    assert!(!report.head_reinitialized);
    let (a, b) = (to_vec(model.forward(inputs())), to_vec(back.forward(inputs())));
    assert_eq!(a, b, "export -> load must be bit-identical");
}

#[test]
fn export_round_trip_keeps_layer_scale_and_resampled_grid() {
    let (model, _) =
        load_vit::<B>(&fixture("timm_dinov2_p8_g7.safetensors"), &tiny_target(3), &Default::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("CXR_EXPORT_DIR").map(PathBuf::from).unwrap_or_else(|| tmp.path().to_path_buf());
    let path = dir.join("dinov2.safetensors");
    let out = export_safetensors(&model, &path, &sidecar(3)).unwrap();
    let side: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out.sidecar).unwrap()).unwrap();
    assert_eq!(side["timm_model_name"], "vit_base_patch14_dinov2");
    assert_eq!(side["timm_kwargs"]["init_values"], 1.0);
    let (back, report) = load_vit::<B>(&path, &LoadTarget::new(32, 3), &Default::default()).unwrap();
    // The exported grid is already the model's 4x4 grid: no second resampling.
    assert!(report.resampled_pos_embed.is_none() && !report.head_reinitialized);
    assert_eq!(back.config(), model.config());
    assert_eq!(to_vec(model.forward(inputs())), to_vec(back.forward(inputs())));
}

#[test]
fn export_rejects_wrong_label_count() {
    let model = ViTConfig::vit_tiny_test(3).init::<B>(&Default::default());
    let tmp = tempfile::tempdir().unwrap();
    let err = export_safetensors(&model, &tmp.path().join("m.safetensors"), &sidecar(4)).unwrap_err();
    assert!(err.to_string().contains("4 labels for a head with 3 outputs"), "{err}");
}

/// Writes the timm fixture with `edit` applied to its tensor map; returns the file path.
fn edited_timm(dir: &Path, edit: impl FnOnce(&mut HashMap<String, (Vec<usize>, Vec<f32>)>)) -> PathBuf {
    edited("timm_vit_p8.safetensors", dir, edit)
}

/// Writes fixture `name` with `edit` applied to its tensor map; returns the file path.
fn edited(name: &str, dir: &Path, edit: impl FnOnce(&mut HashMap<String, (Vec<usize>, Vec<f32>)>)) -> PathBuf {
    let mut tensors = read_all(name);
    edit(&mut tensors);
    let owned: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(k, (s, v))| (k, s, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views = owned
        .iter()
        .map(|(k, s, b)| (k.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap()));
    let path = dir.join("edited.safetensors");
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    path
}

#[test]
fn missing_block_tensor_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = edited_timm(tmp.path(), |t| {
        t.remove("blocks.1.mlp.fc2.bias");
    });
    match load_vit::<B>(&path, &tiny_target(5), &Default::default()) {
        Err(LoadError::Incomplete { missing, unused, .. }) => {
            assert_eq!(missing, vec!["blocks.1.mlp.fc2.bias".to_string()]);
            assert!(unused.is_empty());
        }
        other => panic!("expected Incomplete, got {:?}", other.map(|(_, r)| r)),
    }
}

#[test]
fn unknown_extra_tensor_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = edited_timm(tmp.path(), |t| {
        t.insert("blocks.0.attn.rel_pos".into(), (vec![2], vec![0.0, 1.0]));
    });
    match load_vit::<B>(&path, &tiny_target(5), &Default::default()) {
        Err(LoadError::Incomplete { missing, unused, .. }) => {
            assert!(missing.is_empty());
            assert_eq!(unused, vec!["blocks.0.attn.rel_pos".to_string()]);
        }
        other => panic!("expected Incomplete, got {:?}", other.map(|(_, r)| r)),
    }
}

#[test]
fn shape_disagreement_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = edited_timm(tmp.path(), |t| {
        t.insert("blocks.0.attn.proj.bias".into(), (vec![23], vec![0.0; 23]));
    });
    let err = load_vit::<B>(&path, &tiny_target(5), &Default::default()).map(|_| ()).unwrap_err();
    assert!(matches!(err, LoadError::ShapeMismatch { ref details, .. } if details[0].contains("blocks.0.attn.proj.bias")), "{err}");
}

#[test]
fn register_tokens_are_rejected_not_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let path = edited_timm(tmp.path(), |t| {
        t.insert("register_tokens".into(), (vec![1, 4, 24], vec![0.0; 96]));
    });
    let err = load_vit::<B>(&path, &tiny_target(5), &Default::default()).map(|_| ()).unwrap_err();
    assert!(matches!(err, LoadError::Unsupported { .. }), "{err}");
}

#[test]
fn head_count_must_be_given_when_width_is_not_a_multiple_of_64() {
    let err = load_vit::<B>(&fixture("timm_vit_p8.safetensors"), &LoadTarget::new(32, 5), &Default::default())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, LoadError::Inference { .. }), "{err}");
}

#[test]
fn presets_have_the_study_geometry() {
    let b16 = ViTConfig::vit_base_patch16_224(14);
    assert_eq!((b16.grid_size(), b16.num_patches(), b16.mlp_hidden()), (14, 196, 3072));
    let dino = ViTConfig::vit_base_patch14_dinov2(14);
    assert_eq!((dino.grid_size(), dino.layer_scale, dino.layer_norm_eps), (16, Some(1.0), 1e-6));
}

#[test]
fn fresh_tiny_model_trains_one_step_shapes() {
    type A = Autodiff<Flex>;
    let device = Default::default();
    let model = ViTConfig::vit_tiny_dinov2_test(3).init::<A>(&device);
    let x = Tensor::<A, 4>::ones([2, 3, 32, 32], &device) * 0.5;
    let logits = model.forward(x);
    assert_eq!(logits.dims(), [2, 3]);
    let grads = logits.sum().backward();
    let g = model.pos_embed.grad(&grads).unwrap();
    assert_eq!(g.dims(), [1, 17, 24]);
    assert!(g.abs().sum().into_scalar() > 0.0);
}

#[test]
fn errors_can_cross_threads_and_into_anyhow() {
    fn assert_send_sync<T: Send + Sync + std::error::Error + 'static>() {}
    assert_send_sync::<LoadError>();
    assert_send_sync::<cxr::model::ExportError>();
    let err: anyhow::Error = LoadError::MissingKey { path: "x".into(), key: "pos_embed".into() }.into();
    assert!(err.to_string().contains("pos_embed"));
}

/// A pretrained file from `$CXR_WEIGHTS_DIR`, or a failure that says where to get it.
fn real_weights(name: &str) -> PathBuf {
    let dir = std::env::var_os("CXR_WEIGHTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("HINT: set CXR_WEIGHTS_DIR to the folder holding {name} (see data-manifests/weights.toml)"));
    let path = dir.join(name);
    assert!(path.is_file(), "HINT: {} not found; file names and sha256 are in data-manifests/weights.toml", path.display());
    path
}

/// One 224x224 forward in the dev profile (a few seconds) must give finite outputs.
fn assert_finite_forward(model: &cxr::model::VisionTransformer<B>, classes: usize) {
    let x = Tensor::<B, 4>::ones([1, 3, 224, 224], &Default::default()) * 0.5;
    let y = to_vec(model.forward(x));
    assert_eq!(y.len(), classes);
    assert!(y.iter().all(|v| v.is_finite()));
}

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with vit_base_patch16_224.augreg_in21k.safetensors"]
fn real_timm_vit_b16_in21k_loads_with_a_new_head() {
    let path = real_weights("vit_base_patch16_224.augreg_in21k.safetensors");
    let (model, report) = load_vit::<B>(&path, &LoadTarget::new(224, 14), &Default::default()).unwrap();
    assert_eq!(report.config, ViTConfig::vit_base_patch16_224(14));
    // patch_embed 2 + cls 1 + pos 1 + 12 blocks x 12 + final norm 2 (head replaced).
    assert_eq!(report.applied.len(), 150);
    assert_eq!(report.checkpoint_classes, Some(21843));
    assert!(report.head_reinitialized && report.resampled_pos_embed.is_none());
    assert_finite_forward(&model, 14);
}

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with dinov2_vitb14_pretrain.pth"]
fn real_dinov2_vitb14_hub_pth_loads_at_224() {
    let path = real_weights("dinov2_vitb14_pretrain.pth");
    let (model, report) = load_vit::<B>(&path, &LoadTarget::new(224, 14), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::TorchHub);
    assert_eq!(report.config, ViTConfig::vit_base_patch14_dinov2(14));
    // 150 as for ViT-B/16 plus 2 LayerScale gammas per block; no head in the hub file.
    assert_eq!(report.applied.len(), 174);
    let rs = report.resampled_pos_embed.unwrap();
    assert_eq!((rs.from_grid, rs.to_grid, rs.method), (37, 16, PosEmbedResample::Dinov2Hub { offset: 0.1 }));
    assert_eq!(report.unused, vec!["mask_token".to_string()]);
    assert_finite_forward(&model, 14);
}

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with dinov2_vitb14_pretrain.pth and dinov2-base.safetensors (HF)"]
fn real_hf_dinov2_base_agrees_with_the_hub_checkpoint() {
    // Same weights, two formats (HF converted the hub release): with the same resampling the
    // CLS features must agree, which checks the q/k/v fusion and renames on real tensors.
    let target = LoadTarget { resample: Some(PosEmbedResample::default()), ..LoadTarget::new(224, 14) };
    let (hub, _) = load_vit::<B>(&real_weights("dinov2_vitb14_pretrain.pth"), &target, &Default::default()).unwrap();
    let (hf, report) = load_vit::<B>(&real_weights("dinov2-base.safetensors"), &target, &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    let x = || Tensor::<B, 4>::ones([1, 3, 224, 224], &Default::default()) * 0.5;
    assert_close(&to_vec(hf.forward_cls(x())), &to_vec(hub.forward_cls(x())));
}
