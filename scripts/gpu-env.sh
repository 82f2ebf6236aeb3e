#!/usr/bin/env bash
# Finds what a CUDA run of cxr-train needs and says what is missing; never fails the caller.
# Usage: eval "$(scripts/gpu-env.sh PYTHON ROOT ENV_TXT)"  (scripts/gpu-check.sh does this)
# Writes its findings to ENV_TXT and prints, for eval, `export` lines: LD_LIBRARY_PATH (a folder
# of links naming the chosen NVRTC `libnvrtc.so` and NCCL `libnccl.so`, cudarc's first names;
# the chosen NVRTC's own folder, for its builtins; libcuda's folder), CUDA_PATH (the first folder
# whose include/ has every header cubecl's kernels include, else the carried
# .gpu/cuda13-include.tar.xz unpacked), CUDA_CACHE_MAXSIZE, GPU_ENV_PROBLEMS (one line).
#
# What cubecl-cuda 0.10 / cudarc 0.19 load (../shared/reference/gpu-first-run.md §2):
# - libcuda.so(.1) by name: the loader path, /usr/local/nvidia/lib64 on the device machines;
# - NVRTC as libnvrtc.so, then libnvrtc.so.13 (the binary is bound to CUDA 13.0). An NVRTC newer
#   than the driver's CUDA writes PTX the driver refuses, so the newest one not newer than the
#   driver is chosen, by nvrtcVersion;
# - headers from $CUDA_PATH/include (+ include/cccl): cuda_runtime.h, cuda_bf16.h, crt/*,
#   cooperative_groups, CCCL's cuda/barrier (cuda.h is never included).
PY=${1:-python3}; ROOT=${2:-.}; ENV_TXT=${3:-/dev/stderr}
exec 3>&1 >> "$ENV_TXT" 2>&1
emit() { printf 'export %s=%q\n' "$1" "$2" >&3; }
problems=()
EXTRA=$(mktemp -d /tmp/cxr-gpu-libs.XXXX)

echo "--- GPU"
timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader || echo "nvidia-smi: not available"
DRV_CUDA=$(timeout 20 nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | awk '{print $3}')
echo "driver's CUDA version: ${DRV_CUDA:-unknown}"

# Python's view: the pip wheels' library folders (nvidia-cuda-nvrtc, nvidia-nccl-cu13, …).
PIP_ROOTS=$(timeout 30 "$PY" -c "import nvidia; print('\n'.join(nvidia.__path__))" 2>/dev/null)
PIP_LIBS=$(for r in $PIP_ROOTS; do ls -d "$r"/*/lib 2>/dev/null; done)
PIP_INCS=$(for r in $PIP_ROOTS; do ls -d "$r"/*/include 2>/dev/null; done)

echo "--- libcuda"
LIBCUDA=$(ldconfig -p 2>/dev/null | grep -o '/[^ ]*libcuda\.so\.1$' | head -1)
if [ -z "$LIBCUDA" ]; then
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/wsl/lib; do
    [ -e "$d/libcuda.so.1" ] && LIBCUDA=$d/libcuda.so.1 && break
  done
fi
if [ -n "$LIBCUDA" ]; then echo "libcuda: $LIBCUDA"; else echo "MISSING libcuda.so.1"; problems+=("no libcuda"); fi

echo "--- NVRTC (candidates, version by nvrtcVersion)"
nvrtc_version() {
  "$PY" -c "
import ctypes, sys
l = ctypes.CDLL(sys.argv[1]); a = ctypes.c_int(); b = ctypes.c_int()
l.nvrtcVersion(ctypes.byref(a), ctypes.byref(b)); print(f'{a.value}.{b.value}')" "$1" 2>/dev/null ||
  basename "$1" | sed -n 's/^libnvrtc\.so\.\([0-9]*\)\(\.[0-9]*\)\{0,1\}.*/\1\2/p'
}
BEST=""; BEST_V=""
for d in ${CUDA_PATH:+$CUDA_PATH/lib64} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /opt/cuda/lib64 $PIP_LIBS; do
  for f in "$d"/libnvrtc.so.[0-9]*; do
    [ -e "$f" ] || continue
    case $f in *builtins*|*alt*) continue ;; esac
    v=$(nvrtc_version "$f"); echo "  $f: ${v:-?}"
    [ -n "$v" ] || continue
    major=${v%%.*}
    [ "$major" = 13 ] || continue
    if [ -n "$DRV_CUDA" ] && [ "$(printf '%s\n%s\n' "$v" "$DRV_CUDA" | sort -V | tail -1)" != "$DRV_CUDA" ]; then
      continue  # newer than the driver
    fi
    if [ -z "$BEST_V" ] || [ "$(printf '%s\n%s\n' "$v" "$BEST_V" | sort -V | tail -1)" = "$v" ] && [ "$v" != "$BEST_V" ]; then
      BEST=$f; BEST_V=$v
    fi
  done
