//! Steps 2–3 for Go: the hosts Go talks to and what they say. With a proxy route, the GOPROXY
//! entries in order (`goproxy.module`); with the direct route, the go-get page
//! `https://<module>?go-get=1` fetched without credentials (`goget.page`), then as Go fetches it
//! with its GOAUTH credentials (`goget.auth`), and the repository root it declares
//! (`goget.reporoot`), including the GitLab-subgroup trap: an anonymous 200 naming a root that is
//! too short, so Go never retries with credentials (docs/protocols/go-modules.md).

use super::gofetch;
use super::goimport;
use super::goproxy::{self, Answer};
use super::net::{self, Blocked, Client};
use super::report::{clean, Finding, Report};
use super::{Doctor, Repo, Route};
use crate::protocol::{Origin, Scheme};

pub(crate) fn run(d: &mut Doctor, r: &mut Report) {
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
                        for id in ["goget.page", "goget.auth", "goget.reporoot"] {
                            r.push(Finding::skip(
                                id,
                                format!("Go stops at {u} (see goproxy.module)"),
                            ));
                        }
                        guess_repo(d);
                        return;
                    }
                }
            }
            if !then_direct {
                for id in ["goget.page", "goget.auth", "goget.reporoot"] {
                    r.push(Finding::skip(
                        id,
                        "no proxy in GOPROXY has the module and GOPROXY does not end in `direct`",
                    ));
                }
                guess_repo(d);
                return;
            }
        }
        Route::Direct => {
            // A private proxy GONOPROXY makes Go skip: does it have the module? (go.gonoproxy)
            let private = crate::goproxy::proxy_urls(d.go.get("GOPROXY"))
                .into_iter()
                .find(|u| !super::go_scope::is_public_proxy(u));
            if let Some(p) = private {
                let mut scratch = Report::default();
                let answer = match goproxy::ask(d, &mut scratch, &p, "GOPROXY, bypassed") {
                    Answer::Has => "yes",
                    Answer::NotThere => "no",
                    Answer::Broken => "unknown",
                };
                d.memo.insert("proxy-has-module".into(), answer.into());
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
    r.push(super::goget_auth::auth_finding(d, &go, &url, &o));
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
            if let Some(f) = super::goget_auth::subgroup_trap(d, &go, &imp, &path, &o) {
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
    });
    // Git talks to the repository host (a no-op when it is the page's host, checked above).
    net::check(
        d,
        r,
        &origin.host,
        origin.port,
        &[Client::Git],
        "repository",
    );
}
