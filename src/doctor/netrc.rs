//! `netrc.shadow` and `netrc.perms`: a `~/.netrc` entry is used by git (libcurl) before any
//! credential helper and by Go (GOAUTH=netrc, the default) up front — so a stale one shadows
//! gocred; and a netrc with a password must be readable by its owner only (docs/protocols/netrc.md).

use std::path::{Path, PathBuf};

use super::goauth::{go_netrc_path, Method};
use super::report::{sh_quote, Finding, Report};
use super::Doctor;
use crate::netrc::{curl, go};
use crate::secret::{secret, SecretString};

/// git/libcurl read `$HOME/.netrc` only (not `$NETRC`).
fn git_netrc(d: &Doctor) -> Option<PathBuf> {
    d.env.get("HOME").map(|h| Path::new(h).join(".netrc"))
}

/// What git (libcurl) sends for `host` from `data`: login, password and where the entry stands.
/// `None` when curl finds no password for it (or cannot parse the file: git then fails the
/// request itself, with curl's message).
fn curl_match(data: &[u8], host: &str) -> Option<(String, SecretString, curl::Place)> {
    match curl::locate(data, host) {
        (
            curl::Lookup::Match {
                login,
                password: Some(pw),
            },
            Some(place),
        ) if !pw.is_empty() => {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let pw = secret(text(&pw));
            crate::http::redact::register(&pw);
            Some((text(&login.unwrap_or_default()), pw, place))
        }
        _ => None,
    }
}

/// The `~/.netrc` line git would use for `host`, if any (for cred.rule's "who answers instead").
pub(crate) fn git_entry_line(d: &Doctor, host: &str) -> Option<(PathBuf, usize)> {
    let p = git_netrc(d)?;
    let data = std::fs::read(&p).ok()?;
    let line = curl_match(&data, host)?.2.first_line;
    Some((p, line))
}

pub(crate) fn run(d: &mut Doctor, r: &mut Report) {
    shadow(d, r);
    perms(d, r);
}

fn go_reads_netrc(d: &Doctor) -> bool {
    super::gofetch::methods(d).contains(&Method::Netrc)
}

fn shadow(d: &mut Doctor, r: &mut Report) {
    let Some(path) = git_netrc(d) else {
        return r.push(Finding::skip("netrc.shadow", "no HOME"));
    };
    let Ok(data) = std::fs::read(&path) else {
        return r.push(Finding::ok(
            "netrc.shadow",
            format!("no {} (nothing shadows gocred)", path.display()),
        ));
    };
    let Some(repo) = d.repo.clone().filter(|_| d.served_by_proxy.is_none()) else {
        return r.push(Finding::skip(
            "netrc.shadow",
            "git is not involved in this fetch",
        ));
    };
    let host = repo.origin.host.clone();
    let Some((user, pw, place)) = curl_match(&data, &host) else {
        return r.push(Finding::ok(
            "netrc.shadow",
            format!("{} has no entry for {host}", path.display()),
        ));
    };
    let what = if place.default {
        format!(
            "{} line {} (`default`, which curl uses for every host)",
            path.display(),
            place.first_line
        )
    } else {
        format!(
            "{} line {} (machine {host})",
            path.display(),
            place.first_line
        )
    };
    let status = super::git_helpers::probe(d, &repo.origin, &repo.url, &user, &pw);
    let delete = place.alone.then(|| {
        let range = if place.first_line == place.last_line {
            format!("{}d", place.first_line)
        } else {
            format!("{},{}d", place.first_line, place.last_line)
        };
        format!(
            "sed -i.bak {} {}",
            sh_quote(&range),
            sh_quote(&path.display().to_string())
        )
    });
    let go_uses = go_reads_netrc(d)
        && !place.default
        && go_netrc_path(d.env).as_deref() == Some(path.as_path())
        && d.module_origin().host == host;
    let has_rule = !matches!(
        d.settings.rules.select(&repo.origin, None),
        crate::rules::Selection::None
    );
    let users = if go_uses {
        "git (before any helper) and Go (GOAUTH=netrc, up front) send it"
    } else {
        "git sends it before asking any helper"
    };
    let f = match status {
        Some(401) => {
            let msg = format!("{what} holds a credential {host} rejects (401); {users}");
            if go_uses {
                Finding::fail("netrc.shadow", format!("{msg}: Go fails on it"))
            } else {
                Finding::warn(
                    "netrc.shadow",
                    format!("{msg}: git retries with its helpers after the 401"),
                )
            }
            .maybe_fix(delete)
        }
        Some(200) if has_rule => Finding::warn(
            "netrc.shadow",
            format!("{what} is a plaintext credential for {host} that shadows gocred's ({users})"),
        )
        .maybe_fix(delete),
        Some(200) => Finding::ok(
            "netrc.shadow",
            format!("{what} serves {host} and the server accepts it ({users})"),
        ),
        Some(s) => Finding::warn(
            "netrc.shadow",
            format!("{what}: the server answers {s} to it ({users})"),
        ),
        None => Finding::warn(
            "netrc.shadow",
            format!("{what} could not be checked against {host} ({users})"),
        ),
    };
    r.push(f);
}

