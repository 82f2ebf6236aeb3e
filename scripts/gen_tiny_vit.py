#!/usr/bin/env python3
"""Generate the tiny ViT parity fixtures in tests/fixtures/model/ (CPU, a few seconds).

Pinned versions (the ones that produced the committed fixtures):
    python 3.11.7, torch==2.15.0, timm==1.0.31, transformers==5.24.0, safetensors==0.8.0
    pip install --quiet torch==2.15.0 timm==1.0.31 transformers==5.24.0 safetensors==0.8.0

Usage:
    python3 scripts/gen_tiny_vit.py [OUT_DIR]          # default tests/fixtures/model
    python3 scripts/gen_tiny_vit.py --check-export W.safetensors
        # loads a Rust export (W.safetensors + W.json sidecar) with the three README lines
        # (timm.create_model + load_state_dict) and compares its logits on the fixture inputs
        # with the original timm logits.

All models are random-weight, f32, 32x32 inputs, patch 8, width 24, depth 2, 2 heads:
  timm_vit_p8.safetensors     timm VisionTransformer (no LayerScale), head 5 classes, grid 4x4
  timm_dinov2_p8_g7.safetensors  timm VisionTransformer + LayerScale, no head, trained grid 7x7 (56 px)
  hub_dinov2_p8_g7.pth        the same weights as a torch.hub DINOv2 state dict (+ mask_token)
  hf_dinov2_p8_g7.safetensors transformers Dinov2Model, grid 7x7 (56 px)
  expected.safetensors        inputs [2,3,32,32] in [0,1] and reference outputs
  pos_embed_resample.safetensors  F.interpolate references for the three resampling modes
"""
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
import timm
from timm.layers import resample_abs_pos_embed
from safetensors.torch import save_file, load_file
from transformers import Dinov2Config, Dinov2Model

DIM, DEPTH, HEADS, PATCH = 24, 2, 2, 8
IMG, TRAIN_IMG = 32, 56  # test input 4x4 grid; DINOv2-style models trained at 7x7


