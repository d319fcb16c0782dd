//! `github-app`: short-lived installation tokens minted with a GitHub App's private key.
//!
//! The root secret (the App's PEM key) stays in the keyring, put there by `gocred login PATTERN
//! --source github-app`. A request is resolved to an owner (from git's path with
//! `credential.useHttpPath`, else from the rule's pattern when it names one owner), the owner to
//! its installation (asked once through the API, then remembered in the state directory: an ID,
//! no secret), and a token is minted for the rule's repositories and permissions, cached until
//! near expiry, and handed to git as `x-access-token` with `password_expiry_utc` (spec §4.5).
//! One App serves several owners; each owner gets its own installation and token.

use super::github_api::{self, Api, ApiError};
use super::revoke::Revocation;
use super::{username_for, CiCredential, Context, Credential, Erased, Lookup, Source, Target};
use crate::error::{Error, Result};
use crate::http::HttpError;
use crate::rules_mint::GithubAppSpec;
use crate::secret::SecretString;
use crate::store::{CachedToken, TokenCache};

pub const USERNAME: &str = "x-access-token";

/// The keyring account of a rule's App key.
pub fn key_account(pattern: &str) -> String {
    format!("github-app:{pattern}")
}

pub struct GithubAppSource {
    pub spec: GithubAppSpec,
}

fn fail(t: &Target, message: impl Into<String>, hint: Option<String>) -> Error {
    Error::Source {
        kind: "github-app",
        rule: t.rule.pattern.clone(),
        message: message.into(),
        hint,
    }
}

/// Owner and repository for this request: git's path first, else the rule pattern's first
/// path element when it is a literal owner (`github.com/acme/*`).
pub fn owner_and_repo(t: &Target) -> Result<(String, Option<String>)> {
    if let Some(path) = t.path {
        let mut parts = path.split('/');
        let owner = parts.next().unwrap_or_default();
        let repo = parts.next().map(|r| r.strip_suffix(".git").unwrap_or(r));
        if !github_api::valid_owner(owner) || !repo.is_none_or(github_api::valid_repo) {
            return Err(fail(t, "the repository path is not `OWNER/REPO`", None));
        }
        return Ok((owner.to_string(), repo.map(str::to_string)));
    }
    let literal = t
        .rule
        .path_glob
        .as_deref()
        .and_then(|g| g.split('/').next())
        .filter(|o| github_api::valid_owner(o));
    match literal {
        Some(owner) => Ok((owner.to_string(), None)),
        None => Err(fail(
            t,
            format!(
                "git sent no repository path, and rule `{}` serves several owners, so the \
                 installation is unknown; not answering",
                t.rule.pattern
            ),
            Some(format!(
                "run: git config --global credential.https://{}.useHttpPath true",
                t.origin.authority()
            )),
        )),
    }
}

impl GithubAppSource {
    /// Everything that changes what the token may do is part of the cache scope.
    fn scope(&self, owner: &str) -> String {
        let s = &self.spec;
        format!(
            "{}|{}|{owner}|{}|{:?}",
            s.api_url,
            s.issuer,
            s.repositories.join(","),
            s.permissions
        )
    }

    fn mint(
        &self,
        ctx: &Context,
        t: &Target,
        owner: &str,
        repo: Option<&str>,
    ) -> Result<CachedToken> {
        let key = read_key(ctx, t)?;
        let api = Api::new(&self.spec, &key).map_err(|e| self.explain(t, owner, e))?;
        let memory = super::memory::Memory::new(ctx, "installations")?;
        let mem_key = format!("{}|{}|{owner}", self.spec.api_url, self.spec.issuer);
        let mut remembered = memory.get(&mem_key).and_then(|v| v.parse::<u64>().ok());
        for _ in 0..2 {
            let id = match remembered {
                Some(id) => id,
                None => {
                    let id = api
                        .installation_for(owner, repo)
                        .map_err(|e| self.explain(t, owner, e))?;
                    memory.put(&mem_key, &id.to_string())?;
                    id
                }
            };
            match api.create_token(id) {
                Ok((token, expires_at)) => {
                    return Ok(CachedToken {
                        username: USERNAME.into(),
                        token,
                        expires_at,
                        handle: None,
                    })
                }
                // Uninstalled and reinstalled: the remembered ID is stale; ask once more.
                Err(ApiError::InstallationGone) if remembered.is_some() => {
                    memory.forget(&mem_key)?;
                    remembered = None;
                }
                Err(e) => return Err(self.explain(t, owner, e)),
            }
        }
        Err(self.explain(t, owner, ApiError::NotInstalled))
    }

