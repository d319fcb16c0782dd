//! Talks to `git config`: git edits its own files, gocred only says what to add or remove.
//!
//! Used by `init` / `uninit` (helper per private host, `useHttpPath`, SSH `insteadOf` rewrites)
//! and by `explain`. Every key is built from a host checked against `keys::is_valid_host`, and key
//! and value always travel as separate argv entries to `git config --file <global file>` — never
//! through `git -c`, which splits at the first `=` so that a host like
//! `github.com:443.helper=!cmd` would inject a helper. Values never hold CR, LF or NUL
//! (CVE-2025-48384); `keys` builds and checks both. [`urlmatch`] decides which `credential.<url>` entries apply to a host, the
//! way git does, so `init` can say which of the user's helpers git asks before gocred.

mod keys;
pub(crate) mod urlmatch;

pub(crate) use keys::{
    check_value, credential_url, helper_key, instead_of_key, is_valid_host, normalise_key,
    section_of, use_http_path_key,
};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::env::Env;
use crate::error::{Error, Result};
use keys::check_key;

/// One `git config` entry as `--list --show-origin --show-scope` reports it, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigEntry {
    /// `system`, `global`, `local`, `command`, …
    pub scope: String,
    /// The file it came from (`file:` origin), empty for command-line entries.
    pub file: PathBuf,
    /// As git prints it: section and name lower-cased, subsection as written.
    pub key: String,
    /// `None` for a bare boolean key (`[section] flag`, no `=`).
    pub value: Option<String>,
}

impl ConfigEntry {
    /// Same key as `key` (section and name compare case-insensitively, subsection exactly).
    pub(crate) fn is_key(&self, key: &str) -> bool {
        normalise_key(&self.key) == normalise_key(key)
    }

    /// The value as text; a bare key (no `=`) reads as empty.
    pub(crate) fn value_str(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// Where it lives, as `--show-origin` says it: `file:<path>`, or `command line:`.
    pub(crate) fn origin(&self) -> String {
        match (self.file.as_os_str().is_empty(), self.scope.as_str()) {
            (false, _) => format!("file:{}", self.file.display()),
            (true, "command") => "command line:".into(),
            (true, scope) => scope.to_string(),
        }
    }
}

/// What `unset` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unset {
    Removed,
    /// The entry is no longer there (the user removed it).
    Missing,
    /// Several identical entries: git cannot remove just one, so none was removed.
    Several,
}

/// The `git` program and the global config file it writes.
#[derive(Debug, Clone)]
pub(crate) struct GitConfig {
    program: PathBuf,
    /// The file `git config --global` writes (git's own choice, see [`global_file`]).
    pub global: PathBuf,
}

impl GitConfig {
    /// `git` from PATH, writing the global file git itself would pick for `env`.
    pub(crate) fn new(env: &Env) -> Result<GitConfig> {
        let global = global_file(env).ok_or_else(|| {
            Error::with_hint(
                "cannot tell where git's global config lives: HOME is not set",
                "set HOME (or GIT_CONFIG_GLOBAL)",
            )
        })?;
        Ok(GitConfig {
            program: PathBuf::from("git"),
            global,
        })
    }

    /// A `git config` command run from `/`, so no repository's local config joins in.
    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.program);
        c.arg("config")
            .current_dir(root_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn run(&self, c: &mut Command, what: &str) -> Result<std::process::Output> {
        c.output().map_err(|e| {
            Error::with_hint(
                format!("running git config ({what}): {e}"),
                "install git, or put it on PATH",
            )
        })
    }

    /// The system and global entries (what applies to every repository), in git's order.
    pub(crate) fn list_effective(&self) -> Result<Vec<ConfigEntry>> {
        let mut c = self.cmd();
        c.args(["--null", "--list", "--show-origin", "--show-scope"]);
        let out = self.run(&mut c, "--list")?;
        if !out.status.success() {
            return Err(git_error("reading git's configuration", &out));
        }
        Ok(parse_list(&out.stdout)
            .into_iter()
            .filter(|e| e.scope == "system" || e.scope == "global")
            .collect())
    }

    /// `git config --file <global> --add KEY VALUE`.
    pub(crate) fn add(&self, key: &str, value: &str) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        let mut c = self.cmd();
        c.arg("--file")
            .arg(&self.global)
            .args(["--add", key, value]);
        let out = self.run(&mut c, "--add")?;
        if !out.status.success() {
            return Err(git_error(
                &format!("adding {key} to {}", self.global.display()),
                &out,
            ));
        }
        Ok(())
    }

    /// Removes the one entry `key = value` (exact value, `--fixed-value`) from `file`.
    pub(crate) fn unset(&self, file: &Path, key: &str, value: &str) -> Result<Unset> {
        check_key(key)?;
        check_value(value)?;
        if !file.exists() {
            return Ok(Unset::Missing);
        }
        let mut c = self.cmd();
        c.arg("--file")
            .arg(file)
            .args(["--fixed-value", "--unset", key, value]);
        let out = self.run(&mut c, "--unset")?;
        // git config: 5 = "you try to unset an option which does not exist" or "multiple lines".
        match out.status.code() {
            Some(0) => Ok(Unset::Removed),
            Some(5) => {
                let mut c = self.cmd();
                c.arg("--file")
                    .arg(file)
                    .args(["--fixed-value", "--get-all", key, value]);
                let n = self
                    .run(&mut c, "--get-all")?
                    .stdout
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count();
                Ok(if n > 1 {
                    Unset::Several
                } else {
                    Unset::Missing
                })
            }
            _ => Err(git_error(
                &format!("removing {key} from {}", file.display()),
                &out,
            )),
        }
    }
}

