//! The credentials Go itself attaches to its own HTTPS requests (the `?go-get=1` page, a
//! GOPROXY), computed the way go:cmd/go/internal/auth does (docs/protocols/goauth.md, docs/protocols/netrc.md).
//!
//! Go never asks git's credential helpers unless GOAUTH says `git <dir>`; it sends `netrc`
//! and command credentials up front, and re-runs GOAUTH with the URL only after a 4xx. Doctor
//! replays exactly that: an initial set, and a set for the retry. It runs what Go would run (the
//! GOAUTH command, `git credential fill` in DIR), with a deadline. Header values are secrets.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use super::goauth_cmd;
use crate::netrc::go;
use crate::secret::{secret, SecretString};
use crate::settings::Env;

/// Headers Go would add, and where they came from (for messages: never the value).
#[derive(Debug)]
pub(crate) struct GoCredential {
    pub headers: Vec<(String, SecretString)>,
    pub source: String,
    /// For Basic credentials: the username and password (to compare with gocred's).
    pub basic: Option<(String, SecretString)>,
}

/// One GOAUTH entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Method {
    Off,
    Netrc,
    Git(String),
    Command(String),
}

/// Parses GOAUTH as Go does; `Err` is Go's own fatal error.
pub(crate) fn parse_goauth(value: &str) -> Result<Vec<Method>, String> {
    let parts: Vec<&str> = value.split(';').map(str::trim).collect();
    let mut out = Vec::new();
    for p in &parts {
        let words: Vec<&str> = p.split_whitespace().collect();
        match words.first() {
            None => {
                return Err(format!(
                    "GOAUTH encountered an empty command (GOAUTH={value})"
                ))
            }
            Some(&"off") if parts.len() != 1 => {
                return Err(
                    "GOAUTH=off cannot be combined with other authentication commands".into(),
                )
            }
            Some(&"off") => out.push(Method::Off),
            Some(&"netrc") => out.push(Method::Netrc),
            Some(&"git") => {
                if words.len() != 2 {
                    return Err("GOAUTH=git dir method requires an absolute path to the git working directory".into());
                }
                let dir = words[1];
                if !Path::new(dir).is_absolute() {
                    return Err(format!("GOAUTH=git {dir}: the directory is not absolute"));
                }
                if !Path::new(dir).is_dir() {
                    return Err(format!("GOAUTH=git {dir}: not a directory"));
                }
                out.push(Method::Git(dir.to_string()));
            }
            Some(_) => out.push(Method::Command(p.to_string())),
        }
    }
    Ok(out)
}

/// Where Go reads netrc: `$NETRC`, else `$HOME/.netrc`.
pub(crate) fn go_netrc_path(env: &Env) -> Option<std::path::PathBuf> {
    env.get("NETRC")
        .map(std::path::PathBuf::from)
        .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".netrc")))
}

/// The prefix cache Go builds (`storeCredential` / `loadCredential`).
#[derive(Default)]
pub(crate) struct Cache {
    map: HashMap<String, GoCredential>,
}

impl Cache {
    fn store(&mut self, prefix: &str, cred: Option<GoCredential>) {
        let key = prefix
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_string();
        match cred {
            Some(c) => {
                self.map.insert(key, c);
            }
            None => {
                self.map.remove(&key);
            }
        }
    }

    /// Longest stored prefix of `url` (query included, as Go does).
    pub(crate) fn load(&self, url: &str) -> Option<&GoCredential> {
        let mut p = url.trim_start_matches("https://").trim_end_matches('/');
        loop {
            if let Some(c) = self.map.get(p) {
                return Some(c);
            }
            p = &p[..p.rfind('/')?];
        }
    }
}

