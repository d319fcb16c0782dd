//! Where a credential would go: scheme, host, port — validated and normalised.
//!
//! Git does not normalise the host it sends (docs/protocols/git-credential.md): `GitHub.COM:443` arrives as is. We compare
//! lower-cased ASCII hosts exactly with the default port made explicit, and refuse what could
//! be a look-alike or an injection: non-ASCII (IDN confusables; punycode `xn--` is fine), a trailing
//! dot, an empty or non-numeric port, userinfo, slashes, control characters.

use std::fmt;

use super::ProtocolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Https,
    Http,
}

impl Scheme {
    pub fn parse(s: &str) -> Result<Scheme, ProtocolError> {
        match s {
            "https" => Ok(Scheme::Https),
            "http" => Ok(Scheme::Http),
            other => Err(ProtocolError::UnsupportedProtocol(
                super::escape_for_display(other),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// A validated origin. `host` is lower-case ASCII without port; `port` is explicit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: Scheme,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// Parses git's `host` attribute (`name[:port]`, `[v6]:port`) for `scheme`.
    pub fn parse(scheme: Scheme, raw: &str) -> Result<Origin, ProtocolError> {
        if raw.is_empty() {
            return Err(ProtocolError::MissingHost);
        }
        let (host, port) = split_port(raw)?;
        let port = match port {
            None => scheme.default_port(),
            Some(p) => parse_port(p)?,
        };
        let host = validate_hostname(host)?;
        Ok(Origin { scheme, host, port })
    }

    /// `host` or `host:port` when the port is not the scheme's default: the form git users write.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority())
    }
}

fn split_port(raw: &str) -> Result<(&str, Option<&str>), ProtocolError> {
    if let Some(rest) = raw.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or(ProtocolError::BadHost("unterminated IPv6 literal"))?;
        let (v6, after) = (&raw[..end + 2], &rest[end + 1..]);
        return match after {
            "" => Ok((v6, None)),
            p if p.starts_with(':') => Ok((v6, Some(&p[1..]))),
            _ => Err(ProtocolError::BadHost("garbage after IPv6 literal")),
        };
    }
    match raw.rsplit_once(':') {
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((raw, None)),
    }
}

fn parse_port(p: &str) -> Result<u16, ProtocolError> {
    if p.is_empty() {
        return Err(ProtocolError::BadHost("empty port"));
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 5 {
        return Err(ProtocolError::BadHost("port is not a number"));
    }
    match p.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(ProtocolError::BadHost("port out of range")),
    }
}

/// Lower-cases and checks one host name. Exact policy, so rules can compare by string equality.
pub fn validate_hostname(host: &str) -> Result<String, ProtocolError> {
    if host.is_empty() {
        return Err(ProtocolError::MissingHost);
    }
    if host.starts_with('[') {
        let inner = &host[1..host.len() - 1];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(ProtocolError::BadHost("malformed IPv6 literal"));
        }
        return Ok(host.to_ascii_lowercase());
    }
    if !host.is_ascii() {
        return Err(ProtocolError::BadHost(
            "non-ASCII host name (write internationalised names in punycode, xn--…)",
        ));
    }
    if host.bytes().any(|b| b.is_ascii_control()) {
        return Err(ProtocolError::BadHost("control character"));
    }
    if host.contains('@') {
        return Err(ProtocolError::BadHost("user information in host"));
    }
    if host.contains('/') || host.contains('\\') {
        return Err(ProtocolError::BadHost("slash in host"));
    }
    if host.ends_with('.') {
        return Err(ProtocolError::BadHost("trailing dot"));
    }
    if host.len() > 253 {
        return Err(ProtocolError::BadHost("longer than 253 characters"));
    }
    for label in host.split('.') {
        if label.is_empty() {
            return Err(ProtocolError::BadHost("empty label"));
        }
        if label.len() > 63 {
            return Err(ProtocolError::BadHost("label longer than 63 characters"));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ProtocolError::BadHost(
                "character not allowed in a host name",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(ProtocolError::BadHost("label starts or ends with '-'"));
        }
    }
    Ok(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn https(h: &str) -> Result<Origin, ProtocolError> {
        Origin::parse(Scheme::Https, h)
    }

    #[test]
    fn normalises_case_and_default_port() {
        assert_eq!(https("GitHub.COM").unwrap(), https("github.com").unwrap());
        assert_eq!(
            https("github.com:443").unwrap(),
            https("github.com").unwrap()
        );
        assert_ne!(
            https("github.com:8443").unwrap(),
            https("github.com").unwrap()
        );
        assert_eq!(
            https("github.com:8443").unwrap().authority(),
            "github.com:8443"
        );
        assert_eq!(https("[::1]:8443").unwrap().host, "[::1]");
        assert_eq!(https("127.0.0.1").unwrap().host, "127.0.0.1");
        assert_eq!(
            https("xn--gthub-n4a.com").unwrap().host,
            "xn--gthub-n4a.com"
        );
    }

    #[test]
    fn refuses_look_alikes_and_injections() {
        for bad in [
            "",
            "github.com:",
            "github.com.",
            "github.com:0",
            "github.com:65536",
            "github.com:44x",
            "gіthub.com",
            "ｇｉｔｈｕｂ．ｃｏｍ",
            "victim.example.com\u{1b}[2K\u{1b}[1Agithub.com",
            "corp.com@evil.com",
            "good.example/evil",
            "a..b",
            "-a.com",
            "a b.com",
            "[::1",
            "[zz]",
        ] {
            assert!(https(bad).is_err(), "{bad:?} accepted");
        }
    }
}
