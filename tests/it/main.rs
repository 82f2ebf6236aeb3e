//! Single integration-test binary; one module per pipeline stage.

// model: ViT parity with timm / torch.hub / HF, weight import/export verification.
mod model;
