//! cxr placeholder
