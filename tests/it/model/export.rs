//! Export to timm-naming safetensors + sidecar, and loading the export back.

use super::*;

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
    let (model, _) = load_vit::<B>(
        &fixture("timm_vit_p8.safetensors"),
        &tiny_target(5),
        &Default::default(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // CXR_EXPORT_DIR keeps the export for `scripts/gen_tiny_vit.py --check-export` (timm check).
    let dir = std::env::var_os("CXR_EXPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
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

    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out.sidecar).unwrap()).unwrap();
    assert_eq!(side["timm_model_name"], "vit_base_patch16_224");
    assert_eq!(side["timm_kwargs"]["num_heads"], 2);
    assert_eq!(side["labels"][4], "finding_4");

    // Reload without a head-count hint: the config travels in the safetensors metadata.
    let (back, report) =
        load_vit::<B>(&path, &LoadTarget::new(32, 5), &Default::default()).unwrap();
    assert_eq!(report.source, CheckpointSource::Cxr);
    assert!(!report.head_reinitialized);
    let (a, b) = (
        to_vec(model.forward(inputs())),
        to_vec(back.forward(inputs())),
    );
    assert_eq!(a, b, "export -> load must be bit-identical");
}

#[test]
fn export_round_trip_keeps_layer_scale_and_resampled_grid() {
    let (model, _) = load_vit::<B>(
        &fixture("timm_dinov2_p8_g7.safetensors"),
        &tiny_target(3),
        &Default::default(),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("CXR_EXPORT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let path = dir.join("dinov2.safetensors");
    let out = export_safetensors(&model, &path, &sidecar(3)).unwrap();
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out.sidecar).unwrap()).unwrap();
    assert_eq!(side["timm_model_name"], "vit_base_patch14_dinov2");
    assert_eq!(side["timm_kwargs"]["init_values"], 1.0);
    let (back, report) =
        load_vit::<B>(&path, &LoadTarget::new(32, 3), &Default::default()).unwrap();
    // The exported grid is already the model's 4x4 grid: no second resampling.
    assert!(report.resampled_pos_embed.is_none() && !report.head_reinitialized);
    assert_eq!(back.config(), model.config());
    assert_eq!(
        to_vec(model.forward(inputs())),
        to_vec(back.forward(inputs()))
    );
}

#[test]
fn export_rejects_wrong_label_count() {
    let model = ViTConfig::vit_tiny_test(3).init::<B>(&Default::default());
    let tmp = tempfile::tempdir().unwrap();
    let err =
        export_safetensors(&model, &tmp.path().join("m.safetensors"), &sidecar(4)).unwrap_err();
    assert!(
        err.to_string()
            .contains("4 labels for a head with 3 outputs"),
        "{err}"
    );
}

#[test]
fn export_rejects_preprocessing_that_hides_the_in_model_normalisation() {
    let cfg = ViTConfig::vit_tiny_test(3).with_input_norm(cxr::model::InputNorm::ImageNet);
    let model = cfg.init::<B>(&Default::default());
    let tmp = tempfile::tempdir().unwrap();
    let err =
        export_safetensors(&model, &tmp.path().join("m.safetensors"), &sidecar(3)).unwrap_err();
    assert!(
        matches!(err, cxr::model::ExportError::Preprocessing { .. }),
        "{err}"
    );
    let mut ok = sidecar(3);
    ok.preprocessing.mean = [0.485, 0.456, 0.406];
    ok.preprocessing.std = [0.229, 0.224, 0.225];
    export_safetensors(&model, &tmp.path().join("m.safetensors"), &ok).unwrap();
}