/// Runs GOAUTH: `retry` = `None` for Go's initial run, `Some((url, response head))` for the
/// re-run after a 4xx. Problems (a failing command) are returned as notes, as `go -x` logs them.
pub(crate) fn run(
    env: &Env,
    methods: &[Method],
    retry: Option<(&str, &str)>,
    cache: &mut Cache,
) -> Vec<String> {
    let mut notes = Vec::new();
    for m in methods.iter().rev() {
        match m {
            Method::Off => return notes,
            Method::Netrc => {
                let Some(path) = go_netrc_path(env) else {
                    continue;
                };
                let Ok(data) = std::fs::read(&path) else {
                    continue;
                };
                // Stored last to first: the first entry for a machine is the one Go keeps.
                for (e, line) in go::parse_located(&data).into_iter().rev() {
                    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                    let source = format!("{} line {line} (GOAUTH=netrc)", path.display());
                    let pw = secret(text(&e.password));
                    cache.store(&text(&e.machine), Some(basic(&text(&e.login), pw, source)));
                }
            }
            Method::Git(dir) => {
                let Some((url, _)) = retry else { continue };
                match git_fill(dir, url) {
                    Ok((prefix, user, pw)) if url.starts_with(&prefix) => {
                        let source = format!("`git credential fill` in {dir} (GOAUTH=git)");
                        cache.store(&prefix, Some(basic(&user, pw, source)));
                    }
                    Ok((prefix, _, _)) => notes.push(format!(
                        "GOAUTH=git: requested a credential for {url}, but 'git credential fill' provided one for {} \
                         (credential.useHttpPath=true breaks GOAUTH=git: the path carries ?go-get=1)",
                        super::report::clean(&prefix)
                    )),
                    Err(e) => notes.push(format!("GOAUTH=git {dir}: {e}")),
                }
            }
            Method::Command(cmdline) => match goauth_cmd::run_command(cmdline, retry) {
                Ok(found) => {
                    for (prefixes, headers) in found {
                        for p in prefixes {
                            let cred = (!headers.is_empty()).then(|| GoCredential {
                                headers: headers
                                    .iter()
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect(),
                                source: format!(
                                    "the GOAUTH command `{}`",
                                    super::report::clean(cmdline)
                                ),
                                basic: None,
                            });
                            cache.store(&p, cred);
                        }
                    }
                }
                Err(e) => notes.push(format!(
                    "GOAUTH command `{}`: {e}",
                    super::report::clean(cmdline)
                )),
            },
        }
    }
    notes
}

fn basic(user: &str, pw: SecretString, source: String) -> GoCredential {
    crate::http::redact::register_basic(user, &pw);
    let value = crate::secret::basic_auth(user, &pw);
    GoCredential {
        headers: vec![("Authorization".into(), value)],
        source,
        basic: Some((user.to_string(), pw)),
    }
}

/// `git credential fill` in `dir` with `url=<url>`, as Go runs it; returns (prefix, user, pw).
pub(crate) fn git_fill(dir: &str, url: &str) -> Result<(String, String, SecretString), String> {
    let mut cmd = Command::new("git");
    cmd.args(["credential", "fill"]).current_dir(dir);
    let mut filled = super::git_helpers::credential_fill(&mut cmd, url)?
        .ok_or("'git credential fill' found no credential (no helper answered)")?;
    let pw = filled
        .password
        .take()
        .ok_or("'git credential fill' gave no password")?;
    // Go rebuilds the prefix with url.URL{Scheme, Host, Path}.String(): a `?` in the path is escaped.
    let mut prefix = format!("{}://{}", filled.field("protocol"), filled.field("host"));
    let path = filled.field("path");
    if !path.is_empty() {
        prefix.push('/');
        prefix.push_str(&path.replace('?', "%3F"));
    }
    Ok((prefix, filled.field("username").to_string(), pw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goauth_values() {
        assert_eq!(parse_goauth("netrc").unwrap(), vec![Method::Netrc]);
        assert!(parse_goauth("off;netrc").is_err());
        assert!(parse_goauth("netrc;").is_err());
        assert!(parse_goauth("git relative/dir").is_err());
        assert!(parse_goauth("git /nonexistent-dir-x").is_err());
        // An absolute directory that exists: `/`, or on Windows the system drive's root.
        let root = if cfg!(windows) { "C:\\" } else { "/" };
        assert_eq!(
            parse_goauth(&format!("git {root}; netrc")).unwrap()[0],
            Method::Git(root.into())
        );
        assert_eq!(
            parse_goauth("gocred goauth").unwrap()[0],
            Method::Command("gocred goauth".into())
        );
    }

    #[test]
    fn cache_prefix_walk_is_gos() {
        let mut c = Cache::default();
        c.store(
            "https://corp.com/org/repo",
            Some(basic("u", secret("p".into()), "t".into())),
        );
        c.store(
            "https://other.com/",
            Some(basic("u", secret("p".into()), "t".into())),
        );
        assert!(c.load("https://corp.com/org/repo?go-get=1").is_none());
        assert!(c.load("https://corp.com/org/repo/sub?go-get=1").is_some());
        assert!(c.load("https://other.com/a/b?go-get=1").is_some());
        assert!(c.load("https://other.com.evil.com/x").is_none());
    }
}
