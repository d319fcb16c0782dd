//! Non-Unix fallbacks for `store::netrc_file` (Windows: no ownership or link checks here;
//! the lock is the same advisory file lock).

use super::*;

pub(crate) fn check_dir(_path: &Path, _dir: &Path) -> Result<()> {
    Ok(())
}

pub(crate) fn check_target(path: &Path, md: &fs::Metadata) -> Result<()> {
    if md.file_type().is_symlink() || !md.is_file() {
        return Err(refuse(
            path,
            "it is not a regular file",
            "replace it with a regular file",
        ));
    }
    Ok(())
}

pub(crate) fn open_nofollow(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

pub(crate) fn mode(_md: &fs::Metadata) -> u32 {
    0o600
}

pub(crate) fn permissions(_mode: u32) -> fs::Permissions {
    fs::metadata(".")
        .map(|m| m.permissions())
        .expect("cwd metadata")
}

pub(crate) fn identity(md: &fs::Metadata) -> Vec<i128> {
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    vec![md.len() as i128, mtime]
}

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
            .open(&lock_path)
            .map_err(|e| Error::io(format!("opening the lock {}", lock_path.display()), e))?;
        fs4::FileExt::lock(&file)
            .map_err(|e| Error::io(format!("locking {}", lock_path.display()), e))?;
        Ok(NetrcLock { _file: file })
    }
}
