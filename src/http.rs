//! HTTPS for the minting sources (GitHub, OAuth servers, GitLab): one careful client.
//!
//! Used by sources only, never on the hot `get` path (a cached token needs no request). Endpoint
//! URLs come from config, so tests point them at 127.0.0.1; they must be `https`, except on a
//! loopback address where plain `http` is allowed (a local test server can carry no secret off
//! the machine). Every request has bounded connect and total timeouts; `429`/`403` with
//! `Retry-After` is honoured within [`MAX_RETRY_WAIT`]. Response bodies are never shown: they may
//! hold a token. An error says the status and, for JSON error bodies, the server's one-line
//! `message`/`error` (control characters removed, shortened), which holds no secret of ours.

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;

use crate::protocol::escape_for_display;

/// The longest `Retry-After` we wait out, summed over retries, before giving up.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Bodies larger than this are refused unread: a token answer is a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// An endpoint that may receive a secret: `https://…`, or `http://` on loopback only.
pub fn check_endpoint(raw: &str, what: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("{what} `{raw}` is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{what} must not carry a user name or password"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{what} `{raw}` must not have a query or fragment"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(format!(
            "{what} `{raw}` must be https (plain http only on 127.0.0.1/localhost)"
        )),
    }
}

pub fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A client with the given total timeout per request.
pub fn client(timeout: Duration) -> Result<Client, String> {
    // reqwest is built without a default TLS provider; ring is the one we ship.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("gocred/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .https_only(false) // checked per endpoint by `check_endpoint`
        .build()
        .map_err(|e| format!("cannot set up HTTPS: {e}"))
}

/// What went wrong talking to a server, without any response body.
#[derive(Debug)]
pub enum HttpError {
    /// No answer (DNS, refused, TLS, timeout).
    Unreachable(String),
    /// An HTTP error status; `message` is the server's own one-line explanation, if any.
    Status {
        status: u16,
        message: Option<String>,
        /// `error` field of an OAuth error body (RFC 6749 §5.2), e.g. `invalid_grant`.
        oauth_error: Option<String>,
        retry_after: Option<u64>,
    },
    /// A 2xx whose body is not what the API documents.
    Garbage(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Unreachable(m) => write!(f, "{m}"),
            HttpError::Status {
                status, message, ..
            } => match message {
                Some(m) => write!(f, "HTTP {status}: {m}"),
                None => write!(f, "HTTP {status}"),
            },
            HttpError::Garbage(m) => write!(f, "unexpected answer: {m}"),
        }
    }
}

/// Sends `make()` (rebuilt for each retry) and returns the 2xx response body parsed as JSON.
/// `Retry-After` on 429 (and on GitHub's 403 secondary rate limit) is waited out while the
/// total stays within [`MAX_RETRY_WAIT`].
pub fn send_json<T: serde::de::DeserializeOwned>(
    make: impl Fn() -> RequestBuilder,
) -> Result<T, HttpError> {
    let resp = send(make)?;
    let body = read_body(resp)?;
    serde_json::from_slice(&body).map_err(|e| {
        // serde_json's message names the position and field, never the value.
        HttpError::Garbage(format!("not the JSON the API documents ({e})"))
    })
}

/// Like [`send_json`] but for answers without a body we need (e.g. 204).
pub fn send(make: impl Fn() -> RequestBuilder) -> Result<Response, HttpError> {
    let mut waited = Duration::ZERO;
    loop {
        let resp = make().send().map_err(describe_transport)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let limited = status == StatusCode::TOO_MANY_REQUESTS
            || (status == StatusCode::FORBIDDEN && retry_after.is_some());
        if let (true, Some(secs)) = (limited, retry_after) {
            let wait = Duration::from_secs(secs.max(1));
            if waited + wait <= MAX_RETRY_WAIT {
                std::thread::sleep(wait);
                waited += wait;
                continue;
            }
        }
        let body = read_body(resp).unwrap_or_default();
        let (message, oauth_error) = error_fields(&body);
        return Err(HttpError::Status {
            status: status.as_u16(),
            message,
            oauth_error,
            retry_after,
        });
    }
}

fn read_body(mut resp: Response) -> Result<Vec<u8>, HttpError> {
    use std::io::Read;
    let mut body = Vec::new();
    resp.by_ref()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| HttpError::Unreachable(format!("reading the answer: {}", io_kind(&e))))?;
    if body.len() > MAX_BODY {
        return Err(HttpError::Garbage("the answer is larger than 1 MiB".into()));
    }
    Ok(body)
}

fn io_kind(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timed out") {
        "timed out".into()
    } else {
        format!("{:?}", e.kind())
    }
}

/// The human message of a JSON error body: GitHub/GitLab `message`, OAuth `error` +
/// `error_description`. Shortened and stripped of control characters; anything else is dropped.
fn error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
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

fn describe_transport(e: reqwest::Error) -> HttpError {
    let what = if e.is_timeout() {
        "no answer in time (timed out)"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "refused a redirect"
    } else {
        "request failed"
    };
    // The URL is config, not secret; reqwest's inner error text may quote the server, so the
    // source chain is not shown.
    match e.url() {
        Some(u) => HttpError::Unreachable(format!("{what} ({})", strip_query(u))),
        None => HttpError::Unreachable(what.to_string()),
    }
}

fn strip_query(u: &reqwest::Url) -> String {
    let mut u = u.clone();
    u.set_query(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_or_loopback() {
        assert!(check_endpoint("https://api.github.com", "api_url").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/api", "api_url").is_ok());
        assert!(check_endpoint("http://localhost:1/", "api_url").is_ok());
        assert!(check_endpoint("http://[::1]:1/", "api_url").is_ok());
        for bad in [
            "http://api.github.com",
            "http://127.0.0.1.evil.example/",
            "ftp://127.0.0.1/",
            "https://u:p@api.github.com",
            "https://api.github.com/?x=1",
            "api.github.com",
        ] {
            assert!(check_endpoint(bad, "api_url").is_err(), "{bad}");
        }
    }

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
