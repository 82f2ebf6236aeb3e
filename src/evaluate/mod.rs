//! Stage 5, evaluate: inference over the store into a predictions file, and the statistics
//! computed from predictions files.

pub mod predict;
pub mod predictions;
pub mod bootstrap;
pub mod compare;
pub mod evaluation;
pub mod metrics;
pub mod report;
pub mod threshold;
