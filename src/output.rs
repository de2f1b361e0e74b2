//! Writing output files whole or not at all, also when the run is interrupted.
//!
//! Every file grantgap writes goes to a temporary file beside its destination
//! and is renamed into place when complete, so a run that dies midway leaves the
//! previous report as it was. Temporary files in progress are registered here,
//! so that an interrupt (Ctrl-C, SIGTERM) can remove them before exiting.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

/// Temporary files being written.
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Writes `path` through `write`, atomically: a temporary file renamed into place.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| {
        format!(
            "cannot create a file in {}: check that the folder exists and is writable",
            dir.display()
        )
    })?;
    let registered = tmp.path().to_path_buf();
    lock().push(registered.clone());
    let written = (|| {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        drop(out);
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        tmp.persist(path)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot move {} into place", path.display()))
    })();
    lock().retain(|p| p != &registered);
    written.map(|_| ())
}

/// Removes the temporary files of writes in progress: called on an interrupt.
pub fn remove_partial_outputs() {
    for path in lock().drain(..) {
        let _ = std::fs::remove_file(path);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves a list still worth cleaning up.
    IN_PROGRESS.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_atomically(&path, |out| out.write_all(b"old")).unwrap();
        let failed = write_atomically(&path, |out| {
            out.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert!(lock().is_empty());
    }
}
