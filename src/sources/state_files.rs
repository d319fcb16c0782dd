//! Non-secret state files of the minting sources, in gocred's private state directory.
//!
//! Two kinds of facts worth keeping between processes but holding no secret: which
//! installation serves an owner (saves an API call per mint), and which token-cache entries a
//! rule has filled (so `logout` can revoke them: keyrings cannot list entries portably). Files
//! are named by a digest of their key, written atomically with mode 0600 in a 0700 directory.

use std::path::PathBuf;

use super::Context;
use crate::error::{Error, Result};
use crate::store::lock::{fingerprint, private_dir, ScopeLock, LOCK_WAIT};

/// One directory of small key → value files.
pub(crate) struct StateFiles {
    dir: PathBuf,
}

impl StateFiles {
    pub(crate) fn new(ctx: &Context, name: &str) -> Result<StateFiles> {
        let root = ctx.state_dir()?;
        let dir = root.join(name);
        private_dir(&dir)?;
        Ok(StateFiles { dir })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(fingerprint(key))
    }

    pub(crate) fn get(&self, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.path(key)).ok()?;
        // The key is stored too, so a digest collision reads as "unknown", never as wrong.
        let (k, v) = text.split_once('\n')?;
        (k == key).then(|| v.trim_end().to_string())
    }

    pub(crate) fn put(&self, key: &str, value: &str) -> Result<()> {
        crate::fsutil::write_atomic(
            &self.path(key),
            format!("{key}\n{value}\n").as_bytes(),
            0o600,
        )
    }

    pub(crate) fn forget(&self, key: &str) -> Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("forgetting a remembered installation", e))
            }
            _ => Ok(()),
        }
    }
}

/// Notes that `account` (a token-cache entry) was filled for `pattern`.
pub(crate) fn record_issued(ctx: &Context, pattern: &str, account: &str) -> Result<()> {
    let m = StateFiles::new(ctx, "issued")?;
    let _lock = ScopeLock::acquire(ctx.state_dir()?, &format!("issued|{pattern}"), LOCK_WAIT)?;
    let mut list = m.get(pattern).unwrap_or_default();
    if !list.split(' ').any(|a| a == account) {
        if !list.is_empty() {
            list.push(' ');
        }
        list.push_str(account);
        m.put(pattern, &list)?;
    }
    Ok(())
}

/// The token-cache entries filled for `pattern`.
pub(crate) fn issued(ctx: &Context, pattern: &str) -> Result<Vec<String>> {
    let m = StateFiles::new(ctx, "issued")?;
    Ok(m.get(pattern)
        .unwrap_or_default()
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect())
}

pub(crate) fn forget_issued(ctx: &Context, pattern: &str) -> Result<()> {
    StateFiles::new(ctx, "issued")?.forget(pattern)
}
