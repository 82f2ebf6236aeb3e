#!/usr/bin/env python3
"""Generate the tiny DINOv3 / RAD-DINO parity fixtures in tests/fixtures/model/ (CPU, seconds).

Pinned versions (the ones that produced the committed fixtures):
    python 3.11.7, torch==2.15.0, timm==1.0.31, transformers==5.24.0, safetensors==0.8.0
    Meta's reference code: facebookresearch/dinov3 at commit 6876159a11b4df116f30f667f8c9888617df0751
    (not on PyPI: `git clone https://github.com/facebookresearch/dinov3` and point DINOV3_SRC at it;
    only `dinov3/` is imported, no extra dependencies).

Usage:
    DINOV3_SRC=/path/to/dinov3 python3 scripts/gen_tiny_dinov3.py [OUT_DIR]   # default tests/fixtures/model
    python3 scripts/gen_tiny_dinov3.py --check-export W.safetensors
        # loads a Rust export of a DINOv3 model (W.safetensors + W.json sidecar) with
        # timm.create_model(name, **timm_kwargs) + strict load_state_dict and compares its logits
        # with the Rust logits stored by the export test in W.logits.json.

Every model is random-weight f32 with width 16, depth 2, 2 heads (head_dim 8, so 2 RoPE periods);
every parameter gets O(1) values (randomize()) so that no term is negligible:
  timm_dinov3_p16.safetensors   timm Eva `vit_base_patch16_dinov3` (qkv_bias=False, 4 registers,
                                 global_pool='token'), 3-class head
  meta_dinov3_p16.pth           Meta DinoVisionTransformer as `dinov3_vitb16` builds it (qkv bias with
                                 k masked by `bias_mask`, 4 storage tokens, `rope_embed.periods`
                                 rounded to bf16 and stored as bf16 like the released files, mask_token)
  hf_dinov3_p16.safetensors     transformers DINOv3ViTModel (q/v bias, no k bias, 4 registers), saved
                                 with the Hub's key names (`layer.N.*`; transformers 5 says `model.layer.N.*`)
  hf_raddino_p14_g4.safetensors transformers Dinov2Model shaped like microsoft/rad-dino (patch 14, no
                                 registers, LayerScale), trained grid 4x4 (56 px), Hub 4.x key names
  dinov3_expected.json          reference outputs (below)

Inputs are not stored: both sides build them from integers, x[b, c, i, j] =
((b*7919 + c*104729 + i*613 + j*2999) % 1009) / 1008 (exact in f32), shape [2, 3, S, S].
Outputs, per size S: timm logits (model(x), head on the final-norm CLS token), Meta
`forward_features(x)["x_norm_clstoken"]`, HF `pooler_output` (final-norm CLS) for DINOv3 at
S = 32 and 48 (grids 2x2 and 3x3, no resampling anywhere), and RAD-DINO-shaped `pooler_output`
at S = 56 (trained grid) and 28 (pos_embed resampled by HF's bicubic `interpolate_pos_encoding`).
"""
import json
import os
import sys
from pathlib import Path

import torch
import timm
from safetensors.torch import save_file, load_file
from transformers import Dinov2Config, Dinov2Model, DINOv3ViTConfig, DINOv3ViTModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_tiny_vit import randomize  # noqa: E402  (same O(1) random weights as the ViT fixtures)

DIM, DEPTH, HEADS, REG = 16, 2, 2, 4
SIZES_16, SIZES_14 = (32, 48), (56, 28)


def inputs(size):
    b, c, i, j = torch.meshgrid(torch.arange(2), torch.arange(3), torch.arange(size), torch.arange(size),
                                indexing="ij")
    n = (b * 7919 + c * 104729 + i * 613 + j * 2999) % 1009
    return (n.double() / 1008.0).float()


def contiguous(sd):
    return {k: v.contiguous() for k, v in sd.items()}


def timm_dinov3(num_classes):
    return timm.create_model("vit_base_patch16_dinov3", pretrained=False, embed_dim=DIM, depth=DEPTH,
                             num_heads=HEADS, num_classes=num_classes, global_pool="token")


def meta_dinov3():
    sys.path.insert(0, os.environ["DINOV3_SRC"])
    from dinov3.models.vision_transformer import DinoVisionTransformer
    # The keyword arguments of `dinov3/hub/backbones.py::dinov3_vitb16`, at the tiny size.
    m = DinoVisionTransformer(
        img_size=224, patch_size=16, in_chans=3, pos_embed_rope_base=100,
        pos_embed_rope_normalize_coords="separate", pos_embed_rope_rescale_coords=2,
        pos_embed_rope_dtype="fp32", embed_dim=DIM, depth=DEPTH, num_heads=HEADS, ffn_ratio=4,
        qkv_bias=True, drop_path_rate=0.0, layerscale_init=1.0e-05, norm_layer="layernormbf16",
        ffn_layer="mlp", ffn_bias=True, proj_bias=True, n_storage_tokens=REG, mask_k_bias=True)
    m.init_weights()
    return m


