//! Reads and validates one request from git (docs/protocols/git-credential.md).
//!
//! The whole input is read first (bounded), then checked; a request that is not entirely clean is
//! refused as a whole. Stricter than git's own reader on purpose: CRLF, duplicate scalar keys and
//! `url=` resets are attack shapes (CVE-2020-5260, CVE-2024-52006, CVE-2025-23040), not typos.

use std::collections::HashSet;
use std::io::{BufRead, Read};

use super::origin::{Origin, Scheme};
use super::{escape_for_display, ProtocolError, Request};
use crate::secret::{secret, SecretString};

/// Git's own limit for one line, LF included.
pub const MAX_LINE: usize = 65535;
/// Whole request cap: git sends a handful of lines plus `wwwauth[]` headers.
pub const MAX_INPUT: usize = 1024 * 1024;

const ROUTING_KEYS: [&str; 4] = ["protocol", "host", "path", "username"];
const SCALAR_KEYS: [&str; 13] = [
    "protocol",
    "host",
    "path",
    "username",
    "password",
    "password_expiry_utc",
    "oauth_refresh_token",
    "url",
    "authtype",
    "credential",
    "ephemeral",
    "quit",
    "continue",
];

#[derive(Default)]
struct Raw {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<String>,
    username: Option<String>,
    password: Option<SecretString>,
    expiry: Option<u64>,
    url: Option<String>,
    capabilities: Vec<String>,
}

/// Reads git's request up to a blank line or EOF and validates it.
pub fn read_request(input: impl BufRead) -> Result<Request, ProtocolError> {
    let mut limited = input.take(MAX_INPUT as u64 + 1);
    let mut raw = Raw::default();
    let mut seen: HashSet<&'static str> = HashSet::new();
    let mut total = 0usize;
    let mut line_no = 0usize;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = read_line(&mut limited, &mut buf, line_no + 1)?;
        if n == 0 {
            break;
        }
        total += n;
        if total > MAX_INPUT {
            return Err(ProtocolError::InputTooLarge);
        }
        line_no += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.is_empty() {
            break;
        }
        if buf.last() == Some(&b'\r') {
            return Err(ProtocolError::Crlf { line: line_no });
        }
        let eq = buf
            .iter()
            .position(|&b| b == b'=')
            .ok_or(ProtocolError::NoEquals { line: line_no })?;
        let (key, value) = (&buf[..eq], &buf[eq + 1..]);
        if key.is_empty() {
            return Err(ProtocolError::EmptyKey { line: line_no });
        }
        let key_str = String::from_utf8_lossy(key).into_owned();
        check_bytes(&key_str, key)?;
        check_bytes(&key_str, value)?;
        if let Some(&k) = SCALAR_KEYS.iter().find(|&&k| k.as_bytes() == key) {
            if !seen.insert(k) {
                return Err(ProtocolError::Duplicate { key: k.to_string() });
            }
        }
        accept(&mut raw, key, value, &key_str)?;
    }
    finish(raw, &seen)
}

/// `read_until` with the per-line cap enforced while reading, so a 10 MB line costs 64 KiB.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>, line: usize) -> Result<usize, ProtocolError> {
    let mut capped = r.take(MAX_LINE as u64 + 1);
    let n = capped
        .read_until(b'\n', buf)
        .map_err(|_| ProtocolError::BadUrl("unreadable input"))?;
    if n > MAX_LINE || (n == MAX_LINE + 1 && buf.last() != Some(&b'\n')) {
        return Err(ProtocolError::LineTooLong { line });
    }
    Ok(n)
}

fn check_bytes(key: &str, bytes: &[u8]) -> Result<(), ProtocolError> {
    let key = || escape_for_display(key);
    if bytes.contains(&0) {
        return Err(ProtocolError::Nul { key: key() });
    }
    if bytes.contains(&b'\r') {
        return Err(ProtocolError::CarriageReturn { key: key() });
    }
    Ok(())
}

fn text(key: &str, value: &[u8]) -> Result<String, ProtocolError> {
    let s = std::str::from_utf8(value).map_err(|_| ProtocolError::NotUtf8 { key: key.into() })?;
    if ROUTING_KEYS.contains(&key) && s.chars().any(|c| c.is_control()) {
        return Err(ProtocolError::Control { key: key.into() });
    }
    Ok(s.to_string())
}

