#!/usr/bin/env python3
"""The CUDA kernel chain cxr-train's GPU backend uses, tried once without cxr (ctypes only).

  python3 scripts/nvrtc_probe.py LIBNVRTC LIBCUDA|- INCLUDE_DIR [--arch sm_90a]

1. NVRTC compiles a bf16 kernel that includes what cubecl 0.10's heaviest kernels include
   (cuda_runtime.h, cuda_bf16.h, cooperative_groups/memcpy_async.h, cuda/barrier, cuda/pipeline)
   with cubecl-cuda's options (--gpu-architecture=sm_XYa, --include-path=INC and INC/cccl,
   -lineinfo; cubecl-cuda-0.10.0/src/compute/context.rs);
2. the driver loads the PTX (cuModuleLoadData, as cubecl does): a PTX ISA newer than the driver
   fails here with CUDA_ERROR_UNSUPPORTED_PTX_VERSION;
3. the kernel runs on device 0 and its output is read back.
With LIBCUDA `-` only step 1 runs (at --arch). Prints one line per step; exit 1 on a failure.
"""

import ctypes
import os
import sys
import time

SOURCE = rb"""
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cooperative_groups/memcpy_async.h>
#include <cuda/barrier>
#include <cuda/pipeline>
extern "C" __global__ void probe(__nv_bfloat16* out) {
    out[threadIdx.x] = __float2bfloat16(2.0f * (float)threadIdx.x);
}
"""


def check(lib, name, *args):
    rc = getattr(lib, name)(*args)
    if rc != 0:
        msg = ctypes.c_char_p()
        if hasattr(lib, "cuGetErrorName"):
            lib.cuGetErrorName(rc, ctypes.byref(msg))
        raise RuntimeError(f"{name} returned {rc} {msg.value.decode() if msg.value else ''}".strip())


def compile_ptx(nvrtc, include, arch):
    major, minor = ctypes.c_int(), ctypes.c_int()
    nvrtc.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor))
    prog = ctypes.c_void_p()
    check(nvrtc, "nvrtcCreateProgram", ctypes.byref(prog), SOURCE, b"probe.cu", 0, None, None)
    opts = [f"--gpu-architecture={arch}".encode(), f"--include-path={include}".encode(), b"-lineinfo"]
    if os.path.isdir(os.path.join(include, "cccl")):
        opts.append(f"--include-path={os.path.join(include, 'cccl')}".encode())
    t = time.perf_counter()
    rc = nvrtc.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
    secs = time.perf_counter() - t
    if rc != 0:
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetProgramLog(prog, log)
        text = log.value.decode(errors="replace")
        raise RuntimeError(f"NVRTC {major.value}.{minor.value} compile failed ({rc}):\n{text[-3000:]}")
    size = ctypes.c_size_t()
    check(nvrtc, "nvrtcGetPTXSize", prog, ctypes.byref(size))
    ptx = ctypes.create_string_buffer(size.value)
    check(nvrtc, "nvrtcGetPTX", prog, ptx)
    version = next((l for l in ptx.value.decode().splitlines() if l.startswith(".version")), "?")
    print(f"ok   NVRTC {major.value}.{minor.value} compiled for {arch} in {secs:.2f} s "
          f"({size.value} bytes of PTX, {version})", flush=True)
    return ptx


def main() -> int:
    args = sys.argv[1:]
    arch = None
    if "--arch" in args:
        i = args.index("--arch")
        arch = args[i + 1]
        del args[i:i + 2]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    nvrtc_path, cuda_path, include = args
    try:
        nvrtc = ctypes.CDLL(nvrtc_path)
        cuda = None if cuda_path == "-" else ctypes.CDLL(cuda_path)
        dev = ctypes.c_int()
        if cuda is not None:
            check(cuda, "cuInit", 0)
            check(cuda, "cuDeviceGet", ctypes.byref(dev), 0)
            drv = ctypes.c_int()
            check(cuda, "cuDriverGetVersion", ctypes.byref(drv))
            cc_major, cc_minor = ctypes.c_int(), ctypes.c_int()
            check(cuda, "cuDeviceGetAttribute", ctypes.byref(cc_major), 75, dev)
            check(cuda, "cuDeviceGetAttribute", ctypes.byref(cc_minor), 76, dev)
            print(f"ok   driver API {drv.value // 1000}.{drv.value % 1000 // 10}, device 0 compute capability "
                  f"{cc_major.value}.{cc_minor.value}", flush=True)
            if arch is None:
                arch = f"sm_{cc_major.value}{cc_minor.value}" + ("a" if cc_major.value >= 9 else "")
        ptx = compile_ptx(nvrtc, include, arch or "sm_90a")
        if cuda is None:
            return 0
        ctx, module, func = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        check(cuda, "cuDevicePrimaryCtxRetain", ctypes.byref(ctx), dev)
        check(cuda, "cuCtxSetCurrent", ctx)
        check(cuda, "cuModuleLoadData", ctypes.byref(module), ptx)
        check(cuda, "cuModuleGetFunction", ctypes.byref(func), module, b"probe")
        print("ok   the driver loaded the PTX", flush=True)
        n = 32
        buf = ctypes.c_uint64()
        check(cuda, "cuMemAlloc_v2", ctypes.byref(buf), n * 2)
        arg = ctypes.c_uint64(buf.value)
        params = (ctypes.c_void_p * 1)(ctypes.cast(ctypes.byref(arg), ctypes.c_void_p))
        check(cuda, "cuLaunchKernel", func, 1, 1, 1, n, 1, 1, 0, None, params, None)
        check(cuda, "cuCtxSynchronize")
        host = (ctypes.c_uint16 * n)()
        check(cuda, "cuMemcpyDtoH_v2", host, buf, n * 2)
        got = [ctypes.c_float.from_buffer_copy((v << 16).to_bytes(4, "little")).value for v in host]
        want = [2.0 * i for i in range(n)]
        if got != want:
            raise RuntimeError(f"the probe kernel returned {got[:4]}…, expected {want[:4]}…")
        print("ok   the kernel ran and returned the right values", flush=True)
        return 0
    except (OSError, RuntimeError, AttributeError) as e:
        print(f"FAIL {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
