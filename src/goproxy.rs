//! GOPROXY as Go reads it, and the trap where GOPRIVATE silently bypasses a private proxy.
//!
//! Sits beside Scope: `explain` (and `init`) use it to tell a person why their private proxy is
//! never asked. Go walks GOPROXY like `proxyList` in go:cmd/go/internal/modfetch/proxy.go:
//! entries split at `,` or `|`, trimmed, `off` and `direct` end the list, a scheme-less entry
//! with a `.`, `:` or `/` gets `https://`. A module that GONOPROXY matches — and an empty
//! GONOPROXY falls back to GOPRIVATE (docs/protocols/go-modules.md) — only ever uses `direct`: the proxies are
//! skipped ("disabled by GOPRIVATE/GONOPROXY"). `GONOPROXY=none` keeps GOPRIVATE's other effects
//! and lets the proxy serve it. Pure code.

use crate::protocol::{Origin, Scheme};
use crate::rules::{Rules, Selection};
use crate::scope::Patterns;
use crate::settings::GoVars;

/// Go's default when GOPROXY is unset (GOROOT/go.env).
pub(crate) const DEFAULT: &str = "https://proxy.golang.org,direct";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProxyEntry {
    Direct,
    Off,
    /// A proxy URL; `origin`/`path` are set for well-formed `https://` URLs without user info.
    Proxy {
        url: String,
        origin: Option<Origin>,
        path: String,
    },
}

/// The entries Go would use, in order.
pub(crate) fn entries(goproxy: &str) -> Vec<ProxyEntry> {
    let list = if goproxy.is_empty() { DEFAULT } else { goproxy };
    let mut out = Vec::new();
    for raw in list
        .split([',', '|'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        match raw {
            "off" => {
                out.push(ProxyEntry::Off);
                break;
            }
            "direct" => {
                out.push(ProxyEntry::Direct);
                break;
            }
            _ => {}
        }
        let url = if raw.contains(['.', ':', '/']) && !raw.contains(":/") && !raw.starts_with('/') {
            format!("https://{raw}")
        } else {
            raw.to_string()
        };
        let (origin, path) = match url.strip_prefix("https://") {
            Some(rest) => {
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let origin = (!authority.contains('@'))
                    .then(|| Origin::parse(Scheme::Https, authority).ok())
                    .flatten();
                (origin, path.trim_matches('/').to_string())
            }
            None => (None, String::new()),
        };
        out.push(ProxyEntry::Proxy { url, origin, path });
    }
    out
}

/// The proxy URLs Go asks, in order (those before the first `direct` or `off`).
pub(crate) fn proxy_urls(goproxy: &str) -> Vec<String> {
    entries(goproxy)
        .into_iter()
        .filter_map(|e| match e {
            ProxyEntry::Proxy { url, .. } => Some(url),
            _ => None,
        })
        .collect()
}

/// A proxy a gocred rule serves, named in GOPROXY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServedProxy {
    pub url: String,
    pub origin: Origin,
    /// The pattern of the rule that answers for it.
    pub rule: String,
}

