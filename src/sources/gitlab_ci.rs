//! `gitlab` access tokens for one CI job (`gocred ci`): created for the job alone, revoked by
//! themselves when the job's lease is wiped.
//!
//! Outside CI, access-token mode shares one cached token between every git process
//! (`gitlab.rs`). A job gets its own instead: created with the manager token from the keyring,
//! never put in the cache, named after the job, living at least one full day (GitLab's
//! `expires_at` is a date) and revoked by `ci wipe` long before. Revoking needs nothing but the
//! token itself, `DELETE /personal_access_tokens/self` (GitLab ≥ 15.4 accepts it from a token
//! of any scope; project and group access tokens are the personal tokens of a bot user), so the
//! lease never holds the manager token. Job-token mode has nothing to revoke: GitLab ends
//! `CI_JOB_TOKEN` with the job.

use std::time::Duration;

use super::gitlab::{expiry_date, fail, manager_token, GitlabSource};
use super::revoke::{Revocation, Revoked};
use super::{username_for, CiCredential, Context, Credential, Query};
use crate::error::Result;
use crate::http::{self, HttpError};
use crate::secret::SecretString;

/// Timeout of a revocation: the lease has no rule to take `timeout_secs` from.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(30);

impl GitlabSource {
    /// `POST …/access_tokens` with the manager token: a new token for this job, not cached.
    pub(super) fn mint_for_job(&self, ctx: &Context, t: &Query) -> Result<CiCredential> {
        let pat = manager_token(ctx, t)?;
        let client = http::client(Duration::from_secs(self.spec.timeout_secs))
            .map_err(|m| fail(t, m, None))?;
        // The name is what a GitLab admin sees under Access tokens: say who made it and for what.
        let name = match crate::store::lease::job_id(ctx.env) {
            Some(job) => format!("gocred-ci {job}"),
            None => "gocred-ci".to_string(),
        };
        let body = serde_json::json!({
            "name": name,
            "scopes": self.spec.scopes,
            "expires_at": expiry_date(crate::state::now_secs(), 1),
            "access_level": self.spec.access_level,
        });
        let created = self
            .call(&client, &pat, &[], body)
            .map_err(|e| self.explain(t, e))?;
        let id = created.id;
        let tok = self.cached(t, created)?;
        let api_url = self.spec.api_url.clone().expect("checked at config load");
        Ok(CiCredential {
            credential: Credential {
                username: username_for(&t.rule, Some(tok.username)),
                secret: tok.token,
                expires_at: Some(tok.expires_at),
                ephemeral: true,
            },
            revoke: Some(Revocation::GitlabAccessToken { api_url, id }),
        })
    }
}

/// `DELETE {api_url}/personal_access_tokens/self` with the token: 204 revoked, 401 already
/// revoked or expired. The error names the URL and the status, never the token.
pub(crate) fn revoke_self(
    api_url: &str,
    token: &SecretString,
) -> std::result::Result<Revoked, String> {
    let mut url = http::check_endpoint(api_url, "GitLab api_url")?;
    url.path_segments_mut()
        .map_err(|_| format!("GitLab api_url `{api_url}` cannot take a path"))?
        .pop_if_empty()
        .extend(["personal_access_tokens", "self"]);
    let client = http::client(REVOKE_TIMEOUT)?;
    let answer = client
        .delete(&url)
        .secret_header("PRIVATE-TOKEN", token)
        .send();
    match answer {
        Ok(r) if r.status == 204 => Ok(Revoked::Now),
        Ok(r) => Err(format!("{url} answered HTTP {} instead of 204", r.status)),
        Err(HttpError::Status { status: 401, .. }) => Ok(Revoked::AlreadyInvalid),
        Err(HttpError::Status { status: 403, .. }) => Err(format!(
            "{url} refused (HTTP 403): GitLab before 15.4 lets only tokens with `api` scope revoke \
             themselves; revoke it under Settings > Access tokens, or let it expire"
        )),
        Err(e) => Err(format!("{url}: {e}")),
    }
}
