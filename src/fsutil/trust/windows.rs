//! Windows: the same entry points, checking what Windows lets a program check without reading
//! security descriptors. Paths must be absolute and on a drive or share (never a device or pipe
//! namespace); no component may be a reparse point (symbolic link, junction, mount point, app
//! execution alias): gocred cannot tell who made one, so it follows none and says so; the object
//! at the end must be a regular file, opened without following a reparse point and judged on
//! that handle. Owners and ACLs are not checked (std has no access to them): the default ACLs of
//! the user profile, where the config, state and caches live, admit only you, SYSTEM and
//! Administrators. docs/trust.md says what that leaves out.

use super::*;
use std::fs::{File, OpenOptions};
use std::os::windows::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Prefix};

/// `FILE_ATTRIBUTE_REPARSE_POINT` (winnt.h).
const REPARSE_POINT: u32 = 0x0000_0400;
/// `FILE_FLAG_OPEN_REPARSE_POINT` (winbase.h): open a reparse point itself, never its target.
const OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// What a program's name may end in to be run directly by `CreateProcess` (or, for the
/// scripts, through `cmd.exe` as Rust's `Command` does).
pub const PROGRAM_EXTENSIONS: [&str; 4] = ["exe", "com", "bat", "cmd"];

fn is_reparse(md: &fs::Metadata) -> bool {
    md.file_type().is_symlink() || md.file_attributes() & REPARSE_POINT != 0
}

fn lstat(path: &Path) -> Result<fs::Metadata, Untrusted> {
    fs::symlink_metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Untrusted::Missing(path.to_path_buf()),
        _ => Untrusted::Io(path.to_path_buf(), e),
    })
}

fn no_reparse(path: &Path, md: &fs::Metadata) -> Result<(), Untrusted> {
    if is_reparse(md) {
        return Err(Untrusted::refused(
            path,
            "is a symbolic link, junction or other reparse point; on Windows gocred cannot check who made one, so it follows none (name the real path)",
        ));
    }
    Ok(())
}

/// Checks the absolute `path` component by component (see the module docs) and returns it,
/// `.` and `..` removed. `Missing` names the first component that does not exist.
pub fn resolve(path: &Path) -> Result<PathBuf, Untrusted> {
    if !path.is_absolute() {
        return Err(Untrusted::refused(
            path,
            "is a relative path; it would be resolved in whatever directory gocred runs in",
        ));
    }
    let mut cur = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Prefix(p) => match p.kind() {
                Prefix::Disk(_)
                | Prefix::VerbatimDisk(_)
                | Prefix::UNC(..)
                | Prefix::VerbatimUNC(..) => cur.push(c.as_os_str()),
                _ => {
                    return Err(Untrusted::refused(
                        path,
                        "is not on a drive or network share (a device or verbatim namespace)",
                    ))
                }
            },
            Component::RootDir => cur.push(c.as_os_str()),
            Component::CurDir => {}
            // No component is a link, so the parent is the lexical one.
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(name) => {
                cur.push(name);
                no_reparse(&cur, &lstat(&cur)?)?;
            }
        }
    }
    Ok(cur)
}

/// Judges the object at the end of a resolved path: a regular file, not a reparse point.
/// `owner` is not checked on Windows (see the module docs).
pub fn check_file(path: &Path, md: &fs::Metadata, _owner: Owner) -> Result<(), Untrusted> {
    no_reparse(path, md)?;
    if !md.file_type().is_file() {
        return Err(Untrusted::refused(
            path,
            format!("is {}, not a regular file", kind(&md.file_type())),
        ));
    }
    Ok(())
}

/// Reads a trusted file: [`resolve`], anything but a regular file refused before it is
/// opened, opened once without following a reparse point, [`check_file`] on that handle, at
/// most `max` bytes read from it. `Ok(None)`: there is no file.
pub fn read_file(path: &Path, owner: Owner, max: u64) -> Result<Option<Vec<u8>>, Untrusted> {
    let real = match resolve(path) {
        Ok(r) => r,
        Err(Untrusted::Missing(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    match lstat(&real) {
        Ok(md) if !md.is_file() => check_file(&real, &md, owner)?,
        Ok(_) => {}
        Err(Untrusted::Missing(_)) => return Ok(None),
        Err(e) => return Err(e),
    }
    super::read_checked(path, &real, owner, max)
}

/// Opens `path` for reading without following a reparse point at the last component (the
/// handle is then the link itself, which [`check_file`] refuses).
pub fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_REPARSE_POINT)
        .open(path)
}

/// An existing regular file opened for writing (to overwrite what it held), never through a
/// reparse point; `None` when there is none.
pub fn open_nofollow_write(path: &Path) -> Option<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(OPEN_REPARSE_POINT)
        .open(path)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file() && !is_reparse(&m)))
}

/// Opens `path` read-write, creating it when missing, never through a reparse point (lock
/// files in a [`private_dir`]).
pub fn open_private(path: &Path) -> std::io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(OPEN_REPARSE_POINT)
        .open(path)?;
    let md = f.metadata()?;
    if is_reparse(&md) || !md.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a reparse point or something else)",
        ));
    }
    Ok(f)
}

/// The program `name` as gocred will run it: a path (it holds `\` or `/`) must be absolute;
/// a bare name is looked up on `path_var` (absolute entries only, with the extensions of
/// [`PROGRAM_EXTENSIONS`] tried as `cmd.exe` would); then [`resolve`]d and [`check_file`]d.
pub fn program(name: &str, path_var: Option<&str>) -> Result<PathBuf, Untrusted> {
    let candidate = if name.contains(['/', '\\']) {
        let p = PathBuf::from(name);
        if !p.is_absolute() {
            return Err(Untrusted::refused(
                &p,
                "is a relative path; name the program by an absolute path, or put it on PATH",
            ));
        }
        p
    } else {
        crate::proc::which(name, path_var).ok_or_else(|| {
            Untrusted::Missing(PathBuf::from(format!(
                "`{name}` on PATH (absolute entries only)"
            )))
        })?
    };
    let real = resolve(&candidate)?;
    check_file(&real, &lstat(&real)?, Owner::YouOrRoot)?;
    let ext = real
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !ext.is_some_and(|e| PROGRAM_EXTENSIONS.contains(&e.as_str())) {
        return Err(Untrusted::refused(
            &real,
            "is not a program Windows runs directly (.exe, .com, .bat or .cmd)",
        ));
    }
    Ok(real)
}

/// A directory for gocred's own state: every component passes [`resolve`]; missing ones are
/// created one at a time (inheriting the profile's ACL), never through a reparse point.
pub fn private_dir(dir: &Path) -> Result<PathBuf, Untrusted> {
    for _ in 0..dir.components().count() + 8 {
        match resolve(dir) {
            Ok(real) => {
                let md = lstat(&real)?;
                if !md.is_dir() {
                    return Err(Untrusted::refused(
                        &real,
                        format!("is {}, not a directory", kind(&md.file_type())),
                    ));
                }
                return Ok(real);
            }
            Err(Untrusted::Missing(first)) => match fs::create_dir(&first) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Untrusted::Io(first, e)),
            },
            Err(e) => return Err(e),
        }
    }
    Err(Untrusted::refused(
        dir,
        "kept changing while gocred created it",
    ))
}
