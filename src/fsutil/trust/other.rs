//! Windows: no ownership or mode bits to check here; paths are still made absolute and sizes
//! bounded.

use super::*;
use std::io::Read;

pub fn resolve(path: &Path) -> Result<PathBuf, Untrusted> {
    if !path.is_absolute() {
        return Err(Untrusted::refused(path, "is a relative path"));
    }
    Ok(path.to_path_buf())
}

pub fn check_file(path: &Path, md: &fs::Metadata, _owner: Owner) -> Result<(), Untrusted> {
    if !md.is_file() {
        return Err(Untrusted::refused(path, "is not a regular file"));
    }
    Ok(())
}

pub fn read_file(path: &Path, owner: Owner, max: u64) -> Result<Option<Vec<u8>>, Untrusted> {
    let path = resolve(path)?;
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Untrusted::Io(path, e)),
    };
    let md = file
        .metadata()
        .map_err(|e| Untrusted::Io(path.clone(), e))?;
    check_file(&path, &md, owner)?;
    let mut bytes = Vec::new();
    (&file)
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Untrusted::Io(path.clone(), e))?;
    if bytes.len() as u64 > max {
        return Err(Untrusted::refused(&path, "is too large"));
    }
    Ok(Some(bytes))
}

pub fn program(name: &str, path_var: Option<&str>) -> Result<PathBuf, Untrusted> {
    let p = PathBuf::from(name);
    if p.is_absolute() {
        return Ok(p);
    }
    crate::proc::which(name, path_var)
        .ok_or_else(|| Untrusted::Missing(PathBuf::from(format!("`{name}` on PATH"))))
}

pub fn private_dir(dir: &Path) -> Result<PathBuf, Untrusted> {
    let dir = resolve(dir)?;
    fs::create_dir_all(&dir).map_err(|e| Untrusted::Io(dir.clone(), e))?;
    Ok(dir)
}
