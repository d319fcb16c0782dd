//! git's URL matching for `credential.<url>.*` and `http.<url>.*` keys (pure; spec R1.18;
//! git:urlmatch.c): scheme exact, host compared per label after lower-casing with `*` matching
//! exactly one label, default port implied, path a prefix on `/` boundaries, and partial keys
//! (`example.com`, `/path`) matched by the fields they have.

/// Does the URL pattern of a `credential.<pattern>.*` key match `url` (git's urlmatch rules:
/// scheme exact, host per label with `*` = one label, default port implied, path prefix on `/`)?
pub fn url_matches(pattern: &str, url: &str) -> bool {
    let (Some(p), Some(u)) = (split_url(pattern), split_url(url)) else {
        return false;
    };
    if let Some(s) = &p.scheme {
        if Some(s) != u.scheme.as_ref() {
            return false;
        }
    }
    if let Some(h) = &p.host {
        let (pl, ul): (Vec<&str>, Vec<&str>) = (
            h.split('.').collect(),
            u.host.as_deref().unwrap_or("").split('.').collect(),
        );
        if pl.len() != ul.len() || !pl.iter().zip(&ul).all(|(a, b)| *a == "*" || a == b) {
            return false;
        }
        if p.port.is_some() && p.port != u.port {
            return false;
        }
    }
    let pp = p.path.trim_end_matches('/');
    pp.is_empty() || u.path == pp || u.path.starts_with(&format!("{pp}/"))
}

struct UrlParts {
    scheme: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    path: String,
}

fn split_url(s: &str) -> Option<UrlParts> {
    let (scheme, rest) = match s.split_once("://") {
        Some((sc, r)) => (Some(sc.to_ascii_lowercase()), r),
        None if s.starts_with('/') => {
            return Some(UrlParts {
                scheme: None,
                host: None,
                port: None,
                path: s.to_string(),
            })
        }
        None => (None, s), // partial key such as `example.com`
    };
    let (auth, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, String::new()),
    };
    let auth = auth.rsplit('@').next().unwrap_or(auth).to_ascii_lowercase();
    let default = match scheme.as_deref() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    let (host, port) = match auth.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().ok()),
        None => (auth, default),
    };
    Some(UrlParts {
        scheme,
        host: (!host.is_empty()).then_some(host),
        port: port.or(default),
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlmatch_rules() {
        assert!(url_matches(
            "https://git.corp.test",
            "https://git.corp.test/a"
        ));
        assert!(url_matches(
            "https://git.corp.test:443/",
            "https://git.corp.test/a"
        ));
        assert!(!url_matches(
            "https://git.corp.test:8443",
            "https://git.corp.test/a"
        ));
        assert!(!url_matches(
            "http://git.corp.test",
            "https://git.corp.test/a"
        ));
        assert!(url_matches(
            "https://git.corp.test/team",
            "https://git.corp.test/team/lib.git"
        ));
        assert!(!url_matches(
            "https://git.corp.test/tea",
            "https://git.corp.test/team/lib.git"
        ));
        assert!(url_matches("git.corp.test", "https://git.corp.test/x"));
        assert!(url_matches(
            "https://GIT.corp.test",
            "https://git.corp.test/x"
        ));
    }
}
