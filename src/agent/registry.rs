//! Live agent sessions, for `gocred agent status`: one small JSON file per session in
//! `<runtime dir>/gocred/agent/` (`$XDG_RUNTIME_DIR`, else the cache dir; 0700, every parent
//! checked by `fsutil::trust::private_dir`), next to the session's default socket. A file names
//! the session, its process (pid and start time, so a reused pid is not taken for it), socket,
//! allow-list and end. No secret is in it. A session whose process is gone is listed as stale and
//! its file removed by the next `status`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::settings::Env;
use crate::store::lease::Holder;

const SUFFIX: &str = ".session.json";

/// One session as `status` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    pub id: String,
    pub holder: Holder,
    pub socket: PathBuf,
    pub allow: Vec<String>,
    /// What started it: `agent`, `ssh HOST`, `exec`.
    pub kind: String,
    pub started: u64,
    pub session_end: u64,
}

/// The directory: `<runtime dir>/gocred/agent`, private.
pub(crate) fn dir(env: &Env) -> Result<PathBuf> {
    let base = env
        .get("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| crate::state::state_dir(env).and_then(|d| d.parent().map(Path::to_path_buf)))
        .ok_or_else(|| {
            Error::with_hint(
                "no place for the agent's socket: XDG_RUNTIME_DIR, XDG_CACHE_HOME and HOME are unset",
                "set XDG_RUNTIME_DIR to a private directory, or give --socket",
            )
        })?;
    let dir = base.join("gocred").join("agent");
    crate::fsutil::trust::private_dir(&dir).map_err(|e| {
        Error::with_hint(
            format!("refusing to keep agent sessions in {}: {e}", dir.display()),
            "set XDG_RUNTIME_DIR to a private directory of yours (mode 0700)",
        )
    })
}

/// Records `e` (0600, atomic).
pub(crate) fn add(dir: &Path, e: &SessionRecord) -> Result<PathBuf> {
    let path = dir.join(format!("{}{SUFFIX}", e.id));
    let json = serde_json::to_vec_pretty(e).map_err(|e| Error::other(e.to_string()))?;
    crate::fsutil::write_atomic(&path, &json, 0o600)?;
    Ok(path)
}

/// Every recorded session, live ones first; stale files are removed.
pub(crate) fn list(dir: &Path) -> Vec<(SessionRecord, bool)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for ent in rd.flatten() {
        let p = ent.path();
        if !p.to_string_lossy().ends_with(SUFFIX) {
            continue;
        }
        let Ok(Some(bytes)) =
            crate::fsutil::trust::read_file(&p, crate::fsutil::trust::Owner::You, 64 * 1024)
        else {
            continue;
        };
        let Ok(e) = serde_json::from_slice::<SessionRecord>(&bytes) else {
            continue;
        };
        let live = e.holder.is_alive() && e.session_end > crate::state::now_secs();
        if !e.holder.is_alive() {
            let _ = std::fs::remove_file(&p);
        }
        out.push((e, live));
    }
    out.sort_by_key(|(e, live)| (!*live, e.started));
    out
}

/// A fresh session id (16 hex digits; not a secret, only unique).
pub(crate) fn new_id() -> String {
    crate::store::lease::new_id().to_string()
}