def generate(out_dir: Path):
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    expected = {}
    with torch.no_grad():
        # 1. timm Eva DINOv3 with a 3-class head on the final-norm CLS token.
        tm = randomize(timm_dinov3(3), seed=11)
        save_file(contiguous(tm.state_dict()), out_dir / "timm_dinov3_p16.safetensors")
        for s in SIZES_16:
            expected[f"timm_logits_{s}"] = tm(inputs(s))

        # 2. Meta layout: random weights, bf16-rounded periods (as released), k bias masked.
        mm = randomize(meta_dinov3(), seed=12)
        mm.rope_embed.periods.copy_(mm.rope_embed.periods.to(torch.bfloat16).float())
        sd = dict(mm.state_dict())
        sd["rope_embed.periods"] = sd["rope_embed.periods"].to(torch.bfloat16)
        torch.save(contiguous(sd), out_dir / "meta_dinov3_p16.pth")
        for s in SIZES_16:
            expected[f"meta_cls_{s}"] = mm.forward_features(inputs(s))["x_norm_clstoken"]

        # 3. Hugging Face DINOv3ViTModel; keys written as on the Hub (`layer.N.*`).
        cfg = DINOv3ViTConfig(hidden_size=DIM, intermediate_size=4 * DIM, num_hidden_layers=DEPTH,
                              num_attention_heads=HEADS, patch_size=16, num_register_tokens=REG,
                              image_size=224, layerscale_value=1.0, rope_theta=100.0, query_bias=True,
                              key_bias=False, value_bias=True, layer_norm_eps=1e-5, hidden_act="gelu")
        hm = randomize(DINOv3ViTModel(cfg), seed=13)
        hub = {k.replace("model.layer.", "layer.", 1): v for k, v in hm.state_dict().items()}
        save_file(contiguous(hub), out_dir / "hf_dinov3_p16.safetensors")
        for s in SIZES_16:
            expected[f"hf_cls_{s}"] = hm(pixel_values=inputs(s)).pooler_output

        # 4. RAD-DINO-shaped Dinov2Model (microsoft/rad-dino is a Dinov2Model ViT-B/14 at 518 px,
        #    no registers); trained grid 4x4, Hub (transformers 4.x) key names.
        rcfg = Dinov2Config(hidden_size=DIM, num_hidden_layers=DEPTH, num_attention_heads=HEADS, mlp_ratio=4,
                            image_size=56, patch_size=14, layerscale_value=1.0, layer_norm_eps=1e-6,
                            hidden_act="gelu", qkv_bias=True, use_swiglu_ffn=False)
        rm = randomize(Dinov2Model(rcfg), seed=14)
        names = [("attention.q_proj", "attention.attention.query"), ("attention.k_proj", "attention.attention.key"),
                 ("attention.v_proj", "attention.attention.value"), ("attention.o_proj", "attention.output.dense")]
        rsd = {}
        for k, v in rm.state_dict().items():
            for a, b in names:
                k = k.replace(a, b)
            rsd[k] = v
        save_file(contiguous(rsd), out_dir / "hf_raddino_p14_g4.safetensors")
        for s in SIZES_14:
            expected[f"raddino_cls_{s}"] = rm(pixel_values=inputs(s)).pooler_output

    doc = {
        "generator": "scripts/gen_tiny_dinov3.py",
        "inputs": "x[b,c,i,j] = ((b*7919 + c*104729 + i*613 + j*2999) % 1009) / 1008, shape [2,3,S,S]",
        "outputs": {k: {"shape": list(v.shape), "data": [float(x) for x in v.flatten()]}
                    for k, v in expected.items()},
    }
    (out_dir / "dinov3_expected.json").write_text(json.dumps(doc, indent=1) + "\n")
    print("wrote", sorted(p.name for p in out_dir.iterdir() if "dinov3" in p.name or "raddino" in p.name))


def check_export(weights: Path):
    """timm.create_model + strict load_state_dict of a Rust DINOv3 export; logits vs Rust's."""
    side = json.load(open(weights.with_suffix(".json")))
    model = timm.create_model(side["timm_model_name"], pretrained=False, **side["timm_kwargs"])
    model.load_state_dict(load_file(str(weights)))  # strict=True: every key must match
    model.eval()
    rust = json.load(open(weights.with_suffix(".logits.json")))
    worst = 0.0
    with torch.no_grad():
        for s, want in rust.items():
            got = model(inputs(int(s)))
            worst = max(worst, (got - torch.tensor(want)).abs().max().item())
    print(f"timm.create_model({side['timm_model_name']!r}, **{side['timm_kwargs']}) + load_state_dict "
          f"(strict): OK; max |timm logits - Rust logits| = {worst:.3e} at sizes {sorted(rust)}")
    assert worst < 1e-4, worst


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(Path(sys.argv[2]))
    else:
        generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/fixtures/model"))
