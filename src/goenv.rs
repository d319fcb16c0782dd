//! Talks to `go env`: Go edits its own env file (`go env -w` / `go env -u`), gocred computes
//! the values.
//!
//! Used by `init` / `uninit`. The real `go` on PATH is run (never a copy of its file format
//! rules), from `/` with `GOTOOLCHAIN=local` so that no `go.mod` nearby can make it download a
//! toolchain, and without GOPRIVATE/GONOSUMDB/GOAUTH in its environment so that the file is what
//! it reports. Values never hold control characters: the env file is line-based.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::settings::{parse_go_env, Env};

/// The variables init may change; stripped from `go`'s environment while it edits the file.
pub(crate) const MANAGED: [&str; 4] = ["GOPRIVATE", "GONOSUMDB", "GOAUTH", "GONOPROXY"];

/// A located `go` and its env file.
#[derive(Debug, Clone)]
pub(crate) struct GoEnv {
    program: PathBuf,
    pub file: PathBuf,
}

impl GoEnv {
    /// Finds `go` on PATH and asks it where its env file is (`go env GOENV`).
    pub(crate) fn locate(env: &Env) -> Result<GoEnv> {
        let program = find_go(env).ok_or_else(|| {
            Error::with_hint(
                "`go` is not on PATH; init runs `go env -w` to set GOAUTH and GONOSUMDB",
                "install Go (1.24 or later for GOAUTH) or put it on PATH",
            )
        })?;
        let mut go = GoEnv {
            program,
            file: PathBuf::new(),
        };
        let out = go.run(&["env", "GOENV"])?;
        let file = String::from_utf8_lossy(&out).trim().to_string();
        if file.is_empty() || file == "off" {
            return Err(Error::with_hint(
                "Go's env file is disabled (GOENV=off): `go env -w` cannot record settings",
                "unset GOENV, or set the variables yourself",
            ));
        }
        go.file = PathBuf::from(file);
        Ok(go)
    }

    fn run(&self, args: &[&str]) -> Result<Vec<u8>> {
        let mut c = Command::new(&self.program);
        c.args(args)
            .current_dir(if cfg!(windows) { "C:\\" } else { "/" })
            .env("GOTOOLCHAIN", "local")
            .stdin(Stdio::null());
        for v in MANAGED {
            c.env_remove(v);
        }
        let out = c
            .output()
            .map_err(|e| Error::other(format!("running {}: {e}", self.program.display())))?;
        if !out.status.success() {
            return Err(Error::other(format!(
                "`go {}` failed ({}): {}",
                args.first().copied().unwrap_or(""),
                out.status,
                crate::protocol::escape_for_display(String::from_utf8_lossy(&out.stderr).trim())
            )));
        }
        Ok(out.stdout)
    }

    /// The file's bytes, `None` when it does not exist.
    pub(crate) fn read_file(&self) -> Result<Option<String>> {
        match std::fs::read_to_string(&self.file) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", self.file.display()), e)),
        }
    }

    /// The values in the file, as Go reads them (later lines win; empty = unset).
    pub(crate) fn file_values(&self) -> Result<HashMap<String, String>> {
        Ok(self
            .read_file()?
            .map(|t| parse_go_env(&t))
            .unwrap_or_default())
    }

    /// `go env -w NAME=VALUE`.
    pub(crate) fn set(&self, name: &str, value: &str) -> Result<()> {
        check_value(name, value)?;
        self.run(&["env", "-w", &format!("{name}={value}")])
            .map(drop)
    }

    /// `go env -u NAME`.
    pub(crate) fn unset(&self, name: &str) -> Result<()> {
        self.run(&["env", "-u", name]).map(drop)
    }
}

fn find_go(env: &Env) -> Option<PathBuf> {
    crate::proc::which(if cfg!(windows) { "go.exe" } else { "go" }, env.get("PATH"))
}

/// No control characters (a LF would add a line to the env file) and no empty names.
pub(crate) fn check_value(name: &str, value: &str) -> Result<()> {
    if name.is_empty() || value.chars().any(|c| c.is_control()) {
        return Err(Error::other(format!(
            "refusing to write {name}=`{}`: control character",
            crate::protocol::escape_for_display(value)
        )));
    }
    Ok(())
}

/// The GOAUTH entry that runs gocred: `<absolute path> goauth`. Go splits GOAUTH commands on
/// whitespace (and reads quotes), so a path with whitespace or quotes cannot work.
pub(crate) fn goauth_command(gocred: &Path) -> Result<String> {
    let p = gocred.to_str().ok_or_else(|| {
        Error::other(format!(
            "the path of gocred ({}) is not UTF-8; GOAUTH cannot name it",
            gocred.display()
        ))
    })?;
    if !gocred.is_absolute()
        || p.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "'\";".contains(c))
    {
        return Err(Error::with_hint(
            format!(
                "gocred is installed at `{}`, a path with whitespace, quotes or `;`: Go splits \
                 GOAUTH on those and could not run it",
                crate::protocol::escape_for_display(p)
            ),
            "install gocred at a path without spaces (install/install.sh --prefix ~/.local)",
        ));
    }
    Ok(format!("{p} goauth"))
}

