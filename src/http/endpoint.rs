//! Which URLs may receive a secret: https, or plain http to a loopback address only.

/// A URL that may receive a secret: `https://…`, or `http://` on loopback only; no user name or
/// password in it (reqwest would send them as a second, unasked-for credential). A query is
/// allowed: request URLs handed to us (`ACTIONS_ID_TOKEN_REQUEST_URL`) carry one.
pub(crate) fn check_url(raw: &str) -> Result<reqwest::Url, String> {
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
pub(crate) fn check_endpoint(raw: &str, what: &str) -> Result<reqwest::Url, String> {
    let url = check_url(raw).map_err(|e| format!("{what} {e}"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{what} `{raw}` must not have a query or fragment"));
    }
    Ok(url)
}

pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
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
}
