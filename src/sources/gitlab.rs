//! `gitlab`: the CI job token inside GitLab CI, or project/group access tokens created and
//! rotated through the API (docs/protocols/gitlab-api.md).
//!
//! Job-token mode hands `CI_JOB_TOKEN` to git as `gitlab-ci-token`, and only to the GitLab
//! instance that runs the job (`CI_SERVER_URL`): the job token must not travel to another host.
//! Access-token mode keeps a personal access token with `api` scope in the keyring (put there by
//! `gocred login`) and uses it to create a project or group access token that expires after
//! `token_days`; when it nears expiry the previous one is rotated (which revokes it) rather than
//! left to pile up. Created tokens go through the token cache like every minted token.

use std::time::Duration;

use serde::Deserialize;

use std::io::Write;

use super::keys::{api_timeout, is_word, url};
use super::{CiCredential, Context, Credential, Erased, Login, Query, SecretInput, Source};
use crate::config::RuleSpec;
use crate::error::{Error, Result};
use crate::http::{self, Client, HttpError};
use crate::secret::{secret, SecretString};
use crate::store::{CachedToken, TokenCache};

/// The keys `gitlab` takes beyond every rule's.
pub(crate) const KEYS: &[&str] = &[
    "timeout_secs",
    "api_url",
    "scopes",
    "project",
    "group",
    "token_days",
    "access_level",
];

/// `source = "gitlab"`, compiled (docs/protocols/gitlab-api.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GitlabSpec {
    pub mode: GitlabMode,
    pub api_url: Option<String>,
    pub scopes: Vec<String>,
    pub token_days: u32,
    pub access_level: u32,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GitlabMode {
    /// `CI_JOB_TOKEN` of the running GitLab CI job, user `gitlab-ci-token`.
    JobToken,
    /// A project access token created/rotated through the API with a PAT from the keyring.
    Project(String),
    Group(String),
}

pub(crate) fn compile(spec: &RuleSpec) -> std::result::Result<GitlabSpec, String> {
    let mode = match (&spec.project, &spec.group) {
        (Some(_), Some(_)) => return Err("give `project` or `group`, not both".into()),
        (Some(p), None) => GitlabMode::Project(gitlab_path(p, "project")?),
        (None, Some(g)) => GitlabMode::Group(gitlab_path(g, "group")?),
        (None, None) => GitlabMode::JobToken,
    };
    let api_url = match (&mode, &spec.api_url) {
        (_, Some(u)) => Some(url(u, "api_url")?),
        (GitlabMode::JobToken, None) => None,
        (_, None) => {
            return Err("`project`/`group` tokens need `api_url` (`https://HOST/api/v4`)".into())
        }
    };
    let scopes = spec
        .scopes
        .clone()
        .unwrap_or_else(|| vec!["read_repository".into()]);
    if let Some(s) = scopes.iter().find(|s| !is_word(s)) {
        return Err(format!("`scopes`: `{s}` is not a GitLab scope"));
    }
    Ok(GitlabSpec {
        mode,
        api_url,
        scopes,
        token_days: spec.token_days.unwrap_or(1).clamp(1, 365),
        access_level: spec.access_level.unwrap_or(20),
        timeout_secs: api_timeout(spec),
    })
}

fn gitlab_path(p: &str, what: &str) -> std::result::Result<String, String> {
    let ok = !p.is_empty()
        && !p.starts_with('/')
        && !p.ends_with('/')
        && p.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != ".." && is_word(seg));
    ok.then(|| p.to_string())
        .ok_or_else(|| format!("`{what} = \"{p}\"` is not a GitLab ID or path"))
}

pub(crate) const JOB_USER: &str = "gitlab-ci-token";
pub(super) const TOKEN_USER: &str = "gitlab-access-token";

/// The keyring account of the personal access token that manages a rule's tokens.
pub(crate) fn account(pattern: &str) -> String {
    format!("gitlab:{pattern}")
}

pub(crate) struct GitlabSource {
    pub spec: GitlabSpec,
}

