//! SSH rules: the `url.<ssh base>.insteadOf https://<host>/<owner>/` rewrites a
//! `transport = "ssh"` rule asks for, and whether ssh is ready to use ([`readiness`]).
//!
//! Sits beside Rule in the flow: `get` never answers over HTTPS for an ssh rule; instead `init`
//! writes a rewrite so git fetches the rule's repositories over ssh. A rewrite is a string prefix
//! match in git, so it is scoped to the literal owner prefix of the pattern
//! (`github.com/acme/*` → `https://github.com/acme/`) and never covers a whole well-known public
//! host: that would send every public module over ssh, with your key, and fail for people
//! without one.

pub(crate) mod readiness;

use crate::config::Transport;
use crate::gitconfig::is_valid_host;
use crate::rules::{HostPattern, Rule};

/// Hosts that serve many unrelated owners: a rule may rewrite an owner there, never the host.
pub(crate) const PUBLIC_HOSTS: &[&str] = &[
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
    "gitea.com",
    "git.sr.ht",
    "dev.azure.com",
    "ssh.dev.azure.com",
    "go.googlesource.com",
    "gopkg.in",
    "launchpad.net",
    "salsa.debian.org",
    "framagit.org",
];

/// Where git should fetch over ssh: `[user@]host:[path]` (scp form) or
/// `ssh://[user@]host[:port]/[path]`, ending in `:` or `/` so a repository path can follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshBase {
    pub raw: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl SshBase {
    /// `git@<host>:` — what GitHub, GitLab, Bitbucket and Gitea use.
    pub(crate) fn default_for(host: &str) -> SshBase {
        SshBase {
            raw: format!("git@{host}:"),
            user: Some("git".into()),
            host: host.to_string(),
            port: None,
        }
    }

    pub(crate) fn parse(raw: &str) -> Result<SshBase, String> {
        let bad = |why: &str| {
            format!(
                "ssh_base `{}`: {why}",
                crate::protocol::escape_for_display(raw)
            )
        };
        if raw.starts_with('-') {
            return Err(bad(
                "must not start with '-' (ssh would read it as an option)",
            ));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@:/._~+-".contains(&b))
        {
            return Err(bad(
                "only letters, digits and @ : / . _ ~ + - are allowed (no spaces, quotes or control characters)",
            ));
        }
        if !raw.ends_with(':') && !raw.ends_with('/') {
            return Err(bad(
                "must end with ':' (git@host:) or '/' (ssh://git@host/) so a repository path can follow",
            ));
        }
        let (authority, path, scp) = match raw.strip_prefix("ssh://") {
            Some(rest) => match rest.split_once('/') {
                Some((a, p)) => (a, p, false),
                None => return Err(bad("ssh:// form needs a '/' after the host")),
            },
            None if raw.contains("://") => return Err(bad("only ssh:// or the scp form")),
            None => match raw.split_once(':') {
                Some((a, p)) => (a, p, true),
                None => return Err(bad("scp form needs `host:`")),
            },
        };
        if path.split('/').any(|e| e == "..") {
            return Err(bad("`..` in the path"));
        }
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() && !u.contains(['@', ':', '/']) => {
                (Some(u.to_string()), h)
            }
            Some(_) => return Err(bad("bad user name")),
            None => (None, authority),
        };
        let (host, port) = match (scp, hostport.split_once(':')) {
            (false, Some((h, p))) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(n)),
                _ => return Err(bad("bad port")),
            },
            (_, None) => (hostport, None),
            (true, Some(_)) => return Err(bad("the scp form has no port; use ssh://host:port/")),
        };
        if !is_valid_host(host) {
            return Err(bad("the host must be a plain lower-case host name"));
        }
        Ok(SshBase {
            raw: raw.to_string(),
            user,
            host: host.to_string(),
            port,
        })
    }
}

/// One rewrite: git replaces the prefix `instead_of` with `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rewrite {
    /// `url.<base>.insteadOf`: the ssh base plus the owner path.
    pub base: String,
    /// The https prefix rewritten: `https://github.com/acme/`.
    pub instead_of: String,
    /// The ssh endpoint, for readiness checks.
    pub ssh: SshBase,
}

