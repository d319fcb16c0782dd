//! Client mode: where `GOCRED_AGENT` names a socket, `gocred get|store|erase|goauth|token` read no
//! config, keyring or secret of their own. They check the socket, ask the agent and pass its
//! answer on, with git's and Go's codecs on this side too.
//!
//! Before a byte is sent: the path is absolute and every directory on it passes
//! `fsutil::trust::resolve` (yours or root's, not writable by others unless sticky); the socket is
//! a socket, yours, mode 0600 or stricter; and the process that listens on it runs as you
//! (`SO_PEERCRED`, checked by `agent_socket::ask`). A missing socket or a dead agent fails at once
//! (the connect is refused), a hung one within [`ASK_TIMEOUT`].
//!
//! `store` and `erase` are not forwarded: the agent's tokens are minted for its session and dropped
//! by it, and a far side can neither make it remember a credential nor forget one.

use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::wire::{Ask, Reply, MAX_REPLY};
use crate::commands::credential::Operation;
use crate::config::HttpAuth;
use crate::error::{Error, Result};
use crate::goauth::{self as codec, CredentialSet, Header, RequestUrl, UrlLine};
use crate::protocol::{write_response, Origin, Request, Response};
use crate::secret::{ExposeSecret, SecretString};
use crate::settings::Env;

/// The whole exchange, minting included (the agent's own deadline is 10 s).
pub(crate) const ASK_TIMEOUT: Duration = Duration::from_secs(15);

/// The agent named by the environment.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    path: PathBuf,
}

/// `Some` when `GOCRED_AGENT` is set (non-empty) in this process's environment.
pub(crate) fn client_from_env() -> Result<Option<Client>> {
    from_env(&Env::from_process())
}

pub(crate) fn from_env(env: &Env) -> Result<Option<Client>> {
    match env.get(super::AGENT_VAR) {
        None => Ok(None),
        Some(p) => Ok(Some(Client {
            path: PathBuf::from(p),
        })),
    }
}

/// A credential the agent gave.
pub(crate) struct Given {
    pub username: String,
    pub password: SecretString,
    pub expiry: Option<u64>,
    pub auth: HttpAuth,
}

fn agent_error(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::with_hint(
        format!("the gocred agent at {} ({}): {why}", path.display(), super::AGENT_VAR),
        "the session may have ended: start a new one (`gocred ssh`, `gocred agent`), or unset GOCRED_AGENT to use this machine's own config",
    )
}

impl Client {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the socket file (see the module docs); the reason when it fails.
    pub(crate) fn check_socket(&self) -> std::result::Result<(), String> {
        let real = crate::fsutil::trust::resolve(&self.path).map_err(|e| e.to_string())?;
        let md =
            std::fs::symlink_metadata(&real).map_err(|e| format!("{}: {e}", real.display()))?;
        let me = crate::fsutil::euid();
        if !md.file_type().is_socket() {
            return Err(format!("{} is not a socket", real.display()));
        }
        if md.uid() != me {
            return Err(format!(
                "{} is owned by uid {}, not by you (uid {me})",
                real.display(),
                md.uid()
            ));
        }
        if md.mode() & 0o077 != 0 {
            return Err(format!(
                "{} has mode {:o}; others could use it (want 0600)",
                real.display(),
                md.mode() & 0o777
            ));
        }
        Ok(())
    }

    /// One exchange with the agent.
    pub(crate) fn ask(&self, ask: &Ask) -> Result<Reply> {
        self.check_socket()
            .map_err(|why| agent_error(&self.path, format!("refusing the socket: {why}")))?;
        let expect = crate::agent_socket::Expected {
            uid: crate::fsutil::euid(),
            pid: None,
        };
        let bytes =
            crate::agent_socket::ask(&self.path, expect, &ask.encode(), ASK_TIMEOUT, MAX_REPLY)
                .map_err(|e| agent_error(&self.path, e))?;
        if bytes.is_empty() {
            return Err(agent_error(
                &self.path,
                "it closed the connection without an answer",
            ));
        }
        Reply::decode(&bytes).map_err(|e| agent_error(&self.path, e))
    }

