//! Real pretrained checkpoints (`#[ignore]`): run with
//! `CXR_WEIGHTS_DIR=/path/to/weights cargo test --test it model::real_weights -- --ignored`
//! (file names and sha256 in `data-manifests/weights.toml`).

use super::*;

/// A pretrained file from `$CXR_WEIGHTS_DIR`, or a failure that says where to get it.
pub(super) fn real_weights(name: &str) -> PathBuf {
    let dir = std::env::var_os("CXR_WEIGHTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("HINT: set CXR_WEIGHTS_DIR to the folder holding {name} (see data-manifests/weights.toml)"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "HINT: {} not found; file names and sha256 are in data-manifests/weights.toml",
        path.display()
    );
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
    let (model, report) =
        load_vit::<B>(&path, &LoadTarget::new(224, 14), &Default::default()).unwrap();
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
    let (model, report) =
        load_vit::<B>(&path, &LoadTarget::new(224, 14), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::TorchHub);
    assert_eq!(report.config, ViTConfig::vit_base_patch14_dinov2(14));
    // 150 as for ViT-B/16 plus 2 LayerScale gammas per block; no head in the hub file.
    assert_eq!(report.applied.len(), 174);
    let rs = report.resampled_pos_embed.unwrap();
    assert_eq!(
        (rs.from_grid, rs.to_grid, rs.method),
        (37, 16, PosEmbedResample::Dinov2Hub { offset: 0.1 })
    );
    assert_eq!(report.unused, vec!["mask_token".to_string()]);
    assert_finite_forward(&model, 14);
}

#[test]
#[ignore = "needs CXR_WEIGHTS_DIR with dinov2_vitb14_pretrain.pth and dinov2-base.safetensors (HF)"]
fn real_hf_dinov2_base_agrees_with_the_hub_checkpoint() {
    // Same weights, two formats (HF converted the hub release): with the same resampling the
    // CLS features must agree, which checks the q/k/v fusion and renames on real tensors.
    let target = LoadTarget {
        resample: Some(PosEmbedResample::default()),
        ..LoadTarget::new(224, 14)
    };
    let (hub, _) = load_vit::<B>(
        &real_weights("dinov2_vitb14_pretrain.pth"),
        &target,
        &Default::default(),
    )
    .unwrap();
    let (hf, report) = load_vit::<B>(
        &real_weights("dinov2-base.safetensors"),
        &target,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(report.source, CheckpointSource::HuggingFace);
    let x = || Tensor::<B, 4>::ones([1, 3, 224, 224], &Default::default()) * 0.5;
    assert_close(&to_vec(hf.forward_cls(x())), &to_vec(hub.forward_cls(x())));
}