done
if [ -n "$BEST" ]; then
  echo "NVRTC chosen: $BEST ($BEST_V; driver CUDA ${DRV_CUDA:-unknown})"
  ln -sf "$BEST" "$EXTRA/libnvrtc.so"; ln -sf "$BEST" "$EXTRA/libnvrtc.so.13"
else
  echo "NO usable NVRTC 13.x not newer than the driver's CUDA ${DRV_CUDA:-?}"; problems+=("no NVRTC 13.x <= driver CUDA")
fi

echo "--- CUDA headers (cuda_runtime.h, cuda_bf16.h, crt/host_config.h, cuda/barrier in include/ or include/cccl/)"
complete() {  # folder whose include/ holds everything
  local i=$1/include
  [ -f "$i/cuda_runtime.h" ] && [ -f "$i/cuda_bf16.h" ] && [ -f "$i/crt/host_config.h" ] &&
    { [ -f "$i/cccl/cuda/barrier" ] || [ -f "$i/cuda/barrier" ]; }
}
NVCC_ROOT=$(command -v nvcc >/dev/null 2>&1 && dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
HDR=""
for c in ${CUDA_PATH:-} /usr/local/cuda /opt/cuda $NVCC_ROOT $(for i in $PIP_INCS; do dirname "$i"; done); do
  [ -d "$c/include" ] || continue
  if complete "$c"; then echo "  $c: complete"; [ -z "$HDR" ] && HDR=$c
  else echo "  $c: incomplete"; fi
done
if [ -z "$HDR" ] && [ -f "$ROOT/.gpu/cuda13-include.tar.xz" ]; then
  mkdir -p /tmp/cxr-cuda13
  if (command -v xz >/dev/null && xz -dc "$ROOT/.gpu/cuda13-include.tar.xz" ||
      "$PY" -c "import lzma,sys,shutil; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)" "$ROOT/.gpu/cuda13-include.tar.xz") |
     tar -x -C /tmp/cxr-cuda13 && complete /tmp/cxr-cuda13; then
    HDR=/tmp/cxr-cuda13; echo "  using the carried headers: $HDR (CUDA 13.0 runtime/crt/cccl wheels)"
  fi
fi
if [ -n "$HDR" ]; then echo "CUDA_PATH chosen: $HDR"; else echo "NO complete CUDA header folder"; problems+=("no CUDA headers"); fi

echo "--- NCCL (only for several GPUs)"
for d in $PIP_LIBS; do
  for f in "$d"/libnccl.so.*; do [ -e "$f" ] && ln -sf "$f" "$EXTRA/libnccl.so" && echo "libnccl.so -> $f"; done
done

LD=$EXTRA${BEST:+:$(dirname "$BEST")}${LIBCUDA:+:$(dirname "$LIBCUDA")}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
echo "LD_LIBRARY_PATH=$LD"
emit LD_LIBRARY_PATH "$LD"
[ -n "$HDR" ] && emit CUDA_PATH "$HDR"
emit CUDA_CACHE_MAXSIZE 4294967296

# The whole chain once, without cxr: NVRTC compiles a kernel with cubecl's includes and options
# for this GPU, and the driver loads its PTX (an NVRTC newer than the driver fails here).
# Without a driver only the compile is tried.
if [ -n "$BEST" ] && [ -n "$HDR" ]; then
  echo "--- NVRTC compile + driver PTX load probe"
  LD_LIBRARY_PATH=$LD timeout 60 "$PY" "$ROOT/scripts/nvrtc_probe.py" "$BEST" "${LIBCUDA:--}" "$HDR/include" ||
    problems+=("NVRTC/driver probe failed (see env.txt)")
fi
P=$(IFS=';'; echo "${problems[*]}")
echo "problems: ${P:-none}"
emit GPU_ENV_PROBLEMS "${P:-none}"
exit 0
