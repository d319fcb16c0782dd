//! `go.goprivate`, `go.gonosumdb`, `go.gonoproxy`, `go.goproxy`: does Go know the module is
//! private, will it keep it away from the public checksum database and proxy, and which route
//! (proxy list or direct) will it take? Go's rules: docs/protocols/go-modules.md and
//! go:cmd/go/internal/modfetch/{proxy.go,repo.go}.

use super::report::{Finding, Report, Slot};
use super::{Doctor, Route};
use crate::goproxy::ProxyEntry;
use crate::rules::Selection;
use crate::scope::GoScope;

/// Public module mirrors: a private module must never be looked up there.
const PUBLIC_PROXIES: [&str; 4] = [
    "proxy.golang.org",
    "goproxy.io",
    "goproxy.cn",
    "goproxy.dev",
];

pub(crate) fn is_public_proxy(url: &str) -> bool {
    let host = url
        .split("://")
        .nth(1)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    PUBLIC_PROXIES.contains(&host)
}

fn scope(d: &Doctor) -> GoScope {
    let v = |n: &str| Some(d.go.get(n)).filter(|s| !s.is_empty());
    GoScope::new(v("GOPRIVATE"), v("GONOPROXY"), v("GONOSUMDB"))
}

/// The pattern that should make the module private: the gocred rule's, else its host.
fn wanted_pattern(d: &Doctor) -> String {
    match d
        .settings
        .rules
        .select(d.module_origin(), d.target.resolved.path.as_deref())
    {
        Selection::Rule(r) if !r.pattern.contains('*') || r.pattern.starts_with("*.") => {
            r.pattern.clone()
        }
        _ => d.module_origin().authority(),
    }
}

fn has_rule(d: &Doctor) -> bool {
    !matches!(
        d.settings
            .rules
            .select(d.module_origin(), d.target.resolved.path.as_deref()),
        Selection::None
    )
}

fn appended(current: &str, pattern: &str) -> String {
    match current.trim_end_matches(',') {
        "" | "none" | "off" => pattern.to_string(),
        c => format!("{c},{pattern}"),
    }
}

/// Runs the scope checks; returns the slot reserved for `go.gonoproxy`.
pub(crate) fn run(d: &mut Doctor, r: &mut Report) -> Slot {
    let s = scope(d);
    let m = d.target.module.clone();
    let private = s.is_private(&m).map(str::to_string);
    match &private {
        Some(p) => r.push(Finding::ok(
            "go.goprivate",
            format!(
                "GOPRIVATE pattern `{p}` ({}) covers {m}",
                d.go.describe_from("GOPRIVATE")
            ),
        )),
        None => {
            let want = wanted_pattern(d);
            let fix =
                d.go.set_command("GOPRIVATE", &appended(d.go.get("GOPRIVATE"), &want));
            let msg = format!(
                "{} does not cover {m}: Go treats it as public — it asks proxy.golang.org and \
                 sum.golang.org about it (404/410 Gone) and never uses direct access",
                var(d, "GOPRIVATE")
            );
            // Without a gocred rule the module may really be public: only warn then.
            r.push(
                if has_rule(d) {
                    Finding::fail("go.goprivate", msg)
                } else {
                    Finding::warn("go.goprivate", format!("{msg} (if it is private)"))
                }
                .fix(fix),
            );
        }
    }
    let sumdb = d.go.get("GOSUMDB").to_string();
    if s.is_nosumdb(&m) {
        r.push(Finding::ok(
            "go.gonosumdb",
            format!(
                "GONOSUMDB{} covers {m}: no checksum database lookup",
                fallback_note(d, "GONOSUMDB")
            ),
        ));
    } else if sumdb == "off" {
        r.push(Finding::ok(
            "go.gonosumdb",
            "GOSUMDB=off: no checksum database lookups at all (public modules go unverified too)",
        ));
    } else if private.is_some() || has_rule(d) {
        let want = private.clone().unwrap_or_else(|| wanted_pattern(d));
        let fix =
            d.go.set_command("GONOSUMDB", &appended(d.go.get("GONOSUMDB"), &want));
        r.push(Finding::fail("go.gonosumdb", format!(
            "{} is narrower than GOPRIVATE and misses {m}: Go will verify this private module against \
             {} — it answers 410 Gone / not found, and `verifying module` fails (and the path leaks)",
            var(d, "GONOSUMDB"), show(&sumdb)
        )).fix(fix));
    } else {
        r.push(Finding::ok(
            "go.gonosumdb",
            format!("{m} is checked against {} (public module)", show(&sumdb)),
        ));
    }
    let slot = r.reserve();
    d.route = route(d, &s);
    r.push(describe_route(d));
    slot
}