/// The rewrite an ssh rule asks for, or why it cannot have one.
pub(crate) fn rewrite_for(rule: &Rule) -> Result<Rewrite, String> {
    if rule.transport != Transport::Ssh {
        return Err(format!("rule `{}` is not an ssh rule", rule.pattern));
    }
    let (host, port) = match &rule.host {
        HostPattern::Exact { host, port } => (host.as_str(), *port),
        HostPattern::OneLabel { .. } => {
            return Err(format!(
                "rule `{}`: a rewrite needs one exact host (`*.` cannot be an insteadOf prefix)",
                rule.pattern
            ))
        }
    };
    let authority = match port {
        Some(p) if p != 443 => format!("{host}:{p}"),
        _ => host.to_string(),
    };
    if !is_valid_host(&authority) {
        return Err(format!(
            "rule `{}`: host `{authority}` cannot go into git config",
            rule.pattern
        ));
    }
    let (literal, open_ended) = literal_prefix(rule.path_glob.as_deref());
    if let Some(bad) = literal.iter().find(|e| !is_path_element(e)) {
        return Err(format!(
            "rule `{}`: path element `{}` cannot go into an insteadOf prefix",
            rule.pattern,
            crate::protocol::escape_for_display(bad)
        ));
    }
    if literal.is_empty() && PUBLIC_HOSTS.contains(&host) {
        return Err(format!(
            "refusing to rewrite all of {host} to ssh (rule `{}`): every public module there would \
             go over ssh too; name the owner, e.g. `{host}/acme/*`",
            rule.pattern
        ));
    }
    // `acme/*` and `acme` both cover every repository of the owner: `acme/`. A pattern that ends
    // on a repository (`acme/lib`) has no slash after it: Go fetches `https://host/acme/lib`.
    let mut path = literal.join("/");
    if !path.is_empty() && (open_ended || literal.len() == 1) {
        path.push('/');
    }
    let ssh = match &rule.ssh_base {
        Some(b) => SshBase::parse(b)?,
        None => SshBase::default_for(host),
    };
    Ok(Rewrite {
        base: format!("{}{path}", ssh.raw),
        instead_of: format!("https://{authority}/{path}"),
        ssh,
    })
}

/// The leading literal elements of a path glob, and whether a glob element followed them.
fn literal_prefix(glob: Option<&str>) -> (Vec<String>, bool) {
    let Some(glob) = glob else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    for e in glob.split('/') {
        if e.contains(['*', '?', '[', '\\']) {
            return (out, true);
        }
        out.push(e.to_string());
    }
    (out, false)
}

/// Characters Go allows in module path elements, and nothing git's URL parser treats specially.
fn is_path_element(e: &str) -> bool {
    !e.is_empty()
        && e != "."
        && e != ".."
        && e.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuleSpec;

    fn ssh_rule(pattern: &str, base: Option<&str>) -> Rule {
        Rule::compile(
            &RuleSpec {
                pattern: pattern.into(),
                transport: Transport::Ssh,
                ssh_base: base.map(str::to_string),
                ..Default::default()
            },
            1,
        )
        .unwrap()
    }

    fn rw(pattern: &str, base: Option<&str>) -> Result<(String, String), String> {
        rewrite_for(&ssh_rule(pattern, base)).map(|r| (r.base, r.instead_of))
    }

    #[test]
    fn owner_scoped_rewrites() {
        let p = |a: &str, b: &str| Ok((a.to_string(), b.to_string()));
        assert_eq!(
            rw("github.com/acme/*", None),
            p("git@github.com:acme/", "https://github.com/acme/")
        );
        assert_eq!(
            rw("github.com/acme", None),
            p("git@github.com:acme/", "https://github.com/acme/")
        );
        assert_eq!(
            rw("github.com/acme/lib", None),
            p("git@github.com:acme/lib", "https://github.com/acme/lib")
        );
        assert_eq!(
            rw("git.legacy.example", None),
            p("git@git.legacy.example:", "https://git.legacy.example/")
        );
        assert_eq!(
            rw("git.corp.test/lax", Some("git.corp.test:/srv/repos/")),
            p(
                "git.corp.test:/srv/repos/lax/",
                "https://git.corp.test/lax/"
            )
        );
        assert_eq!(
            rw("git.corp.test/lax", Some("ssh://git@git.corp.test:2222/")),
            p(
                "ssh://git@git.corp.test:2222/lax/",
                "https://git.corp.test/lax/"
            )
        );
    }

    #[test]
    fn never_a_whole_public_host() {
        for pat in [
            "github.com",
            "gitlab.com/*",
            "bitbucket.org/*/x",
            "GitHub.com",
        ] {
            let e = rw(pat, None).unwrap_err();
            assert!(e.contains("refusing to rewrite all of"), "{pat}: {e}");
        }
        assert!(rw("*.corp.example", None).is_err());
    }

    #[test]
    fn ssh_bases_are_checked() {
        assert_eq!(
            SshBase::parse("git@host.example:").unwrap().user.as_deref(),
            Some("git")
        );
        assert_eq!(
            SshBase::parse("ssh://git@host.example:2222/").unwrap().port,
            Some(2222)
        );
        for bad in [
            "-oProxyCommand=x:",
            "git@host.example",
            "git@host.example:\nx/",
            "git@host.example:\r",
            "git@host example:",
            "https://host.example/",
            "git@Host.Example:",
            "ssh://host.example",
            "ssh://host.example:0/",
            "git@host.example:../x/",
            "@host.example:",
            "git@host.example:'x'/",
        ] {
            assert!(SshBase::parse(bad).is_err(), "{bad:?}");
        }
    }
}