fn perms(d: &mut Doctor, r: &mut Report) {
    let mut files: Vec<PathBuf> = git_netrc(d).into_iter().collect();
    if go_reads_netrc(d) {
        if let Some(p) = go_netrc_path(d.env) {
            if !files.contains(&p) {
                files.push(p);
            }
        }
    }
    let mut any = false;
    for p in files {
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        any = true;
        let data = std::fs::read(&p).unwrap_or_default();
        let curl_pw = curl::tokens(&data)
            .windows(2)
            .any(|w| w[0].eq_ignore_ascii_case(b"password"));
        let has_pw = curl_pw || !go::parse(&data).is_empty();
        r.push(perm_finding(&p, &meta, has_pw));
    }
    if !any {
        r.push(Finding::ok("netrc.perms", "no .netrc file"));
    }
}

#[cfg(unix)]
fn perm_finding(p: &Path, meta: &std::fs::Metadata, has_pw: bool) -> Finding {
    use std::os::unix::fs::MetadataExt;
    let shown = p.display();
    if meta.file_type().is_symlink() {
        return Finding::warn(
            "netrc.perms",
            format!("{shown} is a symlink: check where it points and who can read that"),
        );
    }
    let mode = meta.mode() & 0o777;
    let fix = format!("chmod 600 {}", sh_quote(&p.display().to_string()));
    if mode & 0o022 != 0 {
        return Finding::fail("netrc.perms", format!("{shown} (mode {mode:o}) is writable by others: anyone can redirect your credentials")).fix(fix);
    }
    if mode & 0o044 != 0 && has_pw {
        return Finding::fail(
            "netrc.perms",
            format!("{shown} (mode {mode:o}) holds passwords and is readable by other users"),
        )
        .fix(fix);
    }
    // The owner should be the owner of the home directory it sits in (no unsafe getuid here).
    let home_uid = p
        .parent()
        .and_then(|h| std::fs::metadata(h).ok())
        .map(|m| m.uid());
    if home_uid.is_some_and(|u| u != meta.uid()) {
        return Finding::warn(
            "netrc.perms",
            format!(
                "{shown} is owned by uid {}, not by the owner of its directory",
                meta.uid()
            ),
        );
    }
    Finding::ok("netrc.perms", format!("{shown} is private (mode {mode:o})"))
}

#[cfg(not(unix))]
fn perm_finding(p: &Path, _meta: &std::fs::Metadata, _has_pw: bool) -> Finding {
    Finding::ok(
        "netrc.perms",
        format!("{} (permissions not checked on this OS)", p.display()),
    )
}
