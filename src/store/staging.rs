//! The staging protocol of a partition: how an ingest writes a dataset without a reader ever
//! seeing it half-made, and how an interrupted ingest resumes.
//!
//! ```text
//! <STORE>/_staging/<dataset>/
//!   options.json              what the staged parts were made with (a StagingStamp)
//!   part-NNNNN.parquet        chunk NNNNN's rows (absent when the chunk kept no row)
//!   part-NNNNN.done.json      chunk NNNNN is finished: the caller's record of it (counts, rejects)
//! ```
//!
//! 1. [`Staging::open`] resumes a staging folder made with the same [`StagingStamp`], or starts
//!    over (with `overwrite`), or refuses ([`StoreError::StagingMismatch`]).
//! 2. [`Staging::commit_chunk`] writes a chunk's part atomically, then its done record
//!    atomically: a chunk is finished exactly when [`Staging::is_done`] says so, and a part
//!    without its done record is rewritten by the resumed run.
//! 3. [`Staging::swap_in`] removes everything but the parts, moves the old partition aside
//!    (into a `tempfile` folder `<STORE>/.<dataset>.<random>.tmp`) in one rename, renames the staging folder to `dataset=<name>/` and deletes the
//!    old partition; `options.json` is removed last, so a run killed during the cleanup still
//!    finds a staging folder that says how it was made.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::options::StoredOptions;
use super::row::StoreRow;
use super::writer::write_part;
use super::{partition_dir, staging_dir, write_atomic, StoreError};

/// File in the staging folder recording what the staged parts were made with.
const STAMP_FILE: &str = "options.json";

/// `_staging/<dataset>/options.json`: what the staged parts were made with. A staging folder is
/// resumed only under an equal stamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StagingStamp {
    pub options: StoredOptions,
    /// sha256 of the manifest text the rows were harmonized with.
    pub manifest_sha256: String,
}

/// The staging folder of one dataset's ingest in progress.
#[derive(Debug)]
pub struct Staging {
    store: PathBuf,
    dataset: String,
    dir: PathBuf,
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Write { path: path.to_path_buf(), source }
}

/// File stem of chunk `i`: `part-NNNNN`.
fn chunk_stem(i: usize) -> String {
    format!("part-{i:05}")
}

impl Staging {
    /// Opens (creating it) the staging folder of `dataset` in `store` for parts made as `stamp`
    /// says. An existing folder with an equal stamp is resumed; one with another (or an
    /// unreadable) stamp is deleted when `overwrite`, else refused with
    /// [`StoreError::StagingMismatch`]; with `overwrite` even an equal one starts over.
    pub fn open(store: &Path, dataset: &str, stamp: &StagingStamp, overwrite: bool) -> Result<Staging, StoreError> {
        let dir = staging_dir(store, dataset);
        let stamp_path = dir.join(STAMP_FILE);
        // The stamp is written (atomically) before any chunk, so a folder without one holds no
        // committed chunk: a run killed between creating the folder and stamping it.
        if dir.exists() && !stamp_path.exists() {
            std::fs::remove_dir_all(&dir).map_err(write_err(&dir))?;
        }
        if dir.exists() {
            let same = std::fs::read_to_string(&stamp_path)
                .ok()
                .and_then(|t| serde_json::from_str::<StagingStamp>(&t).ok())
                .is_some_and(|s| s == *stamp);
            if !same && !overwrite {
                return Err(StoreError::StagingMismatch { path: dir });
            }
            if !same || overwrite {
                std::fs::remove_dir_all(&dir).map_err(write_err(&dir))?;
            }
        }
        std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
        let text = serde_json::to_string_pretty(stamp)
            .map_err(|source| StoreError::MetaJson { path: stamp_path.clone(), source })?;
        write_atomic(&stamp_path, text.as_bytes())?;
        Ok(Staging { store: store.to_path_buf(), dataset: dataset.to_string(), dir })
    }

