//! The Unix checks behind `store::netrc_file`: ownership, modes, link counts and file types,
//! `O_NOFOLLOW|O_NONBLOCK` opens, and the `flock` on `<file>.gocred.lock`.

use super::*;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};

pub fn check_dir(path: &Path, dir: &Path) -> Result<()> {
    let md = fs::metadata(dir)
        .map_err(|e| Error::io(format!("checking the directory of {}", path.display()), e))?;
    let euid = crate::fsutil::euid();
    if !md.is_dir() {
        return Err(refuse(
            path,
            format!("{} is not a directory", dir.display()),
            "",
        ));
    }
    if md.uid() != euid && md.uid() != 0 {
        return Err(refuse(
            path,
            format!(
                "its directory {} is owned by uid {}, not by you (uid {euid})",
                dir.display(),
                md.uid()
            ),
            "set HOME (or NETRC) to a directory you own",
        ));
    }
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

pub fn check_target(path: &Path, md: &fs::Metadata) -> Result<()> {
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
        let kind = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
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

pub fn open_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

pub fn mode(md: &fs::Metadata) -> u32 {
    md.mode() & 0o7777
}

pub fn permissions(mode: u32) -> fs::Permissions {
    fs::Permissions::from_mode(mode)
}

pub fn identity(md: &fs::Metadata) -> Vec<i128> {
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
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn acquire(path: &Path) -> Result<Lock> {
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
        Ok(Lock { _file: file })
    }
}
