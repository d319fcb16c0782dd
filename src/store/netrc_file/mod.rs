//! Reading and replacing a netrc file without ever being tricked into writing somewhere else.
//!
//! Used by `gocred ci` around the pure edits of `crate::netrc`. The rules:
//!
//! * refuse, before anything is written, a target that is a symbolic link, not a regular file
//!   (`NETRC=/dev/stdout`, a FIFO), owned by another user, or hard-linked elsewhere (`nlink > 1`),
//!   a directory that is writable by group or others (even a sticky one: our temporary and lock
//!   files go there), and any directory above it that `fsutil::trust` does not trust (anyone who
//!   can write one of them can swap the file between our check and our write);
//! * one writer at a time: an advisory lock (`flock`) on `<file>.gocred.lock` beside the file,
//!   kept for the whole read-modify-write. Anyone else editing the file while a CI job runs can
//!   hold the same lock (`flock ~/.netrc.gocred.lock -c '…'`);
//! * read through a descriptor opened `O_NOFOLLOW|O_NONBLOCK` (a FIFO cannot hang us) and
//!   re-checked with `fstat`; write a new 0600 file in the same directory, sync it, make sure the
//!   target is still the file we read, and `rename(2)` it over the target (rename replaces the
//!   link itself and never follows it); sync the directory;
//! * an append that slipped into the old file after we read it (a writer that ignores the lock)
//!   is carried over into the new file.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::netrc::FileBytes;

/// Netrc files larger than this are refused (neither reader has a limit; this is a sanity cap).
const MAX_SIZE: u64 = 16 << 20;

/// Where the readers look: `$HOME/.netrc` (git reads only this one) and `$NETRC` (Go) when it
/// names another file. On Windows Go prefers `%USERPROFILE%\_netrc` when it exists.
pub(crate) fn targets(env: &Env) -> Result<Vec<PathBuf>> {
    let home = env.get("HOME").map(PathBuf::from).or_else(home_fallback);
    let home = home.filter(|h| h.is_absolute()).ok_or_else(|| {
        Error::with_hint(
            "HOME is not set to an absolute path; git reads its netrc only from $HOME/.netrc",
            "set HOME for the job",
        )
    })?;
    let mut out = vec![home.join(".netrc")];
    #[cfg(windows)]
    if let Some(profile) = env.get("USERPROFILE") {
        let legacy = Path::new(profile).join("_netrc");
        if legacy.exists() {
            out.push(legacy);
        }
    }
    if let Some(n) = env.get("NETRC") {
        let p = std::path::absolute(n).map_err(|e| Error::io(format!("resolving NETRC={n}"), e))?;
        out.push(p);
    }
    let mut seen = Vec::new();
    out.retain(|p| {
        let key = same_file_key(p);
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    Ok(out)
}

#[cfg(windows)]
fn home_fallback() -> Option<PathBuf> {
    dirs::home_dir()
}

#[cfg(not(windows))]
fn home_fallback() -> Option<PathBuf> {
    None
}

/// The parent directory resolved, plus the file name: two spellings of one file compare equal.
fn same_file_key(p: &Path) -> PathBuf {
    match (
        p.parent().and_then(|d| fs::canonicalize(d).ok()),
        p.file_name(),
    ) {
        (Some(d), Some(n)) => d.join(n),
        _ => p.to_path_buf(),
    }
}

/// The file as read under the lock.
pub(crate) struct Snapshot {
    /// `None`: there is no file yet.
    pub content: Option<FileBytes>,
    /// Permission bits of the existing file.
    pub mode: Option<u32>,
    identity: Option<Identity>,
}

/// What to do with the file.
pub(crate) enum Change {
    Keep,
    Write {
        content: FileBytes,
        mode: u32,
    },
    /// Remove the file (only ever for a file gocred created and left empty).
    Delete,
}

/// What [`edit`] did.
#[derive(Debug, Default)]
pub(crate) struct Edited {
    pub changed: bool,
}

fn refuse(path: &Path, why: impl std::fmt::Display, hint: &str) -> Error {
    Error::with_hint(
        format!("refusing to write {}: {why}", path.display()),
        hint.to_string(),
    )
}

fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Every refusal, checked without writing anything (not even the lock file).
pub(crate) fn preflight(path: &Path) -> Result<()> {
    platform::check_dir(path, dir_of(path))?;
    match fs::symlink_metadata(path) {
        Ok(md) => platform::check_target(path, &md),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("checking {}", path.display()), e)),
    }
}

