//! `github-oidc`: no stored secret at all. The CI's OIDC identity token is exchanged at an
//! octo-sts-style service for a short-lived GitHub installation token (docs/protocols/github-api.md).
//!
//! 1. The identity token (a JWT): on GitHub Actions, `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…`
//!    with `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` answers `{"value": "<JWT>"}`
//!    (the job needs `permissions: id-token: write`). On GitLab the job declares `id_tokens:` and
//!    the JWT is in the CI variable the rule names (`id_token_variable`).
//! 2. The exchange: `GET <sts_url>/sts/exchange?scope=<owner/repo|org>&identity=<name>` with the
//!    JWT as bearer answers `{"token": "<installation token>"}` or `{"message": …}`. The service
//!    checks the JWT's issuer, subject and audience against the trust policy
//!    `.github/chainguard/<identity>.sts.yaml` in the scope.
//! 3. The token is used as `x-access-token` and, from `gocred ci`, revoked when the job ends with
//!    `DELETE <api_url>/installation/token`.
//!
//! Each call mints a new token: with git's helper protocol that is one per `get`, which is why CI
//! should go through `gocred ci`, which mints once per job and revokes.

use super::revoke::Revocation;
use super::{username_for, CiCredential, Context, Credential, Erased, Query, Source};
use crate::config::RuleSpec;
use crate::error::{Error, Result};
use crate::http::{self, HttpError};
use crate::secret::{secret, ExposeSecret, SecretString};

pub(crate) const DEFAULT_STS_URL: &str = "https://octo-sts.dev";
pub(crate) const DEFAULT_API_URL: &str = "https://api.github.com";

/// Installation tokens live one hour; the exchange does not say when this one was issued.
const ASSUMED_LIFETIME_SECS: u64 = 55 * 60;

/// The keys `github-oidc` takes beyond every rule's.
pub(crate) const KEYS: &[&str] = &[
    "sts_url",
    "scope",
    "identity",
    "audience",
    "api_url",
    "id_token_variable",
];

/// The exchange and API URLs must be https (or loopback http), scope and identity plain names,
/// so nothing odd reaches a query string or a message.
pub(crate) fn compile(spec: &RuleSpec) -> std::result::Result<OidcSpec, String> {
    let name_ok = |s: &str, extra: &[u8]| {
        !s.is_empty()
            && s.len() <= 200
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b) || extra.contains(&b))
    };
    let scope = spec
        .scope
        .clone()
        .ok_or("source `github-oidc` needs `scope` (\"owner/repo\" or \"org\")")?;
    if !name_ok(&scope, b"/") || scope.matches('/').count() > 1 || scope.starts_with('/') {
        return Err(format!(
            "`scope = \"{scope}\"` must be \"owner/repo\" or \"org\""
        ));
    }
    let identity = spec
        .identity
        .clone()
        .ok_or("source `github-oidc` needs `identity` (the trust policy's name)")?;
    if !name_ok(&identity, b"") {
        return Err(format!("`identity = \"{identity}\"` must be a plain name"));
    }
    let sts_url = spec
        .sts_url
        .clone()
        .unwrap_or_else(|| DEFAULT_STS_URL.to_string());
    http::check_endpoint(&sts_url, "`sts_url`")?;
    let api_url = spec
        .api_url
        .clone()
        .unwrap_or_else(|| DEFAULT_API_URL.to_string());
    http::check_endpoint(&api_url, "`api_url`")?;
    let audience = match &spec.audience {
        Some(a) if a.is_empty() || a.chars().any(|c| c.is_control()) => {
            return Err("`audience` must be non-empty and free of control characters".into())
        }
        Some(a) => a.clone(),
        None => OidcSpec::default_audience(&sts_url).ok_or("`sts_url` has no host")?,
    };
    if let Some(v) = &spec.id_token_variable {
        if !super::keys::is_variable(v) {
            return Err(format!(
                "`id_token_variable = \"{v}\"` is not a variable name"
            ));
        }
    }
    Ok(OidcSpec {
        sts_url,
        scope,
        identity,
        audience,
        api_url,
        id_token_variable: spec.id_token_variable.clone(),
    })
}

