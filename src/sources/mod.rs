//! Sources: one trait, one file per kind.
//!
//! The box after Rule in the flow. A source is built from its rule and answers a request with
//! [`Lookup::NotMine`] (let git try its next helper), a [`Credential`] (with its expiry, ready for
//! minted short-lived tokens), or a fatal error. Sources never parse protocol lines and never
//! print: the command decides what git and the user see.

mod command;
mod env;
pub mod github_api;
pub mod github_app;
mod github_oidc;
pub mod gitlab;
mod gitlab_ci;
pub mod memory;
pub mod oauth;
mod oauth_device;
mod oauth_grant;
mod pat;
pub mod revoke;

use std::cell::OnceCell;

use crate::error::{Error, Result};
use crate::protocol::Origin;
use crate::rules::{Rule, SourceSpec};
use crate::secret::SecretString;
use crate::settings::Settings;
use crate::store::Keyring;

pub use command::CommandSource;
pub use env::EnvSource;
pub use github_app::GithubAppSource;
pub use github_oidc::{GithubOidcSource, OidcSpec, DEFAULT_API_URL, DEFAULT_STS_URL};
pub use gitlab::GitlabSource;
pub use oauth::OauthSource;
pub use pat::{account_for, forget_all, PatSource};

/// A credential ready to hand out.
#[derive(Debug)]
pub struct Credential {
    pub username: String,
    pub secret: SecretString,
    /// Unix seconds; `None` = does not expire.
    pub expires_at: Option<u64>,
    /// True for tokens we minted (or fetched short-lived): git's storing helpers should not keep them.
    pub ephemeral: bool,
}

impl Credential {
    /// Whether it may be handed out now, under the configured margin (`[cache] margin_secs`).
    pub fn usable(&self, margin: u64) -> bool {
        crate::store::cache::usable(self.expires_at, margin)
    }

    /// `Ok` if [`usable`](Self::usable); else the error every command gives for it.
    pub fn check_usable(&self, rule: &Rule, margin: u64) -> Result<()> {
        if self.usable(margin) {
            return Ok(());
        }
        Err(Error::Source {
            kind: rule.source.as_ref().map_or("ssh", |s| s.kind().as_str()),
            rule: rule.pattern.clone(),
            message: format!("the token expires within {margin} s; not handing it out"),
            hint: Some(
                "lower `[cache] margin_secs` in the config if tokens are issued with shorter lives"
                    .into(),
            ),
        })
    }
}

/// A credential handed to a CI job (`gocred ci`), with how to revoke it when the job ends.
#[derive(Debug)]
pub struct CiCredential {
    pub credential: Credential,
    /// `None`: the source cannot revoke (a secret the CI injected, a stored token).
    pub revoke: Option<revoke::Revocation>,
}

#[derive(Debug)]
pub enum Lookup {
    NotMine,
    Found(Credential),
}

/// What `store` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Stored {
    Saved,
    AlreadyHeld,
    NotApplicable,
}

/// What `erase` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Erased {
    Dropped,
    /// The rejected password is not the one we hold: keep ours (R1.15).
    Different,
    NothingHeld,
    /// The source cannot forget (env, command); the message says what the user should change.
    CannotForget(String),
    /// A token we minted was dropped from the cache; the next `get` mints a new one.
    Minted,
}

/// The request as a source sees it.
pub struct Target<'a> {
    pub origin: &'a Origin,
    pub path: Option<&'a str>,
    pub rule: &'a Rule,
}

/// Shared per-run state: settings and a lazily opened keyring.
pub struct Context<'a> {
    pub settings: &'a Settings,
    keyring: OnceCell<Keyring>,
}

impl<'a> Context<'a> {
    pub fn new(settings: &'a Settings) -> Context<'a> {
        Context {
            settings,
            keyring: OnceCell::new(),
        }
    }

    pub fn keyring(&self) -> Result<&Keyring> {
        if let Some(k) = self.keyring.get() {
            return Ok(k);
        }
        let k = Keyring::open(&self.settings.keyring, &self.settings.env)?;
        Ok(self.keyring.get_or_init(|| k))
    }
}

pub trait Source {
    fn get(&self, ctx: &Context, target: &Target) -> Result<Lookup>;

    /// Git confirmed `username`/`password` worked. Default: nothing to remember.
    fn store(
        &self,
        _ctx: &Context,
        _target: &Target,
        _username: &str,
        _password: &SecretString,
    ) -> Result<Stored> {
        Ok(Stored::NotApplicable)
    }

    /// Git reports `password` was rejected.
    fn erase(&self, ctx: &Context, target: &Target, password: &SecretString) -> Result<Erased>;

