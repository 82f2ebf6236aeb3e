#!/usr/bin/env bash
# Builds the cxr-train that scripts/gpu-check.sh runs on a GPU machine: release, stripped
# (`[profile.gpu]`), `--features cuda`, bound to CUDA 13.0 (driver 580; CUDARC_CUDA_VERSION
# picks the cudarc bindings when no nvcc is present at build time), then xz-compressed so it
# travels inside a 64 MiB limit. Output: .gpu/cxr-train and .gpu/cxr-train.xz (git-ignored).
# A clean build takes about 30 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
cargo build --profile gpu --features cuda --locked --bin cxr-train
mkdir -p .gpu
dir=${CARGO_TARGET_DIR:-target}/gpu
cp "$dir/cxr-train" .gpu/cxr-train
xz -9 -T0 -kf .gpu/cxr-train
ls -l .gpu/cxr-train .gpu/cxr-train.xz