/// The rule's keys, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OidcSpec {
    /// Base URL of the exchange service (`https://octo-sts.dev`).
    pub sts_url: String,
    /// `owner/repo` or `org`: where the trust policy lives and what the token may read.
    pub scope: String,
    /// The trust policy's name.
    pub identity: String,
    /// The `aud` to request for the identity token (default: the exchange's host).
    pub audience: String,
    /// GitHub API base for revocation.
    pub api_url: String,
    /// GitLab: the CI variable holding the identity token (`id_tokens:`).
    pub id_token_variable: Option<String>,
}

impl OidcSpec {
    /// The exchange's host (and port when not the default): octo-sts's default audience.
    pub(crate) fn default_audience(sts_url: &str) -> Option<String> {
        let u = reqwest::Url::parse(sts_url).ok()?;
        let host = u.host_str()?;
        Some(match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        })
    }
}

pub(crate) struct GithubOidcSource {
    pub spec: OidcSpec,
}

fn fail(t: &Query, message: String, hint: Option<String>) -> Error {
    Error::Source {
        kind: "github-oidc",
        rule: t.rule.pattern.clone(),
        message,
        hint,
    }
}

impl GithubOidcSource {
    fn id_token(&self, ctx: &Context, t: &Query) -> Result<SecretString> {
        let env = ctx.env;
        if let Some(var) = &self.spec.id_token_variable {
            let jwt = env.get(var).ok_or_else(|| {
                fail(
                    t,
                    format!("${var} is not set"),
                    Some(format!(
                        "declare it in .gitlab-ci.yml: `id_tokens: {{ {var}: {{ aud: {} }} }}`",
                        self.spec.audience
                    )),
                )
            })?;
            return check_jwt(t, secret(jwt.trim().to_string()), &format!("${var}"));
        }
        let (Some(url), Some(bearer)) = (
            env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
            env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
        ) else {
            return Err(fail(
                t,
                "ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set, so \
                 there is no GitHub Actions identity token to exchange"
                    .into(),
                Some(
                    "give the job `permissions: id-token: write` (or, on GitLab, set \
                     `id_token_variable` in the rule)"
                        .into(),
                ),
            ));
        };
        let mut u = http::check_url(url).map_err(|e| fail(t, e, None))?;
        u.query_pairs_mut()
            .append_pair("audience", &self.spec.audience);
        let who = "the Actions token endpoint";
        let bearer = secret(bearer.to_string());
        let jwt = get_field(t, u, &bearer, "value", who, None)?;
        check_jwt(t, jwt, "the Actions token endpoint's answer")
    }

    fn exchange(&self, t: &Query, jwt: &SecretString) -> Result<SecretString> {
        let base = self.spec.sts_url.trim_end_matches('/');
        let mut u =
            http::check_url(&format!("{base}/sts/exchange")).map_err(|e| fail(t, e, None))?;
        u.query_pairs_mut()
            .append_pair("scope", &self.spec.scope)
            .append_pair("identity", &self.spec.identity);
        let hint = format!(
            "check the trust policy `.github/chainguard/{}.sts.yaml` in {}: its issuer, subject \
             and audience ({}) must match this job's identity token",
            self.spec.identity, self.spec.scope, self.spec.audience
        );
        let who = format!("the token exchange at {base}");
        let token = get_field(t, u, jwt, "token", &who, Some(hint))?;
        crate::secret::check_token(&token).map_err(|p| {
            fail(
                t,
                format!("the exchange returned an unusable token: {p}"),
                None,
            )
        })?;
        Ok(token)
    }

