//! Writing output files whole or not at all, also when the run is interrupted,
//! and never over an input or a device.
//!
//! Every file grantgap writes goes to a temporary file beside its destination
//! and is renamed into place when complete, so a run that dies midway leaves the
//! previous report as it was. Temporary files in progress are registered here,
//! so that an interrupt (Ctrl-C, SIGTERM) can remove them before exiting.
//!
//! Where a destination is not a plain file, the rename would do harm: over a
//! symbolic link it replaces the link (the report never reaches the file the
//! link names), over `/dev/null` it replaces the device. A link is followed to
//! the file it names; a device, pipe or socket is written in place. And an
//! output that is one of the run's inputs (`-o events.jsonl`, a quarantine file
//! named like the log) is refused before anything is read.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

/// Temporary files and folders being written.
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The inputs of this run: files by (device, inode), and their canonical paths.
static INPUTS: Mutex<Option<Inputs>> = Mutex::new(None);

#[derive(Default)]
struct Inputs {
    ids: HashSet<(u64, u64)>,
    paths: Vec<PathBuf>,
}

/// An output that would destroy an input or cannot be written as asked: a
/// usage error (exit code 2), found before the run reads anything.
#[derive(Debug)]
pub struct RefusedOutput(pub String);

impl std::fmt::Display for RefusedOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RefusedOutput {}

/// Registers the run's input files: no output may replace one of them, and no
/// exported folder may hold one.
pub fn protect_inputs<'p>(paths: impl IntoIterator<Item = &'p Path>) {
    let mut inputs = Inputs::default();
    for path in paths {
        if let Ok(meta) = fs::metadata(path) {
            inputs.ids.insert((meta.dev(), meta.ino()));
        }
        if let Ok(canonical) = fs::canonicalize(path) {
            inputs.paths.push(canonical);
        }
    }
    *INPUTS.lock().unwrap_or_else(|e| e.into_inner()) = Some(inputs);
}

/// Refuses an output file that is an input of this run, or a folder.
pub fn check_file(path: &Path) -> Result<()> {
    let target = destination(path)?;
    let Ok(meta) = fs::metadata(&target) else {
        return Ok(()); // A new file.
    };
    if meta.is_dir() {
        return Err(RefusedOutput(format!(
            "{} is a folder: name a file to write",
            path.display()
        ))
        .into());
    }
    let inputs = INPUTS.lock().unwrap_or_else(|e| e.into_inner());
    if inputs
        .as_ref()
        .is_some_and(|i| i.ids.contains(&(meta.dev(), meta.ino())))
    {
        return Err(RefusedOutput(format!(
            "{} is an input of this run: writing it would destroy the log; name another output file",
            path.display()
        ))
        .into());
    }
    Ok(())
}

/// Refuses an output folder that holds an input of this run (the export
/// replaces the folder as a whole) or is not a folder.
pub fn check_dir(dir: &Path) -> Result<()> {
    let Ok(canonical) = fs::canonicalize(dir) else {
        return Ok(()); // A new folder.
    };
    if !canonical.is_dir() {
        return Err(RefusedOutput(format!(
            "{} is not a folder: name a folder to export into",
            dir.display()
        ))
        .into());
    }
    let inputs = INPUTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(input) = inputs
        .as_ref()
        .and_then(|i| i.paths.iter().find(|p| p.starts_with(&canonical)))
    {
        return Err(RefusedOutput(format!(
            "{} holds an input of this run ({}): export into a folder of its own",
            dir.display(),
            input.display()
        ))
        .into());
    }
    Ok(())
}

/// Where writing `path` lands: the file a symbolic link names (through every
/// link), else `path` itself.
fn destination(path: &Path) -> Result<PathBuf> {
    let mut target = path.to_path_buf();
    // Links are followed one at a time, so a link to a file not yet written
    // still leads to where it will be; a loop of links is an error.
    for _ in 0..40 {
        match fs::symlink_metadata(&target) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let next = fs::read_link(&target)
                    .with_context(|| format!("cannot read the link {}", target.display()))?;
                target = match target.parent() {
                    Some(parent) if next.is_relative() => parent.join(next),
                    _ => next,
                };
            }
            _ => return Ok(target),
        }
    }
    bail!(
        "{} is a loop of symbolic links: name a file to write",
        path.display()
    )
}

/// Writes `path` through `write`, atomically: a temporary file renamed into
/// place. A link is followed to its file; a device, pipe or socket is written
/// in place (there is nothing to replace).
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    check_file(path)?;
    let target = destination(path)?;
    if fs::metadata(&target).is_ok_and(|m| !m.is_file()) {
        let file = OpenOptions::new()
            .write(true)
            .open(&target)
            .with_context(|| format!("cannot open {} to write", path.display()))?;
        let mut out = BufWriter::new(file);
        write(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
        return out
            .flush()
            .with_context(|| format!("cannot write {}", path.display()));
    }
    let dir = match target.parent() {
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
        tmp.as_file()
            .set_permissions(mode_of(&target))
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out).with_context(|| format!("cannot write {}", path.display()))?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        drop(out);
        tmp.as_file()
            .sync_all()
            .with_context(|| format!("cannot write {}", path.display()))?;
        tmp.persist(&target)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot move {} into place", path.display()))
    })();
    lock().retain(|p| p != &registered);
    written.map(|_| ())
}

