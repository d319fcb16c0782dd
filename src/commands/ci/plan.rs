//! Which hosts a CI job gets credentials for: the private hosts (GOPRIVATE) that a rule covers.
//!
//! A netrc entry is per host, for every port and path on it (curl ignores both), so for a netrc
//! ([`Mode::Netrc`]) only rules naming one exact host on the default port qualify; wildcard and
//! port rules are skipped with a note pointing at the file-less mode. The in-memory agent
//! ([`Mode::Agent`]) configures git per exact URL, so it also serves a port rule (`host:port`,
//! minted up front like an exact host) and a wildcard rule (`*.corp.test`, minted on the first
//! request for each host, see `agent`). A rule counts when GOPRIVATE covers its pattern, or names
//! a part of its host the rule also covers. One entry per host: when two rules share a host, the
//! first serves it (the same first-match-wins as `get`).

use crate::rules::{HostPattern, Rule};
use crate::scope::path_match;
use crate::settings::Settings;

/// One host to write, and the rule whose source serves it.
#[derive(Debug)]
pub(crate) struct Planned<'a> {
    pub host: String,
    pub rule: &'a Rule,
}

/// Where the credentials go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A managed netrc block: exact hosts on the default port only.
    Netrc,
    /// `ci exec`'s in-memory agent: exact, port and wildcard rules.
    Agent,
}

#[derive(Debug, Default)]
pub(crate) struct Plan<'a> {
    /// Minted before the command starts; `host` is an authority (`host` or `host:port`).
    pub hosts: Vec<Planned<'a>>,
    /// Wildcard rules (agent only), minted per host on first request.
    pub lazy: Vec<&'a Rule>,
    /// Why other rules got no entry (for stderr).
    pub notes: Vec<String>,
}

pub(crate) fn plan(settings: &Settings, mode: Mode) -> Plan<'_> {
    let mut p = Plan::default();
    let goprivate = settings.go.value("GOPRIVATE");
    for rule in &settings.rules.rules {
        if rule.source.is_none() {
            continue; // ssh: git uses a key, nothing for a netrc
        }
        let host = match &rule.host {
            HostPattern::Exact {
                host,
                port: None | Some(443),
            } => host.clone(),
            HostPattern::Exact {
                host,
                port: Some(port),
            } if mode == Mode::Agent => {
                if !is_private(settings, rule, host) {
                    p.notes.push(not_private(rule, host, goprivate));
                    continue;
                }
                format!("{host}:{port}")
            }
            HostPattern::Exact {
                host,
                port: Some(port),
            } => {
                p.notes.push(format!(
                    "rule `{}` is for {host}:{port}; a netrc entry cannot be limited to a port \
                     (git would send it to every port of {host}): skipped; `gocred ci exec` (no \
                     file) serves it exactly",
                    rule.pattern
                ));
                continue;
            }
            HostPattern::OneLabel { suffix, .. } if mode == Mode::Agent => {
                let any = format!("*.{suffix}");
                match is_private(settings, rule, &any) {
                    true => p.lazy.push(rule),
                    false => p.notes.push(not_private(rule, &any, goprivate)),
                }
                continue;
            }
            HostPattern::OneLabel { suffix, .. } => {
                p.notes.push(format!(
                    "rule `{}` covers *.{suffix}; a netrc entry names one host: skipped; give each \
                     host its own rule, or use `gocred ci exec` (no file)",
                    rule.pattern
                ));
                continue;
            }
        };
        if matches!(
            rule.host,
            HostPattern::Exact {
                port: None | Some(443),
                ..
            }
        ) && !is_private(settings, rule, &host)
        {
            p.notes.push(not_private(rule, &host, goprivate));
            continue;
        }
        if let Some(first) = p.hosts.iter().find(|h| h.host == host) {
            p.notes.push(format!(
                "rule `{}` also covers {host}; a netrc holds one entry per host, so the first \
                 rule, `{}`, serves it",
                rule.pattern, first.rule.pattern
            ));
            continue;
        }
        // An earlier wildcard rule serves this host (first match wins, as in `get`).
        let origin = crate::protocol::Origin::parse(crate::protocol::Scheme::Https, &host);
        if let Some(first) = p
            .lazy
            .iter()
            .find(|l| origin.as_ref().is_ok_and(|o| l.host.matches(o)))
        {
            p.notes.push(format!(
                "rule `{}` also covers {host}; the first rule, `{}`, serves it",
                rule.pattern, first.pattern
            ));
            continue;
        }
        p.hosts.push(Planned { host, rule });
    }
    p
}

fn not_private(rule: &Rule, host: &str, goprivate: &str) -> String {
    format!(
        "rule `{}`: {host} is not private per GOPRIVATE (`{goprivate}`): skipped",
        rule.pattern
    )
}

