//! The HTTP client sources use to reach token services (and to revoke what they minted).
//!
//! Blocking reqwest over rustls (ring), no redirects (a redirect could carry a bearer token to
//! another host), bounded timeouts and bounded response bodies. Plain `http://` is refused except
//! to a loopback address, which is what a local test stand-in or a sidecar looks like; everything
//! else must be `https://`. Error texts name the URL and the failure, never a header or a body
//! that could hold a token.

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::blocking::{Client, Response};

use crate::error::{Error, Result};

/// Bodies larger than this are not read.
pub const MAX_BODY: u64 = 1 << 20;

/// One client per process (connection reuse across a run's requests).
pub fn client() -> Result<Client> {
    static CLIENT: OnceLock<std::result::Result<Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            // reqwest is built without a bundled provider; ring is ours. Installing twice is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
            Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(30))
                .user_agent(concat!("gocred/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::other(format!("cannot set up HTTPS: {e}")))
}

/// `https://…`, or `http://` to 127.0.0.1, ::1 or localhost only.
pub fn check_url(url: &str) -> Result<reqwest::Url> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| Error::other(format!("`{url}` is not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(parsed.host_str().unwrap_or("")) => Ok(parsed),
        _ => Err(Error::with_hint(
            format!("refusing to send a token to {url}: only https:// (or http:// to a loopback address)"),
            "use the https:// URL of the service",
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost")
}

/// A transport error, described without secrets.
pub fn describe_error(url: &str, e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    let cause = sanitize(&cause);
    if cause.is_empty() {
        format!("{url}: {kind}")
    } else {
        format!("{url}: {kind} ({cause})")
    }
}

/// Reads at most [`MAX_BODY`] bytes of a response body.
pub fn body(resp: Response) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    resp.take(MAX_BODY).read_to_end(&mut out)?;
    Ok(out)
}

/// The `message` of an error body like `{"message": "…"}`, made safe to print.
pub fn message_of(resp: Response) -> Option<String> {
    let bytes = body(resp).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let m = sanitize(v.get("message")?.as_str()?);
    (!m.is_empty()).then_some(m)
}

/// Server text for a terminal: no control characters, at most 200 characters.
pub fn sanitize(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    clean.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://octo-sts.dev/sts/exchange").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x").is_ok());
        assert!(check_url("http://[::1]:8080/x").is_ok());
        assert!(check_url("http://octo-sts.dev/x").is_err());
        assert!(check_url("http://127.0.0.1.evil.example/x").is_err());
        assert!(check_url("ftp://127.0.0.1/").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn server_text_is_sanitized() {
        assert_eq!(sanitize("a\u{1b}[2Kb\nc"), "a [2Kb c");
        assert_eq!(sanitize(&"x".repeat(500)).len(), 200);
    }
}
