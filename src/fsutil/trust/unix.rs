//! The trust rule on Unix: ownership and mode bits, checked one path component at a time.

use super::*;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Component;

/// Symbolic links followed in one resolution before giving up (Linux's own limit).
const MAX_LINKS: u32 = 40;

struct Walk {
    euid: u32,
    links: u32,
}

impl Walk {
    fn owner_ok(&self, uid: u32) -> bool {
        uid == self.euid || uid == 0
    }

    fn not_yours(&self, path: &Path, what: &str, uid: u32) -> Untrusted {
        Untrusted::refused(
            path,
            format!(
                "({what}) is owned by uid {uid}, not by you (uid {}) or root",
                self.euid
            ),
        )
    }

    fn check_dir(&self, path: &Path, md: &fs::Metadata) -> Result<(), Untrusted> {
        if !self.owner_ok(md.uid()) {
            return Err(self.not_yours(path, "a directory", md.uid()));
        }
        let mode = md.mode();
        if mode & 0o022 != 0 && mode & 0o1000 == 0 {
            return Err(Untrusted::refused(
                path,
                format!(
                    "(a directory) is writable by group or others (mode {:o}) and not sticky, so they could replace what it holds",
                    mode & 0o7777
                ),
            ));
        }
        Ok(())
    }

    fn lstat(path: &Path) -> Result<fs::Metadata, Untrusted> {
        fs::symlink_metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Untrusted::Missing(path.to_path_buf()),
            _ => Untrusted::Io(path.to_path_buf(), e),
        })
    }

    /// Walks `rest` from `cur` (a resolved, already checked directory), following links.
    fn follow(&mut self, cur: &mut PathBuf, rest: &Path) -> Result<(), Untrusted> {
        for c in rest.components() {
            match c {
                Component::RootDir => *cur = PathBuf::from("/"),
                Component::CurDir | Component::Prefix(_) => {}
                // `cur` holds no link, so its parent is the lexical one.
                Component::ParentDir => {
                    cur.pop();
                }
                Component::Normal(name) => self.step(cur, name)?,
            }
        }
        Ok(())
    }

    fn step(&mut self, cur: &mut PathBuf, name: &OsStr) -> Result<(), Untrusted> {
        let next = cur.join(name);
        let md = Self::lstat(&next)?;
        if md.file_type().is_symlink() {
            if !self.owner_ok(md.uid()) {
                return Err(self.not_yours(&next, "a symbolic link", md.uid()));
            }
            self.links += 1;
            if self.links > MAX_LINKS {
                return Err(Untrusted::refused(
                    &next,
                    format!("leads through more than {MAX_LINKS} symbolic links"),
                ));
            }
            let target = fs::read_link(&next).map_err(|e| Untrusted::Io(next.clone(), e))?;
            // A relative target is relative to the directory holding the link: `cur`.
            return self.follow(cur, &target);
        }
        if md.is_dir() {
            self.check_dir(&next, &md)?;
        }
        *cur = next;
        Ok(())
    }
}

/// Resolves the absolute `path` to the real path it names, checking every directory and
/// symbolic link on the way (see the module docs). The object at the end is not judged
/// (a directory at the end is, like every other directory): callers check it on what they
/// use. `Missing` names the first component that does not exist.
pub fn resolve(path: &Path) -> Result<PathBuf, Untrusted> {
    if !path.is_absolute() {
        return Err(Untrusted::refused(
            path,
            "is a relative path; it would be resolved in whatever directory gocred runs in",
        ));
    }
    let mut w = Walk {
        euid: crate::fsutil::euid(),
        links: 0,
    };
    let root = PathBuf::from("/");
    w.check_dir(&root, &Walk::lstat(&root)?)?;
    let mut cur = root;
    w.follow(&mut cur, path)?;
    Ok(cur)
}

