//! Real DINOv3 / RAD-DINO checkpoints (`#[ignore]`): run with
//! `CXR_WEIGHTS_DIR=/path/to/weights cargo test --test it model::real_dinov3 -- --ignored`
//! (file names in `data-manifests/weights.toml`). Each test needs only its own files.

use super::*;
use super::real_weights::real_weights as real;

fn cls(path: &Path, size: usize) -> (Vec<f32>, cxr::model::LoadReport) {
    let (model, report) =
        load_vit::<B>(path, &LoadTarget::new(size, 14), &Default::default()).unwrap();
    let x = Tensor::<B, 4>::ones([1, 3, size, size], &Default::default()) * 0.5;
    (to_vec(model.forward_cls(x)), report)
}

const TIMM: &str = "vit_base_patch16_dinov3.lvd1689m.safetensors";
const META: &str = "dinov3_vitb16_pretrain_lvd1689m-73cec8be.pth";
const HF: &str = "dinov3-vitb16-pretrain-lvd1689m.safetensors";

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with vit_base_patch16_dinov3.lvd1689m.safetensors"]
fn real_timm_dinov3_vitb16_loads_at_224_and_512() {
    let path = real(TIMM);
    let (a, report) = cls(&path, 224);
    assert_eq!(report.config, ViTConfig::vit_base_patch16_dinov3(14));
    // patch 2 + cls 1 + registers 1 + 12 blocks x 13 + final norm 2 (no head in the file).
    assert_eq!(report.applied.len(), 162);
    assert!(report.head_reinitialized && report.resampled_pos_embed.is_none());
    let (b, _) = cls(&path, 512);
    assert!(a.iter().chain(&b).all(|v| v.is_finite()));
}

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with the timm and the Hugging Face DINOv3 ViT-B/16 files"]
fn real_hf_dinov3_agrees_with_timm() {
    let (t, _) = cls(&real(TIMM), 224);
    let (h, report) = cls(&real(HF), 224);
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    assert_eq!(report.config, ViTConfig::vit_base_patch16_dinov3(14));
    let diff = max_abs_diff(&t, &h);
    eprintln!("HF vs timm CLS at 224: max |diff| = {diff:.3e}");
    assert!(diff <= 1e-4, "{diff}");
}

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with dinov3_vitb16_pretrain_lvd1689m-73cec8be.pth"]
fn real_meta_dinov3_pth_loads_with_its_stored_periods() {
    let (c, report) = cls(&real(META), 224);
    assert_eq!(report.source, CheckpointSource::TorchHub);
    // mask_token, and the released all-zero qkv biases (timm's vit_base_patch16_dinov3).
    assert_eq!(report.unused.len(), 13, "{:?}", report.unused);
    assert!(report.unused.contains(&"mask_token".to_string()) && !report.config.qkv_bias);
    assert_eq!(report.config.rope.as_ref().unwrap().periods.len(), 16);
    assert_eq!(
        (report.config.num_registers, report.config.layer_norm_eps),
        (4, 1e-5)
    );
    assert!(c.iter().all(|v| v.is_finite()));
    // With the timm file next to it: the same weights, only the RoPE periods differ (bf16 in
    // Meta's file, f32 in timm); report the difference that makes.
    let timm = std::env::var_os("CXR_WEIGHTS_DIR").map(|d| PathBuf::from(d).join(TIMM));
    if let Some(t) = timm.filter(|t| t.is_file()) {
        let (tc, _) = cls(&t, 224);
        let scale = tc.iter().fold(0f32, |m, v| m.max(v.abs()));
        let diff = max_abs_diff(&c, &tc);
        eprintln!(
            "Meta (bf16 periods) vs timm CLS: max |diff| = {diff:.3e}, max |timm| = {scale:.3}"
        );
    }
}

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with rad-dino.safetensors (microsoft/rad-dino model.safetensors)"]
fn real_rad_dino_loads_as_dinov2_b14() {
    let (c, report) = cls(&real("rad-dino.safetensors"), 224);
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    assert_eq!(report.config, ViTConfig::vit_base_patch14_dinov2(14));
    assert_eq!(report.checkpoint_grid, 37);
    assert!(c.iter().all(|v| v.is_finite()));
}