    /// The staging folder, `<store>/_staging/<dataset>/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Part file of chunk `i`.
    pub fn part_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.parquet", chunk_stem(i)))
    }

    fn done_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("{}.done.json", chunk_stem(i)))
    }

    /// True when chunk `i` was committed (by this run or an interrupted earlier one).
    pub fn is_done(&self, i: usize) -> bool {
        self.done_path(i).is_file()
    }

    /// Commits chunk `i`: writes its rows as one part (none when `rows` is empty), then `done`,
    /// the caller's record of the chunk, each atomically and in this order.
    pub fn commit_chunk<D: Serialize>(&self, i: usize, rows: &[StoreRow], done: &D) -> Result<(), StoreError> {
        if !rows.is_empty() {
            write_part(&self.part_path(i), rows)?;
        }
        let path = self.done_path(i);
        let text = serde_json::to_string(done).map_err(|source| StoreError::MetaJson { path: path.clone(), source })?;
        write_atomic(&path, text.as_bytes())
    }

    /// The done record of committed chunk `i`; an error names the file when it is missing or
    /// not the record type.
    pub fn done<D: DeserializeOwned>(&self, i: usize) -> Result<D, StoreError> {
        let path = self.done_path(i);
        let text = std::fs::read_to_string(&path).map_err(|source| StoreError::Read { path: path.clone(), source })?;
        serde_json::from_str(&text).map_err(|source| StoreError::MetaJson { path, source })
    }

    /// Makes the staged parts the dataset's partition (see the module docs for the order that
    /// keeps readers and a killed run safe).
    pub fn swap_in(self) -> Result<(), StoreError> {
        let dir = &self.dir;
        // Only part files move into the partition; options.json is removed after the rename.
        for entry in std::fs::read_dir(dir).map_err(write_err(dir))? {
            let path = entry.map_err(write_err(dir))?.path();
            if path.extension().is_none_or(|e| e != "parquet") && !path.ends_with(STAMP_FILE) {
                std::fs::remove_file(&path).map_err(write_err(&path))?;
            }
        }
        // The old partition is moved aside in one rename, into a temporary folder of the store
        // (`.<dataset>.<random>.tmp`, made with `tempfile`, skipped by readers) that is deleted
        // after the swap, so readers never see a half-deleted partition. A run killed before the
        // deletion leaves that folder, which the next swap of the dataset removes.
        let part_dir = partition_dir(&self.store, &self.dataset);
        crate::fsutil::remove_stale_temps(&self.store.join(&self.dataset)).map_err(write_err(&self.store))?;
        let aside = tempfile::Builder::new()
            .prefix(&format!(".{}.", self.dataset))
            .suffix(".tmp")
            .tempdir_in(&self.store)
            .map_err(write_err(&self.store))?;
        if part_dir.exists() {
            let old = aside.path().join("old");
            std::fs::rename(&part_dir, &old).map_err(write_err(&old))?;
        }
        std::fs::rename(dir, &part_dir).map_err(write_err(&part_dir))?;
        let aside_path = aside.path().to_path_buf();
        aside.close().map_err(write_err(&aside_path))?;
        let moved_stamp = part_dir.join(STAMP_FILE);
        std::fs::remove_file(&moved_stamp).map_err(write_err(&moved_stamp))?;
        let _ = std::fs::remove_dir(self.store.join("_staging"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(sha: &str) -> StagingStamp {
        StagingStamp { options: StoredOptions::default(), manifest_sha256: sha.to_string() }
    }

    #[test]
    fn a_folder_killed_before_its_stamp_starts_over_and_another_stamp_is_refused() {
        let store = tempfile::tempdir().unwrap();
        let dir = staging_dir(store.path(), "nih");
        // Killed between creating the folder and writing options.json.
        std::fs::create_dir_all(&dir).unwrap();
        let staging = Staging::open(store.path(), "nih", &stamp("a"), false).unwrap();
        assert!(staging.dir().join(STAMP_FILE).is_file());
        // The same stamp resumes; another one is refused without --overwrite.
        Staging::open(store.path(), "nih", &stamp("a"), false).unwrap();
        let err = Staging::open(store.path(), "nih", &stamp("b"), false).unwrap_err();
        assert!(matches!(err, StoreError::StagingMismatch { .. }), "{err}");
        Staging::open(store.path(), "nih", &stamp("b"), true).unwrap();
    }

    #[test]
    fn swap_in_replaces_the_partition_and_leaves_no_temporary_folder() {
        let store = tempfile::tempdir().unwrap();
        let old = partition_dir(store.path(), "nih");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join("part-00000.parquet"), b"old").unwrap();
        // A folder a killed swap left behind.
        std::fs::create_dir_all(store.path().join(".nih.abc123.tmp/old")).unwrap();
        let staging = Staging::open(store.path(), "nih", &stamp("a"), false).unwrap();
        std::fs::write(staging.part_path(0), b"new").unwrap();
        staging.swap_in().unwrap();
        assert_eq!(std::fs::read(old.join("part-00000.parquet")).unwrap(), b"new");
        assert!(!old.join(STAMP_FILE).exists());
        let left: Vec<_> = std::fs::read_dir(store.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("dataset=nih")], "{left:?}");
    }
}