/// Judges the object at the end of a resolved path: a regular file, owned as `owner` says,
/// not writable by group or others.
pub fn check_file(path: &Path, md: &fs::Metadata, owner: Owner) -> Result<(), Untrusted> {
    let ft = md.file_type();
    if !ft.is_file() {
        return Err(Untrusted::refused(
            path,
            format!("is {}, not a regular file", kind(&ft)),
        ));
    }
    let euid = crate::fsutil::euid();
    let ok = md.uid() == euid || (owner == Owner::YouOrRoot && md.uid() == 0);
    if !ok {
        let whom = match owner {
            Owner::YouOrRoot => " or root",
            Owner::You => "",
        };
        return Err(Untrusted::refused(
            path,
            format!(
                "is owned by uid {}, not by you (uid {euid}){whom}",
                md.uid()
            ),
        ));
    }
    if md.mode() & 0o022 != 0 {
        return Err(Untrusted::refused(
            path,
            format!(
                "is writable by group or others (mode {:o})",
                md.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

/// Reads a trusted file: resolves `path` ([`resolve`]), refuses anything but a regular file
/// before opening it, opens it once `O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC`, checks that
/// descriptor with `fstat` ([`check_file`]) and reads at most `max` bytes from it.
/// `Ok(None)`: there is no file (nothing was trusted or read).
pub fn read_file(path: &Path, owner: Owner, max: u64) -> Result<Option<Vec<u8>>, Untrusted> {
    let real = match resolve(path) {
        Ok(r) => r,
        Err(Untrusted::Missing(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    // A FIFO, socket or device is refused without ever being opened.
    match Walk::lstat(&real) {
        Ok(md) if !md.is_file() => check_file(&real, &md, owner)?,
        Ok(_) => {}
        Err(Untrusted::Missing(_)) => return Ok(None),
        Err(e) => return Err(e),
    }
    super::read_checked(path, &real, owner, max)
}

/// `open(2)` for reading that never follows a link at the last component, never blocks
/// (a FIFO), never becomes our controlling terminal, and is closed across exec.
pub fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
}

/// An existing regular file opened for writing (to overwrite what it held), never through a
/// link at the last component; `None` when there is none.
pub fn open_nofollow_write(path: &Path) -> Option<File> {
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .ok()
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file()))
}

/// Opens `path` read-write, creating it 0600 when missing, never through a link at the last
/// component (lock files in a [`private_dir`]).
pub fn open_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// The program `name` as gocred will run it: looked up here on `path_var` (absolute entries
/// only: an empty or relative entry would mean the current directory), or taken as given
/// when it is an absolute path; then resolved and checked ([`resolve`], [`check_file`] with
/// [`Owner::YouOrRoot`] on the file it leads to). Returns that absolute path, links not
/// replaced (a program may look at the name it was started by, as a virtualenv's `python`
/// does): every link on it was checked, so exec finds the same file.
pub fn program(name: &str, path_var: Option<&str>) -> Result<PathBuf, Untrusted> {
    let candidate = if name.contains('/') {
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
    let md = Walk::lstat(&real)?;
    check_file(&real, &md, Owner::YouOrRoot)?;
    if md.mode() & 0o111 == 0 {
        return Err(Untrusted::refused(&real, "is not executable"));
    }
    Ok(candidate)
}

/// A directory only you can use, for state gocred keeps (CI leases, the agent socket):
/// every directory above it passes [`resolve`]; missing components are created one at a time
/// with mode 0700 (never through a link, never reusing one somebody else made meanwhile);
/// the directory itself must be yours (not root's, unless you are root) and is made 0700.
/// Returns the real path.
pub fn private_dir(dir: &Path) -> Result<PathBuf, Untrusted> {
    // Each pass creates one missing component; bounded by the path's length (plus races).
    for _ in 0..dir.components().count() + 8 {
        match resolve(dir) {
            Ok(real) => {
                let md = Walk::lstat(&real)?;
                let euid = crate::fsutil::euid();
                if !md.is_dir() {
                    return Err(Untrusted::refused(
                        &real,
                        format!("is {}, not a directory", kind(&md.file_type())),
                    ));
                }
                if md.uid() != euid {
                    return Err(Untrusted::refused(
                        &real,
                        format!("is owned by uid {}, not by you (uid {euid})", md.uid()),
                    ));
                }
                if md.mode() & 0o7077 != 0 {
                    fs::set_permissions(&real, fs::Permissions::from_mode(0o700))
                        .map_err(|e| Untrusted::Io(real.clone(), e))?;
                }
                return Ok(real);
            }
            Err(Untrusted::Missing(first)) => {
                let mut b = fs::DirBuilder::new();
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                match b.create(&first) {
                    Ok(()) => {}
                    // Someone (maybe us, in parallel) made it: the next pass judges it.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(Untrusted::Io(first, e)),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(Untrusted::refused(
        dir,
        "kept changing while gocred created it",
    ))
}
