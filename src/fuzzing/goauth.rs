//! Go's GOAUTH codec: the 4xx response Go writes to stdin, the retry URL Go passes, and the
//! answer gocred writes back, which Go must read exactly as meant.

use super::{assert_printable, Fields};
use crate::goauth::{
    read_challenge, write_response, CredentialSet, GoauthResponse, Header, HeaderName, RequestUrl,
    UrlLine, UrlPrefix, MAX_CHALLENGE,
};
use crate::protocol::{normalise_path, Origin, Scheme};
use crate::secret::{secret, ExposeSecret};

/// Properties of `read_challenge`: empty input is "no challenge"; anything accepted is bounded
/// UTF-8 text without NUL or CR, a 4xx status line, header lines and exactly one final blank
/// line; a refusal never echoes a control character.
pub fn goauth_stdin(data: &[u8]) {
    match read_challenge(data) {
        Err(e) => assert_printable("goauth stdin error", &e.to_string()),
        Ok(None) => assert!(data.is_empty()),
        Ok(Some(c)) => {
            assert!(!data.is_empty() && data.len() <= MAX_CHALLENGE);
            assert!(!data.contains(&0) && !data.contains(&b'\r'));
            let text = std::str::from_utf8(data).expect("accepted text is UTF-8");
            assert!(text.ends_with("\n\n") && !text[..text.len() - 1].contains("\n\n"));
            assert!((400..500).contains(&c.status));
            assert!(text.starts_with("HTTP/") && text[9..12] == c.status.to_string());
            assert_eq!(c.headers, text.matches('\n').count() - 2);
        }
    }
}

/// Go's cache key lookup for a request URL (`loadCredential`): the URL without `https://`, cut
/// at its last `/` until a key matches. Restated here, independently of `RequestUrl`.
fn go_would_attach(url: &str, key: &str) -> bool {
    let k = url.strip_prefix("https://").unwrap_or(url);
    let k = k.strip_suffix('/').unwrap_or(k);
    k == key || (k.starts_with(key) && k[key.len()..].starts_with('/'))
}

/// Properties of the URL checks and the answer writer. Fields: retry URL, prefix host, prefix
/// path elements (`/`-separated), header name, header value / token, Basic username.
/// - an accepted retry URL is kept verbatim, is `https://` plus printable ASCII without `#`, its
///   host is written exactly as gocred would write it, its path is normalised, and
///   `lookup_keys`/`is_under` agree with Go's lookup restated;
/// - a refused URL with user information never shows it;
/// - a prefix renders as a URL line that parses back as a retry URL with the same cache key, and
///   Go attaches it to requests below it;
/// - a header line splits back (at the first `": "`, trimmed, as Go reads it) into its name and
///   value; a Basic value decodes to exactly `username:token`;
/// - the rendered answer is URL lines, a blank line, header lines, a blank line, per set.
pub fn goauth_url(data: &[u8]) {
    let f = Fields::split(data);
    let raw = f.text(0);
    match RequestUrl::parse(&raw) {
        Err(e) => {
            let msg = e.to_string();
            assert_printable("goauth url error", &msg);
            if let Some(rest) = raw.strip_prefix("https://") {
                let authority = rest.split(['/', '?']).next().unwrap_or("");
                if authority.contains('@') {
                    assert!(!msg.contains(authority), "userinfo shown: {msg}");
                }
            }
        }
        Ok(u) => check_request_url(&raw, &u),
    }

    let Ok(origin) = Origin::parse(Scheme::Https, &f.text(1)) else {
        return;
    };
    let elems_text = f.text(2);
    let elems: Vec<&str> = match elems_text.as_str() {
        "" => vec![],
        t => t.split('/').collect(),
    };
    let prefix = UrlPrefix::new(&origin, &elems);
    let mut upper = origin.clone();
    upper.host = origin.host.to_ascii_uppercase();
    if upper.host != origin.host {
        assert!(UrlPrefix::new(&upper, &elems).is_err(), "upper-case host");
    }
    let Ok(prefix) = prefix else { return };
    let line = prefix.render();
    if line.len() > 8000 {
        return; // past the longest retry URL gocred accepts
    }
    assert!(line.starts_with("https://") && line.ends_with('/'));
    let back = RequestUrl::parse(&line).expect("a prefix parses as a URL");
    assert_eq!(back.cache_key(), prefix.cache_key());
    assert!(back.is_under(&prefix));
    for below in ["x", "x/y", "x?go-get=1"] {
        let u = RequestUrl::parse(&format!("{line}{below}")).expect("below the prefix");
        assert!(u.is_under(&prefix), "{below}");
    }

    let name = f.text(3);
    let value = f.text(4);
    let user = f.text(5);
    let mut headers = Vec::new();
    if let Ok(n) = HeaderName::new(&name) {
        if let Ok(h) = Header::new(n, secret(value.clone())) {
            headers.push(h);
        }
    }
    if let Ok(h) = Header::basic(&user, &secret(value.clone())) {
        let v = h.value().expose_secret();
        use base64::Engine as _;
        let pair = base64::engine::general_purpose::STANDARD
            .decode(v.strip_prefix("Basic ").expect("Basic scheme"))
            .expect("valid base64");
        assert_eq!(pair, format!("{user}:{value}").as_bytes());
        headers.push(h);
    }
    if let Ok(h) = Header::bearer(&secret(value.clone())) {
        assert_eq!(h.value().expose_secret(), format!("Bearer {value}"));
        headers.push(h);
    }
    for h in &headers {
        let line = format!("{}: {}", h.name().as_str(), h.value().expose_secret());
        let (n, v) = line.split_once(": ").expect("header line");
        assert_eq!(n, h.name().as_str());
        assert_eq!(v.trim(), h.value().expose_secret());
        assert!(!line.chars().any(char::is_control));
    }
    check_answer(prefix, headers);
}

