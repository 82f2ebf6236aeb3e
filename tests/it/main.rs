
mod decode;
mod pixels;
