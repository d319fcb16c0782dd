//! What `init` changed, recorded so that `uninit` removes exactly that.
//!
//! A small JSON file (`<user config dir>/gocred/init-state.json`, mode 0600, written atomically
//! with `fsutil::write_atomic`). Successive `init` runs add to it; `uninit` works through it and
//! deletes it. It holds names and values of settings, never a secret. For Go's env file it also
//! keeps the bytes before the first change and after the last one: when nothing else touched the
//! file in between, `uninit` puts the old bytes back exactly (`go env -w` may reorder lines);
//! otherwise it restores each variable with `go env -w` / `-u`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::settings::Env;

pub(crate) const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct State {
    pub version: u32,
    /// git config entries added, in order.
    #[serde(default)]
    pub git: Vec<GitRecord>,
    /// Files (git config, gocred config) that did not exist before init created them.
    #[serde(default)]
    pub created_files: Vec<PathBuf>,
    #[serde(default)]
    pub go: Option<GoRecord>,
    /// Rules (and keyring tokens) init added to the gocred config.
    #[serde(default)]
    pub rules: Vec<RuleRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct GitRecord {
    pub file: PathBuf,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct GoRecord {
    pub file: PathBuf,
    /// Whether `before`/`after` may be used (false once someone else changed the file between
    /// two init runs).
    pub snapshot_valid: bool,
    /// The file before init's first change (`None`: it did not exist).
    pub before: Option<String>,
    /// The file after init's last change.
    pub after: Option<String>,
    pub vars: Vec<GoVarRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct GoVarRecord {
    pub name: String,
    /// The value in the file before init (`None`: not in the file).
    pub before: Option<String>,
    pub after: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleRecord {
    pub pattern: String,
    pub config: PathBuf,
    pub token_stored: bool,
}

impl State {
    pub(crate) fn is_empty(&self) -> bool {
        self.git.is_empty() && self.go.is_none() && self.rules.is_empty()
    }
}

/// `<user config dir>/gocred/init-state.json`.
pub(crate) fn path(env: &Env) -> Result<PathBuf> {
    env.user_config_dir()
        .map(|d| d.join("gocred").join("init-state.json"))
        .ok_or_else(|| {
            Error::with_hint(
                "no config directory for init's record: HOME is not set",
                "set HOME or XDG_CONFIG_HOME",
            )
        })
}

pub(crate) fn load(path: &Path) -> Result<Option<State>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let state: State = serde_json::from_str(&text).map_err(|e| {
        Error::with_hint(
            format!("{} is not a record gocred can read: {e}", path.display()),
            "undo by hand what `gocred init` reported, then delete the file",
        )
    })?;
    if state.version != VERSION {
        return Err(Error::other(format!(
            "{} has version {}, this gocred reads version {VERSION}",
            path.display(),
            state.version
        )));
    }
    Ok(Some(state))
}

pub(crate) fn save(path: &Path, state: &State) -> Result<()> {
    let mut text = serde_json::to_string_pretty(state).expect("state is plain data");
    text.push('\n');
    crate::fsutil::write_atomic(path, text.as_bytes(), 0o600)
}

pub(crate) fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("gocred/init-state.json");
        assert_eq!(load(&p).unwrap(), None);
        let s = State {
            version: VERSION,
            git: vec![GitRecord {
                file: "/h/.gitconfig".into(),
                key: "credential.https://a.example.helper".into(),
                value: "/bin/gocred".into(),
            }],
            ..Default::default()
        };
        save(&p, &s).unwrap();
        assert_eq!(load(&p).unwrap(), Some(s));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        std::fs::write(&p, "{\"version\": 1, \"extra\": 1}").unwrap();
        assert!(load(&p).is_err());
        remove(&p).unwrap();
        remove(&p).unwrap();
    }
}