fn check_request_url(raw: &str, u: &RequestUrl) {
    assert_eq!(u.as_str(), raw);
    let rest = raw.strip_prefix("https://").expect("https");
    assert!(rest.bytes().all(|b| (0x21..0x7f).contains(&b)) && !rest.contains('#'));
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    assert_eq!(u.origin().authority(), authority, "host not verbatim");
    assert_eq!(u.origin().scheme, Scheme::Https);
    if let Some(p) = u.path() {
        assert_eq!(normalise_path(p), Ok(Some(p.to_string())));
    }
    let keys = u.lookup_keys();
    assert_eq!(keys[0], u.cache_key());
    assert!(!keys.last().expect("one key").contains('/'));
    for w in keys.windows(2) {
        assert!(w[0].starts_with(w[1]) && w[0][w[1].len()..].starts_with('/'));
    }
    // `https://h?go-get=1` has no `/` to cut at: not even the host prefix covers it.
    let host = UrlPrefix::new(u.origin(), &[]).expect("host prefix");
    let attach = |p: &UrlPrefix| {
        let key = p.cache_key();
        let go = go_would_attach(raw, &key);
        assert_eq!(u.is_under(p), go, "is_under {key}");
        assert_eq!(keys.contains(&key.as_str()), go, "lookup_keys {key}");
    };
    attach(&host);
    // Every prefix of the path's plain elements (up to 64, spread): `is_under` and the keys
    // are exactly Go's lookup.
    let path = u.path().unwrap_or("");
    let elems: Vec<&str> = path.split('/').filter(|e| !e.is_empty()).collect();
    let step = elems.len().div_ceil(64).max(1);
    for n in (1..=elems.len()).step_by(step).chain([elems.len()]) {
        if let Ok(p) = UrlPrefix::new(u.origin(), &elems[..n]) {
            attach(&p);
        }
    }
}

fn check_answer(prefix: UrlPrefix, mut headers: Vec<Header>) {
    if headers.is_empty() {
        return;
    }
    let first = headers.remove(0);
    let mut set = CredentialSet::new(UrlLine::Prefix(prefix.clone()), first);
    for h in headers {
        set.add_header(h);
    }
    let mut resp = GoauthResponse::new();
    resp.push(set).expect("one set");
    let dup = CredentialSet::new(
        UrlLine::Prefix(prefix.clone()),
        Header::bearer(&secret("t".into())).expect("bearer"),
    );
    assert!(resp.push(dup).is_err(), "the same prefix twice");
    let mut out = Vec::new();
    write_response(&mut out, &resp).expect("rendered");
    let text = String::from_utf8(out).expect("UTF-8");
    let blocks: Vec<&str> = text
        .strip_suffix("\n\n")
        .expect("ends with a blank line")
        .split("\n\n")
        .collect();
    assert_eq!(blocks.len(), 2, "{text:?}");
    assert_eq!(blocks[0], prefix.render());
    let set = &resp.sets()[0];
    assert_eq!(set.urls().len(), 1);
    for line in blocks[1].split('\n') {
        let (n, v) = line.split_once(": ").expect("a header line");
        assert!(HeaderName::new(n).is_ok() && !v.is_empty() && v.trim() == v);
    }
}
