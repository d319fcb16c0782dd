//! Revoking a token a source minted for a CI job, once the job is done with it.
//!
//! A source that mints says how its token can be revoked ([`Revocation`], returned with the
//! credential by `Source::get_for_ci`); `gocred ci` keeps that in the job's lease and calls
//! [`Revocation::revoke`] when it wipes. The description is plain data (it is stored in the lease
//! as JSON) and names no secret; the token travels beside it as a `SecretString`.

use serde::{Deserialize, Serialize};

use crate::http;
use crate::secret::{ExposeSecret, SecretString};

/// How to revoke one token. New minting sources add a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Revocation {
    /// A GitHub installation token (GitHub App, Actions, octo-sts): `DELETE {api_url}/installation/token`
    /// authenticated with the token itself answers 204 (spec §4.4).
    GithubInstallationToken { api_url: String },
}

/// The outcome of a revocation that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    /// The server no longer accepts the token (revoked before, or expired): nothing left to do.
    AlreadyInvalid,
}

impl Revocation {
    /// What it revokes, for messages.
    pub fn describe(&self) -> String {
        match self {
            Revocation::GithubInstallationToken { api_url } => {
                format!("GitHub installation token (DELETE {api_url}/installation/token)")
            }
        }
    }

    /// Revokes `token`. The error says why, and never contains the token.
    pub fn revoke(&self, token: &SecretString) -> Result<Revoked, String> {
        match self {
            Revocation::GithubInstallationToken { api_url } => {
                let url = format!("{}/installation/token", api_url.trim_end_matches('/'));
                let client = http::client(http::DEFAULT_TIMEOUT)?;
                http::check_url(&url)?;
                let resp = client
                    .delete(&url)
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
                    .bearer_auth(token.expose_secret())
                    .send()
                    .map_err(|e| http::describe_error(&e))?;
                match resp.status().as_u16() {
                    204 => Ok(Revoked::Now),
                    401 => Ok(Revoked::AlreadyInvalid),
                    status => Err(format!(
                        "{url} answered {status}{}",
                        http::message_of(resp)
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    )),
                }
            }
        }
    }
}
