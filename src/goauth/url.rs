//! The URL lines of a GOAUTH answer, and the URL Go passes on its retry call.
//!
//! Go keys its credential cache by the URL line minus `https://` minus one trailing `/`, and
//! looks a request up by cutting the request URL (query included) at its last `/` until a key
//! matches — byte for byte (docs/protocols/goauth.md). So a prefix is only useful when it is written exactly as
//! Go writes request URLs: lower-case host, no `:443`, path elements as they appear. A
//! [`UrlPrefix`] can only be that. A [`RequestUrl`] is the one URL Go handed us, kept verbatim
//! and accepted only from a character set that `url.ParseRequestURI(..).String()` gives back
//! unchanged, so answering with it reaches exactly that request.

use super::GoauthError;
use crate::protocol::{escape_for_display, normalise_path, Origin, Scheme};

/// Longest retry URL we accept (Go's module paths and proxy URLs are far shorter).
pub(crate) const MAX_URL: usize = 8192;

/// `https://host[:port]/[elem/…]`: every request whose URL starts with it (on `/` boundaries)
/// gets the set's headers, unless a longer prefix matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlPrefix {
    origin: Origin,
    elems: Vec<String>,
}

impl UrlPrefix {
    /// The prefix for `origin` and the leading path elements `elems` (empty: the whole host).
    pub(crate) fn new(origin: &Origin, elems: &[&str]) -> Result<UrlPrefix, GoauthError> {
        if origin.scheme != Scheme::Https {
            return Err(GoauthError::BadPrefix(
                "not https (Go attaches GOAUTH credentials to https requests only)".into(),
            ));
        }
        // `Origin`'s fields are public: check it is in the normal form `Origin::parse` makes.
        let canonical = Origin::parse(Scheme::Https, &origin.authority())
            .map_err(|e| GoauthError::BadPrefix(format!("host: {e}")))?;
        if canonical != *origin {
            return Err(GoauthError::BadPrefix(
                "host is not lower-case ASCII with an explicit non-default port".into(),
            ));
        }
        for e in elems {
            check_element(e)?;
        }
        Ok(UrlPrefix {
            origin: canonical,
            elems: elems.iter().map(|e| e.to_string()).collect(),
        })
    }

    /// The URL line: always ends in `/`.
    pub(crate) fn render(&self) -> String {
        let mut s = format!("https://{}/", self.origin.authority());
        for e in &self.elems {
            s.push_str(e);
            s.push('/');
        }
        s
    }

    /// The key Go stores the credential under.
    pub(crate) fn cache_key(&self) -> String {
        let mut s = self.origin.authority();
        for e in &self.elems {
            s.push('/');
            s.push_str(e);
        }
        s
    }
}

/// Module-path element characters only: Go leaves them unescaped and they need no quoting.
fn check_element(e: &str) -> Result<(), GoauthError> {
    let ok = !e.is_empty()
        && e != "."
        && e != ".."
        && e.len() <= 255
        && e.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~-".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(GoauthError::BadPrefix(format!(
            "path element `{}` is not a plain module path element",
            escape_for_display(e)
        ))),
    }
}

/// The URL of Go's retry call (argv), validated; kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestUrl {
    raw: String,
    origin: Origin,
    path: Option<String>,
}

