//! Stage 5, evaluate: inference over the store into a predictions file, and the statistics
//! computed from predictions files.

pub mod auroc;
pub mod export;
pub mod predict;
pub mod predictions;