/// Reads the file (under the lock), for checks after an edit. `None`: no file.
pub(crate) fn read(path: &Path) -> Result<Option<FileBytes>> {
    preflight(path)?;
    let _lock = platform::NetrcLock::acquire(path)?;
    Ok(read_locked(path)?.0.content)
}

/// Locks, reads and replaces `path` with what `decide` returns; retries when another writer got
/// in between. Nothing is written when a check fails.
pub(crate) fn edit(
    path: &Path,
    decide: &mut dyn FnMut(&Snapshot) -> Result<Change>,
) -> Result<Edited> {
    preflight(path)?;
    let _lock = platform::NetrcLock::acquire(path)?;
    remove_stale_temps(path);
    for _ in 0..20 {
        let (snap, old) = read_locked(path)?;
        let edited = Edited { changed: true };
        match decide(&snap)? {
            Change::Keep => return Ok(Edited { changed: false }),
            Change::Delete => {
                if snap.identity.is_none() {
                    return Ok(Edited { changed: false });
                }
                if current_identity(path)? != snap.identity {
                    continue;
                }
                fs::remove_file(path)
                    .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                sync_dir(dir_of(path));
                return Ok(edited);
            }
            Change::Write { content, mode } => {
                if replace(path, &snap, old, content, mode)? {
                    return Ok(edited);
                }
            }
        }
    }
    Err(Error::with_hint(
        format!(
            "{} kept changing while gocred tried to update it",
            path.display()
        ),
        "something rewrites the file in a loop; stop it and run the command again",
    ))
}

fn read_locked(path: &Path) -> Result<(Snapshot, Option<File>)> {
    let none = Snapshot {
        content: None,
        mode: None,
        identity: None,
    };
    let mut file = match platform::open_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((none, None)),
        Err(e) => {
            // A symlink swapped in after preflight shows up here (ELOOP).
            preflight(path)?;
            return Err(Error::io(format!("opening {}", path.display()), e));
        }
    };
    let md = file
        .metadata()
        .map_err(|e| Error::io(format!("checking {}", path.display()), e))?;
    platform::check_target(path, &md)?;
    if Some(Identity::of(&md)) != current_identity(path)? {
        return Err(refuse(
            path,
            "it changed while being opened",
            "run the command again",
        ));
    }
    if md.len() > MAX_SIZE {
        return Err(refuse(
            path,
            "it is larger than 16 MiB",
            "is this really a netrc file?",
        ));
    }
    let mut bytes = Vec::with_capacity(md.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let snap = Snapshot {
        content: Some(FileBytes::new(bytes)),
        mode: Some(platform::mode(&md)),
        identity: Some(Identity::of(&md)),
    };
    Ok((snap, Some(file)))
}

/// Writes `content` beside `path` and renames it over. `Ok(false)`: the file changed under us,
/// read it again.
fn replace(
    path: &Path,
    snap: &Snapshot,
    old: Option<File>,
    content: FileBytes,
    mode: u32,
) -> Result<bool> {
    let ctx = |what: &str| format!("{what} {}", path.display());
    let dir = dir_of(path);
    let prefix = temp_prefix(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(platform::permissions(mode))
        .tempfile_in(dir)
        .map_err(|e| Error::io(ctx("creating a temporary file beside"), e))?;
    tmp.write_all(content.as_slice())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(ctx("writing"), e))?;
    if current_identity(path)? != snap.identity {
        return Ok(false);
    }
    tmp.persist(path)
        .map_err(|e| Error::io(ctx("replacing"), e.error))?;
    sync_dir(dir);
    // A writer that ignored the lock may have appended to the old file after we read it.
    let (Some(mut old), Some(before)) = (old, snap.content.as_ref()) else {
        return Ok(true);
    };
    let mut now = Vec::new();
    let grew = old.seek(SeekFrom::Start(0)).is_ok()
        && old.read_to_end(&mut now).is_ok()
        && now.len() > before.len()
        && now.starts_with(before.as_slice());
    if grew {
        let mut carried = content;
        carried.extend(&now[before.len()..]);
        let (snap, old) = read_locked(path)?;
        return replace(path, &snap, old, carried, mode);
    }
    Ok(true)
}

