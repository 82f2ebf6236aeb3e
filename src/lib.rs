//! cxr placeholder

pub mod model;