    /// A credential for a CI job (`gocred ci`): minted for this job where the source can mint
    /// (never one shared with other processes through a cache), with how to revoke it.
    /// Default: what `get` returns, nothing to revoke. `None`: not mine.
    /// (`oauth` keeps the default on purpose: revoking its token would end the sign-in.)
    fn get_for_ci(&self, ctx: &Context, target: &Target) -> Result<Option<CiCredential>> {
        Ok(match self.get(ctx, target)? {
            Lookup::Found(credential) => Some(CiCredential {
                credential,
                revoke: None,
            }),
            Lookup::NotMine => None,
        })
    }
}

/// A minted token for `t` from the shared token cache under `account`, minted (once across
/// processes, under the scope lock) when missing; `mint` gets the previous token, if any, for
/// sources that rotate. The mint is recorded so `logout` can revoke it.
pub(crate) fn cached_mint(
    ctx: &Context,
    t: &Target,
    account: &str,
    mint: impl FnOnce(Option<crate::store::CachedToken>) -> Result<crate::store::CachedToken>,
) -> Result<Lookup> {
    let mut minted = false;
    let tok = token_cache(ctx)?.get_or_mint(account, |prev| {
        minted = true;
        crate::trace!("token cache: no usable token for {account}; minting");
        let tok = mint(prev)?;
        memory::record_issued(ctx, &t.rule.pattern, account)?;
        Ok(tok)
    })?;
    crate::trace!(
        "token cache: {} for {account}, {}",
        if minted { "minted" } else { "hit" },
        crate::trace::expiry(Some(tok.expires_at))
    );
    Ok(Lookup::Found(Credential {
        username: username_for(t.rule, Some(tok.username)),
        secret: tok.token,
        expires_at: Some(tok.expires_at),
        ephemeral: true,
    }))
}

/// The source a rule names. `None` for rules that do not answer over HTTPS (ssh).
pub fn for_rule(rule: &Rule) -> Option<Box<dyn Source>> {
    Some(match rule.source.as_ref()? {
        SourceSpec::Pat => Box::new(PatSource),
        SourceSpec::Env { variable } => Box::new(EnvSource {
            variable: variable.clone(),
        }),
        SourceSpec::Command { argv, timeout_secs } => Box::new(CommandSource {
            argv: argv.clone(),
            timeout_secs: *timeout_secs,
        }),
        SourceSpec::GithubOidc(spec) => Box::new(GithubOidcSource { spec: spec.clone() }),
        SourceSpec::GithubApp(spec) => Box::new(GithubAppSource { spec: spec.clone() }),
        SourceSpec::Oauth(spec) => Box::new(OauthSource { spec: spec.clone() }),
        SourceSpec::Gitlab(spec) => Box::new(GitlabSource { spec: spec.clone() }),
    })
}

/// The username to send: the rule's, else the source's, else a placeholder every forge accepts
/// for token auth (GitHub/GitLab/Gitea take any non-empty name with a PAT).
pub fn username_for(rule: &Rule, from_source: Option<String>) -> String {
    rule.username
        .clone()
        .or(from_source)
        .unwrap_or_else(|| "x-access-token".to_string())
}

/// The token cache of this run: the context's keyring, the configured margin, the lock dir.
pub fn token_cache<'c>(ctx: &'c Context) -> Result<crate::store::TokenCache<'c>> {
    let dir = ctx.settings.cache.dir.as_deref().ok_or_else(|| {
        crate::error::Error::with_hint(
            "no directory for gocred's lock files: neither XDG_CACHE_HOME nor HOME is set",
            "set XDG_CACHE_HOME to a private directory",
        )
    })?;
    Ok(crate::store::TokenCache {
        keyring: ctx.keyring()?,
        margin: ctx.settings.cache.margin_secs,
        lock_dir: dir,
    })
}

/// Unix seconds now (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What `explain` says about a minting rule's root secret: present or not, never the secret.
pub fn mint_state(spec: &SourceSpec, rule: &Rule, settings: &Settings) -> String {
    let (account, what, login) = match spec {
        SourceSpec::GithubApp(_) => (
            github_app::key_account(&rule.pattern),
            "App private key",
            format!(
                "gocred login {} --source github-app --app-id ID < app-key.pem",
                rule.pattern
            ),
        ),
        SourceSpec::Oauth(_) => (
            oauth::account(&rule.pattern),
            "refresh token",
            format!(
                "gocred login {} --source oauth --provider … --client-id …",
                rule.pattern
            ),
        ),
        SourceSpec::Gitlab(g) if g.mode == crate::rules_mint::GitlabMode::JobToken => {
            return match settings.env.get("CI_JOB_TOKEN") {
                Some(_) => "CI_JOB_TOKEN is set (GitLab CI job)".into(),
                None => "CI_JOB_TOKEN is NOT set (works only inside a GitLab CI job)".into(),
            }
        }
        SourceSpec::Gitlab(_) => (
            gitlab::account(&rule.pattern),
            "GitLab token (api scope)",
            format!(
                "gocred login {} --source gitlab --project … --api-url …",
                rule.pattern
            ),
        ),
        _ => return "minted on demand".into(),
    };
    let ctx = Context::new(settings);
    match ctx.keyring().and_then(|k| k.get(&account)) {
        Ok(Some((_, b))) => format!("{what} present in {}; tokens minted on demand", b.name()),
        Ok(None) => format!("no {what} stored; run: {login}"),
        Err(e) => format!("keyring unavailable: {e}"),
    }
}
