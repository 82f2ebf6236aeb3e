//! # cxr — harmonized chest X-ray store and ViT benchmark trainer
//!
//! ```text
//!  dataset as downloaded          cxr-prep                                   cxr-train
//!  (CSV + DICOM/PNG/JPEG) ──► ingest ──► harmonize ──► store (Parquet) ──► train ──► evaluate
//!                            readers,    unified labels,  dataset=<name>/     ViT-B/16,   AUROC,
//!                            decoders    splits, pixels   part-NNNNN.parquet  DINOv2      bootstrap
//! ```
//!
//! Modules follow the data flow: [`manifest`] and [`labels`] hold the per-dataset knowledge and
//! the unified vocabulary; [`ingest`] reads what publishers ship; [`harmonize`] makes rows
//! dataset-independent; [`store`] is the Parquet contract; [`prep`] runs the three for
//! `cxr-prep ingest`; [`stats`] answers label statistics with polars; [`synth`] writes a
//! synthetic corpus in the six native layouts; [`model`] is the Vision Transformer; [`run`] is
//! the run folder, the contract between [`train`] (which writes it) and [`evaluate`] (which
//! reads it); the two share [`auroc`] and [`plot`] and import nothing of each other;
//! [`benchmark`] drives both over the study's matrix.

pub mod labels;
pub mod manifest;

pub mod ingest;
pub mod harmonize;
pub mod store;
pub mod prep;
pub mod stats;
pub mod synth;
pub mod runtime;
pub mod model;
pub mod auroc;
pub mod plot;
pub mod run;
pub mod evaluate;
pub mod train;
pub mod benchmark;
pub mod fsutil;
pub mod rng;
