//! Resolving a `fit` request against the store: datasets (`all` = every dataset), image
//! size (the store's), labels (`--labels`) and views (`--views`) per dataset, the part files to
//! read, and the store fingerprint recorded in `config.json`.

use std::collections::BTreeMap;

use super::TrainError;
use crate::run::config::TrainConfig;
use super::data::DatasetParts;
use super::labels::{annotation_mask, parse_views, resolve_labels};
use crate::run::{DatasetFingerprint, StoreFingerprint};
use crate::store::reader::StoreReader;

/// What [`resolve`] finds: the parts to read, `annotated[dataset][label]`, the store fingerprint.
pub type Resolved = (Vec<DatasetParts>, Vec<Vec<bool>>, StoreFingerprint);

/// Resolves datasets, labels, views and size against the store; returns the parts to read.
pub fn resolve(
    cfg: &mut TrainConfig,
    labels_arg: &str,
    views_arg: &str,
    fresh: bool,
) -> Result<Resolved, TrainError> {
    let reader = StoreReader::open(&cfg.store)?;
    let available = || {
        reader
            .meta
            .datasets
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    if cfg.datasets.iter().any(|d| d == "all") {
        cfg.datasets = reader.meta.datasets.keys().cloned().collect();
    }
    let mut annotated = Vec::new();
    let mut fp = BTreeMap::new();
    for d in &cfg.datasets {
        let m = reader
            .dataset(d)
            .ok_or_else(|| TrainError::UnknownDataset {
                dataset: d.clone(),
                store: cfg.store.clone(),
                available: available(),
            })?;
        annotated.push((d.clone(), m.annotated_findings.clone()));
        let stored = m.options.size as usize;
        if m.options.metadata_only {
            return Err(TrainError::NoPixels { dataset: d.clone() });
        }
        if cfg.image_size == 0 {
            cfg.image_size = stored;
        }
        if stored != cfg.image_size {
            return Err(TrainError::SizeMismatch {
                dataset: d.clone(),
                stored,
                wanted: cfg.image_size,
            });
        }
        fp.insert(
            d.clone(),
            DatasetFingerprint { manifest_sha256: m.manifest_sha256.clone(), ingested_at: m.ingested_at.clone(), rows: m.rows },
        );
    }
    if cfg.datasets.is_empty() {
        return Err(TrainError::Option(format!(
            "the store has no dataset (it has: {})",
            available()
        )));
    }
    if fresh {
        cfg.labels = resolve_labels(labels_arg, &annotated)?;
        cfg.views = cfg
            .datasets
            .iter()
            .map(|d| (d.clone(), parse_views(views_arg, d)))
            .collect();
    }
    let mut parts = Vec::new();
    for d in &cfg.datasets {
        parts.push(DatasetParts {
            name: d.clone(),
            parts: reader.parts(d)?,
            views: cfg.view_filter(d),
        });
    }
    let meta_path = crate::store::meta::meta_path(&cfg.store);
    let meta_sha256 = crate::fsutil::sha256_file(&meta_path)
        .map_err(|source| TrainError::Io { path: meta_path.clone(), source })?;
    Ok((
        parts,
        annotation_mask(&cfg.labels, &annotated),
        StoreFingerprint {
            meta_sha256,
            datasets: fp,
        },
    ))
}
