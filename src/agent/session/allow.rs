//! A session's allow-list: checking `--allow` patterns, and what they allow — the target a
//! request is matched as, and the repositories a GitHub App session token may reach.

use super::{Refusal, Session};
use crate::error::{Error, Result};
use crate::protocol::Origin;
use crate::scope::{path_match, Patterns};
use crate::sources::GithubAppSpec;

/// `true` when `p` holds a glob character (`*`, `?`, `[`, `\`).
fn is_glob(p: &str) -> bool {
    p.contains(['*', '?', '[', '\\'])
}

/// Checks `--allow` patterns: each one GOPRIVATE pattern, host first.
pub(crate) fn check_allow(patterns: &[String]) -> Result<()> {
    if patterns.is_empty() {
        return Err(Error::Usage(
            "give at least one --allow PATTERN (e.g. --allow 'github.com/acme/*'): an agent \
             serves nothing outside its allow-list"
                .into(),
        ));
    }
    for p in patterns {
        let bad = p.is_empty()
            || p.contains(',')
            || p.chars().any(|c| c.is_whitespace() || c.is_control())
            || Patterns::parse(p).is_empty();
        let host = p.split('/').next().unwrap_or("");
        if bad || host.is_empty() || !host.contains('.') && !host.contains(':') {
            return Err(Error::Usage(format!(
                "--allow `{}` is not one GOPRIVATE pattern starting with a host",
                crate::protocol::escape_for_display(p)
            )));
        }
    }
    Ok(())
}

impl Session {
    /// The target the allow-list is matched against: `host[:port]` and the path, `.git` dropped.
    pub(super) fn allow_target(origin: &Origin, path: Option<&str>) -> String {
        match path {
            Some(p) => format!(
                "{}/{}",
                origin.authority(),
                p.strip_suffix(".git").unwrap_or(p)
            ),
            None => origin.authority(),
        }
    }

    /// The repositories of `owner` on `authority` that the allow-list names; `None` when a
    /// pattern allows the whole host, the whole owner, or a glob of repositories.
    pub(super) fn allowed_repos(&self, authority: &str, owner: &str) -> Option<Vec<String>> {
        let mut repos: Vec<String> = Vec::new();
        for p in self.allow.globs() {
            let mut e = p.split('/');
            let (Some(h), o, r) = (e.next(), e.next(), e.next()) else {
                continue;
            };
            if path_match(h, authority) != Ok(true) {
                continue;
            }
            let o = o?;
            if path_match(o, owner) != Ok(true) {
                continue;
            }
            match r {
                None => return None,
                Some(r) if is_glob(r) => return None,
                Some(r) => {
                    let r = r.strip_suffix(".git").unwrap_or(r).to_string();
                    if !repos.contains(&r) {
                        repos.push(r);
                    }
                }
            }
        }
        Some(repos)
    }

    /// The repositories a session token of `spec` for `owner` may reach: the allow-list's, within
    /// the rule's own list (empty: every repository the installation has).
    pub(super) fn session_repos(
        &self,
        spec: &GithubAppSpec,
        authority: &str,
        owner: &str,
    ) -> std::result::Result<Vec<String>, Refusal> {
        let allowed = self.allowed_repos(authority, owner);
        let repos = match (allowed, spec.repositories.is_empty()) {
            (None, _) => spec.repositories.clone(),
            (Some(a), true) => a,
            (Some(a), false) => a
                .into_iter()
                .filter(|r| spec.repositories.contains(r))
                .collect(),
        };
        if repos.is_empty() && (self.allowed_repos(authority, owner).is_some()) {
            return Err(Refusal::plain(
                "the allow-list and the rule's repositories have none in common",
            ));
        }
        Ok(repos)
    }
}
