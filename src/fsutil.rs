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
