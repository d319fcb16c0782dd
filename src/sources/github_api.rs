//! The GitHub REST calls of the `github-app` source (API version 2022-11-28, docs/protocols/github-api.md).
//!
//! Called by `github_app` only while it holds the scope's lock: sign a JWT with the App's key,
//! find the installation for an owner, create a down-scoped installation token, or revoke one.
//! Nothing here caches or prints; errors name the step and the status, never a body.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::github_app::GithubAppSpec;
use crate::http::{self, Client, HttpError, Request};
use crate::secret::{secret, ExposeSecret, SecretString};
use crate::state::now_secs;

pub(crate) const API_VERSION: &str = "2022-11-28";
pub(crate) const ACCEPT: &str = "application/vnd.github+json";

/// What can go wrong, in terms the source turns into advice.
#[derive(Debug)]
pub(crate) enum ApiError {
    BadKey,
    /// 401: the JWT was refused (wrong App ID/client ID, wrong key, clock skew).
    JwtRefused,
    /// No installation of the App on this owner (or repository).
    NotInstalled,
    /// 404 on a remembered installation: it was removed or replaced.
    InstallationGone,
    /// 422: repositories or permissions beyond the installation's.
    ScopeRefused(String),
    Http(HttpError),
}

impl From<HttpError> for ApiError {
    fn from(e: HttpError) -> ApiError {
        ApiError::Http(e)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

/// A signed App JWT: `iat` back-dated 60 s for clock skew, `exp` 9 minutes ahead (GitHub
/// refuses more than 10 minutes after `iat`), `iss` the client ID or App ID (docs/protocols/github-api.md).
pub(crate) fn app_jwt(issuer: &str, key_pem: &SecretString) -> Result<SecretString, ApiError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem.expose_secret().as_bytes())
        .map_err(|_| ApiError::BadKey)?;
    let now = now_secs();
    let claims = Claims {
        iat: now.saturating_sub(60),
        exp: now + 540,
        iss: issuer,
    };
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, &claims, &key)
        .map(secret)
        .map_err(|_| ApiError::BadKey)
}

/// GitHub's REST API at one base URL, as one App.
pub(crate) struct Api<'a> {
    client: Client,
    spec: &'a GithubAppSpec,
    jwt: SecretString,
}

#[derive(Deserialize)]
struct Installation {
    id: u64,
}

#[derive(Deserialize)]
struct InstallationToken {
    token: SecretString,
    expires_at: String,
}

#[derive(Serialize)]
struct TokenRequest<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    repositories: &'a [String],
    permissions: &'a BTreeMap<String, String>,
}

