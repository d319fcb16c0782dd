//! One HTTPS GET the way the go command makes it (go:cmd/go/internal/web/http.go): credentials
//! from the initial GOAUTH run attached up front; on a 4xx, GOAUTH runs again with the URL and
//! the response head, and the request is retried once with what it produced.
//!
//! Used for the go-get page and for GOPROXY requests. Returns both attempts so checks can say
//! exactly which credential (by source, never by value) Go sent and what the server answered.

use super::goauth::{self, Method};
use super::http::HttpResponse;
use super::net::{self, Blocked, Client};
use super::Doctor;

pub(crate) struct GoFetch {
    pub first: Result<HttpResponse, Blocked>,
    /// Where the up-front credential came from, if Go sent one.
    pub first_cred: Option<String>,
    /// The retry after a 4xx, when GOAUTH produced a credential for the URL.
    pub retry: Option<(Result<HttpResponse, Blocked>, String)>,
    /// GOAUTH problems, as `go -x` would log them.
    pub notes: Vec<String>,
}

impl GoFetch {
    /// The answer Go ends up with.
    pub(crate) fn last(&self) -> &Result<HttpResponse, Blocked> {
        match &self.retry {
            Some((r, _)) => r,
            None => &self.first,
        }
    }

    /// The credential behind [`GoFetch::last`], if any.
    pub(crate) fn last_cred(&self) -> Option<&str> {
        match &self.retry {
            Some((_, s)) => Some(s),
            None => self.first_cred.as_deref(),
        }
    }
}

/// `https://host[:port]/path?query` → (host, port, path_and_query).
pub(crate) fn split_https(url: &str) -> Option<(String, u16, String)> {
    let rest = url.strip_prefix("https://")?;
    let (auth, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let auth = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let (host, port) = match auth.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().ok()?),
        None => (auth, 443),
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port, path))
}

/// `Authorization: Basic …` from a URL's user info, as net/http sends it when no GOAUTH
/// credential applies (a GOPROXY with `user:password@`).
fn userinfo_basic(url: &str) -> Option<crate::secret::SecretString> {
    let rest = url.strip_prefix("https://")?;
    let auth = rest.split(['/', '?']).next()?;
    let (info, _) = auth.rsplit_once('@')?;
    let decoded = super::proxyenv::percent_decode(info);
    let (u, p) = decoded.split_once(':').unwrap_or((&decoded, ""));
    let p = crate::secret::secret(p.to_string());
    crate::http::redact::register_basic(u, &p);
    Some(crate::secret::basic_auth(u, &p))
}

pub(crate) fn methods(d: &Doctor) -> Vec<Method> {
    goauth::parse_goauth(d.go.get("GOAUTH")).unwrap_or_default()
}

/// Fetches `url` as Go would.
pub(crate) fn fetch(d: &mut Doctor, url: &str) -> GoFetch {
    let Some((host, port, path)) = split_https(url) else {
        return GoFetch {
            first: Err(Blocked::Error(format!("not an https URL: {url}"))),
            first_cred: None,
            retry: None,
            notes: vec![],
        };
    };
    let ms = methods(d);
    let mut notes = Vec::new();
    if d.go_creds.is_none() {
        let mut cache = goauth::Cache::default();
        notes.extend(goauth::run(d.env, &ms, None, &mut cache));
        d.go_creds = Some(cache);
    }
    let (headers, first_cred) = match (
        d.go_creds.as_ref().and_then(|c| c.load(url)),
        userinfo_basic(url),
    ) {
        (Some(c), _) => (clone_headers(&c.headers), Some(c.source.clone())),
        (None, Some(b)) => (
            vec![("Authorization".to_string(), b)],
            Some("the user info in the URL".to_string()),
        ),
        (None, None) => (Vec::new(), None),
    };
    let first = net::https(d, Client::Go, &host, port, "GET", &path, &headers);
    let mut retry = None;
    if let Ok(res) = &first {
        if (400..500).contains(&res.status) && !ms.contains(&Method::Off) {
            let head = response_head(res);
            let mut cache = d.go_creds.take().unwrap_or_default();
            notes.extend(goauth::run(d.env, &ms, Some((url, &head)), &mut cache));
            let found = cache
                .load(url)
                .map(|c| (clone_headers(&c.headers), c.source.clone()));
            d.go_creds = Some(cache);
            if let Some((h, source)) = found {
                retry = Some((
                    net::https(d, Client::Go, &host, port, "GET", &path, &h),
                    source,
                ));
            }
        }
    }
    GoFetch {
        first,
        first_cred,
        retry,
        notes,
    }
}

fn clone_headers(
    h: &[(String, crate::secret::SecretString)],
) -> Vec<(String, crate::secret::SecretString)> {
    h.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// What Go writes to a GOAUTH command's stdin on a retry (`writeResponseToStdin`).
fn response_head(res: &HttpResponse) -> String {
    let mut s = format!("HTTP/1.1 {} {}\n", res.status, res.reason);
    for (k, v) in &res.headers {
        s.push_str(&format!("{k}: {v}\n"));
    }
    s.push('\n');
    s
}

/// One-line description of an outcome for messages (status and reason; never headers).
pub(crate) fn describe(r: &Result<HttpResponse, Blocked>) -> String {
    match r {
        Ok(res) => format!("{} {}", res.status, super::report::clean(&res.reason)),
        Err(Blocked::Unreachable(id)) => format!("not reachable (see {id})"),
        Err(Blocked::Error(e)) => super::report::clean(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_https("https://Git.corp.test/team/lib?go-get=1").unwrap(),
            ("git.corp.test".into(), 443, "/team/lib?go-get=1".into())
        );
        assert_eq!(
            split_https("https://p.test:8443").unwrap(),
            ("p.test".into(), 8443, "/".into())
        );
        assert!(split_https("http://x/").is_none());
    }
}
