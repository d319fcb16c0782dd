//! Rules: which source serves which request. First match wins.
//!
//! Sits between Scope and Source in the flow. A rule's pattern is GOPRIVATE syntax over module
//! paths, but a GOPRIVATE glob is not a safe host allow-list (`*corp.com` matches `evilcorp.com`,
//! docs/protocols/goauth.md). So a rule's *host* is matched the way a credential must be: lower-case, exact, port
//! explicit, and `*` only as a whole leftmost label with git's one-label semantics. Only the path
//! part of the pattern uses Go's element-wise glob matching, and only when git sent a path.

use std::path::Path;

use crate::config::{ConfigFile, HttpAuth, RuleSpec, Transport};
use crate::error::{Error, Result};
use crate::protocol::{Origin, ProtocolError, Scheme};
use crate::scope::path_match;
pub(crate) use crate::sources::SourceSpec;
use crate::sources::{Query, RuleRef, Source};

/// The host half of a rule, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// `git.corp.example` (port: explicit or the scheme default at match time).
    Exact { host: String, port: Option<u16> },
    /// `*.corp.example`: exactly one extra leftmost label (git's `credential.<url>` semantics).
    OneLabel { suffix: String, port: Option<u16> },
}

impl HostPattern {
    pub fn parse(raw: &str) -> std::result::Result<HostPattern, String> {
        let (wild, rest) = match raw.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        if rest.contains(['*', '?', '[', ']']) && !rest.starts_with('[') {
            return Err(format!(
                "host `{raw}` is a glob that is not a whole label; a credential needs an exact host \
                 (`git.corp.example`) or `*.corp.example`; set `host = \"…\"` in the rule"
            ));
        }
        let origin =
            Origin::parse(Scheme::Https, rest).map_err(|e| format!("host `{raw}`: {e}"))?;
        let port = rest
            .rsplit_once(':')
            .filter(|_| !rest.ends_with(']'))
            .map(|_| origin.port);
        Ok(if wild {
            HostPattern::OneLabel {
                suffix: origin.host,
                port,
            }
        } else {
            HostPattern::Exact {
                host: origin.host,
                port,
            }
        })
    }

    pub fn matches(&self, o: &Origin) -> bool {
        let port_ok = |p: &Option<u16>| p.unwrap_or(o.scheme.default_port()) == o.port;
        match self {
            HostPattern::Exact { host, port } => *host == o.host && port_ok(port),
            HostPattern::OneLabel { suffix, port } => {
                o.host
                    .strip_suffix(suffix.as_str())
                    .and_then(|head| head.strip_suffix('.'))
                    .is_some_and(|label| !label.is_empty() && !label.contains('.'))
                    && port_ok(port)
            }
        }
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub pattern: String,
    pub host: HostPattern,
    /// Pattern elements after the host (`acme/*`), one trailing `/` stripped; `None` = whole host.
    pub path_glob: Option<String>,
    /// `None` only for `transport = "ssh"` rules, which never answer over HTTPS.
    pub(crate) source: Option<SourceSpec>,
    pub username: Option<String>,
    pub allow_http: bool,
    pub transport: Transport,
    pub line: usize,
    /// The header `goauth` gives Go (`git` always gets username/password).
    pub auth: HttpAuth,
    /// `transport = "ssh"`: the ssh base for the rewrite (validated; default `git@<host>:`).
    pub ssh_base: Option<String>,
}

impl Rule {
    pub fn compile(spec: &RuleSpec, line: usize) -> std::result::Result<Rule, String> {
        let pattern = spec.pattern.clone();
        if pattern.is_empty() || pattern.contains(',') || pattern.contains(char::is_whitespace) {
            return Err(format!(
                "pattern `{pattern}` must be one GOPRIVATE pattern (no commas, no spaces)"
            ));
        }
        let trimmed = pattern.strip_suffix('/').unwrap_or(&pattern);
        let (first, tail) = match trimmed.split_once('/') {
            Some((h, t)) => (h, Some(t.to_string())),
            None => (trimmed, None),
        };
        if let Some(t) = &tail {
            if path_match(t, "").is_err() {
                return Err(format!("pattern `{pattern}` is not a valid glob"));
            }
        }
        let host = HostPattern::parse(spec.host.as_deref().unwrap_or(first))?;
        let source = match (spec.transport, spec.source) {
            (Transport::Ssh, Some(_)) => {
                return Err(
                    "`transport = \"ssh\"` rules take no `source`: git uses your SSH key".into(),
                )
            }
            (Transport::Ssh, None) => None,
            (Transport::Https, None) => return Err("missing `source` (pat, env or command)".into()),
            (Transport::Https, Some(kind)) => Some(SourceSpec::compile(kind, spec)?),
        };
        if let Some(u) = &spec.username {
            if u.is_empty() || u.chars().any(|c| c.is_control()) {
                return Err("`username` must be non-empty and free of control characters".into());
            }
        }
        if let Some(base) = &spec.ssh_base {
            if spec.transport != Transport::Ssh {
                return Err("`ssh_base` applies only to `transport = \"ssh\"` rules".into());
            }
            crate::ssh::SshBase::parse(base)?;
        }
        Ok(Rule {
            pattern,
            host,
            path_glob: tail,
            source,
            username: spec.username.clone(),
            allow_http: spec.allow_http,
            transport: spec.transport,
            line,
            auth: spec.auth.unwrap_or_default(),
            ssh_base: spec.ssh_base.clone(),
        })
    }