/// Whether a GOAUTH list already runs `gocred goauth` (any path to gocred).
pub(crate) fn goauth_has_gocred(value: &str) -> bool {
    value.split(';').any(|cmd| {
        let mut words = cmd.split_whitespace();
        let prog = words.next().unwrap_or("");
        let name = prog.rsplit(['/', '\\']).next().unwrap_or("");
        matches!(name.strip_suffix(".exe").unwrap_or(name), "gocred")
            && words.next() == Some("goauth")
    })
}

/// The GOAUTH value init writes, given the file's current value, or `None` when gocred is
/// already in it. gocred goes first (Go uses the first command that answers); what was there
/// stays after it, and an unset GOAUTH keeps Go's default `netrc` so `.netrc` users lose nothing.
/// `off` cannot be combined with anything, so it is replaced.
pub(crate) fn goauth_value(ours: &str, current: Option<&str>) -> Option<String> {
    let current = current.map(str::trim).filter(|v| !v.is_empty());
    match current {
        Some(v) if goauth_has_gocred(v) => None,
        Some("off") => Some(ours.to_string()),
        Some(v) => Some(format!("{ours};{v}")),
        None => Some(format!("{ours};netrc")),
    }
}

/// The GONOSUMDB value that also covers `goprivate`, or `None` when it already does (an empty
/// GONOSUMDB falls back to GOPRIVATE, docs/protocols/go-modules.md).
pub(crate) fn gonosumdb_value(goprivate: &str, current: Option<&str>) -> Option<String> {
    let current = current.filter(|v| !v.is_empty())?;
    let sumdb = crate::scope::Patterns::parse(current);
    let listed: Vec<&str> = current
        .split(',')
        .map(|p| p.trim_end_matches('/'))
        .collect();
    let missing: Vec<&str> = goprivate
        .split(',')
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
        .filter(|p| !listed.contains(p))
        .filter(|p| p.contains(['*', '?', '[', '\\']) || !sumdb.matches(p))
        .collect();
    (!missing.is_empty()).then(|| join_patterns(current, &missing))
}

/// `current` plus `more`, comma-separated, without duplicates.
pub(crate) fn join_patterns(current: &str, more: &[&str]) -> String {
    let mut out: Vec<String> = current
        .split(',')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    for m in more {
        if !out.iter().any(|p| p == m) {
            out.push(m.to_string());
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goauth_values() {
        let ours = "/usr/local/bin/gocred goauth";
        assert_eq!(
            goauth_value(ours, None).as_deref(),
            Some("/usr/local/bin/gocred goauth;netrc")
        );
        assert_eq!(
            goauth_value(ours, Some("off")).as_deref(),
            Some("/usr/local/bin/gocred goauth")
        );
        assert_eq!(
            goauth_value(ours, Some("git /home/a")).as_deref(),
            Some("/usr/local/bin/gocred goauth;git /home/a")
        );
        assert_eq!(goauth_value(ours, Some("/opt/gocred goauth;netrc")), None);
        assert!(!goauth_has_gocred("/opt/gocredx goauth"));
        assert!(!goauth_has_gocred("/opt/gocred"));
    }

    /// Unix paths: on Windows they are not absolute.
    #[test]
    #[cfg(unix)]
    fn goauth_paths_without_spaces() {
        assert_eq!(
            goauth_command(Path::new("/usr/bin/gocred")).unwrap(),
            "/usr/bin/gocred goauth"
        );
        for bad in [
            "/opt/my tools/gocred",
            "/opt/a'b/gocred",
            "/x;y/gocred",
            "gocred",
            "/a\tb/gocred",
        ] {
            assert!(goauth_command(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn gonosumdb_covers_goprivate() {
        assert_eq!(
            gonosumdb_value("git.corp.test", None),
            None,
            "empty falls back"
        );
        assert_eq!(gonosumdb_value("git.corp.test", Some("")), None);
        assert_eq!(
            gonosumdb_value("git.corp.test", Some("git.corp.test")),
            None
        );
        assert_eq!(
            gonosumdb_value("git.corp.test/team", Some("git.corp.test")),
            None
        );
        assert_eq!(
            gonosumdb_value("git.corp.test,github.com/acme/*", Some("other.example")).as_deref(),
            Some("other.example,git.corp.test,github.com/acme/*")
        );
        assert_eq!(
            gonosumdb_value("*.corp.test", Some("none")).as_deref(),
            Some("none,*.corp.test")
        );
    }

    #[test]
    fn values_without_newlines() {
        assert!(check_value("GOAUTH", "a\nGOPROXY=evil").is_err());
        assert!(check_value("GOAUTH", "a\rb").is_err());
        assert!(check_value("GOAUTH", "/bin/gocred goauth;netrc").is_ok());
    }
}
