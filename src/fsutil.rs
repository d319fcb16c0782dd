//! Safe file writes: atomic, private, never through a symlink; and, in [`trust`], the one rule for
//! what gocred trusts on the file system (the config, programs it runs, private directories).
//!
//! Used by everything that writes a file (the config today; netrc and caches later). A new file is
//! created `O_EXCL` with the final mode in the target's own directory, synced, and renamed over the
//! target: rename replaces the link itself, never follows it, and readers see the old or the new
//! file, never half of one.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

pub mod trust;

/// The effective uid (0 on non-Unix, where ownership checks do not apply).
#[cfg(unix)]
pub fn euid() -> u32 {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}

#[cfg(not(unix))]
pub fn euid() -> u32 {
    0
}

/// Runs `f` with the process umask at 077, so whatever it creates is private from its first
/// moment (a Unix socket's file gets its mode from the umask at bind(2), before any chmod could
/// run), then puts the umask back. The umask is process-wide: callers keep `f` to the one call.
#[cfg(unix)]
pub(crate) fn with_private_umask<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: umask(2) has no preconditions and cannot fail; it only returns the previous mask.
    #[allow(unsafe_code)]
    let old = unsafe { libc::umask(0o077) };
    let out = f();
    // SAFETY: as above; restores the mask that was in place.
    #[allow(unsafe_code)]
    unsafe {
        libc::umask(old);
    }
    out
}

/// Creates `dir` (and parents) with mode 0700 where missing.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

/// Atomically replaces `path` with `bytes`, file mode `mode`. Refuses when `path` is a symlink or
/// not a regular file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => {
            return Err(Error::with_hint(
                format!(
                    "{} is a symbolic link; refusing to write through it",
                    path.display()
                ),
                "replace the link with a regular file",
            ))
        }
        Ok(md) if !md.is_file() => {
            return Err(Error::other(format!(
                "{} is not a regular file",
                path.display()
            )))
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("checking {}", path.display()), e)),
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_private_dir(dir)?;
    let ctx = |what: &str| format!("{what} {}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(".gocred-")
        .suffix(".tmp")
        .permissions(permissions(mode))
        .tempfile_in(dir)
        .map_err(|e| Error::io(ctx("creating a temporary file for"), e))?;
    tmp.write_all(bytes)
        .map_err(|e| Error::io(ctx("writing"), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(ctx("syncing"), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(ctx("replacing"), e.error))?;
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn permissions(mode: u32) -> fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    fs::Permissions::from_mode(mode)
}

#[cfg(not(unix))]
fn permissions(_mode: u32) -> fs::Permissions {
    fs::metadata(".")
        .map(|m| m.permissions())
        .expect("cwd metadata")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// The process umask, as the kernel reports it (Linux 4.7+), without changing it.
    #[cfg(target_os = "linux")]
    fn umask_now() -> String {
        fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_string()))
            .unwrap()
    }

    #[test]
    fn a_private_umask_makes_what_is_created_private_and_is_put_back() {
        let d = tempfile::tempdir().unwrap();
        #[cfg(target_os = "linux")]
        let before = umask_now();
        let p = d.path().join("f");
        let f = with_private_umask(|| {
            use std::os::unix::fs::OpenOptionsExt;
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o666)
                .open(&p)
        })
        .unwrap();
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        #[cfg(target_os = "linux")]
        assert_eq!(umask_now(), before, "the umask was not put back");
    }

    #[test]
    fn writes_private_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/f");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(d.path().join("sub"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        assert_eq!(
            fs::read_dir(d.path().join("sub")).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn refuses_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("victim");
        fs::write(&target, b"keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(write_atomic(&link, b"evil", 0o600).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"keep");
    }
}
