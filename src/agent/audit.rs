//! The agent's audit log: one line per answer, per refusal, and per session start and end, in
//! `<state dir>/agent-audit.log` (0600, appended, never through a link). It names who asked
//! (peer pid and uid from the kernel), the session, what was asked (protocol, host, path), the
//! rule that answered and a fingerprint of the token (the first 16 hex digits of its SHA-256),
//! never the token.
//!
//! Line format, fields in this order, values without spaces except `reason` (quoted):
//! `<RFC 3339 UTC time> session=<id> event=<answer|refuse|start|end> pid=<n> uid=<n>
//! protocol=<p> host=<h> path=<p> rule=<pattern> token=sha256:<16 hex> reason="<text>"`,
//! with `-` for a field that does not apply.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::secret::{ExposeSecret, SecretString};
use crate::settings::Env;

/// The log's file name in the state directory.
pub(crate) const FILE: &str = "agent-audit.log";

pub(crate) struct Audit {
    path: PathBuf,
    file: Mutex<File>,
}

/// One line's fields.
#[derive(Default)]
pub(crate) struct AuditLine<'a> {
    pub event: &'a str,
    pub pid: Option<u32>,
    pub uid: Option<u32>,
    pub protocol: Option<&'a str>,
    pub host: Option<&'a str>,
    pub path: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub token: Option<&'a SecretString>,
    pub reason: Option<&'a str>,
}

/// `<state dir>/agent-audit.log`, where the state dir is gocred's (`$XDG_CACHE_HOME/gocred`).
pub(crate) fn default_path(env: &Env) -> Option<PathBuf> {
    crate::state::state_dir(env).map(|d| d.join(FILE))
}

/// A token's fingerprint as the log shows it: `sha256:` and 16 hex digits.
pub(crate) fn fingerprint(token: &SecretString) -> String {
    let hex = crate::store::lease::sha256_hex(token.expose_secret().as_bytes());
    format!("sha256:{}", &hex[..16])
}

/// A value as one field: printable ASCII kept, everything else escaped, at most 256 characters.
fn field(v: Option<&str>) -> String {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return "-".into();
    };
    let mut out = String::new();
    for c in v.chars().take(256) {
        if c.is_ascii_graphic() && c != '"' && c != '\\' {
            out.push(c);
        } else {
            out.extend(c.escape_default());
        }
    }
    out
}

impl Audit {
    /// Opens (creating 0600) the log at `path`, in a private directory ([`crate::store::lock::private_dir`]).
    pub(crate) fn open(path: &Path) -> Result<Audit> {
        if let Some(dir) = path.parent() {
            crate::store::lock::private_dir(dir)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| Error::io(format!("opening the audit log {}", path.display()), e))?;
        let md = file
            .metadata()
            .map_err(|e| Error::io(format!("checking {}", path.display()), e))?;
        if !md.is_file() || md.uid() != crate::fsutil::euid() || md.mode() & 0o077 != 0 {
            return Err(Error::other(format!(
                "refusing the audit log {}: it must be a regular file of yours, mode 0600",
                path.display()
            )));
        }
        Ok(Audit {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line for `session`. A failing write is returned (the caller refuses to answer
    /// what it cannot log).
    pub(crate) fn write(&self, session: &str, e: &AuditLine) -> std::io::Result<()> {
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
        let stamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| "-".into());
        let num = |n: Option<u32>| n.map_or("-".to_string(), |n| n.to_string());
        let line = format!(
            "{stamp} session={} event={} pid={} uid={} protocol={} host={} path={} rule={} token={} reason=\"{}\"\n",
            field(Some(session)),
            field(Some(e.event)),
            num(e.pid),
            num(e.uid),
            field(e.protocol),
            field(e.host),
            field(e.path),
            field(e.rule),
            e.token.map_or("-".to_string(), fingerprint),
            e.reason.map(|r| field(Some(r))).unwrap_or_default(),
        );
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::secret;

    #[test]
    fn one_line_per_entry_and_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/agent-audit.log");
        let a = Audit::open(&path).unwrap();
        let tok = secret("ghs_secretvalue".to_string());
        a.write(
            "s1",
            &AuditLine {
                event: "answer",
                pid: Some(7),
                uid: Some(0),
                protocol: Some("https"),
                host: Some("git.corp.test"),
                path: Some("acme/lib.git"),
                rule: Some("git.corp.test"),
                token: Some(&tok),
                reason: Some("a \"quoted\"\nreason"),
            },
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains("ghs_secretvalue"));
        assert!(text.contains(&fingerprint(&tok)));
        assert!(text.contains(" path=acme/lib.git "), "{text}");
        let mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
