#!/usr/bin/env python3
"""PyTorch/timm baseline for `cargo bench --bench vit_throughput`: the same measurements
(inference forward; forward + backward of BCE-with-logits on random multi-label targets, no
optimizer) for ViT-B/16 at 224 px, on CPU or CUDA, fp32 (and bf16 autocast on CUDA).

Usage: python3 scripts/bench_vit_torch.py [--batch 8] [--iters 2] [--device cpu|cuda] [--bf16]
Prints JSON lines in the Rust bench's format. Tested with torch 2.15.0, timm 1.0.31.
"""

import argparse
import json
import time

import timm
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--bf16", action="store_true")
    a = ap.parse_args()
    dev = torch.device(a.device)
    model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=14).to(dev)
    x = torch.rand(a.batch, 3, 224, 224, device=dev)
    y = (torch.rand(a.batch, 14, device=dev) > 0.5).float()
    ctx = (lambda: torch.autocast(a.device, dtype=torch.bfloat16)) if a.bf16 else torch.enable_grad

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def run(kind):
        def step():
            if kind == "forward":
                with torch.no_grad(), (torch.autocast(a.device, dtype=torch.bfloat16) if a.bf16 else torch.enable_grad()):
                    model(x)
            else:
                model.zero_grad(set_to_none=True)
                with ctx():
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
                loss.backward()
            sync()
        for _ in range(a.warmup):
            step()
        times = []
        for _ in range(a.iters):
            t = time.perf_counter()
            step()
            times.append(time.perf_counter() - t)
        mean = sum(times) / len(times)
        print(json.dumps({"bench": kind, "model": "b16", "device": f"torch-{a.device}{'-bf16' if a.bf16 else ''}", "batch": a.batch,
                          "iters": a.iters, "mean_s": round(mean, 4), "best_s": round(min(times), 4),
                          "img_per_s": round(a.batch / mean, 2), "threads": torch.get_num_threads()}))

    model.eval()
    run("forward")
    model.train()
    run("forward_backward")


if __name__ == "__main__":
    main()