pub(super) fn fail(t: &Query, message: impl Into<String>, hint: Option<String>) -> Error {
    Error::Source {
        kind: "gitlab",
        rule: t.rule.pattern.clone(),
        message: message.into(),
        hint,
    }
}

#[derive(Deserialize)]
pub(super) struct AccessToken {
    pub(super) id: u64,
    token: SecretString,
    expires_at: String,
}

impl GitlabSource {
    fn job_token(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        let env = ctx.env;
        let Some(token) = env.get("CI_JOB_TOKEN") else {
            return Err(fail(
                t,
                "CI_JOB_TOKEN is not set: this rule works only inside a GitLab CI job",
                Some("outside CI use a `pat`, `oauth` or `gitlab` rule with `project`".into()),
            ));
        };
        let server = env
            .get("CI_SERVER_URL")
            .and_then(|u| reqwest::Url::parse(u).ok());
        let same_host = server.as_ref().is_some_and(|u| {
            u.host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(&t.origin.host))
                && u.port_or_known_default() == Some(t.origin.port)
        });
        if !same_host {
            return Err(fail(
                t,
                format!(
                    "CI_JOB_TOKEN belongs to the GitLab running this job (CI_SERVER_URL), not {}; not sending it",
                    t.origin.authority()
                ),
                None,
            ));
        }
        let token = secret(token.to_string());
        crate::secret::check_token(&token)
            .map_err(|p| fail(t, format!("CI_JOB_TOKEN is unusable: {p}"), None))?;
        Ok(Credential {
            username: JOB_USER.into(), // GitLab accepts the job token only with this name
            secret: token,
            expires_at: None,
            ephemeral: true,
        })
    }

    fn scope(&self, pattern: &str) -> String {
        let s = &self.spec;
        format!(
            "{pattern}|{:?}|{:?}|{}|{}|{}",
            s.api_url,
            s.mode,
            s.scopes.join(","),
            s.access_level,
            s.token_days
        )
    }

    fn mint(&self, ctx: &Context, t: &Query, previous: Option<CachedToken>) -> Result<CachedToken> {
        let pat = manager_token(ctx, t)?;
        let client = http::client(Duration::from_secs(self.spec.timeout_secs))
            .map_err(|m| fail(t, m, None))?;
        let expires = expiry_date(crate::state::now_secs(), self.spec.token_days);
        if let Some(id) = previous.and_then(|p| p.handle) {
            match self.call(
                &client,
                &pat,
                &[&id, "rotate"],
                serde_json::json!({ "expires_at": expires }),
            ) {
                Ok(tok) => return self.cached(t, tok),
                // Gone, expired or revoked: make a new one instead.
                Err(HttpError::Status { status, .. })
                    if (400..500).contains(&status) && status != 401 && status != 429 => {}
                Err(e) => return Err(self.explain(t, e)),
            }
        }
        let body = serde_json::json!({
            "name": "gocred",
            "scopes": self.spec.scopes,
            "expires_at": expires,
            "access_level": self.spec.access_level,
        });
        let tok = self
            .call(&client, &pat, &[], body)
            .map_err(|e| self.explain(t, e))?;
        self.cached(t, tok)
    }

    pub(super) fn call(
        &self,
        client: &Client,
        pat: &SecretString,
        tail: &[&str],
        body: serde_json::Value,
    ) -> std::result::Result<AccessToken, HttpError> {
        let (kind, id) = match &self.spec.mode {
            GitlabMode::Project(p) => ("projects", p),
            GitlabMode::Group(g) => ("groups", g),
            GitlabMode::JobToken => unreachable!("job tokens are not minted"),
        };
        let mut url = reqwest::Url::parse(
            self.spec
                .api_url
                .as_deref()
                .expect("checked at config load"),
        )
        .expect("checked at config load");
        url.path_segments_mut()
            .expect("http(s) URL")
            .pop_if_empty()
            .extend([kind, id.as_str(), "access_tokens"])
            .extend(tail);
        client
            .post(url)
            .secret_header("PRIVATE-TOKEN", pat)
            .json(&body)
            .send_json()
    }

    pub(super) fn cached(&self, t: &Query, tok: AccessToken) -> Result<CachedToken> {
        let expires_at = parse_date(&tok.expires_at).ok_or_else(|| {
            fail(
                t,
                "GitLab answered with an `expires_at` that is not a date",
                None,
            )
        })?;
        Ok(CachedToken {
            username: TOKEN_USER.into(),
            token: tok.token,
            expires_at,
            handle: Some(tok.id.to_string()),
        })
    }

    pub(super) fn explain(&self, t: &Query, e: HttpError) -> Error {
        let hint = match &e {
            HttpError::Status { status: 401, .. } => Some(format!("the stored GitLab token was refused; run `gocred login {} --source gitlab …` again", t.rule.pattern)),
            HttpError::Status { status: 403, .. } => Some("the stored token needs `api` scope and the Maintainer role on the project or group".into()),
            _ => None,
        };
        fail(
            t,
            format!(
                "GitLab API {}: {e}",
                self.spec.api_url.as_deref().unwrap_or("")
            ),
            hint,
        )
    }
}

