#!/usr/bin/env python3
"""PyTorch/timm baseline for `cxr-train bench`: the same full training step (forward,
pos-weighted BCE-with-logits on random multi-label targets, backward, AdamW) on the same input
path (8-bit grey batch uploaded as uint8, converted to f32 [0, 1] RGB on the device), after
warm-up steps, timing `--steps` steps between two device syncs.

  python3 scripts/bench_vit_torch.py --model vit_base_patch16_224 --batch 32 --device cuda --bf16
  python3 scripts/bench_vit_torch.py --model vit_base_patch14_dinov2 --batch 128 --device cuda --tf32

--tf32 allows TF32 matmuls/convolutions (burn's f32 matmuls on NVIDIA tensor cores are TF32, so
this is the fair f32 baseline); --bf16 runs the step under torch.autocast(bfloat16) with f32
weights and optimizer (what `--precision bf16` does). Prints one JSON line in `cxr-train bench`'s
format. Tested with torch 2.11 / timm 1.0 (GPU) and torch 2.15 (CPU).
"""

import argparse
import json
import time

import timm
import torch

NUM_CLASSES = 14  # cxr::train::bench::BENCH_CLASSES


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="vit_base_patch16_224",
                    choices=["vit_base_patch16_224", "vit_base_patch14_dinov2"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true", help="autocast bfloat16 (f32 master weights)")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 matmuls and convolutions")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    torch.manual_seed(0)
    kwargs = {"img_size": a.size} if a.model == "vit_base_patch14_dinov2" else {}
    model = timm.create_model(a.model, pretrained=False, num_classes=NUM_CLASSES, **kwargs).to(dev)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0, eps=1e-8)
    grey = torch.randint(0, 256, (a.batch, 1, a.size, a.size), dtype=torch.uint8)
    if dev.type == "cuda":
        grey = grey.pin_memory()
    y = (torch.rand(a.batch, NUM_CLASSES) > 0.5).float().to(dev)
    pos_weight = torch.ones(NUM_CLASSES, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step() -> torch.Tensor:
        x = grey.to(dev, non_blocking=True).float().div_(255.0).expand(-1, 3, -1, -1)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.bf16):
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
    precision = "bf16" if a.bf16 else ("f32-tf32" if a.tf32 else "f32")
    peak = torch.cuda.max_memory_reserved() if dev.type == "cuda" else None
    print(json.dumps({
        "bench": "train_step", "model": a.model, "backend": f"torch {torch.__version__}",
        "device": a.device, "precision": precision, "batch": a.batch, "image_size": a.size,
        "warmup_steps": a.warmup, "warmup_s": round(warmup_s, 3), "steps": a.steps,
        "step_s": round(step_s, 5), "images_per_s": round(a.batch / step_s, 2),
        "peak_memory_bytes": peak, "memory_source": "torch max_memory_reserved" if peak else None,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