/// `=value`, saying so when the value is GOPRIVATE's (unset GONOPROXY/GONOSUMDB fall back to
/// it; `go env` prints the fallback).
fn fallback_note(d: &Doctor, name: &str) -> String {
    match (d.go.from(name), d.go.get(name)) {
        (crate::settings::VarOrigin::Unset, v) => format!(" (unset, so GOPRIVATE's `{v}`)"),
        (_, v) => format!("=`{v}`"),
    }
}

/// `NAME=`value`` or `NAME (empty)`.
fn var(d: &Doctor, name: &str) -> String {
    match d.go.get(name) {
        "" => format!("{name} (empty)"),
        v => format!("{name}=`{v}`"),
    }
}

fn show(v: &str) -> String {
    if v.is_empty() {
        "(empty)".into()
    } else {
        format!("`{v}`")
    }
}

/// Go's route for the module (proxy.go `proxyList`, repo.go `lookup`).
fn route(d: &Doctor, s: &GoScope) -> Route {
    route_for(d.go.get("GOPROXY"), s.is_noproxy(&d.target.module))
}

/// Pure part of [`route`].
fn route_for(goproxy: &str, noproxy: bool) -> Route {
    // Go puts an implicit "noproxy" first whenever GONOPROXY (or GOPRIVATE) is set, so a
    // matching module goes direct even with GOPROXY=off.
    if noproxy {
        return Route::Direct;
    }
    let mut urls = Vec::new();
    for entry in crate::goproxy::entries(goproxy) {
        let then_direct = match entry {
            ProxyEntry::Proxy { url, .. } => {
                urls.push(url);
                continue;
            }
            ProxyEntry::Direct if urls.is_empty() => return Route::Direct,
            ProxyEntry::Off if urls.is_empty() => return Route::Off(format!("GOPROXY={goproxy}")),
            ProxyEntry::Direct => true,
            ProxyEntry::Off => false,
        };
        return Route::Proxies { urls, then_direct };
    }
    if urls.is_empty() {
        Route::Off(format!("GOPROXY={goproxy} lists nothing"))
    } else {
        Route::Proxies {
            urls,
            then_direct: false,
        }
    }
}

fn describe_route(d: &Doctor) -> Finding {
    let gp = d.go.get("GOPROXY");
    let m = &d.target.module;
    let creds = if gp
        .split([',', '|'])
        .any(|u| u.contains('@') && u.contains("://"))
    {
        " — GOPROXY holds credentials in a URL: `go env` prints them; use GOAUTH or .netrc instead"
    } else {
        ""
    };
    let f = match &d.route {
        Route::Direct => Finding::ok("go.goproxy", format!("GOPROXY={gp}: Go fetches {m} directly from its repository (GONOPROXY/GOPRIVATE match){creds}")),
        Route::Proxies { urls, then_direct } => Finding::ok("go.goproxy", format!(
            "GOPROXY={gp}: Go asks {}{} for {m}{creds}",
            urls.join(", then "),
            if *then_direct { ", then the repository directly" } else { "" }
        )),
        Route::Off(why) => {
            let want = wanted_pattern(d);
            Finding::fail("go.goproxy", format!("{why}: Go will not fetch {m} (module lookup disabled); a private module must match GOPRIVATE/GONOPROXY to be fetched directly"))
                .fix(d.go.set_command("GOPRIVATE", &appended(d.go.get("GOPRIVATE"), &want)))
        }
    };
    if creds.is_empty() || f.status != super::Status::Ok {
        f
    } else {
        Finding {
            status: super::Status::Warn,
            ..f
        }
    }
}

