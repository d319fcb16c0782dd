//! The agent's frames, inside `agent_socket`'s framing (one request ending with an empty line,
//! one reply up to the server's close). Text, one `key=value` a line. docs/agent.md has the
//! format; this module is its only reader and writer, on both sides.
//!
//! A request is `ping`, or `get` followed by the lines of a git credential request, of which only
//! `protocol`, `host` and `path` are sent. The agent reads those with git's own validating reader
//! ([`crate::protocol::read_request`]), as if git had sent them: the far side is not trusted.

use crate::config::HttpAuth;
use crate::error::{Error, Result};
use crate::protocol::{escape_for_display, read_request, Origin, Scheme};
use crate::secret::{secret, ExposeSecret, SecretString};

/// The frame version the agent and client speak (`pong` says it).
pub(crate) const VERSION: u32 = 1;
/// The largest reply a client reads.
pub(crate) const MAX_REPLY: usize = 64 * 1024;

/// What a client asks.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Who are you, until when, for what (no secret in the answer).
    Ping,
    /// A credential for an https origin and, when known, a repository or URL path.
    Get {
        origin: Origin,
        path: Option<String>,
    },
}

impl Ask {
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Ask::Ping => b"ping\n".to_vec(),
            Ask::Get { origin, path } => {
                let mut s = format!(
                    "get\nprotocol={}\nhost={}\n",
                    origin.scheme.as_str(),
                    origin.authority()
                );
                if let Some(p) = path {
                    s.push_str(&format!("path={p}\n"));
                }
                s.into_bytes()
            }
        }
    }

    /// Reads a request as the agent receives it; `Err` says why it is refused (never a secret:
    /// the values a refusal names are escaped).
    pub(crate) fn decode(frame: &[u8]) -> std::result::Result<Ask, String> {
        let (verb, rest) = match frame.iter().position(|&b| b == b'\n') {
            Some(i) => (&frame[..i], &frame[i + 1..]),
            None => (frame, &[][..]),
        };
        match verb {
            b"ping" if rest.iter().all(|&b| b == b'\n') => Ok(Ask::Ping),
            b"get" => {
                let req = read_request(rest).map_err(|e| format!("not a valid request: {e}"))?;
                if req.origin.scheme != Scheme::Https {
                    return Err(format!(
                        "{}:// is not served over the agent; https only",
                        req.origin.scheme.as_str()
                    ));
                }
                Ok(Ask::Get {
                    origin: req.origin,
                    path: req.path,
                })
            }
            other => Err(format!(
                "unknown request `{}`",
                escape_for_display(&String::from_utf8_lossy(&other[..other.len().min(40)]))
            )),
        }
    }
}

/// What the agent answers.
#[derive(Debug)]
pub(crate) enum Reply {
    Credential {
        username: String,
        password: SecretString,
        /// Unix seconds; `None` when the credential does not say.
        expiry: Option<u64>,
        /// How the rule wants it sent over plain HTTPS (Go's GOAUTH).
        auth: HttpAuth,
        /// The session's end (Unix seconds).
        session_end: u64,
    },
    /// No credential; why, in words without a secret (shown to the far side's user).
    Nothing { reason: String },
    Pong {
        session: String,
        pid: u32,
        session_end: u64,
        allow: Vec<String>,
    },
}

fn clean(v: &str) -> bool {
    !v.chars().any(|c| c.is_control())
}

impl Reply {
    /// The reply's bytes, or `None` when a value cannot be framed (a control character): then
    /// nothing is sent rather than a broken frame.
    pub(crate) fn encode(&self) -> Option<secrecy::zeroize::Zeroizing<Vec<u8>>> {
        let text = match self {
            Reply::Credential {
                username,
                password,
                expiry,
                auth,
                session_end,
            } => {
                let pw = password.expose_secret();
                if username.is_empty() || pw.is_empty() || !clean(username) || !clean(pw) {
                    return None;
                }
                let mut s = format!("ok\nusername={username}\npassword={pw}\n");
                if let Some(e) = expiry {
                    s.push_str(&format!("password_expiry_utc={e}\n"));
                }
                s.push_str(&format!(
                    "auth={}\nsession_end={session_end}\n",
                    auth.as_str()
                ));
                s
            }
            Reply::Nothing { reason } => {
                let shown: String = reason
                    .chars()
                    .take(1024)
                    .flat_map(|c| match c.is_control() {
                        true => c.escape_default().collect::<Vec<_>>(),
                        false => vec![c],
                    })
                    .collect();
                format!("none\nreason={shown}\n")
            }
            Reply::Pong {
                session,
                pid,
                session_end,
                allow,
            } => {
                let mut s = format!(
                    "pong\nversion={VERSION}\nsession={session}\npid={pid}\nsession_end={session_end}\n"
                );
                for a in allow {
                    if !clean(a) {
                        return None;
                    }
                    s.push_str(&format!("allow={a}\n"));
                }
                s
            }
        };
        Some(secrecy::zeroize::Zeroizing::new(text.into_bytes()))
    }