/// The prefix of `path`'s temporary files: named after the target, so [`remove_stale_temps`]
/// only ever touches files a holder of this target's lock made.
fn temp_prefix(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    format!(".gocred-netrc-{}-", name.unwrap_or_default())
}

/// Removes what a writer killed between creating its temporary file and renaming it (SIGKILL,
/// power loss) left beside `path`: a 0600 copy of the file, with the job's tokens, that would
/// otherwise outlive the job and its wipe. Called under `path`'s lock, so no live writer of this
/// target owns one; the directory was checked (nobody else can write it). Regular files only.
fn remove_stale_temps(path: &Path) {
    let prefix = temp_prefix(path);
    let Ok(entries) = fs::read_dir(dir_of(path)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let stale = name.starts_with(&prefix) && name.ends_with(".tmp");
        if stale && fs::symlink_metadata(e.path()).is_ok_and(|m| m.file_type().is_file()) {
            let _ = fs::remove_file(e.path());
        }
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Which file a path names right now, and its size and change times.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity(Vec<i128>);

impl Identity {
    fn of(md: &fs::Metadata) -> Identity {
        Identity(platform::identity(md))
    }
}

fn current_identity(path: &Path) -> Result<Option<Identity>> {
    match fs::symlink_metadata(path) {
        Ok(md) => Ok(Some(Identity::of(&md))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("checking {}", path.display()), e)),
    }
}

#[cfg(unix)]
#[path = "unix.rs"]
mod platform;
#[cfg(not(unix))]
#[path = "other.rs"]
mod platform;

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn private_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    fn append(path: &Path, extra: &[u8]) -> Result<Edited> {
        edit(path, &mut |snap| {
            let mut c = snap.content.clone().unwrap_or_default();
            c.extend(extra);
            Ok(Change::Write {
                content: c,
                mode: 0o600,
            })
        })
    }

    #[test]
    fn creates_then_edits_private() {
        let d = private_dir();
        let p = d.path().join(".netrc");
        assert!(!p.exists());
        assert!(append(&p, b"one\n").unwrap().changed);
        assert!(append(&p, b"two\n").unwrap().changed);
        assert_eq!(fs::read(&p).unwrap(), b"one\ntwo\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let leftovers: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn refusals_write_nothing() {
        let d = private_dir();
        let victim = d.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let e = append(&link, b"x").unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let hard = d.path().join("hard");
        fs::hard_link(&victim, &hard).unwrap();
        let e = append(&hard, b"x").unwrap_err().to_string();
        assert!(e.contains("hard links"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        let e = append(Path::new("/dev/null"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("/dev"), "{e}");
        assert!(!d.path().join("link.gocred.lock").exists());
        assert!(!d.path().join("hard.gocred.lock").exists());
    }

    #[test]
    fn open_directories_are_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let e = append(&d.path().join(".netrc"), b"x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn delete_and_keep() {
        let d = private_dir();
        let p = d.path().join("n");
        append(&p, b"x").unwrap();
        let e = edit(&p, &mut |_| Ok(Change::Keep)).unwrap();
        assert!(!e.changed);
        edit(&p, &mut |_| Ok(Change::Delete)).unwrap();
        assert!(!p.exists());
    }

    #[test]
    fn two_spellings_of_netrc_are_one_target() {
        let d = private_dir();
        let home = d.path().to_str().unwrap();
        let env = Env::from_pairs([("HOME", home), ("NETRC", &format!("{home}/./.netrc"))]);
        assert_eq!(targets(&env).unwrap().len(), 1);
        let env = Env::from_pairs([("HOME", home), ("NETRC", &format!("{home}/other"))]);
        assert_eq!(targets(&env).unwrap().len(), 2);
        assert!(targets(&Env::from_pairs([("HOME", "rel")])).is_err());
    }
}
