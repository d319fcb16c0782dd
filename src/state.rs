//! Time and place: the clock, the one freshness rule, and gocred's private state directory.
//!
//! A leaf every layer may use. A credential is handed out (by `get`, `goauth`, `token`, `ci`),
//! reused from the token cache, and passed by `doctor` only while [`usable`] says so under the
//! one configured margin (`[cache] margin_secs`, default [`DEFAULT_MARGIN_SECS`]).

use std::path::{Path, PathBuf};

use crate::env::Env;

/// Default margin: GitHub/GitLab tokens live an hour or more; five minutes spare covers a long
/// `go mod download` and clock skew.
pub(crate) const DEFAULT_MARGIN_SECS: u64 = 300;

/// Unix seconds now (0 if the clock is before 1970).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The one freshness rule: usable while more than `margin` seconds are left, so git or Go can
/// finish with it. `None`: no known expiry (a stored PAT, a variable).
pub(crate) fn usable(expires_at: Option<u64>, margin: u64) -> bool {
    expires_at.is_none_or(|exp| exp > now_secs().saturating_add(margin))
}

/// How minted tokens are cached: the margin and the private directory for lock files.
#[derive(Debug, Clone)]
pub(crate) struct CacheSettings {
    /// Never hand out (or reuse) a token that expires within this many seconds.
    pub margin_secs: u64,
    /// [`state_dir`]: lock files and non-secret memory, never a token.
    pub dir: Option<PathBuf>,
}

impl CacheSettings {
    /// The configured margin (or the default) and the state directory of `env`.
    pub(crate) fn new(margin_secs: Option<u64>, env: &Env) -> CacheSettings {
        CacheSettings {
            margin_secs: margin_secs.unwrap_or(DEFAULT_MARGIN_SECS),
            dir: state_dir(env),
        }
    }
}

/// gocred's private state directory: `$XDG_CACHE_HOME/gocred`, else `~/.cache/gocred` (the
/// `dirs` cache dir on macOS/Windows). Holds lock files and non-secret memory such as which
/// installation serves which owner; never a token.
pub(crate) fn state_dir(env: &Env) -> Option<PathBuf> {
    let base = if cfg!(any(target_os = "macos", windows)) {
        dirs::cache_dir()
    } else {
        match (env.get("XDG_CACHE_HOME"), env.get("HOME")) {
            (Some(x), _) if Path::new(x).is_absolute() => Some(PathBuf::from(x)),
            (_, Some(h)) => Some(Path::new(h).join(".cache")),
            _ => None,
        }
    };
    base.map(|b| b.join("gocred"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_decides() {
        let now = now_secs();
        assert!(usable(None, 300));
        assert!(usable(Some(now + 301), 300));
        for left in [0, 61, 299, 300] {
            assert!(!usable(Some(now + left), 300), "{left} s left");
        }
        assert!(usable(Some(now + 120), 60));
    }
}
