//! HTTPS for the sources that talk to token services (GitHub, OAuth servers, GitLab, an OIDC
//! exchange) and revoke what they minted: one careful client, the only one sources use.
//!
//! Used by sources only, never on the hot `get` path (a cached token needs no request). Endpoint
//! URLs come from config, so tests point them at 127.0.0.1; they must be `https`, except on a
//! loopback address where plain `http` is allowed (a local test server can carry no secret off
//! the machine). Redirects are never followed (one could carry a bearer token to another host).
//!
//! Two rules hold for every request, and live here so no call site can skip them
//! (docs/http.md says more):
//! - **One deadline** ([`deadline`]): the client's timeout bounds the whole exchange — connect,
//!   headers, every byte of the body, and any `Retry-After` wait — not each read.
//! - **Every secret sent is registered** ([`redact`]) by the [`Request`] builder, and all server
//!   text is passed through [`clean`], which removes those secrets (in every encoding) and
//!   anything token-shaped. Response bodies are never shown: an error says the status and the
//!   server's one-line `message`/`error`, cleaned and shortened.

use std::time::Duration;

use reqwest::blocking::Response;
use reqwest::{Method, StatusCode};
use secrecy::zeroize::Zeroizing;

use crate::secret::{ExposeSecret, SecretString};
use deadline::{is_timeout, Bounded, Deadline, SelfTimed};
pub(crate) use server_text::clean;
use server_text::error_fields;

pub(crate) mod deadline;
mod endpoint;
mod error;
pub(crate) mod redact;
mod server_text;

pub(crate) use endpoint::{check_endpoint, check_url, is_loopback};
pub(crate) use error::HttpError;
use error::{describe_transport, io_kind, timed_out};

/// The longest `Retry-After` we wait out, summed over retries, before giving up.
pub(crate) const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// The total timeout of a request whose rule sets none.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Bodies larger than this are refused unread: a token answer is a few KiB.
const MAX_BODY: usize = 1024 * 1024;

/// A client whose every request must be complete within `timeout`.
pub(crate) fn client(timeout: Duration) -> Result<Client, String> {
    // reqwest is built without a default TLS provider; ring is the one we ship. Installing
    // twice is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let inner = reqwest::blocking::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        // Bounds the wait for headers; the deadline is set per request (see `Request::send`).
        .timeout(timeout)
        .user_agent(concat!("gocred/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .https_only(false); // checked per URL by `check_url`
                            // Linux resolves with hickory (Cargo.toml: static builds have no NSS). Without a readable
                            // /etc/resolv.conf reqwest would point hickory at Google's public DNS, sending internal
                            // host names there: use the C library's resolver then, as a dynamic build does.
    #[cfg(target_os = "linux")]
    let inner = match std::fs::File::open("/etc/resolv.conf") {
        Ok(_) => inner,
        Err(_) => inner.no_hickory_dns(),
    };
    let inner = inner
        .build()
        .map_err(|e| format!("cannot set up HTTPS: {e}"))?;
    Ok(Client { inner, timeout })
}

/// The one way gocred talks HTTP to a token service. Requests are built with [`Request`], which
/// registers every secret it carries for redaction and holds the whole exchange to one deadline.
pub(crate) struct Client {
    inner: reqwest::blocking::Client,
    timeout: Duration,
}

impl Client {
    pub(crate) fn get(&self, url: impl AsRef<str>) -> Request<'_> {
        self.request(Method::GET, url)
    }

    pub(crate) fn post(&self, url: impl AsRef<str>) -> Request<'_> {
        self.request(Method::POST, url)
    }

    pub(crate) fn delete(&self, url: impl AsRef<str>) -> Request<'_> {
        self.request(Method::DELETE, url)
    }

    fn request(&self, method: Method, url: impl AsRef<str>) -> Request<'_> {
        Request {
            client: self,
            method,
            url: url.as_ref().to_string(),
            headers: Vec::new(),
            body: Body::None,
        }
    }
}

