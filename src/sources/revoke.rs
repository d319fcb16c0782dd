//! Revoking a token a source minted for a CI job, once the job is done with it.
//!
//! A source that mints says how its token can be revoked ([`Revocation`], returned with the
//! credential by `Source::get_for_ci`); `gocred ci` keeps that in the job's lease and calls
//! [`Revocation::revoke`] when it wipes. The description is plain data (it is stored in the lease
//! as JSON) and names no secret; the token travels beside it as a `SecretString`.

use serde::{Deserialize, Serialize};

use crate::http::{self, HttpError};
use crate::secret::SecretString;

/// How to revoke one token. New minting sources add a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Revocation {
    /// A GitHub installation token (GitHub App, Actions, octo-sts): `DELETE {api_url}/installation/token`
    /// authenticated with the token itself answers 204 (spec §4.4).
    GithubInstallationToken { api_url: String },
    /// A GitLab project or group access token created for one CI job: `DELETE
    /// {api_url}/personal_access_tokens/self` authenticated with the token itself answers 204
    /// (GitLab ≥ 15.4, any scope; access tokens are the personal tokens of a bot user), 401 when
    /// it is already revoked or expired. `id` is GitLab's token id, for messages.
    GitlabAccessToken { api_url: String, id: u64 },
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
            Revocation::GitlabAccessToken { api_url, id } => {
                format!("GitLab access token {id} (DELETE {api_url}/personal_access_tokens/self)")
            }
        }
    }

    /// Revokes `token`. The error says why, and never contains the token.
    pub fn revoke(&self, token: &SecretString) -> Result<Revoked, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_written_before_the_gitlab_variant_still_read() {
        // The shape `gocred ci` has stored since leases exist.
        let old: Revocation = serde_json::from_str(
            r#"{"kind":"github-installation-token","api_url":"https://api.github.com"}"#,
        )
        .unwrap();
        assert_eq!(
            old,
            Revocation::GithubInstallationToken {
                api_url: "https://api.github.com".into()
            }
        );
        let new = Revocation::GitlabAccessToken {
            api_url: "https://gitlab.example/api/v4".into(),
            id: 17,
        };
        let text = serde_json::to_string(&new).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"gitlab-access-token","api_url":"https://gitlab.example/api/v4","id":17}"#
        );
        assert_eq!(serde_json::from_str::<Revocation>(&text).unwrap(), new);
        assert!(new.describe().contains("token 17"));
    }
}