    /// The source that answers for this rule; `None` for `transport = "ssh"` rules.
    pub(crate) fn source(&self) -> Option<Box<dyn Source>> {
        self.source.as_ref().map(SourceSpec::source)
    }

    /// The request as this rule's source sees it.
    pub(crate) fn query<'a>(&self, origin: &'a Origin, path: Option<&'a str>) -> Query<'a> {
        Query {
            origin,
            path,
            rule: RuleRef {
                kind: self.kind_name(),
                pattern: self.pattern.clone(),
                username: self.username.clone(),
                path_glob: self.path_glob.clone(),
                one_host: matches!(self.host, HostPattern::Exact { .. }),
            },
        }
    }

    /// The source kind's name, `ssh` for `transport = "ssh"` rules (for messages).
    pub fn kind_name(&self) -> &'static str {
        self.source.as_ref().map_or("ssh", |s| s.kind().as_str())
    }

    /// Does this rule cover `path` (git's `path`, with `useHttpPath`)? Go's prefix-by-element
    /// semantics; a trailing `.git` on the last compared element is ignored (repo vs module path).
    pub(crate) fn covers_path(&self, path: &str) -> bool {
        let Some(glob) = &self.path_glob else {
            return true;
        };
        let n = glob.matches('/').count() + 1;
        let elems: Vec<&str> = path.split('/').collect();
        if elems.len() < n {
            return false;
        }
        let mut prefix = elems[..n].join("/");
        if let Some(stripped) = prefix.strip_suffix(".git") {
            prefix = stripped.to_string();
        }
        path_match(glob, &prefix).unwrap_or(false)
    }
}