/// `go.gonoproxy`, judged after the other links: a private proxy that GONOPROXY makes Go skip is
/// only a failure when the direct route it takes instead is broken and the proxy has the module.
pub(crate) fn judge_gonoproxy(d: &mut Doctor, r: &mut Report, slot: Slot) {
    let s = scope(d);
    let m = d.target.module.clone();
    let private = s.is_private(&m).is_some() || has_rule(d);
    let gp = d.go.get("GOPROXY").to_string();
    let proxies = crate::goproxy::proxy_urls(&gp);
    let noproxy = s.is_noproxy(&m);
    let f = if !private {
        Finding::ok(
            "go.gonoproxy",
            format!("{m} is public: proxies may serve it"),
        )
    } else if !noproxy && proxies.is_empty() {
        Finding::ok(
            "go.gonoproxy",
            format!("GOPROXY={} names no proxy for {m}", show(&gp)),
        )
    } else if !noproxy {
        match proxies.iter().find(|u| is_public_proxy(u)) {
            Some(p) => Finding::fail("go.gonoproxy", format!(
                "{} misses {m}: Go asks the public proxy {p} for a private module (it answers 404/410 and learns the path)",
                var(d, "GONOPROXY")
            )).fix(d.go.set_command("GONOPROXY", &appended(d.go.get("GONOPROXY"), &wanted_pattern(d)))),
            None => Finding::ok("go.gonoproxy", format!("{m} goes through your private proxy ({})", proxies.join(", "))),
        }
    } else {
        let private_proxy = proxies.iter().find(|u| !is_public_proxy(u)).cloned();
        match private_proxy {
            None => Finding::ok(
                "go.gonoproxy",
                format!(
                    "GONOPROXY{} sends {m} direct",
                    fallback_note(d, "GONOPROXY")
                ),
            ),
            Some(p) => {
                let direct_broken = r.findings().any(|f| {
                    f.status == super::Status::Fail
                        && DIRECT_IDS.iter().any(|id| f.id.starts_with(id))
                });
                let has_it = d.memo.get("proxy-has-module").is_some_and(|v| v == "yes");
                let msg = format!(
                    "GONOPROXY{} sends {m} direct, bypassing your private proxy {p}",
                    fallback_note(d, "GONOPROXY")
                );
                let fix = d.go.set_command("GONOPROXY", "none");
                if direct_broken && has_it {
                    Finding::fail(
                        "go.gonoproxy",
                        format!("{msg}, which serves it, while the direct route is broken (below)"),
                    )
                    .fix(fix)
                } else if has_it {
                    Finding::warn(
                        "go.gonoproxy",
                        format!("{msg}, which serves it (the direct route works too)"),
                    )
                    .fix(fix)
                } else if d.memo.get("proxy-has-module").is_some_and(|v| v == "no") {
                    Finding::ok(
                        "go.gonoproxy",
                        format!("{msg}; the proxy does not list it, so direct is right"),
                    )
                } else {
                    Finding::ok(
                        "go.gonoproxy",
                        format!("{msg}; could not ask the proxy whether it has the module"),
                    )
                }
            }
        }
    };
    r.fill(slot, f);
}

/// Checks whose failure means the direct route (go-get page, git, credentials) is broken.
const DIRECT_IDS: [&str; 6] = ["goget.", "cred.", "git.", "netrc.", "ssh.", "net."];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_as_go_walks_goproxy() {
        let p = |urls: &[&str], then_direct| Route::Proxies {
            urls: urls.iter().map(|u| u.to_string()).collect(),
            then_direct,
        };
        assert_eq!(route_for("off", true), Route::Direct);
        assert!(matches!(route_for("off", false), Route::Off(_)));
        assert_eq!(route_for("direct", false), Route::Direct);
        assert_eq!(
            route_for("https://proxy.golang.org,direct", false),
            p(&["https://proxy.golang.org"], true)
        );
        assert_eq!(
            route_for("proxy.corp.test|https://b.test,off,direct", false),
            p(&["https://proxy.corp.test", "https://b.test"], false)
        );
        assert!(matches!(route_for(" , ", false), Route::Off(_)));
        assert!(is_public_proxy("https://proxy.golang.org"));
        assert!(!is_public_proxy("https://proxy.corp.test"));
        assert_eq!(appended("", "a.test"), "a.test");
        assert_eq!(appended("none", "a.test"), "a.test");
        assert_eq!(appended("b.test,", "a.test"), "b.test,a.test");
    }
}