def randomize(model, seed):
    """Replace every parameter with O(1) random values so that no term is negligible."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if name.endswith(("norm1.weight", "norm2.weight", "norm.weight", "layernorm.weight")):
                p.copy_(1.0 + 0.2 * r)
            elif "gamma" in name or "lambda1" in name:
                p.copy_(0.5 + 0.25 * r)
            else:
                p.copy_(0.3 * r)
    return model.eval()


def timm_vit(img, num_classes, init_values):
    return timm.models.vision_transformer.VisionTransformer(
        img_size=img, patch_size=PATCH, embed_dim=DIM, depth=DEPTH, num_heads=HEADS,
        mlp_ratio=4.0, qkv_bias=True, num_classes=num_classes, init_values=init_values)


def hub_interpolate_pos_encoding(pos_embed, w, h, patch_size, offset=0.1):
    """Verbatim logic of facebookresearch/dinov2 `DinoVisionTransformer.interpolate_pos_encoding`
    (interpolate_offset=0.1, interpolate_antialias=False as in the released hub models)."""
    N = pos_embed.shape[1] - 1
    pos_embed = pos_embed.float()
    class_pos_embed = pos_embed[:, 0]
    patch_pos_embed = pos_embed[:, 1:]
    dim = pos_embed.shape[-1]
    w0, h0 = w // patch_size, h // patch_size
    M = int(math.sqrt(N))
    sx, sy = float(w0 + offset) / M, float(h0 + offset) / M
    patch_pos_embed = F.interpolate(
        patch_pos_embed.reshape(1, M, M, dim).permute(0, 3, 1, 2),
        mode="bicubic", antialias=False, scale_factor=(sx, sy))
    assert (w0, h0) == patch_pos_embed.shape[-2:]
    patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
    return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)


def tokens_forward(model, x, pos_embed):
    """timm / DINOv2 token path with an explicit position embedding; returns final-norm CLS."""
    t = model.patch_embed.proj(x).flatten(2).transpose(1, 2)
    t = torch.cat((model.cls_token.expand(t.shape[0], -1, -1), t), dim=1) + pos_embed
    for blk in model.blocks:
        t = blk(t)
    return model.norm(t)[:, 0]


def grid_cases(g):
    """Resampling references: NCHW grids and F.interpolate outputs for each mode."""
    out = {}
    for src, dst in [(7, 4), (5, 9), (37, 16)]:
        x = torch.randn(1, 3, src, src, generator=g)
        out[f"grid_{src}"] = x
        sf = (dst + 0.1) / src
        out[f"hub_{src}_{dst}"] = F.interpolate(x, scale_factor=(sf, sf), mode="bicubic", antialias=False)
        out[f"size_{src}_{dst}"] = F.interpolate(x, size=(dst, dst), mode="bicubic", align_corners=False, antialias=False)
        out[f"aa_{src}_{dst}"] = F.interpolate(x, size=(dst, dst), mode="bicubic", align_corners=False, antialias=True)
    return {k: v.contiguous() for k, v in out.items()}


def generate(out_dir: Path):
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(2, 3, IMG, IMG, generator=g)
    expected = {"inputs": x}

    with torch.no_grad():
        # 1. timm ViT, patch 8, 4x4 grid, 5-class head.
        vit = randomize(timm_vit(IMG, 5, None), seed=1)
        save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, out_dir / "timm_vit_p8.safetensors")
        expected["timm_vit_logits"] = vit(x)
        expected["timm_vit_cls"] = vit.forward_features(x)[:, 0]

        # 2./3. DINOv2-style (LayerScale, no head) trained at a 7x7 grid.
        dino = randomize(timm_vit(TRAIN_IMG, 0, 1.0), seed=2)
        sd = {k: v.contiguous() for k, v in dino.state_dict().items()}
        save_file(sd, out_dir / "timm_dinov2_p8_g7.safetensors")
        hub_sd = {k: v.clone() for k, v in sd.items()}
        hub_sd["mask_token"] = torch.zeros(1, DIM)  # hub checkpoints carry it; unused for classification
        torch.save(hub_sd, out_dir / "hub_dinov2_p8_g7.pth")
        pos_hub = hub_interpolate_pos_encoding(dino.pos_embed, IMG, IMG, PATCH)
        expected["dinov2_cls_hub"] = tokens_forward(dino, x, pos_hub)
        pos_aa = resample_abs_pos_embed(dino.pos_embed, new_size=[IMG // PATCH] * 2, num_prefix_tokens=1)
        expected["dinov2_cls_timm_aa"] = tokens_forward(dino, x, pos_aa)

        # 4. Hugging Face Dinov2Model trained at 56 px; pooled output = layernorm(seq)[:, 0].
        cfg = Dinov2Config(hidden_size=DIM, num_hidden_layers=DEPTH, num_attention_heads=HEADS,
                           mlp_ratio=4, image_size=TRAIN_IMG, patch_size=PATCH, layerscale_value=1.0,
                           layer_norm_eps=1e-6, hidden_act="gelu", qkv_bias=True, use_swiglu_ffn=False)
        hf = randomize(Dinov2Model(cfg), seed=3)
        save_file({k: v.contiguous() for k, v in hf.state_dict().items()}, out_dir / "hf_dinov2_p8_g7.safetensors")
        expected["hf_pooled"] = hf(pixel_values=x).pooler_output

        save_file({k: v.contiguous() for k, v in expected.items()}, out_dir / "expected.safetensors")
        save_file(grid_cases(g), out_dir / "pos_embed_resample.safetensors")
    print("wrote", sorted(p.name for p in out_dir.iterdir()))


def check_export(weights: Path):
    """The README's three lines, then a logit comparison with the original timm model."""
    side = json.load(open(weights.with_suffix(".json")))
    model = timm.create_model(side["timm_model_name"], pretrained=False, **side["timm_kwargs"])
    model.load_state_dict(load_file(str(weights)))  # strict=True: every key must match
    model.eval()
    exp = load_file(str(Path(__file__).resolve().parent.parent / "tests/fixtures/model/expected.safetensors"))
    with torch.no_grad():
        if side["timm_kwargs"]["init_values"] is None:
            # Export of timm_vit_p8 (head kept): logits must equal the original timm logits.
            got, want, what = model(exp["inputs"]), exp["timm_vit_logits"], "logits"
        else:
            # Export of the DINOv2-style model (LayerScale, pos_embed resampled 7x7 -> 4x4 the
            # torch.hub way, new head): CLS features must equal the hub reference.
            got, want, what = model.forward_features(exp["inputs"])[:, 0], exp["dinov2_cls_hub"], "CLS features"
    diff = (got - want).abs().max().item()
    print(f"timm.create_model({side['timm_model_name']!r}, **timm_kwargs) + load_state_dict (strict): OK; "
          f"max |{what} - reference| = {diff:.3e}; labels = {side['labels']}")
    assert diff < 1e-4, diff


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(Path(sys.argv[2]))
    else:
        generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/model"))