/// The personal access token (`api` scope) that creates the rule's access tokens.
pub(super) fn manager_token(ctx: &Context, t: &Query) -> Result<SecretString> {
    match ctx.keyring()?.get(&account(&t.rule.pattern))? {
        Some((pat, _)) => Ok(pat),
        None => Err(fail(
            t,
            "no GitLab token in the keyring to manage access tokens with",
            Some(format!(
                "run `gocred login {} --source gitlab …`",
                t.rule.pattern
            )),
        )),
    }
}

impl Source for GitlabSource {
    fn get(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        if self.spec.mode == GitlabMode::JobToken {
            return self.job_token(ctx, t);
        }
        let account = TokenCache::account("gitlab", &self.scope(&t.rule.pattern));
        super::cached_mint(ctx, t, &account, |prev| self.mint(ctx, t, prev))
    }

    /// Job-token mode: `CI_JOB_TOKEN`, which GitLab ends with the job (nothing to revoke).
    /// Access-token mode: a token created for this job alone, revoked at `ci wipe`
    /// (`gitlab_ci`).
    fn get_for_ci(&self, ctx: &Context, t: &Query) -> Result<CiCredential> {
        if self.spec.mode == GitlabMode::JobToken {
            return Ok(CiCredential {
                credential: self.job_token(ctx, t)?,
                revoke: None,
            });
        }
        self.mint_for_job(ctx, t)
    }

    fn erase(&self, ctx: &Context, t: &Query, password: &SecretString) -> Result<Erased> {
        if self.spec.mode == GitlabMode::JobToken {
            return Ok(Erased::CannotForget("GitLab refused CI_JOB_TOKEN: allow this project in the target project's CI/CD job token allowlist".into()));
        }
        let account = TokenCache::account("gitlab", &self.scope(&t.rule.pattern));
        Ok(
            match super::token_cache(ctx)?.drop_if_same(&account, password)? {
                Some(true) => Erased::Minted,
                Some(false) => Erased::Different,
                None => Erased::NothingHeld,
            },
        )
    }

    fn root_account(&self, pattern: &str) -> Option<String> {
        (self.spec.mode != GitlabMode::JobToken).then(|| account(pattern))
    }

    /// Nothing for `CI_JOB_TOKEN`; for project/group tokens a personal access token with `api`
    /// scope.
    fn login(
        &self,
        _ctx: &Context,
        _login: &Login,
        input: &mut dyn SecretInput,
        _err: &mut dyn Write,
    ) -> Result<Option<SecretString>> {
        if self.spec.mode == GitlabMode::JobToken {
            return Ok(None);
        }
        input
            .line("a GitLab personal access token with `api` scope")
            .map(Some)
    }

    fn revoke_all(&self, ctx: &Context, pattern: &str) -> Result<usize> {
        revoke_created(ctx, pattern, &self.spec)
    }

