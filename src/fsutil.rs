//! I/O plumbing shared by every stage and both binaries: a streamed sha256 of a file, the one
//! atomic write, and printing to stdout that reports a closed pipe instead of panicking.
//!
//! Errors are plain [`std::io::Error`]; each caller maps them into its own typed error, naming
//! the path.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of a file's bytes (streamed, constant memory) and the number of bytes
/// hashed.
pub fn sha256_file_len(path: &Path) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let bytes = io::copy(&mut f, &mut h)?;
    Ok((hex::encode(h.finalize()), bytes))
}

/// Lowercase hex sha256 of a file's bytes (streamed).
pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_file_len(path).map(|(hex, _)| hex)
}

/// Writes `bytes` to `path` atomically; see [`write_atomic_with`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes), |e| e)
}

/// Creates `path` atomically: `fill` writes into a fresh temporary file in the same folder
/// (`.<file name>.<random>.tmp`, created with `tempfile`), which is fsynced and then renamed over
/// `path` (`NamedTempFile::persist`). A reader or a kill at any point sees the old file or the
/// new one, never a half-written one; a process killed mid-write leaves at most a `*.tmp` file,
/// which `cxr-prep validate` reports and readers skip. On an error the temporary file is deleted.
/// Missing parent folders are created. `io_err` turns I/O errors into the caller's error type.
pub fn write_atomic_with<E>(
    path: &Path,
    fill: impl FnOnce(&mut File) -> Result<(), E>,
    io_err: impl Fn(io::Error) -> E,
) -> Result<(), E> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(&io_err)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    // tempfile creates 0600 files by default; ask for what `File::create` gives (0666 less umask).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let mut tmp = builder.tempfile_in(dir).map_err(&io_err)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file_mut().sync_all().map_err(&io_err)?;
    tmp.persist(path).map_err(|e| io_err(e.error))?;
    Ok(())
}

/// Removes the temporary files or folders that killed writes of `path` left behind
/// (`.<name>.*.tmp`, and the `<name>.*.tmp` of cxr before 0.1's tempfile switch); a folder is
/// removed with its contents. Only for paths that one process at a time writes (under the store
/// lock, once per dataset at the end of an ingest, a run's `last.state/`): a concurrent writer's
/// temporary would be removed under it. Returns how many were removed.
pub fn remove_stale_temps(path: &Path) -> io::Result<usize> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(0);
    };
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let (hidden, legacy) = (format!(".{name}."), format!("{name}."));
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let f = entry.file_name();
        let Some(f) = f.to_str() else { continue };
        if f.ends_with(".tmp") && (f.starts_with(&hidden) || f.starts_with(&legacy)) {
            let is_dir = entry.file_type()?.is_dir();
            let removed_now = if is_dir { std::fs::remove_dir_all(entry.path()) } else { std::fs::remove_file(entry.path()) };
            match removed_now {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Whether `err` or any error in its `source()` chain is an I/O error of kind `BrokenPipe`: the
/// reader of our stdout went away (`cxr-prep stats STORE | head -1`). The binaries then exit
/// quietly with status 0, as ripgrep does, instead of resetting SIGPIPE.
pub fn is_broken_pipe(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe) {
            return true;
        }
        cur = e.source();
    }
    false
}

/// `print!` to stdout that returns the `io::Result` (use with `?`) instead of panicking when
/// the pipe is closed; see [`is_broken_pipe`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        ::std::write!(::std::io::stdout(), $($arg)*)
    }};
}

/// `println!` to stdout that returns the `io::Result` (use with `?`); see [`out!`].
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        ::std::writeln!(::std::io::stdout(), $($arg)*)
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_in_the_source_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("printing failed")]
        struct Wrap(#[source] io::Error);
        assert!(is_broken_pipe(&Wrap(io::Error::from(io::ErrorKind::BrokenPipe))));
        assert!(!is_broken_pipe(&Wrap(io::Error::from(io::ErrorKind::NotFound))));
    }

    #[test]
    fn sha256_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("abc");
        std::fs::write(&p, b"abc").unwrap();
        // FIPS 180-2 appendix B.1 test vector.
        assert_eq!(
            sha256_file_len(&p).unwrap(),
            ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string(), 3)
        );
        assert!(sha256_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let failed: Result<(), String> =
            write_atomic_with(&p, |f| f.write_all(b"half").map_err(|e| e.to_string()).and(Err("boom".into())), |e| e.to_string());
        assert_eq!(failed.unwrap_err(), "boom");
        assert_eq!(std::fs::read(&p).unwrap(), b"two", "a failed write keeps the old file");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.json")], "no temporary file left");
        // What a killed write leaves is removed by remove_stale_temps, other files are kept.
        for n in [".x.json.a1B2c3.tmp", "x.json.123-0.tmp", ".y.json.a1B2c3.tmp", "x.jsonl"] {
            std::fs::write(p.with_file_name(n), b"").unwrap();
        }
        // A temporary folder (a killed save of a folder such as `last.state/`) goes with its contents.
        std::fs::create_dir_all(p.with_file_name(".x.json.d4E5f6.tmp/inner")).unwrap();
        std::fs::write(p.with_file_name(".x.json.d4E5f6.tmp/inner/model.bin"), b"half").unwrap();
        assert_eq!(remove_stale_temps(&p).unwrap(), 3);
        let mut names: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
        names.sort();
        assert_eq!(names, [".y.json.a1B2c3.tmp", "x.json", "x.jsonl"].map(std::ffi::OsString::from));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            let reference = dir.path().join("plain");
            std::fs::write(&reference, b"").unwrap();
            assert_eq!(mode & 0o777, std::fs::metadata(&reference).unwrap().permissions().mode() & 0o777);
        }
    }
}
