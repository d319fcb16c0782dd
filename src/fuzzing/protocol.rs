//! Git's credential protocol reader: what it accepts is clean, canonical and reads back the same.

use super::assert_printable;
use crate::protocol::{normalise_path, read_request, Origin, ProtocolError, Request};
use crate::secret::ExposeSecret;

/// Everything a request carries, the password included, for comparing two reads.
fn summary(r: &Result<Request, ProtocolError>) -> String {
    match r {
        Err(e) => format!("Err({e:?})"),
        Ok(r) => format!(
            "{r:?} password={:?}",
            r.password.as_ref().map(|p| p.expose_secret().to_string())
        ),
    }
}

/// The request written back as git would send it.
fn render(r: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = |k: &str, v: &str| {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
        out.push(b'\n');
    };
    for c in &r.capabilities {
        line("capability[]", c);
    }
    line("protocol", r.origin.scheme.as_str());
    line("host", &r.origin.authority());
    if let Some(p) = &r.path {
        line("path", p);
    }
    if let Some(u) = &r.username {
        line("username", u);
    }
    if let Some(p) = &r.password {
        line("password", p.expose_secret());
    }
    if let Some(t) = r.password_expiry_utc {
        line("password_expiry_utc", &t.to_string());
    }
    out
}

/// Properties of `read_request`:
/// - a refusal names the problem without echoing a control character;
/// - an accepted request's origin is canonical (parsing its own authority gives it back), its
///   path is normalised (no empty, `.` or `..` segment, no backslash, query or fragment), and no
///   routing field (host, path, username) holds a control character, whichever form (`url=` or
///   fields) it came in;
/// - nothing after the first blank line changes the result;
/// - written back in git's form, the request reads back identical.
pub fn protocol_reader(data: &[u8]) {
    let got = read_request(data);
    let req = match &got {
        Err(e) => return assert_printable("protocol error", &e.to_string()),
        Ok(r) => r,
    };
    let o = &req.origin;
    assert_eq!(
        Origin::parse(o.scheme, &o.authority()).as_ref(),
        Ok(o),
        "origin is not canonical"
    );
    assert!(!o.host.is_empty() && !o.host.bytes().any(|b| b.is_ascii_uppercase()));
    if let Some(p) = &req.path {
        assert_eq!(normalise_path(p), Ok(Some(p.clone())), "path not normal");
        assert!(!p.contains(['\\', '?', '#']));
        assert!(p.split('/').all(|s| !s.is_empty() && s != "." && s != ".."));
    }
    for (what, v) in [("host", Some(&o.host)), ("path", req.path.as_ref())]
        .into_iter()
        .chain([("username", req.username.as_ref())])
    {
        if let Some(v) = v {
            assert!(
                !v.chars().any(char::is_control),
                "{what} has a control char"
            );
        }
    }
    if let Some(p) = &req.password {
        assert!(!p.expose_secret().contains(['\n', '\r', '\0']));
    }

    // The first blank line ends the request: what follows it is not read.
    let mut end = None;
    let mut start = 0;
    for (i, &b) in data.iter().enumerate() {
        if b == b'\n' {
            if i == start {
                end = Some(i + 1);
                break;
            }
            start = i + 1;
        }
    }
    if let Some(end) = end {
        let mut cut = data[..end].to_vec();
        assert_eq!(summary(&read_request(&cut[..])), summary(&got), "cut");
        cut.extend_from_slice(b"host=evil.example\nurl=https://evil.example/\n");
        assert_eq!(summary(&read_request(&cut[..])), summary(&got), "tail");
    }

    let again = read_request(&render(req)[..]);
    assert_eq!(summary(&again), summary(&got), "round trip");
}