/// A form field: plain (`grant_type`, `client_id`) or a secret (registered for redaction).
pub(crate) enum Field<'a> {
    Plain(&'a str),
    Secret(&'a SecretString),
}

enum Value<'a> {
    Plain(&'static str),
    Secret(&'a SecretString),
    Bearer(&'a SecretString),
}

enum Body<'a> {
    None,
    Form(Vec<(&'static str, Field<'a>)>),
    Json(serde_json::Value),
}

/// One request, rebuilt for each retry. Header values are static strings or secrets: a value
/// computed at run time can only be added as a secret, so nothing sensitive can reach a header
/// without being registered with [`redact`]. Secrets are registered when the request is sent.
pub(crate) struct Request<'a> {
    client: &'a Client,
    method: Method,
    url: String,
    headers: Vec<(&'static str, Value<'a>)>,
    body: Body<'a>,
}

impl<'a> Request<'a> {
    pub(crate) fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, Value::Plain(value)));
        self
    }

    /// A header whose value is a secret (`PRIVATE-TOKEN`, a whole `Authorization` value).
    pub(crate) fn secret_header(mut self, name: &'static str, value: &'a SecretString) -> Self {
        self.headers.push((name, Value::Secret(value)));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub(crate) fn bearer(mut self, token: &'a SecretString) -> Self {
        self.headers.push(("Authorization", Value::Bearer(token)));
        self
    }

    pub(crate) fn form(mut self, fields: Vec<(&'static str, Field<'a>)>) -> Self {
        self.body = Body::Form(fields);
        self
    }

    /// A JSON body. Bodies gocred sends as JSON hold no secret (names, scopes, dates).
    pub(crate) fn json(mut self, body: &impl serde::Serialize) -> Self {
        self.body = Body::Json(serde_json::to_value(body).unwrap_or_default());
        self
    }

    /// Every secret this request carries, registered for [`redact`] before any byte is sent.
    fn register(&self) {
        for (_, v) in &self.headers {
            if let Value::Secret(s) | Value::Bearer(s) = v {
                redact::register(s);
            }
        }
        if let Body::Form(fields) = &self.body {
            for (_, f) in fields {
                if let Field::Secret(s) = f {
                    redact::register(s);
                }
            }
        }
    }

    fn build(&self, left: Duration) -> reqwest::blocking::RequestBuilder {
        let mut r = self
            .client
            .inner
            .request(self.method.clone(), &self.url)
            // reqwest applies a request's own timeout from connect to the body's last byte.
            .timeout(left);
        for (name, v) in &self.headers {
            r = match (v, *name) {
                (Value::Plain(p), n) => r.header(n, *p),
                (Value::Bearer(s), _) => r.bearer_auth(s.expose_secret()),
                (Value::Secret(s), n) => {
                    let mut value = reqwest::header::HeaderValue::from_str(s.expose_secret())
                        .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static(""));
                    value.set_sensitive(true);
                    r.header(n, value)
                }
            };
        }
        match &self.body {
            Body::None => r,
            Body::Json(v) => r.json(v),
            Body::Form(fields) => {
                let pairs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, f)| match f {
                        Field::Plain(p) => (*k, *p),
                        Field::Secret(s) => (*k, s.expose_secret()),
                    })
                    .collect();
                r.form(&pairs)
            }
        }
    }

    /// Sends the request and reads the whole answer, all within one deadline of the client's
    /// timeout: connect, headers, body, and any `Retry-After` waits. `429` (and GitHub's `403`
    /// secondary rate limit) with `Retry-After` is retried while the wait fits both the deadline
    /// and [`MAX_RETRY_WAIT`]. A 2xx is returned; anything else is an [`HttpError::Status`] whose
    /// message is the server's one-line explanation with every secret redacted.
    pub(crate) fn send(&self) -> Result<Answer, HttpError> {
        self.register();
        let deadline = Deadline::after(self.client.timeout);
        let mut waited = Duration::ZERO;
        loop {
            let left = deadline.remaining().map_err(|e| timed_out(&e))?;
            let resp = self.build(left).send().map_err(describe_transport)?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if status.is_success() {
                let body = read_body(resp, &deadline)?;
                return Ok(Answer {
                    status: status.as_u16(),
                    body,
                });
            }
            let limited = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN && retry_after.is_some());
            if let (true, Some(secs)) = (limited, retry_after) {
                let wait = Duration::from_secs(secs.max(1));
                if waited + wait <= MAX_RETRY_WAIT && deadline.allows(wait) {
                    std::thread::sleep(wait);
                    waited += wait;
                    continue;
                }
            }
            // An error body that does not arrive in time only costs its message.
            let body = read_body(resp, &deadline).unwrap_or_default();
            let (message, oauth_error) = error_fields(&body);
            return Err(HttpError::Status {
                status: status.as_u16(),
                message,
                oauth_error,
                retry_after,
            });
        }
    }

    /// [`Request::send`], and the 2xx body parsed as JSON.
    pub(crate) fn send_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        self.send()?.json()
    }
}

