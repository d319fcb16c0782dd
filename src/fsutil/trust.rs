//! What gocred trusts on the file system: one rule for everything it reads or runs as trusted.
//!
//! The config file (it can name programs to run), the programs `command` rules name, the
//! directory a netrc file is replaced in, and the private directory that holds CI leases and the
//! `ci exec --no-file` socket all pass through here. The rule (docs/trust.md):
//!
//! * the path is absolute (a relative one would be resolved wherever git happens to run us,
//!   which is the top of a work tree someone else may have written);
//! * every directory on the way, from `/`, is owned by you or root and is not writable by group
//!   or others, unless it is sticky (`/tmp`): there only an entry's owner can rename or remove
//!   it, and every entry gocred goes through must itself be yours or root's;
//! * every symbolic link on the way is owned by you or root, and is followed here, one component
//!   at a time, with the same checks on the path it points to (at most 40 links);
//! * the object at the end is checked on what is actually used: a file to read is opened
//!   `O_NOFOLLOW|O_NONBLOCK` (a FIFO or device never blocks us, and is refused) and checked with
//!   `fstat` on that descriptor, then read from it, bounded; a program is a regular executable
//!   file owned by you or root and not writable by group or others.
//!
//! Once every directory above an object is trusted, nobody but you or root can swap anything on
//! that path, so later uses of the same resolved path (exec, rename) see the checked object.

use std::fs;
use std::path::{Path, PathBuf};

/// Why a path cannot be trusted.
#[derive(Debug)]
pub enum Untrusted {
    /// This component does not exist (nothing there to trust yet).
    Missing(PathBuf),
    /// The system refused to look at this component.
    Io(PathBuf, std::io::Error),
    /// This component exists, but someone other than you (or root) could change it.
    Refused { path: PathBuf, why: String },
}

impl Untrusted {
    fn refused(path: &Path, why: impl Into<String>) -> Untrusted {
        Untrusted::Refused {
            path: path.to_path_buf(),
            why: why.into(),
        }
    }

    pub fn is_missing(&self) -> bool {
        matches!(self, Untrusted::Missing(_))
    }
}

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Untrusted::Missing(p) => write!(f, "{} does not exist", p.display()),
            Untrusted::Io(p, e) => write!(f, "cannot check {}: {e}", p.display()),
            Untrusted::Refused { path, why } => write!(f, "{} {why}", path.display()),
        }
    }
}

/// Who may own the object at the end of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// You or root (the config file, programs: root-installed ones are normal).
    YouOrRoot,
    /// Only you (files and directories gocred itself creates and keeps secrets in).
    You,
}

/// Largest file [`read_file`] accepts from a caller that gives no smaller limit.
pub const MAX_READ: u64 = 1 << 20;

/// How a file type reads in a message: `a FIFO`, `a character device`, ...
pub fn kind(ft: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO";
        }
        if ft.is_char_device() {
            return "a character device";
        }
        if ft.is_block_device() {
            return "a block device";
        }
        if ft.is_socket() {
            return "a socket";
        }
    }
    if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Whether a file type is a Unix socket (never, on Windows: gocred makes none there).
pub fn is_socket(ft: &fs::FileType) -> bool {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileTypeExt::is_socket(ft)
    }
    #[cfg(windows)]
    {
        let _ = ft;
        false
    }
}

/// The end of [`read_file`] on every OS, once `real` (the resolved `path`) is trusted: opened
/// without following a link (gone: `None`; swapped for a link or a socket since the look, which
/// only you or root could do: refused), checked on that descriptor, read from it, bounded.
fn read_checked(
    path: &Path,
    real: &Path,
    owner: Owner,
    max: u64,
) -> Result<Option<Vec<u8>>, Untrusted> {
    use std::io::Read;
    let file = match open_nofollow(real) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Untrusted::Io(path.to_path_buf(), e)),
    };
    let md = file
        .metadata()
        .map_err(|e| Untrusted::Io(path.to_path_buf(), e))?;
    check_file(real, &md, owner)?;
    let mut bytes = Vec::new();
    (&file)
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Untrusted::Io(path.to_path_buf(), e))?;
    if bytes.len() as u64 > max {
        return Err(Untrusted::refused(
            real,
            format!("is larger than {} KiB", max / 1024),
        ));
    }
    Ok(Some(bytes))
}

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(all(test, unix))]
mod tests;
#[cfg(all(test, windows))]
mod windows_tests;
