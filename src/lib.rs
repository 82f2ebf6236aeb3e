//! cxr placeholder
pub mod synth;