/// A 2xx answer, read to the end within the request's deadline.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    /// Zeroized on drop: it may hold a token.
    pub body: Zeroizing<Vec<u8>>,
}

impl Answer {
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            // serde_json's message names the position and field, never the value.
            HttpError::Garbage(format!("not the JSON the API documents ({e})"))
        })
    }
}

/// The body of a response, read within `deadline`, refused when larger than 1 MiB.
fn read_body(resp: Response, deadline: &Deadline) -> Result<Zeroizing<Vec<u8>>, HttpError> {
    use std::io::Read;
    let mut body = Zeroizing::new(Vec::new());
    let mut timed = SelfTimed(resp);
    Bounded::new(&mut timed, *deadline)
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| {
            if deadline.remaining().is_err() || is_timeout(&e) || io_kind(&e) == "timed out" {
                timed_out(&deadline.expired())
            } else {
                HttpError::Unreachable(format!("reading the answer: {}", io_kind(&e)))
            }
        })?;
    if body.len() > MAX_BODY {
        return Err(HttpError::Garbage("the answer is larger than 1 MiB".into()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_name_the_url_and_the_os_reason_only() {
        // A port nobody listens on: the kernel refuses at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/x?secret=1");
        let Err(HttpError::Unreachable(m)) =
            client(Duration::from_secs(5)).unwrap().get(&url).send()
        else {
            panic!("refused connection not reported as unreachable")
        };
        assert!(
            m.starts_with(&format!("cannot connect (http://127.0.0.1:{port}/x: ")),
            "{m}"
        );
        assert!(
            m.to_lowercase().contains("refused") && !m.contains("secret"),
            "{m}"
        );
    }

    /// A server that sends its headers, then one body byte every 300 ms, never trips a read
    /// timeout; the request still ends at its deadline with a timeout error.
    #[test]
    fn a_trickling_body_ends_at_the_deadline() {
        use std::io::Write;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            );
            for _ in 0..100 {
                if s.write_all(b" ").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        let start = std::time::Instant::now();
        let c = client(Duration::from_secs(2)).unwrap();
        let e = c
            .get(format!("http://127.0.0.1:{port}/t"))
            .send_json::<serde_json::Value>()
            .unwrap_err();
        let took = start.elapsed();
        assert!(
            matches!(&e, HttpError::Unreachable(m) if m.contains("timed out")),
            "{e}"
        );
        assert!(took < Duration::from_secs(8), "took {took:?}");
        drop(c);
        server.join().unwrap();
    }

    /// Every request goes through this module, so every request has one deadline and registers
    /// its secrets: no other file builds a reqwest client or request (parsing URLs is fine).
    #[test]
    fn no_other_module_sends_http() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(p);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        let ours = [src.join("http.rs"), src.join("http")];
        for f in files {
            if ours.iter().any(|o| f.starts_with(o)) {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            for needle in [
                "reqwest::blocking",
                "reqwest::Client",
                "reqwest::get",
                "reqwest::Request",
            ] {
                assert!(
                    !text.contains(needle),
                    "{} uses `{needle}`: send through crate::http instead",
                    f.display()
                );
            }
        }
    }
}
