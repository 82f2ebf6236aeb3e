#!/usr/bin/env bash
# One prepared GPU check of cxr-train, in under 8 minutes on one NVIDIA GPU (H100/H200 class):
#   1. environment: driver, NVRTC, CUDA headers, NCCL (what is missing, and the fix)
#   2. cxr-train bench --parity: GPU vs CPU, fused vs unfused, f32 and bf16 (stops on failure)
#   3. images/s of a full training step, burn vs PyTorch (timm), ViT-B/16 and DINOv2 ViT-B/14,
#      batch 32 and 128, f32 (TF32) and bf16, with peak GPU memory; then burn alone at 512 px
#      (bf16, batch 32): ViT-B/16 full, LoRA and linear probe, DINOv3 ViT-B/16 full
#   4. cxr-train demo on the GPU with a real ViT-B/16 at 224 px, one epoch per cell
#   5. a bf16 fit killed with SIGKILL after its first epoch, then --resume
#   6. summary.md: one markdown table of everything above
#
# Usage: scripts/gpu-check.sh OUT_DIR [CXR_TRAIN]
#   CXR_TRAIN: a cxr-train built with --features cuda (default: .gpu/cxr-train, unpacked from
#   .gpu/cxr-train.xz if needed; scripts/build-gpu-binary.sh makes both).
# Environment: GPU_CHECK_QUICK=1 halves the timed steps; PYTHON (default python3) must have
# torch + timm for the baseline (skipped with a note otherwise).
# Writes at most 8 files into OUT_DIR (env.txt, parity.jsonl, bench.jsonl, torch.jsonl, demo.log,
# resume.log, summary.md): the device tool brings back 8 files.
set -uo pipefail
OUT=${1:?usage: scripts/gpu-check.sh OUT_DIR [CXR_TRAIN]}
BIN=${2:-.gpu/cxr-train}
PY=${PYTHON:-python3}
STEPS=10
[ "${GPU_CHECK_QUICK:-0}" = 1 ] && STEPS=5
mkdir -p "$OUT"
cd "$(dirname "$0")/.." || exit 2
T0=$(date +%s)
say() { echo "[gpu-check $(( $(date +%s) - T0 ))s] $*" >&2; }

if [ ! -x "$BIN" ] && [ -f "$BIN.xz" ]; then
  xz -dkf "$BIN.xz" && chmod +x "$BIN"
fi
[ -x "$BIN" ] || { echo "no cxr-train binary at $BIN (build one with scripts/build-gpu-binary.sh)" >&2; exit 2; }

