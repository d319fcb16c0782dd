//! `github-app`: short-lived installation tokens minted with a GitHub App's private key.
//!
//! The root secret (the App's PEM key) stays in the keyring, put there by `gocred login PATTERN
//! --source github-app`. A request is resolved to an owner (from git's path with
//! `credential.useHttpPath`, else from the rule's pattern when it names one owner), the owner to
//! its installation (asked once through the API, then remembered in the state directory: an ID,
//! no secret), and a token is minted for the rule's repositories and permissions, cached until
//! near expiry, and handed to git as `x-access-token` with `password_expiry_utc` (docs/protocols/github-api.md).
//! One App serves several owners; each owner gets its own installation and token.

use std::collections::BTreeMap;
use std::io::Write;

use super::github_api::{self, Api, ApiError};
use super::keys::{api_timeout, is_word, url};
use super::revoke::Revocation;
use super::{
    username_for, CiCredential, Context, Credential, Erased, Login, Query, SecretInput, Source,
};
use crate::config::RuleSpec;
use crate::error::{Error, Result};
use crate::http::HttpError;
use crate::secret::SecretString;
use crate::store::{CachedToken, TokenCache};

/// The keys `github-app` takes beyond every rule's.
pub(crate) const KEYS: &[&str] = &[
    "timeout_secs",
    "api_url",
    "app_id",
    "client_id",
    "repositories",
    "permissions",
];

/// `source = "github-app"`, compiled (docs/protocols/github-api.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GithubAppSpec {
    /// JWT `iss`: the client ID, else the App ID as a string.
    pub issuer: String,
    /// REST base without trailing `/`.
    pub api_url: String,
    /// Empty: every repository the installation has.
    pub repositories: Vec<String>,
    pub permissions: BTreeMap<String, String>,
    pub timeout_secs: u64,
}

const GITHUB_API: &str = "https://api.github.com";

pub(crate) fn compile(spec: &RuleSpec) -> std::result::Result<GithubAppSpec, String> {
    let issuer = match (&spec.client_id, spec.app_id) {
        (Some(c), _) if is_word(c) => c.clone(),
        (Some(_), _) => return Err("`client_id` must be letters, digits, `.`, `_` or `-`".into()),
        (None, Some(id)) if id > 0 && i64::try_from(id).is_ok() => id.to_string(),
        _ => return Err("source `github-app` needs `app_id` or `client_id`".into()),
    };
    let api_url = url(spec.api_url.as_deref().unwrap_or(GITHUB_API), "api_url")?;
    let repositories = spec.repositories.clone().unwrap_or_default();
    if repositories.len() > 500 {
        return Err("`repositories`: GitHub takes at most 500".into());
    }
    if let Some(r) = repositories.iter().find(|r| !is_word(r) || r.contains('/')) {
        return Err(format!(
            "`repositories`: `{r}` is not a repository name (give names without the owner)"
        ));
    }
    let permissions = spec
        .permissions
        .clone()
        .unwrap_or_else(|| BTreeMap::from([("contents".to_string(), "read".to_string())]));
    for (k, v) in &permissions {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Err(format!("`permissions`: `{k}` is not a permission name"));
        }
        if !["read", "write", "admin"].contains(&v.as_str()) {
            return Err(format!(
                "`permissions`: `{k} = \"{v}\"` must be read, write or admin"
            ));
        }
    }
    Ok(GithubAppSpec {
        issuer,
        api_url,
        repositories,
        permissions,
        timeout_secs: api_timeout(spec),
    })
}

/// `doctor`'s advice for a minted GitHub token that was refused or is about to expire.
pub(crate) fn mint_again_hint(pattern: &str) -> String {
    format!(
        "; gocred mints a new token on the next fetch (check the App's installation and \
         permissions with `gocred explain {pattern}`)"
    )
}

fn login_command(pattern: &str) -> String {
    format!("gocred login {pattern} --source github-app --app-id ID < app-key.pem")
}

pub(crate) const USERNAME: &str = "x-access-token";

/// The keyring account of a rule's App key.
pub(crate) fn key_account(pattern: &str) -> String {
    format!("github-app:{pattern}")
}

pub(crate) struct GithubAppSource {
    pub spec: GithubAppSpec,
}

fn fail(t: &Query, message: impl Into<String>, hint: Option<String>) -> Error {
    Error::Source {
        kind: "github-app",
        rule: t.rule.pattern.clone(),
        message: message.into(),
        hint,
    }
}

