pub mod pixels;
