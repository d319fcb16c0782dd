//! Renders a GOAUTH answer: `{ URLLine+ "\n" HeaderLine+ "\n" }` (docs/protocols/goauth.md).
//!
//! A [`CredentialSet`] cannot be empty on either side: a set without URLs does not parse, and a
//! set without headers makes Go *delete* what it cached for those prefixes. A [`GoauthResponse`]
//! holds each cache key once (Go would let the later set win silently). The whole answer is
//! rendered into a buffer that is zeroed on drop and written with one `write_all`, so a failure
//! leaves stdout empty rather than half an answer that voids everything.

use std::io::{self, Write};

use secrecy::zeroize::Zeroizing;

use super::{GoauthError, Header, UrlLine};
use crate::secret::ExposeSecret;

/// URL lines and the headers Go attaches to requests under them.
#[derive(Debug)]
pub(crate) struct CredentialSet {
    urls: Vec<UrlLine>,
    headers: Vec<Header>,
}

impl CredentialSet {
    pub(crate) fn new(url: UrlLine, header: Header) -> CredentialSet {
        CredentialSet {
            urls: vec![url],
            headers: vec![header],
        }
    }

    pub(crate) fn add_url(&mut self, url: UrlLine) {
        self.urls.push(url);
    }

    pub(crate) fn add_header(&mut self, header: Header) {
        self.headers.push(header);
    }

    pub(crate) fn urls(&self) -> &[UrlLine] {
        &self.urls
    }
}

/// The whole answer: zero or more sets, each cache key at most once.
#[derive(Debug, Default)]
pub(crate) struct GoauthResponse {
    sets: Vec<CredentialSet>,
}

impl GoauthResponse {
    pub(crate) fn new() -> GoauthResponse {
        GoauthResponse::default()
    }

    /// Adds `set` unless one of its URLs is already answered (then nothing is added).
    pub(crate) fn push(&mut self, set: CredentialSet) -> Result<(), GoauthError> {
        let mut keys: Vec<String> = self
            .sets
            .iter()
            .flat_map(|s| s.urls.iter().map(UrlLine::cache_key))
            .collect();
        for u in &set.urls {
            let k = u.cache_key();
            if keys.contains(&k) {
                return Err(GoauthError::DuplicatePrefix(k));
            }
            keys.push(k);
        }
        self.sets.push(set);
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    pub(crate) fn sets(&self) -> &[CredentialSet] {
        &self.sets
    }
}

/// Writes `resp` in one `write_all`. An empty response writes nothing (Go: "no credentials").
pub(crate) fn write_response(mut out: impl Write, resp: &GoauthResponse) -> io::Result<()> {
    if resp.is_empty() {
        return Ok(());
    }
    // Zeroed (its whole capacity) when dropped: it holds secrets.
    let mut buf = Zeroizing::new(Vec::with_capacity(512));
    for set in &resp.sets {
        for u in &set.urls {
            buf.extend_from_slice(u.render().as_bytes());
            buf.push(b'\n');
        }
        buf.push(b'\n');
        for h in &set.headers {
            buf.extend_from_slice(h.name().as_str().as_bytes());
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(h.value().expose_secret().as_bytes());
            buf.push(b'\n');
        }
        buf.push(b'\n');
    }
    out.write_all(&buf)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goauth::{HeaderName, RequestUrl, UrlPrefix};
    use crate::protocol::{Origin, Scheme};
    use crate::secret::secret;

    fn prefix(host: &str, elems: &[&str]) -> UrlLine {
        UrlLine::Prefix(
            UrlPrefix::new(&Origin::parse(Scheme::Https, host).unwrap(), elems).unwrap(),
        )
    }

    fn render(r: &GoauthResponse) -> String {
        let mut out = Vec::new();
        write_response(&mut out, r).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_format_go_documents() {
        let mut r = GoauthResponse::new();
        assert_eq!(render(&r), "", "no sets: no output at all");
        let mut set = CredentialSet::new(
            prefix("git.corp.test", &[]),
            Header::basic("goauthuser", &secret("goauthpw".into())).unwrap(),
        );
        set.add_url(prefix("proxy.corp.test", &[]));
        r.push(set).unwrap();
        let mut set = CredentialSet::new(
            UrlLine::Exact(RequestUrl::parse("https://a.example/x/y?go-get=1").unwrap()),
            Header::bearer(&secret("t0k".into())).unwrap(),
        );
        set.add_header(
            Header::new(HeaderName::new("X-Extra").unwrap(), secret("1".into())).unwrap(),
        );
        r.push(set).unwrap();
        assert_eq!(
            render(&r),
            "https://git.corp.test/\nhttps://proxy.corp.test/\n\n\
             Authorization: Basic Z29hdXRodXNlcjpnb2F1dGhwdw==\n\n\
             https://a.example/x/y?go-get=1\n\n\
             Authorization: Bearer t0k\nX-Extra: 1\n\n"
        );
    }

    #[test]
    fn one_set_per_cache_key() {
        let mut r = GoauthResponse::new();
        let h = || Header::bearer(&secret("t".into())).unwrap();
        r.push(CredentialSet::new(prefix("a.example", &["x"]), h()))
            .unwrap();
        // `https://a.example/x/` and `https://a.example:443/x` are one key for Go.
        let e = r
            .push(CredentialSet::new(prefix("A.example:443", &["x"]), h()))
            .unwrap_err();
        assert_eq!(e, GoauthError::DuplicatePrefix("a.example/x".into()));
        r.push(CredentialSet::new(prefix("a.example", &[]), h()))
            .unwrap();
        assert_eq!(r.sets().len(), 2);
    }
}
