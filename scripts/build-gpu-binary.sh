#!/usr/bin/env bash
# Builds the cxr-train that scripts/gpu-check.sh runs on a GPU machine: `--release --features
# cuda`, bound to CUDA 13.0 (driver 580; CUDARC_CUDA_VERSION picks the cudarc bindings when no
# nvcc is present at build time), stripped of symbols, then xz-compressed so it travels inside a
# 64 MiB limit. Output: .gpu/cxr-train and .gpu/cxr-train.xz (git-ignored). It shares the release
# build's dependencies; a clean build takes about 30 min on 2 cores. The same binary runs on the
# CPU (`--device cpu`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
cargo build --release --features cuda --locked --bin cxr-train
mkdir -p .gpu
cp "${CARGO_TARGET_DIR:-target}/release/cxr-train" .gpu/cxr-train
strip .gpu/cxr-train
xz -9 -T0 -kf .gpu/cxr-train
ls -l .gpu/cxr-train .gpu/cxr-train.xz