/// The GOPROXY entries that a rule with a source serves.
pub(crate) fn served_proxies(go: &GoVars, rules: &Rules) -> Vec<ServedProxy> {
    entries(go.value("GOPROXY"))
        .into_iter()
        .filter_map(|e| match e {
            ProxyEntry::Proxy {
                url,
                origin: Some(origin),
                path,
            } => match rules.select(&origin, Some(&path)) {
                Selection::Rule(r) if r.source.is_some() => Some(ServedProxy {
                    url,
                    rule: r.pattern.clone(),
                    origin,
                }),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Why `module` skips every proxy: the variable that decides it and its matching pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bypass {
    /// `GONOPROXY`, or `GOPRIVATE` when GONOPROXY is empty and falls back to it.
    pub variable: &'static str,
    pub pattern: String,
}

pub(crate) fn bypass(go: &GoVars, module: &str) -> Option<Bypass> {
    let (variable, list) = match go.value("GONOPROXY") {
        "" => ("GOPRIVATE", go.value("GOPRIVATE")),
        v => ("GONOPROXY", v),
    };
    Patterns::parse(list).matching(module).map(|p| Bypass {
        variable,
        pattern: p.to_string(),
    })
}

/// The sentence for `explain`/`init` when `module` would bypass a proxy gocred serves.
pub(crate) fn trap_note(go: &GoVars, rules: &Rules, module: &str) -> Option<String> {
    let served = served_proxies(go, rules);
    let proxy = served.first()?;
    let b = bypass(go, module)?;
    let why = match b.variable {
        "GOPRIVATE" => format!(
            "GONOPROXY is unset, so GOPRIVATE's pattern `{}` makes go bypass every proxy for it",
            b.pattern
        ),
        _ => format!(
            "GONOPROXY pattern `{}` makes go bypass every proxy for it",
            b.pattern
        ),
    };
    Some(format!(
        "GOPROXY lists {} (served by rule `{}`), but {why} and fetch {module} straight from its \
         repository. If the module is published on that proxy, run: go env -w GONOPROXY=none \
         (GOPRIVATE keeps it out of the checksum database)",
        proxy.url, proxy.rule
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Env;
    use std::path::Path;

    fn go(pairs: &[(&str, &str)]) -> GoVars {
        let mut v: Vec<(&str, &str)> = pairs.to_vec();
        v.push(("GOENV", "off"));
        GoVars::read(&Env::from_pairs(v))
    }

    fn rules(toml: &str) -> Rules {
        let f = crate::config::parse(Path::new("c.toml"), toml).unwrap();
        Rules::compile(Path::new("c.toml"), &f, toml).unwrap()
    }

    #[test]
    fn parses_like_proxy_list() {
        let e = entries(" proxy.corp.test/go| https://u@x.test ,direct,https://after.test");
        assert_eq!(e.len(), 3, "{e:?}");
        assert!(
            matches!(&e[0], ProxyEntry::Proxy { url, origin: Some(o), path }
            if url == "https://proxy.corp.test/go" && o.host == "proxy.corp.test" && path == "go")
        );
        assert!(
            matches!(&e[1], ProxyEntry::Proxy { origin: None, .. }),
            "user info: no origin"
        );
        assert_eq!(e[2], ProxyEntry::Direct);
        assert!(
            matches!(&entries("")[0], ProxyEntry::Proxy { url, .. } if url == "https://proxy.golang.org")
        );
        assert_eq!(entries("off,https://x.test"), [ProxyEntry::Off]);
        assert_eq!(
            proxy_urls("a.test|https://b.test,direct,c.test"),
            ["https://a.test", "https://b.test"]
        );
        assert!(matches!(
            &entries("file:///srv/proxy")[0],
            ProxyEntry::Proxy { origin: None, .. }
        ));
    }

    #[test]
    fn the_goprivate_trap() {
        let r = rules("[[rule]]\npattern = \"proxy.corp.test\"\nsource = \"pat\"\n");
        let module = "git.corp.test/team/lib";
        let v = go(&[
            ("GOPROXY", "https://proxy.corp.test"),
            ("GOPRIVATE", "git.corp.test"),
        ]);
        let note = trap_note(&v, &r, module).unwrap();
        assert!(
            note.contains("GOPRIVATE's pattern `git.corp.test`"),
            "{note}"
        );
        assert!(note.contains("go env -w GONOPROXY=none"), "{note}");
        let v = go(&[
            ("GOPROXY", "https://proxy.corp.test"),
            ("GOPRIVATE", "git.corp.test"),
            ("GONOPROXY", "none"),
        ]);
        assert_eq!(trap_note(&v, &r, module), None);
        let v = go(&[
            ("GOPROXY", "https://proxy.corp.test"),
            ("GONOPROXY", "git.corp.test/team"),
        ]);
        assert!(trap_note(&v, &r, module)
            .unwrap()
            .contains("GONOPROXY pattern"));
        // No rule for the proxy, or the proxy is not in GOPROXY: no trap of ours.
        let v = go(&[("GOPRIVATE", "git.corp.test")]);
        assert_eq!(trap_note(&v, &r, module), None);
        let other = rules("[[rule]]\npattern = \"git.corp.test\"\nsource = \"pat\"\n");
        let v = go(&[
            ("GOPROXY", "https://proxy.corp.test"),
            ("GOPRIVATE", "git.corp.test"),
        ]);
        assert_eq!(trap_note(&v, &other, module), None);
    }
}
