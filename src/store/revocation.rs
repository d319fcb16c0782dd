//! How to revoke a token minted for a CI job: plain data the job's lease keeps (as JSON) beside
//! the token. It names no secret. The call itself is made by `sources::revoke`
//! ([`Revocation::revoke`]), which knows the servers.

use serde::{Deserialize, Serialize};

/// How to revoke one token. New minting sources add a variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub(crate) enum Revocation {
    /// A GitHub installation token (GitHub App, Actions, octo-sts): `DELETE {api_url}/installation/token`
    /// authenticated with the token itself answers 204 (docs/protocols/github-api.md).
    GithubInstallationToken { api_url: String },
    /// A GitLab project or group access token created for one CI job: `DELETE
    /// {api_url}/personal_access_tokens/self` authenticated with the token itself answers 204
    /// (GitLab ≥ 15.4, any scope; access tokens are the personal tokens of a bot user), 401 when
    /// it is already revoked or expired. `id` is GitLab's token id, for messages.
    GitlabAccessToken { api_url: String, id: u64 },
}

/// The outcome of a revocation that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revoked {
    Now,
    /// The server no longer accepts the token (revoked before, or expired): nothing left to do.
    AlreadyInvalid,
}

impl Revocation {
    /// What it revokes, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Revocation::GithubInstallationToken { api_url } => {
                format!("GitHub installation token (DELETE {api_url}/installation/token)")
            }
            Revocation::GitlabAccessToken { api_url, id } => {
                format!("GitLab access token {id} (DELETE {api_url}/personal_access_tokens/self)")
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
