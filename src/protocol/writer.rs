//! Renders our answer to git (docs/protocols/git-credential.md, "Output").
//!
//! Only `username`, `password`, `password_expiry_utc` and, when git announced the `authtype`
//! capability, `ephemeral` are ever written: we never override `protocol`/`host`/`path`/`url`.
//! The answer is rendered into a buffer and checked before one write, so a bad value means no
//! output at all rather than half an answer.

use std::io::{self, Write};

use secrecy::zeroize::Zeroizing;

use super::Request;
use crate::secret::{ExposeSecret, SecretString};

/// A complete answer for `get`.
#[derive(Debug)]
pub struct Response {
    pub username: String,
    pub password: SecretString,
    /// Unix seconds; `None` for a credential that does not expire.
    pub password_expiry_utc: Option<u64>,
    /// Ask git's storing helpers not to persist it (minted, short-lived credentials).
    pub ephemeral: bool,
}

/// Writes `resp` for `req` in one `write_all`. Refuses (writes nothing) when a value could break
/// the framing or make git die (CR, LF, NUL, other controls) or when the expiry is 0.
pub fn write_response(mut out: impl Write, req: &Request, resp: &Response) -> io::Result<()> {
    let bad = |v: &str| v.is_empty() || v.chars().any(|c| c.is_control());
    if bad(&resp.username) || bad(resp.password.expose_secret()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "credential contains a control character or is empty",
        ));
    }
    if resp.password_expiry_utc == Some(0) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "expiry of 0"));
    }
    // Zeroed (its whole capacity) when dropped: it holds a secret.
    let mut buf = Zeroizing::new(Vec::with_capacity(256));
    let ephemeral = resp.ephemeral && req.has_capability("authtype");
    if ephemeral {
        buf.extend_from_slice(b"capability[]=authtype\nephemeral=1\n");
    }
    buf.extend_from_slice(b"username=");
    buf.extend_from_slice(resp.username.as_bytes());
    buf.extend_from_slice(b"\npassword=");
    buf.extend_from_slice(resp.password.expose_secret().as_bytes());
    buf.push(b'\n');
    if let Some(t) = resp.password_expiry_utc {
        buf.extend_from_slice(format!("password_expiry_utc={t}\n").as_bytes());
    }
    out.write_all(&buf)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::read_request;
    use crate::secret::secret;

    fn req(caps: &str) -> Request {
        read_request(format!("{caps}protocol=https\nhost=a.example\n").as_bytes()).unwrap()
    }

    fn resp(user: &str, pw: &str, exp: Option<u64>, eph: bool) -> Response {
        Response {
            username: user.into(),
            password: secret(pw.into()),
            password_expiry_utc: exp,
            ephemeral: eph,
        }
    }

    fn render(r: &Request, p: &Response) -> io::Result<String> {
        let mut out = Vec::new();
        write_response(&mut out, r, p)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn plain_answer() {
        assert_eq!(
            render(&req(""), &resp("u", "p", None, false)).unwrap(),
            "username=u\npassword=p\n"
        );
        assert_eq!(
            render(&req(""), &resp("u", "p", Some(1_900_000_000), false)).unwrap(),
            "username=u\npassword=p\npassword_expiry_utc=1900000000\n"
        );
    }

    #[test]
    fn ephemeral_only_with_the_capability_echoed_first() {
        assert_eq!(
            render(&req(""), &resp("u", "p", None, true)).unwrap(),
            "username=u\npassword=p\n"
        );
        assert_eq!(
            render(&req("capability[]=authtype\n"), &resp("u", "p", None, true)).unwrap(),
            "capability[]=authtype\nephemeral=1\nusername=u\npassword=p\n"
        );
    }

    #[test]
    fn refuses_values_that_break_framing() {
        for (u, p) in [
            ("u", "p\rq"),
            ("u\n", "p"),
            ("u", "p\0"),
            ("", "p"),
            ("u", ""),
        ] {
            let mut out = Vec::new();
            assert!(write_response(&mut out, &req(""), &resp(u, p, None, false)).is_err());
            assert!(out.is_empty());
        }
        assert!(render(&req(""), &resp("u", "p", Some(0), false)).is_err());
    }
}
