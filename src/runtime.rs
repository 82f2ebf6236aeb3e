//! Compute devices: burn's Flex CPU backend by default; burn-cuda with `--features cuda`
//! (fusion + autotune) or `--features cuda-base` (autotune, no fusion).
//!
//! What a CUDA run needs at run time (cubecl-cuda 0.10 / cudarc 0.19, `../shared/reference/gpu.md`
//! §3.2): the driver's `libcuda.so.1`; NVRTC (`libnvrtc.so` or `libnvrtc.so.<major>`), which
//! compiles every kernel; the CUDA headers cubecl's kernels include (`cuda_runtime.h`,
//! `cuda_bf16.h`, `crt/*`, `cooperative_groups`, and CCCL's `cuda/barrier` in `include/` or, from
//! CUDA 13, `include/cccl/`; never `cuda.h`) found through `CUDA_PATH`, `/usr/local/cuda`,
//! `/opt/cuda` or `nvcc` on `PATH`; and, for several GPUs, NCCL under a name
//! cudarc tries (`libnccl.so`, not only the soname `libnccl.so.2`). [`cuda_environment`] looks
//! for each and [`probe_cuda`] turns a failed start into a message naming what is missing.

use std::path::{Path, PathBuf};

/// The CPU backend (pure Rust, rayon + SIMD).
pub type Cpu = burn::backend::Flex;
/// The NVIDIA backend: `Fusion<CubeBackend<CudaRuntime, f32, i32, u8>>` with `--features cuda`,
/// the bare `CubeBackend` with `--features cuda-base` alone. libcuda is loaded at run time.
#[cfg(feature = "cuda-base")]
pub type Gpu = burn::backend::Cuda;
/// The NVIDIA backend without kernel fusion, whatever the features (for parity checks).
#[cfg(feature = "cuda-base")]
pub type GpuUnfused =
    burn_cubecl::CubeBackend<burn_cubecl::cubecl::cuda::CudaRuntime, f32, i32, u8>;

/// A parsed `--device` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// `cpu`
    Cpu,
    /// `cuda`, `cuda:N` or `cuda:0,cuda:1,…` (device indices)
    Cuda(Vec<usize>),
}

impl std::str::FromStr for DeviceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "cpu" {
            return Ok(DeviceSpec::Cpu);
        }
        if s == "cuda" {
            return Ok(DeviceSpec::Cuda(vec![0]));
        }
        let mut ids = Vec::new();
        for part in s.split(',') {
            let idx = part
                .trim()
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| format!("device `{part}`: expected cpu, cuda or cuda:N[,cuda:M…]"))?;
            ids.push(idx);
        }
        Ok(DeviceSpec::Cuda(ids))
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(ids) => {
                let names: Vec<String> = ids.iter().map(|i| format!("cuda:{i}")).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

impl DeviceSpec {
    /// Fails clearly when a GPU is requested from a build without the `cuda` feature.
    pub fn check_available(&self) -> Result<(), String> {
        match self {
            DeviceSpec::Cpu => Ok(()),
            DeviceSpec::Cuda(_) if cfg!(feature = "cuda-base") => Ok(()),
            DeviceSpec::Cuda(_) => {
                Err("this cxr-train was built without GPU support: rebuild with `cargo build --release --features cuda`".into())
            }
        }
    }
}

/// The CPU device.
pub fn cpu_device() -> <Cpu as burn::tensor::backend::BackendTypes>::Device {
    Default::default()
}

/// The CUDA device with this index.
#[cfg(feature = "cuda-base")]
pub fn gpu_device(index: usize) -> <Gpu as burn::tensor::backend::BackendTypes>::Device {
    burn::backend::cuda::CudaDevice::new(index)
}

/// Where the CUDA run-time pieces were found (`None`: not found).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CudaEnvironment {
    /// The driver library `libcuda.so.1`.
    pub libcuda: Option<PathBuf>,
    /// NVRTC, `libnvrtc.so` or `libnvrtc.so.<major>`.
    pub nvrtc: Option<PathBuf>,
    /// The include folder holding every header cubecl's kernels include (see
    /// [`has_kernel_headers`]).
    pub headers: Option<PathBuf>,
    /// NCCL under a name cudarc loads (`libnccl.so`); only needed for several GPUs.
    pub nccl: Option<PathBuf>,
    /// NCCL present only as `libnccl.so.2` (cudarc does not try that name: add a `libnccl.so` link).
    pub nccl_soname_only: Option<PathBuf>,
}

impl CudaEnvironment {
    /// One line per missing piece, each saying what to install or set.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.libcuda.is_none() {
            out.push("no NVIDIA driver library (libcuda.so.1): is a driver installed?".into());
        }
        if self.nvrtc.is_none() {
            out.push("no NVRTC (libnvrtc.so*): install the CUDA toolkit's nvrtc (e.g. pip nvidia-cuda-nvrtc) and add its lib folder to LD_LIBRARY_PATH".into());
        }
        if self.headers.is_none() {
            out.push("no complete CUDA headers (cuda_runtime.h, cuda_bf16.h, crt/host_config.h, cuda/barrier): set CUDA_PATH to a CUDA toolkit (or to the folder scripts/build-gpu-binary.sh packs into .gpu/cuda13-include.tar.xz), or install one in /usr/local/cuda".into());
        }
        if self.nccl.is_none() {
            out.push(match &self.nccl_soname_only {
                Some(p) => format!("NCCL only as {} (needed for several GPUs): add a `libnccl.so` symlink next to it", p.display()),
                None => "no NCCL (libnccl.so; needed only for several GPUs)".into(),
            });
        }
        out
    }
}

