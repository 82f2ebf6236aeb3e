//! DINOv3 (timm `Eva`, Meta `.pth`, HF `DINOv3ViTModel`) and RAD-DINO (HF `Dinov2Model`) parity
//! on tiny random models: `scripts/gen_tiny_dinov3.py` wrote the files and the reference outputs
//! (`tests/fixtures/model/dinov3_expected.json`, see ORIGIN.md). Width 16, depth 2, 2 heads,
//! 4 registers; DINOv3 at 32 and 48 px from one loaded model (RoPE: no resampling, no reload).

use std::collections::HashMap;

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use cxr::model::{
    CheckpointSource, LoadTarget, PosEmbedResample, ViTConfig, VisionTransformer, load_vit,
};

use super::{edited, fixture, max_abs_diff, read_all, to_vec};

type B = Flex;

/// Parity bound on logits / CLS features (the 1e-5). Both sides are f32 with different
/// summation orders through two blocks on O(1) activations; measured differences are ~1e-6.
const TOL: f32 = 1e-5;

/// `[2, 3, s, s]`, the generator's integer formula (exact in f32 on both sides).
pub(super) fn input(s: usize) -> Tensor<B, 4> {
    let mut v = Vec::with_capacity(2 * 3 * s * s);
    for b in 0..2 {
        for c in 0..3 {
            for i in 0..s {
                for j in 0..s {
                    let n = (b * 7919 + c * 104729 + i * 613 + j * 2999) % 1009;
                    v.push((n as f64 / 1008.0) as f32);
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [2, 3, s, s]), &Default::default())
}

pub(super) fn reference(key: &str) -> Vec<f32> {
    let text = std::fs::read_to_string(fixture("dinov3_expected.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["outputs"][key]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no reference `{key}`"))
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

#[track_caller]
fn close(got: &[f32], want: &[f32]) {
    let diff = max_abs_diff(got, want);
    eprintln!(
        "{}: max |diff| = {diff:.3e}",
        std::panic::Location::caller()
    );
    assert!(diff <= TOL, "max |diff| = {diff}");
}

/// The tiny files have 8-wide heads, so `embed_dim / 64` cannot apply.
pub(super) fn target(img: usize, classes: usize) -> LoadTarget {
    LoadTarget {
        num_heads: Some(2),
        ..LoadTarget::new(img, classes)
    }
}

fn load(name: &str, img: usize, classes: usize) -> (VisionTransformer<B>, cxr::model::LoadReport) {
    load_vit::<B>(&fixture(name), &target(img, classes), &Default::default()).unwrap()
}

#[test]
fn timm_dinov3_logits_match_timm_at_two_sizes() {
    let (model, report) = load("timm_dinov3_p16.safetensors", 32, 3);
    assert_eq!(report.source, CheckpointSource::Timm);
    assert!(!report.head_reinitialized, "{report:?}");
    assert!(
        report.missing.is_empty() && report.unused.is_empty(),
        "{report:?}"
    );
    assert!(report.resampled_pos_embed.is_none());
    let cfg = &report.config;
    assert_eq!(
        (cfg.num_registers, cfg.qkv_bias, cfg.layer_norm_eps),
        (4, false, 1e-5)
    );
    assert_eq!(cfg.rope.as_ref().unwrap().periods, [1.0, 10.0]); // 100^(2i/(8/2))
    assert!(model.pos_embed.is_none() && cfg.layer_scale.is_some());
    // Every file tensor found its place (reg_token, gamma_1/2 renamed).
    assert_eq!(
        report.applied.len(),
        read_all("timm_dinov3_p16.safetensors").len()
    );
    close(
        &to_vec(model.forward(input(32))),
        &reference("timm_logits_32"),
    );
    // The same model at 48 px (3x3 grid): RoPE needs no resampling.
    close(
        &to_vec(model.forward(input(48))),
        &reference("timm_logits_48"),
    );
}

#[test]
fn meta_pth_matches_meta_dinov3_and_masks_the_key_bias() {
    let (model, report) = load("meta_dinov3_p16.pth", 32, 3);
    assert_eq!(report.source, CheckpointSource::TorchHub);
    assert_eq!(report.unused, ["mask_token"]);
    assert!(report.head_reinitialized && report.checkpoint_classes.is_none());
    assert!(report.config.qkv_bias, "random q/v biases are kept");
    // Periods read from the file's bf16 `rope_embed.periods` (1 and 10 are exact in bf16).
    assert_eq!(report.config.rope.as_ref().unwrap().periods, [1.0, 10.0]);
    // bias * bias_mask: the k third is zero, q and v are not.
    let bias = to_vec(model.blocks[0].attn.qkv.bias.as_ref().unwrap().val());
    let d = 16;
    assert!(bias[d..2 * d].iter().all(|v| *v == 0.0));
    assert!(bias[..d].iter().any(|v| *v != 0.0) && bias[2 * d..].iter().any(|v| *v != 0.0));
    for s in [32, 48] {
        close(
            &to_vec(model.forward_cls(input(s))),
            &reference(&format!("meta_cls_{s}")),
        );
    }
}

#[test]
fn hf_dinov3_matches_pooler_output_in_hub_and_transformers5_names() {
    let (model, report) = load("hf_dinov3_p16.safetensors", 32, 3);
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    assert_eq!(report.unused, ["mask_token"]);
    assert_eq!(report.config.num_registers, 4);
    for s in [32, 48] {
        close(
            &to_vec(model.forward_cls(input(s))),
            &reference(&format!("hf_cls_{s}")),
        );
    }
    // transformers >= 5 state dicts put the blocks under `model.layer.N`.
    let tmp = tempfile::tempdir().unwrap();
    let path = edited("hf_dinov3_p16.safetensors", tmp.path(), |t| {
        *t = t
            .drain()
            .map(|(k, v)| (k.replacen("layer.", "model.layer.", 1), v))
            .collect::<HashMap<_, _>>();
        assert!(t.contains_key("model.layer.1.attention.q_proj.bias"));
    });
    let (model5, _) = load_vit::<B>(&path, &target(48, 3), &Default::default()).unwrap();
    close(
        &to_vec(model5.forward_cls(input(48))),
        &reference("hf_cls_48"),
    );
}

#[test]
fn rad_dino_shaped_hf_dinov2_matches_at_trained_and_resampled_grid() {
    // Trained grid 4x4 (56 px): nothing resampled.
    let (model, report) = load("hf_raddino_p14_g4.safetensors", 56, 3);
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    assert!(report.resampled_pos_embed.is_none() && report.config.rope.is_none());
    assert_eq!(
        (report.config.patch_size, report.config.num_registers),
        (14, 0)
    );
    close(
        &to_vec(model.forward_cls(input(56))),
        &reference("raddino_cls_56"),
    );
    // 28 px: the 4x4 grid resampled to 2x2 the way Dinov2Model.interpolate_pos_encoding does.
    let (model, report) = load("hf_raddino_p14_g4.safetensors", 28, 3);
    assert_eq!(
        report.resampled_pos_embed.unwrap().method,
        PosEmbedResample::BicubicSize
    );
    close(
        &to_vec(model.forward_cls(input(28))),
        &reference("raddino_cls_28"),
    );
}

#[test]
fn timm_qkvb_biases_fuse_and_all_zero_biases_are_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    // timm `vit_base_patch16_dinov3_qkvb` layout with the released ViT-B's all-zero biases.
    let path = edited("timm_dinov3_p16.safetensors", tmp.path(), |t| {
        for b in 0..2 {
            for q in ["q_bias", "v_bias"] {
                t.insert(format!("blocks.{b}.attn.{q}"), (vec![16], vec![0.0; 16]));
            }
        }
    });
    let (model, report) = load_vit::<B>(&path, &target(32, 3), &Default::default()).unwrap();
    assert!(!report.config.qkv_bias);
    assert!(
        report
            .unused
            .contains(&"blocks.1.attn.qkv.bias".to_string()),
        "{report:?}"
    );
    close(
        &to_vec(model.forward(input(32))),
        &reference("timm_logits_32"),
    );

    // Non-zero q/v biases are kept (k third zero) and change the output.
    let path = edited("timm_dinov3_p16.safetensors", tmp.path(), |t| {
        for b in 0..2 {
            t.insert(format!("blocks.{b}.attn.q_bias"), (vec![16], vec![0.5; 16]));
            t.insert(
                format!("blocks.{b}.attn.v_bias"),
                (vec![16], vec![-0.25; 16]),
            );
        }
    });
    let (model, report) = load_vit::<B>(&path, &target(32, 3), &Default::default()).unwrap();
    assert!(report.config.qkv_bias);
    let bias = to_vec(model.blocks[1].attn.qkv.bias.as_ref().unwrap().val());
    assert_eq!((bias[0], bias[16], bias[32]), (0.5, 0.0, -0.25));
    assert!(
        max_abs_diff(
            &to_vec(model.forward(input(32))),
            &reference("timm_logits_32")
        ) > 1e-3
    );
}

#[test]
fn dinov3_export_is_timm_eva_named_and_reloads_exactly() {
    let (model, _) = load("timm_dinov3_p16.safetensors", 32, 3);
    let keep = std::env::var_os("CXR_EXPORT_DIR");
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dinov3.safetensors");
    crate::common::export_test_model(
        &model,
        &path,
        &["atelectasis", "cardiomegaly", "pleural_effusion"],
    );
    let sidecar: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["timm_model_name"], "vit_base_patch16_dinov3");
    assert_eq!(sidecar["timm_kwargs"]["global_pool"], "token");
    assert_eq!(sidecar["timm_kwargs"]["num_reg_tokens"], 4);
    let written: Vec<String> = {
        let bytes = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        st.names().into_iter().map(str::to_string).collect()
    };
    // Exactly the timm file's key set (what strict load_state_dict checks).
    let mut timm_keys: Vec<String> = read_all("timm_dinov3_p16.safetensors")
        .into_keys()
        .collect();
    let mut ours = written.clone();
    timm_keys.sort();
    ours.sort();
    assert_eq!(ours, timm_keys);

    let (back, report) =
        load_vit::<B>(&path, &LoadTarget::new(32, 3), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::Cxr);
    assert_eq!(back.config(), model.config());
    let mut logits = serde_json::Map::new();
    for s in [32, 48] {
        let a = to_vec(model.forward(input(s)));
        assert_eq!(a, to_vec(back.forward(input(s))));
        let rows: Vec<Vec<f32>> = a.chunks(3).map(<[f32]>::to_vec).collect();
        logits.insert(s.to_string(), serde_json::to_value(rows).unwrap());
    }
    // For `scripts/gen_tiny_dinov3.py --check-export DIR/dinov3.safetensors`.
    std::fs::write(
        path.with_extension("logits.json"),
        serde_json::to_string(&logits).unwrap(),
    )
    .unwrap();
}

#[test]
fn bf16_forward_of_a_rope_model_stays_close_to_f32() {
    // RoPE's sin/cos and the k-bias follow q's dtype (the CPU debug build rejects f32/bf16 mixes).
    let (model, _) = load("meta_dinov3_p16.pth", 32, 3);
    let f32_out = to_vec(model.forward_cls(input(48)));
    let model = model.with_precision(cxr::model::Precision::Bf16);
    let bf16_out = to_vec(model.forward_cls(input(48)));
    let diff = max_abs_diff(&f32_out, &bf16_out);
    eprintln!("bf16 vs f32 CLS: max |diff| = {diff:.3e}");
    assert!(diff > 0.0 && diff < 0.1, "{diff}");
}

#[test]
fn fresh_dinov3_model_trains_registers_and_round_trips_its_config() {
    type A = Autodiff<Flex>;
    let device = Default::default();
    let cfg = ViTConfig::vit_tiny_dinov3_test(3);
    let model = cfg.init::<A>(&device);
    assert_eq!(model.valid_config(), cfg);
    let x = Tensor::<A, 4>::ones([2, 3, 48, 48], &device) * 0.5;
    let logits = model.forward(x);
    assert_eq!(logits.dims(), [2, 3]);
    let grads = logits.sum().backward();
    let g = model
        .register_tokens
        .as_ref()
        .unwrap()
        .grad(&grads)
        .unwrap();
    assert_eq!(g.dims(), [1, 4, 16]);
    assert!(g.abs().sum().into_scalar() > 0.0);
    // RoPE needs head_dim / 4 periods: a mismatched config is refused before init.
    let bad = ViTConfig {
        num_heads: 4,
        ..cfg.clone()
    };
    assert!(bad.validate().unwrap_err().contains("RoPE"));
}

trait ValidConfig {
    fn valid_config(&self) -> ViTConfig;
}

impl ValidConfig for VisionTransformer<Autodiff<Flex>> {
    fn valid_config(&self) -> ViTConfig {
        use burn::module::AutodiffModule;
        self.valid().config()
    }
}