fn root_dir() -> &'static Path {
    if cfg!(windows) {
        Path::new("C:\\")
    } else {
        Path::new("/")
    }
}

fn git_error(what: &str, out: &std::process::Output) -> Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    Error::other(format!(
        "{what}: git config failed ({}): {}",
        out.status,
        crate::protocol::escape_for_display(stderr.trim())
    ))
}

/// The file `git config --global` writes: `$GIT_CONFIG_GLOBAL`; else `~/.gitconfig`, unless
/// that is missing and `$XDG_CONFIG_HOME/git/config` (default `~/.config/git/config`) exists
/// (git's `git_global_config` and the write rule in builtin/config.c).
pub(crate) fn global_file(env: &Env) -> Option<PathBuf> {
    if let Some(p) = env.get("GIT_CONFIG_GLOBAL") {
        return Some(PathBuf::from(p));
    }
    let home = env.get("HOME").map(PathBuf::from).or_else(dirs::home_dir)?;
    let user = home.join(".gitconfig");
    let xdg = match env.get("XDG_CONFIG_HOME") {
        Some(x) => Path::new(x).join("git/config"),
        None => home.join(".config/git/config"),
    };
    Some(if !user.exists() && xdg.exists() {
        xdg
    } else {
        user
    })
}

/// Parses `--null --list --show-origin --show-scope` output (and `--get-regexp` with the same
/// flags): `scope\0origin\0key\nvalue\0` (a bare boolean key has no `\n`).
pub(crate) fn parse_list(raw: &[u8]) -> Vec<ConfigEntry> {
    let text = String::from_utf8_lossy(raw);
    let mut fields = text.split('\0');
    let mut out = Vec::new();
    while let (Some(scope), Some(origin), Some(kv)) = (fields.next(), fields.next(), fields.next())
    {
        if scope.is_empty() && origin.is_empty() {
            break;
        }
        let (key, value) = match kv.split_once('\n') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (kv.to_string(), None),
        };
        out.push(ConfigEntry {
            scope: scope.to_string(),
            file: PathBuf::from(origin.strip_prefix("file:").unwrap_or("")),
            key,
            value,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_null_list() {
        let raw = b"global\0file:/h/.gitconfig\0user.name\nme\0global\0file:/h/.gitconfig\0credential.https://a.b.helper\n\0system\0file:/etc/gitconfig\0x.flag\0";
        let v = parse_list(raw);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].value.as_deref(), Some("me"));
        assert_eq!(v[1].value.as_deref(), Some(""));
        assert_eq!(v[1].key, "credential.https://a.b.helper");
        assert_eq!(v[2].value, None);
        assert_eq!(v[2].file, PathBuf::from("/etc/gitconfig"));
    }

    #[test]
    fn global_file_choice() {
        let d = tempfile::tempdir().unwrap();
        let h = d.path().to_str().unwrap();
        let env = Env::from_pairs([("HOME", h)]);
        assert_eq!(global_file(&env).unwrap(), d.path().join(".gitconfig"));
        std::fs::create_dir_all(d.path().join(".config/git")).unwrap();
        std::fs::write(d.path().join(".config/git/config"), "").unwrap();
        assert_eq!(
            global_file(&env).unwrap(),
            d.path().join(".config/git/config")
        );
        std::fs::write(d.path().join(".gitconfig"), "").unwrap();
        assert_eq!(global_file(&env).unwrap(), d.path().join(".gitconfig"));
        let env = Env::from_pairs([("HOME", h), ("GIT_CONFIG_GLOBAL", "/x/y")]);
        assert_eq!(global_file(&env).unwrap(), PathBuf::from("/x/y"));
    }
}
