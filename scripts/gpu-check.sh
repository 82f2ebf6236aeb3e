#!/usr/bin/env bash
# The prepared GPU check of cxr-train: one command, bounded by its own deadline, that returns its
# figures even when a step fails, hangs or the time runs out.
#
# Usage: scripts/gpu-check.sh OUT_DIR [--binary PATH] [--device cuda:0|cpu] [--deadline SECONDS]
#   --binary    a cxr-train built by scripts/build-gpu-binary.sh (default .gpu/cxr-train, unpacked
#               from PATH.xz when only that is there; xz, else Python's lzma)
#   --device    cuda:0 (default) or cpu: the same plan on the CPU with cxr's tiny test ViTs in place
#               of the ViT-Bs (tiny, tiny_dinov3; no DINOv2 cell), which is how CI proves the
#               orchestration, deadline and summary
#   --deadline  seconds from start by which the script has ended (default 540, for the device
#               tool's 570 s run; the machine's own start is not counted)
# Environment: PYTHON (default python3) with torch + timm for the PyTorch cells (skipped, named as
# such, without them); GPU_CHECK_STEPS / GPU_CHECK_WARMUP: timed / warm-up steps per cell
# (default 10 / 3; 3 / 1 on the CPU); GPU_CHECK_MIN_LEFT: a step is skipped when fewer seconds
# than this are left (default 45).
#
# Plan, ordered by value (../shared/reference/gpu-first-run.md §1.4). Every step has its own
# timeout, bounded by the time left; no step is gated on another's result:
#   1. environment (advisory, never fatal): driver, libcuda, NVRTC and its version, the headers
#      cubecl includes (else the carried .gpu/cuda13-include.tar.xz), NCCL, ldd of the binary
#   2. bench --parity, tiny ViT, batch 4: every configuration (fused/unfused x f32/bf16)
#   3. burn ViT-B/16 224 px batch 128 bf16: the headline cell; it pays most of the compilation
#   4. PyTorch (timm), one process: ViT-B/16 b128 bf16 and TF32, then the extras' baselines
#   5. burn ViT-B/16 b128 f32 (TF32 on tensor cores)
#   6. bench --parity, ViT-B/16, batch 2, fused backend only, f32 and bf16
#   7. extras while time remains: burn b32 bf16, DINOv2 ViT-B/14 b128 bf16, DINOv3 ViT-B/16 b128
#      bf16, ViT-B/16 b256 bf16 (the batch-size lever)
#   8. the CubeCL kernel/autotune cache, packed so a later run can start warm
#      (carry it as .gpu/cubecl-cache.tar.xz)
# The 512 px cells, the demo and SIGKILL/--resume are not here: they are GPU-independent logic,
# tested on the CPU (tests/it/resume.rs, tests/it/benchmark.rs).
#
# OUT_DIR receives at most 8 files (the device tool returns 8): summary.md (rewritten after every
# step: a step table with skipped / timeout (124) / failed apart, one row per cell with burn and
# PyTorch images/s, their ratio written 0.00x, peak memory, mean loss and parity's verdict),
# steps.tsv, env.txt, parity.jsonl, bench.jsonl, torch.jsonl, log.txt (every process's stderr,
# capped per step) and cubecl-cache.tar.xz.
set -uo pipefail

usage() { sed -n '4,10p' "$0" >&2; exit 2; }
OUT=${1:-}; [ -n "$OUT" ] && [ "${OUT#-}" = "$OUT" ] || usage
shift
BIN=.gpu/cxr-train; DEVICE=cuda:0; DEADLINE=540
while [ $# -gt 0 ]; do
  case $1 in
    --binary) BIN=${2:?}; shift 2 ;;
    --device) DEVICE=${2:?}; shift 2 ;;
    --deadline) DEADLINE=${2:?}; shift 2 ;;
    *) usage ;;
  esac
done
case $DEVICE in cpu|cuda|cuda:[0-9]*) ;; *) echo "--device: cpu or cuda:N, not $DEVICE" >&2; exit 2 ;; esac
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
PY=${PYTHON:-python3}
MIN_LEFT=${GPU_CHECK_MIN_LEFT:-45}
LOG_CAP=${GPU_CHECK_LOG_CAP:-400000}   # bytes of stderr kept per step
T0=$(date +%s)
if [ "$DEVICE" = cpu ]; then
  STEPS=${GPU_CHECK_STEPS:-3}; WARMUP=${GPU_CHECK_WARMUP:-1}
  VITB=tiny; DINOV2=; DINOV3=tiny_dinov3; PX=32; TORCH_F32=f32; TORCH_DEV=cpu