impl RequestUrl {
    pub(crate) fn parse(raw: &str) -> Result<RequestUrl, GoauthError> {
        let bad = |why: String| GoauthError::BadUrl(why);
        if raw.len() > MAX_URL {
            return Err(bad(format!("longer than {MAX_URL} bytes")));
        }
        let rest = raw.strip_prefix("https://").ok_or_else(|| {
            bad(
                "not an https:// URL (Go attaches GOAUTH credentials to https requests only)"
                    .into(),
            )
        })?;
        check_url_bytes(rest)?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, after) = rest.split_at(end);
        if authority.contains('@') {
            // Never echoed: it may hold a password.
            return Err(bad(
                "carries user information; refusing it (not shown)".into()
            ));
        }
        let origin = Origin::parse(Scheme::Https, authority).map_err(|e| bad(format!("{e}")))?;
        if origin.authority() != authority {
            return Err(bad(format!(
                "host `{}` is not written `{}`: Go matches GOAUTH credentials byte for byte, and \
                 gocred answers only for lower-case hosts without the default port; write the \
                 host that way in GOPROXY or the module path",
                escape_for_display(authority),
                origin.authority()
            )));
        }
        let path_part = after.split('?').next().unwrap_or("");
        let path = normalise_path(path_part).map_err(|e| bad(format!("{e}")))?;
        Ok(RequestUrl {
            raw: raw.to_string(),
            origin,
            path,
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    pub(crate) fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The path without leading/trailing `/` and without the query, for `Rules::select`.
    pub(crate) fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The key Go stores a credential under when this URL is the URL line.
    pub(crate) fn cache_key(&self) -> String {
        self.key().to_string()
    }

    fn key(&self) -> &str {
        let k = &self.raw["https://".len()..];
        k.strip_suffix('/').unwrap_or(k)
    }

    /// The keys Go's `loadCredential` tries for this request, longest first: the cache key,
    /// then cut at its last `/` again and again. Slices of the URL, none copied.
    pub(crate) fn lookup_keys(&self) -> Vec<&str> {
        let mut key = self.key();
        let mut keys = vec![key];
        while let Some(i) = key.rfind('/') {
            key = &key[..i];
            keys.push(key);
        }
        keys
    }

    /// Whether `key` is one of [`Self::lookup_keys`], in one pass: every cut ends just before a
    /// `/`, so `key` is the whole cache key or a head of it followed by `/`. (Building the keys
    /// is quadratic in the URL's length; a URL from Go may be long.)
    pub(crate) fn reaches(&self, key: &str) -> bool {
        let k = self.key();
        k.strip_prefix(key)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }

    /// Whether Go would attach `prefix`'s headers to this request (absent a longer prefix).
    pub(crate) fn is_under(&self, prefix: &UrlPrefix) -> bool {
        self.reaches(&prefix.cache_key())
    }
}

/// Printable ASCII without the characters Go's URL writer would escape (space, `"`, `<`, `>`,
/// `\`, `^`, backquote, `{`, `|`, `}`) or that end a request URL (`#`); `%` only as `%XX`.
fn check_url_bytes(s: &str) -> Result<(), GoauthError> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let ok = match c {
            b'%' => b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'#' => false,
            0x21..=0x7e => true,
            _ => false,
        };
        if !ok {
            return Err(GoauthError::BadUrl(
                "contains a space, control, non-ASCII or reserved character, or a bad %-escape"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// One URL line of a credential set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlLine {
    Prefix(UrlPrefix),
    /// `https://host/elem…?go-get=1`: Go's go-get page of exactly the prefix's path. Go looks a
    /// request up with its query glued to the last element, so `host/a/b?go-get=1` never hits
    /// the key `host/a/b`; this line is what makes that page get the prefix's rule.
    GoGet(UrlPrefix),
    /// Exactly the URL Go asked about (answers that request and nothing shorter).
    Exact(RequestUrl),
}

impl UrlLine {
    pub(crate) fn render(&self) -> String {
        match self {
            UrlLine::Prefix(p) => p.render(),
            UrlLine::GoGet(p) => format!("https://{}?go-get=1", p.cache_key()),
            UrlLine::Exact(u) => u.as_str().to_string(),
        }
    }

    pub(crate) fn cache_key(&self) -> String {
        match self {
            UrlLine::Prefix(p) => p.cache_key(),
            UrlLine::GoGet(p) => format!("{}?go-get=1", p.cache_key()),
            UrlLine::Exact(u) => u.cache_key(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https(h: &str) -> Origin {
        Origin::parse(Scheme::Https, h).unwrap()
    }

    #[test]
    fn prefixes_are_normal_form_with_trailing_slash() {
        let p = UrlPrefix::new(&https("GIT.Corp.Test:443"), &[]).unwrap();
        assert_eq!(p.render(), "https://git.corp.test/");
        assert_eq!(p.cache_key(), "git.corp.test");
        let p = UrlPrefix::new(&https("git.corp.test:8443"), &["team", "lib"]).unwrap();
        assert_eq!(p.render(), "https://git.corp.test:8443/team/lib/");
        assert_eq!(p.cache_key(), "git.corp.test:8443/team/lib");
    }

    #[test]
    fn prefixes_refuse_what_go_would_not_match() {
        let http = Origin::parse(Scheme::Http, "a.example").unwrap();
        assert!(UrlPrefix::new(&http, &[]).is_err());
        let mut upper = https("a.example");
        upper.host = "A.example".into();
        assert!(UrlPrefix::new(&upper, &[]).is_err());
        for bad in [
            "", ".", "..", "a b", "a?b", "a#b", "a/b", "a%2fb", "é", "a\nb",
        ] {
            assert!(
                UrlPrefix::new(&https("a.example"), &[bad]).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn request_urls_are_kept_verbatim() {
        let u = RequestUrl::parse("https://git.corp.test/team/lib?go-get=1").unwrap();
        assert_eq!(u.as_str(), "https://git.corp.test/team/lib?go-get=1");
        assert_eq!(u.path(), Some("team/lib"));
        assert_eq!(u.cache_key(), "git.corp.test/team/lib?go-get=1");
        assert_eq!(
            u.lookup_keys(),
            [
                "git.corp.test/team/lib?go-get=1",
                "git.corp.test/team",
                "git.corp.test"
            ]
        );
        let host = UrlPrefix::new(u.origin(), &[]).unwrap();
        let team = UrlPrefix::new(u.origin(), &["team"]).unwrap();
        let lib = UrlPrefix::new(u.origin(), &["team", "lib"]).unwrap();
        assert!(u.is_under(&host) && u.is_under(&team));
        assert!(!u.is_under(&lib), "the query sticks to the last element");
        let p = RequestUrl::parse("https://proxy.corp.test/git.corp.test/team/lib/@v/v1.0.0.info")
            .unwrap();
        assert_eq!(p.path(), Some("git.corp.test/team/lib/@v/v1.0.0.info"));
        assert!(RequestUrl::parse("https://h.example/%41!$&'()*+,;=:@~").is_ok());
    }

    #[test]
    fn request_urls_refuse_hostile_and_unmatchable_forms() {
        for bad in [
            "http://git.corp.test/x",
            "HTTPS://git.corp.test/x",
            "https://git.corp.test/x y",
            "https://git.corp.test/x\ny",
            "https://git.corp.test/x\ry",
            "https://git.corp.test/x\0",
            "https://git.corp.test/x#frag",
            "https://git.corp.test/%zz",
            "https://git.corp.test/%2f/x",
            "https://git.corp.test/a/../b",
            "https://git.corp.test/é",
            "https://GIT.corp.test/x",
            "https://git.corp.test:443/x",
            "https://git.corp.test./x",
            "https:///x",
            "https://",
        ] {
            assert!(RequestUrl::parse(bad).is_err(), "{bad:?}");
        }
        let e = RequestUrl::parse("https://u:hunter2@git.corp.test/x").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(RequestUrl::parse(&format!("https://a.example/{}", "x".repeat(MAX_URL))).is_err());
    }
}
