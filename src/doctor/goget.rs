//! Steps 2–3 for Go: the hosts Go talks to and what they say. With a proxy route, the GOPROXY
//! entries in order (`goproxy.module`); with the direct route, the go-get page
//! `https://<module>?go-get=1` fetched without credentials (`goget.page`), then as Go fetches it
//! with its GOAUTH credentials (`goget.auth`), and the repository root it declares
//! (`goget.reporoot`), including the GitLab-subgroup trap: an anonymous 200 naming a root that is
//! too short, so Go never retries with credentials (spec R2.10).

use super::gofetch::{self, GoFetch};
use super::goimport::{self, Import};
use super::goproxy::{self, Answer};
use super::net::{self, Blocked, Client};
use super::report::{clean, Finding, Report};
use super::{Doctor, Repo, Route};
use crate::protocol::{Origin, Scheme};

pub fn run(d: &mut Doctor, r: &mut Report) {
    match d.route.clone() {
        Route::Off(_) => {
            for id in ["goget.page", "goget.auth", "goget.reporoot"] {
                r.push(Finding::skip(
                    id,
                    "Go will not fetch the module (see go.goproxy)",
                ));
            }
            guess_repo(d);
            return;
        }
        Route::Proxies { urls, then_direct } => {
            for u in &urls {
                match goproxy::ask(d, r, u, "GOPROXY") {
                    Answer::Has => {
                        d.served_by_proxy = Some(u.clone());
                        for id in ["goget.page", "goget.auth", "goget.reporoot"] {
                            r.push(Finding::skip(
                                id,
                                format!("Go gets the module from {u}, not from its repository"),
                            ));
                        }
                        guess_repo(d);
                        return;
                    }
                    Answer::NotThere => continue,
                    Answer::Broken => {
                        guess_repo(d);
                        return;
                    }
                }
            }
            if !then_direct {
                guess_repo(d);
                return;
            }
        }
        Route::Direct => {
            // A private proxy GONOPROXY makes Go skip: does it have the module? (go.gonoproxy)
            let private =
                d.go.get("GOPROXY")
                    .split([',', '|'])
                    .map(str::trim)
                    .find(|u| {
                        !["", "direct", "off"].contains(u) && !super::go_scope::is_public_proxy(u)
                    })
                    .map(|u| {
                        if u.contains("://") {
                            u.to_string()
                        } else {
                            format!("https://{u}")
                        }
                    });
            if let Some(p) = private {
                let mut scratch = Report::default();
                let has = goproxy::ask(d, &mut scratch, &p, "GOPROXY, bypassed") == Answer::Has;
                d.memo.insert(
                    "proxy-has-module".into(),
                    if has { "yes" } else { "no" }.into(),
                );
            }
        }
    }
    direct(d, r);
}

/// Without a page to read, assume the repository lives at `https://<module>.git`.
fn guess_repo(d: &mut Doctor) {
    let o = d.module_origin().clone();
    let p = d
        .target
        .module
        .split_once('/')
        .map(|(_, p)| format!("{p}.git"))
        .unwrap_or_default();
    d.repo = Some(Repo {
        url: format!("https://{}/{p}", o.authority()),
        origin: o,
        path: p,
        from: "assumed from the module path".into(),
    });
}