# ---- 1. environment ------------------------------------------------------------------------
# NVRTC and NCCL often come as pip wheels (nvidia-cuda-nvrtc, nvidia-nccl-cu13): add their lib
# folders, and give NCCL the `libnccl.so` name cudarc loads (it does not try `libnccl.so.2`).
EXTRA=$(mktemp -d)
PIPLIBS=$($PY - <<'PY' 2>/dev/null
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
dirs = set()
for r in roots:
    for pat in ("*/lib/libnvrtc.so*", "*/lib/libnccl.so*", "cu*/lib/libnvrtc.so*", "cu*/lib/libnccl.so*"):
        for f in glob.glob(os.path.join(r, pat)):
            dirs.add(os.path.dirname(f))
print(":".join(sorted(dirs)))
PY
)
for d in ${PIPLIBS//:/ }; do
  for f in "$d"/libnccl.so.*; do [ -e "$f" ] && ln -sf "$f" "$EXTRA/libnccl.so"; done
  for f in "$d"/libnvrtc.so.*; do [ -e "$f" ] && [ ! -e "$d/libnvrtc.so" ] && ln -sf "$f" "$EXTRA/libnvrtc.so"; done
done
export LD_LIBRARY_PATH="$EXTRA:${PIPLIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "${CUDA_PATH:-}" ]; then
  for c in /usr/local/cuda /opt/cuda; do [ -f "$c/include/cuda.h" ] && export CUDA_PATH=$c && break; done
fi
{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
  echo "CUDA_PATH=${CUDA_PATH:-unset}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  command -v nvcc >/dev/null && nvcc --version | tail -1
  $PY -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available())" 2>&1
  "$BIN" --version
} > "$OUT/env.txt" 2>&1
ENV_OK=1
for lib in libcuda.so.1 libnvrtc.so libnccl.so; do
  found=$( (ldconfig -p 2>/dev/null | grep -o "/[^ ]*$lib[^ ]*" | head -1; for d in ${LD_LIBRARY_PATH//:/ }; do ls "$d"/$lib* 2>/dev/null; done) | head -1)
  if [ -n "$found" ]; then echo "found $lib: $found" >> "$OUT/env.txt"; else echo "MISSING $lib" >> "$OUT/env.txt"; [ $lib != libnccl.so ] && ENV_OK=0; fi
done
if [ -n "${CUDA_PATH:-}" ] && [ -f "$CUDA_PATH/include/cuda_bf16.h" ]; then echo "found CUDA headers: $CUDA_PATH/include" >> "$OUT/env.txt"
else echo "MISSING CUDA headers (cuda.h, cuda_bf16.h): set CUDA_PATH" >> "$OUT/env.txt"; ENV_OK=0; fi
cat "$OUT/env.txt" >&2
[ $ENV_OK = 1 ] || { say "environment incomplete (see env.txt); stopping"; exit 2; }

# ---- 2. parity ---------------------------------------------------------------------------
say "parity (tiny and ViT-B/16, GPU vs CPU, fused vs unfused)"
: > "$OUT/parity.jsonl"
PARITY_OK=1
for m in tiny vit_base_patch16_224; do
  timeout 240 "$BIN" bench --parity --model $m --batch 4 --device cuda:0 >> "$OUT/parity.jsonl" || PARITY_OK=0
done
if [ $PARITY_OK = 0 ]; then
  say "PARITY FAILED (see parity.jsonl): not timing a wrong backend. Try a cuda-base build."
fi

# ---- 3. throughput: burn vs PyTorch --------------------------------------------------------
: > "$OUT/bench.jsonl"; : > "$OUT/torch.jsonl"
if [ $PARITY_OK = 1 ]; then
  for m in vit_base_patch16_224 vit_base_patch14_dinov2; do
    for b in 32 128; do
      for p in f32 bf16; do
        say "burn $m batch $b $p"
        timeout 150 "$BIN" bench --model $m --batch $b --precision $p --steps $STEPS --warmup 3 --device cuda:0 >> "$OUT/bench.jsonl" \
          || echo "{\"bench\":\"train_step\",\"model\":\"$m\",\"batch\":$b,\"precision\":\"$p\",\"error\":\"failed or timed out\"}" >> "$OUT/bench.jsonl"
        flag=$([ $p = bf16 ] && echo --bf16 || echo --tf32)
        say "torch $m batch $b $p"
        timeout 90 $PY scripts/bench_vit_torch.py --model $m --batch $b $flag --steps $STEPS --warmup 3 --device cuda >> "$OUT/torch.jsonl" 2>>"$OUT/env.txt" \
          || echo "{\"bench\":\"train_step\",\"model\":\"$m\",\"batch\":$b,\"precision\":\"$p\",\"error\":\"torch baseline failed\"}" >> "$OUT/torch.jsonl"
      done
    done
  done
fi

# ---- 3b. the follow-up's matrix: 512 px, DINOv3, fine-tuning modes (burn only) -------------
if [ $PARITY_OK = 1 ]; then
  for spec in "vit_base_patch16_224 full" "vit_base_patch16_224 lora" "vit_base_patch16_224 linear" "vit_base_patch16_dinov3 full"; do
    set -- $spec
    say "burn $1 512 px batch 32 bf16 --finetune $2"
    timeout 120 "$BIN" bench --model $1 --size 512 --batch 32 --precision bf16 --finetune $2 --steps $STEPS --warmup 3 --device cuda:0 >> "$OUT/bench.jsonl" \
      || echo "{\"bench\":\"train_step\",\"model\":\"$1\",\"image_size\":512,\"finetune\":\"$2\",\"batch\":32,\"precision\":\"bf16\",\"error\":\"failed or timed out\"}" >> "$OUT/bench.jsonl"
  done
fi

# ---- 4. the demo on the GPU with a real ViT-B -------------------------------------------
DEMO=$(mktemp -d)/demo
DEMO_RC=skipped
if [ $PARITY_OK = 1 ]; then
  say "demo: real ViT-B/16 at 224 px, one epoch per cell, bf16"
  timeout 200 "$BIN" demo --out "$DEMO" --n 96 --size 224 --model vit_base_patch16_224 --epochs 1 \
    --bootstrap 100 --batch 32 --lr 1e-4 --precision bf16 --device cuda:0 --quiet > "$OUT/demo.log" 2>&1
  DEMO_RC=$?
fi

# ---- 5. SIGKILL + resume of a bf16 fit -----------------------------------------------------
RESUME=skipped
if [ -d "$DEMO/store" ]; then
  RUN=$(mktemp -d)/fit
  say "bf16 fit, SIGKILL after epoch 1, --resume"
  "$BIN" fit --store "$DEMO/store" --dataset nih --init random --model vit_base_patch16_224 --epochs 3 \
    --batch 32 --lr 1e-4 --precision bf16 --device cuda:0 --quiet --out "$RUN" > "$OUT/resume.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 240); do grep -q " epoch 1:" "$RUN/train.log" 2>/dev/null && break; kill -0 $PID 2>/dev/null || break; sleep 0.5; done
  kill -9 $PID 2>/dev/null; wait $PID 2>/dev/null
  echo "--- killed after: $(grep -c ' epoch [0-9]*:' "$RUN/train.log" 2>/dev/null) epoch(s)" >> "$OUT/resume.log"
  timeout 120 "$BIN" fit --resume --quiet --out "$RUN" >> "$OUT/resume.log" 2>&1
  EPOCHS=$($PY -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$RUN/metrics.json" 2>/dev/null || echo 0)
  PREC=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['config']['precision'])" "$RUN/config.json" 2>/dev/null || echo "?")
  RESUME=$([ "$EPOCHS" = 3 ] && echo "ok: 3 epochs after resume, precision $PREC" || echo "FAILED: $EPOCHS epochs")
  echo "--- $RESUME" >> "$OUT/resume.log"
fi

# ---- 6. summary ----------------------------------------------------------------------------
$PY - "$OUT" "$PARITY_OK" "$DEMO_RC" "$RESUME" "$(( $(date +%s) - T0 ))" > "$OUT/summary.md" <<'PY'
import json, sys, os
out, parity_ok, demo_rc, resume, secs = sys.argv[1:6]
def lines(name):
    p = os.path.join(out, name)
    if not os.path.exists(p):
        return []
    rows = []
    for l in open(p):
        l = l.strip()
        if l.startswith("{"):
            try:
                rows.append(json.loads(l))
            except ValueError:
                pass
    return rows
env = open(os.path.join(out, "env.txt")).read().splitlines()
print("# cxr GPU check\n")
print("```text\n" + "\n".join(env[:3]) + "\n```\n")
print("## Parity (max relative error vs reference)\n")
print("| candidate | reference | quantity | max rel err | tolerance | ok |\n|---|---|---|---|---|---|")
for r in lines("parity.jsonl"):
    print(f"| {r['model']} {r['candidate']} | {r['reference']} | {r['quantity']} | {r['max_rel_err']:.2e} | {r['tolerance']:.0e} | {'yes' if r['pass'] else '**NO**'} |")
print("\n## Training step (forward + backward + AdamW), images/s\n")
print("| model | px | fine-tuning | batch | precision | burn img/s | PyTorch img/s | burn / PyTorch | burn TFLOP/s | burn warm-up s | burn peak GiB | PyTorch peak GiB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
# The PyTorch baseline times full fine-tuning at 224 px only.
torch = {(r.get("model"), 224, "full", r.get("batch"), "bf16" if r.get("precision") == "bf16" else "f32"): r for r in lines("torch.jsonl")}
gib = lambda b: f"{b / 2**30:.1f}" if isinstance(b, (int, float)) and b else "n/a"
for r in lines("bench.jsonl"):
    key = (r.get("model"), r.get("image_size", 224), r.get("finetune", "full"), r.get("batch"), r.get("precision", "bf16"))
    t = torch.get(key, {})
    b_ips, t_ips = r.get("images_per_s"), t.get("images_per_s")
    ratio = f"{b_ips / t_ips:.2f}x" if b_ips and t_ips else "n/a"
    f = lambda v, d=1: f"{v:.{d}f}" if isinstance(v, (int, float)) else (r.get("error") or "n/a")
    print(f"| {key[0]} | {key[1]} | {key[2]} | {key[3]} | {key[4]} | {f(b_ips)} | {f(t_ips) if t_ips else t.get('error', 'n/a')} | {ratio} | {f(r.get('tflops'))} | {f(r.get('warmup_s'))} | {gib(r.get('peak_memory_bytes'))} | {gib(t.get('peak_memory_bytes'))} |")
print("\n## End to end\n")
print(f"- parity: {'passed' if parity_ok == '1' else 'FAILED'}")
print(f"- demo (ViT-B/16, 224 px, bf16, 1 epoch per cell) exit code: {demo_rc}")
print(f"- bf16 fit killed with SIGKILL after epoch 1, resumed: {resume}")
print(f"- total {secs} s")
PY
cat "$OUT/summary.md"
[ $PARITY_OK = 1 ] && [ "$DEMO_RC" = 0 ] || exit 1
