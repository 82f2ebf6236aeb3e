#!/usr/bin/env bash
# Builds what scripts/gpu-check.sh carries to a GPU machine, into .gpu/ (git-ignored):
# - .gpu/cxr-train.xz: cxr-train `--release --features cuda`, bound to CUDA 13.0 (driver 580;
#   CUDARC_CUDA_VERSION picks the cudarc bindings when no nvcc is present at build time),
#   stripped of symbols, xz-compressed so it travels inside the device tool's 64 MiB;
# - .gpu/cuda13-include.tar.xz: the CUDA 13.0 headers cubecl's kernels include (include/ of the
#   pip wheels nvidia-cuda-runtime 13.0.96, nvidia-cuda-crt 13.0.88, nvidia-cuda-cccl 13.0.85,
#   which NVRTC 13.0.88 compiled cubecl's include set with), for a machine whose toolkit lacks
#   any of them (`pip download` needs PyPI, so it is made here, not there).
# Only the .xz files are left: carry exactly `.gpu/cxr-train.xz` and `.gpu/cuda13-include.tar.xz`
# (the check unpacks the binary; `--keep` leaves the unpacked .gpu/cxr-train too). A clean build
# takes about 30 min on 2 cores; it shares the release build's dependencies. The same binary runs
# on the CPU (`--device cpu`).
set -euo pipefail
cd "$(dirname "$0")/.."
KEEP=0; [ "${1:-}" = --keep ] && KEEP=1
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
cargo build --release --features cuda --locked --bin cxr-train
mkdir -p .gpu
cp "${CARGO_TARGET_DIR:-target}/release/cxr-train" .gpu/cxr-train
strip .gpu/cxr-train
echo "highest glibc symbol version the binary needs: $(objdump -T .gpu/cxr-train | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
xz -9 -T0 -kf .gpu/cxr-train
[ $KEEP = 1 ] || rm .gpu/cxr-train

if [ ! -f .gpu/cuda13-include.tar.xz ]; then
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$tmp/whl" \
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-crt==13.0.88 nvidia-cuda-cccl==13.0.85
  for w in "$tmp"/whl/*.whl; do (cd "$tmp" && python3 -m zipfile -e "$w" x); done
  mkdir -p "$tmp/cuda13"
  mv "$tmp/x/nvidia/cu13/include" "$tmp/cuda13/include"
  tar -C "$tmp/cuda13" -cJf .gpu/cuda13-include.tar.xz include  # include/ at its top
  rm -rf "$tmp"
fi
ls -l .gpu/*.xz