else
  STEPS=${GPU_CHECK_STEPS:-10}; WARMUP=${GPU_CHECK_WARMUP:-3}
  VITB=vit_base_patch16_224; DINOV2=vit_base_patch14_dinov2; DINOV3=vit_base_patch16_dinov3; PX=224
  TORCH_F32=tf32; TORCH_DEV=cuda
fi
: > "$OUT/log.txt"; : > "$OUT/parity.jsonl"; : > "$OUT/bench.jsonl"; : > "$OUT/torch.jsonl"
printf 'step\tkind\tstatus\trc\tseconds\tnote\n' > "$OUT/steps.tsv"

elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( DEADLINE - $(elapsed) )); }
say() { echo "[gpu-check $(elapsed)s] $*" | tee -a "$OUT/log.txt" >&2; }
# Appends stdin to log.txt up to LOG_CAP bytes, drains the rest (never SIGPIPEs the writer).
capped_log() {
  head -c "$LOG_CAP" >> "$OUT/log.txt"
  local more; more=$(wc -c)
  [ "$more" -gt 0 ] && echo "[... $more more bytes of this step's stderr dropped]" >> "$OUT/log.txt"
  return 0
}
summary() {
  if command -v "$PY" >/dev/null 2>&1 &&
     "$PY" "$ROOT/scripts/gpu_check_summary.py" "$OUT" "$DEVICE" "$DEADLINE" "$(elapsed)" > "$OUT/summary.md.tmp" 2>> "$OUT/log.txt"; then
    mv "$OUT/summary.md.tmp" "$OUT/summary.md"
  else  # no Python: the step table alone
    { echo "# cxr GPU check (no Python for the full summary)"; echo; echo '```text'; cat "$OUT/steps.tsv"; echo '```'; } > "$OUT/summary.md"
  fi
}
record() {  # name kind status rc seconds note
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" >> "$OUT/steps.tsv"
  summary
}
# step NAME KIND MAX_SECONDS STDOUT_FILE MIN_LEFT -- COMMAND...: runs COMMAND with a timeout of
# min(MAX_SECONDS, time left - 5), stdout appended to STDOUT_FILE, stderr to log.txt (capped);
# skipped when fewer than MIN_LEFT seconds are left. Records the outcome and rewrites summary.md.
step() {
  local name=$1 kind=$2 max=$3 out=$4 need=$5; shift 6
  local l; l=$(left)
  if [ "$l" -lt "$need" ]; then
    say "skip $name: ${l}s left (needs $need)"
    record "$name" "$kind" skipped "" 0 "${l}s left, needs ${need}s"
    return 0
  fi
  local t=$(( l - 5 < max ? l - 5 : max )); [ "$t" -ge 1 ] || t=1
  say "$name (timeout ${t}s): $*"
  local s; s=$(date +%s)
  timeout -k 5 "$t" "$@" >> "$out" 2> >(capped_log)
  local rc=$? secs=$(( $(date +%s) - s )) status
  case $rc in
    0) status=ok ;;
    124|137) status=timeout
       # A killed process can leave CubeCL cache locks that stall the next one for 30 s.
       find "$ROOT/target/cubecl" -name '*.lock' -delete 2>/dev/null ;;
    *) status=failed ;;
  esac
  say "$name: $status (exit $rc, ${secs}s)"
  record "$name" "$kind" "$status" "$rc" "$secs" "timeout ${t}s"
}
# One burn training-step cell: model px finetune batch precision [min_left]
burn_cell() {
  local m=$1 px=$2 ft=$3 b=$4 p=$5 max=$6 need=${7:-$MIN_LEFT}
  step "burn $m ${px}px $ft b$b $p" burn "$max" "$OUT/bench.jsonl" "$need" -- \
    "$BIN" bench --model "$m" --size "$px" --finetune "$ft" --batch "$b" --precision "$p" \
    --steps "$STEPS" --warmup "$WARMUP" --device "$DEVICE"
}

# ---- 1. environment (advisory) ---------------------------------------------------------------
unxz_to() {  # unxz_to FILE.xz DEST
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"
  else "$PY" -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$1" "$2"
  fi
}
if [ ! -x "$BIN" ] && [ -f "$BIN.xz" ]; then
  say "unpacking $BIN.xz"
  unxz_to "$BIN.xz" "$BIN.tmp" && chmod +x "$BIN.tmp" && mv "$BIN.tmp" "$BIN"
fi
if [ ! -x "$BIN" ]; then
  say "no cxr-train binary at $BIN (build one with scripts/build-gpu-binary.sh)"
  record environment env failed 2 "$(elapsed)" "no binary at $BIN"
  exit 2