    fn explain(&self, t: &Target, owner: &str, e: ApiError) -> Error {
        let login = format!(
            "gocred login {} --source github-app --app-id ID < app-key.pem",
            t.rule.pattern
        );
        match e {
            ApiError::BadKey => fail(t, "the App key in the keyring is not an RSA private key (PEM)", Some(login)),
            ApiError::JwtRefused => fail(
                t,
                format!("{} refused the App's JWT (HTTP 401)", self.spec.api_url),
                Some(format!("check app_id/client_id and the key (`{login}`), and the clock")),
            ),
            ApiError::NotInstalled | ApiError::InstallationGone => fail(
                t,
                format!("the App is not installed on `{owner}`"),
                Some(format!("install the App on the account `{owner}` and give it access to the repositories")),
            ),
            ApiError::ScopeRefused(m) => fail(
                t,
                format!("GitHub refused the requested repositories or permissions (HTTP 422): {m}"),
                Some("the installation must reach every repository in `repositories` and grant the `permissions` of the rule".into()),
            ),
            ApiError::Http(HttpError::Status { status, retry_after: Some(s), .. }) if status == 429 || status == 403 => {
                fail(t, format!("GitHub's rate limit (HTTP {status}); retry in {s} s"), None)
            }
            ApiError::Http(h) => fail(t, format!("GitHub API {}: {h}", self.spec.api_url), None),
        }
    }

    fn account_for(&self, t: &Target) -> Result<String> {
        let (owner, _) = owner_and_repo(t)?;
        Ok(TokenCache::account("github-app", &self.scope(&owner)))
    }
}

fn read_key(ctx: &Context, t: &Target) -> Result<SecretString> {
    match ctx.keyring()?.get(&key_account(&t.rule.pattern))? {
        Some((k, _)) => Ok(k),
        None => Err(fail(
            t,
            "no App private key in the keyring",
            Some(format!(
                "run `gocred login {} --source github-app --app-id ID < app-key.pem`",
                t.rule.pattern
            )),
        )),
    }
}

impl Source for GithubAppSource {
    fn get(&self, ctx: &Context, t: &Target) -> Result<Lookup> {
        let (owner, repo) = owner_and_repo(t)?;
        let account = TokenCache::account("github-app", &self.scope(&owner));
        super::cached_mint(ctx, t, &account, |_| {
            self.mint(ctx, t, &owner, repo.as_deref())
        })
    }

    /// A token minted for this job alone: not taken from the token cache and not put in it, so
    /// revoking it at `ci wipe` (`DELETE /installation/token`) leaves every other process's
    /// cached token alive.
    fn get_for_ci(&self, ctx: &Context, t: &Target) -> Result<Option<CiCredential>> {
        if t.path.is_none() && owner_and_repo(t).is_err() {
            // A netrc entry is per host, so the rule itself must name the one owner.
            return Err(fail(
                t,
                format!(
                    "a CI job's entry for {} serves one owner, and rule `{}` names none",
                    t.origin.host, t.rule.pattern
                ),
                Some(format!(
                    "give the rule one owner, e.g. pattern = \"{}/OWNER/*\"",
                    t.origin.host
                )),
            ));
        }
        let (owner, repo) = owner_and_repo(t)?;
        let tok = self.mint(ctx, t, &owner, repo.as_deref())?;
        Ok(Some(CiCredential {
            credential: Credential {
                username: username_for(t.rule, Some(tok.username)),
                secret: tok.token,
                expires_at: Some(tok.expires_at),
                ephemeral: true,
            },
            revoke: Some(Revocation::GithubInstallationToken {
                api_url: self.spec.api_url.clone(),
            }),
        }))
    }

    fn erase(&self, ctx: &Context, t: &Target, password: &SecretString) -> Result<Erased> {
        let Ok(account) = self.account_for(t) else {
            return Ok(Erased::NothingHeld);
        };
        Ok(
            match super::token_cache(ctx)?.drop_if_same(&account, password)? {
                Some(true) => Erased::Minted,
                Some(false) => Erased::Different,
                None => Erased::NothingHeld,
            },
        )
    }
}

/// Revokes every token minted for the rule (logout). Returns how many were revoked.
pub fn revoke_all(ctx: &Context, pattern: &str, spec: &GithubAppSpec) -> Result<usize> {
    let cache = super::token_cache(ctx)?;
    let mut revoked = 0;
    for account in super::memory::issued(ctx, pattern)? {
        if let Some(t) = cache.read(&account)? {
            if t.expires_at > super::now_secs() {
                github_api::revoke(spec, &t.token).map_err(|e| {
                    Error::other(format!(
                        "revoking an installation token at {}: {e}",
                        spec.api_url
                    ))
                })?;
                revoked += 1;
            }
            cache.remove(&account)?;
        }
    }
    super::memory::forget_issued(ctx, pattern)?;
    Ok(revoked)
}