impl<'a> Api<'a> {
    pub(crate) fn new(
        spec: &'a GithubAppSpec,
        key_pem: &SecretString,
    ) -> Result<Api<'a>, ApiError> {
        let client = http::client(Duration::from_secs(spec.timeout_secs))
            .map_err(|m| ApiError::Http(HttpError::Unreachable(m)))?;
        let jwt = app_jwt(&spec.issuer, key_pem)?;
        Ok(Api { client, spec, jwt })
    }

    fn url(&self, segments: &[&str]) -> reqwest::Url {
        let mut u = reqwest::Url::parse(&self.spec.api_url).expect("checked at config load");
        u.path_segments_mut()
            .expect("http(s) URLs have paths")
            .pop_if_empty()
            .extend(segments);
        u
    }

    fn with_headers<'r>(&'r self, r: Request<'r>) -> Request<'r> {
        r.header("Accept", ACCEPT)
            .header("X-GitHub-Api-Version", API_VERSION)
            .bearer(&self.jwt)
    }

    /// The installation serving `owner` (and `repo` when known): `GET /repos/{o}/{r}/installation`,
    /// else `/orgs/{o}/installation`, falling back to `/users/{o}/installation`.
    pub(crate) fn installation_for(
        &self,
        owner: &str,
        repo: Option<&str>,
    ) -> Result<u64, ApiError> {
        let paths: Vec<Vec<&str>> = match repo {
            Some(r) => vec![vec!["repos", owner, r, "installation"]],
            None => vec![
                vec!["orgs", owner, "installation"],
                vec!["users", owner, "installation"],
            ],
        };
        for p in &paths {
            let url = self.url(p);
            match self
                .with_headers(self.client.get(url))
                .send_json::<Installation>()
            {
                Ok(i) => return Ok(i.id),
                Err(HttpError::Status { status: 404, .. }) => continue,
                Err(HttpError::Status { status: 401, .. }) => return Err(ApiError::JwtRefused),
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::NotInstalled)
    }

    /// `POST /app/installations/{id}/access_tokens`, down-scoped to the rule's repositories and
    /// permissions (docs/protocols/github-api.md). Returns the token and its expiry (Unix seconds).
    pub(crate) fn create_token(&self, installation: u64) -> Result<(SecretString, u64), ApiError> {
        let url = self.url(&[
            "app",
            "installations",
            &installation.to_string(),
            "access_tokens",
        ]);
        let body = TokenRequest {
            repositories: &self.spec.repositories,
            permissions: &self.spec.permissions,
        };
        let r = self
            .with_headers(self.client.post(url))
            .json(&body)
            .send_json::<InstallationToken>();
        let t = match r {
            Ok(t) => t,
            Err(HttpError::Status { status: 401, .. }) => return Err(ApiError::JwtRefused),
            Err(HttpError::Status { status: 404, .. }) => return Err(ApiError::InstallationGone),
            Err(HttpError::Status {
                status: 422,
                message,
                ..
            }) => return Err(ApiError::ScopeRefused(message.unwrap_or_default())),
            Err(e) => return Err(e.into()),
        };
        let expires_at = parse_time(&t.expires_at).ok_or_else(|| {
            ApiError::Http(HttpError::Garbage(
                "`expires_at` is not an ISO 8601 time".into(),
            ))
        })?;
        Ok((t.token, expires_at))
    }
}

/// `DELETE /installation/token` authenticated with the token itself; 204 = revoked (docs/protocols/github-api.md).
/// A 401 means it is already dead, which is what we wanted.
pub(crate) fn revoke(spec: &GithubAppSpec, token: &SecretString) -> Result<(), HttpError> {
    let client =
        http::client(Duration::from_secs(spec.timeout_secs)).map_err(HttpError::Unreachable)?;
    let url = format!("{}/installation/token", spec.api_url);
    let r = client
        .delete(&url)
        .header("Accept", ACCEPT)
        .header("X-GitHub-Api-Version", API_VERSION)
        .bearer(token)
        .send();
    match r {
        Ok(a) if a.status == 204 => Ok(()),
        Ok(a) => Err(HttpError::Garbage(format!(
            "HTTP {} instead of 204",
            a.status
        ))),
        Err(HttpError::Status { status: 401, .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

fn parse_time(s: &str) -> Option<u64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| u64::try_from(t.unix_timestamp()).ok())
        .filter(|&t| t > 0)
}

/// GitHub login names: letters, digits, `-`; repository names also `.` and `_`.
pub(crate) fn valid_owner(s: &str) -> bool {
    !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub(crate) fn valid_repo(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_names() {
        assert_eq!(parse_time("2016-07-11T22:14:10Z"), Some(1_468_275_250));
        assert_eq!(parse_time("soon"), None);
        assert!(valid_owner("acme-corp") && !valid_owner("acme/x") && !valid_owner(""));
        assert!(valid_repo("lib.go") && !valid_repo("..") && !valid_repo("a b"));
    }

    #[test]
    fn a_bad_key_is_named_not_shown() {
        let e = app_jwt(
            "1",
            &secret("-----BEGIN RSA PRIVATE KEY-----\nnope\n".into()),
        );
        assert!(matches!(e, Err(ApiError::BadKey)));
    }
}
