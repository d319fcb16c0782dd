//! HTTPS for the sources that talk to token services (GitHub, OAuth servers, GitLab, an OIDC
//! exchange) and revoke what they minted: one careful client.
//!
//! Used by sources only, never on the hot `get` path (a cached token needs no request). Endpoint
//! URLs come from config, so tests point them at 127.0.0.1; they must be `https`, except on a
//! loopback address where plain `http` is allowed (a local test server can carry no secret off
//! the machine). Redirects are never followed (one could carry a bearer token to another host).
//! Every request has bounded connect and total timeouts; `429`/`403` with `Retry-After` is
//! honoured within [`MAX_RETRY_WAIT`]. Response bodies are never shown: they may hold a token. An
//! error says the status and, for JSON error bodies, the server's one-line `message`/`error`
//! (control characters removed, token-shaped words redacted, shortened).

use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::StatusCode;

pub use server_text::clean;
use server_text::error_fields;

mod server_text;

/// The longest `Retry-After` we wait out, summed over retries, before giving up.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// The total timeout of a request whose rule sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bodies larger than this are refused unread: a token answer is a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// A URL that may receive a secret: `https://…`, or `http://` on loopback only; no user name or
/// password in it (reqwest would send them as a second, unasked-for credential). A query is
/// allowed: request URLs handed to us (`ACTIONS_ID_TOKEN_REQUEST_URL`) carry one.
pub fn check_url(raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("`{raw}` is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not quoted back: the password is one.
        return Err("must not carry a user name or password".into());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err(format!(
            "`{raw}` must be https: only https:// (or plain http:// to a loopback address) may \
             receive a secret"
        )),
    }
}

/// A configured base URL (`api_url`, `sts_url`, …): [`check_url`], and no query or fragment, so
/// paths can be appended to it.
pub fn check_endpoint(raw: &str, what: &str) -> Result<reqwest::Url, String> {
    let url = check_url(raw).map_err(|e| format!("{what} {e}"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{what} `{raw}` must not have a query or fragment"));
    }
    Ok(url)
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
    // reqwest is built without a default TLS provider; ring is the one we ship. Installing
    // twice is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!("gocred/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .https_only(false) // checked per URL by `check_url`
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

/// The body of a response, refused when larger than 1 MiB.
pub fn read_body(mut resp: Response) -> Result<Vec<u8>, HttpError> {
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

/// The server's one-line explanation in an error answer, if it gave one.
pub fn message_of(resp: Response) -> Option<String> {
    error_fields(&read_body(resp).ok()?)
        .0
        .filter(|m| !m.is_empty())
}

fn io_kind(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timed out") {
        "timed out".into()
    } else {
        format!("{:?}", e.kind())
    }
}

fn describe_transport(e: reqwest::Error) -> HttpError {
    HttpError::Unreachable(describe_error(&e))
}

/// A transport error: what failed, the URL without its query, and the operating system's reason
/// (`Connection refused`, a TLS verdict). reqwest's other inner texts may quote the server, so
/// only an `io::Error` at the bottom of the chain is shown.
pub fn describe_error(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "no answer in time (timed out)"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "refused a redirect"
    } else {
        "request failed"
    };
    let mut cause = None;
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        cause = s
            .downcast_ref::<std::io::Error>()
            .map(|io| clean(&io.to_string()));
        src = s.source();
    }
    let cause = cause.filter(|c| !c.is_empty() && !e.is_timeout());
    match (e.url(), cause) {
        (Some(u), Some(c)) => format!("{what} ({}: {c})", strip_query(u)),
        (Some(u), None) => format!("{what} ({})", strip_query(u)),
        (None, Some(c)) => format!("{what} ({c})"),
        (None, None) => what.to_string(),
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
        assert!(check_url("http://127.0.0.1:8080/x?audience=a").is_ok());
        assert!(check_endpoint("https://api.github.com", "api_url").is_ok());
        assert!(check_endpoint("http://127.0.0.1:8080/api", "api_url").is_ok());
        assert!(check_endpoint("http://localhost:1/", "api_url").is_ok());
        assert!(check_endpoint("http://[::1]:1/", "api_url").is_ok());
        for bad in [
            "http://api.github.com",
            "http://127.0.0.1.evil.example/",
            "http://localhost.evil.example/",
            "ftp://127.0.0.1/",
            "https://u:p@api.github.com",
            "https://api.github.com/?x=1",
            "api.github.com",
        ] {
            assert!(check_endpoint(bad, "api_url").is_err(), "{bad}");
        }
    }

    #[test]
    fn transport_errors_name_the_url_and_the_os_reason_only() {
        // A port nobody listens on: the kernel refuses at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/x?secret=1");
        let e = client(Duration::from_secs(5))
            .unwrap()
            .get(&url)
            .send()
            .unwrap_err();
        let m = describe_error(&e);
        assert!(
            m.starts_with(&format!("cannot connect (http://127.0.0.1:{port}/x: ")),
            "{m}"
        );
        assert!(
            m.to_lowercase().contains("refused") && !m.contains("secret"),
            "{m}"
        );
    }
}
