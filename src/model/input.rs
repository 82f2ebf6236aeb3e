//! The model's input from stored pixels: 8-bit grey bytes go to the device as they are (1 byte
//! per pixel) and become the `[B, 3, H, W]` f32 `[0, 1]` tensor there, so a batch of 32
//! 224² images uploads 1.6 MB instead of 19 MB of f32 planes.

use burn::tensor::backend::Backend;
use burn::tensor::{DType, Int, Tensor, TensorCreationOptions, TensorData};

/// Grey bytes → the model's input on `device`: u8 upload, then (on the device) conversion to
/// f32, scaling by 1/255 and replication of the grey plane into the three RGB channels (what
/// the study's `cv2.imread` of a grey PNG + `ToTensor()` gives).
///
/// # Shapes
/// - `pixels`: `n * h * w` bytes, row-major `[n, 1, h, w]`
/// - output: `[n, 3, h, w]` f32 in `[0, 1]`
pub fn grey_to_input<B: Backend>(
    pixels: Vec<u8>,
    n: usize,
    h: usize,
    w: usize,
    device: &B::Device,
) -> Tensor<B, 4> {
    let options = TensorCreationOptions::<B>::new(device.clone()).with_dtype(DType::U8);
    let grey = Tensor::<B, 4, Int>::from_data(TensorData::new(pixels, [n, 1, h, w]), options);
    grey.float().div_scalar(255.0).repeat_dim(1, 3)
}
