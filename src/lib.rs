//! cxr placeholder
pub mod harmonize;
pub mod ingest;
