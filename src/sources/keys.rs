//! A rule's keys as the sources see them: the keys every rule takes, the check that a rule sets
//! no key its kind does not take (each kind declares its own in one `KEYS` table), and the
//! value checks the kinds share. Everything is checked when the config is read, so a source
//! never meets a malformed value at request time.

use crate::config::{RuleSpec, SourceKind};

/// Keys every rule takes, whatever its source.
pub(crate) const COMMON: &[&str] = &[
    "pattern",
    "source",
    "username",
    "host",
    "allow_http",
    "transport",
    "auth",
    "ssh_base",
];

/// Refuses the first key the rule sets that neither every rule nor `kind` (whose table is
/// `own`) takes.
pub(crate) fn check(kind: SourceKind, own: &[&str], spec: &RuleSpec) -> Result<(), String> {
    match spec
        .set_keys()
        .into_iter()
        .find(|k| !COMMON.contains(&k.as_str()) && !own.contains(&k.as_str()))
    {
        Some(k) => Err(format!(
            "`{k}` does not apply to source `{}`",
            kind.as_str()
        )),
        None => Ok(()),
    }
}

/// An endpoint: https (or loopback http), no trailing `/`.
pub(crate) fn url(raw: &str, what: &str) -> Result<String, String> {
    crate::http::check_endpoint(raw, what)?;
    Ok(raw.trim_end_matches('/').to_string())
}

/// A name from a fixed alphabet (client IDs, repository names, GitLab paths and scopes).
pub(crate) fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
        && !s.contains("..")
}

/// An environment variable's name.
pub(crate) fn is_variable(s: &str) -> bool {
    !s.is_empty() && !s.contains(['=', '\0'])
}

/// A minting source's API timeout (default 30 s, at most 300).
pub(crate) fn api_timeout(spec: &RuleSpec) -> u64 {
    spec.timeout_secs.unwrap_or(30).clamp(1, 300)
}
