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

#[cfg(unix)]
pub use imp::*;

#[cfg(unix)]
mod imp {
    use super::*;
    use std::ffi::OsStr;
    use std::fs::{File, OpenOptions};
    use std::io::Read;
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
        let file = match open_nofollow(&real) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                // Swapped for a link or a socket since the look above (only you or root can).
                return Err(Untrusted::Io(path.to_path_buf(), e));
            }
        };
        let md = file
            .metadata()
            .map_err(|e| Untrusted::Io(path.to_path_buf(), e))?;
        check_file(&real, &md, owner)?;
        let mut bytes = Vec::new();
        (&file)
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Untrusted::Io(path.to_path_buf(), e))?;
        if bytes.len() as u64 > max {
            return Err(Untrusted::refused(
                &real,
                format!("is larger than {} KiB", max / 1024),
            ));
        }
        Ok(Some(bytes))
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
}

#[cfg(windows)]
pub use win::*;

/// Windows: the same entry points, checking what Windows lets a program check without reading
/// security descriptors. Paths must be absolute and on a drive or share (never a device or pipe
/// namespace); no component may be a reparse point (symbolic link, junction, mount point, app
/// execution alias): gocred cannot tell who made one, so it follows none and says so; the object
/// at the end must be a regular file, opened without following a reparse point and judged on
/// that handle. Owners and ACLs are not checked (std has no access to them): the default ACLs of
/// the user profile, where the config, state and caches live, admit only you, SYSTEM and
/// Administrators. docs/trust.md says what that leaves out.
#[cfg(windows)]
mod win {
    use super::*;
    use std::fs::{File, OpenOptions};
    use std::io::Read;
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
                Component::Prefix(p) => {
                    match p.kind() {
                        Prefix::Disk(_)
                        | Prefix::VerbatimDisk(_)
                        | Prefix::UNC(..)
                        | Prefix::VerbatimUNC(..) => cur.push(c.as_os_str()),
                        _ => return Err(Untrusted::refused(
                            path,
                            "is not on a drive or network share (a device or verbatim namespace)",
                        )),
                    }
                }
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
        let file = match open_nofollow(&real) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Untrusted::Io(path.to_path_buf(), e)),
        };
        let md = file
            .metadata()
            .map_err(|e| Untrusted::Io(path.to_path_buf(), e))?;
        check_file(&real, &md, owner)?;
        let mut bytes = Vec::new();
        (&file)
            .take(max + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Untrusted::Io(path.to_path_buf(), e))?;
        if bytes.len() as u64 > max {
            return Err(Untrusted::refused(
                &real,
                format!("is larger than {} KiB", max / 1024),
            ));
        }
        Ok(Some(bytes))
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
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    fn refused(r: Result<impl std::fmt::Debug, Untrusted>) -> String {
        match r {
            Err(e @ Untrusted::Refused { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reads_files_refuses_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("c.toml");
        fs::write(&f, b"x = 1\n").unwrap();
        assert_eq!(
            read_file(&f, Owner::You, MAX_READ).unwrap().unwrap(),
            b"x = 1\n"
        );
        assert!(
            read_file(&d.path().join("no\\dir\\f"), Owner::You, MAX_READ)
                .unwrap()
                .is_none()
        );
        let e = refused(read_file(Path::new("c.toml"), Owner::You, MAX_READ));
        assert!(e.contains("relative"), "{e}");
        let e = refused(read_file(Path::new("\\\\.\\pipe\\x"), Owner::You, MAX_READ));
        assert!(e.contains("not on a drive"), "{e}");
        let e = refused(read_file(d.path(), Owner::You, MAX_READ));
        assert!(e.contains("a directory"), "{e}");
        fs::write(&f, vec![b'a'; 4096]).unwrap();
        let e = refused(read_file(&f, Owner::You, 1024));
        assert!(e.contains("larger than 1 KiB"), "{e}");
    }

    #[test]
    #[allow(clippy::print_stderr)]
    fn links_are_refused_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("real.toml");
        fs::write(&f, b"x").unwrap();
        let link = d.path().join("link.toml");
        // Symbolic links need Developer Mode or an elevated token.
        if let Err(e) = std::os::windows::fs::symlink_file(&f, &link) {
            eprintln!("skipped: cannot create a symbolic link here: {e}");
            return;
        }
        let e = refused(read_file(&link, Owner::You, MAX_READ));
        assert!(e.contains("reparse point"), "{e}");
        let sub = d.path().join("sub");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("f"), b"x").unwrap();
        std::os::windows::fs::symlink_dir(&sub, d.path().join("dlink")).unwrap();
        let e = refused(read_file(&d.path().join("dlink\\f"), Owner::You, MAX_READ));
        assert!(e.contains("reparse point"), "{e}");
    }

    #[test]
    fn programs_need_an_absolute_path_and_a_runnable_extension() {
        let d = tempfile::tempdir().unwrap();
        let prog = d.path().join("tok.exe");
        fs::write(&prog, b"MZ").unwrap();
        fs::write(d.path().join("notes.txt"), b"").unwrap();
        let path_var = format!("relative;{}", d.path().display());
        assert_eq!(program("tok", Some(&path_var)).unwrap(), prog);
        assert_eq!(program("tok.exe", Some(&path_var)).unwrap(), prog);
        assert_eq!(program(prog.to_str().unwrap(), None).unwrap(), prog);
        assert!(program("tok", Some("relative")).unwrap_err().is_missing());
        let e = refused(program(".\\tok.exe", Some(&path_var)));
        assert!(e.contains("relative"), "{e}");
        let txt = d.path().join("notes.txt");
        let e = refused(program(txt.to_str().unwrap(), None));
        assert!(e.contains("not a program"), "{e}");
    }

    #[test]
    fn private_dirs_are_created_one_at_a_time() {
        let d = tempfile::tempdir().unwrap();
        let want = d.path().join("a\\b\\c");
        let real = private_dir(&want).unwrap();
        assert!(real.is_dir());
        assert_eq!(private_dir(&want).unwrap(), real);
        fs::write(d.path().join("file"), b"").unwrap();
        let e = refused(private_dir(&d.path().join("file")));
        assert!(e.contains("not a directory"), "{e}");
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn private_tmp() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o700)).unwrap();
        d
    }

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn refused(r: Result<impl std::fmt::Debug, Untrusted>) -> String {
        match r {
            Err(e @ Untrusted::Refused { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_private_file_and_misses_quietly() {
        let d = private_tmp();
        let f = d.path().join("c.toml");
        fs::write(&f, b"x = 1\n").unwrap();
        chmod(&f, 0o644);
        assert_eq!(
            read_file(&f, Owner::YouOrRoot, MAX_READ).unwrap().unwrap(),
            b"x = 1\n"
        );
        assert!(
            read_file(&d.path().join("none"), Owner::YouOrRoot, MAX_READ)
                .unwrap()
                .is_none()
        );
        assert!(
            read_file(&d.path().join("no/dir/f"), Owner::YouOrRoot, MAX_READ)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn relative_paths_are_refused() {
        let e = refused(read_file(Path::new("c.toml"), Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("relative"), "{e}");
        let e = refused(resolve(Path::new("./a/b")));
        assert!(e.contains("relative"), "{e}");
    }

    #[test]
    fn links_are_followed_through_trusted_places_only() {
        let d = private_tmp();
        let real = d.path().join("real");
        fs::create_dir(&real).unwrap();
        fs::write(real.join("f"), b"ok").unwrap();
        symlink("real", d.path().join("rel")).unwrap();
        symlink(real.join("f"), d.path().join("flink")).unwrap();
        let canon = fs::canonicalize(&real).unwrap();
        assert_eq!(resolve(&d.path().join("rel/f")).unwrap(), canon.join("f"));
        assert_eq!(resolve(&d.path().join("flink")).unwrap(), canon.join("f"));
        assert_eq!(
            read_file(&d.path().join("flink"), Owner::You, MAX_READ)
                .unwrap()
                .unwrap(),
            b"ok"
        );
        // The link target's directory is judged like any other.
        let open = d.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::write(open.join("f"), b"evil").unwrap();
        chmod(&open, 0o777);
        symlink(open.join("f"), d.path().join("to-open")).unwrap();
        let e = refused(read_file(&d.path().join("to-open"), Owner::You, MAX_READ));
        assert!(e.contains("writable by group or others"), "{e}");
        // Loops end.
        symlink("loop2", d.path().join("loop1")).unwrap();
        symlink("loop1", d.path().join("loop2")).unwrap();
        let e = refused(resolve(&d.path().join("loop1")));
        assert!(e.contains("symbolic links"), "{e}");
    }

    #[test]
    fn fifo_and_devices_are_refused_at_once() {
        let d = private_tmp();
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo(3) on a NUL-terminated path we own.
        #[allow(unsafe_code)]
        let r = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(r, 0);
        let started = std::time::Instant::now();
        let e = refused(read_file(&fifo, Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("a FIFO"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let e = refused(read_file(
            Path::new("/dev/null"),
            Owner::YouOrRoot,
            MAX_READ,
        ));
        assert!(e.contains("a character device"), "{e}");
        let sock = d.path().join("sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = refused(read_file(&sock, Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("a socket"), "{e}");
        let e = refused(read_file(d.path(), Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("a directory"), "{e}");
    }

    #[test]
    fn group_writable_files_and_dirs_are_refused() {
        let d = private_tmp();
        let f = d.path().join("f");
        fs::write(&f, b"x").unwrap();
        chmod(&f, 0o664);
        let e = refused(read_file(&f, Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("writable by group or others (mode 664)"), "{e}");
        chmod(&f, 0o600);
        chmod(d.path(), 0o770);
        let e = refused(read_file(&f, Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("(a directory) is writable"), "{e}");
        // Sticky: the entry's own owner is what counts.
        chmod(d.path(), 0o1777);
        assert!(read_file(&f, Owner::YouOrRoot, MAX_READ).unwrap().is_some());
        chmod(d.path(), 0o700);
    }

    /// A uid nobody uses here, to own what an attacker would plant.
    const OTHER: u32 = 61_001;

    #[test]
    #[allow(clippy::print_stderr)]
    fn other_owned_files_links_and_dirs_are_refused() {
        if crate::fsutil::euid() != 0 {
            eprintln!("skipped: needs root to give files to another uid");
            return;
        }
        let d = private_tmp();
        let f = d.path().join("f");
        fs::write(&f, b"x").unwrap();
        std::os::unix::fs::chown(&f, Some(OTHER), Some(OTHER)).unwrap();
        let e = refused(read_file(&f, Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("owned by uid 61001"), "{e}");
        std::os::unix::fs::chown(&f, Some(0), Some(0)).unwrap();
        let link = d.path().join("link");
        symlink(&f, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(OTHER), Some(OTHER)).unwrap();
        let e = refused(read_file(&link, Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("(a symbolic link) is owned by uid 61001"), "{e}");
        let sub = d.path().join("sub");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("f"), b"x").unwrap();
        std::os::unix::fs::chown(&sub, Some(OTHER), Some(OTHER)).unwrap();
        let e = refused(read_file(&sub.join("f"), Owner::YouOrRoot, MAX_READ));
        assert!(e.contains("(a directory) is owned by uid 61001"), "{e}");
        // In a sticky shared directory, an entry someone else made is theirs to swap.
        chmod(d.path(), 0o1777);
        let e = refused(private_dir(&sub));
        assert!(e.contains("owned by uid 61001"), "{e}");
        chmod(d.path(), 0o700);
    }

    #[test]
    fn size_is_bounded() {
        let d = private_tmp();
        let f = d.path().join("big");
        fs::write(&f, vec![b'a'; 4096]).unwrap();
        let e = refused(read_file(&f, Owner::You, 1024));
        assert!(e.contains("larger than 1 KiB"), "{e}");
    }

    #[test]
    fn programs_resolve_once_to_a_checked_absolute_path() {
        let d = private_tmp();
        let bin = d.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let prog = bin.join("tok");
        fs::write(&prog, b"#!/bin/sh\n").unwrap();
        chmod(&prog, 0o755);
        let path_var = format!("relative/dir::{}", bin.display());
        assert_eq!(program("tok", Some(&path_var)).unwrap(), prog);
        assert_eq!(program(prog.to_str().unwrap(), None).unwrap(), prog);
        // Through a link: the link's path is run, the file it leads to is what is checked.
        let link = d.path().join("tok-link");
        symlink(&prog, &link).unwrap();
        assert_eq!(program(link.to_str().unwrap(), None).unwrap(), link);
        chmod(&prog, 0o777);
        let e = refused(program(link.to_str().unwrap(), None));
        assert!(e.contains("bin/tok is writable"), "{e}");
        chmod(&prog, 0o755);
        assert!(program("tok", Some("relative/dir"))
            .unwrap_err()
            .is_missing());
        let e = refused(program("./tok", Some(&path_var)));
        assert!(e.contains("relative"), "{e}");
        chmod(&prog, 0o757);
        let e = refused(program("tok", Some(&path_var)));
        assert!(e.contains("writable by group or others"), "{e}");
        chmod(&prog, 0o755);
        chmod(&bin, 0o775);
        let e = refused(program("tok", Some(&path_var)));
        assert!(e.contains("(a directory) is writable"), "{e}");
        chmod(&bin, 0o755);
        chmod(&prog, 0o644);
        assert!(program("tok", Some(&path_var)).is_err());
        // Root's own programs are fine.
        assert!(program("sh", Some("/bin:/usr/bin")).is_ok());
    }

    #[test]
    fn private_dirs_are_created_0700_and_checked() {
        let d = private_tmp();
        let want = d.path().join("a/b/c");
        let real = private_dir(&want).unwrap();
        for p in [d.path().join("a"), d.path().join("a/b"), real.clone()] {
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
                0o700,
                "{}",
                p.display()
            );
        }
        chmod(&real, 0o755);
        private_dir(&want).unwrap();
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o700
        );
        fs::write(d.path().join("file"), b"").unwrap();
        let e = refused(private_dir(&d.path().join("file")));
        assert!(e.contains("not a directory"), "{e}");
        chmod(&d.path().join("a"), 0o777);
        let e = refused(private_dir(&want));
        assert!(e.contains("writable by group or others"), "{e}");
    }
}
