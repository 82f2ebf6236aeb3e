//! Stage 5, evaluate: inference over the store into a predictions file, and the statistics
//! computed from predictions files: AUROC with bootstrap intervals and operating points
//! ([`evaluation`]), paired comparisons ([`compare`]), calibration ([`calibration`]) and the
//! subgroup analysis by sex, age, view and dataset ([`subgroups`], [`attributes`]).

pub mod predict;
pub mod predictions;
pub mod attributes;
pub mod bootstrap;
pub mod calibration;
pub mod compare;
pub mod evaluation;
pub mod metrics;
pub mod report;
pub mod subgroups;
pub mod threshold;