fn accept(raw: &mut Raw, key: &[u8], value: &[u8], key_str: &str) -> Result<(), ProtocolError> {
    match key {
        b"protocol" => raw.protocol = Some(text("protocol", value)?),
        b"host" => raw.host = Some(text("host", value)?),
        b"path" => raw.path = Some(text("path", value)?),
        b"username" => raw.username = Some(text("username", value)?),
        b"password" => raw.password = Some(secret(text("password", value)?)),
        b"url" => raw.url = Some(text("url", value)?),
        // Git: base-10, and 0 / garbage / overflow mean "never expires".
        b"password_expiry_utc" => {
            raw.expiry = std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|&n| n > 0)
        }
        b"capability[]" => match value {
            b"" => raw.capabilities.clear(),
            b"authtype" | b"state" => raw.capabilities.push(text(key_str, value)?),
            _ => {}
        },
        // `oauth_refresh_token`, `ephemeral`, `wwwauth[]`, `state[]`, `authtype`/`credential`
        // from a caller are input data gocred does not use (it never stores a refresh token git
        // holds, and routes on nothing a server sent), so they are checked as bytes above and
        // dropped; `quit`/`continue` are helper outputs. Unknown keys are ignored, as git's helpers must, after the byte checks above.
        _ => {}
    }
    Ok(())
}

fn finish(mut raw: Raw, seen: &HashSet<&'static str>) -> Result<Request, ProtocolError> {
    if let Some(url) = raw.url.take() {
        if ROUTING_KEYS.iter().any(|k| seen.contains(k)) {
            return Err(ProtocolError::UrlWithFields);
        }
        let parts = split_url(&url)?;
        raw.protocol = Some(parts.scheme);
        raw.host = Some(parts.host);
        raw.username = parts.username;
        raw.path = parts.path;
    }
    let protocol = raw.protocol.ok_or(ProtocolError::MissingProtocol)?;
    let scheme = Scheme::parse(&protocol)?;
    let host = raw.host.ok_or(ProtocolError::MissingHost)?;
    let origin = Origin::parse(scheme, &host)?;
    let path = match raw.path {
        Some(p) => normalise_path(&p)?,
        None => None,
    };
    Ok(Request {
        origin,
        path,
        username: raw.username,
        password: raw.password,
        password_expiry_utc: raw.expiry,
        capabilities: raw.capabilities,
    })
}

/// Validates `path`: no `.`/`..`/empty segments, no encoded separators or dots, no
/// backslash. Query and fragment are cut (Go's `GOAUTH=git` sends `?go-get=1` in the path).
/// Returns `None` for an empty path.
pub fn normalise_path(p: &str) -> Result<Option<String>, ProtocolError> {
    let p = p.split(['?', '#']).next().unwrap_or("");
    let p = p.trim_matches('/');
    if p.is_empty() {
        return Ok(None);
    }
    if p.contains('\\') {
        return Err(ProtocolError::BadPath("backslash"));
    }
    let lower = p.to_ascii_lowercase();
    if ["%2f", "%2e", "%5c", "%00"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return Err(ProtocolError::BadPath(
            "percent-encoded '/', '.', '\\' or NUL",
        ));
    }
    for seg in p.split('/') {
        match seg {
            "" => return Err(ProtocolError::BadPath("empty segment")),
            "." | ".." => return Err(ProtocolError::BadPath("'.' or '..' segment")),
            _ => {}
        }
    }
    Ok(Some(p.to_string()))
}

struct UrlParts {
    scheme: String,
    host: String,
    username: Option<String>,
    path: Option<String>,
}

fn split_url(url: &str) -> Result<UrlParts, ProtocolError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(ProtocolError::BadUrl("no scheme"))?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(ProtocolError::BadUrl("bad scheme"));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = (&rest[..end], &rest[end..]);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let username = userinfo
        .map(|u| percent_decode(u.split(':').next().unwrap_or("")))
        .transpose()?;
    let host = percent_decode(hostport)?;
    let path = percent_decode(tail.trim_start_matches('/'))?;
    // The username routes too: `%1b` in the userinfo must not smuggle in what `username=`
    // may not carry.
    if [Some(&host), Some(&path), username.as_ref()]
        .into_iter()
        .flatten()
        .any(|s| s.chars().any(|c| c.is_control()))
    {
        return Err(ProtocolError::BadUrl("control character"));
    }
    Ok(UrlParts {
        scheme: scheme.to_string(),
        host,
        username: username.filter(|u| !u.is_empty()),
        path: (!path.is_empty()).then_some(path),
    })
}

fn percent_decode(s: &str) -> Result<String, ProtocolError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .ok_or(ProtocolError::BadUrl("truncated %-escape"))?;
            let hex =
                std::str::from_utf8(hex).map_err(|_| ProtocolError::BadUrl("bad %-escape"))?;
            let v =
                u8::from_str_radix(hex, 16).map_err(|_| ProtocolError::BadUrl("bad %-escape"))?;
            if v == 0 || v == b'\n' || v == b'\r' {
                return Err(ProtocolError::BadUrl("encoded NUL, CR or LF"));
            }
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ProtocolError::BadUrl("not UTF-8 after decoding"))
}

#[cfg(test)]
mod tests;
