//! The Unix checks behind `store::netrc_file`: ownership, modes, link counts and file types,
//! `O_NOFOLLOW|O_NONBLOCK` opens, and the `flock` on `<file>.gocred.lock`.

use super::*;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};

pub(crate) fn check_dir(path: &Path, dir: &Path) -> Result<()> {
    use crate::fsutil::trust::{self, Untrusted};
    // The whole chain: whoever can write any directory above could swap this one.
    let abs = std::path::absolute(dir)
        .map_err(|e| Error::io(format!("checking the directory of {}", path.display()), e))?;
    let real = match trust::resolve(&abs) {
        Ok(r) => r,
        Err(Untrusted::Missing(p)) => {
            return Err(Error::io(
                format!(
                    "checking the directory of {} ({})",
                    path.display(),
                    p.display()
                ),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ))
        }
        Err(Untrusted::Io(p, e)) => {
            return Err(Error::io(format!("checking {}", p.display()), e));
        }
        Err(e) => {
            return Err(refuse(
                path,
                e.to_string(),
                "set HOME (or NETRC) to a place only you (or root) can change",
            ))
        }
    };
    let md = fs::metadata(&real)
        .map_err(|e| Error::io(format!("checking the directory of {}", path.display()), e))?;
    if !md.is_dir() {
        return Err(refuse(
            path,
            format!("{} is not a directory", dir.display()),
            "",
        ));
    }
    // Its own directory may not even be a sticky shared one: gocred creates its temporary file
    // and lock file there.
    if md.mode() & 0o022 != 0 {
        return Err(refuse(
            path,
            format!(
                "its directory {} is writable by group or others (mode {:o}), so anyone could swap the file",
                dir.display(),
                md.mode() & 0o7777
            ),
            &format!("chmod go-w {}, or set HOME to a private directory", dir.display()),
        ));
    }
    Ok(())
}

pub(crate) fn check_target(path: &Path, md: &fs::Metadata) -> Result<()> {
    let ft = md.file_type();
    if ft.is_symlink() {
        let to = fs::read_link(path)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        return Err(refuse(
            path,
            format!("it is a symbolic link{to}; gocred never writes through a link"),
            "replace the link with a regular file, or point NETRC at one",
        ));
    }
    if !ft.is_file() {
        let kind = crate::fsutil::trust::kind(&ft);
        return Err(refuse(
            path,
            format!("it is {kind}, not a regular file"),
            "point NETRC at a regular file (or unset it)",
        ));
    }
    let euid = crate::fsutil::euid();
    if md.uid() != euid {
        return Err(refuse(
            path,
            format!("it is owned by uid {}, not by you (uid {euid})", md.uid()),
            "remove it or chown it to yourself",
        ));
    }
    if md.nlink() > 1 {
        return Err(refuse(
            path,
            format!(
                "it has {} hard links; the other names would see gocred's tokens",
                md.nlink()
            ),
            "give it its own copy: cp -p FILE FILE.new && mv FILE.new FILE",
        ));
    }
    Ok(())
}

pub(crate) fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

pub(crate) fn mode(md: &fs::Metadata) -> u32 {
    md.mode() & 0o7777
}

pub(crate) fn permissions(mode: u32) -> fs::Permissions {
    fs::Permissions::from_mode(mode)
}

pub(crate) fn identity(md: &fs::Metadata) -> Vec<i128> {
    vec![
        md.dev() as i128,
        md.ino() as i128,
        md.size() as i128,
        md.mtime() as i128,
        md.mtime_nsec() as i128,
        md.ctime() as i128,
        md.ctime_nsec() as i128,
    ]
}

/// `flock` on `<file>.gocred.lock`, created 0600 and never followed through a link.
/// Held for as long as it lives; closing the descriptor releases the lock.
pub(crate) struct NetrcLock {
    _file: File,
}

impl NetrcLock {
    pub(crate) fn acquire(path: &Path) -> Result<NetrcLock> {
        let mut name = path.as_os_str().to_owned();
        name.push(".gocred.lock");
        let lock_path = PathBuf::from(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(|e| Error::io(format!("opening the lock {}", lock_path.display()), e))?;
        let md = file
            .metadata()
            .map_err(|e| Error::io(format!("checking {}", lock_path.display()), e))?;
        if !md.is_file() || md.uid() != crate::fsutil::euid() {
            return Err(refuse(
                path,
                format!(
                    "its lock file {} is not a regular file of yours",
                    lock_path.display()
                ),
                "remove the lock file",
            ));
        }
        fs4::FileExt::lock(&file)
            .map_err(|e| Error::io(format!("locking {}", lock_path.display()), e))?;
        Ok(NetrcLock { _file: file })
    }
}