    fn mint(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        let jwt = self.id_token(ctx, t)?;
        let token = self.exchange(t, &jwt)?;
        Ok(Credential {
            username: username_for(&t.rule, None),
            secret: token,
            expires_at: Some(crate::state::now_secs() + ASSUMED_LIFETIME_SECS),
            ephemeral: true,
        })
    }
}

/// `GET u` with `bearer`, and the non-empty string `field` of the JSON answer. An error answer
/// says `who` answered what (with `hint` for a refusal); no body is ever shown.
fn get_field(
    t: &Query,
    u: reqwest::Url,
    bearer: &SecretString,
    field: &str,
    who: &str,
    hint: Option<String>,
) -> Result<SecretString> {
    let client = http::client(http::DEFAULT_TIMEOUT).map_err(|e| fail(t, e, None))?;
    let answer = client
        .get(u)
        .bearer(bearer)
        .header("Accept", "application/json")
        .send()
        .map_err(|e| match e {
            HttpError::Status {
                status, message, ..
            } => {
                let m = message.map(|m| format!(": {m}")).unwrap_or_default();
                fail(t, format!("{who} answered {status}{m}"), hint.clone())
            }
            e => fail(t, e.to_string(), None),
        })?;
    let v: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|_| fail(t, format!("{who} did not answer JSON"), None))?;
    match v.get(field).and_then(|s| s.as_str()) {
        Some(s) if !s.is_empty() => Ok(secret(s.to_string())),
        _ => Err(fail(t, format!("{who} answered without `{field}`"), None)),
    }
}

/// Three base64url parts: anything else is not an identity token (and must not be sent on).
fn check_jwt(t: &Query, jwt: SecretString, from: &str) -> Result<SecretString> {
    let parts: Vec<&str> = jwt.expose_secret().split('.').collect();
    let ok = parts.len() == 3
        && parts.iter().take(2).all(|p| !p.is_empty())
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        });
    if !ok {
        return Err(fail(t, format!("{from} is not a JWT"), None));
    }
    Ok(jwt)
}

impl Source for GithubOidcSource {
    fn get(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        self.mint(ctx, t)
    }

    fn get_for_ci(&self, ctx: &Context, t: &Query) -> Result<CiCredential> {
        Ok(CiCredential {
            credential: self.mint(ctx, t)?,
            revoke: Some(Revocation::GithubInstallationToken {
                api_url: self.spec.api_url.trim_end_matches('/').to_string(),
            }),
        })
    }

    /// Nothing is stored: a rejected token just expires (or is revoked by `gocred ci wipe`).
    fn erase(&self, _ctx: &Context, _t: &Query, _password: &SecretString) -> Result<Erased> {
        Ok(Erased::NothingHeld)
    }

    fn state(&self, ctx: &Context, _pattern: &str) -> String {
        let spec = &self.spec;
        match &spec.id_token_variable {
            Some(v) if ctx.env.get(v).is_some() => format!(
                "minted per job: ${v} is exchanged at {} for {}",
                spec.sts_url, spec.scope
            ),
            Some(v) => format!("${v} (the CI identity token) is NOT set"),
            None if ctx.env.get("ACTIONS_ID_TOKEN_REQUEST_URL").is_some() => format!(
                "minted per job: the Actions identity token is exchanged at {} for {}",
                spec.sts_url, spec.scope
            ),
            None => "no GitHub Actions identity token here (needs `permissions: id-token: write`)"
                .into(),
        }
    }

    /// The next `get` mints anew.
    fn renew_hint(&self, pattern: &str) -> String {
        super::github_app::mint_again_hint(pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_audience_is_the_exchange_host() {
        assert_eq!(
            OidcSpec::default_audience("https://octo-sts.dev").as_deref(),
            Some("octo-sts.dev")
        );
        assert_eq!(
            OidcSpec::default_audience("http://127.0.0.1:8080/").as_deref(),
            Some("127.0.0.1:8080")
        );
    }
}
