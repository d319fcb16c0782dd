//! What went wrong talking to a server, told without any response body or secret.

use super::clean;

/// What went wrong talking to a server, without any response body.
#[derive(Debug)]
pub(crate) enum HttpError {
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

pub(super) fn timed_out(e: &std::io::Error) -> HttpError {
    HttpError::Unreachable(format!("no answer in time ({e})"))
}

pub(super) fn io_kind(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timed out") {
        "timed out".into()
    } else {
        format!("{:?}", e.kind())
    }
}

pub(super) fn describe_transport(e: reqwest::Error) -> HttpError {
    HttpError::Unreachable(describe_error(&e))
}

/// A transport error: what failed, the URL without its query, and the operating system's reason
/// (`Connection refused`, a TLS verdict). reqwest's other inner texts may quote the server, so
/// only an `io::Error` at the bottom of the chain is shown.
pub(crate) fn describe_error(e: &reqwest::Error) -> String {
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
