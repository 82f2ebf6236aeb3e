#!/usr/bin/env python3
"""Generate the LoRA parity fixtures in tests/fixtures/model/ with timm + peft (CPU, seconds).

Pinned versions (the ones that produced the committed fixtures):
    python 3.11.7, torch==2.15.0, timm==1.0.31, peft==0.21.2, safetensors==0.8.0
    pip install --quiet torch==2.15.0 timm==1.0.31 peft==0.21.2 safetensors==0.8.0

Usage:
    python3 scripts/gen_lora_fixture.py [OUT_DIR]        # default tests/fixtures/model
    python3 scripts/gen_lora_fixture.py --check-export W.safetensors
        # loads a cxr export of a LoRA run (W.safetensors + W.json sidecar) with the README's
        # timm lines, checks that it holds no adapter keys, and prints its logits on the
        # fixture inputs as JSON (`cxr-train export` of a `--finetune lora` run).

The model: a timm VisionTransformer, 32x32 input, patch 8, width 16, depth 2, 2 heads, MLP
ratio 2, 3 classes, random O(1) weights. peft `LoraConfig(r=4, lora_alpha=8,
target_modules=r"blocks\\.\\d+\\.attn\\.(qkv|proj)")` wraps `attn.qkv` and `attn.proj` of both
blocks (a regex: the plain name "proj" would also catch `patch_embed.proj`); lora_A and lora_B
are then set to random values (B non-zero, as after training).

Files:
  lora_base.safetensors     the base model (timm keys)
  lora_adapters.safetensors peft's `get_peft_model_state_dict` (keys
                            base_model.model.blocks.N.attn.{qkv,proj}.lora_{A,B}.weight)
  lora_merged.safetensors   `merge_and_unload()` state dict (timm keys): W + (alpha/r)·B·A
  lora_expected.safetensors inputs [2,3,32,32] in [0,1]; `lora_logits` of the peft model
                            (adapters unmerged); `merged_logits` of the merged timm model
"""
import json
import sys
from pathlib import Path

import torch
import timm
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict
from safetensors.torch import save_file, load_file

DIM, DEPTH, HEADS, PATCH, IMG, CLASSES = 16, 2, 2, 8, 32, 3
RANK, ALPHA = 4, 8


def base_model():
    m = timm.models.vision_transformer.VisionTransformer(
        img_size=IMG, patch_size=PATCH, embed_dim=DIM, depth=DEPTH, num_heads=HEADS,
        mlp_ratio=2.0, qkv_bias=True, num_classes=CLASSES)
    g = torch.Generator().manual_seed(13)
    with torch.no_grad():
        for name, p in m.named_parameters():
            r = torch.randn(p.shape, generator=g)
            p.copy_(1.0 + 0.2 * r if name.endswith(("norm1.weight", "norm2.weight", "norm.weight")) else 0.3 * r)
    return m.eval()


def inputs():
    g = torch.Generator().manual_seed(5)
    return torch.rand(2, 3, IMG, IMG, generator=g)


def main(out: Path):
    out.mkdir(parents=True, exist_ok=True)
    base = base_model()
    save_file({k: v.contiguous() for k, v in base.state_dict().items()}, str(out / "lora_base.safetensors"))
    cfg = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0,
                     target_modules=r"blocks\.\d+\.attn\.(qkv|proj)")
    peft_model = get_peft_model(base, cfg).eval()
    g = torch.Generator().manual_seed(21)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    adapters = get_peft_model_state_dict(peft_model)
    assert len(adapters) == DEPTH * 2 * 2, sorted(adapters)
    save_file({k: v.contiguous() for k, v in adapters.items()}, str(out / "lora_adapters.safetensors"),
              metadata={"format": "pt", "cxr.lora_rank": str(RANK), "cxr.lora_alpha": str(float(ALPHA))})
    x = inputs()
    with torch.no_grad():
        lora_logits = peft_model(x)
        merged = peft_model.merge_and_unload().eval()
        merged_logits = merged(x)
    save_file({k: v.contiguous() for k, v in merged.state_dict().items()}, str(out / "lora_merged.safetensors"))
    save_file({"x": x, "lora_logits": lora_logits, "merged_logits": merged_logits},
              str(out / "lora_expected.safetensors"))
    print("max |lora - merged| in PyTorch:", (lora_logits - merged_logits).abs().max().item())


def check_export(weights: Path):
    side = json.load(open(weights.with_suffix(".json")))
    model = timm.create_model(side["timm_model_name"], pretrained=False, **side["timm_kwargs"])
    state = load_file(str(weights))
    assert not [k for k in state if "lora" in k], "the export holds adapter keys"
    model.load_state_dict(state)
    model.eval()
    size = side["image_size"]
    g = torch.Generator().manual_seed(5)
    x = torch.rand(2, 3, size, size, generator=g)
    mean = torch.tensor(side["preprocessing"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(side["preprocessing"]["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        logits = model((x - mean) / std)
    print(json.dumps({"timm_model_name": side["timm_model_name"], "logits": logits.tolist()}))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check-export":
        check_export(Path(sys.argv[2]))
    else:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/model"))
