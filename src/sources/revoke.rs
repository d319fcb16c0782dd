//! Revoking a token a source minted for a CI job, once the job is done with it.
//!
//! A source that mints says how its token can be revoked ([`Revocation`], returned with the
//! credential by `Source::get_for_ci`); `gocred ci` keeps that in the job's lease and calls
//! [`Revocation::revoke`] when it wipes. The description is plain data (`store::revocation`);
//! the token travels beside it as a `SecretString`.

use crate::http::{self, HttpError};
use crate::secret::SecretString;
pub(crate) use crate::store::revocation::{Revocation, Revoked};

impl Revocation {
    /// Revokes `token`. The error says why, and never contains the token.
    pub(crate) fn revoke(&self, token: &SecretString) -> Result<Revoked, String> {
        match self {
            Revocation::GitlabAccessToken { api_url, .. } => {
                super::gitlab_ci::revoke_self(api_url, token)
            }
            Revocation::GithubInstallationToken { api_url } => {
                let url = format!("{}/installation/token", api_url.trim_end_matches('/'));
                let client = http::client(http::DEFAULT_TIMEOUT)?;
                http::check_url(&url)?;
                let answer = client
                    .delete(&url)
                    .header("Accept", super::github_api::ACCEPT)
                    .header("X-GitHub-Api-Version", super::github_api::API_VERSION)
                    .bearer(token)
                    .send();
                match answer {
                    Ok(a) if a.status == 204 => Ok(Revoked::Now),
                    Ok(a) => Err(format!("{url} answered {} instead of 204", a.status)),
                    Err(HttpError::Status { status: 401, .. }) => Ok(Revoked::AlreadyInvalid),
                    Err(HttpError::Status {
                        status,
                        message: Some(m),
                        ..
                    }) => Err(format!("{url} answered {status}: {m}")),
                    Err(HttpError::Status { status, .. }) => {
                        Err(format!("{url} answered {status}"))
                    }
                    Err(e) => Err(format!("{url}: {e}")),
                }
            }
        }
    }
}