    /// The agent's credential for `origin` and `path`, or why there is none.
    pub(crate) fn get(
        &self,
        origin: &Origin,
        path: Option<&str>,
    ) -> Result<std::result::Result<Given, String>> {
        let ask = Ask::Get {
            origin: origin.clone(),
            path: path.map(str::to_string),
        };
        match self.ask(&ask)? {
            Reply::Credential {
                username,
                password,
                expiry,
                auth,
                ..
            } => Ok(Ok(Given {
                username,
                password,
                expiry,
                auth,
            })),
            Reply::Nothing { reason } => Ok(Err(reason)),
            Reply::Pong { .. } => Err(agent_error(&self.path, "it answered a ping to a get")),
        }
    }

    /// `gocred get|store|erase` in client mode, with git's request already read and validated.
    pub(crate) fn forward_credential(
        &self,
        op: Operation,
        req: &Request,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<()> {
        if op != Operation::Get {
            return Ok(());
        }
        match self.get(&req.origin, req.path.as_deref())? {
            Ok(g) => {
                let resp = Response {
                    username: g.username,
                    password: g.password,
                    password_expiry_utc: g.expiry,
                    ephemeral: true,
                };
                write_response(out, req, &resp).map_err(|e| match e.kind() {
                    std::io::ErrorKind::InvalidData => {
                        agent_error(&self.path, format!("refusing its answer: {e}"))
                    }
                    _ => Error::io("writing the answer to git", e),
                })
            }
            Err(reason) => {
                let _ = writeln!(
                    err,
                    "gocred: the agent gave no credential for {}: {reason}",
                    req.origin.authority()
                );
                Ok(())
            }
        }
    }

    /// `gocred token TARGET` in client mode.
    pub(crate) fn token(
        &self,
        origin: &Origin,
        path: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<()> {
        let g = self
            .get(origin, path)?
            .map_err(|reason| Error::other(format!("the agent gave no token: {reason}")))?;
        let mut line = secrecy::zeroize::Zeroizing::new(g.password.expose_secret().to_string());
        line.push('\n');
        out.write_all(line.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| Error::io("writing the token", e))
    }

    /// `gocred goauth [URL]` in client mode. Go's first call (no URL) gets an empty answer: the
    /// agent answers per request, so Go asks again with the URL after the server's 4xx.
    pub(crate) fn goauth(
        &self,
        url: Option<&str>,
        stdin: Option<impl Read>,
        out: &mut dyn Write,
    ) -> Result<()> {
        let refused = |e: codec::GoauthError| Error::other(format!("goauth: refused: {e}"));
        let Some(raw) = url else {
            return codec::write_response(out, &codec::GoauthResponse::new())
                .map_err(|e| Error::io("writing the GOAUTH answer", e));
        };
        let url = RequestUrl::parse(raw).map_err(refused)?;
        if let Some(input) = stdin {
            codec::read_challenge(input).map_err(refused)?;
        }
        let g = self.get(url.origin(), url.path())?.map_err(|reason| {
            Error::other(format!(
                "goauth: the agent gave no credential for https://{}/{}: {reason}",
                url.origin().authority(),
                url.path().unwrap_or("")
            ))
        })?;
        let header = match g.auth {
            HttpAuth::Basic => Header::basic(&g.username, &g.password),
            HttpAuth::Bearer => Header::bearer(&g.password),
        }
        .map_err(refused)?;
        let mut resp = codec::GoauthResponse::new();
        resp.push(CredentialSet::new(UrlLine::Exact(url), header))
            .map_err(refused)?;
        codec::write_response(out, &resp).map_err(|e| Error::io("writing the GOAUTH answer", e))
    }

    /// `ping`: the session's id, agent pid, end and allow-list.
    pub(crate) fn ping(&self) -> Result<(String, u32, u64, Vec<String>)> {
        match self.ask(&Ask::Ping)? {
            Reply::Pong {
                session,
                pid,
                session_end,
                allow,
            } => Ok((session, pid, session_end, allow)),
            _ => Err(agent_error(&self.path, "it did not answer the ping")),
        }
    }
}
