//! `goget.auth`: what Go gets when it fetches the go-get page with its own credentials (GOAUTH:
//! netrc and commands up front, `git credential fill` after a 4xx), why a rejected credential
//! is rejected (gocred's token, or a helper ahead of gocred), and the GOAUTH value that lets
//! gocred answer Go. Also the GitLab-subgroup trap of `goget.reporoot`.

use super::gofetch::{self, GoFetch};
use super::goimport::{self, Import};
use super::net::{self, Blocked, Client};
use super::report::{clean, Finding};
use super::Doctor;
use crate::protocol::{Origin, Scheme};

pub(crate) fn auth_finding(d: &mut Doctor, go: &GoFetch, url: &str, o: &Origin) -> Finding {
    let goauth = d.go.get("GOAUTH").to_string();
    match go.last() {
        Err(Blocked::Unreachable(id)) => {
            Finding::skip("goget.auth", format!("not reachable (see {id})"))
        }
        Err(Blocked::Error(e)) => Finding::fail("goget.auth", format!("{url}: {}", clean(e))),
        Ok(res) if res.status == 200 => match go.last_cred() {
            Some(src) => Finding::ok(
                "goget.auth",
                format!("Go gets the page (200) with the credential from {src}"),
            ),
            None => Finding::ok("goget.auth", "Go needs no credential: the page is public"),
        },
        Ok(res) if res.status == 401 || res.status == 403 || res.status == 404 => {
            let status = gofetch::describe(go.last());
            match go.last_cred() {
                None => Finding::fail("goget.auth", format!(
                    "the go-get page needs credentials ({status}) and Go has none for {} (GOAUTH={goauth}): Go never asks \
                     git's credential helpers for its own requests — `go` fails with `unrecognized import path`",
                    o.authority()
                )).maybe_fix(goauth_fix(d, &o.authority())),
                Some(src) if src.contains("GOAUTH=git") => git_answer_rejected(d, go, src, &status, o),
                Some(src) => Finding::fail("goget.auth", format!(
                    "Go's credential from {src} is rejected ({status}){}",
                    if src.contains("netrc") { " (see netrc.shadow)" } else { "" }
                )).maybe_fix(goauth_fix(d, &o.authority())),
            }
        }
        Ok(_) => Finding::fail(
            "goget.auth",
            format!("{url}: {}", gofetch::describe(go.last())),
        ),
    }
}

/// GOAUTH=git got a credential from git's helpers and the page rejected it: was it gocred's
/// (then gocred's token is bad) or a helper's before gocred (then the chain is)?
fn git_answer_rejected(
    d: &mut Doctor,
    go: &GoFetch,
    src: &str,
    status: &str,
    o: &Origin,
) -> Finding {
    let sent = go
        .retry
        .as_ref()
        .and(d.go_creds.as_ref())
        .and_then(|c| c.load(&format!("https://{}/", o.authority())))
        .and_then(|c| {
            c.basic.as_ref().map(|(u, p)| {
                (
                    u.clone(),
                    crate::secret::secret(
                        crate::secret::ExposeSecret::expose_secret(p).to_string(),
                    ),
                )
            })
        });
    let ours = super::cred::gocred_plain(d, o);
    let msg = format!("Go's credential from {src} is rejected ({status})");
    match (sent, ours) {
        (Some((_, p)), Some((rule, user, q))) if crate::secret::same_secret(&p, &q) => {
            let pat = matches!(rule.source, Some(crate::rules::SourceSpec::Pat));
            Finding::fail(
                "goget.auth",
                format!(
                    "{msg}: it is gocred's token for rule `{}` (see cred.probe)",
                    rule.pattern
                ),
            )
            .maybe_fix(pat.then(|| super::cred::login_fix(rule, Some(&user))))
        }
        (Some(_), _) => Finding::fail(
            "goget.auth",
            format!("{msg}: a credential helper before gocred answered git (see git.helpers)"),
        )
        .fix(super::git_helpers::make_gocred_first(d, &o.authority())),
        (None, _) => Finding::fail("goget.auth", format!("{msg} (see git.helpers, cred.probe)")),
    }
}

/// The GOAUTH value that lets gocred answer Go (through `git credential fill`), as a command.
/// `None` when GOAUTH already asks git (then the helper chain is what to fix).
pub(crate) fn goauth_fix(d: &mut Doctor, host: &str) -> Option<String> {
    let cur = d.go.get("GOAUTH").trim().to_string();
    let ours = |m: &str| {
        let m = m.trim();
        m.starts_with("git ") || m.split_whitespace().nth(1) == Some("goauth")
    };
    if cur.split(';').any(ours) {
        return None;
    }
    // `gocred goauth` answers Go's first call for every private host (GitLab subgroups too);
    // `git DIR` (gocred as git's helper) is the fallback when gocred's path holds whitespace,
    // which Go's GOAUTH splitting cannot carry.
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .filter(|p| !p.contains(char::is_whitespace));
    let first = match exe {
        Some(e) => format!("{e} goauth"),
        None => {
            let home = d.env.get("HOME")?.to_string();
            if home.contains(char::is_whitespace) {
                return None;
            }
            format!("git {home}")
        }
    };
    // Ours first: earlier entries win, and netrc may hold a stale entry for this host.
    let value = crate::goenv::goauth_value(&first, Some(&cur))?;
    let mut fix = d.go.set_command("GOAUTH", &value);
    let o = Origin::parse(Scheme::Https, host).ok()?;
    if matches!(
        d.settings.rules.select(&o, None),
        crate::rules::Selection::None
    ) {
        fix = format!("gocred login {host} && {fix}");
    }
    Some(fix)
}

/// GitLab subgroups: anonymously the page names a shorter root than with credentials; Go only
/// sends credentials up front (netrc, a GOAUTH command's initial answer), never after a 200.
pub(crate) fn subgroup_trap(
    d: &mut Doctor,
    go: &GoFetch,
    seen: &Import,
    path: &str,
    o: &Origin,
) -> Option<Finding> {
    if go.last_cred().is_some() || seen.prefix == d.target.module {
        return None;
    }
    let cred = super::cred::gocred_basic(d, o)?;
    let res = net::https(
        d,
        Client::Go,
        &o.host,
        o.port,
        "GET",
        path,
        &[("Authorization".into(), cred)],
    )
    .ok()?;
    let authed = goimport::parse(&String::from_utf8_lossy(&res.body));
    let real = goimport::matching(&authed, &d.target.module).ok()?;
    (real.prefix != seen.prefix).then(|| Finding::fail("goget.reporoot", format!(
        "without credentials the page declares `{}` → {}, with them `{}` → {} (the GitLab subgroup trap): Go gets a 200 \
         and never retries with credentials, so it fetches the wrong repository. Give Go a credential it sends up front \
         (a `machine {}` line in ~/.netrc, or a GOAUTH command that answers its first call)",
        clean(&seen.prefix), clean(&seen.repo_root), clean(&real.prefix), clean(&real.repo_root), o.host
    )))
}