fi
# A carried kernel/autotune cache from an earlier run: later processes start warm.
if [ -f "$ROOT/.gpu/cubecl-cache.tar.xz" ] && [ ! -d "$ROOT/target/cubecl" ]; then
  mkdir -p "$ROOT/target" && unxz_to "$ROOT/.gpu/cubecl-cache.tar.xz" /tmp/cubecl-cache.tar &&
    tar -xf /tmp/cubecl-cache.tar -C "$ROOT/target" && say "unpacked the carried CubeCL cache"
fi
ENV_T0=$(date +%s)
ENV_NOTE=""
if [ "$DEVICE" != cpu ]; then
  eval "$(timeout 60 bash "$ROOT/scripts/gpu-env.sh" "$PY" "$ROOT" "$OUT/env.txt" 2>> "$OUT/log.txt")"
  ENV_NOTE=${GPU_ENV_PROBLEMS:-}
fi
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
  echo "binary: $BIN"; timeout 20 "$BIN" --version 2>&1
  echo "glibc here: $(ldd --version 2>&1 | head -1)"
  echo "binary needs: $( (objdump -T "$BIN" 2>/dev/null || strings "$BIN" 2>/dev/null) | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  echo "--- ldd $BIN"; timeout 20 ldd "$BIN" 2>&1
  echo "--- python"
  timeout 60 "$PY" -c "import torch, timm; print('torch', torch.__version__, 'timm', timm.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tail -1
} >> "$OUT/env.txt" 2>&1
HAVE_TORCH=0
grep -q '^torch ' "$OUT/env.txt" && HAVE_TORCH=1
record environment env ok 0 $(( $(date +%s) - ENV_T0 )) "${ENV_NOTE:-advisory}"

# ---- 2-7. the plan ---------------------------------------------------------------------------
parity() {  # name model batch max need [extra args]
  local name=$1 m=$2 b=$3 max=$4 need=$5; shift 5
  step "$name" parity "$max" "$OUT/parity.jsonl" "$need" -- \
    "$BIN" bench --parity --model "$m" --batch "$b" --device "$DEVICE" "$@"
}
parity "parity tiny b4 (all configurations)" tiny 4 120 "$MIN_LEFT"
burn_cell "$VITB" $PX full 128 bf16 300
if [ $HAVE_TORCH = 1 ]; then
  step "torch (timm), one process" torch 150 "$OUT/torch.jsonl" "$MIN_LEFT" -- \
    env PYTHONUNBUFFERED=1 "$PY" "$ROOT/scripts/bench_vit_torch.py" --device "$TORCH_DEV" \
    --steps "$STEPS" --warmup "$WARMUP" --size "$PX" \
    --config "$VITB:128:bf16" --config "$VITB:128:$TORCH_F32" --config "$VITB:32:bf16" \
    ${DINOV2:+--config "$DINOV2:128:bf16"} --config "$DINOV3:128:bf16" --config "$VITB:256:bf16"
else
  say "skip torch: no torch + timm in $PY"
  record "torch (timm), one process" torch skipped "" 0 "no torch + timm in $PY"
fi
burn_cell "$VITB" $PX full 128 f32 200
parity "parity $VITB b2 (fused only)" "$VITB" 2 150 "$MIN_LEFT" --fused-only
burn_cell "$VITB" $PX full 32 bf16 150 90
[ -n "$DINOV2" ] && burn_cell "$DINOV2" $PX full 128 bf16 150 90  # no tiny DINOv2 stand-in on the CPU
burn_cell "$DINOV3" $PX full 128 bf16 150 90
burn_cell "$VITB" $PX full 256 bf16 150 90

# ---- 8. the kernel cache, for a warm start next time ---------------------------------------------
if [ -d "$ROOT/target/cubecl" ] && [ "$(left)" -gt 8 ]; then
  s=$(date +%s)
  if timeout $(( $(left) - 3 )) tar -C "$ROOT/target" -cJf "$OUT/cubecl-cache.tar.xz" cubecl 2>> "$OUT/log.txt"; then
    size=$(wc -c < "$OUT/cubecl-cache.tar.xz")
    if [ "$size" -gt 16000000 ]; then rm -f "$OUT/cubecl-cache.tar.xz"; note="$size bytes: over the 16 MB a file may have, dropped"
    else note="$size bytes"; fi
    record "kernel cache" cache ok 0 $(( $(date +%s) - s )) "$note"
  else
    rm -f "$OUT/cubecl-cache.tar.xz"; record "kernel cache" cache timeout 124 $(( $(date +%s) - s )) "no time to pack"
  fi
fi
say "done in $(elapsed)s (deadline ${DEADLINE}s)"
summary
cat "$OUT/summary.md" >&2
exit 0
