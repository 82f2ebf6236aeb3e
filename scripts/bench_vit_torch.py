#!/usr/bin/env python3
"""PyTorch/timm baseline for `cxr-train bench`: the same full training step (forward,
pos-weighted BCE-with-logits on random multi-label targets, backward, AdamW) on the same input
path (8-bit grey batch uploaded as uint8, converted to f32 [0, 1] RGB on the device), after
warm-up steps, timing `--steps` steps between two device syncs.

One configuration:
  python3 scripts/bench_vit_torch.py --model vit_base_patch16_224 --batch 32 --device cuda --bf16
Several in one process (torch and CUDA start once; peak memory is reset between them):
  python3 scripts/bench_vit_torch.py --device cuda \
      --config vit_base_patch16_224:128:bf16 --config vit_base_patch16_224:128:tf32

A configuration is MODEL:BATCH:PRECISION with PRECISION one of
- bf16: the step under torch.autocast(bfloat16) with f32 weights and optimizer (what
  `cxr-train bench --precision bf16` does);
- tf32: f32 with TF32 matmuls/convolutions allowed (burn's f32 matmuls on NVIDIA tensor cores
  are TF32, so this is the fair f32 baseline; reported as "f32(tf32)", cxr-train's name);
- f32: IEEE f32 (the CPU's only f32).
MODEL is a timm name (vit_base_patch16_224, vit_base_patch14_dinov2, vit_base_patch16_dinov3
where this timm has it), `tiny` (cxr's 2-block, 24-wide test ViT: 32 px, patch 8, 2 heads;
`ViTConfig::vit_tiny_test`) or `tiny_dinov3` (`ViTConfig::vit_tiny_dinov3_test`), so the CPU dry
run of scripts/gpu-check.sh pairs like with like.

Prints one JSON line per configuration in `cxr-train bench`'s format, flushed as each ends; a
configuration that fails prints a line with "error" and the others still run. Exit 1 when any
failed. Tested with torch 2.11 / timm 1.0 (GPU) and torch 2.15 (CPU).
"""

import argparse
import gc
import json
import sys
import time

import timm
import torch

NUM_CLASSES = 14  # cxr::train::bench::BENCH_CLASSES
PRECISIONS = ("bf16", "tf32", "f32")


def set_tf32(enabled: bool) -> None:
    """TF32 matmuls and convolutions on or off: torch >= 2.9's fp32_precision API where it exists
    (mixing it with the legacy allow_tf32 flags is refused there), else the legacy flags."""
    if hasattr(torch.backends, "fp32_precision"):
        mode = "tf32" if enabled else "ieee"
        torch.backends.cuda.matmul.fp32_precision = mode
        torch.backends.cudnn.conv.fp32_precision = mode
    else:
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = enabled


def build_model(name: str, size: int) -> torch.nn.Module:
    """The timm model `name` with a 14-output head, random weights, at `size` px."""
    if name == "tiny":
        from timm.models.vision_transformer import VisionTransformer

        return VisionTransformer(img_size=size, patch_size=8, embed_dim=24, depth=2, num_heads=2,
                                 num_classes=NUM_CLASSES)
    if name == "tiny_dinov3":  # ViTConfig::vit_tiny_dinov3_test, as scripts/gen_tiny_dinov3.py builds it
        return timm.create_model("vit_base_patch16_dinov3", pretrained=False, embed_dim=16, depth=2,
                                 num_heads=2, num_classes=NUM_CLASSES, img_size=size, global_pool="token")
    kwargs = {} if name == "vit_base_patch16_224" and size == 224 else {"img_size": size}
    if "dinov3" in name:
        kwargs["global_pool"] = "token"  # cxr's head reads the final-norm class token
    return timm.create_model(name, pretrained=False, num_classes=NUM_CLASSES, **kwargs)


def bench(model_name: str, batch: int, precision: str, a: argparse.Namespace) -> dict:
    """Times one configuration; returns its JSON record."""
    dev = torch.device(a.device)
    size = a.size if a.size else (32 if model_name == "tiny" else 224)
    tf32 = precision == "tf32"
    bf16 = precision == "bf16"
    set_tf32(tf32)
    torch.manual_seed(0)
    model = build_model(model_name, size).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0, eps=1e-8)
    grey = torch.randint(0, 256, (batch, 1, size, size), dtype=torch.uint8)
    if dev.type == "cuda":
        grey = grey.pin_memory()
    y = (torch.rand(batch, NUM_CLASSES) > 0.5).float().to(dev)
    pos_weight = torch.ones(NUM_CLASSES, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step() -> torch.Tensor:
        x = grey.to(dev, non_blocking=True).float().div_(255.0).expand(-1, 3, -1, -1)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            logits.float(), y, pos_weight=pos_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    t = time.perf_counter()
    for _ in range(a.warmup):
        step()
    sync()
    warmup_s = time.perf_counter() - t
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    total = torch.zeros((), device=dev)
    for _ in range(a.steps):
        total += step()
    sync()
    secs = time.perf_counter() - t
    step_s = secs / a.steps
    loss_mean = float(total) / a.steps
    peak = torch.cuda.max_memory_reserved() if dev.type == "cuda" else None
    return {
        "bench": "train_step", "model": model_name, "backend": f"torch {torch.__version__}",
        "device": a.device, "precision": "f32(tf32)" if tf32 else precision,
        "finetune": "full", "batch": batch, "image_size": size,
        "warmup_steps": a.warmup, "warmup_s": round(warmup_s, 3), "steps": a.steps,
        "step_s": round(step_s, 5), "images_per_s": round(batch / step_s, 2),
        "peak_memory_bytes": peak, "memory_source": "torch max_memory_reserved" if peak else None,
        "loss_mean": loss_mean, "finite": loss_mean == loss_mean and abs(loss_mean) != float("inf"),
        "threads": torch.get_num_threads(),
    }


def parse_config(text: str) -> tuple:
    parts = text.split(":")
    if len(parts) != 3 or parts[2] not in PRECISIONS or not parts[1].isdigit():
        raise argparse.ArgumentTypeError(
            f"config {text!r}: expected MODEL:BATCH:PRECISION, PRECISION one of {PRECISIONS}")
    return parts[0], int(parts[1]), parts[2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=parse_config, action="append", default=[],
                    help="MODEL:BATCH:PRECISION (repeatable); overrides --model/--batch/--bf16/--tf32")
    ap.add_argument("--model", default="vit_base_patch16_224")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--size", type=int, default=None, help="input side (default 224; tiny: 32)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="autocast bfloat16 (f32 master weights)")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 matmuls and convolutions")
    a = ap.parse_args()
    configs = a.config or [(a.model, a.batch, "bf16" if a.bf16 else ("tf32" if a.tf32 else "f32"))]
    failed = 0
    for model_name, batch, precision in configs:
        try:
            record = bench(model_name, batch, precision, a)
        except Exception as e:  # one failed configuration must not hide the others
            failed += 1
            record = {"bench": "train_step", "model": model_name, "batch": batch,
                      "precision": "f32(tf32)" if precision == "tf32" else precision,
                      "device": a.device, "backend": f"torch {torch.__version__}",
                      "error": f"{type(e).__name__}: {e}"[:500]}
        print(json.dumps(record), flush=True)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