/// Owner and repository for this request: git's path first, else the rule pattern's first
/// path element when it is a literal owner (`github.com/acme/*`).
pub(crate) fn owner_and_repo(t: &Query) -> Result<(String, Option<String>)> {
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
        t: &Query,
        owner: &str,
        repo: Option<&str>,
    ) -> Result<CachedToken> {
        let key = read_key(ctx, t)?;
        let api = Api::new(&self.spec, &key).map_err(|e| self.explain(t, owner, e))?;
        let memory = super::state_files::StateFiles::new(ctx, "installations")?;
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

    fn explain(&self, t: &Query, owner: &str, e: ApiError) -> Error {
        let login = login_command(&t.rule.pattern);
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

    fn account_for(&self, t: &Query) -> Result<String> {
        let (owner, _) = owner_and_repo(t)?;
        Ok(TokenCache::account("github-app", &self.scope(&owner)))
    }
}

fn read_key(ctx: &Context, t: &Query) -> Result<SecretString> {
    match ctx.keyring()?.get(&key_account(&t.rule.pattern))? {
        Some((k, _)) => Ok(k),
        None => Err(fail(
            t,
            "no App private key in the keyring",
            Some(format!("run `{}`", login_command(&t.rule.pattern))),
        )),
    }
}

impl Source for GithubAppSource {
    fn get(&self, ctx: &Context, t: &Query) -> Result<Credential> {
        let (owner, repo) = owner_and_repo(t)?;
        let account = TokenCache::account("github-app", &self.scope(&owner));
        super::cached_mint(ctx, t, &account, |_| {
            self.mint(ctx, t, &owner, repo.as_deref())
        })
    }

    /// A token minted for this job alone: not taken from the token cache and not put in it, so
    /// revoking it at `ci wipe` (`DELETE /installation/token`) leaves every other process's
    /// cached token alive.
    fn get_for_ci(&self, ctx: &Context, t: &Query) -> Result<CiCredential> {
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
        Ok(CiCredential {
            credential: Credential {
                username: username_for(&t.rule, Some(tok.username)),
                secret: tok.token,
                expires_at: Some(tok.expires_at),
                ephemeral: true,
            },
            revoke: Some(Revocation::GithubInstallationToken {
                api_url: self.spec.api_url.clone(),
            }),
        })
    }

    fn erase(&self, ctx: &Context, t: &Query, password: &SecretString) -> Result<Erased> {
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

    fn root_account(&self, pattern: &str) -> Option<String> {
        Some(key_account(pattern))
    }

    /// The App's PEM key from stdin (`< app-key.pem`), checked by signing a JWT with it.
    fn login(
        &self,
        _ctx: &Context,
        login: &Login,
        input: &mut dyn SecretInput,
        err: &mut dyn Write,
    ) -> Result<Option<SecretString>> {
        let pem = input.pem(&format!(
            "give the App's private key on stdin: {}",
            login_command("PATTERN")
        ))?;
        github_api::app_jwt(&self.spec.issuer, &pem).map_err(|_| {
            Error::Usage("stdin is not an RSA private key in PEM form (the App's .pem file)".into())
        })?;
        let first = login.pattern.split('/').next().unwrap_or("");
        let one_owner = login
            .pattern
            .split('/')
            .nth(1)
            .is_some_and(github_api::valid_owner);
        if !one_owner {
            let _ = writeln!(
                err,
                "gocred: this rule serves several owners: git must send the repository path. Run: \
                 git config --global credential.https://{}.useHttpPath true",
                crate::protocol::escape_for_display(first)
            );
        }
        Ok(Some(pem))
    }

    /// Revokes every token minted for the rule. Returns how many were revoked.
    fn revoke_all(&self, ctx: &Context, pattern: &str) -> Result<usize> {
        let spec = &self.spec;
        let cache = super::token_cache(ctx)?;
        let mut revoked = 0;
        for account in super::state_files::issued(ctx, pattern)? {
            if let Some(t) = cache.read(&account)? {
                if t.expires_at > crate::state::now_secs() {
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
        super::state_files::forget_issued(ctx, pattern)?;
        Ok(revoked)
    }

    fn state(&self, ctx: &Context, pattern: &str) -> String {
        super::root_state(
            ctx,
            &key_account(pattern),
            "App private key",
            &login_command(pattern),
        )
    }

    fn renew_hint(&self, pattern: &str) -> String {
        mint_again_hint(pattern)
    }
}