/// GOPRIVATE covers the rule's pattern, or a GOPRIVATE glob names this host and overlaps the
/// rule's path part element by element.
pub(crate) fn is_private(settings: &Settings, rule: &Rule, host: &str) -> bool {
    let pattern = rule.pattern.strip_suffix('/').unwrap_or(&rule.pattern);
    let as_module = match &rule.path_glob {
        Some(glob) => format!("{host}/{glob}"),
        None => host.to_string(),
    };
    if settings.scope.is_private(pattern).is_some()
        || settings.scope.is_private(&as_module).is_some()
    {
        return true;
    }
    settings.scope.private.globs().any(|g| {
        let mut parts = g.split('/');
        let first = parts.next().unwrap_or("");
        if !path_match(first, host).unwrap_or(false) {
            return false;
        }
        let Some(rule_glob) = &rule.path_glob else {
            return true;
        };
        rule_glob
            .split('/')
            .zip(parts)
            .all(|(r, g)| path_match(r, g).unwrap_or(false) || path_match(g, r).unwrap_or(false))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Env;

    fn settings(goprivate: &str, rules: &str) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        std::fs::write(&cfg, rules).unwrap();
        let s = Settings::load(Env::from_pairs([
            ("GOPRIVATE", goprivate),
            ("GOCRED_CONFIG", cfg.to_str().unwrap()),
            ("GOENV", "off"),
        ]))
        .unwrap();
        drop(dir);
        s
    }

    fn rule(pattern: &str) -> String {
        format!("[[rule]]\npattern = \"{pattern}\"\nsource = \"env\"\nvariable = \"T\"\n")
    }

    fn hosts(p: &Plan) -> Vec<(String, String)> {
        p.hosts
            .iter()
            .map(|h| (h.host.clone(), h.rule.pattern.clone()))
            .collect()
    }

    #[test]
    fn private_exact_hosts_only() {
        let cfg = [
            rule("git.corp.test"),
            rule("public.example"),
            rule("*.corp.test"),
            rule("git.corp.test:8443"),
            "[[rule]]\npattern = \"ssh.corp.test\"\ntransport = \"ssh\"\n".into(),
        ]
        .concat();
        let s = settings("git.corp.test,*.corp.test,ssh.corp.test", &cfg);
        let p = plan(&s, Mode::Netrc);
        assert_eq!(
            hosts(&p),
            vec![("git.corp.test".into(), "git.corp.test".into())]
        );
        let notes = p.notes.join("\n");
        assert!(notes.contains("public.example is not private"), "{notes}");
        assert!(
            notes.contains("*.corp.test") && notes.contains("no file"),
            "{notes}"
        );
        assert!(notes.contains("git.corp.test:8443"), "{notes}");
    }

    #[test]
    fn path_scoped_rules_and_globs_overlap() {
        let cfg = [rule("github.com/acme/*"), rule("github.com/other/*")].concat();
        for (goprivate, want) in [
            ("github.com/acme", true),
            ("github.com/acme/lib", true),
            ("github.com", true),
            ("github.com/*", true),
            ("github.com/else", false),
            ("gitlab.com/acme", false),
        ] {
            let s = settings(
                goprivate,
                &cfg[..cfg.find("[[rule]]\npattern = \"github.com/other").unwrap()],
            );
            assert_eq!(!plan(&s, Mode::Netrc).hosts.is_empty(), want, "{goprivate}");
        }
        let s = settings("github.com", &cfg);
        let p = plan(&s, Mode::Netrc);
        assert_eq!(
            hosts(&p),
            vec![("github.com".into(), "github.com/acme/*".into())]
        );
        assert!(p.notes.join("\n").contains("first"), "{:?}", p.notes);
    }

    #[test]
    fn the_agent_serves_port_and_wildcard_rules_too() {
        let cfg = [
            rule("git.corp.test"),
            rule("*.corp.test"),
            rule("git.corp.test:8443"),
            rule("*.public.example"),
        ]
        .concat();
        let s = settings("*.corp.test,git.corp.test", &cfg);
        let p = plan(&s, Mode::Agent);
        assert_eq!(
            hosts(&p),
            vec![
                ("git.corp.test".into(), "git.corp.test".into()),
                ("git.corp.test:8443".into(), "git.corp.test:8443".into())
            ]
        );
        let lazy: Vec<&str> = p.lazy.iter().map(|r| r.pattern.as_str()).collect();
        assert_eq!(lazy, ["*.corp.test"]);
        assert!(
            p.notes
                .join("\n")
                .contains("*.public.example is not private"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn nothing_private_means_nothing_planned() {
        let s = settings("", &rule("git.corp.test"));
        assert!(plan(&s, Mode::Netrc).hosts.is_empty());
    }
}