/// The mode a written file gets: the one it replaces keeps its own; a new one
/// gets what any program's would (0666 less the umask), not the temporary
/// file's 0600.
fn mode_of(target: &Path) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = fs::metadata(target) {
        return meta.permissions();
    }
    fs::Permissions::from_mode(0o666 & !umask())
}

/// The process's umask, as Linux reports it (since 4.7). Reading it with
/// umask(2) means setting it, which races with threads creating files.
fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
            u32::from_str_radix(line.trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// Replaces the folder `dir` as a whole with what `write` puts into a new one:
/// readers see the old folder or the new, never a mix. Files of the old folder
/// that `write` did not write are kept (hard links, so nothing is copied, made
/// after `write` so it never writes through one into the old folder): a
/// partitioned export adds its days to those written before.
pub fn replace_dir_atomically(dir: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    check_dir(dir)?;
    let dir = destination(dir)?;
    let name = dir
        .file_name()
        .with_context(|| format!("{} has no folder name: name a folder", dir.display()))?
        .to_string_lossy()
        .into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    remove_stale_staging(&parent, &name);
    let staging = tempfile::Builder::new()
        .prefix(&staging_prefix(&name))
        .tempdir_in(&parent)
        .with_context(|| {
            format!(
                "cannot create a folder in {}: check that it is writable",
                parent.display()
            )
        })?
        .keep();
    lock().push(staging.clone());
    let done = (|| {
        let existed = dir.is_dir();
        write(&staging)?;
        if existed {
            keep_unwritten(&dir, &staging)?;
        }
        File::open(&staging)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot write {}", staging.display()))?;
        if existed {
            exchange(&staging, &dir)?;
        } else {
            fs::rename(&staging, &dir)
                .with_context(|| format!("cannot move the export into {}", dir.display()))?;
        }
        Ok(())
    })();
    // After an exchange the staging path holds the old folder.
    let _ = fs::remove_dir_all(&staging);
    lock().retain(|p| p != &staging);
    done
}

fn staging_prefix(name: &str) -> String {
    format!(".{name}.grantgap-")
}

/// Removes the staging folders that a run killed outright (SIGKILL, a power
/// cut) left beside `name`: nothing else writes names of that form.
fn remove_stale_staging(parent: &Path, name: &str) {
    let prefix = staging_prefix(name);
    for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Hard-links every file under `from` that is not yet under `to` into the same
/// place there.
fn keep_unwritten(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", from.display()))?;
        let (source, copy) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if !copy.is_dir() {
                fs::create_dir(&copy)
                    .with_context(|| format!("cannot create {}", copy.display()))?;
            }
            keep_unwritten(&source, &copy)?;
        } else if fs::symlink_metadata(&copy).is_ok() {
            // Written by this run: the new file stands.
        } else if fs::hard_link(&source, &copy).is_err() {
            fs::copy(&source, &copy)
                .with_context(|| format!("cannot keep {} in the export", source.display()))?;
        }
    }
    Ok(())
}

/// Swaps two folders in one step (Linux `renameat2` with `RENAME_EXCHANGE`).
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (ca, cb) = (c(a)?, c(b)?);
    // SAFETY: two valid NUL-terminated paths, relative to the working folder.
    let status = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if status != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("cannot switch {} to the new export", b.display()));
    }
    Ok(())
}

/// Removes the temporary files and folders of writes in progress: called on an
/// interrupt.
pub fn remove_partial_outputs() {
    for path in lock().drain(..) {
        if path.is_dir() {
            let _ = fs::remove_dir_all(path);
        } else {
            let _ = fs::remove_file(path);
        }
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
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // Other tests write at the same time: only this one's file must be gone from the list.
        assert!(lock().iter().all(|p| !p.starts_with(dir.path())));
    }

    #[test]
    fn a_link_is_followed_to_its_file_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        write_atomically(&link, |out| out.write_all(b"new")).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn a_folder_is_replaced_whole_keeping_what_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export");
        replace_dir_atomically(&export, |d| {
            fs::create_dir_all(d.join("t/date=1"))?;
            fs::write(d.join("t/date=1/part-0"), "day one")?;
            Ok(fs::write(d.join("u"), "first")?)
        })
        .unwrap();
        // A stale staging folder from a killed run goes too.
        fs::create_dir(dir.path().join(".export.grantgap-dead")).unwrap();
        let failed = replace_dir_atomically(&export, |d| {
            fs::write(d.join("u"), "half")?;
            bail!("disk full")
        });
        assert!(failed.is_err());
        assert_eq!(fs::read_to_string(export.join("u")).unwrap(), "first");
        replace_dir_atomically(&export, |d| {
            fs::create_dir_all(d.join("t/date=2"))?;
            fs::write(d.join("t/date=2/part-0"), "day two")?;
            Ok(fs::write(d.join("u"), "second")?)
        })
        .unwrap();
        assert_eq!(fs::read_to_string(export.join("u")).unwrap(), "second");
        assert_eq!(
            fs::read_to_string(export.join("t/date=1/part-0")).unwrap(),
            "day one"
        );
        assert_eq!(
            fs::read_to_string(export.join("t/date=2/part-0")).unwrap(),
            "day two"
        );
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("export")]);
    }
}