    /// Reads the agent's reply on the client side. Anything malformed is an error, never a
    /// half-read credential.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Reply> {
        let bad = |why: &str| Error::other(format!("the agent's reply is malformed: {why}"));
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
        let mut lines = text.split('\n');
        let kind = lines.next().unwrap_or("");
        let mut kv: Vec<(&str, &str)> = Vec::new();
        for l in lines {
            if l.is_empty() {
                continue;
            }
            let (k, v) = l.split_once('=').ok_or_else(|| bad("a line without `=`"))?;
            if !clean(v) {
                return Err(bad("a control character"));
            }
            kv.push((k, v));
        }
        let one = |key: &str| kv.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        let num = |key: &str| one(key).and_then(|v| v.parse::<u64>().ok());
        match kind {
            "ok" => {
                let (Some(username), Some(password)) = (one("username"), one("password")) else {
                    return Err(bad("no username or password"));
                };
                if username.is_empty() || password.is_empty() {
                    return Err(bad("an empty username or password"));
                }
                let auth = one("auth")
                    .and_then(HttpAuth::parse)
                    .ok_or_else(|| bad("no auth"))?;
                Ok(Reply::Credential {
                    username: username.to_string(),
                    password: secret(password.to_string()),
                    expiry: num("password_expiry_utc").filter(|&e| e > 0),
                    auth,
                    session_end: num("session_end").unwrap_or(0),
                })
            }
            "none" => Ok(Reply::Nothing {
                reason: one("reason").unwrap_or("no reason given").to_string(),
            }),
            "pong" => Ok(Reply::Pong {
                session: one("session").unwrap_or("").to_string(),
                pid: num("pid").unwrap_or(0) as u32,
                session_end: num("session_end").unwrap_or(0),
                allow: kv
                    .iter()
                    .filter(|(k, _)| *k == "allow")
                    .map(|(_, v)| v.to_string())
                    .collect(),
            }),
            _ => Err(bad("an unknown kind of reply")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_are_read_like_git_input() {
        let ask = Ask::Get {
            origin: Origin::parse(Scheme::Https, "git.corp.test:8443").unwrap(),
            path: Some("acme/lib.git".into()),
        };
        assert_eq!(Ask::decode(&ask.encode()).unwrap(), ask);
        assert_eq!(Ask::decode(b"ping").unwrap(), Ask::Ping);
        for bad in [
            &b"put\nhost=x.test"[..],
            b"get\nprotocol=http\nhost=git.corp.test",
            b"get\nprotocol=https\nhost=git.corp.test\npath=a/../b",
            b"get\nprotocol=https\nhost=a\x01b",
            b"get\nprotocol=https",
            b"ping\nextra",
        ] {
            assert!(Ask::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn replies_round_trip_and_a_bad_value_is_never_framed() {
        let r = Reply::Credential {
            username: "x-access-token".into(),
            password: secret("tok".into()),
            expiry: Some(99),
            auth: HttpAuth::Bearer,
            session_end: 100,
        };
        let back = Reply::decode(&r.encode().unwrap()).unwrap();
        assert!(
            matches!(back, Reply::Credential { ref username, expiry: Some(99), auth: HttpAuth::Bearer, session_end: 100, .. } if username == "x-access-token")
        );
        let broken = Reply::Credential {
            username: "u".into(),
            password: secret("a\nhost=evil".into()),
            expiry: None,
            auth: HttpAuth::Basic,
            session_end: 0,
        };
        assert!(broken.encode().is_none());
        assert!(Reply::decode(b"ok\nusername=u\n").is_err());
        assert!(Reply::decode(b"hello\n").is_err());
        let none = Reply::Nothing {
            reason: "outside\nthe allow-list".into(),
        };
        let text = String::from_utf8(none.encode().unwrap().to_vec()).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
    }
}
