//! Integration tests, one module per stage in data-flow order.

mod common;

// vocabulary, manifests, store schema (golden files under schemas/)
mod vocabulary;
// ingest: real metadata excerpts, counts equal an independent pandas count
mod metadata_counts;
// ingest: DICOM / PNG / JPEG decoding on real radiographs in several transfer syntaxes
mod decode;
// ingest: the issue-11 real-world DICOM cases (modality LUT, JPEG lossless DRI, colour) end to end
mod dicom_cases;
// ingest: DICOM pixel conformance (LUTs, VOI, JPEG lossless DRI, colour, twins) against pydicom/libjpeg-turbo
mod dicom_conformance;
// differential conformance against pydicom over its public test corpora (scripts/dicom_differential.py)
mod dicom_differential;
// ingest: JPEG 2000 DICOM reduced-resolution decode, code-stream precision, RCT/ICT -> grey
#[cfg(any(feature = "j2k-rust", feature = "j2k-c"))]
mod j2k;
// harmonize: split rules and label mapping
mod harmonize;
// harmonize: resize, min-max, histogram equalisation against OpenCV
mod pixels;
// ingest with images: layouts, rejects, path escapes, re-ingest, resume
mod ingest_images;
// synth: the synthetic corpus is written in every built-in dataset's native layout
mod synth;
// ingest: the synthetic native layouts end to end, without DICOM identifiers in the store
mod synth_ingest;
// model: ViT parity with PyTorch on committed fixtures, weight import/export, load errors
mod model;
// evaluate: predict over the store and export runs through the cxr-train binary
mod predict_export;
// store: pyarrow, polars and DuckDB read the store as one table
mod readers;
// evaluate: AUROC, bootstrap CIs, Youden thresholds, paired comparison against sklearn/SciPy
mod evaluate;
// evaluate: subgroups by sex/age/view/dataset and calibration (ECE, Brier, recalibration) against sklearn/numpy
mod subgroups;
// store: cxr-prep validate finds every violation kind; interrupted ingests resume exactly
mod validate;
mod resume;
// train: cxr-train fit on a synthetic store (tiny ViT): run folder, resume, transfer, masked loss
mod train;
// train: --finetune linear|lora freezes the backbone; LoRA merges on export and resumes exactly
mod finetune;
// train: --feature-cache: a linear probe on cached features trains as the uncached one, resumes, rekeys
mod feature_cache;
// train/evaluate: fit and predict on a store ingested at 512 px
mod resolution;
// --precision bf16, cxr-train bench
mod precision;
// scripts/gpu-check.sh on the CPU: plan, deadline, timeouts, summary (issue 17)
mod gpu_check;
// robustness: optional cells become null with notes, fuzzed CSV cells and DICOM headers never
// panic, parts rewritten by pyarrow read the same, edited run configs are clear errors
mod robust;
mod robust_dicom;
// Text metadata as people save it (BOM, CRLF, trailing space) in every layout; ingest-time leakage check.
mod text_metadata;
// benchmark: the end-to-end demo (synth -> ingest -> pretrain -> fit -> evaluate -> compare -> table)
mod benchmark;
// binaries: a closed stdout (`| head`) is a quiet exit with status 0
mod cli;
// architecture: stage imports and file sizes of src/ (issue 12), with the known exceptions listed
mod architecture;
