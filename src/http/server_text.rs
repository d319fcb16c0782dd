//! What a token service says in an error answer, made fit for a terminal and free of secrets.
//!
//! Part of [`crate::http`]: an error body is never shown whole (it may hold a token); only its
//! one-line `message` (GitHub, GitLab) or OAuth `error`/`error_description` (RFC 6749 §5.2),
//! stripped of control characters, with token-shaped words redacted, shortened.

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

/// One line of server text fit for a terminal: control characters removed, anything shaped
/// like a token replaced by `[redacted]` (a server may echo what it was sent), ≤ 200 characters.
pub fn clean(s: &str) -> String {
    let one_line: String = s.chars().filter(|c| !c.is_control()).take(400).collect();
    let words: Vec<&str> = one_line
        .split(' ')
        .map(|w| if looks_like_token(w) { "[redacted]" } else { w })
        .collect();
    escape_for_display(&words.join(" "))
        .chars()
        .take(200)
        .collect()
}

/// GitHub/GitLab token prefixes, JWTs, and any long unbroken run of token characters.
fn looks_like_token(w: &str) -> bool {
    let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
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
        "eyJ",
    ]
    .iter()
    .any(|p| w.starts_with(p));
    let long_run = w.len() >= 32
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.=+/".contains(&b));
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
            Some("token [redacted] [redacted] and [redacted]")
        );
        let long = format!("{{\"message\":\"{}\"}}", "a".repeat(1000));
        assert!(error_fields(long.as_bytes()).0.unwrap().len() <= 200);
    }
}
