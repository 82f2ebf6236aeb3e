//! Load verification: every way a checkpoint can disagree with the model is a typed error;
//! plus config presets and a fresh-model autodiff smoke test.

use super::*;

#[test]
fn missing_block_tensor_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let path = edited_timm(tmp.path(), |t| {
        t.remove("blocks.1.mlp.fc2.bias");
    });
    match load_vit::<B>(&path, &tiny_target(5), &Default::default()) {
        Err(LoadError::Incomplete {
            missing, unused, ..
        }) => {
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
        Err(LoadError::Incomplete {
            missing, unused, ..
        }) => {
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
    let err = load_vit::<B>(&path, &tiny_target(5), &Default::default())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, LoadError::ShapeMismatch { ref details, .. } if details[0].contains("blocks.0.attn.proj.bias")),
        "{err}"
    );
}

#[test]
fn register_tokens_are_rejected_not_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let path = edited_timm(tmp.path(), |t| {
        t.insert("register_tokens".into(), (vec![1, 4, 24], vec![0.0; 96]));
    });
    let err = load_vit::<B>(&path, &tiny_target(5), &Default::default())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, LoadError::Unsupported { .. }), "{err}");
}

#[test]
fn head_count_must_be_given_when_width_is_not_a_multiple_of_64() {
    let err = load_vit::<B>(
        &fixture("timm_vit_p8.safetensors"),
        &LoadTarget::new(32, 5),
        &Default::default(),
    )
    .map(|_| ())
    .unwrap_err();
    assert!(matches!(err, LoadError::Inference { .. }), "{err}");
}

#[test]
fn presets_have_the_study_geometry() {
    let b16 = ViTConfig::vit_base_patch16_224(14);
    assert_eq!(
        (b16.grid_size(), b16.num_patches(), b16.mlp_hidden()),
        (14, 196, 3072)
    );
    let dino = ViTConfig::vit_base_patch14_dinov2(14);
    assert_eq!(
        (dino.grid_size(), dino.layer_scale, dino.layer_norm_eps),
        (16, Some(1.0), 1e-6)
    );
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
    let g = model.pos_embed.as_ref().unwrap().grad(&grads).unwrap();
    assert_eq!(g.dims(), [1, 17, 24]);
    assert!(g.abs().sum().into_scalar() > 0.0);
    // The non-parameter fields (input_norm, img_size, eps) survive valid() and config().
    use burn::module::{AutodiffModule, Module};
    let cfg = ViTConfig::vit_tiny_dinov2_test(3).with_input_norm(cxr::model::InputNorm::ImageNet);
    let model = cfg.init::<A>(&device);
    // patch 4632 + cls 24 + pos 408 + 2 blocks x 7272 + norm 48 + head 75
    assert_eq!(model.num_params(), 19_731); // = timm VisionTransformer(same args).parameters()
    assert_eq!(model.valid().config(), cfg);
}

#[test]
fn errors_can_cross_threads_and_into_anyhow() {
    fn assert_send_sync<T: Send + Sync + std::error::Error + 'static>() {}
    assert_send_sync::<LoadError>();
    assert_send_sync::<cxr::model::ExportError>();
    let err: anyhow::Error = LoadError::MissingKey {
        path: "x".into(),
        key: "pos_embed".into(),
    }
    .into();
    assert!(err.to_string().contains("pos_embed"));
}