/// Library folders searched: `LD_LIBRARY_PATH`, `CUDA_PATH/lib64`, the usual system folders.
fn library_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    if let Some(cuda) = std::env::var_os("CUDA_PATH") {
        dirs.push(Path::new(&cuda).join("lib64"));
        dirs.push(Path::new(&cuda).join("lib"));
    }
    for d in [
        "/usr/local/cuda/lib64",
        "/usr/local/nvidia/lib64",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/wsl/lib",
    ] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// The first file in `dirs` whose name satisfies `pred`.
fn find_lib(dirs: &[PathBuf], pred: impl Fn(&str) -> bool) -> Option<PathBuf> {
    dirs.iter().find_map(|d| {
        let mut names: Vec<PathBuf> = std::fs::read_dir(d)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&pred))
            .collect();
        names.sort();
        names.into_iter().next()
    })
}

/// Whether `include` holds the headers cubecl-cuda 0.10's kernels include: `cuda_runtime.h`
/// (every kernel), `cuda_bf16.h` (bf16 kernels), `crt/host_config.h` (pulled in by the runtime
/// header; a separate wheel, `nvidia-cuda-crt`, in CUDA 13's pip layout) and CCCL's
/// `cuda/barrier` (async-copy matmuls), which CUDA 13 moved to `include/cccl/` (cubecl adds that
/// folder to the include path when it exists).
pub fn has_kernel_headers(include: &Path) -> bool {
    ["cuda_runtime.h", "cuda_bf16.h", "crt/host_config.h"].iter().all(|f| include.join(f).is_file())
        && (include.join("cccl/cuda/barrier").is_file() || include.join("cuda/barrier").is_file())
}

/// Looks for the CUDA run-time pieces where cudarc and cubecl-cuda look (file names only;
/// whether they load is up to the loader, which [`probe_cuda`] tries).
pub fn cuda_environment() -> CudaEnvironment {
    let dirs = library_dirs();
    let headers = std::env::var_os("CUDA_PATH")
        .map(|p| Path::new(&p).join("include"))
        .into_iter()
        .chain(["/usr/local/cuda/include", "/opt/cuda/include"].map(PathBuf::from))
        .chain(std::env::var_os("PATH").into_iter().flat_map(|v| {
            std::env::split_paths(&v)
                .filter(|d| d.join("nvcc").is_file())
                .filter_map(|d| d.parent().map(|p| p.join("include")))
                .collect::<Vec<_>>()
        }))
        .find(|d| has_kernel_headers(d));
    CudaEnvironment {
        libcuda: find_lib(&dirs, |n| n == "libcuda.so.1" || n == "libcuda.so"),
        nvrtc: find_lib(&dirs, |n| n.starts_with("libnvrtc.so")),
        headers,
        nccl: find_lib(&dirs, |n| n == "libnccl.so"),
        nccl_soname_only: find_lib(&dirs, |n| n.starts_with("libnccl.so.")),
    }
}

/// The text of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Starts CUDA device `index` by running one small kernel. burn-cuda panics when something is
/// missing; the error names the device, the panic's own message and every missing piece of
/// [`cuda_environment`] (no driver, no NVRTC, no headers, fewer GPUs than asked for).
#[cfg(feature = "cuda-base")]
pub fn probe_cuda(index: usize) -> Result<(), String> {
    let device = gpu_device(index);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| {
        (burn::tensor::Tensor::<Gpu, 1>::ones([4], &device) * 2.0)
            .into_data()
            .to_vec::<f32>()
            .map_or(false, |v| v == [2.0; 4])
    });
    std::panic::set_hook(hook);
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("cuda:{index}: a test kernel returned wrong values")),
        Err(payload) => {
            let mut msg = format!("cuda:{index} could not be started: {}", panic_message(&*payload));
            let problems = cuda_environment().problems();
            if problems.is_empty() {
                msg.push_str(" (driver, NVRTC and headers were found: is the index beyond the GPUs this machine has?)");
            }
            for p in problems {
                msg.push_str("\n  - ");
                msg.push_str(&p);
            }
            Err(msg)
        }
    }
}

/// Bytes the CubeCL memory pool of CUDA device `index` holds (its high-water mark in practice:
/// the pool does not shrink during a run). `None` when the backend cannot say.
#[cfg(feature = "cuda-base")]
pub fn gpu_reserved_bytes(index: usize) -> Option<u64> {
    use burn_cubecl::cubecl::Runtime;
    let device = burn_cubecl::cubecl::cuda::CudaDevice::new(index);
    let client = burn_cubecl::cubecl::cuda::CudaRuntime::client(&device);
    client.memory_usage().ok().map(|m| m.bytes_reserved)
}

/// The CUDA devices with these indices, each started with [`probe_cuda`] first, so a missing
/// driver, NVRTC, header folder or GPU is an error naming the cause instead of a panic.
#[cfg(feature = "cuda-base")]
pub fn gpu_devices(
    ids: &[usize],
) -> Result<Vec<<Gpu as burn::tensor::backend::BackendTypes>::Device>, String> {
    ids.iter()
        .map(|&i| probe_cuda(i).map(|()| gpu_device(i)))
        .collect()
}