fn direct(d: &mut Doctor, r: &mut Report) {
    let m = d.target.module.clone();
    if let Some((root, how)) = goimport::static_root(&m) {
        r.push(Finding::skip(
            "goget.page",
            format!("{m}: repository from {how}"),
        ));
        r.push(Finding::skip(
            "goget.auth",
            "no go-get page: Go's credentials are not needed",
        ));
        set_repo(d, r, &root, how);
        return;
    }
    let o = d.module_origin().clone();
    // Git will most likely talk to the same host: check both clients now, so identical
    // paths share one set of lines.
    net::check(
        d,
        r,
        &o.host,
        o.port,
        &[Client::Go, Client::Git],
        "go-get page",
    );
    let path = format!("/{}?go-get=1", m.split_once('/').map_or("", |(_, p)| p));
    let url = format!("https://{}{path}", o.authority());
    let anon = net::https(d, Client::Go, &o.host, o.port, "GET", &path, &[]);
    let anon_imports = match &anon {
        Ok(res) if res.status == 200 => Some(goimport::parse(&String::from_utf8_lossy(&res.body))),
        _ => None,
    };
    r.push(match &anon {
        Err(Blocked::Unreachable(id)) => {
            Finding::skip("goget.page", format!("{url}: not reachable (see {id})"))
        }
        Err(Blocked::Error(e)) => Finding::fail("goget.page", format!("{url}: {}", clean(e))),
        Ok(res) if res.status == 200 => {
            match anon_imports.as_deref().map(|i| goimport::matching(i, &m)) {
                Some(Ok(i)) => Finding::ok(
                    "goget.page",
                    format!(
                        "{url} answers 200 without credentials: go-import `{} {} {}`",
                        clean(&i.prefix),
                        clean(&i.vcs),
                        clean(&i.repo_root)
                    ),
                ),
                Some(Err(e)) => Finding::fail(
                    "goget.page",
                    format!("{url} answers 200 without credentials but {e}"),
                ),
                None => unreachable!("parsed above"),
            }
        }
        Ok(res) if (400..500).contains(&res.status) => Finding::ok(
            "goget.page",
            format!(
                "{url} needs credentials ({} without them)",
                gofetch::describe(&anon)
            ),
        ),
        Ok(_) => Finding::fail(
            "goget.page",
            format!("{url}: {} (server error)", gofetch::describe(&anon)),
        ),
    });
    if matches!(anon, Err(Blocked::Unreachable(_))) {
        r.push(Finding::skip(
            "goget.auth",
            "the go-get page host is not reachable",
        ));
        r.push(Finding::skip(
            "goget.reporoot",
            "the go-get page host is not reachable",
        ));
        guess_repo(d);
        return;
    }
    let go = gofetch::fetch(d, &url);
    for n in &go.notes {
        r.push(Finding::warn("go.goauth", n.clone()));
    }
    r.push(auth_finding(d, &go, &url, &o));
    // The imports Go ends up seeing, and the authenticated view for the subgroup trap.
    let seen = match go.last() {
        Ok(res) if res.status == 200 => Some(goimport::parse(&String::from_utf8_lossy(&res.body))),
        _ => None,
    };
    let Some(seen) = seen else {
        r.push(Finding::skip(
            "goget.reporoot",
            "Go does not get the go-get page (see goget.auth)",
        ));
        guess_repo(d);
        return;
    };
    match goimport::matching(&seen, &m) {
        Err(e) => {
            r.push(Finding::fail("goget.reporoot", format!("{url}: {e}")));
            guess_repo(d);
        }
        Ok(imp) => {
            let imp = imp.clone();
            if let Some(f) = subgroup_trap(d, &go, &imp, &path, &o) {
                r.push(f);
            }
            if imp.vcs != "git" {
                let st = if imp.vcs == "mod" {
                    Finding::ok(
                        "goget.reporoot",
                        format!(
                            "`{}` is served by the module proxy {} (vcs mod)",
                            clean(&imp.prefix),
                            clean(&imp.repo_root)
                        ),
                    )
                } else {
                    Finding::warn(
                        "goget.reporoot",
                        format!(
                            "`{}` uses {}, which gocred does not serve",
                            clean(&imp.prefix),
                            clean(&imp.vcs)
                        ),
                    )
                };
                r.push(st);
                guess_repo(d);
                return;
            }
            set_repo(
                d,
                r,
                &imp.repo_root,
                &format!("the go-import tag for `{}`", clean(&imp.prefix)),
            );
        }
    }
}

fn set_repo(d: &mut Doctor, r: &mut Report, root: &str, how: &str) {
    let Some((host, port, path)) = gofetch::split_https(root) else {
        r.push(Finding::fail(
            "goget.reporoot",
            format!(
                "repository root `{}` is not an https URL (from {how}); gocred serves https",
                clean(root)
            ),
        ));
        guess_repo(d);
        return;
    };
    let origin = match Origin::parse(
        Scheme::Https,
        &if port == 443 {
            host.clone()
        } else {
            format!("{host}:{port}")
        },
    ) {
        Ok(o) => o,
        Err(e) => {
            r.push(Finding::fail(
                "goget.reporoot",
                format!("repository root `{}`: {e}", clean(root)),
            ));
            guess_repo(d);
            return;
        }
    };
    let path = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string();
    r.push(Finding::ok(
        "goget.reporoot",
        format!("repository {} (from {how})", clean(root)),
    ));
    d.repo = Some(Repo {
        url: root.trim_end_matches('/').to_string(),
        origin: origin.clone(),
        path,
        from: how.to_string(),
    });
    if origin != *d.module_origin() {
        net::check(
            d,
            r,
            &origin.host,
            origin.port,
            &[Client::Git],
            "repository",
        );
    }
}

fn auth_finding(d: &mut Doctor, go: &GoFetch, url: &str, o: &Origin) -> Finding {
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
        .fix(super::git_checks::make_gocred_first(d, &o.authority())),
        (None, _) => Finding::fail("goget.auth", format!("{msg} (see git.helpers, cred.probe)")),
    }
}

/// The GOAUTH value that lets gocred answer Go (through `git credential fill`), as a command.
/// `None` when GOAUTH already asks git (then the helper chain is what to fix).
pub fn goauth_fix(d: &mut Doctor, host: &str) -> Option<String> {
    let cur = d.go.get("GOAUTH").trim().to_string();
    if cur.split(';').any(|m| m.trim().starts_with("git ")) {
        return None;
    }
    let home = d.env.get("HOME")?.to_string();
    if home.contains(char::is_whitespace) {
        return None; // Go splits GOAUTH on spaces
    }
    // `git DIR` first: earlier entries win, and netrc may hold a stale entry for this host.
    let value = match cur.as_str() {
        "" | "netrc" | "off" => format!("git {home}"),
        other => format!("git {home};{other}"),
    };
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
fn subgroup_trap(
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
