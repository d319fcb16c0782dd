//! `goproxy.module`: does a GOPROXY Go will ask (or skips) serve the module, with the credentials
//! Go sends it? (GOPROXY protocol: `<proxy>/<escaped module>/@v/list`, `go help goproxy`.)

use super::gofetch::{self, GoFetch};
use super::net::{self, Client};
use super::report::{Finding, Report};
use super::Doctor;

/// Go's module path escaping for proxies: an upper-case letter becomes `!` + lower case.
pub(crate) fn escape(module: &str) -> String {
    let mut s = String::new();
    for c in module.chars() {
        if c.is_ascii_uppercase() {
            s.push('!');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The proxy lists the module (and the requested version, if any).
    Has,
    /// 404/410, or the version is missing: Go moves on to the next entry.
    NotThere,
    /// Anything else: Go stops here.
    Broken,
}

/// Asks `proxy` for the module as Go would; reports `goproxy.module` when `report` is set.
pub(crate) fn ask(d: &mut Doctor, r: &mut Report, proxy: &str, role: &str) -> Answer {
    let base = proxy.trim_end_matches('/');
    let Some((host, port, _)) = gofetch::split_https(&format!("{base}/")) else {
        r.push(Finding::warn(
            "goproxy.module",
            format!("{proxy}: only https proxies are checked"),
        ));
        return Answer::Broken;
    };
    net::check(d, r, &host, port, &[Client::Go], role);
    let url = format!("{base}/{}/@v/list", escape(&d.target.module));
    let proxy = &super::report::redact_userinfo(proxy);
    let got: GoFetch = gofetch::fetch(d, &url);
    let cred = got
        .last_cred()
        .map(|s| format!(" with the credential from {s}"))
        .unwrap_or_default();
    let m = d.target.module.clone();
    let (answer, f) = match got.last() {
        Err(net::Blocked::Unreachable(id)) => (
            Answer::Broken,
            Finding::skip(
                "goproxy.module",
                format!("{proxy}: not reachable (see {id})"),
            ),
        ),
        Err(net::Blocked::Error(e)) => (
            Answer::Broken,
            Finding::fail(
                "goproxy.module",
                format!("{proxy}: {}", super::report::clean(e)),
            ),
        ),
        Ok(res) if res.status == 200 => {
            let list = String::from_utf8_lossy(&res.body).to_string();
            let versions: Vec<&str> = list.split_whitespace().collect();
            match &d.target.version {
                Some(v) if !versions.contains(&v.as_str()) && !v.starts_with("latest") => (
                    Answer::NotThere,
                    Finding::warn(
                        "goproxy.module",
                        format!(
                            "{proxy} lists {m}{cred} but not {v} (it has {})",
                            versions.join(" ")
                        ),
                    ),
                ),
                _ => (
                    Answer::Has,
                    Finding::ok(
                        "goproxy.module",
                        format!(
                            "{proxy} serves {m}{cred}: {}",
                            if versions.is_empty() {
                                "no tagged versions".into()
                            } else {
                                versions.join(" ")
                            }
                        ),
                    ),
                ),
            }
        }
        Ok(res) if res.status == 404 || res.status == 410 => (
            Answer::NotThere,
            Finding::warn(
                "goproxy.module",
                format!(
                    "{proxy} does not have {m} ({}{cred})",
                    gofetch::describe(got.last())
                ),
            ),
        ),
        Ok(res) if res.status == 401 || res.status == 403 => {
            let msg = match got.last_cred() {
                Some(src) => format!(
                    "{proxy} rejects Go's credential for {m} ({} with the credential from {src})",
                    res.status
                ),
                None => format!(
                    "{proxy} needs credentials for {m} ({}) and Go has none for {host} (GOAUTH={})",
                    res.status,
                    d.go.get("GOAUTH")
                ),
            };
            let fix = super::goget_auth::goauth_fix(d, &host);
            (
                Answer::Broken,
                Finding::fail("goproxy.module", msg).maybe_fix(fix),
            )
        }
        Ok(_) => (
            Answer::Broken,
            Finding::fail(
                "goproxy.module",
                format!("{proxy}: {}", gofetch::describe(got.last())),
            ),
        ),
    };
    for n in got.notes {
        r.push(Finding::warn("go.goauth", n));
    }
    r.push(f);
    answer
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(
            super::escape("github.com/Azure/Go"),
            "github.com/!azure/!go"
        );
    }
}