/// What the rules say about one request.
#[derive(Debug)]
pub enum Selection<'a> {
    /// No rule covers this origin: answer nothing, let git try its next helper.
    None,
    Rule(&'a Rule),
    /// No path and several rules share the host: we cannot know which one git means.
    Ambiguous(Vec<&'a Rule>),
}

/// All rules, in file order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

impl Rules {
    pub fn compile(path: &Path, file: &ConfigFile, text: &str) -> Result<Rules> {
        let mut rules = Vec::new();
        for spanned in &file.rules {
            let line = crate::config::line_of(text, spanned.span().start);
            let rule = Rule::compile(spanned.get_ref(), line).map_err(|message| Error::Config {
                path: path.to_path_buf(),
                message: format!("rule at line {line}: {message}"),
            })?;
            rules.push(rule);
        }
        Ok(Rules { rules })
    }

    /// First match wins. With a path, the first rule whose host and path glob match. Without a
    /// path (git's default), the first host match if it covers the whole host; if it is scoped to
    /// a path, every host-matching rule up to the first whole-host one is a candidate, and more
    /// than one is ambiguous.
    pub fn select(&self, origin: &Origin, path: Option<&str>) -> Selection<'_> {
        let host_rules = self.rules.iter().filter(|r| r.host.matches(origin));
        if let Some(path) = path {
            return host_rules
                .into_iter()
                .find(|r| r.covers_path(path))
                .map_or(Selection::None, Selection::Rule);
        }
        let mut candidates = Vec::new();
        for r in host_rules {
            candidates.push(r);
            if r.path_glob.is_none() {
                break;
            }
        }
        match candidates.len() {
            0 => Selection::None,
            1 => Selection::Rule(candidates[0]),
            _ => Selection::Ambiguous(candidates),
        }
    }

    /// Refuses plain http unless the selected rule opted in for its host (docs/protocols/git-credential-protocol.md).
    pub fn check_scheme(rule: &Rule, origin: &Origin) -> std::result::Result<(), ProtocolError> {
        match origin.scheme {
            Scheme::Https => Ok(()),
            Scheme::Http if rule.allow_http && matches!(rule.host, HostPattern::Exact { .. }) => {
                Ok(())
            }
            Scheme::Http => Err(ProtocolError::Insecure("http".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    fn rules(toml: &str) -> Result<Rules> {
        let f = parse(Path::new("c.toml"), toml)?;
        Rules::compile(Path::new("c.toml"), &f, toml)
    }

    fn o(host: &str) -> Origin {
        Origin::parse(Scheme::Https, host).unwrap()
    }

    fn pick<'a>(r: &'a Rules, host: &str, path: Option<&str>) -> Option<&'a str> {
        match r.select(&o(host), path) {
            Selection::Rule(rule) => Some(rule.pattern.as_str()),
            _ => None,
        }
    }

    const PAT: &str = "source = \"pat\"\n";

    #[test]
    fn exact_host_with_port_normalisation() {
        let r = rules(&format!("[[rule]]\npattern = \"git.corp.example\"\n{PAT}")).unwrap();
        assert_eq!(pick(&r, "git.corp.example", None), Some("git.corp.example"));
        assert_eq!(
            pick(&r, "GIT.corp.EXAMPLE:443", None),
            Some("git.corp.example")
        );
        for other in [
            "git.corp.example:8443",
            "git.corp.example.evil.com",
            "evilgit.corp.example",
            "corp.example",
        ] {
            assert_eq!(pick(&r, other, None), None, "{other}");
        }
    }

    #[test]
    fn wildcard_is_one_label() {
        let r = rules(&format!("[[rule]]\npattern = \"*.corp.example\"\n{PAT}")).unwrap();
        assert_eq!(pick(&r, "a.corp.example", None), Some("*.corp.example"));
        assert_eq!(pick(&r, "A.CORP.EXAMPLE", None), Some("*.corp.example"));
        assert_eq!(pick(&r, "a.b.corp.example", None), None);
        assert_eq!(pick(&r, "corp.example", None), None);
        assert_eq!(pick(&r, "evilcorp.example", None), None);
    }

    #[test]
    fn partial_label_globs_are_refused() {
        let e = rules(&format!("[[rule]]\npattern = \"*corp.com\"\n{PAT}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1") && e.contains("whole label"), "{e}");
        // ... unless the rule names its host explicitly.
        let r = rules(&format!(
            "[[rule]]\npattern = \"*corp.com\"\nhost = \"git.corp.com\"\n{PAT}"
        ))
        .unwrap();
        assert_eq!(pick(&r, "git.corp.com", None), Some("*corp.com"));
        assert_eq!(pick(&r, "evilcorp.com", None), None);
    }

    #[test]
    fn first_match_wins_and_paths_route() {
        let r = rules(&format!(
            "[[rule]]\npattern = \"github.com/acme/*\"\n{PAT}[[rule]]\npattern = \"github.com/other\"\n{PAT}[[rule]]\npattern = \"github.com\"\n{PAT}"
        ))
        .unwrap();
        assert_eq!(
            pick(&r, "github.com", Some("acme/lib.git")),
            Some("github.com/acme/*")
        );
        assert_eq!(
            pick(&r, "github.com", Some("other/x")),
            Some("github.com/other")
        );
        assert_eq!(pick(&r, "github.com", Some("third/y")), Some("github.com"));
        assert!(
            matches!(r.select(&o("github.com"), None), Selection::Ambiguous(v) if v.len() == 3)
        );
    }

    #[test]
    fn single_scoped_rule_answers_without_path() {
        let r = rules(&format!("[[rule]]\npattern = \"github.com/acme/*\"\n{PAT}")).unwrap();
        assert_eq!(pick(&r, "github.com", None), Some("github.com/acme/*"));
        assert_eq!(
            pick(&r, "github.com", Some("acme")),
            None,
            "too few elements"
        );
        assert_eq!(pick(&r, "github.com", Some("acmex/y")), None);
    }

    #[test]
    fn whole_host_rule_first_is_not_ambiguous() {
        let r = rules(&format!("[[rule]]\npattern = \"github.com\"\n{PAT}[[rule]]\npattern = \"github.com/acme\"\n{PAT}")).unwrap();
        assert_eq!(pick(&r, "github.com", None), Some("github.com"));
    }

    #[test]
    fn source_fields_are_checked() {
        for (body, needle) in [
            ("source = \"env\"\n", "needs `variable`"),
            (
                "source = \"pat\"\nvariable = \"X\"\n",
                "`variable` does not apply",
            ),
            ("source = \"command\"\n", "needs `command"),
            (
                "source = \"command\"\ncommand = []\n",
                "must name a program",
            ),
            (
                "transport = \"ssh\"\nsource = \"pat\"\n",
                "take no `source`",
            ),
            ("", "missing `source`"),
        ] {
            let e = rules(&format!("\n[[rule]]\npattern = \"a.example\"\n{body}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle) && e.contains("line 2"), "{body}: {e}");
        }
    }

    #[test]
    fn http_needs_opt_in() {
        let r = rules(&format!("[[rule]]\npattern = \"a.example\"\n{PAT}")).unwrap();
        let http = Origin::parse(Scheme::Http, "a.example").unwrap();
        let Selection::Rule(rule) = r.select(&http, None) else {
            panic!()
        };
        assert!(Rules::check_scheme(rule, &http).is_err());
        let r = rules(&format!(
            "[[rule]]\npattern = \"a.example\"\nallow_http = true\n{PAT}"
        ))
        .unwrap();
        let Selection::Rule(rule) = r.select(&http, None) else {
            panic!()
        };
        assert!(Rules::check_scheme(rule, &http).is_ok());
    }
}
