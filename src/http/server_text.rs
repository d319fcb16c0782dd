//! What a token service says in an error answer, made fit for a terminal and free of secrets.
//!
//! Part of [`crate::http`]: an error body is never shown whole (it may hold a token); only its
//! one-line `message` (GitHub, GitLab) or OAuth `error`/`error_description` (RFC 6749 §5.2),
//! stripped of control characters, with every secret gocred sent redacted (see
//! [`super::redact`]), then anything shaped like a token, then shortened.

use super::redact::{self, MARK};
use crate::protocol::escape_for_display;

/// The human message of a JSON error body: GitHub/GitLab `message`, OAuth `error` +
/// `error_description`. Shortened and stripped of control characters; anything else is dropped.
pub(super) fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return (None, None);
    };
    let field = |k: &str| v.get(k).and_then(|m| m.as_str()).map(clean);
    let oauth_error = field("error").filter(|e| {
        e.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
    });
    let message = field("message").or_else(|| match (&oauth_error, field("error_description")) {
        (Some(e), Some(d)) => Some(format!("{e}: {d}")),
        (Some(e), None) => Some(e.clone()),
        (None, d) => d,
    });
    (message, oauth_error)
}

/// One line of server text fit for a terminal: control characters removed, every registered
/// secret redacted, then anything shaped like a token, ≤ 200 characters. Redaction runs on the
/// whole text before it is shortened, so a secret cut by the limit is not left half-shown.
pub(crate) fn clean(s: &str) -> String {
    let one_line: String = s.chars().filter(|c| !c.is_control()).collect();
    let known = redact::redact(&one_line);
    escape_for_display(&redact_shapes(&known))
        .chars()
        .take(200)
        .collect()
}

/// Every maximal run of token characters that looks like a token becomes [`MARK`]; separators
/// (`:`, `,`, spaces, quotes …) stay, so `token:ghs_x,eyJ…` loses both tokens.
fn redact_shapes(s: &str) -> String {
    let is_tok = |c: char| c.is_ascii_alphanumeric() || "-_.=+/~".contains(c);
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if looks_like_token(run) {
            out.push_str(MARK);
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if is_tok(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// GitHub/GitLab token prefixes, JWTs, and any long unbroken run of token characters that is not
/// a path (`//docs.github.com/rest/apps/apps`: short segments between slashes).
fn looks_like_token(w: &str) -> bool {
    // Leading punctuation only for the prefix test: `ghs__` (a prefix and nothing alphanumeric
    // after it) is still a token's shape.
    let head = w.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let w = head.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    let prefixed = [
        "ghp_",
        "gho_",
        "ghu_",
        "ghs_",
        "ghr_",
        "github_pat_",
        "glpat-",
        "gloas-",
        "glcbt-",
        "glptt-",
        "gldt-",
        "eyJ",
    ]
    .iter()
    .any(|p| head.starts_with(p));
    let path_like = w.matches('/').count() >= 2 && w.split('/').all(|seg| seg.len() < 24);
    let long_run = w.len() >= 32 && !path_like;
    prefixed || long_run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_one_clean_line() {
        let (m, e) = error_fields(
            br#"{"message":"Bad\u001b[2K credentials\nline","documentation_url":"x"}"#,
        );
        assert_eq!(m.as_deref(), Some("Bad[2K credentialsline"));
        assert!(e.is_none());
        let (m, e) = error_fields(
            br#"{"error":"invalid_grant","error_description":"grant request is invalid"}"#,
        );
        assert_eq!(e.as_deref(), Some("invalid_grant"));
        assert_eq!(
            m.as_deref(),
            Some("invalid_grant: grant request is invalid")
        );
        assert_eq!(error_fields(b"<html>token=ghs_secret</html>"), (None, None));
        let (m, _) = error_fields(
            br#"{"message":"token ghs_abc, eyJhbGciOi.x.y and 0123456789abcdef0123456789abcdef!"}"#,
        );
        assert_eq!(
            m.as_deref(),
            Some("token [redacted], [redacted] and [redacted]!")
        );
        let long = format!("{{\"message\":\"{}\"}}", "a ".repeat(1000));
        assert!(error_fields(long.as_bytes()).0.unwrap().len() <= 200);
    }

    #[test]
    fn tokens_glued_to_other_words_are_redacted() {
        assert_eq!(
            clean("bad token:ghs_abcdef for eyJa.b.c,eyJd.e.f;glpat-xyz"),
            "bad token:[redacted] for [redacted],[redacted];[redacted]"
        );
        assert_eq!(
            clean("see https://docs.github.com/rest/apps/apps#create-an-installation"),
            "see https://docs.github.com/rest/apps/apps#create-an-installation"
        );
        // A control character inside a token does not split it out of reach.
        assert_eq!(clean("ghs_ab\u{7}cd"), "[redacted]");
        // A prefix with only punctuation after it (found by fuzz target server_text).
        assert_eq!(
            clean("token ghs__ and glpat-- end"),
            "token [redacted] and [redacted] end"
        );
    }

    #[test]
    fn a_short_secret_that_was_sent_is_redacted_by_value() {
        super::redact::register(&crate::secret::secret("Ab9-short".into()));
        assert_eq!(
            clean("bad request token Ab9-short (QWI5LXNob3J0)"),
            "bad request token [redacted] ([redacted])"
        );
    }
}
