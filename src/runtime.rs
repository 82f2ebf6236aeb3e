//! Compute devices: burn's Flex CPU backend by default, burn-cuda with `--features cuda`.

/// The CPU backend (pure Rust, rayon + SIMD).
pub type Cpu = burn::backend::Flex;
/// The NVIDIA backend (`--features cuda`; libcuda is loaded at run time).
#[cfg(feature = "cuda")]
pub type Gpu = burn::backend::Cuda;

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

impl DeviceSpec {
    /// Fails clearly when a GPU is requested from a build without the `cuda` feature.
    pub fn check_available(&self) -> Result<(), String> {
        match self {
            DeviceSpec::Cpu => Ok(()),
            DeviceSpec::Cuda(_) if cfg!(feature = "cuda") => Ok(()),
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
#[cfg(feature = "cuda")]
pub fn gpu_device(index: usize) -> <Gpu as burn::tensor::backend::BackendTypes>::Device {
    burn::backend::cuda::CudaDevice::new(index)
}