    fn state(&self, ctx: &Context, pattern: &str) -> String {
        if self.spec.mode == GitlabMode::JobToken {
            return match ctx.env.get("CI_JOB_TOKEN") {
                Some(_) => "CI_JOB_TOKEN is set (GitLab CI job)".into(),
                None => "CI_JOB_TOKEN is NOT set (works only inside a GitLab CI job)".into(),
            };
        }
        super::root_state(
            ctx,
            &account(pattern),
            "GitLab token (api scope)",
            &format!("gocred login {pattern} --source gitlab --project … --api-url …"),
        )
    }

    fn renew_hint(&self, pattern: &str) -> String {
        format!(
            "; gocred rotates the project/group token on the next fetch; if that fails, run \
             `gocred login {pattern} --source gitlab …` again"
        )
    }
}

/// Logout: revokes the access tokens created for the rule (`DELETE …/access_tokens/:id`, 204)
/// and drops them from the cache. Returns how many were revoked.
fn revoke_created(ctx: &Context, pattern: &str, spec: &GitlabSpec) -> Result<usize> {
    if spec.mode == GitlabMode::JobToken {
        return Ok(0);
    }
    let cache = super::token_cache(ctx)?;
    let pat = ctx.keyring()?.get(&account(pattern))?.map(|(p, _)| p);
    let client = http::client(Duration::from_secs(spec.timeout_secs)).map_err(Error::other)?;
    let mut revoked = 0;
    for acc in super::state_files::issued(ctx, pattern)? {
        let Some(t) = cache.read(&acc)? else { continue };
        if let (Some(pat), Some(id), true) =
            (&pat, &t.handle, t.expires_at > crate::state::now_secs())
        {
            let (kind, target) = match &spec.mode {
                GitlabMode::Project(p) => ("projects", p),
                GitlabMode::Group(g) => ("groups", g),
                GitlabMode::JobToken => unreachable!(),
            };
            let mut url = reqwest::Url::parse(spec.api_url.as_deref().unwrap_or_default())
                .map_err(|e| Error::other(e.to_string()))?;
            url.path_segments_mut()
                .map_err(|_| Error::other("api_url cannot be a base"))?
                .pop_if_empty()
                .extend([kind, target.as_str(), "access_tokens", id.as_str()]);
            client
                .delete(url)
                .secret_header("PRIVATE-TOKEN", pat)
                .send()
                .map_err(|e| Error::other(format!("revoking a GitLab access token: {e}")))?;
            revoked += 1;
        }
        cache.remove(&acc)?;
    }
    super::state_files::forget_issued(ctx, pattern)?;
    Ok(revoked)
}

/// GitLab's `expires_at` is a date; a token stops working when that day begins (UTC). Asking
/// for `days + 1` days ahead gives a token that lives at least `days` full days, so one created
/// just before midnight is not born inside the reuse margin.
pub(crate) fn expiry_date(now: u64, days: u32) -> String {
    let day = time::OffsetDateTime::from_unix_timestamp(now as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .date();
    let target = day + time::Duration::days(i64::from(days.max(1)) + 1);
    format!(
        "{:04}-{:02}-{:02}",
        target.year(),
        u8::from(target.month()),
        target.day()
    )
}

pub(crate) fn parse_date(s: &str) -> Option<u64> {
    let fmt = time::format_description::parse_borrowed::<2>("[year]-[month]-[day]").ok()?;
    let d = time::Date::parse(s, &fmt).ok()?;
    u64::try_from(d.midnight().assume_utc().unix_timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        // 2024-01-01T12:00:00Z, one full day -> 2024-01-03 (starts 36 h later).
        assert_eq!(expiry_date(1_704_110_400, 1), "2024-01-03");
        assert_eq!(expiry_date(1_704_110_400, 0), "2024-01-03");
        assert_eq!(parse_date("2024-01-02"), Some(1_704_153_600));
        assert_eq!(parse_date("2024-13-02"), None);
        assert_eq!(parse_date("soon"), None);
    }
}
